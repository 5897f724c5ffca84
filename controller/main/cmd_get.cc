// `get` and `describe`: read a running controller's status API and print it like kubectl.
// Both kinds are served under their own resource (targetgroupbindings, dnsrecordbindings):
// `get` lists both (or the KIND given), `describe NAME` looks for a TargetGroupBinding, then a
// DNSRecordBinding of that name (or only the --kind given).
#include <cpprest/json.h>

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "controller/main/cli.h"
#include "controller/main/status_client.h"
#include "controller/server/status_json.h"
#include "controller/server/status_table.h"

namespace endpointbinder::cli {

namespace {

constexpr const char* kApiPath = "/apis/endpointbinder.io/v1alpha1/";

struct Resource {
  const char* plural;  // the status API's resource
  const char* kind;
  std::vector<std::string> names;  // what `get KIND` / `describe --kind` accept
};
const std::vector<Resource>& resources() {
  static const std::vector<Resource> all = {
      {"targetgroupbindings",
       "TargetGroupBinding",
       {"targetgroupbindings", "targetgroupbinding", "tgb", "TargetGroupBinding"}},
      {"dnsrecordbindings",
       "DNSRecordBinding",
       {"dnsrecordbindings", "dnsrecordbinding", "drb", "DNSRecordBinding"}},
  };
  return all;
}
std::vector<std::string> kindNames() {
  std::vector<std::string> names;
  for (const auto& r : resources()) names.insert(names.end(), r.names.begin(), r.names.end());
  return names;
}
// The resources a KIND argument selects: every one when empty.
std::vector<const Resource*> selectResources(const std::string& kind) {
  std::vector<const Resource*> out;
  for (const auto& r : resources()) {
    if (kind.empty() || std::find(r.names.begin(), r.names.end(), kind) != r.names.end()) {
      out.push_back(&r);
    }
  }
  return out;
}

struct ServerFlags {
  std::string server = "http://127.0.0.1:8081";
  std::string output = "table";
  double timeoutSeconds = 5;
};

void addServerFlags(CLI::App* cmd, ServerFlags& flags) {
  cmd->add_option("--server", flags.server, "Status API of the running controller")
      ->envname("ENDPOINT_BINDER_SERVER")
      ->capture_default_str();
  cmd->add_option("-o,--output", flags.output, "table | json")
      ->check(CLI::IsMember({"table", "json"}))
      ->capture_default_str();
  cmd->add_option("--timeout", flags.timeoutSeconds, "Seconds to wait for the server")
      ->capture_default_str();
}

// Fetches `path` and parses it; on failure prints why and sets the exit code. With
// `notFoundIsEmpty`, a 404 is nullopt without a message (the caller tries elsewhere) and
// `*notFound` is set.
struct Fetched {
  web::json::value json;
  std::string body;  // as the server sent it (for -o json)
};
std::optional<Fetched> fetchJson(CliContext& ctx, const ServerFlags& flags, const std::string& path,
                                 bool* notFound = nullptr) {
  auto got = httpGet(flags.server, path,
                     std::chrono::milliseconds(static_cast<long>(flags.timeoutSeconds * 1000)));
  if (!got) {
    ctx.err << "error: " << got.error().message << "\n";
    ctx.exitCode = kExitFailure;
    return std::nullopt;
  }
  if (got->status == 404 && notFound != nullptr) {
    *notFound = true;
    return std::nullopt;
  }
  if (got->status != 200) {
    std::string message = got->body;
    try {
      auto json = web::json::value::parse(got->body);
      if (json.has_string_field("message")) message = json.at("message").as_string();
    } catch (const std::exception&) {
    }
    ctx.err << "error: " << message << " (HTTP " << got->status << ")\n";
    ctx.exitCode = kExitFailure;
    return std::nullopt;
  }
  try {
    return Fetched{web::json::value::parse(got->body), got->body};
  } catch (const std::exception& e) {
    ctx.err << "error: the server answered with invalid JSON: " << e.what() << "\n";
    ctx.exitCode = kExitFailure;
    return std::nullopt;
  }
}

// With leader election (the server answers /leader), a line saying who leads, for `get`'s
// table. Nothing when the server runs without it or cannot say.
std::string leaderLine(const ServerFlags& flags) {
  auto got = httpGet(flags.server, "/leader",
                     std::chrono::milliseconds(static_cast<long>(flags.timeoutSeconds * 1000)));
  if (!got || got->status != 200) return "";
  try {
    const auto json = web::json::value::parse(got->body);
    if (!json.has_string_field("leader")) return "";
    std::string line = "Leader: " + json.at("leader").as_string();
    if (json.has_boolean_field("leading") && !json.at("leading").as_bool() &&
        json.has_string_field("identity")) {
      line += "; asked " + json.at("identity").as_string() + ", a standby";
    }
    return line + "\n\n";
  } catch (const std::exception&) {
    return "";
  }
}

// "ns/name", "name" (namespace default) or "name" with -n.
std::string bindingPath(const Resource& resource, const std::string& name, const std::string& ns) {
  const std::string base = std::string(kApiPath) + resource.plural;
  if (name.find('/') != std::string::npos) return base + "/" + name;
  return base + "/" + ns + "/" + name;
}

}  // namespace

void registerGetCommands(CLI::App& app, CliContext& ctx) {
  auto getFlags = std::make_shared<ServerFlags>();
  auto getKind = std::make_shared<std::string>();
  auto* get = app.add_subcommand(
      "get",
      "List the bindings of a running controller: READY, TARGETS, HEALTHY, DRIFT, LAST-SYNC; "
      "DNSRecordBindings in a table of their own (NAMES, ZONE, DRIFT, INSYNC, CONFLICT); and, "
      "with leader election, which replica leads");
  get->add_option("KIND", *getKind, "targetgroupbindings | dnsrecordbindings (default: both)")
      ->check(CLI::IsMember(kindNames()));
  addServerFlags(get, *getFlags);
  get->callback([&ctx, getFlags, getKind] {
    const auto selected = selectResources(*getKind);
    std::vector<runtime::BindingStatus> statuses;
    auto items = web::json::value::array();
    std::string lastListJson;
    for (const auto* resource : selected) {
      auto json = fetchJson(ctx, *getFlags, std::string(kApiPath) + resource->plural);
      if (!json) return;
      auto list = server::bindingListFromJson(json->json);
      if (!list) {
        ctx.err << "error: unexpected answer from the server: " << list.error().message << "\n";
        ctx.exitCode = kExitFailure;
        return;
      }
      statuses.insert(statuses.end(), list->begin(), list->end());
      if (json->json.has_array_field("items")) {
        for (const auto& item : json->json.at("items").as_array()) items[items.size()] = item;
      }
      lastListJson = json->body;
    }
    if (getFlags->output == "json") {
      if (selected.size() == 1) {
        ctx.out << lastListJson << "\n";  // the server's <Kind>List as it is
      } else {
        auto list = web::json::value::object(/*keep_order=*/true);
        list["apiVersion"] = web::json::value::string("v1");
        list["kind"] = web::json::value::string("List");
        list["metadata"] = web::json::value::object();
        list["items"] = items;
        ctx.out << list.serialize() << "\n";
      }
      return;
    }
    ctx.out << leaderLine(*getFlags)
            << server::renderTable(statuses, std::chrono::system_clock::now());
  });

  auto describeFlags = std::make_shared<ServerFlags>();
  auto name = std::make_shared<std::string>();
  auto ns = std::make_shared<std::string>("default");
  auto describeKind = std::make_shared<std::string>();
  auto* describe = app.add_subcommand(
      "describe", "Show one binding of a running controller: conditions, last plan, events");
  describe->add_option("NAME", *name, "Binding name, or namespace/name")->required();
  describe->add_option("-n,--namespace", *ns, "Namespace of NAME")->capture_default_str();
  describe
      ->add_option("--kind", *describeKind,
                   "targetgroupbinding | dnsrecordbinding (default: a TargetGroupBinding of that "
                   "name, else a DNSRecordBinding)")
      ->check(CLI::IsMember(kindNames()));
  addServerFlags(describe, *describeFlags);
  describe->callback([&ctx, describeFlags, name, ns, describeKind] {
    std::optional<Fetched> json;
    for (const auto* resource : selectResources(*describeKind)) {
      bool notFound = false;
      json = fetchJson(ctx, *describeFlags, bindingPath(*resource, *name, *ns), &notFound);
      if (json || !notFound) break;
    }
    if (!json) {
      if (ctx.exitCode == kExitOk) {
        ctx.err << "error: no binding " << (name->find('/') == std::string::npos ? *ns + "/" : "")
                << *name << " (HTTP 404)\n";
        ctx.exitCode = kExitFailure;
      }
      return;
    }
    if (describeFlags->output == "json") {
      ctx.out << json->body << "\n";
      return;
    }
    auto status = server::bindingFromJson(json->json);
    if (!status) {
      ctx.err << "error: unexpected answer from the server: " << status.error().message << "\n";
      ctx.exitCode = kExitFailure;
      return;
    }
    ctx.out << server::renderDescribe(*status, std::chrono::system_clock::now());
  });
}

void registerHealthcheckCommand(CLI::App& app, CliContext& ctx) {
  auto url = std::make_shared<std::string>("http://127.0.0.1:8081");
  auto* cmd = app.add_subcommand(
      "healthcheck", "Probe a running controller's /healthz (for container health checks)");
  cmd->add_option("--server", *url, "Health server of the controller")
      ->envname("ENDPOINT_BINDER_SERVER")
      ->capture_default_str();
  cmd->callback([&ctx, url] {
    auto got = httpGet(*url, "/healthz", std::chrono::seconds(3));
    if (!got) {
      ctx.err << "unhealthy: " << got.error().message << "\n";
      ctx.exitCode = kExitFailure;
      return;
    }
    if (got->status != 200) {
      ctx.err << "unhealthy: HTTP " << got->status << ": " << got->body << "\n";
      ctx.exitCode = kExitFailure;
      return;
    }
    ctx.out << "ok\n";
  });
}

}  // namespace endpointbinder::cli
