// `doctor`: a checklist for "why isn't it working?" on a new deployment. Every check has a
// short timeout and says what to fix; a hang talking to AWS from a private subnet nearly
// always means a missing VPC endpoint, so the message says so. Instance sources (ec2,
// spotFleet, autoScalingGroup) are read once each, as the controller reads them, after checking
// the EC2 (and Auto Scaling) endpoints; --events-queue-url checks SQS and reads the queue's
// attributes. Every DNSRecordBinding's hosted zones (forward and reverse) must exist, be private
// and be associated with at least one VPC (GetHostedZone; the VPCs are listed). Exit 1 when any
// check fails.
#include <map>
#include <pugixml.hpp>
#include <set>
#include <stop_token>

#include "api/decode.h"
#include "api/warnings.h"
#include "controller/aws/query_client.h"
#include "controller/dns/ares_resolver.h"
#include "controller/main/aws_setup.h"
#include "controller/main/cli.h"
#include "controller/main/doctor_notify.h"
#include "controller/runtime/json_logger.h"
#include "controller/runtime/reconciler.h"

namespace endpointbinder::cli {

namespace {

struct DoctorFlags {
  std::vector<std::string> manifests;
  std::vector<std::string> dnsServers;
  std::string controllerId = "endpoint-binder";
  double timeoutSeconds = 3;
  std::string eventsQueueUrl;
  AwsFlags aws;
  std::string notifyCaBundle;
};

class Checklist {
 public:
  explicit Checklist(std::ostream& out) : out_(out) {}
  void ok(const std::string& what) { out_ << "[ OK ] " << what << "\n"; }
  void warn(const std::string& what) { out_ << "[WARN] " << what << "\n"; }
  void fail(const std::string& what, const std::string& hint = {}) {
    ++failures_;
    out_ << "[FAIL] " << what << "\n";
    if (!hint.empty()) out_ << "       " << hint << "\n";
  }
  int failures() const { return failures_; }

