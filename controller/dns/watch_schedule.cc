#include "controller/dns/watch_schedule.h"

#include <algorithm>
#include <cctype>
#include <limits>
#include <set>

namespace endpointbinder::dns {
namespace {

std::string normalizeHostname(std::string_view hostname) {
  std::string name(hostname);
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (!name.empty() && name.back() == '.') name.pop_back();
  return name;
}

template <typename D>
Duration toDuration(D d) {
  return std::chrono::duration_cast<Duration>(d);
}

}  // namespace

AddressFamilies familiesOf(const api::DnsSource& source) {
  AddressFamilies families{source.ipv4, source.ipv6};
  if (!families.ipv4 && !families.ipv6) families.ipv4 = true;
  return families;
}

std::vector<api::IpAddress> filterFamilies(const std::vector<api::IpAddress>& addresses,
                                           AddressFamilies families) {
  std::vector<api::IpAddress> kept;
  for (const auto& address : addresses) {
    if (address.isV4() ? families.ipv4 : families.ipv6) kept.push_back(address);
  }
  return kept;
}

int quietLookupsToStop(size_t seen, double missBound) {
  constexpr int kNoEnd = std::numeric_limits<int>::max();  // only the lookup cap ends it
  if (missBound >= 1.0) return 0;
  if (missBound <= 0.0) return kNoEnd;
  // Each quiet lookup happens with probability at most (k - 7) / (k + 1) while an address is
  // unseen (watch_schedule.h). Counted rather than computed with logarithms so the result is
  // exactly the smallest r, with no rounding at the boundaries.
  const double k = static_cast<double>(std::max(seen, kRoute53MaxAnswer));
  const double quiet = (k - 7.0) / (k + 1.0);
  double chance = 1.0;
  int runs = 0;
  while (chance > missBound) {  // ends: quiet < 1, so chance falls to missBound (or to 0)
    chance *= quiet;
    ++runs;
  }
  return runs;
}

bool wantsAnotherLookup(const RefreshTicket& ticket, const std::vector<LookupResult>& made,
                        const WatchScheduleOptions& options) {
  const size_t minimum = static_cast<size_t>(std::max(ticket.lookups, 1));
  if (made.size() < minimum) return true;
  if (made.size() >=
      std::max(minimum, static_cast<size_t>(std::max(options.maxLookupsPerRefresh, 0)))) {
    return false;
  }
  const LookupResult& last = made.back();
  if (!last.outcome.ok()) return false;  // never look again after a failure
  std::chrono::nanoseconds spent{0};
  for (const auto& lookup : made) spent += lookup.latency;
  if (spent >= options.extraLookupBudget) return false;

  for (const bool v4 : {true, false}) {
    const auto ofFamily = [v4](const api::IpAddress& address) { return address.isV4() == v4; };
    const auto& lastAddresses = last.outcome.answer.addresses;
    if (static_cast<size_t>(std::count_if(lastAddresses.begin(), lastAddresses.end(), ofFamily)) !=
        kRoute53MaxAnswer) {
      continue;  // fewer: that answer was the whole set; more: not cut short by Route 53
    }
    // Distinct addresses of the family seen, and successful lookups since one added some.
    std::set<api::IpAddress> seen;
    int quiet = 0;
    for (const auto& lookup : made) {
      if (!lookup.outcome.ok()) continue;  // no evidence either way
      bool added = false;
      for (const auto& address : lookup.outcome.answer.addresses) {
        if (ofFamily(address) && seen.insert(address).second) added = true;
      }
      quiet = added ? 0 : quiet + 1;
    }
    if (quiet < quietLookupsToStop(seen.size(), options.truncatedMissBound)) return true;
  }
  return false;
}

uint64_t WatcherStats::totalLookups() const {
  uint64_t total = 0;
  for (auto count : lookups) total += count;
  return total;
}

WatchSchedule::WatchSchedule(Random& random, WatchScheduleOptions options)
    : random_(random), options_(options) {}

RefreshParams WatchSchedule::mergeParams(const std::map<std::string, api::DnsSource>& subscribers) {
  RefreshParams merged;
  bool first = true;
  for (const auto& [key, source] : subscribers) {
    const AddressFamilies families = familiesOf(source);
    if (first) {
      merged.families = families;
      merged.lookupsPerRefresh = source.lookupsPerRefresh;
      merged.minRefreshInterval = source.minRefreshInterval;
      merged.maxRefreshInterval = source.maxRefreshInterval;
      first = false;
      continue;
    }
    merged.families.ipv4 = merged.families.ipv4 || families.ipv4;
    merged.families.ipv6 = merged.families.ipv6 || families.ipv6;
    merged.lookupsPerRefresh = std::max(merged.lookupsPerRefresh, source.lookupsPerRefresh);
    merged.minRefreshInterval = std::min(merged.minRefreshInterval, source.minRefreshInterval);
    merged.maxRefreshInterval = std::min(merged.maxRefreshInterval, source.maxRefreshInterval);
  }
  merged.lookupsPerRefresh = std::max(merged.lookupsPerRefresh, 1);
  merged.minRefreshInterval = std::max(merged.minRefreshInterval, Duration::zero());
  merged.maxRefreshInterval = std::max(merged.maxRefreshInterval, merged.minRefreshInterval);
  return merged;
}

Duration WatchSchedule::floor(Duration interval) const {
  return std::max(interval, options_.intervalFloor);
}

Duration WatchSchedule::withJitter(Duration interval) {
  const double fraction = std::clamp(options_.jitterFraction, 0.0, 1.0);
  const auto bound =
      std::min(toDuration(std::chrono::duration<double, std::milli>(interval.count() * fraction)),
               options_.maxJitter);
  if (bound <= Duration::zero()) return interval;
  const double draw = std::clamp(random_.uniform(), 0.0, 1.0);
  // uniform() is in [0, 1), so the jitter stays strictly below `bound` (plus rounding).
  return interval +
         std::min(toDuration(std::chrono::duration<double, std::milli>(bound.count() * draw)),
                  bound);
}

bool WatchSchedule::subscribe(const std::string& bindingKey, const api::DnsSource& source,
                              core::MonoTime now) {
  const std::string hostname = normalizeHostname(source.hostname);
  if (auto previous = bindingHost_.find(bindingKey);
      previous != bindingHost_.end() && previous->second != hostname) {
    unsubscribe(bindingKey);
  }
  bindingHost_[bindingKey] = hostname;
  auto [it, created] = targets_.try_emplace(hostname);
  Target& target = it->second;
  target.subscribers[bindingKey] = source;
  const RefreshParams before = target.params;
  target.params = mergeParams(target.subscribers);
  if (created) {
    setNextRefresh(hostname, target, now);
  } else if (!target.inFlight && target.params != before) {
    const bool familyAdded = (target.params.families.ipv4 && !before.families.ipv4) ||
                             (target.params.families.ipv6 && !before.families.ipv6);
    if (familyAdded) {
      setNextRefresh(hostname, target, now);
    } else {
      setNextRefresh(hostname, target,
                     std::min(target.nextRefresh, now + floor(target.params.maxRefreshInterval)));
    }
  }
  stats_.hostnames = targets_.size();
  stats_.subscriptions = bindingHost_.size();
  return created;
}

bool WatchSchedule::unsubscribe(const std::string& bindingKey) {
  auto binding = bindingHost_.find(bindingKey);
  if (binding == bindingHost_.end()) return false;
  auto target = targets_.find(binding->second);
  bindingHost_.erase(binding);
  if (target != targets_.end()) {
    target->second.subscribers.erase(bindingKey);
    if (target->second.subscribers.empty()) {
      if (!target->second.inFlight) due_.erase({target->second.nextRefresh, target->first});
      targets_.erase(target);
    } else {
      target->second.params = mergeParams(target->second.subscribers);
    }
  }
  stats_.hostnames = targets_.size();
  stats_.subscriptions = bindingHost_.size();
  return true;
}

void WatchSchedule::setNextRefresh(const std::string& hostname, Target& target,
                                   core::MonoTime when) {
  // Only targets with no refresh in flight are indexed (takeDue must not hand them out).
  if (!target.inFlight) due_.erase({target.nextRefresh, hostname});
  target.nextRefresh = when;
  if (!target.inFlight) due_.emplace(when, hostname);
}

std::vector<RefreshTicket> WatchSchedule::takeDue(core::MonoTime now, size_t limit) {
  std::vector<RefreshTicket> tickets;
  while (tickets.size() < limit && !due_.empty() && due_.begin()->first <= now) {
    auto node = due_.extract(due_.begin());
    Target& target = targets_.at(node.value().second);
    target.inFlight = nextTicket_++;
    tickets.push_back(RefreshTicket{std::move(node.value().second), target.params.families,
                                    target.params.lookupsPerRefresh, *target.inFlight});
  }
  return tickets;
}

std::optional<core::MonoTime> WatchSchedule::nextDue() const {
  if (due_.empty()) return std::nullopt;
  return due_.begin()->first;
}

RefreshUpdate WatchSchedule::onResult(const RefreshTicket& ticket,
                                      const std::vector<LookupResult>& lookups,
                                      core::MonoTime now) {
  RefreshUpdate update;
  auto it = targets_.find(ticket.hostname);
  if (it == targets_.end() || it->second.inFlight != ticket.id) return update;
  Target& target = it->second;
  target.inFlight.reset();
  update.applied = true;

  std::vector<api::IpAddress> merged;
  std::optional<std::chrono::seconds> ttl;
  std::vector<std::string> chain;
  const LookupResult* lastFailure = nullptr;
  for (const auto& lookup : lookups) {
    stats_.lookups[static_cast<size_t>(lookup.outcome.status)]++;
    stats_.lookupLatencySum += lookup.latency;
    stats_.lookupLatencyMax = std::max(stats_.lookupLatencyMax, lookup.latency);
    if (!lookup.outcome.ok()) {
      lastFailure = &lookup;
      continue;
    }
    const Answer& answer = lookup.outcome.answer;
    merged.insert(merged.end(), answer.addresses.begin(), answer.addresses.end());
    ttl = ttl ? std::min(*ttl, answer.ttl) : answer.ttl;
    if (answer.cnameChain.size() > chain.size()) chain = answer.cnameChain;
  }
  std::sort(merged.begin(), merged.end());
  merged.erase(std::unique(merged.begin(), merged.end()), merged.end());
  stats_.refreshes++;
  if (lookups.size() > static_cast<size_t>(std::max(ticket.lookups, 1))) {
    stats_.extraLookups += lookups.size() - static_cast<size_t>(std::max(ticket.lookups, 1));
  }

  const bool wasFailing = target.failingSince.has_value();
  if (!merged.empty()) {
    update.succeeded = true;
    update.addressesChanged = !target.hasAnswer || merged != target.addresses;
    update.failingChanged = wasFailing;
    recordDepartures(target, merged, now);
    target.addresses = std::move(merged);
    target.hasAnswer = true;
    target.lastSuccess = now;
    target.failingSince.reset();
    target.failureStatus = ResolveStatus::kOk;
    target.failureReason.clear();
    target.consecutiveFailures = 0;
    target.lastTtl = ttl.value_or(std::chrono::seconds(0));
    target.cnameChain = std::move(chain);
    const Duration interval =
        std::clamp(toDuration(target.lastTtl), target.params.minRefreshInterval,
                   target.params.maxRefreshInterval);
    setNextRefresh(ticket.hostname, target, now + withJitter(floor(interval)));
    if (update.addressesChanged) {
      stats_.changes++;
    } else {
      stats_.noChange++;
    }
  } else {
    stats_.refreshFailures++;
    update.failingChanged = !wasFailing;
    if (!wasFailing) target.failingSince = now;
    target.consecutiveFailures++;
    ResolveStatus status = ResolveStatus::kError;
    std::string reason = "no lookup was made";
    if (lastFailure != nullptr) {
      status = lastFailure->outcome.status;
      reason = lastFailure->outcome.message.empty() ? resolveStatusName(status)
                                                    : lastFailure->outcome.message;
    }
    // Still failing, but otherwise: what the bindings report must follow (SERVFAIL, then a
    // timeout, then NODATA). The same failure again is no news.
    update.reasonChanged =
        wasFailing && (status != target.failureStatus || reason != target.failureReason);
    target.failureStatus = status;
    target.failureReason = std::move(reason);
    // base * 2^(n-1), capped; the doubling stops long before it could overflow (and starts
    // from at least 1 ms, so it does stop).
    const Duration cap = std::min(options_.failureRetryCap, target.params.maxRefreshInterval);
    Duration backoff = std::max(options_.failureRetryBase, Duration(1));
    for (int i = 1; i < target.consecutiveFailures && backoff < cap; ++i) backoff *= 2;
    backoff = floor(std::min(backoff, cap));
    setNextRefresh(ticket.hostname, target, now + withJitter(backoff));
  }
  // A family added while this refresh was in flight: its answer lacks it, look again now.
  if (ticket.families != target.params.families) setNextRefresh(ticket.hostname, target, now);
  update.nextRefresh = target.nextRefresh;
  if (update.notify()) {
    for (const auto& [key, source] : target.subscribers) update.affectedBindingKeys.push_back(key);
  }
  return update;
}

void WatchSchedule::recordDepartures(Target& target, const std::vector<api::IpAddress>& next,
                                     core::MonoTime now) const {
  // `next` and target.addresses are sorted and unique. Addresses leaving now are gone since
  // now; addresses already gone keep their time; addresses (re)joining are not departed.
  std::vector<DepartedAddress> departed;
  departed.reserve(target.departed.size());
  for (auto& entry : target.departed) {
    if (now - entry.goneSince > options_.departedRetention) continue;
    if (std::binary_search(next.begin(), next.end(), entry.address)) continue;
    departed.push_back(std::move(entry));
  }
  for (const auto& address : target.addresses) {
    if (std::binary_search(next.begin(), next.end(), address)) continue;
    departed.push_back(DepartedAddress{address, now});  // it was in the set, so not departed yet
  }
  std::sort(departed.begin(), departed.end(),
            [](const auto& a, const auto& b) { return a.address < b.address; });
  target.departed = std::move(departed);
}

HostSnapshot WatchSchedule::makeSnapshot(const std::string& hostname, const Target& target) const {
  HostSnapshot snapshot;
  snapshot.hostname = hostname;
  snapshot.addresses = target.addresses;
  snapshot.hasAnswer = target.hasAnswer;
  snapshot.lastSuccess = target.lastSuccess;
  snapshot.departed = target.departed;
  snapshot.failing = target.failingSince.has_value();
  snapshot.failingSince = target.failingSince;
  snapshot.failureStatus = target.failureStatus;
  snapshot.failureReason = target.failureReason;
  snapshot.consecutiveFailures = target.consecutiveFailures;
  snapshot.lastTtl = target.lastTtl;
  snapshot.cnameChain = target.cnameChain;
  snapshot.refreshing = target.inFlight.has_value();
  snapshot.nextRefresh = target.nextRefresh;
  snapshot.params = target.params;
  for (const auto& [key, source] : target.subscribers) snapshot.bindingKeys.push_back(key);
  return snapshot;
}

std::optional<HostSnapshot> WatchSchedule::snapshot(std::string_view hostname) const {
  auto it = targets_.find(normalizeHostname(hostname));
  if (it == targets_.end()) return std::nullopt;
  return makeSnapshot(it->first, it->second);
}

std::optional<std::string> WatchSchedule::hostnameOf(const std::string& bindingKey) const {
  auto it = bindingHost_.find(bindingKey);
  if (it == bindingHost_.end()) return std::nullopt;
  return it->second;
}

std::vector<std::string> WatchSchedule::hostnames() const {
  std::vector<std::string> names;
  for (const auto& [hostname, target] : targets_) names.push_back(hostname);
  return names;
}

WatcherStats WatchSchedule::stats() const { return stats_; }

}  // namespace endpointbinder::dns
