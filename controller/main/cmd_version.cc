#include "controller/main/cli.h"

namespace endpointbinder::cli {

std::string versionString() { return std::string(EB_VERSION) + " (commit " + EB_GIT_COMMIT + ")"; }

void registerVersionCommand(CLI::App& app, CliContext& context) {
  CLI::App* command = app.add_subcommand("version", "Print the version and exit");
  command->callback([&context] {
    context.out << "endpoint-binder " << versionString() << "\n";
    context.exitCode = kExitOk;
  });
}

}  // namespace endpointbinder::cli
