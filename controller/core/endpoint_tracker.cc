#include "controller/core/endpoint_tracker.h"

#include <algorithm>
#include <utility>

namespace endpointbinder::core {

namespace {

void moveForward(std::optional<MonoTime>& time, MonoTime now) {
  time = time ? std::max(*time, now) : now;
}

}  // namespace

void EndpointTracker::recordListing(const SourceListing& listing, MonoTime now) {
  const bool recovering = failingSince_.has_value();
  // Departure times from the source describe the listing we hold only if the same binding
  // and spec produced both; otherwise the previous listing stood until this one replaced it.
  const bool sameLineage = anyListing_ && listing.lineage == lineage_;
  if (!sameLineage) rejections_.clear();
  std::unordered_map<std::string, const Target*> next;
  next.reserve(listing.targets.size());
  for (const auto& target : listing.targets) next.emplace(target.key(), &target);
  for (auto& [key, entry] : entries_) {
    if (!entry.listed) {
      // Listed by answers no reconcile saw (between two reconciles), then dropped: the source
      // says until when.
      if (sameLineage && !next.contains(key)) {
        if (const auto it = listing.departedAt.find(key); it != listing.departedAt.end()) {
          moveForward(entry.lastSeen, std::min(it->second, now));
        }
      }
      continue;
    }
    if (next.contains(key)) {
      // The last good listing stood in for the source during the outage.
      if (recovering) moveForward(entry.lastSeen, now);
      continue;
    }
    MonoTime goneAt = now;
    // After an outage the departure is only known now: nothing trustworthy was said meanwhile.
    if (sameLineage && !recovering) {
      if (const auto it = listing.departedAt.find(key); it != listing.departedAt.end()) {
        goneAt = std::min(it->second, now);
      }
    }
    moveForward(entry.lastSeen, goneAt);
    entry.lastPresent = std::max(entry.lastPresent, goneAt);
    entry.listed = false;
  }
  failingSince_.reset();
  failureReason_.clear();
  lineage_ = listing.lineage;
  anyListing_ = true;
  for (const auto& [key, reason] : listing.leaving) {
    if (next.contains(key)) continue;
    Entry& entry = entries_[key];
    entry.leaving = reason;
    entry.lastPresent = std::max(entry.lastPresent, now);
  }
  const MonoTime confirmedAt = std::min(listing.confirmedAt, now);
  for (const auto& [key, target] : next) {
    Entry& entry = entries_[key];
    moveForward(entry.lastSeen, confirmedAt);
    entry.listed = true;
    entry.leaving.reset();
    entry.everListed = true;
    if (entry.listedBy != listing.bindingKey)
      entry.listedBy = listing.bindingKey;  // usually unchanged: no copy
    entry.lastPresent = std::max(entry.lastPresent, now);
  }
  forget(now);
}

void EndpointTracker::recordListing(const std::vector<Target>& listed, MonoTime now) {
  SourceListing listing;
  listing.targets = listed;
  listing.confirmedAt = now;
  listing.lineage = lineage_;  // the anonymous lineage continues whatever came before
  listing.bindingKey.clear();
  recordListing(listing, now);
}

void EndpointTracker::recordSourceFailure(std::string reason, MonoTime now,
                                          const std::vector<Target>& lastGood) {
  if (!failingSince_) failingSince_ = now;
  failureReason_ = std::move(reason);
  for (const auto& target : lastGood) {
    Entry& entry = entries_[target.key()];
    moveForward(entry.lastSeen, now);
    entry.listed = true;
    entry.everListed = true;
    entry.lastPresent = std::max(entry.lastPresent, now);
  }
}

void EndpointTracker::markAllSeen(MonoTime now) {
  for (auto& [key, entry] : entries_) moveForward(entry.lastSeen, now);
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

void EndpointTracker::recordRejected(const Target& target, std::string message, MonoTime retryAt) {
  rejections_[target.key()] = Rejection{std::move(message), retryAt};
}

std::optional<std::string> EndpointTracker::rejection(const std::string& targetKey,
                                                      MonoTime now) const {
  const auto it = rejections_.find(targetKey);
  if (it == rejections_.end() || now >= it->second.retryAt) return std::nullopt;
  return it->second.message;
}

void EndpointTracker::recordDeregistered(size_t count, MonoTime now) {
  for (size_t i = 0; i < count; ++i) deregistrations_.push_back(now);
}

size_t EndpointTracker::deregisteredWithin(MonoTime::duration window, MonoTime now) const {
  size_t count = 0;
  for (auto it = deregistrations_.rbegin(); it != deregistrations_.rend(); ++it) {
    if (now - *it >= window) break;
    ++count;
  }
  return count;
}

std::optional<MonoTime> EndpointTracker::windowFreesAt(MonoTime::duration window,
                                                       MonoTime now) const {
  for (const auto& at : deregistrations_) {
    if (now - at < window) return at + window;
  }
  return std::nullopt;
}

void EndpointTracker::forget(MonoTime now) {
  // Deregistrations older than any window worth asking about; refusals past their retry.
  while (!deregistrations_.empty() && now - deregistrations_.front() > forgetAfter_) {
    deregistrations_.pop_front();
  }
  std::erase_if(rejections_, [&](const auto& item) { return now >= item.second.retryAt; });
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

std::optional<std::string> EndpointTracker::leavingReason(const std::string& targetKey) const {
  const Entry* entry = find(targetKey);
  return entry ? entry->leaving : std::nullopt;
}

bool EndpointTracker::lastListedBy(const std::string& targetKey,
                                   const std::string& bindingKey) const {
  const Entry* entry = find(targetKey);
  return entry != nullptr && entry->listedBy == bindingKey;
}

}  // namespace endpointbinder::core