 private:
  std::ostream& out_;
  int failures_ = 0;
};

// Hint for a transport failure reaching `service` at `url`.
std::string reachHint(const core::Error& error, const std::string& service,
                      const std::string& region) {
  if (error.code == "ConnectTimeout" || error.code == "RequestTimeout") {
    return "no answer: from a private subnet this usually means a missing VPC endpoint "
           "(com.amazonaws." +
           region + "." + service + ") or a security group without egress 443 to it";
  }
  return "check the endpoint URL, DNS for it, and network access (" + error.toString() + ")";
}

void checkEndpoint(Checklist& check, aws::HttpTransport& transport, const std::string& service,
                   const aws::ResolvedEndpoint& endpoint, const std::string& region,
                   std::chrono::milliseconds timeout) {
  aws::HttpRequest request;
  request.method = "GET";
  request.url = endpoint.url + "/";
  request.timeout = timeout;
  auto response = transport.send(request);
  if (response) {
    check.ok(service + " endpoint " + endpoint.url + " reachable (HTTP " +
             std::to_string(response->status) + ", from " + endpoint.source + ")");
  } else {
    check.fail(service + " endpoint " + endpoint.url + " unreachable: " + response.error().message,
               reachHint(response.error(), service, region));
  }
}

// A hint for a failed EC2 / Auto Scaling / SQS read.
std::string readHint(const core::Error& error, const std::string& action,
                     const std::string& service, const std::string& region) {
  if (error.kind == core::ErrorKind::kAuth) return "the task role needs " + action;
  if (error.kind == core::ErrorKind::kRetryable && error.httpStatus == 0) {
    return reachHint(error, service, region);
  }
  return {};
}

// Instance sources: the EC2 (and Auto Scaling) endpoints answer, and every distinct source
// reads as the controller will read it.
void checkInstanceSources(Checklist& check, AwsSetup& aws, const api::ManifestSet& manifests,
                          std::chrono::milliseconds timeout) {
  std::set<std::string> seen;
  bool ec2Checked = false;
  bool autoScalingChecked = false;
  const auto& region = aws.config.region;
  // Both kinds read instance sources: (source, binding key), target group bindings first.
  std::vector<std::pair<const api::Source*, std::string>> sources;
  for (const auto& b : manifests.targetGroupBindings) {
    sources.emplace_back(&b.spec.source, b.metadata.key());
  }
  for (const auto& b : manifests.dnsRecordBindings) {
    sources.emplace_back(&b.spec.source, b.metadata.key());
  }
  for (const auto& [sourcePtr, bindingKey] : sources) {
    const auto& source = *sourcePtr;
    const bool ec2 = std::holds_alternative<api::Ec2Source>(source);
    const bool fleet = std::holds_alternative<api::SpotFleetSource>(source);
    const bool group = std::holds_alternative<api::AutoScalingGroupSource>(source);
    if (!ec2 && !fleet && !group) continue;
    if (!ec2Checked) {
      checkEndpoint(check, *aws.transport, "ec2", aws.ec2Endpoint, region, timeout);
      ec2Checked = true;
    }
    if (group && !autoScalingChecked) {
      checkEndpoint(check, *aws.transport, "autoscaling", aws.autoScalingEndpoint, region, timeout);
      autoScalingChecked = true;
    }
    if (const auto* filters = std::get_if<api::Ec2Source>(&source)) {
      std::string text;
      for (const auto& f : filters->filters) {
        text += (text.empty() ? "" : ", ") + f.name + "=";
        for (size_t i = 0; i < f.values.size(); ++i) text += (i ? "|" : "") + f.values[i];
      }
      const std::string who = "ec2 source " + text + " (" + bindingKey + ")";
      if (!seen.insert(who).second) continue;
      auto all = filters->filters;
      all.push_back(api::Ec2Filter{"instance-state-name", filters->states});
      auto found = aws.ec2->describeInstances(all);
      if (found) {
        check.ok(who + ": " + std::to_string(found->size()) + " instances match");
      } else {
        check.fail(who + ": " + found.error().toString(),
                   readHint(found.error(), "ec2:DescribeInstances", "ec2", region));
      }
    } else if (const auto* spot = std::get_if<api::SpotFleetSource>(&source)) {
      const std::string who = "Spot Fleet " + spot->requestId + " (" + bindingKey + ")";
      if (!seen.insert(who).second) continue;
      auto state = aws.ec2->describeSpotFleetRequests({spot->requestId});
      if (!state) {
        check.fail(who + ": " + state.error().toString(),
                   state.error().kind == core::ErrorKind::kNotFound
                       ? "check the request id and the region"
                       : readHint(state.error(), "ec2:DescribeSpotFleetRequests", "ec2", region));
        continue;
      }
      const std::string fleetState = state->empty() ? "missing" : state->front().state;
      if (!aws::spotFleetStateServes(fleetState)) {
        check.fail(who + ": the request is " + fleetState,
                   "a cancelled or failed fleet is a failing source: nothing is registered or "
                   "deregistered for it");
        continue;
      }
      auto ids = aws.ec2->describeSpotFleetInstances(spot->requestId);
      if (ids) {
        check.ok(who + ": " + fleetState + ", " + std::to_string(ids->size()) +
                 " active instances");
      } else {
        check.fail(who + ": " + ids.error().toString(),
                   readHint(ids.error(), "ec2:DescribeSpotFleetInstances", "ec2", region));
      }
    } else if (const auto* asg = std::get_if<api::AutoScalingGroupSource>(&source)) {
      const std::string who = "Auto Scaling group " + asg->name + " (" + bindingKey + ")";
      if (!seen.insert(who).second) continue;
      auto groups = aws.autoScaling->describeAutoScalingGroups({asg->name});
      if (!groups) {
        check.fail(who + ": " + groups.error().toString(),
                   readHint(groups.error(), "autoscaling:DescribeAutoScalingGroups", "autoscaling",
                            region));
      } else if (groups->empty()) {
        check.fail(who + ": not found", "check the group name and the region");
      } else {
        int inService = 0;
        for (const auto& i : groups->front().instances)
          inService += i.lifecycleState == "InService";
        check.ok(who + ": " + std::to_string(inService) + " of " +
                 std::to_string(groups->front().instances.size()) + " instances InService");
      }
    }
  }
}

// DNSRecordBindings: each hosted zone (forward and reverse) exists, is private and is associated
// with at least one VPC, as the record reconciler requires before it writes anything. Each zone
// is read once (GetHostedZone), whatever the number of bindings naming it.
void checkHostedZones(Checklist& check, AwsSetup& aws, aws::Route53Api& route53,
                      const api::ManifestSet& manifests) {
  struct ZoneUse {
    std::vector<std::string> bindings;   // "ns/name"
    bool reverse = false;                // named as a reverseHostedZoneId
    std::set<std::string> reverseTypes;  // A / AAAA of the bindings naming it as reverse zone
  };
  std::map<std::string, ZoneUse> zones;
  for (const auto& b : manifests.dnsRecordBindings) {
    zones[b.spec.hostedZoneId].bindings.push_back(b.metadata.key());
    if (b.spec.reverseHostedZoneId) {
      auto& use = zones[*b.spec.reverseHostedZoneId];
      use.bindings.push_back(b.metadata.key() + " reverse");
      use.reverse = true;
      use.reverseTypes.insert(b.spec.record.type == api::RecordType::kA ? "A" : "AAAA");
    }
  }
  for (const auto& [id, use] : zones) {
    std::string bindings;
    for (const auto& b : use.bindings) bindings += (bindings.empty() ? "" : ", ") + b;
    const std::string who = "hosted zone " + id + " (" + bindings + ")";
    auto zone = route53.getHostedZone(id);
    if (!zone) {
      const auto& error = zone.error();
      std::string hint;
      if (error.kind == core::ErrorKind::kNotFound) {
        hint = "check the id (without /hostedzone/) and that the zone is in this account";
      } else if (error.kind == core::ErrorKind::kAuth) {
        hint = "the task role needs route53:GetHostedZone on hostedzone/" + id +
               " (`endpoint-binder iam-policy` prints the statement)";
      } else if (error.kind == core::ErrorKind::kRetryable && error.httpStatus == 0) {
        hint = "no answer from " + aws.route53Endpoint().url +
               ": Route 53's API is global and has no interface VPC endpoint in most partitions; "
               "from a private subnet reach it through the HTTPS proxy (route53.amazonaws.com "
               "must not be in NO_PROXY) or a NAT gateway";
      }
      check.fail(who + ": " + error.toString(), hint);
      continue;
    }
    const std::string named = "hosted zone " + zone->name + " " + id + " (" + bindings + ")";
    if (!zone->privateZone) {
      check.fail(named + ": is public",
                 "a DNSRecordBinding writes private hosted zones only (instance addresses are "
                 "private); nothing is written to this zone");
      continue;
    }
    if (zone->vpcs.empty()) {
      check.fail(named + ": private but associated with no VPC, so its names resolve nowhere",
                 "associate the VPCs of the instances with the zone "
                 "(aws route53 associate-vpc-with-hosted-zone)");
      continue;
    }
    std::string vpcs;
    for (const auto& vpc : zone->vpcs) {
      vpcs += (vpcs.empty() ? "" : ", ") + vpc.vpcId + " (" + vpc.region + ")";
    }
    check.ok(named + ": private, associated with " + std::to_string(zone->vpcs.size()) +
             (zone->vpcs.size() == 1 ? " VPC: " : " VPCs: ") + vpcs +
             "; instances in other VPCs get no record");
    if (use.reverse) {
      for (const auto& type : use.reverseTypes) {
        const std::string suffix = type == "A" ? "in-addr.arpa." : "ip6.arpa.";
        if (!zone->name.ends_with(suffix)) {
          check.warn(named + ": is named as a reverse zone for " + type +
                     " records but is not under " + suffix +
                     ": no PTR record can be written to it");
        }
      }
    }
  }
}

void checkEventsQueue(Checklist& check, AwsSetup& aws, const std::string& url,
                      std::chrono::milliseconds timeout) {
  checkEndpoint(check, *aws.sqsTransport, "sqs", aws.sqsEndpoint, aws.config.region, timeout);
  auto attributes = aws.sqs->getQueueAttributes(url, {"QueueArn", "ApproximateNumberOfMessages"});
  if (attributes) {
    check.ok("events queue " + (*attributes)["QueueArn"] + ": " +
             (*attributes)["ApproximateNumberOfMessages"] + " messages waiting");
  } else {
    check.fail(
        "events queue " + url + ": " + attributes.error().toString(),
        attributes.error().code == "AWS.SimpleQueueService.NonExistentQueue"
            ? "check the queue URL (and that the queue is in this account and region)"
            : readHint(attributes.error(), "sqs:GetQueueAttributes", "sqs", aws.config.region));
  }
}

int runDoctor(CliContext& ctx, DoctorFlags& flags) {
  Checklist check(ctx.out);
  core::RealClock clock;
  runtime::StreamLogger log(ctx.err, clock, runtime::LogFormat::kText, core::LogLevel::kError);
  const auto timeout = std::chrono::milliseconds(static_cast<long>(flags.timeoutSeconds * 1000));
  flags.aws.attemptTimeout = timeout;
  flags.aws.maxAttempts = 1;

  api::ManifestSet manifests;
  if (!flags.manifests.empty()) {
    std::vector<std::filesystem::path> paths(flags.manifests.begin(), flags.manifests.end());
    manifests = api::loadManifests(paths);
    if (manifests.errors.empty()) {
      std::string counted =
          std::to_string(manifests.targetGroupBindings.size()) + " target group bindings";
      if (!manifests.dnsRecordBindings.empty()) {
        counted +=
            " and " + std::to_string(manifests.dnsRecordBindings.size()) + " DNS record bindings";
      }
      check.ok("manifests: " + counted + " valid");
    } else {
      for (const auto& e : manifests.errors) check.fail("manifest: " + e.toString());
    }
  }

  auto setup = buildAwsSetup(flags.aws, clock, log, nullptr);
  if (!setup) {
    check.fail("AWS configuration: " + setup.error().message);
    return kExitFailure;
  }
  auto& aws = **setup;
  check.ok("region " + aws.config.region + " (from " + aws.config.regionSource + ")");

  auto credentials = aws.credentials->credentials();
  if (credentials) {
    check.ok("credentials from the " + credentials->providerName + " provider (access key " +
             credentials->accessKeyId.substr(0, 4) + "…)");
  } else {
    check.fail("credentials: " + credentials.error().message,
               "on ECS give the task a task role; elsewhere set AWS_PROFILE or AWS_ACCESS_KEY_ID");
  }

  checkEndpoint(check, *aws.transport, "sts", aws.stsEndpoint, aws.config.region, timeout);
  checkEndpoint(check, *aws.transport, "elasticloadbalancing", aws.elbv2Endpoint, aws.config.region,
                timeout);

  if (credentials) {
    auto sts = aws::stsServiceOptions(aws.stsEndpoint.signingRegion, aws.stsEndpoint.url,
                                      aws::RetryOptions{.maxAttempts = 1});
    sts.attemptTimeout = timeout;
    sts.rateLimitWait = std::chrono::milliseconds(1000);
    aws::QueryClient stsClient(sts, *aws.transport, *aws.credentials, clock);
    auto identity = stsClient.call("GetCallerIdentity", {});
    if (identity) {
      pugi::xml_document doc;
      std::string arn = "?";
      if (doc.load_string(identity->body.c_str())) {
        arn = doc.select_node("//*[local-name()='Arn']").node().text().as_string("?");
      }
      check.ok("sts:GetCallerIdentity: " + arn);
    } else {
      check.fail("sts:GetCallerIdentity: " + identity.error().toString(),
                 identity.error().kind == core::ErrorKind::kAuth
                     ? "the credentials are not accepted (expired, wrong secret, or no permission)"
                     : reachHint(identity.error(), "sts", aws.config.region));
    }
  }

  dns::AresResolverOptions resolverOptions;
  for (const auto& text : flags.dnsServers) {
    auto server = dns::parseServerAddress(text);
    if (!server) {
      check.fail("--dns-server " + text + ": " + server.error().message);
      return kExitFailure;
    }
    resolverOptions.servers.push_back(*server);
  }
  resolverOptions.timeout = timeout / 2;
  resolverOptions.deadline = timeout;
  auto resolver = dns::AresResolver::create(resolverOptions, clock);

  for (const auto& warning : api::manifestWarnings(manifests)) check.warn(warning.toString());
  std::set<std::string> hostnames;
  for (const auto& b : manifests.targetGroupBindings) {
    if (const auto* dns = std::get_if<api::DnsSource>(&b.spec.source)) {
      if (!hostnames.insert(dns->hostname).second) continue;
      if (!resolver) {
        check.fail("DNS resolver: " + resolver.error().message);
        break;
      }
      auto outcome = (*resolver)->resolve(dns->hostname, dns::AddressFamilies{dns->ipv4, dns->ipv6},
                                          std::stop_token{});
      if (outcome.ok()) {
        check.ok("DNS " + dns->hostname + ": " + std::to_string(outcome.answer.addresses.size()) +
                 " addresses, TTL " + std::to_string(outcome.answer.ttl.count()) + "s");
      } else {
        check.fail("DNS " + dns->hostname + ": " + dns::resolveStatusName(outcome.status) + " " +
                       outcome.message,
                   "the controller keeps the last good answer, but never had one for this name");
      }
    }
  }

  checkInstanceSources(check, aws, manifests, timeout);
  if (!flags.eventsQueueUrl.empty()) checkEventsQueue(check, aws, flags.eventsQueueUrl, timeout);
  if (!manifests.dnsRecordBindings.empty()) {
    auto route53 = aws.route53();
    if (!route53) {
      check.fail("Route 53 client: " + route53.error().message);
    } else {
      checkEndpoint(check, *aws.transport, "route53", aws.route53Endpoint(), aws.config.region,
                    timeout);
      checkHostedZones(check, aws, **route53, manifests);
    }
  }

  for (const auto& b : manifests.targetGroupBindings) {
    const auto& arn = b.spec.targetGroupArn.text;
    const auto who = "target group " + b.spec.targetGroupArn.name + " (" + b.metadata.key() + ")";
    // A group of another account is checked through the binding's role, as the controller
    // reaches it.
    auto access =
        runtime::groupAccessFor(*aws.elbv2, aws.accounts.get(), flags.controllerId, b.spec);
    if (!access) {
      // The role's session is had (or refused) here, before any ELBv2 call through it.
      check.fail(who + ": " + access.error().toString(),
                 access.error().code == "AccessDenied"
                     ? "the role's trust policy must name this controller's role (and the "
                       "externalId, when set), and the task role needs sts:AssumeRole on it: "
                       "see `endpoint-binder iam-policy`"
                     : "");
      continue;
    }
    aws::TargetGroupApi& elbv2 = *access->api;
    auto groups = elbv2.describeTargetGroups({arn});
    if (!groups || groups->empty()) {
      const auto error = groups ? std::string("not found") : groups.error().toString();
      check.fail(who + ": " + error,
                 groups && groups->empty()
                     ? "check the ARN, the account and the region"
                     : (groups.error().kind == core::ErrorKind::kNotFound
                            ? "check the ARN, the account and the region"
                            : "the role needs elasticloadbalancing:DescribeTargetGroups"));
      continue;
    }
    if (b.spec.assumeRole) check.ok(who + ": reached as " + b.spec.assumeRole->role.text);
    const auto& info = groups->front();
    const std::string want = b.spec.targetType == api::TargetType::kIp ? "ip" : "instance";
    if (info.targetType != want) {
      check.fail(who + ": TargetType is " + info.targetType + ", the binding says " + want);
      continue;
    }
    check.ok(who + ": exists, TargetType " + info.targetType + ", port " +
             std::to_string(b.spec.port.value_or(info.port)));
    auto tags = elbv2.describeTags({arn});
    if (!tags) {
      check.fail(who + ": DescribeTags: " + tags.error().toString(),
                 "the task role needs elasticloadbalancing:DescribeTags");
    } else {
      const auto& groupTags = (*tags)[arn];
      auto owner = groupTags.find(runtime::kOwnerTagKey);
      const auto mine = access->ownerValue(b.metadata.key());
      if (owner == groupTags.end()) {
        check.ok(who + ": not claimed yet (the controller will tag it " + runtime::kOwnerTagKey +
                 "=" + mine + ")");
      } else if (owner->second == mine) {
        check.ok(who + ": owned by this binding");
      } else {
        check.fail(who + ": owned by " + owner->second,
                   "another controller or binding owns it; the controller will not write to it");
      }
    }
    auto health = elbv2.describeTargetHealth(arn);
    if (health) {
      check.ok(who + ": DescribeTargetHealth allowed (" + std::to_string(health->size()) +
               " targets)");
    } else {
      check.fail(who + ": DescribeTargetHealth: " + health.error().toString(),
                 "the task role needs elasticloadbalancing:DescribeTargetHealth");
    }
  }
  for (const auto& line :
       checkNotifications(manifests, aws, flags.notifyCaBundle, timeout, clock, log)) {
    if (line.kind == DoctorLine::Kind::kOk) check.ok(line.what);
    if (line.kind == DoctorLine::Kind::kWarn) check.warn(line.what);
    if (line.kind == DoctorLine::Kind::kFail) check.fail(line.what, line.hint);
  }
  ctx.out << (check.failures() == 0 ? "all checks passed\n"
                                    : std::to_string(check.failures()) + " checks failed\n");
  return check.failures() == 0 ? kExitOk : kExitFailure;
}

}  // namespace

void registerDoctorCommand(CLI::App& app, CliContext& ctx) {
  auto flags = std::make_shared<DoctorFlags>();
  auto* cmd = app.add_subcommand(
      "doctor",
      "Check region, credentials, AWS endpoints, DNS and target groups (exit 1 on failure)");
  cmd->add_option("--manifests,PATH", flags->manifests, "Manifest files or directories")
      ->envname("ENDPOINT_BINDER_MANIFESTS")
      ->delimiter(',');
  cmd->add_option("--dns-server", flags->dnsServers, "DNS server HOST[:PORT] (repeatable)")
      ->envname("ENDPOINT_BINDER_DNS_SERVER")
      ->delimiter(',');
  cmd->add_option("--controller-id", flags->controllerId, "Owner id the controller writes")
      ->check(runtime::controllerIdProblem)
      ->envname("ENDPOINT_BINDER_CONTROLLER_ID")
      ->capture_default_str();
  cmd->add_option("--timeout", flags->timeoutSeconds, "Seconds per check")->capture_default_str();
  cmd->add_option("--events-queue-url", flags->eventsQueueUrl,
                  "The events queue `run` reads: check SQS is reachable and the queue readable")
      ->envname("ENDPOINT_BINDER_EVENTS_QUEUE_URL");
  cmd->add_option("--aws-region", flags->aws.region, "AWS Region")
      ->envname("ENDPOINT_BINDER_AWS_REGION");
  cmd->add_option("--aws-endpoint-url", flags->aws.endpointUrl,
                  "Endpoint URL for every AWS service")
      ->envname("ENDPOINT_BINDER_AWS_ENDPOINT_URL");
  cmd->add_option("--notify-ca-bundle", flags->notifyCaBundle,
                  "PEM CA bundle for notification HTTPS (default: AWS_CA_BUNDLE, else the system "
                  "store)")
      ->envname("ENDPOINT_BINDER_NOTIFY_CA_BUNDLE");
  cmd->callback([&ctx, flags] { ctx.exitCode = runDoctor(ctx, *flags); });
}

}  // namespace endpointbinder::cli
