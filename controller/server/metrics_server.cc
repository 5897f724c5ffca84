#include "controller/server/metrics_server.h"

#include <exception>
#include <utility>

namespace endpointbinder::server {

core::Result<std::unique_ptr<MetricsServer>> MetricsServer::start(
    const MetricsServerOptions& options,
    std::vector<std::shared_ptr<prometheus::Collectable>> collectables) {
  const auto colon = options.address.rfind(':');
  if (colon == std::string::npos || colon + 1 == options.address.size() ||
      options.address.find_first_not_of("0123456789", colon + 1) != std::string::npos) {
    return core::makeError(core::ErrorKind::kTerminal,
                           "metrics address \"" + options.address + "\" is not host:port");
  }
  if (options.path.empty() || options.path.front() != '/') {
    return core::makeError(core::ErrorKind::kTerminal,
                           "metrics path \"" + options.path + "\" must start with /");
  }
  std::unique_ptr<prometheus::Exposer> exposer;
  try {
    exposer = std::make_unique<prometheus::Exposer>(options.address, options.threads);
  } catch (const std::exception& e) {
    return core::makeError(core::ErrorKind::kTerminal,
                           "cannot serve metrics on " + options.address + ": " + e.what());
  }
  const auto ports = exposer->GetListeningPorts();
  if (ports.empty()) {
    return core::makeError(core::ErrorKind::kTerminal,
                           "cannot serve metrics on " + options.address + ": no listening port");
  }
  for (const auto& collectable : collectables) {
    exposer->RegisterCollectable(collectable, options.path);
  }
  return std::unique_ptr<MetricsServer>(
      new MetricsServer(options.address.substr(0, colon), options.path, ports.front(),
                        std::move(exposer), std::move(collectables)));
}

MetricsServer::MetricsServer(std::string host, std::string path, int port,
                             std::unique_ptr<prometheus::Exposer> exposer,
                             std::vector<std::shared_ptr<prometheus::Collectable>> collectables)
    : host_(std::move(host)),
      path_(std::move(path)),
      port_(port),
      collectables_(std::move(collectables)),
      exposer_(std::move(exposer)) {}

MetricsServer::~MetricsServer() = default;

std::string MetricsServer::url() const {
  return "http://" + host_ + ":" + std::to_string(port_) + path_;
}

}  // namespace endpointbinder::server
