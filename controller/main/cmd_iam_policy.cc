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
//   ec2:DescribeSpotFleetInstances and ec2:DescribeSpotFleetRequests (a fleet's members and
//   state) or autoscaling:DescribeAutoScalingGroups, for bindings whose source lists
//   instances; all on "*" (no resource-level permissions either).
// - With --events-queue-url: sqs:{ReceiveMessage,DeleteMessage,GetQueueAttributes} on exactly
//   that queue (the events reader; doctor reads its attributes).
// - route53:GetHostedZone (is the zone private, which VPCs see it) and
//   route53:{Change,List}ResourceRecordSets on exactly the DNSRecordBindings' hosted zones,
//   forward and reverse (reverseHostedZoneId), and route53:GetChange on change/* (to wait for
//   a change to reach INSYNC; changes have no per-zone ARN).
// - With --leader-election-table: dynamodb:{GetItem,PutItem,UpdateItem} on exactly that table
//   (the lease; in the Region and account of the target groups when they all share one).
// - Notifications: ssm:GetParameter on exactly the Slack webhook parameters, kms:Decrypt on
//   keys of those accounts and Regions only when used through SSM (kms:ViaService), and
//   sns:Publish (plus sns:GetTopicAttributes for `doctor`) on exactly the topics.
// - With --manifests s3://bucket/prefix/ (as given to `run`): s3:ListBucket on the bucket when
//   listing exactly that prefix (StringEquals s3:prefix; the controller lists with no other)
//   and s3:GetObject on bucket/prefix*.
// - sts:GetCallerIdentity, which `doctor` calls to show whose credentials are in use, and the
//   controller asks once to name its account in the claims on other accounts' groups.
// - Target groups of other accounts (spec.assumeRoleARN) are not in the task role's policy:
//   it gets sts:AssumeRole on exactly those roles instead. `--role-policies` prints, per
//   role, the trust policy (the controller's role may assume it, with the bindings' external
//   ids) and the permission policy (the ELBv2 statements above, for that role's groups).
// Thread-safety: single-threaded, like every command.
#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <variant>
#include <vector>

#include "api/decode.h"
#include "api/syntax.h"
#include "controller/aws/s3_client.h"
#include "controller/main/cli.h"
#include "controller/main/json_text.h"
#include "controller/runtime/reconciler.h"

