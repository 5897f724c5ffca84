// `plan`: one shot, read-only. Resolves every binding's source (DNS, static, or instances
// through one inventory round shared by all bindings), reads its target group or hosted zone
// and prints what the controller would do, like a diff:
//   + registered / written now   - deregistered / deleted once absent for the grace period
//   ! held back (and why)        = unchanged
// Exit 0 when nothing would change, 2 when something would, 1 on any error.
#include <iostream>
#include <set>
#include <stop_token>

#include "api/decode.h"
#include "api/syntax.h"
#include "controller/core/endpoint_tracker.h"
#include "controller/core/planner.h"
#include "controller/core/record_plan.h"
#include "controller/dns/ares_resolver.h"
#include "controller/main/aws_setup.h"
#include "controller/main/cli.h"
#include "controller/runtime/instance_inventory.h"
#include "controller/runtime/json_logger.h"
#include "controller/runtime/reconciler.h"
#include "controller/runtime/record_reconciler.h"

namespace endpointbinder::cli {

namespace {

constexpr int kExitChanges = 2;

struct PlanFlags {
  std::vector<std::string> manifests;
  std::vector<std::string> dnsServers;
  std::string controllerId = "endpoint-binder";
  AwsFlags aws;
};

struct SourceListing {
  std::vector<std::string> ids;
  std::string error;  // empty when the source answered
};

SourceListing listSource(const api::TargetGroupBinding& binding, dns::Resolver& resolver,
                         runtime::InstanceInventory& inventory, const std::string& ipAddressType) {
  SourceListing out;
  if (const auto* fixed = std::get_if<api::StaticSource>(&binding.spec.source)) {
    for (const auto& a : fixed->addresses) out.ids.push_back(a.toString());
    return out;
  }
  if (runtime::isInstanceSource(binding.spec.source)) {
    const auto kind = binding.spec.targetType == api::TargetType::kInstance
                          ? runtime::InstanceIdKind::kInstanceId
                      : ipAddressType == "ipv6" ? runtime::InstanceIdKind::kIpv6
                                                : runtime::InstanceIdKind::kIpv4;
    auto view = inventory.view(binding.metadata.key(), kind,
                               api::deregistersOnSpotInterruption(binding.spec));
    if (!view || !view->hasAnswer || view->failing) {
      out.error = view && !view->failureReason.empty() ? view->failureReason : "no listing";
      return out;
    }
    out.ids = view->ids;
    return out;
  }
  const auto* source = std::get_if<api::DnsSource>(&binding.spec.source);
  if (source == nullptr) {
    out.error = std::string("source kind ") + api::sourceKindName(binding.spec.source) +
                " is not implemented in this version";
    return out;
  }
  std::set<std::string> ids;
  std::string lastError;
  for (int i = 0; i < source->lookupsPerRefresh; ++i) {
    auto outcome = resolver.resolve(
        source->hostname, dns::AddressFamilies{source->ipv4, source->ipv6}, std::stop_token{});
    if (!outcome.ok()) {
      lastError = std::string(dns::resolveStatusName(outcome.status)) + ": " + outcome.message;
      continue;
    }
    for (const auto& a : outcome.answer.addresses) ids.insert(a.toString());
  }
  if (ids.empty()) out.error = lastError.empty() ? "empty answer" : lastError;
  out.ids.assign(ids.begin(), ids.end());
  return out;
}

// Plans one binding; prints it; returns kExitOk, kExitChanges or kExitFailure.
int planBinding(CliContext& ctx, const api::TargetGroupBinding& binding, aws::TargetGroupApi& home,
                aws::AccountApis& accounts, dns::Resolver& resolver,
                runtime::InstanceInventory& inventory, const std::string& controllerId) {
  const auto& spec = binding.spec;
  const auto key = binding.metadata.key();
  ctx.out << "TargetGroupBinding " << key << " -> " << spec.targetGroupArn.name << " ("
          << spec.targetGroupArn.text << ")\n";
  // The group's account: the role's credentials and the claim the controller would write there.
  auto access = runtime::groupAccessFor(home, &accounts, controllerId, spec);
  if (!access) {
    ctx.out << "  error: " << access.error().toString() << "\n\n";
    return kExitFailure;
  }
  if (spec.assumeRole) ctx.out << "  as role " << spec.assumeRole->role.text << "\n";
  aws::TargetGroupApi& api = *access->api;
  auto groups = api.describeTargetGroups({spec.targetGroupArn.text});
  if (!groups || groups->empty()) {
    ctx.out << "  error: " << (groups ? "target group not found" : groups.error().toString())
            << "\n\n";
    return kExitFailure;
  }
  const int port = spec.port.value_or(groups->front().port);
  auto tags = api.describeTags({spec.targetGroupArn.text});
  if (tags) {
    const auto& groupTags = (*tags)[spec.targetGroupArn.text];
    auto owner = groupTags.find(runtime::kOwnerTagKey);
    const auto mine = access->ownerValue(key);
    if (owner != groupTags.end() && owner->second != mine) {
      ctx.out << "  conflict: the target group is owned by " << owner->second
              << "; the controller will not write to it\n\n";
      return kExitFailure;
    }
  }
  auto observed = api.describeTargetHealth(spec.targetGroupArn.text);
  if (!observed) {
    ctx.out << "  error: " << observed.error().toString() << "\n\n";
    return kExitFailure;
  }
  const auto listing = listSource(binding, resolver, inventory, groups->front().ipAddressType);
  ctx.out << "  source " << api::sourceKindName(spec.source) << ": ";
  if (listing.error.empty()) {
    ctx.out << listing.ids.size()
            << (spec.targetType == api::TargetType::kInstance ? " instances\n" : " addresses\n");
  } else {
    ctx.out << "FAILING (" << listing.error << "): deregistrations would be frozen\n";
  }

  // A one-shot plan has no memory: everything registered counts as seen now, so absent
  // targets show as pending deregistration after the grace period, as the controller would.
  const auto now = core::MonoTime{} + std::chrono::hours(24);
  core::EndpointTracker tracker;
  std::vector<core::Target> desired;
  for (const auto& id : listing.ids) desired.push_back({id, port, spec.availabilityZone});
  if (listing.error.empty())
    tracker.recordListing(desired, now);
  else
    tracker.recordSourceFailure(listing.error, now);
  tracker.recordObserved(*observed, now);
  const auto plan =
      core::computePlan({desired, !listing.error.empty()}, *observed, tracker, spec.policy, now);
  int pending = 0;
  for (const auto& t : plan.toRegister) ctx.out << "  + " << t.key() << "\n";
  for (const auto& t : plan.toDeregister) ctx.out << "  - " << t.key() << "\n";
  for (const auto& h : plan.held) {
    if (h.reason == core::HoldReason::kWithinGracePeriod) {
      ctx.out << "  - " << h.target.key() << "  (after "
              << api::formatDuration(spec.policy.deregistrationGracePeriod)
              << " grace if still absent)\n";
      ++pending;
    } else {
      ctx.out << "  ! " << h.target.key() << "  held: " << core::holdReasonName(h.reason) << ": "
              << h.message << "\n";
    }
  }
  std::set<std::string> changed;
  for (const auto& t : plan.toRegister) changed.insert(t.key());
  for (const auto& t : plan.toDeregister) changed.insert(t.key());
  for (const auto& h : plan.held) changed.insert(h.target.key());
  int unchanged = 0;
  for (const auto& o : *observed) {
    if (core::isRegistered(o) && !changed.count(o.target.key())) ++unchanged;
  }
  ctx.out << "  = " << unchanged << " registered targets unchanged\n\n";
  return plan.hasWrites() || pending > 0 ? kExitChanges : kExitOk;
}

// Plans one zone of a record binding: prints the changes; returns whether any would be made.
bool planZone(CliContext& ctx, const aws::HostedZoneInfo& zone, const std::string& type,
              const std::vector<core::RecordCandidate>& candidates,
              const runtime::InventoryView& view, const api::DnsRecordBinding& binding,
              aws::Route53Api& route53, const std::string& controllerId, bool& failed,
              std::vector<core::RecordConflict>* conflicts = nullptr) {
  auto sets = route53.listResourceRecordSets(zone.id);
  if (!sets) {
    ctx.out << "  error: ListResourceRecordSets " << zone.id << ": " << sets.error().toString()
            << "\n";
    failed = true;
    return false;
  }
  core::RecordPlanInput in;
  in.zoneName = zone.name;
  in.type = type;
  in.ttl = binding.spec.record.ttl;
  in.controllerId = controllerId;
  in.binding = binding.metadata.key();
  in.candidates = candidates;
  for (const auto& l : view.leaving) in.leaving.insert(l.id);
  in.sourceUsable = view.hasAnswer && !view.failing;
  in.prune = binding.spec.policy.prune;
  in.grace = binding.spec.policy.deregistrationGracePeriod;
  in.minRecords = binding.spec.policy.minRecords;
  in.maxDeletions = 1 << 30;  // a one-shot plan shows every deletion; the cap paces them
  for (const auto& set : *sets) {
    in.zone.push_back({set.name, set.type, set.ttl, set.values, set.special});
  }
  // A one-shot plan has no memory: unwanted records show as deleted after the grace period.
  in.now = core::MonoTime{} + std::chrono::hours(24);
  const auto plan = core::planRecords(in, {});
  if (conflicts) *conflicts = plan.conflicts;
  for (const auto& c : plan.changes) {
    if (c.set.type == "TXT" && c.set.name.starts_with("_eb-")) continue;  // companions
    ctx.out << "  " << (c.action == core::RecordAction::kDelete ? "- " : "+ ")
            << core::recordActionName(c.action) << " " << c.set.name << " " << c.set.type << " "
            << (c.set.values.empty() ? "" : c.set.values.front()) << "\n";
  }
  int pending = 0;
  for (const auto& h : plan.held) {
    if (h.hold == core::RecordHold::kWithinGracePeriod) {
      ctx.out << "  - DELETE " << h.name << " " << type << "  (after "
              << api::formatDuration(binding.spec.policy.deregistrationGracePeriod)
              << " grace if still unwanted)\n";
      ++pending;
    } else {
      ctx.out << "  ! " << h.name << "  held: " << core::recordHoldName(h.hold) << "\n";
    }
  }
  for (const auto& c : plan.conflicts) {
    ctx.out << "  ! " << c.name << " for " << c.instanceId << ": "
            << core::recordConflictReasonName(c.reason) << " (" << c.detail << ")\n";
  }
  ctx.out << "  = " << plan.present << " " << type << " records unchanged\n";
  return !plan.changes.empty() || pending > 0;
}

int planRecordBinding(CliContext& ctx, const api::DnsRecordBinding& binding,
                      aws::Route53Api* route53, runtime::InstanceInventory& inventory,
                      const std::string& controllerId) {
  const auto& spec = binding.spec;
  ctx.out << "DNSRecordBinding " << binding.metadata.key() << " -> hosted zone "
          << spec.hostedZoneId << "\n";
  if (!route53) {
    ctx.out << "  error: no Route 53 client\n\n";
    return kExitFailure;
  }
  auto zone = route53->getHostedZone(spec.hostedZoneId);
  if (!zone) {
    ctx.out << "  error: GetHostedZone: " << zone.error().toString() << "\n\n";
    return kExitFailure;
  }
  if (!zone->privateZone) {
    ctx.out << "  error: " << zone->name << " is a public zone; DNSRecordBindings write private "
            << "zones only\n\n";
    return kExitFailure;
  }
  auto listing = inventory.instances(runtime::recordKey(binding.metadata.key()), false);
  ctx.out << "  source " << api::sourceKindName(spec.source) << ": ";
  if (!listing || !listing->view.hasAnswer || listing->view.failing) {
    ctx.out << "FAILING ("
            << (listing && !listing->view.failureReason.empty() ? listing->view.failureReason
                                                                : "no listing")
            << "): deletions would be frozen\n";
  } else {
    ctx.out << listing->instances.size() << " instances\n";
  }
  const runtime::InventoryInstances none;
  const auto& have = listing ? *listing : none;
  const auto forward = runtime::recordCandidates(binding, *zone, have.instances);
  for (const auto& id : forward.unnamed) ctx.out << "  ! " << id << ": no usable name\n";
  for (const auto& id : forward.noAddress) ctx.out << "  ! " << id << ": no address\n";
  for (const auto& [vpc, ids] : forward.otherVpc) {
    ctx.out << "  ! " << ids.size() << " instances in " << vpc << ": zone not associated\n";
  }
  bool failed = false;
  std::vector<core::RecordConflict> conflicts;
  bool changes = planZone(ctx, *zone, runtime::recordTypeName(binding), forward.candidates,
                          have.view, binding, *route53, controllerId, failed, &conflicts);
  if (spec.reverseHostedZoneId) {
    auto reverse = route53->getHostedZone(*spec.reverseHostedZoneId);
    if (!reverse) {
      ctx.out << "  error: GetHostedZone " << *spec.reverseHostedZoneId << ": "
              << reverse.error().toString() << "\n";
      failed = true;
    } else {
      changes |= planZone(ctx, *reverse, "PTR",
                          runtime::reverseCandidates(forward.candidates, conflicts, reverse->name),
                          have.view, binding, *route53, controllerId, failed);
    }
  }
  ctx.out << "\n";
  if (failed) return kExitFailure;
  return changes ? kExitChanges : kExitOk;
}

}  // namespace

void registerPlanCommand(CLI::App& app, CliContext& ctx) {
  auto flags = std::make_shared<PlanFlags>();
  auto* cmd = app.add_subcommand(
      "plan", "Show what the controller would change (read-only; exit 0 none, 2 changes, 1 error)");
  cmd->add_option("--manifests,PATH", flags->manifests, "Manifest files or directories")
      ->envname("ENDPOINT_BINDER_MANIFESTS")
      ->delimiter(',')
      ->required();
  cmd->add_option("--dns-server", flags->dnsServers, "DNS server HOST[:PORT] (repeatable)")
      ->envname("ENDPOINT_BINDER_DNS_SERVER")
      ->delimiter(',');
  cmd->add_option("--controller-id", flags->controllerId, "Owner id the controller writes")
      ->check(runtime::controllerIdProblem)
      ->envname("ENDPOINT_BINDER_CONTROLLER_ID")
      ->capture_default_str();
  cmd->add_option("--aws-region", flags->aws.region, "AWS Region")
      ->envname("ENDPOINT_BINDER_AWS_REGION");
  cmd->add_option("--aws-endpoint-url", flags->aws.endpointUrl,
                  "Endpoint URL for every AWS service")
      ->envname("ENDPOINT_BINDER_AWS_ENDPOINT_URL");
  cmd->callback([&ctx, flags] {
    std::vector<std::filesystem::path> paths(flags->manifests.begin(), flags->manifests.end());
    auto set = api::loadManifests(paths);
    for (const auto& e : set.errors) ctx.err << e.toString() << "\n";
    core::RealClock clock;
    runtime::StreamLogger log(std::cerr, clock, runtime::LogFormat::kText, core::LogLevel::kWarn);
    auto aws = buildAwsSetup(flags->aws, clock, log, nullptr);
    if (!aws) {
      ctx.err << "error: " << aws.error().message << "\n";
      ctx.exitCode = kExitFailure;
      return;
    }
    dns::AresResolverOptions options;
    for (const auto& text : flags->dnsServers) {
      auto server = dns::parseServerAddress(text);
      if (!server) {
        ctx.err << "error: --dns-server: " << server.error().message << "\n";
        ctx.exitCode = kExitUsage;
        return;
      }
      options.servers.push_back(*server);
    }
    auto resolver = dns::AresResolver::create(options, clock);
    if (!resolver) {
      ctx.err << "error: " << resolver.error().message << "\n";
      ctx.exitCode = kExitFailure;
      return;
    }
    // Instance sources: one inventory round for every binding, as the controller reads them.
    runtime::InstanceInventory inventory(runtime::InstanceInventory::Deps{
        *(*aws)->ec2, *(*aws)->autoScaling, clock, log, [](const std::vector<std::string>&) {}});
    bool anyInstances = false;
    for (const auto& binding : set.targetGroupBindings) {
      if (!runtime::isInstanceSource(binding.spec.source)) continue;
      inventory.subscribe(binding.metadata.key(), binding.spec.source);
      anyInstances = true;
    }
    for (const auto& binding : set.dnsRecordBindings) {
      inventory.subscribe(runtime::recordKey(binding.metadata.key()), binding.spec.source);
      anyInstances = true;
    }
    if (anyInstances) inventory.refreshDue(true);
    aws::Route53Api* route53 = nullptr;
    if (!set.dnsRecordBindings.empty()) {
      auto client = (*aws)->route53();
      if (client) {
        route53 = *client;
      } else {
        ctx.err << "error: Route 53: " << client.error().toString() << "\n";
      }
    }
    int result = set.errors.empty() ? kExitOk : kExitFailure;
    auto merge = [&](int r) {
      if (r == kExitFailure || (r == kExitChanges && result == kExitOk)) result = r;
    };
    for (const auto& binding : set.targetGroupBindings) {
      merge(planBinding(ctx, binding, *(*aws)->elbv2, *(*aws)->accounts, **resolver, inventory,
                        flags->controllerId));
    }
    for (const auto& binding : set.dnsRecordBindings) {
      merge(planRecordBinding(ctx, binding, route53, inventory, flags->controllerId));
    }
    ctx.exitCode = result;
  });
}

}  // namespace endpointbinder::cli
