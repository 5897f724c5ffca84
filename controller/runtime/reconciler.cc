#include "controller/runtime/reconciler.h"

#include <algorithm>
#include <set>

#include "api/spec_json.h"
#include "controller/core/planner.h"
#include "controller/runtime/metrics.h"

namespace endpointbinder::runtime {

namespace {

using core::LogLevel;
using std::chrono::duration_cast;
using std::chrono::nanoseconds;

// After a write, look at the group again soon so health and counts in status catch up,
// instead of waiting for the next resync.
constexpr auto kRefreshAfterWrite = std::chrono::seconds(10);
// With unhealthyGracePeriod set, health must be read often enough to act on it in time.
constexpr auto kMinHealthRefresh = std::chrono::seconds(2);
// Pause between the batches of a plan capped by maxDeregistrationsPerSync.
constexpr auto kNextBatchDelay = std::chrono::seconds(1);

std::string joinKeys(const std::vector<core::Target>& targets, size_t limit = 10) {
  std::string out;
  for (size_t i = 0; i < targets.size() && i < limit; ++i) {
    if (i) out += ", ";
    out += targets[i].key();
  }
  if (targets.size() > limit) out += ", … (" + std::to_string(targets.size() - limit) + " more)";
  return out;
}

const char* targetTypeName(api::TargetType type) {
  return type == api::TargetType::kIp ? "ip" : "instance";
}

Condition makeCondition(std::string type, ConditionStatus status, std::string reason,
                        std::string message, core::WallTime now) {
  return Condition{std::move(type), status, std::move(reason), std::move(message), now};
}

TargetCounts countTargets(const std::vector<core::Target>& desired,
                          const std::vector<core::ObservedTarget>& observed) {
  TargetCounts counts;
  std::set<std::string> desiredKeys;
  for (const auto& t : desired) desiredKeys.insert(t.key());
  counts.desired = static_cast<int>(desiredKeys.size());
  std::set<std::string> registeredKeys;
  for (const auto& o : observed) {
    switch (o.state) {
      case core::TargetState::kHealthy:
        ++counts.healthy;
        break;
      case core::TargetState::kUnhealthy:
        ++counts.unhealthy;
        break;
      case core::TargetState::kInitial:
        ++counts.initial;
        break;
      case core::TargetState::kDraining:
      case core::TargetState::kUnhealthyDraining:
        ++counts.draining;
        break;
      default:
        break;
    }
    if (core::isRegistered(o)) registeredKeys.insert(o.target.key());
  }
  counts.registered = static_cast<int>(registeredKeys.size());
  for (const auto& k : desiredKeys) counts.missing += registeredKeys.count(k) ? 0 : 1;
  for (const auto& k : registeredKeys) counts.unexpected += desiredKeys.count(k) ? 0 : 1;
  return counts;
}

}  // namespace

Reconciler::Reconciler(Deps deps, ReconcilerOptions options)
    : deps_(std::move(deps)), options_(std::move(options)) {}

std::string Reconciler::ownerValue(const std::string& key) const {
  return options_.controllerId + "/" + key;
}

Reconciler::BindingState& Reconciler::stateFor(const std::string& key) {
  std::lock_guard lock(mu_);
  auto& slot = states_[key];
  if (!slot) slot = std::make_unique<BindingState>();
  return *slot;
}

core::Result<ReconcileResult> Reconciler::reconcile(const std::string& key) {
  auto desired = deps_.desired(key);
  if (!desired) return reconcileDeleted(key);

  const auto& binding = desired->binding;
  const auto& spec = binding.spec;
  const auto& arn = spec.targetGroupArn.text;
  auto& state = stateFor(key);
  state.lastSpec = binding;
  const auto now = deps_.clock.now();
  const auto wallNow = deps_.clock.wallNow();

  deps_.status.update(key, [&](BindingStatus& s) {
    if (s.name.empty()) s.creationTime = wallNow;
    s.ns = binding.metadata.ns;
    s.name = binding.metadata.name;
    s.generation = binding.generation;
    s.targetGroupArn = arn;
    if (s.specJson.empty() || s.generation != s.observedGeneration) {
      s.specJson = api::specToJson(spec);
    }
    s.lastAttemptTime = wallNow;
    if (desired->stale) {
      StatusStore::addEvent(s, Event{wallNow, EventType::kWarning, "InvalidManifest",
                                     "keeping the last good spec: " + desired->staleReason});
    }
  });

  auto verified = verifyTargetGroup(key, *desired, state);
  if (!verified) {
    recordFailure(key, binding.generation, verified.error());
    return std::unexpected(verified.error());
  }
  if (!*verified) {
    return ReconcileResult{};  // Conflict: nothing to do until the next resync looks again
  }
  const int port = spec.port.value_or(state.targetGroupPort);

  // Source: the last good listing, and whether it can be trusted right now.
  const auto source = deps_.sources.snapshot(binding);
  std::vector<core::Target> desiredTargets;
  desiredTargets.reserve(source.ids.size());
  for (const auto& id : source.ids) {
    desiredTargets.push_back(core::Target{id, port, spec.availabilityZone});
  }
  const bool sourceFailing = source.failing || !source.hasAnswer;
  if (!sourceFailing) {
    const auto seenAt = source.lastSuccess == core::MonoTime{} ? now : source.lastSuccess;
    for (const auto& departed : source.departed) {
      state.tracker.recordListedUntil(core::Target{departed.id, port, spec.availabilityZone},
                                      departed.goneSince);
    }
    state.tracker.recordListing(desiredTargets, seenAt);
  } else {
    state.tracker.recordSourceFailure(
        source.failureReason.empty() ? "no answer yet" : source.failureReason,
        source.failingSince.value_or(now));
  }

  // Observed: cached unless stale for this binding's needs.
  auto maxAge = options_.resyncPeriod;
  if (spec.policy.unhealthyGracePeriod > api::Duration::zero()) {
    maxAge = std::min<nanoseconds>(
        maxAge, std::max<nanoseconds>(kMinHealthRefresh, spec.policy.unhealthyGracePeriod / 2));
  }
  const bool refreshDue = state.refreshDueAt && now >= *state.refreshDueAt;
  auto observed = deps_.observed.targets(arn, refreshDue, maxAge);
  if (!observed) {
    recordFailure(key, binding.generation, observed.error());
    return std::unexpected(observed.error());
  }
  if (refreshDue) state.refreshDueAt.reset();
  state.tracker.recordObserved(observed->targets, now);

  const core::DesiredTargets desiredState{desiredTargets, sourceFailing};
  auto plan = core::computePlan(desiredState, observed->targets, state.tracker, spec.policy, now);

  // Never write from a cached picture: re-read and plan again first.
  if (plan.hasWrites() && !options_.dryRun && observed->fromCache) {
    observed = deps_.observed.targets(arn, /*forceRefresh=*/true);
    if (!observed) {
      recordFailure(key, binding.generation, observed.error());
      return std::unexpected(observed.error());
    }
    state.tracker.recordObserved(observed->targets, now);
    plan = core::computePlan(desiredState, observed->targets, state.tracker, spec.policy, now);
  }

  bool applied = false;
  if (plan.hasWrites() && !options_.dryRun) {
    if (!plan.toRegister.empty()) {
      auto r = deps_.api.registerTargets(arn, plan.toRegister);
      if (!r) {
        deps_.observed.invalidate(arn);
        recordFailure(key, binding.generation, r.error());
        return std::unexpected(r.error());
      }
      deps_.observed.expectRegistered(arn, plan.toRegister);
      deps_.log.log(LogLevel::kInfo, "registered targets",
                    {core::field("binding", key), core::field("targetGroup", arn),
                     core::field("count", static_cast<long long>(plan.toRegister.size())),
                     core::field("targets", joinKeys(plan.toRegister))});
    }
    if (!plan.toDeregister.empty()) {
      auto r = deps_.api.deregisterTargets(arn, plan.toDeregister);
      if (!r) {
        deps_.observed.invalidate(arn);
        recordFailure(key, binding.generation, r.error());
        return std::unexpected(r.error());
      }
      deps_.observed.expectDeregistered(arn, plan.toDeregister);
      deps_.log.log(LogLevel::kInfo, "deregistered targets",
                    {core::field("binding", key), core::field("targetGroup", arn),
                     core::field("count", static_cast<long long>(plan.toDeregister.size())),
                     core::field("targets", joinKeys(plan.toDeregister))});
    }
    applied = true;
    state.refreshDueAt = now + kRefreshAfterWrite;
    if (auto after = deps_.observed.targets(arn); after) observed = std::move(after);
  }

  // Status, events and metrics describe the group as it now stands (expectations applied).
  const auto counts = countTargets(desiredTargets, observed->targets);
  std::map<core::HoldReason, int> heldByReason;
  for (const auto& h : plan.held) ++heldByReason[h.reason];

  deps_.status.update(key, [&](BindingStatus& s) {
    s.counts = counts;
    s.observedGeneration = binding.generation;
    s.lastSyncTime = wallNow;
    s.lastError.clear();
    PlanSummary summary;
    for (const auto& t : plan.toRegister) summary.toRegister.push_back(t.key());
    for (const auto& t : plan.toDeregister) summary.toDeregister.push_back(t.key());
    for (const auto& h : plan.held) {
      summary.held.push_back(h.target.key() + ": " + core::holdReasonName(h.reason) + ": " +
                             h.message);
    }
    summary.applied = applied;
    summary.time = wallNow;
    if (plan.hasWrites() || !plan.held.empty() || !s.lastPlan) s.lastPlan = std::move(summary);

    if (sourceFailing) {
      StatusStore::setCondition(
          s, makeCondition("SourceResolved", ConditionStatus::kFalse, "SourceFailing",
                           state.tracker.sourceFailureReason() +
                               "; deregistrations are frozen, last good answer kept",
                           wallNow));
    } else {
      StatusStore::setCondition(
          s, makeCondition("SourceResolved", ConditionStatus::kTrue, "Resolved",
                           std::string(api::sourceKindName(spec.source)) + " source lists " +
                               std::to_string(counts.desired) + " targets",
                           wallNow));
    }
    StatusStore::setCondition(
        s, makeCondition("Synced", ConditionStatus::kTrue, options_.dryRun ? "DryRun" : "Synced",
                         options_.dryRun ? "planned without writing (--dry-run)"
                                         : "target group matches the plan",
                         wallNow));
    StatusStore::setCondition(s, makeCondition("Conflict", ConditionStatus::kFalse, "Owned",
                                               "owned by " + ownerValue(key), wallNow));
    const bool ready = !sourceFailing && counts.missing == 0;
    StatusStore::setCondition(
        s, makeCondition("Ready", ready ? ConditionStatus::kTrue : ConditionStatus::kFalse,
                         ready ? "Converged" : (sourceFailing ? "SourceFailing" : "Converging"),
                         ready ? "every target the source lists is registered"
                               : std::to_string(counts.missing) + " listed targets not registered",
                         wallNow));
    if (applied && !plan.toRegister.empty()) {
      StatusStore::addEvent(s, Event{wallNow, EventType::kNormal, "Registered",
                                     "registered " + std::to_string(plan.toRegister.size()) +
                                         " targets: " + joinKeys(plan.toRegister)});
    }
    if (applied && !plan.toDeregister.empty()) {
      StatusStore::addEvent(s, Event{wallNow, EventType::kNormal, "Deregistered",
                                     "deregistered " + std::to_string(plan.toDeregister.size()) +
                                         " targets: " + joinKeys(plan.toDeregister)});
    }
    for (const auto& [reason, n] : heldByReason) {
      if (reason == core::HoldReason::kWithinGracePeriod) continue;  // routine, not news
      StatusStore::addEvent(
          s, Event{wallNow, EventType::kWarning, "Blocked",
                   std::to_string(n) + " changes held: " + core::holdReasonName(reason)});
    }
  });

  if (deps_.metrics) {
    deps_.metrics->recordSync(binding.metadata.ns, binding.metadata.name, counts, plan, applied,
                              wallNow);
  }

  ReconcileResult result;
  auto consider = [&](core::MonoTime at) {
    auto delay = std::max<nanoseconds>(at - now, std::chrono::milliseconds(200));
    if (!result.requeueAfter || delay < *result.requeueAfter) result.requeueAfter = delay;
  };
  if (plan.nextDeadline) consider(*plan.nextDeadline);
  if (state.refreshDueAt) consider(*state.refreshDueAt);
  // A capped plan continues with the next batch as soon as this one is written, so a large
  // removal proceeds at maxDeregistrationsPerSync per sync instead of per resync.
  if (applied && heldByReason.contains(core::HoldReason::kMaxDeregistrationsPerSync)) {
    consider(now + kNextBatchDelay);
  }
  return result;
}

core::Result<bool> Reconciler::verifyTargetGroup(const std::string& key,
                                                 const DesiredBinding& desired,
                                                 BindingState& state) {
  const auto& binding = desired.binding;
  if (state.verifiedGeneration == binding.generation && state.owned) return true;
  const auto& arn = binding.spec.targetGroupArn.text;
  const auto wallNow = deps_.clock.wallNow();

  auto groups = deps_.api.describeTargetGroups({arn});
  if (!groups) return std::unexpected(groups.error());
  if (groups->empty()) {
    return core::makeError(core::ErrorKind::kNotFound, "target group " + arn + " not found",
                           "TargetGroupNotFound");
  }
  const auto& info = groups->front();
  const char* wantType = targetTypeName(binding.spec.targetType);
  if (info.targetType != wantType) {
    return core::makeError(core::ErrorKind::kTerminal,
                           "target group " + info.name + " has TargetType " + info.targetType +
                               " but the binding says targetType: " + wantType,
                           "TargetTypeMismatch");
  }
  if (!binding.spec.port && info.port <= 0) {
    return core::makeError(core::ErrorKind::kTerminal,
                           "target group " + info.name + " has no port; set spec.port",
                           "PortUnknown");
  }
  state.targetGroupPort = info.port;

  auto tags = deps_.api.describeTags({arn});
  if (!tags) return std::unexpected(tags.error());
  std::string owner;
  if (auto it = tags->find(arn); it != tags->end()) {
    if (auto t = it->second.find(kOwnerTagKey); t != it->second.end()) owner = t->second;
  }
  const auto mine = ownerValue(key);
  if (!owner.empty() && owner != mine) {
    deps_.log.log(LogLevel::kWarn, "target group owned by another binding; not writing",
                  {core::field("binding", key), core::field("targetGroup", arn),
                   core::field("owner", owner)});
    deps_.status.update(key, [&](BindingStatus& s) {
      const auto message = "target group is tagged " + std::string(kOwnerTagKey) + "=" + owner;
      StatusStore::setCondition(
          s, makeCondition("Conflict", ConditionStatus::kTrue, "OwnedByOther", message, wallNow));
      StatusStore::setCondition(
          s, makeCondition("Synced", ConditionStatus::kFalse, "Conflict", message, wallNow));
      StatusStore::setCondition(
          s, makeCondition("Ready", ConditionStatus::kFalse, "Conflict", message, wallNow));
      StatusStore::addEvent(s, Event{wallNow, EventType::kWarning, "Conflict", message});
      s.lastError = message;
    });
    if (deps_.metrics) deps_.metrics->recordConflict(binding.metadata.ns, binding.metadata.name);
    state.owned = false;
    state.verifiedGeneration.clear();
    return false;
  }
  if (owner.empty() && !options_.dryRun) {
    auto added = deps_.api.addTags(arn, {{kOwnerTagKey, mine}});
    if (!added) return std::unexpected(added.error());
    deps_.status.update(key, [&](BindingStatus& s) {
      StatusStore::addEvent(
          s, Event{wallNow, EventType::kNormal, "Claimed",
                   "tagged target group " + info.name + " " + kOwnerTagKey + "=" + mine});
    });
  }
  state.owned = !owner.empty() || !options_.dryRun;
  state.verifiedGeneration = binding.generation;
  return true;
}

core::Result<ReconcileResult> Reconciler::reconcileDeleted(const std::string& key) {
  std::unique_ptr<BindingState>* slot = nullptr;
  {
    std::lock_guard lock(mu_);
    auto it = states_.find(key);
    if (it != states_.end()) slot = &it->second;
  }
  if (slot == nullptr) {
    deps_.status.erase(key);
    return ReconcileResult{};
  }
  auto& state = **slot;
  const auto& spec = state.lastSpec.spec;
  const auto& arn = spec.targetGroupArn.text;
  if (spec.policy.deletionPolicy == api::DeletionPolicy::kDeregister && state.owned &&
      !options_.dryRun) {
    auto observed = deps_.observed.targets(arn, /*forceRefresh=*/true);
    if (!observed) {
      recordFailure(key, state.lastSpec.generation, observed.error());
      return std::unexpected(observed.error());
    }
    std::vector<core::Target> all;
    for (const auto& o : observed->targets) {
      if (core::isRegistered(o)) all.push_back(o.target);
    }
    if (!all.empty()) {
      auto r = deps_.api.deregisterTargets(arn, all);
      if (!r) {
        recordFailure(key, state.lastSpec.generation, r.error());
        return std::unexpected(r.error());
      }
      deps_.log.log(LogLevel::kInfo, "binding deleted with deletionPolicy Deregister",
                    {core::field("binding", key), core::field("targetGroup", arn),
                     core::field("count", static_cast<long long>(all.size()))});
    }
  } else {
    deps_.log.log(LogLevel::kInfo, "binding deleted; targets retained",
                  {core::field("binding", key), core::field("targetGroup", arn)});
  }
  deps_.sources.untrack(key);
  deps_.observed.forget(arn);
  deps_.status.erase(key);
  if (deps_.metrics)
    deps_.metrics->forgetBinding(state.lastSpec.metadata.ns, state.lastSpec.metadata.name);
  std::lock_guard lock(mu_);
  states_.erase(key);
  return ReconcileResult{};
}

void Reconciler::recordFailure(const std::string& key, const std::string& generation,
                               const core::Error& error) {
  const auto wallNow = deps_.clock.wallNow();
  deps_.log.log(LogLevel::kWarn, "reconcile failed",
                {core::field("binding", key), core::field("error", error.toString()),
                 core::field("kind", core::errorKindName(error.kind))});
  deps_.status.update(key, [&](BindingStatus& s) {
    s.lastError = error.toString();
    s.generation = generation;
    const std::string reason = error.code.empty() ? core::errorKindName(error.kind) : error.code;
    StatusStore::setCondition(
        s, makeCondition("Synced", ConditionStatus::kFalse, reason, error.toString(), wallNow));
    StatusStore::setCondition(s, makeCondition("Ready", ConditionStatus::kFalse, "SyncFailed",
                                               error.toString(), wallNow));
    StatusStore::addEvent(s, Event{wallNow, EventType::kWarning, "SyncFailed", error.toString()});
  });
}

}  // namespace endpointbinder::runtime
