#include "controller/core/endpoint_tracker.h"

#include <algorithm>
#include <utility>

namespace endpointbinder::core {

namespace {

void moveForward(std::optional<MonoTime>& time, MonoTime now) {
  time = time ? std::max(*time, now) : now;
}

}  // namespace

void EndpointTracker::recordListing(const std::vector<Target>& listed, MonoTime now) {
  const bool recovering = failingSince_.has_value();
  for (auto& [key, entry] : entries_) {
    // The last good listing stood in for the source during the outage.
    if (recovering && entry.listed) moveForward(entry.lastSeen, now);
    entry.listed = false;
  }
  failingSince_.reset();
  failureReason_.clear();
  for (const auto& target : listed) {
    Entry& entry = entries_[target.key()];
    moveForward(entry.lastSeen, now);
    entry.listed = true;
    entry.everListed = true;
    entry.lastPresent = std::max(entry.lastPresent, now);
  }
  forget(now);
}

void EndpointTracker::recordListedUntil(const Target& target, MonoTime until) {
  const auto it = entries_.find(target.key());
  if (it == entries_.end()) return;
  moveForward(it->second.lastSeen, until);
  it->second.lastPresent = std::max(it->second.lastPresent, until);
}

void EndpointTracker::recordSourceFailure(std::string reason, MonoTime now) {
  if (!failingSince_) failingSince_ = now;
  failureReason_ = std::move(reason);
}

void EndpointTracker::recordObserved(const std::vector<ObservedTarget>& observed, MonoTime now) {
  // Duplicate keys (never sent by AWS) are merged so the result does not depend on their order:
  // registered if any copy is, unhealthy if any copy is.
  struct Seen {
    bool registered = false;
    bool unhealthy = false;
  };
  std::unordered_map<std::string, Seen> seen;
  seen.reserve(observed.size());
  for (const auto& target : observed) {
    Seen& s = seen[target.target.key()];
    s.registered = s.registered || isRegistered(target);
    s.unhealthy = s.unhealthy || target.state == TargetState::kUnhealthy;
  }
  for (auto& [key, entry] : entries_) entry.inGroup = false;
  for (const auto& [key, s] : seen) {
    Entry& entry = entries_[key];
    entry.inGroup = true;
    entry.lastPresent = std::max(entry.lastPresent, now);
    if (!entry.lastSeen && s.registered) entry.lastSeen = now;
    if (!s.unhealthy) {
      entry.unhealthySince.reset();
    } else if (!entry.unhealthySince) {
      entry.unhealthySince = now;
    }
  }
  for (auto& item : entries_) {
    if (!item.second.inGroup) item.second.unhealthySince.reset();
  }
  forget(now);
}

void EndpointTracker::forget(MonoTime now) {
  std::erase_if(entries_, [&](const auto& item) {
    const Entry& entry = item.second;
    return !entry.listed && !entry.inGroup && now - entry.lastPresent > forgetAfter_;
  });
}

const EndpointTracker::Entry* EndpointTracker::find(const std::string& targetKey) const {
  const auto it = entries_.find(targetKey);
  return it == entries_.end() ? nullptr : &it->second;
}

std::optional<MonoTime> EndpointTracker::lastSeen(const std::string& targetKey) const {
  const Entry* entry = find(targetKey);
  return entry ? entry->lastSeen : std::nullopt;
}

std::optional<MonoTime> EndpointTracker::unhealthySince(const std::string& targetKey) const {
  const Entry* entry = find(targetKey);
  return entry ? entry->unhealthySince : std::nullopt;
}

bool EndpointTracker::listedNow(const std::string& targetKey) const {
  const Entry* entry = find(targetKey);
  return entry != nullptr && entry->listed;
}

bool EndpointTracker::everListed(const std::string& targetKey) const {
  const Entry* entry = find(targetKey);
  return entry != nullptr && entry->everListed;
}

}  // namespace endpointbinder::core
