// MetricsServer: serves the Prometheus text exposition on --metrics-addr (default
// 0.0.0.0:8080, path /metrics) with prometheus-cpp's pull Exposer (CivetWeb). Besides the
// collectables given, the Exposer adds its own exposer_* scrape metrics.
// Thread-safety: construction and destruction from one thread; port() and url() from any.
// Scrapes run on the Exposer's own threads and call Collect() on the collectables, which must
// be thread-safe (prometheus::Registry and runtime::ProcessCollector are).
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/exposer.h>

#include <memory>
#include <string>
#include <vector>

#include "controller/core/error.h"

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
  // Binds options.address and serves `collectables` (kept alive by the server, scraped in
  // order) at options.path. On failure (address in use or malformed): kTerminal, nothing bound.
  static core::Result<std::unique_ptr<MetricsServer>> start(
      const MetricsServerOptions& options,
      std::vector<std::shared_ptr<prometheus::Collectable>> collectables);

  // Stops serving; in-flight scrapes finish first.
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  // The bound port (the real one when options.address asked for port 0).
  int port() const { return port_; }
  // "http://<host>:<port><path>", host as given in options.address.
  std::string url() const;

 private:
  MetricsServer(std::string host, std::string path, int port,
                std::unique_ptr<prometheus::Exposer> exposer,
                std::vector<std::shared_ptr<prometheus::Collectable>> collectables);

  std::string host_;
  std::string path_;
  int port_;
  std::vector<std::shared_ptr<prometheus::Collectable>> collectables_;
  std::unique_ptr<prometheus::Exposer> exposer_;  // declared last: stops before the above go
};

}  // namespace endpointbinder::server
