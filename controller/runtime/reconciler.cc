#include "controller/runtime/reconciler.h"

#include <algorithm>
#include <set>

#include "api/net.h"
#include "controller/core/address_family.h"
#include "controller/core/record_plan.h"
#include "controller/runtime/json_logger.h"
#include "controller/runtime/metrics.h"
#include "controller/runtime/target_registration.h"

namespace endpointbinder::runtime {

namespace {

using core::LogLevel;
using std::chrono::nanoseconds;

// After a write, look at the group again soon so health and counts in status catch up,
// instead of waiting for the next resync.
constexpr auto kRefreshAfterWrite = std::chrono::seconds(10);
// While serving targets wait for their replacements to pass health checks, health is read
// this often (the cached picture is a resync period old otherwise).
constexpr auto kReplacementHealthRefresh = std::chrono::seconds(10);
// With unhealthyGracePeriod set, health must be read often enough to act on it in time.
constexpr auto kMinHealthRefresh = std::chrono::seconds(2);
// Registrations left unsettled by the refusal search's call budget are tried again this soon.
constexpr auto kDeferredRegistrationRetry = std::chrono::seconds(1);
// The owner tag found ours by step 3 this long ago (after a restart: ownership is not cached)
// stands for the owner check before step 7's writes; so does a read before the deregistrations
// in the same reconcile. A claim made in step 3 is read back in step 7 instead (one
// DescribeTags confirms it and checks before writing): two claims, two DescribeTags per
// binding in a cold start, which a 5,000-binding cold start at AWS's quotas was bound by with
// three. Within these seconds a re-tag by an operator is the same race as one between the
// pre-write read and the write, whose wait for a token at the write quota is as long; a
// reconcile slowed longer (a throttled or retried read, a refusal search) reads again.
constexpr auto kOwnerReadCountsForWritesFor = std::chrono::seconds(5);
// Memory of a target group nobody reconciled for this long is dropped (as the tracker would
// drop its entries); it only ever makes the next binding of that group more careful.
constexpr auto kForgetGroupAfter = std::chrono::hours(1);
constexpr auto kGroupSweepEvery = std::chrono::minutes(1);

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

core::Result<GroupAccess> groupAccessFor(aws::TargetGroupApi& home, aws::AccountApis* accounts,
                                         const std::string& controllerId,
                                         const api::TargetGroupBindingSpec& spec) {
  const auto& role = spec.assumeRole;
  if (!role) return GroupAccess{&home, controllerId};
  if (accounts == nullptr) {
    return core::makeError(core::ErrorKind::kTerminal,
                           "spec.assumeRoleARN is set, but this controller was started without "
                           "STS access to assume roles",
                           "AssumeRoleUnavailable");
  }
  auto api =
      accounts->forRole(aws::RoleToAssume{role->role.text, role->role.account, role->externalId});
  if (!api) return std::unexpected(api.error());
  auto homeAccount = accounts->homeAccount();
  if (!homeAccount) return std::unexpected(homeAccount.error());
  // A role of the controller's own account reaches the same groups as its own credentials:
  // the same claim, so switching a binding to such a role (or back) is no conflict.
  return GroupAccess{*api, spec.targetGroupArn.account == *homeAccount
                               ? controllerId
                               : controllerId + "/" + *homeAccount};
}

std::string controllerIdProblem(std::string_view id) {
  if (!core::validOwnerText(id)) {
    return "must be printable ASCII without blanks, ',', '=', '\"' or '\\'";
  }
  if (id.size() > 100) return "must be at most 100 characters (owner tags hold 256)";
  const auto last = id.substr(id.rfind('/') == std::string_view::npos ? 0 : id.rfind('/') + 1);
  if (last.size() == 12 &&
      std::all_of(last.begin(), last.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return "must not end in a 12-digit part: claims on other accounts' target groups put the "
           "controller's account there";
  }
  return "";
}

std::optional<OwnerClaim> parseOwnerValue(const std::string& value) {
  const auto last = value.rfind('/');
  if (last == std::string::npos || last == 0) return std::nullopt;
  const auto middle = value.rfind('/', last - 1);
  if (middle == std::string::npos || middle == 0) return std::nullopt;
  return OwnerClaim{value.substr(0, middle), value.substr(middle + 1)};
}

// Step 4's result: what the planner registers toward, and whether the source can be trusted.
struct Reconciler::SourceView {
  std::vector<core::Target> targets;  // the listing (the last good one while failing)
  bool failing = false;
  std::string reason;   // condition reason: "Resolved", "SourceFailing", "NoAllowedAddresses"
  std::string message;  // for SourceResolved
};

Reconciler::Reconciler(Deps deps, ReconcilerOptions options)
    : deps_(std::move(deps)), options_(std::move(options)) {}

std::vector<std::string> Reconciler::knownKeys() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> keys;
  for (const auto& [key, state] : states_) keys.push_back(key);
  return keys;
}

std::optional<core::MonoTime> Reconciler::groupReadAt(const std::string& key,
                                                      const std::string& arn) const {
  std::lock_guard lock(mu_);
  const auto it = groupReads_.find(key);
  if (it == groupReads_.end() || it->second.arn != arn) return std::nullopt;
  return it->second.at;
}

void Reconciler::noteGroupRead(const std::string& key, const std::string& arn,
                               const ObservedCache::Snapshot& snapshot) {
  if (snapshot.fromCache) return;
  std::lock_guard lock(mu_);
  groupReads_[key] = GroupRead{arn, snapshot.readAt};
}

void Reconciler::beginTerm(BindingState& state) const {
  state.term = deps_.writeGate ? deps_.writeGate->currentTerm() : std::nullopt;
  state.standby = deps_.writeGate != nullptr && !state.term;
}

Reconciler::BindingState& Reconciler::stateFor(const std::string& key) {
  std::lock_guard lock(mu_);
  auto& slot = states_[key];
  if (!slot) slot = std::make_unique<BindingState>();
  return *slot;
}

std::shared_ptr<Reconciler::GroupMemory> Reconciler::groupFor(const std::string& arn) {
  std::lock_guard lock(mu_);
  const auto now = deps_.clock.now();
  // Drop memories nobody holds or used for long (try_lock: never wait on a reconcile here).
  // A sweep visits every group: once a minute is plenty for an hour's idleness (at 1,000
  // groups, sweeping on every call was 2 % of the controller's steady CPU).
  if (now - lastGroupSweep_ >= kGroupSweepEvery) {
    lastGroupSweep_ = now;
    std::erase_if(groups_, [&](auto& item) {
      if (item.first == arn || item.second.use_count() != 1) return false;
      std::unique_lock groupLock(item.second->mu, std::try_to_lock);
      return groupLock.owns_lock() && now - item.second->lastUsed > kForgetGroupAfter;
    });
  }
  auto& slot = groups_[arn];
  if (!slot) slot = std::make_shared<GroupMemory>();
  return slot;
}

core::GroupFacts Reconciler::factsFor(const BindingState& state) const {
  core::GroupFacts facts;
  facts.ipAddressType = state.ipAddressType;
  facts.deregistrationWindow = options_.deregistrationWindow;
  facts.rejectionRetry = options_.rejectionRetry;
  return facts;
}

void Reconciler::addEvent(const std::string& key, EventType type, std::string reason,
                          std::string message) {
  const auto wallNow = deps_.clock.wallNow();
  deps_.status.update(key, [&](BindingStatus& s) {
    StatusStore::addEvent(s, Event{wallNow, type, std::move(reason), std::move(message)});
  });
}

core::Result<ReconcileResult> Reconciler::reconcile(const std::string& key) {
  auto desired = deps_.desired(key);
  if (!desired) return reconcileDeleted(key);
  auto result = reconcileDesired(key, *desired);
  auto& state = stateFor(key);
  if (result && !state.wakeAfter.empty()) {
    result->wake.insert(result->wake.end(), state.wakeAfter.begin(), state.wakeAfter.end());
    state.wakeAfter.clear();
  }
  return result;
}

// ---- the binding exists: steps 2 to 8 -------------------------------------------------------

core::Result<ReconcileResult> Reconciler::reconcileDesired(const std::string& key,
                                                           const DesiredBinding& desired) {
  const auto& binding = *desired.binding;
  const auto& spec = binding.spec;
  const auto& arn = spec.targetGroupArn.text;
  auto& state = stateFor(key);
  beginTerm(state);
  state.lastSpec = desired.binding;
  state.deleting = false;
  const auto wallNow = deps_.clock.wallNow();

  deps_.status.update(key, [&](BindingStatus& s) {
    if (s.name.empty()) s.creationTime = wallNow;
    s.ns = binding.metadata.ns;
    s.name = binding.metadata.name;
    s.generation = binding.generation;
    s.targetGroupArn = arn;
    s.spec =
        std::shared_ptr<const api::TargetGroupBindingSpec>(state.lastSpec, &state.lastSpec->spec);
    s.lastAttemptTime = wallNow;
    if (desired.stale) {
      StatusStore::addEvent(s, Event{wallNow, EventType::kWarning, "InvalidManifest",
                                     "keeping the last good spec: " + desired.staleReason});
    }
  });
  auto fail = [&](const core::Error& error) -> core::Result<ReconcileResult> {
    recordFailure(key, binding.generation, error);
    if (deps_.observer) {
      deps_.observer->onReconciled(ReconcileReport{.kind = ReconcileReport::Kind::kFailed,
                                                   .binding = &binding,
                                                   .time = wallNow,
                                                   .error = &error});
    }
    return std::unexpected(error);
  };

  // 2. The group: a binding pointed at another group first gives the old one back, and takes
  // off a claim it tagged there but never read back.
  if (state.pendingClaim && state.pendingClaim->arn != arn) {
    const auto pending = *state.pendingClaim;
    if (auto released = releaseClaim(key, pending.arn, pending.access); !released) {
      return fail(released.error());
    }
    state.pendingClaim.reset();
    state.wakeAfter = successorsOf(key, pending.arn);
  }
  if (!state.ownedArn.empty() && state.ownedArn != arn) {
    if (auto released = releaseClaim(key, state.ownedArn, state.ownedAccess); !released) {
      return fail(released.error());
    }
    state.wakeAfter = successorsOf(key, state.ownedArn);  // a binding waiting for that group
    state.ownedArn.clear();
  }
  const auto group = groupFor(arn);
  std::lock_guard groupLock(group->mu);
  const auto now = deps_.clock.now();
  group->lastUsed = now;
  // 4 first, when the port is known: what the spec lists now is recorded before any AWS call
  // that could fail, so a spec that changes again before a reconcile succeeds never leaves a
  // target it listed looking long gone.
  std::optional<SourceView> source;
  // Only the binding that owns the group writes into its memory: a binding in Conflict (or an
  // old name awaiting deletion) must not make the owner's departure times look untrusted.
  if (state.ownedArn == arn && (spec.port || state.checkedArn == arn)) {
    source = readSource(key, binding, state, *group, now);
  }
  // The account's API (after the listing is recorded: assuming a role may fail).
  auto access = groupAccessFor(deps_.api, deps_.accounts, options_.controllerId, spec);
  if (!access) return fail(access.error());
  state.access = std::move(*access);
  if (auto facts = readGroupFacts(desired, state); !facts) return fail(facts.error());

  // 3. Ownership. The Conflict condition is restated only when the tag was read this time.
  std::string holder;
  const bool ownershipCached = state.ownedArn == arn;
  std::optional<core::MonoTime> ownerReadAt;
  auto ownership = establishOwnership(key, desired, state, holder, ownerReadAt);
  if (!ownership) return fail(ownership.error());
  if (*ownership == Ownership::kConflict) {
    loseOwnership(key, binding, state, holder);
    const auto claim = parseOwnerValue(holder);
    ReconcileResult result;
    // A binding of ours that is missing from the manifests holds it: its confirmed deletion
    // hands the group over (and wakes this one); look again soon in case nothing wakes it. A
    // live holder or another controller's claim changes only by someone's edit: the resync
    // looks again, and the holder's deletion wakes this binding.
    if (claim && claim->controllerId == state.access.ownerPrefix) {
      const auto holderBinding = deps_.desired(claim->bindingKey);
      if (!holderBinding || holderBinding->pendingDeletion) {
        result.requeueAfter = options_.claimRecheck;
      }
    }
    return result;
  }

  bool ownershipVerified = !ownershipCached;
  // Owned again after a Conflict (someone else's tag removed, or ours put back): what the spec
  // listed meanwhile was never recorded, so a target it listed until a moment ago could look
  // absent since before the Conflict. Count every remembered target as seen now instead.
  if (state.unrecordedArn == arn) {
    group->tracker.markAllSeen(now);
    state.unrecordedArn.clear();
  }

  // 4. Source (unless read above).
  if (!source) source = readSource(key, binding, state, *group, now);

  // 5. Observed: cached unless stale for this binding's needs.
  auto maxAge = options_.resyncPeriod;
  if (spec.policy.unhealthyGracePeriod > api::Duration::zero()) {
    maxAge = std::min<nanoseconds>(
        maxAge, std::max<nanoseconds>(kMinHealthRefresh, spec.policy.unhealthyGracePeriod / 2));
  }
  const bool refreshDue = group->refreshDueAt && now >= *group->refreshDueAt;
  auto observed = deps_.observed.targets(*state.access.api, arn, refreshDue, maxAge);
  if (!observed) return fail(observed.error());
  noteGroupRead(key, arn, *observed);
  if (refreshDue) group->refreshDueAt.reset();
  group->tracker.recordObserved(observed->targets, now);

  // 6. Plan.
  const core::DesiredTargets desiredState{source->targets, source->failing};
  const auto facts = factsFor(state);
  auto plan =
      core::computePlan(desiredState, observed->targets, group->tracker, spec.policy, now, facts);

  // 7. Apply. Never write from a cached picture: re-read and plan again first; and never
  // write to a group whose claim changed since we checked it (an operator or another
  // controller re-tagged it): the owner tag is read again before every batch of writes,
  // unless step 3 found it ours seconds ago. A claim step 3 made is read back here, just
  // before the writes, whether or not there are any: two controllers claiming one group at
  // once both tag it, and only the one whose tag stands when it reads back may write.
  bool applied = false;
  if (plan.hasWrites() && !writesOff(state)) {
    if (observed->fromCache) {
      observed = deps_.observed.targets(*state.access.api, arn, /*forceRefresh=*/true);
      if (!observed) return fail(observed.error());
      noteGroupRead(key, arn, *observed);
      group->tracker.recordObserved(observed->targets, now);
      plan = core::computePlan(desiredState, observed->targets, group->tracker, spec.policy, now,
                               facts);
    }
  }
  const bool writes = plan.hasWrites() && !writesOff(state);
  const bool ownerJustRead =
      ownerReadAt && deps_.clock.now() - *ownerReadAt <= kOwnerReadCountsForWritesFor;
  if (state.pendingClaim || (writes && !ownerJustRead)) {
    core::MonoTime readAt{};
    auto ours = confirmOwnerBeforeWriting(key, binding, state, readAt);
    if (!ours) return fail(ours.error());
    if (!*ours) {
      ReconcileResult result;
      result.requeueAfter = options_.claimRecheck;  // claim it back if the tag was removed
      return result;
    }
    ownerReadAt = readAt;
  }
  if (writes) {
    std::set<std::string> listedKeys;
    for (const auto& t : source->targets) listedKeys.insert(t.key());
    const bool listedRegistered =
        std::any_of(observed->targets.begin(), observed->targets.end(), [&](const auto& o) {
          return core::isRegistered(o) && listedKeys.contains(o.target.key());
        });
    std::optional<std::string> tagChangedTo;
    if (auto written = applyPlan(key, arn, state.access, plan, *group, now, *ownerReadAt,
                                 tagChangedTo, listedRegistered);
        !written) {
      if (tagChangedTo) loseOwnership(key, binding, state, *tagChangedTo);
      return fail(written.error());
    }
    ownershipVerified = true;
    applied = true;
    group->refreshDueAt = now + kRefreshAfterWrite;
    group->refreshIsRecheck = true;
    if (auto after = deps_.observed.targets(*state.access.api, arn); after) {
      noteGroupRead(key, arn, *after);
      observed = std::move(after);
    }
  }

  // 8. Report: status, events and metrics describe the group as it now stands.
  const auto counts = countTargets(source->targets, observed->targets);
  std::map<core::HoldReason, int> heldByReason;
  for (const auto& h : plan.held) ++heldByReason[h.reason];
  const auto refusedIt = heldByReason.find(core::HoldReason::kRejectedByAws);
  const int refusedByAws = refusedIt == heldByReason.end() ? 0 : refusedIt->second;
  if (heldByReason.contains(core::HoldReason::kReplacementsNotReady)) {
    const auto at = now + kReplacementHealthRefresh;
    if (!group->refreshDueAt || *group->refreshDueAt > at) group->refreshDueAt = at;
    group->refreshIsRecheck = false;  // a hold waits for this read
  }

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

    StatusStore::setCondition(
        s, makeCondition("SourceResolved",
                         source->failing ? ConditionStatus::kFalse : ConditionStatus::kTrue,
                         source->reason, source->message, wallNow));
    if (refusedByAws > 0) {
      StatusStore::setCondition(
          s, makeCondition("Synced", ConditionStatus::kFalse, "RejectedByAWS",
                           std::to_string(refusedByAws) +
                               " changes held because AWS refused registrations (see the plan); "
                               "tried again after the retry time or a spec change",
                           wallNow));
    } else if (state.standby && !options_.dryRun) {
      StatusStore::setCondition(
          s, makeCondition("Synced", ConditionStatus::kTrue, "Standby",
                           "planned without writing: this replica is a standby; " +
                               deps_.writeGate->describeLeader(),
                           wallNow));
    } else {
      StatusStore::setCondition(
          s, makeCondition("Synced", ConditionStatus::kTrue, options_.dryRun ? "DryRun" : "Synced",
                           options_.dryRun ? "planned without writing (--dry-run)"
                                           : "target group matches the plan",
                           wallNow));
    }
    // Said only from a fresh read of the tag, with when: between reads it is the last word.
    const auto* conflict = s.condition("Conflict");
    if (ownershipVerified || !conflict || conflict->status != ConditionStatus::kFalse) {
      StatusStore::setCondition(
          s, makeCondition("Conflict", ConditionStatus::kFalse, "Owned",
                           "owned by " + state.access.ownerValue(key) + " (owner tag read " +
                               formatRfc3339(wallNow, false) + ")",
                           wallNow));
    }
    const bool ready = !source->failing && counts.missing == 0;
    StatusStore::setCondition(
        s, makeCondition("Ready", ready ? ConditionStatus::kTrue : ConditionStatus::kFalse,
                         ready ? "Converged" : (source->failing ? source->reason : "Converging"),
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
      std::string message = std::to_string(n) + " changes held: " + core::holdReasonName(reason);
      // The first held target's own message says why (the AWS message for a refusal).
      for (const auto& h : plan.held) {
        if (h.reason == reason) {
          message += " (" + h.target.key() + ": " + h.message + ")";
          break;
        }
      }
      StatusStore::addEvent(s, Event{wallNow, EventType::kWarning, "Blocked", message});
    }
  });

