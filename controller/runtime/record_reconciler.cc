#include "controller/runtime/record_reconciler.h"

#include <algorithm>
#include <set>

#include "controller/core/text.h"

namespace endpointbinder::runtime {
namespace {

using core::LogLevel;

std::string absolute(std::string name) {
  name = core::asciiLower(name);
  if (name.empty() || name.back() != '.') name.push_back('.');
  return name;
}

core::RecordSet toCore(const aws::ResourceRecordSet& set) {
  return {absolute(set.name), set.type, set.ttl, set.values, set.special};
}

std::vector<aws::RecordChange> toAws(const std::vector<core::RecordChange>& changes) {
  std::vector<aws::RecordChange> out;
  out.reserve(changes.size());
  for (const auto& c : changes) {
    aws::RecordChange change;
    change.action = c.action == core::RecordAction::kCreate   ? aws::ChangeAction::kCreate
                    : c.action == core::RecordAction::kDelete ? aws::ChangeAction::kDelete
                                                              : aws::ChangeAction::kUpsert;
    change.set.name = c.set.name;
    change.set.type = c.set.type;
    change.set.ttl = c.set.ttl;
    change.set.values = c.set.values;
    out.push_back(std::move(change));
  }
  return out;
}

Condition condition(std::string type, ConditionStatus status, std::string reason,
                    std::string message, core::WallTime at) {
  return Condition{std::move(type), status, std::move(reason), std::move(message), at};
}

std::string joinLimited(const std::vector<std::string>& items, size_t limit = 5) {
  std::string out;
  for (size_t i = 0; i < items.size() && i < limit; ++i) out += (i ? ", " : "") + items[i];
  if (items.size() > limit) out += " and " + std::to_string(items.size() - limit) + " more";
  return out;
}

std::string changeSummary(const std::vector<core::RecordChange>& changes) {
  std::vector<std::string> parts;
  for (const auto& c : changes) {
    if (c.set.type == "TXT") continue;  // companions travel with their sets
    parts.push_back(std::string(core::recordActionName(c.action)) + " " + c.set.name + " " +
                    c.set.type + (c.set.values.empty() ? "" : " " + c.set.values.front()));
  }
  return joinLimited(parts);
}

// Who this controller's companions in the zone name, read in one pass: how many of the
// binding's own sets there are (the cap's base) and which other bindings own the rest (the
// candidates for adoption).
struct ZoneOwners {
  int mine = 0;
  std::set<std::string> otherBindings;
};

ZoneOwners ownersIn(const std::vector<core::RecordSet>& sets, const std::string& type,
                    const std::string& controllerId, const std::string& binding) {
  const auto prefix = core::companionName("", type);
  ZoneOwners out;
  for (const auto& set : sets) {
    if (set.type != "TXT" || !set.name.starts_with(prefix)) continue;
    bool counted = false;
    for (const auto& value : set.values) {
      auto owner = core::parseOwnerTxt(value);
      if (!owner || owner->controllerId != controllerId) continue;
      if (owner->binding != binding) {
        out.otherBindings.insert(owner->binding);
      } else if (!counted) {
        ++out.mine;
        counted = true;
      }
    }
  }
  return out;
}

}  // namespace

std::string recordTypeName(const api::DnsRecordBinding& binding) {
  return binding.spec.record.type == api::RecordType::kA ? "A" : "AAAA";
}

RecordCandidates recordCandidates(const api::DnsRecordBinding& binding,
                                  const aws::HostedZoneInfo& zone,
                                  const std::vector<core::Instance>& instances) {
  RecordCandidates out;
  std::set<std::string> associated;
  for (const auto& vpc : zone.vpcs) associated.insert(vpc.vpcId);
  const auto& record = binding.spec.record;
  const auto type = recordTypeName(binding);
  const auto zoneName = absolute(zone.name);
  for (const auto& instance : instances) {
    std::string raw = instance.id;
    if (record.nameFrom.starts_with("tag:")) {
      const auto tag = instance.tags.find(std::string_view(record.nameFrom).substr(4));
      raw = tag == instance.tags.end() ? std::string() : tag->second;
    }
    const auto label = core::sanitizeLabel(raw);
    if (label.empty()) {
      out.unnamed.push_back(instance.id);
      continue;
    }
    const std::string value =
        record.type == api::RecordType::kA
            ? instance.privateIpAddress
            : (instance.ipv6Addresses.empty() ? std::string() : instance.ipv6Addresses[0]);
    if (value.empty()) {
      out.noAddress.push_back(instance.id);
      continue;
    }
    if (!instance.vpcId.empty() && !associated.contains(instance.vpcId)) {
      out.otherVpc[instance.vpcId].push_back(instance.id);
      continue;
    }
    out.candidates.push_back({label + "." + zoneName, type, value, instance.id});
  }
  return out;
}

std::vector<core::RecordCandidate> reverseCandidates(
    const std::vector<core::RecordCandidate>& forward,
    const std::vector<core::RecordConflict>& forwardConflicts, const std::string& reverseZoneName) {
  const auto zone = absolute(reverseZoneName);
  std::set<std::string> losers;
  for (const auto& c : forwardConflicts) losers.insert(c.instanceId);
  std::vector<core::RecordCandidate> out;
  for (const auto& c : forward) {
    if (losers.contains(c.instanceId)) continue;
    auto name = core::reverseName(c.value);
    if (name.empty() || !("." + name).ends_with("." + zone)) continue;  // outside the zone
    out.push_back({std::move(name), "PTR", c.name, c.instanceId});
  }
  return out;
}

// ---------------------------------------------------------------- ZoneRecordCache

ZoneRecordCache::Zone& ZoneRecordCache::zone(const std::string& zoneId) {
  std::lock_guard lock(mu_);
  auto& slot = zones_[zoneId];
  if (!slot) slot = std::make_unique<Zone>();
  return *slot;
}

core::Result<std::vector<core::RecordSet>> ZoneRecordCache::get(const std::string& zoneId,
                                                                std::chrono::nanoseconds maxAge) {
  Zone& z = zone(zoneId);
  std::lock_guard read(z.readMu);  // bindings of one zone share one read
  {
    std::lock_guard lock(mu_);
    if (z.sets && clock_.now() - z.readAt < maxAge) return *z.sets;
  }
  const auto startedAt = clock_.now();
  auto listed = api_.listResourceRecordSets(zoneId);
  if (!listed) return std::unexpected(listed.error());
  std::vector<core::RecordSet> sets;
  sets.reserve(listed->size());
  for (const auto& set : *listed) sets.push_back(toCore(set));
  std::lock_guard lock(mu_);
  z.sets = sets;
  z.readAt = startedAt;
  ++reads_;
  return sets;
}

void ZoneRecordCache::apply(const std::string& zoneId,
                            const std::vector<core::RecordChange>& changes) {
  Zone& z = zone(zoneId);
  std::lock_guard lock(mu_);
  if (!z.sets) return;
  for (const auto& change : changes) {
    auto it = std::find_if(z.sets->begin(), z.sets->end(), [&](const core::RecordSet& s) {
      return !s.special && s.name == change.set.name && s.type == change.set.type;
    });
    if (change.action == core::RecordAction::kDelete) {
      if (it != z.sets->end()) z.sets->erase(it);
    } else if (it != z.sets->end()) {
      *it = change.set;
    } else {
      z.sets->push_back(change.set);
    }
  }
}

std::unique_lock<std::mutex> ZoneRecordCache::tryLockWrites(const std::string& zoneId) {
  return std::unique_lock<std::mutex>(zone(zoneId).writeMu, std::try_to_lock);
}

void ZoneRecordCache::expire(const std::string& zoneId) {
  Zone& z = zone(zoneId);
  std::lock_guard lock(mu_);
  z.sets.reset();
}

int ZoneRecordCache::reads() const {
  std::lock_guard lock(mu_);
  return reads_;
}

// ---------------------------------------------------------------- RecordReconciler

namespace {
// A binding whose zone another binding is writing comes back after this long.
constexpr auto kZoneBusyRetry = std::chrono::milliseconds(500);
}  // namespace

struct RecordReconciler::ZoneOutcome {
  core::RecordPlan plan;
  std::vector<core::RecordChange> accepted;  // what Route 53 took
  int refusals = 0;                          // batches (or halves) Route 53 refused
  bool busy = false;                         // another binding is writing the zone
  std::optional<core::MonoTime> capEndsAt;   // deletions held by the cap may go then
  bool applied = false;                      // the changes were written
  bool standby = false;                      // not the leader: planned only
  int batches = 0;
};

RecordReconciler::RecordReconciler(Deps deps, Options options)
    : deps_(std::move(deps)), options_(std::move(options)), zones_(deps_.route53, deps_.clock) {}

std::vector<std::string> RecordReconciler::knownKeys() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (const auto& [key, state] : bindings_) out.push_back(key);
  return out;
}

