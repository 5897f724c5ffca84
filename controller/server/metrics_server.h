// MetricsServer: serves the Prometheus text exposition (format 0.0.4) of the given collectables
// on --metrics-addr (default 0.0.0.0:8080, path /metrics), on the same small HTTP server as the
// health API (http_server.h), so with the same request limits: request line and headers above
// 16 KiB get 431, a body above 64 KiB 413, and a request must arrive within 10 s. Only GET and
// HEAD of the path are served: other paths get 404, other methods 405. Responses are not
// compressed.
// Thread-safety: construction and destruction from one thread; port() and url() from any.
// Scrapes run on the server's threads and render the collectables with
// runtime::appendMetricsText (Collect(), or appendText() for a runtime::TextCollectable), which
// must be thread-safe (prometheus::Registry, runtime::ProcessCollector and the collectables of
// runtime::ControllerMetrics are).
#pragma once

#include <prometheus/collectable.h>

#include <memory>
#include <string>
#include <vector>

#include "controller/core/error.h"
#include "controller/server/http_server.h"

namespace endpointbinder::server {

struct MetricsServerOptions {
  // "host:port" with an IP literal ("[::]:8080" for IPv6). Port 0 binds an ephemeral port;
  // port() tells which.
  std::string address = "0.0.0.0:8080";
  std::string path = "/metrics";
  std::size_t threads = 2;
};

class MetricsServer {
 public:
  // Request size limits (see the file comment).
  static constexpr std::size_t kMaxHeadBytes = 16 * 1024;
  static constexpr std::size_t kMaxBodyBytes = 64 * 1024;

  // Binds options.address and serves `collectables` (kept alive by the server, scraped in
  // order) at options.path. On failure (address in use or malformed): kTerminal, nothing bound.
  static core::Result<std::unique_ptr<MetricsServer>> start(
      const MetricsServerOptions& options,
      std::vector<std::shared_ptr<prometheus::Collectable>> collectables);

  // Stops serving; scrapes being answered finish first.
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  // The bound port (the real one when options.address asked for port 0).
  int port() const { return http_->port(); }
  // "http://<host>:<port><path>", host as given in options.address.
  std::string url() const;

 private:
  MetricsServer(std::string host, std::string path,
                std::vector<std::shared_ptr<prometheus::Collectable>> collectables);

  std::string host_;
  std::string path_;
  std::vector<std::shared_ptr<prometheus::Collectable>> collectables_;
  std::unique_ptr<HttpServer> http_;  // declared last: stops before the above go
};

}  // namespace endpointbinder::server
