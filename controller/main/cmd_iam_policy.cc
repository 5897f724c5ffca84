// `endpoint-binder iam-policy`: prints the least-privilege IAM policy (JSON) that the
// controller's task role needs for a set of manifests, so the policy is generated from the
// same files the controller reads instead of being written by hand and drifting from them.
//
// What is granted, and why:
// - elasticloadbalancing:Describe{TargetGroups,TargetHealth,Tags} on "*": AWS supports no
//   resource-level permissions for these actions.
// - elasticloadbalancing:{Register,Deregister}Targets on exactly the manifests' target groups,
//   and AddTags/RemoveTags on them only for the owner tag key (the claim tag the reconciler
//   writes, and removes when a binding is deleted or moves to another group).
// - ec2:DescribeInstances (addresses, state and tags of instances), plus
//   ec2:DescribeSpotFleetInstances or autoscaling:DescribeAutoScalingGroups, for bindings
//   whose source lists instances; all on "*" (no resource-level permissions either).
// - route53:{Change,List}ResourceRecordSets on exactly the DNSRecordBindings' hosted zones,
//   and route53:GetChange on change/* (to wait for a change to reach INSYNC).
// - sts:GetCallerIdentity, which `doctor` calls to show whose credentials are in use.
// Thread-safety: single-threaded, like every command.
#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "api/decode.h"
#include "controller/main/cli.h"
#include "controller/main/json_text.h"
#include "controller/runtime/reconciler.h"