core::Result<aws::HostedZoneInfo> RecordReconciler::zoneInfo(const std::string& zoneId) {
  const auto now = deps_.clock.now();
  {
    std::lock_guard lock(mu_);
    if (auto it = zoneInfo_.find(zoneId);
        it != zoneInfo_.end() && now - it->second.second < options_.resyncPeriod) {
      return it->second.first;
    }
  }
  auto info = deps_.route53.getHostedZone(zoneId);
  if (!info) return info;
  info->name = absolute(info->name);
  std::lock_guard lock(mu_);
  zoneInfo_[zoneId] = {*info, now};
  return info;
}

bool RecordReconciler::followChanges(ZoneState& state) {
  std::vector<std::string> still;
  for (const auto& id : state.pendingChanges) {
    auto change = deps_.route53.getChange(id);
    if (change && change->status == "INSYNC") continue;
    if (!change && change.error().kind == core::ErrorKind::kNotFound) continue;  // expired
    still.push_back(id);
  }
  state.pendingChanges = std::move(still);
  if (state.pendingChanges.empty() && state.everWritten && !state.inSyncSince) {
    state.inSyncSince = deps_.clock.wallNow();
  }
  return state.pendingChanges.empty();
}

core::Result<RecordReconciler::ZoneOutcome> RecordReconciler::syncZone(
    const std::string& key, const api::DnsRecordBinding& binding, const aws::HostedZoneInfo& zone,
    const std::string& type, std::vector<core::RecordCandidate> candidates,
    const InventoryInstances& listing, const std::set<std::string>& listedWithoutRecord,
    ZoneState& state, bool deleting) {
  // One plan-and-write at a time per zone: bindings of one zone never plan from a copy that
  // another's accepted batch has already changed.
  ZoneOutcome out;
  auto zoneLock = zones_.tryLockWrites(zone.id);
  if (!zoneLock.owns_lock()) {
    out.busy = true;  // another binding of the zone is writing: come back in a moment
    return out;
  }
  state.type = type;
  auto sets = zones_.get(zone.id, options_.resyncPeriod);
  if (!sets) return std::unexpected(sets.error());
  const auto bindingKey = bindingKeyOfRecordKey(key);
  const auto& policy = binding.spec.policy;
  const auto now = deps_.clock.now();

  // maxDeletionsPerSync counts the deletions of a sliding window, of the binding's sets at
  // the window's start (those now plus those deleted within it), as the target-group planner
  // counts deregistrations: a plan every 2 s must not delete a fraction each time.
  while (!state.deletions.empty() && now - state.deletions.front() >= options_.deletionWindow) {
    state.deletions.pop_front();
  }
  const int deletedInWindow = static_cast<int>(state.deletions.size());

  core::RecordPlanInput in;
  in.zoneName = zone.name;
  in.type = type;
  in.ttl = binding.spec.record.ttl;
  in.controllerId = options_.controllerId;
  in.binding = bindingKey;
  in.now = now;
  in.zone = std::move(*sets);
  in.prune = policy.prune;
  const auto owners = ownersIn(in.zone, type, options_.controllerId, bindingKey);
  const int owned = owners.mine;
  in.maxDeletions =
      std::max(0, policy.maxDeletionsPerSync.resolve(owned + deletedInWindow) - deletedInWindow);
  if (deleting) {
    in.sourceUsable = true;  // nothing is wanted any more: the binding is gone
    in.grace = std::chrono::nanoseconds::zero();
    in.minRecords = 0;
    in.prune = true;
  } else {
    in.candidates = std::move(candidates);
    in.listedWithoutRecord = listedWithoutRecord;
    for (const auto& [name, refusal] : state.refused) {
      if (refusal.times < 2) continue;  // once may be a race with another writer: try again
      // Left out of the plan, but its instance is listed: whatever it holds stays.
      std::erase_if(in.candidates, [&](const auto& c) {
        if (c.name != name) return false;
        in.listedWithoutRecord.insert(c.instanceId);
        return true;
      });
    }
    for (const auto& leaving : listing.view.leaving) in.leaving.insert(leaving.id);
    for (const auto& departed : listing.view.departed) {
      in.instanceGoneSince[departed.id] = departed.goneSince;
    }
    in.sourceUsable = listing.view.hasAnswer && !listing.view.failing;
    in.grace = policy.deregistrationGracePeriod;
    in.minRecords = policy.minRecords;
    if (deps_.bindingGone) {
      for (const auto& other : owners.otherBindings) {
        if (deps_.bindingGone(other)) in.adoptableBindings.insert(other);
      }
    }
  }

  out.plan = core::planRecords(in, state.memory);
  state.memory = out.plan.memory;
  const bool capZero = policy.maxDeletionsPerSync.resolve(owned + deletedInWindow) == 0;
  for (const auto& h : out.plan.held) {
    // A cap of 0 never lets anything go: no point in waking up for it.
    if (h.hold != core::RecordHold::kMaxDeletions || capZero) continue;
    out.capEndsAt = state.deletions.empty() ? now + options_.deletionWindow
                                            : state.deletions.front() + options_.deletionWindow;
  }
  if (out.plan.changes.empty() || options_.dryRun) return out;

  std::optional<std::uint64_t> term;
  if (deps_.writeGate) {
    term = deps_.writeGate->currentTerm();
    if (!term) {
      out.standby = true;
      return out;
    }
  }
  int callsLeft = kRefusalSearchCalls;
  for (const auto& batch : core::splitChangeBatches(out.plan.changes, options_.limits)) {
    auto sent = sendBatch(zone, bindingKey, batch, term, state, out, callsLeft);
    if (!sent) return std::unexpected(sent.error());
  }
  out.applied = out.batches > 0;
  return out;
}

