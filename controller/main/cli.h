// The endpoint-binder command line: every subcommand lives in its own cmd_<name>.cc and adds
// itself to the CLI11 app through a register hook declared here; main.cc calls the hooks.
// A hook adds the subcommand, its options and a callback that runs the command and stores
// the process exit code in the context. Commands write through the context's streams only,
// so output is easy to capture.
// Thread-safety: single-threaded; a context belongs to one invocation.
#pragma once

#include <CLI/CLI.hpp>
#include <ostream>
#include <string>

namespace endpointbinder::cli {

// Exit codes shared by every command.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;  // the command ran and found problems (invalid manifests)
inline constexpr int kExitUsage = 2;    // the command line itself was wrong

struct CliContext {
  std::ostream& out;
  std::ostream& err;
  int exitCode = kExitOk;
};

// "0.1.0 (commit 1a2b3c4d5e6f)": the CMake project version and the git commit at configure time.
std::string versionString();

// `validate PATH... [--output text|json]`: decode and validate manifests without contacting
// AWS. Exit 0 when every manifest is valid, 1 otherwise.
void registerValidateCommand(CLI::App& app, CliContext& context);
// `version`: print the version.
void registerVersionCommand(CLI::App& app, CliContext& context);
// `get`, `describe NAME`: read a running controller's status API (--server).
void registerGetCommands(CLI::App& app, CliContext& context);
// `healthcheck`: exit 0 when the controller's /healthz answers 200 (container health check).
void registerHealthcheckCommand(CLI::App& app, CliContext& context);
// `run`: the controller.
void registerRunCommand(CLI::App& app, CliContext& context);
// `doctor`: checklist of region, credentials, endpoints, DNS and target groups.
void registerDoctorCommand(CLI::App& app, CliContext& context);
// `plan`: one-shot read-only plan of every binding, printed like a diff.
void registerPlanCommand(CLI::App& app, CliContext& context);
// `iam-policy PATH...`: print the minimal IAM policy for the manifests' bindings.
void registerIamPolicyCommand(CLI::App& app, CliContext& context);

// Parses `argv` and runs the chosen subcommand; returns the exit code (kExitUsage for usage
// errors, kExitOk for --help).
int runCli(int argc, const char* const* argv, std::ostream& out, std::ostream& err);

}  // namespace endpointbinder::cli