  if (deps_.metrics) {
    deps_.metrics->recordSync(binding.metadata.ns, binding.metadata.name, counts, plan, applied,
                              wallNow);
  }
  if (deps_.observer) {
    ReconcileReport report{.kind = ReconcileReport::Kind::kSynced,
                           .binding = &binding,
                           .time = wallNow,
                           .applied = applied};
    if (applied) {
      report.registered = plan.toRegister;
      report.deregistered = plan.toDeregister;
    }
    report.held = plan.held;
    report.listed = source->targets;
    report.counts = counts;
    report.sourceFailing = source->failing;
    report.sourceMessage = source->message;
    deps_.observer->onReconciled(report);
  }

  ReconcileResult result;
  auto consider = [&](std::optional<nanoseconds>& after, core::MonoTime at) {
    auto delay = std::max<nanoseconds>(at - now, std::chrono::milliseconds(200));
    if (!after || delay < *after) after = delay;
  };
  if (plan.nextDeadline) consider(result.requeueAfter, *plan.nextDeadline);
  if (group->refreshDueAt) {
    consider(group->refreshIsRecheck ? result.recheckAfter : result.requeueAfter,
             *group->refreshDueAt);
  }
  return result;
}

core::Result<void> Reconciler::readGroupFacts(const DesiredBinding& desired, BindingState& state) {
  const auto& binding = *desired.binding;
  const auto& arn = binding.spec.targetGroupArn.text;
  if (state.checkedGeneration == binding.generation && state.checkedArn == arn) return {};
  auto groups = state.access.api->describeTargetGroups({arn});
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
  state.ipAddressType = info.ipAddressType.empty() ? "ipv4" : info.ipAddressType;
  state.checkedGeneration = binding.generation;
  state.checkedArn = arn;
  return {};
}

core::Result<std::optional<std::string>> Reconciler::readOwner(const GroupAccess& access,
                                                               const std::string& arn) {
  auto tags = access.api->describeTags({arn});
  if (!tags) return std::unexpected(tags.error());
  if (auto it = tags->find(arn); it != tags->end()) {
    if (auto t = it->second.find(kOwnerTagKey); t != it->second.end()) {
      return std::optional<std::string>(t->second);
    }
  }
  return std::optional<std::string>();
}

core::Result<Reconciler::Ownership> Reconciler::establishOwnership(
    const std::string& key, const DesiredBinding& desired, BindingState& state,
    std::string& conflictHolder, std::optional<core::MonoTime>& ownerReadAt) {
  const auto& arn = desired.binding->spec.targetGroupArn.text;
  const auto& access = state.access;
  // Checked once per group; before every batch of writes the tag is read again (step 7).
  if (state.ownedArn == arn) {
    state.ownedAccess = access;  // the spec's role may have changed: release goes the new way
    return Ownership::kOwned;
  }
  const auto mine = access.ownerValue(key);
  // Timed from before the call: what it returns may be as old as that.
  const auto firstReadAt = deps_.clock.now();
  auto owner = readOwner(access, arn);
  if (!owner) return std::unexpected(owner.error());
  if (*owner == mine) {
    ownerReadAt = firstReadAt;
    takeOwnership(key, state, arn);  // a claim an AWS error kept from being read back: confirmed
    return Ownership::kOwned;
  }

  std::string eventReason = "Claimed";
  std::string eventMessage = std::string("tagged target group ") + kOwnerTagKey + "=" + mine;
  if (owner->has_value()) {
    // Another claim. Ours to adopt only when it is this controller's and its binding's
    // deletion is confirmed (renamed, moved to another namespace or file, deleted). A binding
    // missing from one read but not yet confirmed gone keeps its group: that read may be a
    // half-written file, and adopting then would hand a live binding's group to a duplicate.
    // The old binding's confirmed deletion sees this binding name the group, leaves targets
    // and tag alone, and wakes this one. Another controller's claim is never touched.
    // A holder that is live but now names another group (retargeted while no controller ran,
    // so its release never happened) has let go of this one: adoptable too.
    const auto claim = parseOwnerValue(**owner);
    bool adoptable = claim && claim->controllerId == access.ownerPrefix && claim->bindingKey != key;
    if (adoptable) {
      const auto holder = deps_.desired(claim->bindingKey);
      if (!holder) {
        // Unknown to the manifests: gone for certain only once they have settled (a process
        // that started while the holder's file was half written has never seen it).
        adoptable = !deps_.manifestsSettled || deps_.manifestsSettled();
      } else {
        adoptable = !holder->pendingDeletion && !holder->stale &&
                    holder->binding->spec.targetGroupArn.text != arn;
      }
    }
    if (!adoptable) {
      conflictHolder = **owner;
      state.ownedArn.clear();
      return Ownership::kConflict;
    }
    eventReason = "Adopted";
    eventMessage = "adopted target group from binding " + claim->bindingKey +
                   ", which was removed from the manifests; tagged " + kOwnerTagKey + "=" + mine;
  }
  // Would claim; --dry-run and a standby write nothing.
  if (writesOff(state)) return Ownership::kOwned;

  auto added = writerFor(state, access).addTags(arn, {{kOwnerTagKey, mine}});
  if (!added) return std::unexpected(added.error());
  // Check-then-act is not a claim: step 7 reads it back before anything is written.
  state.pendingClaim = PendingClaim{arn, access, eventReason, eventMessage, owner->value_or("")};
  return Ownership::kOwned;
}

void Reconciler::takeOwnership(const std::string& key, BindingState& state,
                               const std::string& arn) {
  state.ownedArn = arn;
  state.ownedAccess = state.access;
  if (!state.pendingClaim || state.pendingClaim->arn != arn) return;
  const auto pending = std::move(*state.pendingClaim);
  state.pendingClaim.reset();
  deps_.log.log(LogLevel::kInfo,
                pending.eventReason == "Adopted" ? "adopted target group" : "claimed target group",
                {core::field("binding", key), core::field("targetGroup", arn),
                 core::field("previousOwner", pending.previousOwner)});
  addEvent(key, EventType::kNormal, pending.eventReason, pending.eventMessage);
}

void Reconciler::loseOwnership(const std::string& key, const api::TargetGroupBinding& binding,
                               BindingState& state, const std::string& holder) {
  const auto& arn = binding.spec.targetGroupArn.text;
  state.ownedArn.clear();
  if (state.pendingClaim && state.pendingClaim->arn == arn) state.pendingClaim.reset();
  state.unrecordedArn = arn;
  reportConflict(key, binding, state.access, holder);
}

core::Result<bool> Reconciler::confirmOwnerBeforeWriting(const std::string& key,
                                                         const api::TargetGroupBinding& binding,
                                                         BindingState& state,
                                                         core::MonoTime& readAt) {
  const auto& arn = binding.spec.targetGroupArn.text;
  readAt = deps_.clock.now();  // from before the call: what it returns may be as old as that
  auto owner = readOwner(state.access, arn);
  if (!owner) return std::unexpected(owner.error());
  if (owner->value_or("") != state.access.ownerValue(key)) {
    deps_.log.log(LogLevel::kWarn,
                  state.pendingClaim ? "another claim replaced ours; not writing"
                                     : "owner tag changed; not writing",
                  {core::field("binding", key), core::field("targetGroup", arn),
                   core::field("owner", owner->value_or("(none)"))});
    loseOwnership(key, binding, state, owner->value_or(""));
    return false;
  }
  takeOwnership(key, state, arn);
  return true;
}

Reconciler::SourceView Reconciler::readSource(const std::string& key,
                                              const api::TargetGroupBinding& binding,
                                              const BindingState& state, GroupMemory& group,
                                              core::MonoTime now) {
  const auto& spec = binding.spec;
  const int port = spec.port.value_or(state.targetGroupPort);
  // Instance sources of ip bindings list the address family the group takes.
  const auto snapshot = deps_.sources.snapshotForGroup(binding, state.ipAddressType);
  SourceView view;
  view.targets.reserve(snapshot.ids.size());
  for (const auto& id : snapshot.ids) {
    view.targets.push_back(core::Target{id, port, spec.availabilityZone});
  }
  view.failing = snapshot.failing || !snapshot.hasAnswer;
  std::string failure =
      snapshot.failureReason.empty() ? std::string("no answer yet") : snapshot.failureReason;
  view.reason = "SourceFailing";

  // An answer made only of targets we may not or cannot register is not "the endpoints are
  // gone": a disassociated private zone, a public answer, a spoofed reply, an answer of the
  // other address family only, or addresses AWS refuses must not drain the group.
  // A refusal stands for this spec only: a new generation (perhaps the fix) tries again.
  const std::string lineage = key + "@" + binding.generation;
  const bool sameLineage = group.tracker.lineage() == lineage;
  bool registrableListed = false;
  int outsideCidrs = 0;
  int otherFamily = 0;
  int refused = 0;
  for (const auto& t : view.targets) {
    if (!core::targetAllowed(t.id, spec.policy.allowedCidrs)) {
      ++outsideCidrs;
    } else if (!core::addressFamilyAccepted(state.ipAddressType, t.id)) {
      ++otherFamily;
    } else if (sameLineage && group.tracker.rejection(t.key(), now)) {
      ++refused;
    } else {
      registrableListed = true;
    }
  }
  const bool nothingRegistrable = !view.failing && !view.targets.empty() && !registrableListed;
  if (nothingRegistrable) {
    view.failing = true;
    view.reason = "NoAllowedAddresses";
    std::vector<std::string> why;
    if (outsideCidrs > 0) {
      why.push_back(std::to_string(outsideCidrs) + " outside allowedCIDRs [" +
                    core::cidrListText(spec.policy.allowedCidrs) + "]");
    }
    if (otherFamily > 0) {
      why.push_back(std::to_string(otherFamily) + " not of the target group's IpAddressType " +
                    state.ipAddressType);
    }
    if (refused > 0) why.push_back(std::to_string(refused) + " refused by AWS");
    std::string reasons;
    for (const auto& w : why) reasons += (reasons.empty() ? "" : ", ") + w;
    failure =
        "no target the source lists (" + joinKeys(view.targets) + ") can be registered: " + reasons;
  }

  if (!view.failing) {
    core::SourceListing listing;
    listing.targets = view.targets;
    listing.confirmedAt = snapshot.lastSuccess == core::MonoTime{} ? now : snapshot.lastSuccess;
    listing.lineage = lineage;
    listing.bindingKey = key;
    for (const auto& departed : snapshot.departed) {
      listing.departedAt.emplace(core::Target{departed.id, port, spec.availabilityZone}.key(),
                                 departed.goneSince);
    }
    for (const auto& leaving : snapshot.leaving) {
      listing.leaving.emplace(core::Target{leaving.id, port, spec.availabilityZone}.key(),
                              leaving.reason);
    }
    group.tracker.recordListing(listing, now);
    view.reason = "Resolved";
    view.message = std::string(api::sourceKindName(spec.source)) + " source lists " +
                   std::to_string(view.targets.size()) + " targets";
    if (!snapshot.leaving.empty()) {
      view.message += "; " + std::to_string(snapshot.leaving.size()) +
                      " leaving now (deregistered without grace)";
    }
    // Part of the listing frozen at its last good answer (e.g. AAAA lookups failing).
    if (!snapshot.degradedReason.empty()) {
      view.message += "; degraded: " + snapshot.degradedReason + " (that part kept as last known)";
    }
  } else if (nothingRegistrable) {
    // The previous listing stands in (it stays listed in the tracker); this answer's targets
    // are shown as held by the planner, never counted as listed.
    group.tracker.recordSourceFailure(failure, now);
    view.message = failure + "; deregistrations are frozen, last good listing kept";
  } else {
    group.tracker.recordSourceFailure(failure, snapshot.failingSince.value_or(now), view.targets);
    view.message = failure + "; deregistrations are frozen, last good answer kept";
  }
  return view;
}

core::Result<void> Reconciler::applyPlan(const std::string& key, const std::string& arn,
                                         const GroupAccess& access, core::Plan& plan,
                                         GroupMemory& group, core::MonoTime now,
                                         core::MonoTime ownerReadAt,
                                         std::optional<std::string>& tagChangedTo,
                                         bool listedRegistered) {
  auto api = writerFor(stateFor(key), access);
  if (!plan.toRegister.empty()) {
    auto report = registerReportingRejections(api, arn, plan.toRegister);
    if (!report) {
      deps_.observed.invalidate(arn);
      return std::unexpected(report.error());
    }
    // Refused targets are held with AWS's words; the rest is registered; the deregistrations
    // below go ahead (one bad address must not block the binding).
    for (const auto& rejected : report->rejected) {
      const std::string message =
          rejected.code.empty() ? rejected.message : rejected.code + ": " + rejected.message;
      group.tracker.recordRejected(rejected.target, message, now + options_.rejectionRetry);
      plan.held.push_back(core::HeldTarget{rejected.target, core::HoldReason::kRejectedByAws, false,
                                           "AWS refused to register it: " + message});
      deps_.log.log(LogLevel::kWarn, "AWS refused to register a target",
                    {core::field("binding", key), core::field("targetGroup", arn),
                     core::field("target", rejected.target.key()), core::field("error", message)});
    }
    if (!report->deferred.empty()) {
      const auto retryAt = now + kDeferredRegistrationRetry;
      if (!plan.nextDeadline || *plan.nextDeadline > retryAt) plan.nextDeadline = retryAt;
    }
    plan.toRegister = std::move(report->registered);
    // AWS refused all that the source lists and none of it is in the group: removing the
    // others would leave the load balancer nothing the source stands for. Hold them.
    // Targets left unsettled by the call budget are no replacements either.
    if (!report->rejected.empty() && plan.toRegister.empty() && !listedRegistered) {
      for (auto& target : plan.toDeregister) {
        plan.held.push_back(core::HeldTarget{
            target, core::HoldReason::kRejectedByAws, true,
            "kept: AWS refused every target the source lists, so nothing would replace it"});
      }
      plan.toDeregister.clear();
    }
    if (!plan.toRegister.empty()) {
      deps_.observed.expectRegistered(arn, plan.toRegister);
      deps_.log.log(LogLevel::kInfo, "registered targets",
                    {core::field("binding", key), core::field("targetGroup", arn),
                     core::field("count", static_cast<long long>(plan.toRegister.size())),
                     core::field("targets", joinKeys(plan.toRegister))});
    }
  }
  if (!plan.toDeregister.empty() &&
      deps_.clock.now() - ownerReadAt > kOwnerReadCountsForWritesFor) {
    // The registrations took a while (a refusal search, throttling): the deregistrations, the
    // writes that can take a serving target out, wait for a fresh look at the tag.
    auto owner = readOwner(access, arn);
    if (!owner) return std::unexpected(owner.error());
    if (owner->value_or("") != access.ownerValue(key)) {
      tagChangedTo = owner->value_or("");
      return core::makeError(core::ErrorKind::kConflict,
                             "the owner tag of " + arn + " changed to \"" + owner->value_or("") +
                                 "\" while registering; nothing deregistered",
                             "OwnerTagChanged");
    }
  }
  if (!plan.toDeregister.empty()) {
    auto r = api.deregisterTargets(arn, plan.toDeregister);
    if (!r) {
      deps_.observed.invalidate(arn);
      return std::unexpected(r.error());
    }
    group.tracker.recordDeregistered(plan.toDeregister.size(), now);
    deps_.observed.expectDeregistered(arn, plan.toDeregister);
    deps_.log.log(LogLevel::kInfo, "deregistered targets",
                  {core::field("binding", key), core::field("targetGroup", arn),
                   core::field("count", static_cast<long long>(plan.toDeregister.size())),
                   core::field("targets", joinKeys(plan.toDeregister))});
  }
  std::sort(plan.held.begin(), plan.held.end(),
            [](const auto& a, const auto& b) { return a.target.key() < b.target.key(); });
  return {};
}

core::Result<void> Reconciler::releaseClaim(const std::string& key, const std::string& arn,
                                            const GroupAccess& access) {
  const auto& state = stateFor(key);
  if (writesOff(state)) return {};
  const auto group = groupFor(arn);
  std::lock_guard groupLock(group->mu);
  // A role that no longer lets us in (its account decommissioned, the trust policy changed)
  // cannot take the claim off; it is left, and adoptable: its holder is gone or names another
  // group. Waiting for the role would block the retarget or the deletion for good, and
  // releasing touches no target.
  const auto leftBehind = [&](const core::Error& error) {
    if (access.api == &deps_.api || error.kind != core::ErrorKind::kAuth) return false;
    deps_.log.log(LogLevel::kWarn, "cannot release the target group through its role; claim left",
                  {core::field("binding", key), core::field("targetGroup", arn),
                   core::field("error", error.toString())});
    addEvent(key, EventType::kWarning, "ClaimLeft",
             "could not remove " + std::string(kOwnerTagKey) + " from target group " + arn + " (" +
                 error.toString() + "); it stays, adoptable by any binding of this controller");
    return true;
  };
  auto owner = readOwner(access, arn);
  if (!owner) {
    // A group deleted meanwhile holds no claim.
    if (owner.error().kind == core::ErrorKind::kNotFound || leftBehind(owner.error())) return {};
    return std::unexpected(owner.error());
  }
  if (owner->value_or("") != access.ownerValue(key)) return {};  // someone else's (adopted)
  auto removed = writerFor(state, access).removeTags(arn, {kOwnerTagKey});
  if (!removed && removed.error().kind != core::ErrorKind::kNotFound) {
    if (leftBehind(removed.error())) return {};
    return std::unexpected(removed.error());
  }
  deps_.log.log(LogLevel::kInfo, "released target group",
                {core::field("binding", key), core::field("targetGroup", arn)});
  addEvent(key, EventType::kNormal, "Released",
           "removed " + std::string(kOwnerTagKey) + " from target group " + arn);
  return {};
}

// ---- the binding is gone --------------------------------------------------------------------

core::Result<ReconcileResult> Reconciler::reconcileDeleted(const std::string& key) {
  BindingState* found = nullptr;
  {
    std::lock_guard lock(mu_);
    if (auto it = states_.find(key); it != states_.end()) found = it->second.get();
  }
  if (found == nullptr) {
    deps_.status.erase(key);
    return ReconcileResult{};
  }
  auto& state = *found;
  beginTerm(state);
  const api::TargetGroupBinding& last = *state.lastSpec;  // set by the first reconcile
  const auto& spec = last.spec;
  const auto& arn = spec.targetGroupArn.text;
  const bool owned = state.ownedArn == arn && !arn.empty();
  auto fail = [&](const core::Error& error) -> core::Result<ReconcileResult> {
    recordFailure(key, last.generation, error);
    return std::unexpected(error);
  };
  ReconcileResult done;

  // A binding that names this group now (the same binding renamed or moved to another file
  // or namespace, or one that waited in Conflict) takes it over as it stands: no target is
  // removed and the claim stays for it to adopt, with the group's memory.
  done.wake = successorsOf(key, arn);
  bool handOver = owned && !done.wake.empty();
  if (state.standby && owned && !handOver) {
    // The leader carries the deletion out; a standby forgets the binding only once the claim
    // is gone, so that a takeover before then finishes it.
    auto owner = readOwner(state.ownedAccess, arn);
    const bool claimed = owner ? owner->value_or("") == state.ownedAccess.ownerValue(key)
                               : owner.error().kind != core::ErrorKind::kNotFound;
    if (claimed) {
      deps_.status.update(key, [&](BindingStatus& s) {
        StatusStore::setCondition(
            s, makeCondition("Ready", ConditionStatus::kFalse, "Standby",
                             "manifest removed; the leader deletes this binding (" +
                                 deps_.writeGate->describeLeader() + ")",
                             deps_.clock.wallNow()));
      });
      done.requeueAfter = options_.claimRecheck;
      return done;
    }
  }
  if (handOver) {
    deps_.log.log(LogLevel::kInfo,
                  "binding deleted; its target group passes to the binding that "
                  "names it now",
                  {core::field("binding", key), core::field("targetGroup", arn),
                   core::field("successor", done.wake.front())});
  } else if (spec.policy.deletionPolicy == api::DeletionPolicy::kDeregister && owned &&
             !writesOff(state)) {
    // Only what this binding's own listings put there, at the capped rate: a deleted binding
    // never takes out targets that others registered, nor the whole group in one call.
    const auto group = groupFor(arn);
    std::unique_lock groupLock(group->mu);
    const auto now = deps_.clock.now();
    group->lastUsed = now;
    auto observed = deps_.observed.targets(*state.ownedAccess.api, arn, /*forceRefresh=*/true);
    const bool groupGone = !observed && observed.error().kind == core::ErrorKind::kNotFound;
    if (!observed && !groupGone) return fail(observed.error());
    core::Plan plan;
    if (!groupGone) {
      plan = core::computeDeletionPlan(observed->targets, group->tracker, key, spec.policy, now,
                                       factsFor(state));
    }
    if (!plan.toDeregister.empty()) {
      const auto ownerReadAt = deps_.clock.now();
      auto owner = readOwner(state.ownedAccess, arn);
      if (!owner) return fail(owner.error());
      std::optional<std::string> tagChangedTo;  // a deletion registers nothing: not set
      if (owner->value_or("") != state.ownedAccess.ownerValue(key)) {
        plan = core::Plan{};  // no longer ours: leave its targets alone
      } else if (auto r = applyPlan(key, arn, state.ownedAccess, plan, *group, now, ownerReadAt,
                                    tagChangedTo);
                 !r) {
        return fail(r.error());
      }
    }
    if (!plan.held.empty() && plan.nextDeadline) {
      state.deleting = true;
      deps_.status.update(key, [&](BindingStatus& s) {
        StatusStore::setCondition(
            s, makeCondition("Ready", ConditionStatus::kFalse, "Deleting",
                             "manifest removed; deregistering this binding's " +
                                 std::to_string(plan.held.size()) +
                                 " remaining targets at maxDeregistrationsPerSync",
                             deps_.clock.wallNow()));
      });
      done.requeueAfter =
          std::max<nanoseconds>(*plan.nextDeadline - now, std::chrono::milliseconds(200));
      return done;
    }
    if (!plan.held.empty()) {
      // A cap of zero never deregisters: the deletion ends as Retain would.
      deps_.log.log(LogLevel::kWarn,
                    "binding deleted with deletionPolicy Deregister, but maxDeregistrationsPerSync "
                    "is 0: its targets are retained",
                    {core::field("binding", key), core::field("targetGroup", arn),
                     core::field("retained", static_cast<long long>(plan.held.size()))});
    } else {
      deps_.log.log(LogLevel::kInfo, "binding deleted with deletionPolicy Deregister",
                    {core::field("binding", key), core::field("targetGroup", arn),
                     core::field("groupExists", groupGone ? "false" : "true")});
    }
  } else {
    deps_.log.log(LogLevel::kInfo, "binding deleted; targets retained",
                  {core::field("binding", key), core::field("targetGroup", arn)});
  }
  if (owned && !handOver) {
    if (auto released = releaseClaim(key, arn, state.ownedAccess); !released) {
      return fail(released.error());
    }
  }
  // A claim tagged but never read back (an AWS error came first): taken off like an owned one
  // (releaseClaim removes the tag only while it is still ours), or left to a binding that names
  // the group now, which adopts it. Nothing is deregistered for it.
  if (state.pendingClaim && state.pendingClaim->arn != state.ownedArn) {
    const auto pending = *state.pendingClaim;
    auto successors = successorsOf(key, pending.arn);
    if (successors.empty()) {
      if (auto released = releaseClaim(key, pending.arn, pending.access); !released) {
        return fail(released.error());
      }
    }
    done.wake.insert(done.wake.end(), successors.begin(), successors.end());
    state.pendingClaim.reset();
  }

  // The manifest may have come back while this ran: stop tracking its source only if it is
  // still gone after the subscription is dropped, else keep everything and reconcile it.
  deps_.sources.untrack(key);
  if (auto back = deps_.desired(key)) {
    deps_.sources.track(*back->binding);
    state.ownedArn.clear();
    ReconcileResult result;
    result.requeueAfter = std::chrono::milliseconds(0);
    return result;
  }
  if (!handOver) deps_.observed.forget(arn);  // the successor's cached picture stays
  deps_.status.erase(key);
  if (deps_.metrics) {
    deps_.metrics->forgetBinding(last.metadata.ns, last.metadata.name);
  }
  std::lock_guard lock(mu_);
  states_.erase(key);
  groupReads_.erase(key);
  return done;
}

std::vector<std::string> Reconciler::successorsOf(const std::string& key,
                                                  const std::string& arn) const {
  // A valid manifest set binds a group at most once (api's shared-target-group check), and a
  // deletion is confirmed only by a read without errors, so there is at most one successor.
  std::vector<std::string> out;
  if (!deps_.bindingsNaming || arn.empty()) return out;
  for (const auto& other : deps_.bindingsNaming(arn)) {
    if (other == key) continue;
    const auto desired = deps_.desired(other);
    if (desired && !desired->pendingDeletion && desired->binding->spec.targetGroupArn.text == arn) {
      out.push_back(other);
    }
  }
  return out;
}

// ---- reporting ------------------------------------------------------------------------------

void Reconciler::reportConflict(const std::string& key, const api::TargetGroupBinding& binding,
                                const GroupAccess& access, const std::string& holder) {
  const auto wallNow = deps_.clock.wallNow();
  const auto& arn = binding.spec.targetGroupArn.text;
  const auto claim = parseOwnerValue(holder);
  const bool ours = claim && claim->controllerId == access.ownerPrefix;
  const std::string reason = ours ? "ClaimedByBinding" : "OwnedByOther";
  std::string message = holder.empty()
                            ? "the owner tag " + std::string(kOwnerTagKey) +
                                  " was removed from the target group while we were writing"
                            : "target group is tagged " + std::string(kOwnerTagKey) + "=" + holder;
  if (ours) {
    message += " (binding " + claim->bindingKey +
               " of this controller names the same group; this binding adopts it once that "
               "binding's deletion is confirmed)";
  }
  bool news = true;
  deps_.status.update(key, [&](BindingStatus& s) {
    const auto* before = s.condition("Conflict");
    news = !before || before->status != ConditionStatus::kTrue || before->message != message;
    StatusStore::setCondition(
        s, makeCondition("Conflict", ConditionStatus::kTrue, reason, message, wallNow));
    StatusStore::setCondition(
        s, makeCondition("Synced", ConditionStatus::kFalse, "Conflict", message, wallNow));
    StatusStore::setCondition(
        s, makeCondition("Ready", ConditionStatus::kFalse, "Conflict", message, wallNow));
    StatusStore::addEvent(s, Event{wallNow, EventType::kWarning, "Conflict", message});
    s.lastError = message;
  });
  // Logged when it starts or changes; the event counts repeats.
  if (news) {
    deps_.log.log(LogLevel::kWarn, "target group owned by another binding; not writing",
                  {core::field("binding", key), core::field("targetGroup", arn),
                   core::field("owner", holder)});
  }
  if (deps_.metrics) deps_.metrics->recordConflict(binding.metadata.ns, binding.metadata.name);
  if (deps_.observer) {
    deps_.observer->onReconciled(ReconcileReport{.kind = ReconcileReport::Kind::kConflict,
                                                 .binding = &binding,
                                                 .time = wallNow,
                                                 .message = message});
  }
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
