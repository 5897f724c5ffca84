#include "controller/dns/watch_schedule.h"

#include <algorithm>
#include <cassert>
#include <cctype>
#include <limits>

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

constexpr std::array<api::AddressFamily, 2> kFamilies = {api::AddressFamily::kIPv4,
                                                         api::AddressFamily::kIPv6};

bool asks(AddressFamilies families, api::AddressFamily family) {
  return family == api::AddressFamily::kIPv4 ? families.ipv4 : families.ipv6;
}

const char* recordType(api::AddressFamily family) {
  return family == api::AddressFamily::kIPv4 ? "A" : "AAAA";
}

// familyOutcome(outcome, family).ok().
bool familyAnswered(const ResolveOutcome& outcome, api::AddressFamily family) {
  return visitFamilyAnswer(outcome, family, [](const api::IpAddress&) {});
}

// Whether some lookup answered for some family `families` asks for.
bool anyAnswered(const std::vector<LookupResult>& made, AddressFamilies families) {
  for (const auto& lookup : made) {
    if (lookup.outcome.ok()) return true;
    for (const auto family : kFamilies) {
      if (asks(families, family) && familyAnswered(lookup.outcome, family)) return true;
    }
  }
  return false;
}

// "reason; reason", without repeating one.
void appendReason(std::string& text, const std::string& reason) {
  if (reason.empty() || text == reason) return;
  if (!text.empty()) text += "; ";
  text += reason;
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

namespace {

// Distinct addresses of a family a refresh's lookups brought, and the successful lookups of
// it since the last one that added some.
struct QuietRun {
  std::vector<api::IpAddress> seen;  // sorted, distinct
  int quiet = 0;
};

QuietRun quietRunOf(const std::vector<LookupResult>& made, api::AddressFamily family) {
  QuietRun run;
  run.seen.reserve(kRoute53MaxAnswer * 2);
  for (const auto& lookup : made) {
    bool added = false;
    const bool answered = visitFamilyAnswer(lookup.outcome, family, [&](const auto& address) {
      const auto at = std::lower_bound(run.seen.begin(), run.seen.end(), address);
      if (at != run.seen.end() && *at == address) return;
      run.seen.insert(at, address);
      added = true;
    });
    if (!answered) continue;  // no evidence either way
    run.quiet = added ? 0 : run.quiet + 1;
  }
  return run;
}

// How many addresses `outcome` lists for `family`, or nullopt when that family did not answer.
std::optional<size_t> familyAnswerSize(const ResolveOutcome& outcome, api::AddressFamily family) {
  size_t count = 0;
  if (!visitFamilyAnswer(outcome, family, [&](const api::IpAddress&) { ++count; })) {
    return std::nullopt;
  }
  return count;
}

}  // namespace

bool wantsAnotherLookup(const RefreshTicket& ticket, const std::vector<LookupResult>& made,
                        const WatchScheduleOptions& options) {
  const size_t minimum = static_cast<size_t>(std::max(ticket.lookups, 1));
  // A name that has not answered once in this refresh is not asked again in it: each lookup
  // of a dead name may take the resolver's whole deadline.
  if (!made.empty() && !anyAnswered(made, ticket.families)) return false;
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

  for (const auto family : kFamilies) {
    if (familyAnswerSize(last.outcome, family) != kRoute53MaxAnswer) {
      continue;  // fewer: that answer was the whole set; more: not cut short by Route 53
    }
    const QuietRun run = quietRunOf(made, family);
    // Exactly the settled set again: every listed address is live, nothing to complete.
    const auto& settled = ticket.settled[familyIndex(family)];
    if (!settled.empty() &&
        std::equal(run.seen.begin(), run.seen.end(), settled.begin(), settled.end())) {
      continue;
    }
    if (run.quiet < quietLookupsToStop(run.seen.size(), options.truncatedMissBound)) return true;
  }
  return false;
}

bool completedInFull(const std::vector<LookupResult>& made, api::AddressFamily family,
                     double missBound) {
  if (made.empty()) return false;
  const auto last = familyAnswerSize(made.back().outcome, family);
  if (!last) return false;                      // ended by a failure: cut short
  if (*last != kRoute53MaxAnswer) return true;  // the whole set
  const QuietRun run = quietRunOf(made, family);
  return run.quiet >= quietLookupsToStop(run.seen.size(), missBound);
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
  forgetUnaskedFamilies(target);
  if (created) {
    setNextRefresh(*it, now);
  } else if (!target.inFlight && target.params != before) {
    const bool familyAdded = (target.params.families.ipv4 && !before.families.ipv4) ||
                             (target.params.families.ipv6 && !before.families.ipv6);
    if (familyAdded) {
      setNextRefresh(*it, now);
    } else {
      setNextRefresh(*it,
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
      if (!target->second.inFlight) due_.erase({target->second.nextRefresh, &target->first});
      targets_.erase(target);
    } else {
      target->second.params = mergeParams(target->second.subscribers);
      forgetUnaskedFamilies(target->second);
    }
  }
  stats_.hostnames = targets_.size();
  stats_.subscriptions = bindingHost_.size();
  return true;
}

void WatchSchedule::setNextRefresh(TargetMap::value_type& entry, core::MonoTime when) {
  auto& [hostname, target] = entry;
  // Only targets with no refresh in flight are indexed (takeDue must not hand them out).
  if (!target.inFlight) due_.erase({target.nextRefresh, &hostname});
  target.nextRefresh = when;
  if (!target.inFlight) due_.insert({when, &hostname});
}

std::vector<RefreshTicket> WatchSchedule::takeDue(core::MonoTime now, size_t limit) {
  std::vector<RefreshTicket> tickets;
  takeDue(now, limit, tickets);
  return tickets;
}

void WatchSchedule::takeDue(core::MonoTime now, size_t limit, std::vector<RefreshTicket>& out) {
  size_t taken = 0;
  while (taken < limit && !due_.empty() && due_.begin()->when <= now) {
    const std::string& hostname = *due_.begin()->hostname;
    due_.erase(due_.begin());
    const auto found = targets_.find(hostname);
    assert(found != targets_.end());  // due_ indexes only existing targets
    Target& target = found->second;
    target.inFlight = nextTicket_++;
    RefreshTicket ticket{
        hostname, target.params.families, target.params.lookupsPerRefresh, *target.inFlight, {}};
    if (options_.confirmSettledSets) {
      for (const auto family : kFamilies) {
        if (!asks(target.params.families, family) || !isSettled(target, family, now)) continue;
        ticket.settled[familyIndex(family)] = target.families[familyIndex(family)].addresses;
      }
    }
    out.push_back(std::move(ticket));
    ++taken;
  }
}

bool WatchSchedule::isSettled(const Target& target, api::AddressFamily family,
                              core::MonoTime now) const {
  const FamilyState& state = target.families[familyIndex(family)];
  if (!state.hasAnswer || state.failing() || !state.reproduced ||
      state.addresses.size() < kRoute53MaxAnswer) {
    return false;
  }
  return std::none_of(target.departed.begin(), target.departed.end(), [&](const auto& entry) {
    return entry.address.family() == family && now - entry.goneSince <= options_.departedRetention;
  });
}

std::optional<core::MonoTime> WatchSchedule::nextDue() const {
  if (due_.empty()) return std::nullopt;
  return due_.begin()->when;
}

void WatchSchedule::forgetUnaskedFamilies(Target& target) {
  for (const auto family : kFamilies) {
    if (asks(target.params.families, family)) continue;
    target.families[familyIndex(family)] = FamilyState{};
    std::erase_if(target.departed, [family](const DepartedAddress& entry) {
      return entry.address.family() == family;
    });
  }
}

FamilyUpdate WatchSchedule::foldFamily(Target& target, api::AddressFamily family,
                                       const std::vector<LookupResult>& lookups, core::MonoTime now,
                                       bool otherFamilyAnswered, bool wasSettled) const {
  FamilyUpdate update;
  FamilyState& state = target.families[familyIndex(family)];
  std::vector<api::IpAddress> merged;
  std::optional<ResolveOutcome> lastFailure;
  bool onlyNoData = true;  // every failed lookup of this family was NODATA
  for (const auto& lookup : lookups) {
    const auto add = [&](const api::IpAddress& address) { merged.push_back(address); };
    if (visitFamilyAnswer(lookup.outcome, family, add)) continue;
    ResolveOutcome outcome = familyOutcome(lookup.outcome, family);  // a failure: its reason
    onlyNoData = onlyNoData && outcome.status == ResolveStatus::kNoData;
    lastFailure = std::move(outcome);
  }
  std::sort(merged.begin(), merged.end());
  merged.erase(std::unique(merged.begin(), merged.end()), merged.end());

  const bool wasFailing = state.failing();
  // NODATA for this family while the other family answered: the name has no such records.
  const bool answeredEmpty = merged.empty() && otherFamilyAnswered && lastFailure && onlyNoData;
  if (!merged.empty() || answeredEmpty) {
    update.addressesChanged = !state.hasAnswer || merged != state.addresses;
    update.failingChanged = wasFailing;
    // Settled from here on only if this refresh brought the same set back whole: confirmed
    // (it was settled) or completed in full. Never on a first answer, which may have missed a
    // live address that, after a restart, is still registered (issue 15 review).
    state.reproduced =
        !update.addressesChanged &&
        (wasSettled || completedInFull(lookups, family, options_.truncatedMissBound));
    recordDepartures(target, state.addresses, merged, now);
    state.addresses = std::move(merged);
    state.hasAnswer = true;
    state.lastSuccess = now;
    state.failingSince.reset();
    state.failureStatus = ResolveStatus::kOk;
    state.failureReason.clear();
    state.consecutiveFailures = 0;
    return update;
  }
  update.failingChanged = !wasFailing;
  if (!wasFailing) state.failingSince = now;
  state.consecutiveFailures++;
  state.reproduced = false;
  ResolveStatus status = ResolveStatus::kError;
  std::string reason = std::string("no ") + recordType(family) + " lookup was made";
  if (lastFailure) {
    status = lastFailure->status;
    reason = lastFailure->message.empty() ? resolveStatusName(status) : lastFailure->message;
  }
  // Still failing, but otherwise: what the bindings report must follow (SERVFAIL, then a
  // timeout, then NODATA). The same failure again is no news.
  update.reasonChanged =
      wasFailing && (status != state.failureStatus || reason != state.failureReason);
  state.failureStatus = status;
  state.failureReason = std::move(reason);
  return update;
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

  std::optional<std::chrono::seconds> ttl;  // over the families' successful parts
  std::vector<std::string> chain;
  for (const auto& lookup : lookups) {
    stats_.lookups[static_cast<size_t>(lookup.outcome.status)]++;
    stats_.lookupLatencySum += lookup.latency;
    stats_.lookupLatencyMax = std::max(stats_.lookupLatencyMax, lookup.latency);
    for (const auto family : kFamilies) {
      if (!asks(ticket.families, family)) continue;
      const ResolveOutcome part = familyOutcome(lookup.outcome, family);
      if (!part.ok()) continue;
      ttl = ttl ? std::min(*ttl, part.answer.ttl) : part.answer.ttl;
      if (part.answer.cnameChain.size() > chain.size()) chain = part.answer.cnameChain;
    }
  }
  stats_.refreshes++;
  if (lookups.size() > static_cast<size_t>(std::max(ticket.lookups, 1))) {
    stats_.extraLookups += lookups.size() - static_cast<size_t>(std::max(ticket.lookups, 1));
  }

  bool anyFailed = false;
  int failures = 0;  // the most consecutive failures of a failing family
  auto answeredWithAddresses = [&](api::AddressFamily family) {
    return std::any_of(lookups.begin(), lookups.end(), [&](const LookupResult& lookup) {
      const ResolveOutcome part = familyOutcome(lookup.outcome, family);
      return part.ok() && !part.answer.addresses.empty();
    });
  };
  for (const auto family : kFamilies) {
    if (!asks(ticket.families, family)) continue;
    bool otherAnswered = false;
    for (const auto other : kFamilies) {
      if (other != family && asks(ticket.families, other)) {
        otherAnswered = otherAnswered || answeredWithAddresses(other);
      }
    }
    FamilyUpdate& part = update.families[familyIndex(family)];
    part = foldFamily(target, family, lookups, now, otherAnswered,
                      !ticket.settled[familyIndex(family)].empty());
    const FamilyState& state = target.families[familyIndex(family)];
    update.succeeded = update.succeeded || !state.failing();
    update.addressesChanged = update.addressesChanged || part.addressesChanged;
    update.failingChanged = update.failingChanged || part.failingChanged;
    update.reasonChanged = update.reasonChanged || part.reasonChanged;
    if (state.failing()) {
      anyFailed = true;
      failures = std::max(failures, state.consecutiveFailures);
    }
  }

  Duration interval{0};
  if (update.succeeded) {
    target.lastSuccess = now;
    target.lastTtl = ttl.value_or(std::chrono::seconds(0));
    target.cnameChain = std::move(chain);
    interval = std::clamp(toDuration(target.lastTtl), target.params.minRefreshInterval,
                          target.params.maxRefreshInterval);
    if (update.addressesChanged) {
      stats_.changes++;
    } else {
      stats_.noChange++;
    }
  } else {
    stats_.refreshFailures++;
  }
  if (anyFailed) {
    // base * 2^(n-1), capped; the doubling stops long before it could overflow (and starts
    // from at least 1 ms, so it does stop).
    const Duration cap = std::min(options_.failureRetryCap, target.params.maxRefreshInterval);
    Duration backoff = std::max(options_.failureRetryBase, Duration(1));
    for (int i = 1; i < failures && backoff < cap; ++i) backoff *= 2;
    backoff = std::min(backoff, cap);
    interval = update.succeeded ? std::min(interval, backoff) : backoff;
  }
  setNextRefresh(*it, now + withJitter(floor(interval)));
  forgetUnaskedFamilies(target);  // a family dropped while this refresh was in flight
  // A family added while this refresh was in flight: its answer lacks it, look again now.
  if (ticket.families != target.params.families) setNextRefresh(*it, now);
  update.nextRefresh = target.nextRefresh;
  for (const auto& [key, source] : target.subscribers) {
    const AddressFamilies wanted = familiesOf(source);
    for (const auto family : kFamilies) {
      if (asks(wanted, family) && update.families[familyIndex(family)].changed()) {
        update.affectedBindingKeys.push_back(key);
        break;
      }
    }
  }
  return update;
}

void WatchSchedule::recordDepartures(Target& target, const std::vector<api::IpAddress>& previous,
                                     const std::vector<api::IpAddress>& next,
                                     core::MonoTime now) const {
  // `previous` and `next` are one family's, sorted and unique. Addresses leaving now are gone
  // since now; addresses already gone keep their time; addresses (re)joining are not departed.
  std::vector<DepartedAddress> departed;
  departed.reserve(target.departed.size());
  for (auto& entry : target.departed) {
    if (now - entry.goneSince > options_.departedRetention) continue;
    if (std::binary_search(next.begin(), next.end(), entry.address)) continue;
    departed.push_back(std::move(entry));
  }
  for (const auto& address : previous) {
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
  snapshot.lastSuccess = target.lastSuccess;
  snapshot.departed = target.departed;
  snapshot.families = target.families;
  bool everyFamilyFailing = true;
  for (const auto family : kFamilies) {
    const FamilyState& state = target.families[familyIndex(family)];
    snapshot.addresses.insert(snapshot.addresses.end(), state.addresses.begin(),
                              state.addresses.end());
    snapshot.hasAnswer = snapshot.hasAnswer || state.hasAnswer;
    if (!asks(target.params.families, family)) continue;
    if (!state.failing()) {
      everyFamilyFailing = false;
      continue;
    }
    if (snapshot.failureStatus == ResolveStatus::kOk) snapshot.failureStatus = state.failureStatus;
    appendReason(snapshot.failureReason, state.failureReason);
    snapshot.failingSince = snapshot.failingSince
                                ? std::max(*snapshot.failingSince, *state.failingSince)
                                : state.failingSince;
    snapshot.consecutiveFailures =
        snapshot.consecutiveFailures == 0
            ? state.consecutiveFailures
            : std::min(snapshot.consecutiveFailures, state.consecutiveFailures);
  }
  std::sort(snapshot.addresses.begin(), snapshot.addresses.end());
  snapshot.failing = everyFamilyFailing;
  if (!snapshot.failing) {
    snapshot.failingSince.reset();
    snapshot.failureStatus = ResolveStatus::kOk;
    snapshot.failureReason.clear();
    snapshot.consecutiveFailures = 0;
  }
  snapshot.lastTtl = target.lastTtl;
  snapshot.cnameChain = target.cnameChain;
  snapshot.refreshing = target.inFlight.has_value();
  snapshot.nextRefresh = target.nextRefresh;
  snapshot.params = target.params;
  for (const auto& [key, source] : target.subscribers) snapshot.bindingKeys.push_back(key);
  return snapshot;
}

SubscriberView viewFor(const HostSnapshot& host, AddressFamilies families) {
  SubscriberView view;
  std::optional<core::MonoTime> anySuccess;  // of any family asked for
  std::string notAnswering;                  // why the families that do not answer do not
  bool someAnswer = false;                   // a family asked for answers now
  bool neverAnswered = false;                // a family asked for has no last good answer
  for (const auto family : kFamilies) {
    if (!asks(families, family)) continue;
    const FamilyState& state = host.families[familyIndex(family)];
    neverAnswered = neverAnswered || !state.hasAnswer;
    view.addresses.insert(view.addresses.end(), state.addresses.begin(), state.addresses.end());
    view.hasAnswer = view.hasAnswer || state.hasAnswer;
    if (state.lastSuccess)
      anySuccess = anySuccess ? std::max(*anySuccess, *state.lastSuccess) : state.lastSuccess;
    if (state.hasAnswer && !state.failing()) {
      someAnswer = true;
      view.lastSuccess =
          view.lastSuccess ? std::max(*view.lastSuccess, *state.lastSuccess) : state.lastSuccess;
      continue;
    }
    if (state.failing()) {
      if (view.failureStatus == ResolveStatus::kOk) view.failureStatus = state.failureStatus;
      view.failingSince = view.failingSince ? std::max(*view.failingSince, *state.failingSince)
                                            : state.failingSince;
      appendReason(notAnswering, state.failureReason);
    } else {
      appendReason(notAnswering,
                   std::string("waiting for the first ") + recordType(family) + " answer");
    }
  }
  std::sort(view.addresses.begin(), view.addresses.end());
  for (const auto& entry : host.departed) {
    if (asks(families, entry.address.family())) view.departed.push_back(entry);
  }
  if (someAnswer && !neverAnswered) {
    view.failingSince.reset();
    view.failureStatus = ResolveStatus::kOk;
    view.degradedReason = std::move(notAnswering);
  } else if (someAnswer) {
    // A family with no last good answer is not frozen, it is unknown: its targets in the
    // group (registered before a restart, say) would look gone. Failing, so nothing is
    // deregistered; the addresses known so far are still registered.
    view.failing = true;
    view.failureReason = std::move(notAnswering) +
                         "; nothing is deregistered until every family asked for has answered";
  } else {
    view.failing = true;
    view.failureReason = std::move(notAnswering);
    view.lastSuccess = anySuccess;
  }
  return view;
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
  names.reserve(targets_.size());
  for (const auto& [hostname, target] : targets_) names.push_back(hostname);
  std::sort(names.begin(), names.end());
  return names;
}

WatcherStats WatchSchedule::stats() const { return stats_; }

}  // namespace endpointbinder::dns