core::Result<void> RecordReconciler::sendBatch(const aws::HostedZoneInfo& zone,
                                               const std::string& bindingKey,
                                               const std::vector<core::RecordChange>& batch,
                                               std::optional<std::uint64_t> term, ZoneState& state,
                                               ZoneOutcome& out, int& callsLeft) {
  if (deps_.writeGate) {
    if (auto allowed = deps_.writeGate->checkWrite(*term); !allowed) {
      return std::unexpected(allowed.error());
    }
  }
  --callsLeft;
  auto change = deps_.route53.changeResourceRecordSets(zone.id, toAws(batch),
                                                       "endpoint-binder " + bindingKey);
  if (!change) {
    // Route 53 applies a batch all or nothing. A refusal means the zone is not what we read,
    // or one change is one Route 53 will not take: read the zone again, and find the refused
    // change by halving the batch (a set and its companion stay together), so it does not
    // block every other record. A refused single change is left out of later plans for a
    // while and reported.
    zones_.expire(zone.id);
    if (change.error().code != "InvalidChangeBatch") return std::unexpected(change.error());
    const auto units = core::changeUnits(batch);
    if (units.size() == 1 || callsLeft <= 0) {
      ++out.refusals;
      if (units.size() == 1) {
        // Kept under the managed name (a unit of a companion alone is an adoption).
        std::string name = units.front().front().set.name;
        const auto prefix = core::companionName("", state.type);
        if (units.front().front().set.type == "TXT" && name.starts_with(prefix)) {
          name = name.substr(prefix.size());
        }
        auto& refusal = state.refused[name];
        refusal = {deps_.clock.now(), change.error().message, refusal.times + 1};
      }
      return std::unexpected(change.error());
    }
    const auto half = units.size() / 2;
    for (const auto& part : {std::vector(units.begin(), units.begin() + half),
                             std::vector(units.begin() + half, units.end())}) {
      std::vector<core::RecordChange> changes;
      for (const auto& unit : part) changes.insert(changes.end(), unit.begin(), unit.end());
      auto sent = sendBatch(zone, bindingKey, changes, term, state, out, callsLeft);
      if (!sent && sent.error().code != "InvalidChangeBatch") return sent;
    }
    return {};
  }
  zones_.apply(zone.id, batch);
  for (const auto& c : batch) state.refused.erase(c.set.name);
  out.accepted.insert(out.accepted.end(), batch.begin(), batch.end());
  ++out.batches;
  state.everWritten = true;
  state.inSyncSince.reset();
  const auto now = deps_.clock.now();
  for (const auto& c : batch) {
    if (c.action == core::RecordAction::kDelete && c.set.type != "TXT") {
      state.deletions.push_back(now);
    }
  }
  if (change->status != "INSYNC") state.pendingChanges.push_back(change->id);
  deps_.log.log(LogLevel::kInfo, "route 53 change submitted",
                {core::field("binding", bindingKey), core::field("zone", zone.id),
                 core::field("change", change->id),
                 core::field("changes", static_cast<long long>(batch.size())),
                 core::field("summary", changeSummary(batch))});
  return {};
}