namespace endpointbinder::cli {

namespace {

struct IamPolicyOptions {
  std::vector<std::string> paths;
  std::string partition;            // empty: from the target group ARNs, else "aws"
  std::string eventsQueueUrl;       // --events-queue-url, as given to `run`
  std::string leaderElectionTable;  // --leader-election-table, as given to `run`
  // --manifests s3://bucket/prefix/, as given to `run`
  std::vector<std::string> s3Manifests;
  // --role-policies: print each assumed role's trust and permission policies instead, with
  // --controller-role-arn as the trusted principal.
  bool rolePolicies = false;
  std::string controllerRoleArn;
};

// The queue's ARN from its URL: https://sqs.<region>.amazonaws.com[.cn]/<account>/<name> (or
// the legacy https://<region>.queue.amazonaws.com/...). nullopt for anything else.
std::optional<std::string> queueArn(const std::string& url) {
  constexpr std::string_view kScheme = "https://";
  if (!url.starts_with(kScheme)) return std::nullopt;
  const std::string rest = url.substr(kScheme.size());
  const size_t slash = rest.find('/');
  if (slash == std::string::npos) return std::nullopt;
  const std::string host = rest.substr(0, slash);
  std::string path = rest.substr(slash + 1);
  while (!path.empty() && path.back() == '/') path.pop_back();
  const size_t split = path.find('/');
  if (split == std::string::npos) return std::nullopt;
  const std::string account = path.substr(0, split);
  const std::string name = path.substr(split + 1);
  const auto valid = [](const std::string& text, auto allowed) {
    return !text.empty() && std::ranges::all_of(text, allowed);
  };
  if (account.size() != 12 || !valid(account, [](char c) { return c >= '0' && c <= '9'; }) ||
      name.size() > 80 || !valid(name, [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '-' || c == '_' || c == '.';
      })) {
    return std::nullopt;
  }
  std::string region;
  std::string partition = "aws";
  for (const auto& [prefix, suffix, part] :
       {std::tuple<std::string_view, std::string_view, std::string_view>{"sqs.", ".amazonaws.com",
                                                                         "aws"},
        {"sqs.", ".amazonaws.com.cn", "aws-cn"},
        {"", ".queue.amazonaws.com", "aws"}}) {
    if (host.starts_with(prefix) && host.ends_with(suffix) &&
        host.size() > prefix.size() + suffix.size()) {
      region = host.substr(prefix.size(), host.size() - prefix.size() - suffix.size());
      partition = std::string(part);
    }
  }
  if (!valid(region,
             [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; })) {
    return std::nullopt;
  }
  if (region.starts_with("us-gov-")) partition = "aws-us-gov";
  return fmt::format("arn:{}:sqs:{}:{}:{}", partition, region, account, name);
}

// One IAM policy statement with Effect "Allow". A single resource "*" prints as a string.
struct Statement {
  std::string sid;
  std::set<std::string> actions;
  std::set<std::string> resources;
  // ForAllValues:StringEquals {aws:TagKeys: tagKeys} when non-empty.
  std::vector<std::string> tagKeys;
  // StringEquals {key: values} when non-empty.
  std::map<std::string, std::set<std::string>> stringEquals = {};
};

// Adds the actions an instance-listing source needs; other sources need no AWS permission.
void addSourceActions(const api::Source& source, std::set<std::string>& actions) {
  if (std::holds_alternative<api::Ec2Source>(source)) {
    actions.insert("ec2:DescribeInstances");
  } else if (std::holds_alternative<api::SpotFleetSource>(source)) {
    actions.insert("ec2:DescribeSpotFleetInstances");
    actions.insert("ec2:DescribeSpotFleetRequests");
    actions.insert("ec2:DescribeInstances");
  } else if (std::holds_alternative<api::AutoScalingGroupSource>(source)) {
    actions.insert("autoscaling:DescribeAutoScalingGroups");
    actions.insert("ec2:DescribeInstances");
  }
}

// Notifications: the Slack webhook URLs' SSM parameters (read with decryption) and the SNS
// topics. A parameter lives in the Region and account the controller runs in, which the
// binding's target group ARN names. kms:Decrypt cannot name the key (the parameter's key is
// not in the manifest; aws/ssm by default), so it is limited to keys of those accounts and
// Regions used through SSM (kms:ViaService). sns:GetTopicAttributes is for `doctor`.
std::vector<Statement> notificationStatements(const api::ManifestSet& set,
                                              const std::string& partition) {
  std::set<std::string> parameters;
  std::set<std::string> keys;
  std::set<std::string> viaServices;
  std::set<std::string> topics;
  const std::string suffix = partition == "aws-cn" ? "amazonaws.com.cn" : "amazonaws.com";
  for (const auto& b : set.targetGroupBindings) {
    const auto& arn = b.spec.targetGroupArn;
    for (const auto& entry : b.spec.notifications) {
      if (entry.snsTopicArn) topics.insert(*entry.snsTopicArn);
      if (!entry.slackWebhookSsmParameter) continue;
      parameters.insert(fmt::format("arn:{}:ssm:{}:{}:parameter{}", partition, arn.region,
                                    arn.account, *entry.slackWebhookSsmParameter));
      keys.insert(fmt::format("arn:{}:kms:{}:{}:key/*", partition, arn.region, arn.account));
      viaServices.insert(fmt::format("ssm.{}.{}", arn.region, suffix));
    }
  }
  std::vector<Statement> statements;
  if (!parameters.empty()) {
    statements.push_back({"ReadSlackWebhookUrls", {"ssm:GetParameter"}, parameters, {}});
    statements.push_back(
        {"DecryptSlackWebhookUrls", {"kms:Decrypt"}, keys, {}, {{"kms:ViaService", viaServices}}});
  }
  if (!topics.empty()) {
    statements.push_back(
        {"PublishNotifications", {"sns:GetTopicAttributes", "sns:Publish"}, topics, {}});
  }
  return statements;
}

// The partition for ARNs that manifests do not spell out (Route 53 hosted zones): the one
// every target group ARN shares, else "aws".
std::string defaultPartition(const api::ManifestSet& set) {
  std::set<std::string> partitions;
  for (const auto& b : set.targetGroupBindings) partitions.insert(b.spec.targetGroupArn.partition);
  return partitions.size() == 1 ? *partitions.begin() : "aws";
}

// The ELBv2 statements for binding `targetGroups` (read anything, change their targets, claim
// them with the owner tag only).
std::vector<Statement> targetGroupStatements(const std::set<std::string>& targetGroups) {
  return {{"DescribeTargetGroups",
           {"elasticloadbalancing:DescribeTags", "elasticloadbalancing:DescribeTargetGroups",
            "elasticloadbalancing:DescribeTargetHealth"},
           {"*"},
           {}},
          {"ChangeBoundTargets",
           {"elasticloadbalancing:DeregisterTargets", "elasticloadbalancing:RegisterTargets"},
           targetGroups,
           {}},
          {"ClaimBoundTargetGroups",
           {"elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags"},
           targetGroups,
           {runtime::kOwnerTagKey}}};
}

std::vector<Statement> buildPolicy(const api::ManifestSet& set, const std::string& partition,
                                   const std::optional<std::string>& eventsQueueArn) {
  std::set<std::string> targetGroups;
  std::set<std::string> roles;
  std::set<std::string> hostedZones;
  std::set<std::string> sourceActions;
  for (const auto& b : set.targetGroupBindings) {
    // A group reached through a role is that role's business, not the task role's.
    if (b.spec.assumeRole) {
      roles.insert(b.spec.assumeRole->role.text);
    } else {
      targetGroups.insert(b.spec.targetGroupArn.text);
    }
    addSourceActions(b.spec.source, sourceActions);
  }
  for (const auto& b : set.dnsRecordBindings) {
    hostedZones.insert(
        fmt::format("arn:{}:route53:::hostedzone/{}", partition, b.spec.hostedZoneId));
    if (b.spec.reverseHostedZoneId) {
      hostedZones.insert(
          fmt::format("arn:{}:route53:::hostedzone/{}", partition, *b.spec.reverseHostedZoneId));
    }
    addSourceActions(b.spec.source, sourceActions);
  }

  std::vector<Statement> statements;
  if (!targetGroups.empty()) statements = targetGroupStatements(targetGroups);
  if (!roles.empty()) {
    statements.push_back({"AssumeTargetAccountRoles", {"sts:AssumeRole"}, roles, {}});
  }
  if (!sourceActions.empty()) {
    statements.push_back({"DescribeInstanceSources", sourceActions, {"*"}, {}});
  }
  if (eventsQueueArn) {
    statements.push_back({"ReadInstanceEvents",
                          {"sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"},
                          {*eventsQueueArn},
                          {}});
  }
  if (!hostedZones.empty()) {
    statements.push_back({"ChangeBoundRecords",
                          {"route53:ChangeResourceRecordSets", "route53:GetHostedZone",
                           "route53:ListResourceRecordSets"},
                          hostedZones,
                          {}});
    statements.push_back({"WaitForRecordChanges",
                          {"route53:GetChange"},
                          {fmt::format("arn:{}:route53:::change/*", partition)},
                          {}});
  }
  for (auto& statement : notificationStatements(set, partition)) {
    statements.push_back(std::move(statement));
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
    } else if (!s.stringEquals.empty()) {
      text += ",\n      \"Condition\": {\n        \"StringEquals\": {";
      const char* comma = "\n";
      for (const auto& [key, values] : s.stringEquals) {
        text += comma + std::string("          ") + jsonString(key) + ": " +
                jsonArray(values, "          ");
        comma = ",\n";
      }
      text += "\n        }\n      }";
    }
    text += "\n    }";
  }
  return text + "\n  ]\n}\n";
}

// The leader-election lease table's statement. The table lives where the controller runs,
// which the target group ARNs tell when they agree; otherwise any Region and account ("*").
Statement leaderElectionStatement(const api::ManifestSet& set, const std::string& partition,
                                  const std::string& table) {
  std::set<std::string> regions;
  std::set<std::string> accounts;
  for (const auto& b : set.targetGroupBindings) {
    if (b.spec.assumeRole) continue;  // another account's group says nothing of ours
    regions.insert(b.spec.targetGroupArn.region);
    accounts.insert(b.spec.targetGroupArn.account);
  }
  const std::string region = regions.size() == 1 ? *regions.begin() : "*";
  const std::string account = accounts.size() == 1 ? *accounts.begin() : "*";
  return {"LeaderElection",
          {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"},
          {fmt::format("arn:{}:dynamodb:{}:{}:table/{}", partition, region, account, table)},
          {}};
}

// Reading manifests from S3 (`run --manifests s3://bucket/prefix/`): per bucket, ListBucket
// for exactly the prefixes listed (none: the whole bucket), and GetObject under them.
std::vector<Statement> s3ManifestStatements(const std::vector<aws::S3Location>& locations,
                                            const std::string& partition) {
  std::map<std::string, std::set<std::string>> prefixes;  // by bucket
  std::set<std::string> objects;
  for (const auto& l : locations) {
    prefixes[l.bucket].insert(l.prefix);
    objects.insert(fmt::format("arn:{}:s3:::{}/{}*", partition, l.bucket, l.prefix));
  }
  std::vector<Statement> statements;
  for (const auto& [bucket, bucketPrefixes] : prefixes) {
    Statement list{prefixes.size() == 1 ? "ManifestsList"
                                        : fmt::format("ManifestsList{}", statements.size() + 1),
                   {"s3:ListBucket"},
                   {fmt::format("arn:{}:s3:::{}", partition, bucket)},
                   {}};
    if (!bucketPrefixes.contains("")) list.stringEquals["s3:prefix"] = bucketPrefixes;
    statements.push_back(std::move(list));
  }
  statements.push_back({"ManifestsRead", {"s3:GetObject"}, std::move(objects), {}});
  return statements;
}

// The trust policy of a role bindings assume: `controllerRoleArn` may assume it, with one of
// `externalIds` when any binding sends one (a binding without one cannot then use the role:
// every binding of a role should agree).
std::string renderTrustPolicy(const std::string& controllerRoleArn,
                              const std::set<std::string>& externalIds) {
  std::string text = "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    {\n";
  text += "      \"Sid\": \"EndpointBinderController\",\n      \"Effect\": \"Allow\",\n";
  text +=
      "      \"Principal\": {\n        \"AWS\": " + jsonString(controllerRoleArn) + "\n      },\n";
  text += "      \"Action\": \"sts:AssumeRole\"";
  if (!externalIds.empty()) {
    text += ",\n      \"Condition\": {\n        \"StringEquals\": {\n";
    text += "          \"sts:ExternalId\": " + jsonArray(externalIds, "          ") + "\n";
    text += "        }\n      }";
  }
  return text + "\n    }\n  ]\n}\n";
}

// `document` (a rendered policy ending in a newline) indented by `indent` after its first line.
std::string nested(const std::string& document, const std::string& indent) {
  std::string out;
  for (size_t i = 0; i + 1 < document.size(); ++i) {
    out += document[i];
    if (document[i] == '\n') out += indent;
  }
  return out;
}

// --role-policies: {"<role ARN>": {"TrustPolicy": {...}, "PermissionPolicy": {...}}, ...}, for
// `aws iam create-role --assume-role-policy-document` and `put-role-policy` in each account.
int printRolePolicies(const IamPolicyOptions& options, const api::ManifestSet& set,
                      CliContext& context) {
  if (options.controllerRoleArn.empty()) {
    context.err << "iam-policy: --role-policies needs --controller-role-arn (the task role the "
                   "controller runs as, which the roles' trust policies name)\n";
    return kExitUsage;
  }
  if (auto role = api::parseRoleArn(options.controllerRoleArn); !role) {
    context.err << "iam-policy: --controller-role-arn: " << role.error() << "\n";
    return kExitUsage;
  }
  struct RoleUse {
    std::set<std::string> targetGroups;
    std::set<std::string> externalIds;
  };
  std::map<std::string, RoleUse> roles;
  for (const auto& b : set.targetGroupBindings) {
    if (!b.spec.assumeRole) continue;
    auto& use = roles[b.spec.assumeRole->role.text];
    use.targetGroups.insert(b.spec.targetGroupArn.text);
    if (!b.spec.assumeRole->externalId.empty()) {
      use.externalIds.insert(b.spec.assumeRole->externalId);
    }
  }
  if (roles.empty()) {
    context.err << "iam-policy: no binding names spec.assumeRoleARN; nothing to print\n";
    return kExitFailure;
  }
  // A trust policy that asks for an external id refuses the bindings that send none.
  for (const auto& b : set.targetGroupBindings) {
    if (b.spec.assumeRole && b.spec.assumeRole->externalId.empty() &&
        !roles[b.spec.assumeRole->role.text].externalIds.empty()) {
      context.err << "iam-policy: warning: binding " << b.metadata.key() << " assumes "
                  << b.spec.assumeRole->role.text
                  << " without an externalId, but other bindings send one: its trust policy "
                     "requires one, so this binding would be refused\n";
    }
  }
  std::string text = "{";
  const char* separator = "\n";
  for (const auto& [role, use] : roles) {
    text += separator;
    separator = ",\n";
    text += "  " + jsonString(role) + ": {\n";
    text += "    \"TrustPolicy\": " +
            nested(renderTrustPolicy(options.controllerRoleArn, use.externalIds), "    ") + ",\n";
    text += "    \"PermissionPolicy\": " +
            nested(renderPolicy(targetGroupStatements(use.targetGroups)), "    ") + "\n  }";
  }
  context.out << text << "\n}\n";
  return kExitOk;
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
  if (options.rolePolicies) return printRolePolicies(options, set, context);
  std::optional<std::string> eventsQueue;
  if (!options.eventsQueueUrl.empty()) {
    eventsQueue = queueArn(options.eventsQueueUrl);
    if (!eventsQueue) {
      context.err << "iam-policy: --events-queue-url: \"" << options.eventsQueueUrl
                  << "\" is not an SQS queue URL like "
                     "https://sqs.<region>.amazonaws.com/<account>/<queue>; no policy printed\n";
      return kExitUsage;
    }
  }
  std::vector<aws::S3Location> s3Locations;
  for (const auto& url : options.s3Manifests) {
    auto location = aws::parseS3Url(url);
    if (!location) {
      context.err << "iam-policy: --manifests: \"" << url
                  << "\" is not an S3 location like s3://bucket/prefix/ (manifest files are "
                     "given as arguments); no policy printed\n";
      return kExitUsage;
    }
    s3Locations.push_back(std::move(*location));
  }
  const std::string partition =
      options.partition.empty() ? defaultPartition(set) : options.partition;
  auto statements = buildPolicy(set, partition, eventsQueue);
  if (!s3Locations.empty()) {
    // Before CallerIdentity, which stays last.
    auto s3 = s3ManifestStatements(s3Locations, partition);
    statements.insert(statements.end() - 1, s3.begin(), s3.end());
  }
  if (!options.leaderElectionTable.empty()) {
    // Before CallerIdentity, which stays last.
    statements.insert(statements.end() - 1,
                      leaderElectionStatement(set, partition, options.leaderElectionTable));
  }
  context.out << renderPolicy(statements);
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
  command
      ->add_option("--events-queue-url", options->eventsQueueUrl,
                   "The events queue `run --events-queue-url` reads: adds sqs:ReceiveMessage, "
                   "DeleteMessage and GetQueueAttributes on that queue only")
      ->type_name("URL");
  command
      ->add_option("--leader-election-table", options->leaderElectionTable,
                   "The lease table `run --leader-election-table` uses: adds dynamodb:GetItem, "
                   "PutItem and UpdateItem on that table only")
      ->envname("ENDPOINT_BINDER_LEADER_ELECTION_TABLE")
      ->check([](const std::string& value) {
        const bool ok =
            value.size() >= 3 && value.size() <= 255 && std::ranges::all_of(value, [](char c) {
              return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                     c == '_' || c == '-' || c == '.';
            });
        return ok ? std::string() : "must be a DynamoDB table name (3-255 of a-z A-Z 0-9 _ - .)";
      })
      ->type_name("TABLE");
  command
      ->add_option("--manifests", options->s3Manifests,
                   "The S3 locations `run --manifests s3://bucket/prefix/` reads (repeatable): "
                   "adds s3:ListBucket for that prefix and s3:GetObject under it")
      ->type_name("S3URL");
  command->add_flag("--role-policies", options->rolePolicies,
                    "Print instead, for each role the bindings assume (spec.assumeRoleARN), its "
                    "trust policy and permission policy: {\"<role ARN>\": {\"TrustPolicy\": "
                    "…, \"PermissionPolicy\": …}}");
  command
      ->add_option("--controller-role-arn", options->controllerRoleArn,
                   "With --role-policies: the role the controller runs as (its ECS task role), "
                   "named as the principal of each trust policy")
      ->type_name("ARN");
  command->callback([options, &context] { context.exitCode = runIamPolicy(*options, context); });
}

}  // namespace endpointbinder::cli
