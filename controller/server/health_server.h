// Health and status server on --health-addr (default 0.0.0.0:8081), on HttpServer (its own
// threads; not cpprest's pool):
//   GET /healthz   200 "ok" while the control loop beats its Heartbeat; 503 naming how long it
//                  has been silent once that exceeds heartbeatStaleAfter (default 2 minutes).
//   GET /readyz    200 "ok" when manifests are loaded, credentials obtained and every binding
//                  has synced or failed at least once (ReadinessSource); else 503 with one
//                  "[+]check ok" / "[-]check: what is missing" line per check. With leader
//                  election a "[+]leader-election: <who leads>" line follows either way (a
//                  standby is ready: it is ready to take over).
//   GET /leader    leader election as this replica sees it, as JSON (LeaderReport's fields);
//                  404 without leader election.
//   GET /apis/endpointbinder.io/v1alpha1/targetgroupbindings[/<namespace>[/<name>]]
//   GET /apis/endpointbinder.io/v1alpha1/dnsrecordbindings[/<namespace>[/<name>]]
//                  read-only status API over runtime::StatusStore (status_json.h): a List of
//                  every binding of that kind (in one namespace), or one object.
// Unknown paths and bindings get 404 and other methods 405 (with Allow: GET), each with a
// Kubernetes Status object as the body.
// Request sizes are capped (http_server.h): request line and headers above 16 KiB get 431, a
// body above 64 KiB (by Content-Length) 413, in the same Status format; a request must arrive
// within 10 s.
//
// HealthRoutes does the routing and rendering without I/O (unit-testable); HealthServer puts it
// on the network. Thread-safety: Heartbeat, HealthRoutes and HealthServer::url() are safe from
// any thread; requests are served concurrently on the server's worker threads, so
// ReadinessSource must be thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "controller/core/clock.h"
#include "controller/core/error.h"
#include "controller/runtime/binding_status.h"
#include "controller/server/http_server.h"

namespace endpointbinder::server {

// The control loop's sign of life: the loop calls beat() every iteration (at least once per
// resync, even when idle). Construction counts as the first beat, so a process that is still
// starting up is healthy for heartbeatStaleAfter.
class Heartbeat {
 public:
  explicit Heartbeat(const core::Clock& clock);
  void beat();
  core::MonoTime last() const;

 private:
  const core::Clock& clock_;
  std::atomic<core::MonoTime::rep> last_;
};

// Leader election as this replica sees it.
struct LeaderReport {
  std::string identity;     // this replica's holder id
  bool leading = false;     // this replica writes to AWS now
  std::uint64_t term = 0;   // the lease's fencing counter as last seen (0: no lease yet)
  std::string holder;       // the lease's holder as last seen ("" when free or unknown)
  std::string description;  // "this replica (a) leads (term 3)", "b leads (term 3)", ...
  std::string table;
  std::string leaseName;
  std::string lastError;           // the last failed lease call ("" after a success)
  double unchangedForSeconds = 0;  // standby: how long the lease record has not changed
};

// What readiness waits for, as the controller sees it right now.
struct ReadinessReport {
  bool manifestsLoaded = false;      // the manifest directory was read at least once
  bool credentialsObtained = false;  // the AWS credentials chain produced credentials
  std::string credentialsError;      // why not, if known (no secrets)
  // Binding keys ("namespace/name") that have neither synced nor failed yet.
  std::vector<std::string> pendingBindings;
  std::optional<LeaderReport> leader = std::nullopt;  // with leader election only
};

// Implemented by the controller (wired in main). Must be thread-safe and fast: it is called
// on every /readyz request.
class ReadinessSource {
 public:
  virtual ~ReadinessSource() = default;
  virtual ReadinessReport readiness() const = 0;
};

struct HealthServerOptions {
  // "host:port" with an IP literal ("[::]:8081" for IPv6). Port 0 is rejected: probes and the
  // CLI must know where to find the server; tests pick a free port first.
  std::string address = "0.0.0.0:8081";
  std::chrono::nanoseconds heartbeatStaleAfter = std::chrono::minutes(2);
  std::size_t threads = 4;  // requests served at once
};

class HealthRoutes {
 public:
  struct Deps {
    const core::Clock& clock;  // monotonic time for the heartbeat's age
    const Heartbeat& heartbeat;
    const ReadinessSource& readiness;
    const runtime::StatusStore& status;
  };

  HealthRoutes(Deps deps, std::chrono::nanoseconds heartbeatStaleAfter);

  // Answers one request. `path` is the decoded path without query string; a trailing '/' is
  // ignored. Never throws.
  HttpResponse handle(std::string_view method, std::string_view path) const;

 private:
  HttpResponse healthz() const;
  HttpResponse readyz() const;
  HttpResponse leader() const;
  HttpResponse bindings(std::string_view kind, std::string_view resource,
                        const std::vector<std::string_view>& rest) const;

  Deps deps_;
  std::chrono::nanoseconds heartbeatStaleAfter_;
};

class HealthServer {
 public:
  // Binds options.address and starts serving. On failure (address malformed or in use):
  // kTerminal, nothing bound. `deps` must outlive the server.
  static core::Result<std::unique_ptr<HealthServer>> start(HealthRoutes::Deps deps,
                                                           const HealthServerOptions& options);

  // Stops listening and waits for requests being answered.
  ~HealthServer();
  HealthServer(const HealthServer&) = delete;
  HealthServer& operator=(const HealthServer&) = delete;

  // "http://host:port" as bound.
  const std::string& url() const { return url_; }

  // Request size limits (see the file comment).
  static constexpr std::size_t kMaxHeadBytes = 16 * 1024;
  static constexpr std::size_t kMaxBodyBytes = 64 * 1024;

 private:
  HealthServer(std::string url, std::unique_ptr<HealthRoutes> routes);

  std::string url_;
  std::unique_ptr<HealthRoutes> routes_;
  std::unique_ptr<HttpServer> http_;  // declared last: stops before the routes go
};

}  // namespace endpointbinder::server