core::Result<ReconcileResult> RecordReconciler::reconcile(const std::string& key) {
  const auto bindingKey = bindingKeyOfRecordKey(key);
  auto desired = deps_.desired(bindingKey);
  if (!desired) return reconcileDeleted(key);

  std::shared_ptr<BindingState> state;
  {
    std::lock_guard lock(mu_);
    auto& slot = bindings_[key];
    if (!slot) slot = std::make_shared<BindingState>();
    state = slot;
  }
  state->lastSpec = *desired;
  const auto& spec = desired->spec;
  const auto wallNow = deps_.clock.wallNow();
  deps_.status.update(key, [&](BindingStatus& s) {
    s.kind = api::kKindDnsRecordBinding;
    s.ns = desired->metadata.ns;
    s.name = desired->metadata.name;
    s.generation = desired->generation;
    s.targetGroupArn = "hostedzone/" + spec.hostedZoneId;
    s.lastAttemptTime = wallNow;
    if (s.creationTime == core::WallTime{}) s.creationTime = wallNow;
  });
  auto fail = [&](const std::string& condType, const std::string& reason,
                  const std::string& message) {
    deps_.status.update(key, [&](BindingStatus& s) {
      const bool changed = s.lastError != message;
      s.lastError = message;
      StatusStore::setCondition(
          s, condition(condType, ConditionStatus::kFalse, reason, message, wallNow));
      if (condType != "Synced") {
        StatusStore::setCondition(
            s, condition("Synced", ConditionStatus::kFalse, reason, message, wallNow));
      }
      StatusStore::setCondition(
          s, condition("Ready", ConditionStatus::kFalse, reason, message, wallNow));
      if (changed) {
        StatusStore::addEvent(s, Event{wallNow, EventType::kWarning, reason, message});
        deps_.log.log(LogLevel::kWarn, "records not synced",
                      {core::field("binding", bindingKey), core::field("reason", reason),
                       core::field("message", message)});
      }
    });
  };

  // The listing.
  if (!deps_.inventory) {
    fail("SourceResolved", "NoInstanceAccess",
         "instance sources need EC2 and Auto Scaling access (not configured)");
    return ReconcileResult{options_.resyncPeriod, {}};
  }
  auto listing = deps_.inventory->instances(key, false);
  if (!listing) {
    deps_.inventory->subscribe(key, spec.source);
    listing = deps_.inventory->instances(key, false);
  }
  if (!listing || !listing->view.hasAnswer) {
    if (listing && listing->view.failing) {
      fail("SourceResolved", "SourceFailing", listing->view.failureReason);
    } else {
      deps_.status.update(key, [&](BindingStatus& s) {
        StatusStore::setCondition(
            s, condition("SourceResolved", ConditionStatus::kUnknown, "WaitingForListing",
                         "waiting for the first instance listing", wallNow));
      });
    }
    return ReconcileResult{};  // the inventory wakes the binding when it has an answer
  }

  // The zone.
  auto zone = zoneInfo(spec.hostedZoneId);
  if (!zone) {
    const bool notFound = zone.error().kind == core::ErrorKind::kNotFound;
    fail("Synced", notFound ? "HostedZoneNotFound" : "Route53Error",
         "GetHostedZone " + spec.hostedZoneId + ": " + zone.error().toString());
    if (notFound) return ReconcileResult{options_.resyncPeriod, {}};
    return std::unexpected(zone.error());
  }
  if (!zone->privateZone) {
    fail("Synced", "ZoneNotPrivate",
         "hosted zone " + zone->name + " (" + zone->id +
             ") is public: a DNSRecordBinding writes private zones only (instance addresses "
             "are private)");
    return ReconcileResult{options_.resyncPeriod, {}};
  }
  const std::string type = recordTypeName(*desired);
  const auto& record = spec.record;
  auto [candidates, unnamed, noAddress, otherVpc] =
      recordCandidates(*desired, *zone, listing->instances);
  // Listed instances that give no record now keep the names they have (a disallowed picture
  // is not a departure).
  std::set<std::string> withoutRecord(unnamed.begin(), unnamed.end());
  withoutRecord.insert(noAddress.begin(), noAddress.end());
  for (const auto& [vpc, ids] : otherVpc) withoutRecord.insert(ids.begin(), ids.end());
  const auto now = deps_.clock.now();
  for (auto* zoneState : {&state->forward, &state->reverse}) {
    std::erase_if(zoneState->refused,
                  [&](const auto& r) { return now - r.second.at >= options_.refusalRetry; });
  }

  auto forward = syncZone(key, *desired, *zone, type, candidates, *listing, withoutRecord,
                          state->forward, false);
  if (!forward) {
    fail("Synced", forward.error().code == "InvalidChangeBatch" ? "ChangeRefused" : "Route53Error",
         forward.error().toString());
    return std::unexpected(forward.error());
  }
  if (forward->busy) return ReconcileResult{kZoneBusyRetry, {}};

  // The reverse zone: PTR records for the instances that hold their forward name.
  std::optional<ZoneOutcome> reverse;
  std::map<std::string, std::vector<std::string>> reverseUnassociated;  // vpc -> instances
  std::string reverseZoneName;
  if (spec.reverseHostedZoneId) {
    auto reverseZone = zoneInfo(*spec.reverseHostedZoneId);
    if (!reverseZone) {
      fail("Synced", "Route53Error",
           "GetHostedZone " + *spec.reverseHostedZoneId + ": " + reverseZone.error().toString());
      return std::unexpected(reverseZone.error());
    }
    if (!reverseZone->privateZone) {
      fail("Synced", "ZoneNotPrivate",
           "reverse hosted zone " + reverseZone->name + " is public: private zones only");
      return ReconcileResult{options_.resyncPeriod, {}};
    }
    // Only instances that hold their forward name get a PTR record pointing at it, and only
    // in VPCs the reverse zone serves (elsewhere it would not resolve).
    std::set<std::string> reverseVpcs;
    for (const auto& vpc : reverseZone->vpcs) reverseVpcs.insert(vpc.vpcId);
    std::map<std::string, std::string> vpcOf;
    for (const auto& instance : listing->instances) vpcOf[instance.id] = instance.vpcId;
    auto reverseWithoutRecord = withoutRecord;
    std::vector<core::RecordCandidate> served;
    for (const auto& c : candidates) {
      const auto& vpc = vpcOf[c.instanceId];
      if (!vpc.empty() && !reverseVpcs.contains(vpc)) {
        reverseWithoutRecord.insert(c.instanceId);
        reverseUnassociated[vpc].push_back(c.instanceId);
      } else {
        served.push_back(c);
      }
    }
    auto ptrs = reverseCandidates(served, forward->plan.conflicts, reverseZone->name);
    reverseZoneName = reverseZone->name;
    auto outcome = syncZone(key, *desired, *reverseZone, "PTR", ptrs, *listing,
                            reverseWithoutRecord, state->reverse, false);
    if (!outcome) {
      fail("Synced", "Route53Error", outcome.error().toString());
      return std::unexpected(outcome.error());
    }
    if (outcome->busy) return ReconcileResult{kZoneBusyRetry, {}};
    reverse = std::move(*outcome);
  }

  const bool forwardInSync = followChanges(state->forward);
  const bool reverseInSync = !reverse || followChanges(state->reverse);
  const bool inSync = forwardInSync && reverseInSync;

  // Status.
  const auto& plan = forward->plan;
  const int refusedNow = forward->refusals + (reverse ? reverse->refusals : 0);
  const bool failing = listing->view.failing;
  deps_.status.update(key, [&](BindingStatus& s) {
    // Counts after this sync's accepted writes (the plan's are from before them).
    int written = 0;
    int deleted = 0;
    for (const auto& c : forward->accepted) {
      if (c.set.type != type) continue;
      (c.action == core::RecordAction::kDelete ? deleted : written) += 1;
    }
    s.counts = TargetCounts{};
    s.counts.desired = plan.desired;
    s.counts.registered = plan.present + written;
    s.counts.missing = std::max(0, plan.missing - written);
    s.counts.unexpected = std::max(0, plan.unexpected - deleted);
    s.observedGeneration = desired->generation;
    s.lastError.clear();
    if (!options_.dryRun && !forward->standby) s.lastSyncTime = wallNow;
    PlanSummary summary;
    for (const auto* outcome : {&*forward, reverse ? &*reverse : nullptr}) {
      if (!outcome) continue;
      for (const auto& c : outcome->plan.changes) {
        if (c.set.type == "TXT") continue;
        const auto what = c.set.name + " " + c.set.type;
        if (c.action == core::RecordAction::kDelete) {
          summary.toDeregister.push_back(what);
        } else {
          summary.toRegister.push_back(what + " " + c.set.values.front());
        }
      }
      for (const auto& h : outcome->plan.held) {
        summary.held.push_back(h.name + ": " + core::recordHoldName(h.hold));
      }
    }
    summary.applied = forward->applied;
    summary.time = wallNow;
    if (!summary.toRegister.empty() || !summary.toDeregister.empty() || !summary.held.empty() ||
        !s.lastPlan) {
      s.lastPlan = summary;
    }
    StatusStore::setCondition(
        s, condition("SourceResolved", failing ? ConditionStatus::kFalse : ConditionStatus::kTrue,
                     failing ? "SourceFailing" : "Listed",
                     failing ? listing->view.failureReason
                             : std::to_string(listing->instances.size()) + " instances listed",
                     wallNow));
    std::vector<std::string> problems;
    if (!otherVpc.empty()) {
      std::vector<std::string> vpcs;
      for (const auto& [vpc, ids] : otherVpc)
        vpcs.push_back(vpc + " (" + joinLimited(ids, 3) + ")");
      problems.push_back("hosted zone " + zone->name + " is not associated with " +
                         joinLimited(vpcs) + ": those instances get no record");
    }
    if (!reverseUnassociated.empty()) {
      std::vector<std::string> vpcs;
      for (const auto& [vpc, ids] : reverseUnassociated) {
        vpcs.push_back(vpc + " (" + joinLimited(ids, 3) + ")");
      }
      problems.push_back("reverse zone " + reverseZoneName + " is not associated with " +
                         joinLimited(vpcs) + ": those instances get no PTR record");
    }
    std::vector<std::string> refusals;
    for (const auto* zoneState : {&state->forward, &state->reverse}) {
      for (const auto& [name, refusal] : zoneState->refused) {
        if (refusal.times >= 2) refusals.push_back(name + ": " + refusal.message);
      }
    }
    if (!unnamed.empty()) {
      problems.push_back(std::to_string(unnamed.size()) + " instances without a usable name from " +
                         record.nameFrom + " (" + joinLimited(unnamed, 3) + ")");
    }
    if (!noAddress.empty()) {
      problems.push_back(std::to_string(noAddress.size()) + " instances without a " +
                         (type == "A" ? "private IPv4" : "IPv6") + " address (" +
                         joinLimited(noAddress, 3) + ")");
    }
    if (!otherVpc.empty() || !reverseUnassociated.empty()) {
      StatusStore::setCondition(s, condition("Synced", ConditionStatus::kFalse, "ZoneNotAssociated",
                                             problems.front(), wallNow));
    } else if (refusedNow > 0) {
      StatusStore::setCondition(
          s, condition("Synced", ConditionStatus::kFalse, "ChangeRefused",
                       std::to_string(refusedNow) +
                           " changes Route 53 refused; the zone is read again and they are "
                           "planned again",
                       wallNow));
    } else if (!refusals.empty()) {
      StatusStore::setCondition(
          s, condition("Synced", ConditionStatus::kFalse, "RejectedByRoute53",
                       std::to_string(refusals.size()) + " names Route 53 refused (tried again " +
                           "after the retry time): " + joinLimited(refusals, 3),
                       wallNow));
    } else if (forward->standby) {
      StatusStore::setCondition(
          s, condition("Synced", ConditionStatus::kTrue, "Standby",
                       "planned without writing: this replica is a standby", wallNow));
    } else {
      StatusStore::setCondition(
          s, condition("Synced", ConditionStatus::kTrue, options_.dryRun ? "DryRun" : "Synced",
                       options_.dryRun ? "planned without writing (--dry-run)"
                                       : "records match the plan" +
                                             (problems.empty() ? std::string()
                                                               : "; " + joinLimited(problems, 3)),
                       wallNow));
    }
    if (plan.conflicts.empty()) {
      StatusStore::setCondition(s,
                                condition("Conflict", ConditionStatus::kFalse, "Owned",
                                          "every name is free or owned by this binding", wallNow));
    } else {
      std::vector<std::string> items;
      for (const auto& c : plan.conflicts) {
        items.push_back(c.name + " for " + c.instanceId + ": " +
                        core::recordConflictReasonName(c.reason) + " (" + c.detail + ")");
      }
      StatusStore::setCondition(
          s, condition("Conflict", ConditionStatus::kTrue,
                       core::recordConflictReasonName(plan.conflicts.front().reason),
                       std::to_string(plan.conflicts.size()) +
                           " names not written: " + joinLimited(items, 3),
                       wallNow));
    }
    if (state->forward.everWritten || (reverse && state->reverse.everWritten)) {
      StatusStore::setCondition(
          s, condition("InSync", inSync ? ConditionStatus::kTrue : ConditionStatus::kFalse,
                       inSync ? "INSYNC" : "PENDING",
                       inSync ? "Route 53 has propagated every change: the names resolve"
                              : "Route 53 is propagating the last change",
                       wallNow));
    }
    const bool ready =
        !failing && s.counts.missing == 0 && inSync && refusals.empty() && refusedNow == 0;
    StatusStore::setCondition(
        s, condition("Ready", ready ? ConditionStatus::kTrue : ConditionStatus::kFalse,
                     ready ? "Converged"
                           : (failing             ? "SourceFailing"
                              : !refusals.empty() ? "RejectedByRoute53"
                                                  : "Converging"),
                     ready ? "every listed instance has its record"
                     : s.counts.missing + static_cast<int>(refusals.size()) > 0
                         ? std::to_string(s.counts.missing + static_cast<int>(refusals.size())) +
                               " names missing or refused"
                         : "Route 53 is propagating the last change",
                     wallNow));
    for (const auto* outcome : {&*forward, reverse ? &*reverse : nullptr}) {
      if (!outcome || outcome->accepted.empty()) continue;
      StatusStore::addEvent(s, Event{wallNow, EventType::kNormal, "RecordsChanged",
                                     changeSummary(outcome->accepted)});
    }
  });

  ReconcileResult result;
  std::optional<core::MonoTime> next;
  auto sooner = [&](const std::optional<core::MonoTime>& at) {
    if (at && (!next || *at < *next)) next = at;
  };
  sooner(plan.nextDeadline);
  sooner(forward->capEndsAt);
  if (reverse) {
    sooner(reverse->plan.nextDeadline);
    sooner(reverse->capEndsAt);
  }
  if (next)
    result.requeueAfter =
        std::max<std::chrono::nanoseconds>(*next - now, std::chrono::milliseconds(100));
  if ((!inSync || refusedNow > 0) &&
      (!result.requeueAfter || *result.requeueAfter > options_.changePoll)) {
    result.requeueAfter = options_.changePoll;
  }
  return result;
}

