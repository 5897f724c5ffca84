// `endpoint-binder validate`: decode and validate manifests exactly as the controller would,
// without contacting AWS, for editors, pre-commit hooks and CI pipelines.
#include <fmt/format.h>

#include <filesystem>
#include <memory>
#include <variant>

#include "api/decode.h"
#include "api/warnings.h"
#include "controller/main/cli.h"
#include "controller/main/json_text.h"

namespace endpointbinder::cli {

namespace {

struct ValidateOptions {
  std::vector<std::string> paths;
  std::string output = "text";
};

std::string describeSource(const api::Source& source) {
  if (const auto* dns = std::get_if<api::DnsSource>(&source)) return "dns " + dns->hostname;
  if (const auto* fixed = std::get_if<api::StaticSource>(&source)) {
    return fmt::format("static {} address{}", fixed->addresses.size(),
                       fixed->addresses.size() == 1 ? "" : "es");
  }
  if (const auto* ec2 = std::get_if<api::Ec2Source>(&source)) {
    return fmt::format("ec2 {} filter{}", ec2->filters.size(), ec2->filters.size() == 1 ? "" : "s");
  }
  if (const auto* fleet = std::get_if<api::SpotFleetSource>(&source)) {
    return "spotFleet " + fleet->requestId;
  }
  return "autoScalingGroup " + std::get<api::AutoScalingGroupSource>(source).name;
}

std::string summary(const api::TargetGroupBinding& b) {
  return fmt::format("TargetGroupBinding {}: {} -> targetgroup/{} ({}{}), generation {} ({})",
                     b.metadata.key(), describeSource(b.spec.source), b.spec.targetGroupArn.name,
                     b.spec.targetType == api::TargetType::kIp ? "ip" : "instance",
                     b.spec.port ? fmt::format(", port {}", *b.spec.port) : "", b.generation,
                     b.origin.file);
}

std::string summary(const api::DnsRecordBinding& b) {
  // "...(A from tag:Name; PTR in Z...)" with a reverse zone.
  return fmt::format("DNSRecordBinding {}: {} -> hosted zone {} ({} from {}{}), generation {} ({})",
                     b.metadata.key(), describeSource(b.spec.source), b.spec.hostedZoneId,
                     b.spec.record.type == api::RecordType::kA ? "A" : "AAAA",
                     b.spec.record.nameFrom,
                     b.spec.reverseHostedZoneId ? "; PTR in " + *b.spec.reverseHostedZoneId : "",
                     b.generation, b.origin.file);
}

template <typename Binding>
std::string jsonBinding(const char* kind, const Binding& b) {
  return fmt::format(R"({{"kind":{},"namespace":{},"name":{},"generation":{},"file":{}}})",
                     jsonString(kind), jsonString(b.metadata.ns), jsonString(b.metadata.name),
                     jsonString(b.generation), jsonString(b.origin.file));
}

std::string jsonDiagnostics(const api::Diagnostics& diagnostics) {
  std::string out = "[";
  const char* separator = "";
  for (const auto& e : diagnostics) {
    out += separator;
    out += fmt::format(R"({{"file":{},"line":{},"column":{},"path":{},"message":{}}})",
                       jsonString(e.file), e.line, e.column, jsonString(e.path),
                       jsonString(e.message));
    separator = ",";
  }
  return out + "]";
}

void printJson(const api::ManifestSet& set, const api::Diagnostics& warnings, std::ostream& out) {
  out << "{\"valid\":" << (set.ok() ? "true" : "false") << ",\"bindings\":[";
  const char* separator = "";
  for (const auto& b : set.targetGroupBindings) {
    out << separator << jsonBinding(api::kKindTargetGroupBinding, b);
    separator = ",";
  }
  for (const auto& b : set.dnsRecordBindings) {
    out << separator << jsonBinding(api::kKindDnsRecordBinding, b);
    separator = ",";
  }
  out << "],\"errors\":" << jsonDiagnostics(set.errors)
      << ",\"warnings\":" << jsonDiagnostics(warnings) << "}\n";
}

// Text: on success one line per binding and a count on stdout; on failure every diagnostic
// on stderr (one per line, so tools can parse it) and a count on stdout. Warnings (never
// fatal) follow on stderr, one per line, each starting with "warning: ".
void printText(const api::ManifestSet& set, const api::Diagnostics& warnings, std::ostream& out,
               std::ostream& err) {
  const size_t bindings = set.targetGroupBindings.size() + set.dnsRecordBindings.size();
  const auto plural = [](size_t n, const char* word) {
    return fmt::format("{} {}{}", n, word, n == 1 ? "" : "s");
  };
  const std::string warned = warnings.empty() ? "" : ", " + plural(warnings.size(), "warning");
  if (set.ok()) {
    for (const auto& b : set.targetGroupBindings) out << summary(b) << "\n";
    for (const auto& b : set.dnsRecordBindings) out << summary(b) << "\n";
    out << plural(bindings, "binding") << " valid (" << plural(set.files.size(), "file") << ")"
        << warned << "\n";
  } else {
    for (const auto& e : set.errors) err << e.toString() << "\n";
    out << "invalid: " << plural(set.errors.size(), "error") << " ("
        << plural(bindings, "other binding") << " valid)" << warned << "\n";
  }
  for (const auto& w : warnings) err << "warning: " << w.toString() << "\n";
}

int runValidate(const ValidateOptions& options, CliContext& context) {
  std::vector<std::filesystem::path> paths(options.paths.begin(), options.paths.end());
  const api::ManifestSet set = api::loadManifests(paths);
  const api::Diagnostics warnings = api::manifestWarnings(set);
  if (options.output == "json") {
    printJson(set, warnings, context.out);
  } else {
    printText(set, warnings, context.out, context.err);
  }
  return set.ok() ? kExitOk : kExitFailure;
}

}  // namespace

void registerValidateCommand(CLI::App& app, CliContext& context) {
  auto options = std::make_shared<ValidateOptions>();
  CLI::App* command = app.add_subcommand(
      "validate",
      "Decode and validate manifests as the controller would, without contacting AWS. "
      "Exit 0 when all are valid, 1 when any is not (every error is printed).");
  command
      ->add_option("paths", options->paths,
                   "Manifest files, or directories walked recursively for *.yaml and *.yml "
                   "(hidden files and directories skipped)")
      ->required()
      ->type_name("PATH");
  command
      ->add_option("-o,--output", options->output,
                   "text (summary on stdout, diagnostics and warnings on stderr) or json (one "
                   "object on stdout: {valid, bindings, errors, warnings})")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  command->callback([options, &context] { context.exitCode = runValidate(*options, context); });
}

}  // namespace endpointbinder::cli
