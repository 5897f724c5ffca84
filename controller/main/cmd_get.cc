// `get` and `describe`: read a running controller's status API and print it like kubectl.
#include <cpprest/json.h>

#include "controller/main/cli.h"
#include "controller/main/status_client.h"
#include "controller/server/status_json.h"
#include "controller/server/status_table.h"

namespace endpointbinder::cli {

namespace {

constexpr const char* kBindingsPath = "/apis/endpointbinder.io/v1alpha1/targetgroupbindings";

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

// Fetches `path`; on success returns the parsed JSON, otherwise prints why and sets the exit code.
std::optional<web::json::value> fetch(CliContext& ctx, const ServerFlags& flags,
                                      const std::string& path) {
  auto got = httpGet(flags.server, path,
                     std::chrono::milliseconds(static_cast<long>(flags.timeoutSeconds * 1000)));
  if (!got) {
    ctx.err << "error: " << got.error().message << "\n";
    ctx.exitCode = kExitFailure;
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
  if (flags.output == "json") {
    ctx.out << got->body << "\n";
    return std::nullopt;
  }
  try {
    return web::json::value::parse(got->body);
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
std::string bindingPath(const std::string& name, const std::string& ns) {
  if (name.find('/') != std::string::npos) return std::string(kBindingsPath) + "/" + name;
  return std::string(kBindingsPath) + "/" + ns + "/" + name;
}

}  // namespace

void registerGetCommands(CLI::App& app, CliContext& ctx) {
  auto getFlags = std::make_shared<ServerFlags>();
  auto* get = app.add_subcommand(
      "get",
      "List the bindings of a running controller: READY, TARGETS, HEALTHY, DRIFT, LAST-SYNC "
      "(and, with leader election, which replica leads)");
  addServerFlags(get, *getFlags);
  get->callback([&ctx, getFlags] {
    auto json = fetch(ctx, *getFlags, kBindingsPath);
    if (!json) return;
    auto list = server::bindingListFromJson(*json);
    if (!list) {
      ctx.err << "error: unexpected answer from the server: " << list.error().message << "\n";
      ctx.exitCode = kExitFailure;
      return;
    }
    ctx.out << leaderLine(*getFlags)
            << server::renderTable(*list, std::chrono::system_clock::now());
  });

  auto describeFlags = std::make_shared<ServerFlags>();
  auto name = std::make_shared<std::string>();
  auto ns = std::make_shared<std::string>("default");
  auto* describe = app.add_subcommand(
      "describe", "Show one binding of a running controller: conditions, last plan, events");
  describe->add_option("NAME", *name, "Binding name, or namespace/name")->required();
  describe->add_option("-n,--namespace", *ns, "Namespace of NAME")->capture_default_str();
  addServerFlags(describe, *describeFlags);
  describe->callback([&ctx, describeFlags, name, ns] {
    auto json = fetch(ctx, *describeFlags, bindingPath(*name, *ns));
    if (!json) return;
    auto status = server::bindingFromJson(*json);
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
