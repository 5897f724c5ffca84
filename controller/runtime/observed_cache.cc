#include "controller/runtime/observed_cache.h"

#include <algorithm>

namespace endpointbinder::runtime {

ObservedCache::ObservedCache(const core::Clock& clock, Options options)
    : clock_(clock), options_(options) {}

core::Result<ObservedCache::Snapshot> ObservedCache::targets(
    aws::TargetGroupApi& api, const std::string& arn, bool forceRefresh,
    std::optional<std::chrono::nanoseconds> maxAge) {
  const auto now = clock_.now();
  const auto age = maxAge.value_or(options_.maxAge);
  {
    std::lock_guard lock(mu_);
    auto& entry = entries_[arn];
    if (entry.raw && !forceRefresh && !entry.expired && now - entry.readAt < age) {
      settleExpectations(entry, now);
      auto snapshot = patched(entry, now);
      snapshot.fromCache = true;
      return snapshot;
    }
  }
  // The AWS call happens outside the lock: other groups must not wait on this one.
  auto fresh = api.describeTargetHealth(arn);
  if (!fresh) return std::unexpected(fresh.error());
  std::lock_guard lock(mu_);
  auto& entry = entries_[arn];
  entry.raw = std::move(*fresh);
  entry.readAt = now;
  entry.expired = false;
  settleExpectations(entry, now);
  return patched(entry, now);
}

void ObservedCache::expectRegistered(const std::string& arn,
                                     const std::vector<core::Target>& targets) {
  std::lock_guard lock(mu_);
  auto& entry = entries_[arn];
  const auto deadline = clock_.now() + options_.expectationTimeout;
  for (const auto& t : targets) entry.expectations[t.key()] = Expectation{t, true, deadline};
}

void ObservedCache::expectDeregistered(const std::string& arn,
                                       const std::vector<core::Target>& targets) {
  std::lock_guard lock(mu_);
  auto& entry = entries_[arn];
  const auto deadline = clock_.now() + options_.expectationTimeout;
  for (const auto& t : targets) entry.expectations[t.key()] = Expectation{t, false, deadline};
}

void ObservedCache::expire(const std::string& arn) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(arn);
  if (it != entries_.end()) it->second.expired = true;
}

void ObservedCache::invalidate(const std::string& arn) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(arn);
  if (it != entries_.end()) it->second.raw.reset();
}

void ObservedCache::forget(const std::string& arn) {
  std::lock_guard lock(mu_);
  entries_.erase(arn);
}

// An expectation is met once AWS shows the change (registered: present and not leaving;
// deregistered: absent or leaving), and dropped after its timeout either way so a write AWS
// silently lost is retried rather than masked forever.
void ObservedCache::settleExpectations(Entry& entry, core::MonoTime now) {
  if (!entry.raw) return;
  std::map<std::string, const core::ObservedTarget*> byKey;
  for (const auto& o : *entry.raw) byKey[o.target.key()] = &o;
  std::erase_if(entry.expectations, [&](const auto& item) {
    const auto& [key, expectation] = item;
    if (now >= expectation.deadline) return true;
    auto it = byKey.find(key);
    const bool present = it != byKey.end() && core::isRegistered(*it->second);
    return expectation.registered == present;
  });
}

ObservedCache::Snapshot ObservedCache::patched(Entry& entry, core::MonoTime) const {
  Snapshot snapshot;
  snapshot.readAt = entry.readAt;
  snapshot.pendingExpectations = entry.expectations.size();
  if (entry.raw) snapshot.targets = *entry.raw;
  for (const auto& [key, expectation] : entry.expectations) {
    auto it = std::find_if(snapshot.targets.begin(), snapshot.targets.end(),
                           [&](const core::ObservedTarget& o) { return o.target.key() == key; });
    const auto state =
        expectation.registered ? core::TargetState::kInitial : core::TargetState::kDraining;
    const char* reason =
        expectation.registered ? "Elb.RegistrationInProgress" : "Target.DeregistrationInProgress";
    if (it == snapshot.targets.end()) {
      if (expectation.registered) {
        snapshot.targets.push_back(core::ObservedTarget{expectation.target, state, reason, ""});
      }
    } else {
      it->state = state;
      it->reason = reason;
    }
  }
  return snapshot;
}

}  // namespace endpointbinder::runtime
