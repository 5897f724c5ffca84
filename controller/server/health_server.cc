#include "controller/server/health_server.h"

#include <array>
#include <charconv>
#include <exception>
#include <utility>

#include "controller/runtime/record_reconciler.h"
#include "controller/server/status_json.h"

namespace endpointbinder::server {
namespace {

constexpr std::string_view kApiPrefix = "apis";
constexpr std::string_view kVersion = "v1alpha1";  // the version part of kApiVersion
constexpr std::size_t kMaxPendingListed = 20;

struct Resource {
  std::string_view plural;
  std::string_view kind;
};
constexpr std::array<Resource, 2> kResources = {{
    {"targetgroupbindings", "TargetGroupBinding"},
    {"dnsrecordbindings", "DNSRecordBinding"},
}};

HttpResponse jsonResponse(int status, const web::json::value& body) {
  HttpResponse response;
  response.status = status;
  response.contentType = "application/json";
  response.body = body.serialize();
  return response;
}

HttpResponse errorResponse(int status, std::string_view message) {
  return jsonResponse(status, errorStatusJson(status, message));
}

HttpResponse textResponse(int status, std::string_view body) {
  HttpResponse response;
  response.status = status;
  response.body = body;
  return response;
}

std::vector<std::string_view> splitPath(std::string_view path) {
  std::vector<std::string_view> segments;
  std::size_t start = 0;
  while (start <= path.size()) {
    auto slash = path.find('/', start);
    if (slash == std::string_view::npos) slash = path.size();
    if (slash > start) segments.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  return segments;
}

std::string secondsText(std::chrono::nanoseconds duration) {
  return std::to_string(std::chrono::duration_cast<std::chrono::seconds>(duration).count()) + "s";
}

}  // namespace

Heartbeat::Heartbeat(const core::Clock& clock)
    : clock_(clock), last_(clock.now().time_since_epoch().count()) {}

void Heartbeat::beat() { last_.store(clock_.now().time_since_epoch().count()); }

core::MonoTime Heartbeat::last() const {
  return core::MonoTime(core::MonoTime::duration(last_.load()));
}

HealthRoutes::HealthRoutes(Deps deps, std::chrono::nanoseconds heartbeatStaleAfter)
    : deps_(deps), heartbeatStaleAfter_(heartbeatStaleAfter) {}

HttpResponse HealthRoutes::handle(std::string_view method, std::string_view path) const {
  try {
    const auto segments = splitPath(path);
    enum class Route { kNone, kHealthz, kReadyz, kLeader, kBindings } route = Route::kNone;
    const Resource* resource = nullptr;
    if (segments.size() == 1 && segments[0] == "healthz") route = Route::kHealthz;
    if (segments.size() == 1 && segments[0] == "readyz") route = Route::kReadyz;
    if (segments.size() == 1 && segments[0] == "leader") route = Route::kLeader;
    if (segments.size() >= 4 && segments.size() <= 6 && segments[0] == kApiPrefix &&
        segments[1] == kApiGroup && segments[2] == kVersion) {
      for (const auto& candidate : kResources) {
        if (segments[3] == candidate.plural) resource = &candidate;
      }
      if (resource != nullptr) route = Route::kBindings;
    }
    if (route == Route::kNone) {
      return errorResponse(404,
                           "the server could not find the requested resource " + std::string(path));
    }
    if (method != "GET") {
      auto response = errorResponse(405, "method " + std::string(method) + " is not allowed on " +
                                             std::string(path) + "; this API is read-only");
      response.allow = "GET";
      return response;
    }
    switch (route) {
      case Route::kHealthz:
        return healthz();
      case Route::kReadyz:
        return readyz();
      case Route::kLeader:
        return leader();
      case Route::kBindings:
        return bindings(resource->kind, resource->plural, {segments.begin() + 4, segments.end()});
      case Route::kNone:
        break;
    }
    return errorResponse(404, "not found");
  } catch (const std::exception& e) {
    return errorResponse(500, std::string("internal error: ") + e.what());
  }
}

HttpResponse HealthRoutes::healthz() const {
  const auto age = deps_.clock.now() - deps_.heartbeat.last();
  if (age > heartbeatStaleAfter_) {
    return textResponse(503, "unhealthy: no control-loop heartbeat for " + secondsText(age) +
                                 " (limit " + secondsText(heartbeatStaleAfter_) + ")\n");
  }
  return textResponse(200, "ok");
}

HttpResponse HealthRoutes::readyz() const {
  const auto report = deps_.readiness.readiness();
  const bool ready =
      report.manifestsLoaded && report.credentialsObtained && report.pendingBindings.empty();
  const std::string leaderLine =
      report.leader ? "[+]leader-election: " + report.leader->description + "\n" : "";
  if (ready) return textResponse(200, leaderLine.empty() ? "ok" : "ok\n" + leaderLine);

  std::string body;
  body += report.manifestsLoaded ? "[+]manifests ok\n" : "[-]manifests: not loaded yet\n";
  if (report.credentialsObtained) {
    body += "[+]credentials ok\n";
  } else {
    body += "[-]credentials: not obtained";
    if (!report.credentialsError.empty()) body += ": " + report.credentialsError;
    body += "\n";
  }
  if (report.pendingBindings.empty()) {
    body += "[+]bindings ok\n";
  } else {
    body += "[-]bindings: " + std::to_string(report.pendingBindings.size()) +
            " not yet synced or failed:";
    for (std::size_t i = 0; i < report.pendingBindings.size() && i < kMaxPendingListed; ++i) {
      body += (i == 0 ? " " : ", ") + report.pendingBindings[i];
    }
    if (report.pendingBindings.size() > kMaxPendingListed) {
      body +=
          ", and " + std::to_string(report.pendingBindings.size() - kMaxPendingListed) + " more";
    }
    body += "\n";
  }
  body += leaderLine;
  body += "readyz check failed\n";
  return textResponse(503, body);
}

HttpResponse HealthRoutes::leader() const {
  const auto report = deps_.readiness.readiness();
  if (!report.leader) {
    return errorResponse(404, "leader election is off (run with --leader-election-table)");
  }
  const auto& l = *report.leader;
  web::json::value body = web::json::value::object();
  body["identity"] = web::json::value::string(l.identity);
  body["leading"] = web::json::value::boolean(l.leading);
  body["term"] = web::json::value::number(static_cast<uint64_t>(l.term));
  body["holder"] = web::json::value::string(l.holder);
  body["leader"] = web::json::value::string(l.description);
  body["table"] = web::json::value::string(l.table);
  body["leaseName"] = web::json::value::string(l.leaseName);
  body["lastError"] = web::json::value::string(l.lastError);
  body["unchangedForSeconds"] = web::json::value::number(l.unchangedForSeconds);
  return jsonResponse(200, body);
}

HttpResponse HealthRoutes::bindings(std::string_view kind, std::string_view resource,
                                    const std::vector<std::string_view>& rest) const {
  if (rest.size() == 2) {
    const std::string key = std::string(rest[0]) + "/" + std::string(rest[1]);
    // DNSRecordBindings are kept under "records:<ns>/<name>" (runtime/record_reconciler.h).
    auto status =
        deps_.status.get(kind == api::kKindDnsRecordBinding ? runtime::recordKey(key) : key);
    if (!status || status->kind != kind) {
      return errorResponse(404,
                           std::string(resource) + "." + kApiGroup + " \"" + key + "\" not found");
    }
    return jsonResponse(200, bindingToJson(*status));
  }
  std::vector<runtime::BindingStatus> items;
  for (auto& status : deps_.status.list()) {
    if (status.kind != kind) continue;
    if (rest.size() == 1 && status.ns != rest[0]) continue;
    items.push_back(std::move(status));
  }
  return jsonResponse(200, bindingListToJson(items, std::string(kind) + "List"));
}

core::Result<std::unique_ptr<HealthServer>> HealthServer::start(
    HealthRoutes::Deps deps, const HealthServerOptions& options) {
  const auto& address = options.address;
  const auto colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == address.size() ||
      address.find_first_not_of("0123456789", colon + 1) != std::string::npos) {
    return core::makeError(core::ErrorKind::kTerminal,
                           "health address \"" + address + "\" is not host:port");
  }
  unsigned port = 0;
  const auto* portEnd = address.data() + address.size();
  if (std::from_chars(address.data() + colon + 1, portEnd, port).ptr != portEnd || port == 0 ||
      port > 65535) {
    return core::makeError(core::ErrorKind::kTerminal,
                           "health address \"" + address + "\" needs a port in 1..65535");
  }
  auto server = std::unique_ptr<HealthServer>(new HealthServer(
      "http://" + address, std::make_unique<HealthRoutes>(deps, options.heartbeatStaleAfter)));
  HttpServerOptions http;
  http.address = address;
  http.threads = options.threads;
  http.maxHeadBytes = kMaxHeadBytes;
  http.maxBodyBytes = kMaxBodyBytes;
  const HealthRoutes* routes = server->routes_.get();
  auto started = HttpServer::start(
      http,
      [routes](const HttpRequestHead& request) {
        return routes->handle(request.method, request.path);
      },
      [](int status, std::string_view message) { return errorResponse(status, message); });
  if (!started) {
    return core::makeError(core::ErrorKind::kTerminal,
                           "cannot serve health on " + address + ": " + started.error().message);
  }
  server->http_ = std::move(*started);
  return server;
}

HealthServer::HealthServer(std::string url, std::unique_ptr<HealthRoutes> routes)
    : url_(std::move(url)), routes_(std::move(routes)) {}

HealthServer::~HealthServer() = default;

}  // namespace endpointbinder::server
