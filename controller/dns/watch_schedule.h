// WatchSchedule: the pure scheduling core of the DNS watcher, after Envoy's DNS clusters.
//
// One resolve target per distinct hostname, shared by every binding that names it. The
// schedule decides when each target is looked up, folds the lookups' outcomes into the
// target's state (addresses, TTL, failure state, backoff) and says which bindings must be
// told. It does no I/O, starts no threads and never reads a clock: callers pass `now`, and
// jitter comes from the injected Random. DnsWatcher (dns_watcher.h) runs it on threads.
//
// Rules:
// - Parameters per hostname merge every subscriber's: the union of address families, the
//   largest lookupsPerRefresh, the smallest minRefreshInterval and the smallest
//   maxRefreshInterval (never below that minimum) — the most demanding binding wins, which
//   only ever makes the others' data fresher.
// - A refresh runs `lookupsPerRefresh` lookups. It succeeds when at least one lookup
//   answered kOk; the new address set is the union of the successful lookups' addresses and
//   its TTL their minimum. Lookups that failed within a successful refresh are counted but
//   do not fail it (the union of what did answer is still an answer).
// - After a success the next refresh is due at clamp(TTL, min, max) + jitter.
// - A refresh in which every lookup failed (SERVFAIL, REFUSED, timeout, error, NXDOMAIN or
//   NODATA — an empty answer is never "no endpoints") keeps the last good addresses, marks
//   the target failing with the last lookup's outcome as reason and backs off:
//   min(min * 2^(failures-1), max) + jitter.
// - Jitter is uniform in [0, min(jitterFraction * interval, maxJitter)].
// - Bindings are told (RefreshUpdate::affectedBindingKeys) when the address set changes
//   (order-insensitive; the first answer counts as a change) and when the target starts or
//   stops failing; a successful refresh with the same set only counts "no change".
// - When an address leaves the set, the target remembers since when it is gone: the time of
//   the first successful refresh without it (HostSnapshot::departed). That is when the source
//   was first seen without the address, so a deregistration grace period counts from then,
//   never from an earlier moment when nobody knew (with a TTL longer than the grace, counting
//   from the last refresh that listed it would deregister at once). Refreshes with an
//   unchanged set notify nobody, so without this a reader would only know when it last looked,
//   which may be a whole resync period earlier. Kept for `departedRetention`.
//
// Thread-safety: none; DnsWatcher serialises access with its mutex.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "api/manifest.h"
#include "api/net.h"
#include "controller/core/clock.h"
#include "controller/dns/random.h"
#include "controller/dns/resolver.h"

namespace endpointbinder::dns {

using Duration = std::chrono::milliseconds;

struct WatchScheduleOptions {
  // Jitter added to every scheduled refresh (success or backoff) as a fraction of the
  // interval, capped at maxJitter. Spreads the lookups of many names with equal TTLs.
  double jitterFraction = 0.1;
  Duration maxJitter = std::chrono::seconds(5);
  // No refresh is ever scheduled sooner than this after the previous one, whatever the
  // parameters say (a zero TTL and a zero minRefreshInterval must not spin).
  Duration intervalFloor = std::chrono::milliseconds(100);
  // How long a departed address's gone-since time is kept (see the rules above). Every
  // departure notifies the subscribers, which read it within a reconcile or two; this only
  // bounds memory under constant churn.
  Duration departedRetention = std::chrono::hours(1);
};

// An address that left a hostname's answer, and the first successful refresh without it.
struct DepartedAddress {
  api::IpAddress address;
  core::MonoTime goneSince{};
  bool operator==(const DepartedAddress&) const = default;
};

// The refresh parameters of one hostname, merged from its subscribers (rules above).
struct RefreshParams {
  AddressFamilies families;
  int lookupsPerRefresh = 1;
  Duration minRefreshInterval{0};
  Duration maxRefreshInterval{0};

  bool operator==(const RefreshParams&) const = default;
};

// The families a DnsSource asks for (IPv4 when it names none).
AddressFamilies familiesOf(const api::DnsSource& source);

// The addresses of `addresses` in `families`, order kept. A binding that shares a hostname
// with a binding of other families filters the shared answer with this; an empty result
// means "no answer for this binding" and must be treated like a failing source.
std::vector<api::IpAddress> filterFamilies(const std::vector<api::IpAddress>& addresses,
                                           AddressFamilies families);

// Work handed out by takeDue(): look `hostname` up `lookups` times for `families`, then
// report with onResult(ticket, ...).
struct RefreshTicket {
  std::string hostname;
  AddressFamilies families;
  int lookups = 1;
  uint64_t id = 0;  // identifies this refresh; results of a superseded ticket are ignored
};

struct LookupResult {
  ResolveOutcome outcome;
  std::chrono::nanoseconds latency{0};
};

// What onResult() decided.
struct RefreshUpdate {
  bool applied = false;           // false: the ticket was stale (target removed/re-created)
  bool succeeded = false;         // at least one lookup answered
  bool addressesChanged = false;  // the address set differs from the last good one
  bool failingChanged = false;    // the target started or stopped failing
  std::vector<std::string> affectedBindingKeys;  // every subscriber when notify(), else empty
  core::MonoTime nextRefresh{};

