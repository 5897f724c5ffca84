#include <iostream>

#include "controller/core/leak_check.h"
#include "controller/main/cli.h"

namespace endpointbinder::cli {

int runCli(int argc, const char* const* argv, std::ostream& out, std::ostream& err) {
  CLI::App app{
      "endpoint-binder keeps AWS ELBv2 target groups and Route 53 records in step with the "
      "endpoints named in manifests (DNS names, IPs, EC2, Spot Fleets, Auto Scaling groups).",
      "endpoint-binder"};
  app.set_version_flag("--version", versionString());
  app.require_subcommand(1);
  app.fallthrough(false);

  CliContext context{out, err};
  registerValidateCommand(app, context);
  registerVersionCommand(app, context);
  registerRunCommand(app, context);
  registerPlanCommand(app, context);
  registerDoctorCommand(app, context);
  registerGetCommands(app, context);
  registerHealthcheckCommand(app, context);
  registerIamPolicyCommand(app, context);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version arrive as "errors" with exit code 0; everything else is usage.
    const int code = app.exit(e, out, err);
    return code == 0 ? kExitOk : kExitUsage;
  }
  return context.exitCode;
}

}  // namespace endpointbinder::cli

int main(int argc, char** argv) {
  const int code = endpointbinder::cli::runCli(argc, argv, std::cout, std::cerr);
  endpointbinder::core::checkLeaksBeforeStaticTeardown();
  return code;
}