core::Result<ReconcileResult> RecordReconciler::reconcileDeleted(const std::string& key) {
  std::shared_ptr<BindingState> state;
  {
    std::lock_guard lock(mu_);
    auto it = bindings_.find(key);
    if (it != bindings_.end()) state = it->second;
  }
  if (deps_.inventory) deps_.inventory->unsubscribe(key);
  if (state && state->lastSpec.spec.policy.deletionPolicy == api::DeletionPolicy::kDeregister) {
    const auto& binding = state->lastSpec;
    const InventoryInstances nothing;
    struct DeletedZone {
      std::string id;
      std::string type;
      ZoneState* state;
    };
    std::vector<DeletedZone> zones = {
        {binding.spec.hostedZoneId, recordTypeName(binding), &state->forward}};
    if (binding.spec.reverseHostedZoneId) {
      zones.push_back({*binding.spec.reverseHostedZoneId, "PTR", &state->reverse});
    }
    ReconcileResult result;
    std::optional<core::MonoTime> capEndsAt;
    bool waiting = false;  // for a successor, or for Route 53 to take a refused change
    for (const auto& z : zones) {
      // A zone another live binding names: that binding adopts the names it wants (they are
      // this binding's, confirmed gone). Wake it, wait until it has synced since, then delete
      // only what still carries this binding's companion — never a name it took over.
      std::vector<std::string> successors;
      if (deps_.bindingsNamingZone) successors = deps_.bindingsNamingZone(z.id);
      std::erase(successors, key);
      if (!successors.empty()) {
        if (!state->handoverSince) {
          state->handoverSince = deps_.clock.wallNow();
          deps_.log.log(
              LogLevel::kInfo,
              "binding deleted: waiting for the zone's bindings to "
              "adopt the names they want before deleting the rest",
              {core::field("binding", bindingKeyOfRecordKey(key)), core::field("zone", z.id),
               core::field("bindings", static_cast<long long>(successors.size()))});
        }
        bool synced = true;
        for (const auto& successor : successors) {
          auto status = deps_.status.get(successor);
          if (!status || !status->lastSyncTime || *status->lastSyncTime <= *state->handoverSince) {
            synced = false;
          }
        }
        if (!synced) {
          result.wake.insert(result.wake.end(), successors.begin(), successors.end());
          waiting = true;
          continue;
        }
      }
      auto zone = zoneInfo(z.id);
      if (!zone) {
        if (zone.error().kind == core::ErrorKind::kNotFound) continue;  // nothing left to delete
        return std::unexpected(zone.error());
      }
      auto outcome = syncZone(key, binding, *zone, z.type, {}, nothing, {}, *z.state, true);
      if (!outcome) return std::unexpected(outcome.error());
      if (outcome->standby)
        return ReconcileResult{options_.resyncPeriod, {}};  // the leader does it
      if (outcome->busy || outcome->refusals > 0) waiting = true;
      if (outcome->capEndsAt && (!capEndsAt || *outcome->capEndsAt < *capEndsAt)) {
        capEndsAt = outcome->capEndsAt;
      }
    }
    if (waiting) {
      result.requeueAfter = options_.changePoll;
      return result;
    }
    if (capEndsAt) {
      // maxDeletionsPerSync paces a deletion too: the rest goes in later windows.
      result.requeueAfter = std::max<std::chrono::nanoseconds>(*capEndsAt - deps_.clock.now(),
                                                               std::chrono::milliseconds(100));
      return result;
    }
    deps_.log.log(LogLevel::kInfo, "binding deleted: its records deleted",
                  {core::field("binding", bindingKeyOfRecordKey(key))});
    {
      std::lock_guard lock(mu_);
      bindings_.erase(key);
    }
    deps_.status.erase(key);
    return result;
  }
  if (state) {
    deps_.log.log(LogLevel::kInfo, "binding deleted: its records retained",
                  {core::field("binding", bindingKeyOfRecordKey(key))});
  }
  {
    std::lock_guard lock(mu_);
    bindings_.erase(key);
  }
  deps_.status.erase(key);
  return ReconcileResult{};
}

}  // namespace endpointbinder::runtime
