// DnsTestServer: runs tests/dns/dns_server.py (the scriptable DNS server) as a child process
// for integration tests, and drives its control API.
//
// The server listens on 127.0.0.1 on ports it picks itself; it exits when this process dies,
// on SIGTERM (sent by the destructor) and after its --max-lifetime. The script is found
// through $EB_SOURCE_DIR (set by ctest), else relative to the working directory.
// Thread-safety: the control methods may be called from any thread (each is one HTTP call).
#pragma once

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "controller/dns/ares_resolver.h"

namespace endpointbinder::dns::testing {

class DnsTestServer {
 public:
  struct HttpReply {
    int status = 0;  // 0: no HTTP answer at all
    std::string body;
  };

  // Starts the server with `extraArgs` (e.g. {"--seed", "1"}) and waits for its READY line.
  // Returns nullptr and sets `error` when it does not come up within 10 s.
  static std::unique_ptr<DnsTestServer> start(const std::vector<std::string>& extraArgs = {},
                                              std::string* error = nullptr);
  ~DnsTestServer();
  DnsTestServer(const DnsTestServer&) = delete;
  DnsTestServer& operator=(const DnsTestServer&) = delete;

  int port() const { return port_; }
  // The server as an AresResolverOptions entry.
  ServerAddress serverAddress() const;

  // PUT /records/<name> with `recordJson`, e.g. R"({"a":["10.0.0.1"],"ttl":5})".
  // True on HTTP 200.
  bool putRecord(const std::string& name, const std::string& recordJson);
  bool deleteRecord(const std::string& name);
  bool clearQueries();
  bool reset();

  // Query log counters (GET /queries): all queries, per transport ("udp"/"tcp") and per
  // name; -1 when the control API did not answer.
  int queryCount();
  int transportCount(const std::string& transport);
  int nameCount(const std::string& name);

  HttpReply request(const std::string& method, const std::string& path,
                    const std::string& body = {});

 private:
  DnsTestServer() = default;
  // The integer at `key` inside the object at `object` (or at top level when empty).
  static std::optional<int> jsonInt(const std::string& body, const std::string& object,
                                    const std::string& key);

  pid_t pid_ = -1;
  int stdoutFd_ = -1;
  int port_ = 0;
  int controlPort_ = 0;
};

}  // namespace endpointbinder::dns::testing