namespace endpointbinder::cli {

namespace {

struct IamPolicyOptions {
  std::vector<std::string> paths;
  std::string partition;  // empty: from the target group ARNs, else "aws"
};

// One IAM policy statement with Effect "Allow". A single resource "*" prints as a string.
struct Statement {
  std::string sid;
  std::set<std::string> actions;
  std::set<std::string> resources;
  // ForAllValues:StringEquals {aws:TagKeys: tagKeys} when non-empty.
  std::vector<std::string> tagKeys;
};

// Adds the actions an instance-listing source needs; other sources need no AWS permission.
void addSourceActions(const api::Source& source, std::set<std::string>& actions) {
  if (std::holds_alternative<api::Ec2Source>(source)) {
    actions.insert("ec2:DescribeInstances");
  } else if (std::holds_alternative<api::SpotFleetSource>(source)) {
    actions.insert("ec2:DescribeSpotFleetInstances");
    actions.insert("ec2:DescribeInstances");
  } else if (std::holds_alternative<api::AutoScalingGroupSource>(source)) {
    actions.insert("autoscaling:DescribeAutoScalingGroups");
    actions.insert("ec2:DescribeInstances");
  }
}

// The partition for ARNs that manifests do not spell out (Route 53 hosted zones): the one
// every target group ARN shares, else "aws".
std::string defaultPartition(const api::ManifestSet& set) {
  std::set<std::string> partitions;
  for (const auto& b : set.targetGroupBindings) partitions.insert(b.spec.targetGroupArn.partition);
  return partitions.size() == 1 ? *partitions.begin() : "aws";
}

std::vector<Statement> buildPolicy(const api::ManifestSet& set, const std::string& partition) {
  std::set<std::string> targetGroups;
  std::set<std::string> hostedZones;
  std::set<std::string> sourceActions;
  for (const auto& b : set.targetGroupBindings) {
    targetGroups.insert(b.spec.targetGroupArn.text);
    addSourceActions(b.spec.source, sourceActions);
  }
  for (const auto& b : set.dnsRecordBindings) {
    hostedZones.insert(
        fmt::format("arn:{}:route53:::hostedzone/{}", partition, b.spec.hostedZoneId));
    addSourceActions(b.spec.source, sourceActions);
  }

  std::vector<Statement> statements;
  if (!targetGroups.empty()) {
    statements.push_back(
        {"DescribeTargetGroups",
         {"elasticloadbalancing:DescribeTags", "elasticloadbalancing:DescribeTargetGroups",
          "elasticloadbalancing:DescribeTargetHealth"},
         {"*"},
         {}});
    statements.push_back(
        {"ChangeBoundTargets",
         {"elasticloadbalancing:DeregisterTargets", "elasticloadbalancing:RegisterTargets"},
         targetGroups,
         {}});
    statements.push_back({"ClaimBoundTargetGroups",
                          {"elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags"},
                          targetGroups,
                          {runtime::kOwnerTagKey}});
  }
  if (!sourceActions.empty()) {
    statements.push_back({"DescribeInstanceSources", sourceActions, {"*"}, {}});
  }
  if (!hostedZones.empty()) {
    statements.push_back({"ChangeBoundRecords",
                          {"route53:ChangeResourceRecordSets", "route53:ListResourceRecordSets"},
                          hostedZones,
                          {}});
    statements.push_back({"WaitForRecordChanges",
                          {"route53:GetChange"},
                          {fmt::format("arn:{}:route53:::change/*", partition)},
                          {}});
  }
  statements.push_back({"CallerIdentity", {"sts:GetCallerIdentity"}, {"*"}, {}});
  return statements;
}

// `values` as a JSON array, one element per line at `indent` + 2 spaces.
template <typename Range>
std::string jsonArray(const Range& values, const std::string& indent) {
  std::string text = "[";
  const char* separator = "\n";
  for (const auto& value : values) {
    text += separator + indent + "  " + jsonString(value);
    separator = ",\n";
  }
  return text + "\n" + indent + "]";
}

// The policy document, pretty-printed with two-space indents and a final newline; keys in
// the order AWS's console writes them.
std::string renderPolicy(const std::vector<Statement>& statements) {
  std::string text = "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [";
  const char* separator = "\n";
  for (const auto& s : statements) {
    text += separator;
    separator = ",\n";
    text += "    {\n";
    text += "      \"Sid\": " + jsonString(s.sid) + ",\n";
    text += "      \"Effect\": \"Allow\",\n";
    text += "      \"Action\": " + jsonArray(s.actions, "      ") + ",\n";
    const bool anyResource = s.resources.size() == 1 && *s.resources.begin() == "*";
    text += "      \"Resource\": " +
            (anyResource ? std::string("\"*\"") : jsonArray(s.resources, "      "));
    if (!s.tagKeys.empty()) {
      text += ",\n      \"Condition\": {\n";
      text += "        \"ForAllValues:StringEquals\": {\n";
      text += "          \"aws:TagKeys\": " + jsonArray(s.tagKeys, "          ") + "\n";
      text += "        }\n      }";
    }
    text += "\n    }";
  }
  return text + "\n  ]\n}\n";
}

int runIamPolicy(const IamPolicyOptions& options, CliContext& context) {
  std::vector<std::filesystem::path> paths(options.paths.begin(), options.paths.end());
  const api::ManifestSet set = api::loadManifests(paths);
  if (!set.ok()) {
    for (const auto& e : set.errors) context.err << e.toString() << "\n";
    context.err << fmt::format("iam-policy: {} error{} in the manifests; no policy printed\n",
                               set.errors.size(), set.errors.size() == 1 ? "" : "s");
    return kExitFailure;
  }
  if (set.targetGroupBindings.empty() && set.dnsRecordBindings.empty()) {
    context.err << fmt::format("iam-policy: no bindings found in {} file{}; no policy printed\n",
                               set.files.size(), set.files.size() == 1 ? "" : "s");
    return kExitFailure;
  }
  const std::string partition =
      options.partition.empty() ? defaultPartition(set) : options.partition;
  context.out << renderPolicy(buildPolicy(set, partition));
  return kExitOk;
}

}  // namespace

void registerIamPolicyCommand(CLI::App& app, CliContext& context) {
  auto options = std::make_shared<IamPolicyOptions>();
  CLI::App* command = app.add_subcommand(
      "iam-policy",
      "Print the least-privilege IAM policy (JSON) the controller's role needs for these "
      "manifests: writes scoped to their target groups and hosted zones. Exit 1 (diagnostics "
      "on stderr, nothing on stdout) when a manifest is invalid or there is no binding.");
  command
      ->add_option("paths", options->paths,
                   "Manifest files, or directories walked recursively for *.yaml and *.yml "
                   "(hidden files and directories skipped)")
      ->required()
      ->type_name("PATH");
  command
      ->add_option("--partition", options->partition,
                   "AWS partition for Route 53 ARNs (aws, aws-cn, aws-us-gov, ...); default: "
                   "the partition of the target group ARNs when they all agree, else aws")
      ->check([](const std::string& value) {
        const bool ok = !value.empty() && std::ranges::all_of(value, [](char c) {
          return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
        });
        return ok ? std::string() : "must be a partition name like aws or aws-cn";
      })
      ->type_name("NAME");
  command->callback([options, &context] { context.exitCode = runIamPolicy(*options, context); });
}

}  // namespace endpointbinder::cli
