#include "controller/server/metrics_server.h"

#include <exception>
#include <utility>

#include "controller/runtime/metrics.h"

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
  auto server = std::unique_ptr<MetricsServer>(
      new MetricsServer(options.address.substr(0, colon), options.path, std::move(collectables)));
  HttpServerOptions http;
  http.address = options.address;
  http.threads = options.threads;
  http.maxHeadBytes = kMaxHeadBytes;
  http.maxBodyBytes = kMaxBodyBytes;
  const MetricsServer* self = server.get();
  auto started = HttpServer::start(http, [self](const HttpRequestHead& request) {
    HttpResponse response;
    if (request.path != self->path_) {
      response.status = 404;
      response.body = "not found; metrics are at " + self->path_ + "\n";
      return response;
    }
    if (request.method != "GET" && request.method != "HEAD") {
      response.status = 405;
      response.allow = "GET, HEAD";
      response.body = "method " + request.method + " is not allowed\n";
      return response;
    }
    response.contentType = "text/plain; version=0.0.4; charset=utf-8";
    // Straight into the body, reserved once: no family objects for the per-binding series and
    // no stream buffer to copy (runtime::appendMetricsText).
    runtime::appendMetricsText(self->collectables_, response.body);
    return response;
  });
  if (!started) {
    return core::makeError(
        core::ErrorKind::kTerminal,
        "cannot serve metrics on " + options.address + ": " + started.error().message);
  }
  server->http_ = std::move(*started);
  return server;
}

MetricsServer::MetricsServer(std::string host, std::string path,
                             std::vector<std::shared_ptr<prometheus::Collectable>> collectables)
    : host_(std::move(host)), path_(std::move(path)), collectables_(std::move(collectables)) {}

MetricsServer::~MetricsServer() = default;

std::string MetricsServer::url() const {
  return "http://" + host_ + ":" + std::to_string(port()) + path_;
}

}  // namespace endpointbinder::server