  bool notify() const { return addressesChanged || failingChanged; }
};

// The state of one hostname, for the reconciler and for status.
struct HostSnapshot {
  std::string hostname;
  // The last good answer: the union of the last successful refresh, sorted; kept while the
  // target fails. Empty until the first success.
  std::vector<api::IpAddress> addresses;
  bool hasAnswer = false;  // at least one successful refresh since the target was created
  std::optional<core::MonoTime> lastSuccess;
  // Addresses that left the answer within departedRetention, sorted by address; never one of
  // `addresses`.
  std::vector<DepartedAddress> departed;
  bool failing = false;  // the latest refresh failed (addresses are the last good ones)
  std::optional<core::MonoTime> failingSince;
  ResolveStatus failureStatus = ResolveStatus::kOk;  // of the latest failed refresh
  std::string failureReason;                         // e.g. "SERVFAIL (A)"; empty when ok
  int consecutiveFailures = 0;
  std::chrono::seconds lastTtl{0};  // TTL of the last successful refresh
  std::vector<std::string> cnameChain;
  bool refreshing = false;       // a refresh is in flight
  core::MonoTime nextRefresh{};  // when the next refresh is due (meaningless while refreshing)
  RefreshParams params;
  std::vector<std::string> bindingKeys;  // subscribers, sorted
};

// Counters for metrics (the server layer exports them). Monotonic except the gauges.
struct WatcherStats {
  std::array<uint64_t, kResolveStatusCount> lookups{};  // by ResolveStatus (index = enum value)
  uint64_t refreshes = 0;                               // completed refreshes
  uint64_t refreshFailures = 0;                         // refreshes in which every lookup failed
  uint64_t changes = 0;                                 // refreshes that changed the address set
  uint64_t noChange = 0;  // successful refreshes with the same set (Envoy's update_no_rebuild)
  std::chrono::nanoseconds lookupLatencySum{0};
  std::chrono::nanoseconds lookupLatencyMax{0};
  size_t hostnames = 0;      // gauge: resolve targets
  size_t subscriptions = 0;  // gauge: subscribed bindings

  uint64_t lookupCount(ResolveStatus status) const { return lookups[static_cast<size_t>(status)]; }
  uint64_t totalLookups() const;
};

class WatchSchedule {
 public:
  // `random` must outlive the schedule.
  explicit WatchSchedule(Random& random, WatchScheduleOptions options = {});

  // Subscribes `bindingKey` to `source.hostname` (lowercased, trailing dot dropped), replacing
  // the binding's earlier subscription, if any (which may name another hostname). A new
  // hostname gets a target due at `now`. When the merged parameters change, an idle target's
  // next refresh moves no later than now + the new maxRefreshInterval, and to `now` when a
  // family was added (the last answer lacks it).
  // Returns true when a new target was created.
  bool subscribe(const std::string& bindingKey, const api::DnsSource& source, core::MonoTime now);

  // Removes the binding's subscription; a target left without subscribers is dropped (a
  // refresh in flight for it is ignored when it reports). Returns true when the binding was
  // subscribed.
  bool unsubscribe(const std::string& bindingKey);

  // Up to `limit` targets due at `now` (earliest first), each marked in flight until its
  // onResult. A target in flight is never handed out twice.
  std::vector<RefreshTicket> takeDue(core::MonoTime now, size_t limit);

  // The earliest next refresh among targets not in flight; nullopt when there is none.
  std::optional<core::MonoTime> nextDue() const;

  // Folds the refresh's lookups (in the order made; at least one) into the target and
  // schedules its next refresh. A stale ticket changes nothing (applied == false) and the
  // lookups are not counted.
  RefreshUpdate onResult(const RefreshTicket& ticket, const std::vector<LookupResult>& lookups,
                         core::MonoTime now);

  std::optional<HostSnapshot> snapshot(std::string_view hostname) const;
  // The hostname `bindingKey` is subscribed to, if any.
  std::optional<std::string> hostnameOf(const std::string& bindingKey) const;
  std::vector<std::string> hostnames() const;
  WatcherStats stats() const;

 private:
  struct Target {
    std::map<std::string, api::DnsSource> subscribers;  // by binding key
    RefreshParams params;
    std::vector<api::IpAddress> addresses;
    bool hasAnswer = false;
    std::optional<core::MonoTime> lastSuccess;
    std::vector<DepartedAddress> departed;  // sorted by address, disjoint from `addresses`
    std::optional<core::MonoTime> failingSince;
    ResolveStatus failureStatus = ResolveStatus::kOk;
    std::string failureReason;
    int consecutiveFailures = 0;
    std::chrono::seconds lastTtl{0};
    std::vector<std::string> cnameChain;
    core::MonoTime nextRefresh{};
    std::optional<uint64_t> inFlight;  // ticket id
  };

  static RefreshParams mergeParams(const std::map<std::string, api::DnsSource>& subscribers);
  Duration withJitter(Duration interval);
  Duration floor(Duration interval) const;
  HostSnapshot makeSnapshot(const std::string& hostname, const Target& target) const;
  // Sets target.nextRefresh, keeping due_ in step.
  void setNextRefresh(const std::string& hostname, Target& target, core::MonoTime when);
  void recordDepartures(Target& target, const std::vector<api::IpAddress>& next,
                        core::MonoTime now) const;

  Random& random_;
  WatchScheduleOptions options_;
  std::map<std::string, Target> targets_;  // by hostname
  // (nextRefresh, hostname) of every target with no refresh in flight: takeDue and nextDue
  // are O(log n) instead of a scan of every hostname on every wake-up.
  std::set<std::pair<core::MonoTime, std::string>> due_;
  std::map<std::string, std::string> bindingHost_;  // binding key -> hostname
  uint64_t nextTicket_ = 1;
  WatcherStats stats_;
};

}  // namespace endpointbinder::dns
