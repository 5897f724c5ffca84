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
// - A refresh makes at least `lookupsPerRefresh` lookups, and more while an answer looks cut
//   short by Route 53 (wantsAnotherLookup(), "Completing 8-address answers" below) — but none
//   after a lookup that failed while no lookup of the refresh has answered yet: a dead name
//   costs one lookup (at most one resolver deadline) per refresh, not lookupsPerRefresh of
//   them (issue 16 item 3).
// - Each address family (A, AAAA) keeps its own last good answer and failure state: a lookup
//   asks for every family the subscribers want, and each family's part of it
//   (familyOutcome()) is folded on its own. A family succeeds in a refresh when at least one
//   lookup answered kOk for it; its new address set is the union of those lookups' addresses
//   of that family. Lookups that failed within a successful refresh are counted but do not
//   fail it (the union of what did answer is still an answer). A family for which every
//   lookup failed (SERVFAIL, REFUSED, timeout, error, NXDOMAIN or NODATA — an empty answer is
//   never "no endpoints") keeps its last good addresses, with no departure counted, and is
//   failing with its last lookup's outcome as reason. So an AAAA query that times out freezes
//   the IPv6 addresses only: the IPv4 ones keep following their answers (issue 16 item 2).
//   The target is failing (HostSnapshot::failing) while every family it asks for is.
// - After a refresh in which every family succeeded the next one is due at
//   clamp(TTL, min, max) + jitter, TTL the minimum over the successful lookups.
// - After a refresh in which some family failed the next one is due soon:
//   min(failureRetryBase * 2^(failures-1), failureRetryCap, max) + jitter, failures the most
//   consecutive failed refreshes of a failing family, i.e. after 1, 2, 4, 5, 5 ... s by
//   default (or at the TTL schedule when that is sooner). DNS lookups are cheap and a failure
//   says nothing about when the name will answer again, so recovery (and any change made
//   during the outage) is seen within seconds, not after a backoff grown towards
//   maxRefreshInterval (issue 10 item 9 measured 53 s).
// - Jitter is uniform in [0, min(jitterFraction * interval, maxJitter)].
// - A family changes (RefreshUpdate::families) when its address set changes (order-
//   insensitive; its first answer counts as a change), when it starts or stops failing, and
//   when, failing, it fails for another reason (status or message: SERVFAIL, then a timeout,
//   then NODATA), so what bindings report follows every lookup outcome; a repeat of the same
//   failure, or a successful refresh with the same set, changes nothing. The bindings told
//   (RefreshUpdate::affectedBindingKeys) are the subscribers that ask for a family that
//   changed: an IPv4-only binding hears nothing of AAAA failures.
// - When an address leaves its family's set, the target remembers since when it is gone: the
//   time of the first successful refresh of that family without it (HostSnapshot::departed).
//   That is when the source was first seen without the address, so a deregistration grace
//   period counts from then, never from an earlier moment when nobody knew (with a TTL longer
//   than the grace, counting from the last refresh that listed it would deregister at once).
//   Refreshes with an unchanged set notify nobody, so without this a reader would only know
//   when it last looked, which may be a whole resync period earlier. Kept for
//   `departedRetention`.
// - A subscriber sees only its own families (viewFor()): failing when none of them answers;
//   degraded when some answer and others fail or have not answered yet (the failing ones'
//   last good addresses stay listed, frozen); never affected by a family it did not ask for.
//   A family no subscriber asks for any more is forgotten.
//
// Completing 8-address answers (wantsAnotherLookup). Route 53 answers a query for an alias
// to an ALB or NLB with at most kRoute53MaxAnswer = 8 addresses per family: a random 8 of the
// N healthy ones, modelled as uniform and drawn afresh for every query. One lookup misses an
// address with probability 1 - 8/N (1/3 for N = 12), so with one lookup per refresh an
// address could miss every refresh of a grace period and be deregistered while serving
// (issue 10 item 8: 12 addresses, TTL 60 s, 3 m grace: all 12 registered only 76 % of the
// time). So once the configured lookups are made, a refresh looks again while
//   - the last lookup answered kOk with exactly 8 addresses of some family f (fewer means
//     that answer was the whole set; a failure never earns another lookup), and
//   - fewer than r(k) lookups in a row (since the last one that brought a new address of f)
//     added no new address of f, where k is the number of distinct f-addresses seen in this
//     refresh and r(k) is the smallest r with ((k - 7) / (k + 1))^r <= truncatedMissBound
//     (quietLookupsToStop(); with the default bound ε = 1e-3: r(8) = 4, r(12) = 8,
//     r(20) = 15, r(50) = 41), and
//   - the refresh has made fewer than maxLookupsPerRefresh (64) lookups and they took less
//     than extraLookupBudget (5 s) together.
// Confidence: while some address is unseen (k < N), a lookup adds nothing new with
// probability C(k,8) / C(N,8) <= C(k,8) / C(k+1,8) = (k - 7) / (k + 1), so a quiet run of r(k)
// lookups ends the refresh with an address unseen with probability at most ε. A premature
// stop needs such a run at some k < N, and k = N - 1 dominates. Exactly (a Markov chain over
// (addresses seen, quiet run), with the 64-lookup cap):
//      N | P(a refresh misses some address) | P(it misses a given address) | lookups, mean
//     12 | 3.1e-4                           | 2.6e-5                       | 11.5
//     20 | 6.4e-4                           | 3.2e-5                       | 22.7
//     50 | 1.1e-3                           | 2.2e-5                       | 62.9 (the cap binds)
// Queries draw independently, so a live address is absent from m refreshes in a row with
// probability p^m: a 3 m grace at a 60 s TTL spans 3 refreshes, ~2e-14 for N = 12 (and still
// ~1e-7 for N = 100, where the cap leaves p = 4.8e-3). A name answering exactly 8 addresses
// costs 1 + r(8) = 5 lookups per refresh; one with fewer costs lookupsPerRefresh, as before.
// eight_address_answers_test.cc simulates Route 53's draws for simulated hours, before and after.
//
// Confirming a settled set (issue 15). Completing costs a name answering exactly 8 addresses
// 5 lookups per refresh, for ever, though its set rarely changes. So a refresh also stops as
// soon as the distinct addresses its lookups brought of f are exactly f's last good set S,
// when that set is settled (RefreshTicket::settled): f answered in its last refresh (not
// failing), S has at least 8 addresses, S was brought back whole by a refresh after the one
// that first found it (FamilyState::reproduced: a refresh completed in full by the rule above
// found S again, or a confirming one did since), and no address of f departed within
// departedRetention. The reproduction matters after a restart (or a new hostname, or a family
// asked for again): the first answer records no departure, and an address it missed may
// still be registered, its grace counting from the restart, so it must be looked for by two
// full refreshes (both miss it with p ~ 1e-8), not by confirming ones (1/9 each at N = 9). Why this
// never takes a serving address out: the lookups' union is a subset of the live set T, so union ==
// S means every listed address is live (S ⊆ T), the refresh folds S again and nothing departs. What
// it can miss is only an address of T \ S that none of the lookups brought (a new one, 1/9 per
// lookup at N = 9): it is listed a refresh or two later, a registration delay, never a
// deregistration. Departures only come from refreshes that ran the quiet-run rule above, and after
// one (a real departure, or the rare refresh that missed a live address) the family is unsettled
// for departedRetention, so the lookups that would list a wrongly departed address again are the
// full ones, with the confidence above. A settled 8-address name costs 1 lookup per refresh instead
// of 5; a settled 12-address one about 3.6 (all 12 seen) instead of 11.5.
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
#include <unordered_map>
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
  // Retries after a refresh in which every lookup failed: failureRetryBase, doubled per
  // further consecutive failure, capped at failureRetryCap and at the merged
  // maxRefreshInterval (a failing name is never looked at less often than a healthy one).
  Duration failureRetryBase = std::chrono::seconds(1);
  Duration failureRetryCap = std::chrono::seconds(5);
  // Completing 8-address answers (see above): ε, the bound on the chance that a quiet run
  // ends a refresh while an address is still unseen; the most lookups one refresh makes; the
  // lookup time after which it makes no extra one.
  double truncatedMissBound = 1e-3;
  int maxLookupsPerRefresh = 64;
  Duration extraLookupBudget = std::chrono::seconds(5);
  // Confirming a settled set (above): a refresh that brings back exactly a settled family's
  // last good set stops there. Off: every 8-address answer is completed in full.
  bool confirmSettledSets = true;
};

// The most addresses of one family Route 53 puts in an answer for an ALB or NLB alias.
inline constexpr size_t kRoute53MaxAnswer = 8;

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

// The addresses of `addresses` in `families`, order kept.
std::vector<api::IpAddress> filterFamilies(const std::vector<api::IpAddress>& addresses,
                                           AddressFamilies families);

// Work handed out by takeDue(): look `hostname` up for `families` as long as
// wantsAnotherLookup() says (at least `lookups` times), then report with onResult(ticket, ...).
struct RefreshTicket {
  std::string hostname;
  AddressFamilies families;
  int lookups = 1;  // the merged lookupsPerRefresh: the fewest lookups the refresh makes
  uint64_t id = 0;  // identifies this refresh; results of a superseded ticket are ignored
  // By familyIndex(): the family's last good addresses (sorted) when they are settled
  // ("Confirming a settled set" above), so that bringing exactly them back ends the refresh;
  // empty otherwise.
  std::array<std::vector<api::IpAddress>, 2> settled;
};

struct LookupResult {
  ResolveOutcome outcome;  // as the Resolver returned it; familyOutcome() splits it by family
  std::chrono::nanoseconds latency{0};
};

// r(k) of "Completing 8-address answers" above: the number of lookups in a row that add no
// new address after which a refresh that has seen `seen` (>= 8) distinct addresses of a
// family stops looking. 0 when missBound >= 1; grows without bound as missBound nears 0
// (maxLookupsPerRefresh still stops the refresh).
int quietLookupsToStop(size_t seen, double missBound);

// Whether the lookups `made` of a refresh brought `family`'s whole set by the completion rule
// (above): its last lookup answered for it with other than 8 addresses (the whole set) or
// ended a quiet run of r(k). False when a failure, maxLookupsPerRefresh, extraLookupBudget or
// a confirmed settled set ended it.
bool completedInFull(const std::vector<LookupResult>& made, api::AddressFamily family,
                     double missBound);

// Whether a refresh that made the lookups `made` (in order) for `ticket` should make another:
// while fewer than ticket.lookups were made, unless every lookup so far failed for every
// family (a dead name gets one lookup per refresh); then only to complete an 8-address answer
// that did not bring back exactly a settled set (rules above). Pure; the DnsWatcher's worker asks
// it after every lookup, and so can a simulation.
bool wantsAnotherLookup(const RefreshTicket& ticket, const std::vector<LookupResult>& made,
                        const WatchScheduleOptions& options);

// Index of a family in per-family arrays: 0 for IPv4 (A), 1 for IPv6 (AAAA).
inline constexpr size_t familyIndex(api::AddressFamily family) {
  return family == api::AddressFamily::kIPv4 ? 0 : 1;
}

// What one refresh changed for one address family (rules above).
struct FamilyUpdate {
  bool addressesChanged = false;  // its set differs from its last good one (or is its first)
  bool failingChanged = false;    // it started or stopped failing
  bool reasonChanged = false;     // it was failing and still is, with another status or message

  bool changed() const { return addressesChanged || failingChanged || reasonChanged; }
};

// What onResult() decided.
struct RefreshUpdate {
  bool applied = false;           // false: the ticket was stale (target removed/re-created)
  bool succeeded = false;         // some family answered
  bool addressesChanged = false;  // some family's address set changed
  bool failingChanged = false;    // some family started or stopped failing
  bool reasonChanged = false;     // some failing family fails for another reason
  std::array<FamilyUpdate, 2> families{};  // by familyIndex(); all false for one not looked up
  // The subscribers asking for a family that changed, sorted.
  std::vector<std::string> affectedBindingKeys;
  core::MonoTime nextRefresh{};

  bool notify() const { return addressesChanged || failingChanged || reasonChanged; }
};

// One address family's part of a hostname's state.
struct FamilyState {
  // Its last good answer: the union of its last successful refresh, sorted; kept while it
  // fails. Empty until its first success.
  std::vector<api::IpAddress> addresses;
  bool hasAnswer = false;  // it answered at least once since it was first asked for
  std::optional<core::MonoTime> lastSuccess;
  std::optional<core::MonoTime> failingSince;        // set while its latest refresh failed
  ResolveStatus failureStatus = ResolveStatus::kOk;  // of its latest failed refresh
  std::string failureReason;                         // e.g. "SERVFAIL (AAAA)"; empty when ok
  int consecutiveFailures = 0;
  // Its last refresh brought `addresses` back whole (completed in full, or confirmed a settled
  // set) and they equal the refresh's before: one of the conditions of being settled.
  bool reproduced = false;

  bool failing() const { return failingSince.has_value(); }
};

// The state of one hostname, for the reconciler and for status.
struct HostSnapshot {
  std::string hostname;
  // Every family's last good addresses, sorted; kept while they fail. Empty until the first
  // success.
  std::vector<api::IpAddress> addresses;
  bool hasAnswer = false;                     // some family answered since the target was created
  std::optional<core::MonoTime> lastSuccess;  // the last refresh in which some family answered
  // Addresses that left the answer within departedRetention, sorted by address; never one of
  // `addresses`.
  std::vector<DepartedAddress> departed;
  // Every family the target asks for is failing (addresses are the last good ones). The
  // fields below describe that whole-name failure: since when every family fails, the A
  // family's status (else AAAA's), the families' reasons joined with "; ", and the fewest
  // consecutive failures among them. Unset, kOk, empty and 0 otherwise.
  bool failing = false;
  std::optional<core::MonoTime> failingSince;
  ResolveStatus failureStatus = ResolveStatus::kOk;
  std::string failureReason;  // e.g. "SERVFAIL (A)"
  int consecutiveFailures = 0;
  std::array<FamilyState, 2> families;  // by familyIndex(); default for a family not asked
  std::chrono::seconds lastTtl{0};      // TTL of the last successful refresh
  std::vector<std::string> cnameChain;
  bool refreshing = false;       // a refresh is in flight
  core::MonoTime nextRefresh{};  // when the next refresh is due (meaningless while refreshing)
  RefreshParams params;
  std::vector<std::string> bindingKeys;  // subscribers, sorted
};

// A hostname as one subscriber sees it: its own families only (rules above).
struct SubscriberView {
  // The last good addresses of each family asked, sorted: current for a family that answers,
  // frozen for one that fails.
  std::vector<api::IpAddress> addresses;
  bool hasAnswer = false;  // some family asked for has answered
  // The latest success of a family asked for that is not failing (of any family asked for
  // when all fail).
  std::optional<core::MonoTime> lastSuccess;
  std::vector<DepartedAddress> departed;  // of the families asked for
  // No family asked for answers (each fails or has not answered yet), or one of them has no
  // last good answer yet (its addresses are unknown, so absence proves nothing; `addresses`
  // then holds the other families' current ones, to register). failingSince is when the
  // last of them started failing (unset when none has failed yet); failureStatus the first
  // failing one's (kOk when they are all only waiting); failureReason their reasons joined
  // with "; " ("waiting for the first AAAA answer" for one not looked up yet).
  bool failing = false;
  std::optional<core::MonoTime> failingSince;
  ResolveStatus failureStatus = ResolveStatus::kOk;
  std::string failureReason;
  // Some family asked for answers and another, which has answered before, does not now: why
  // not, in the words above. Its last good addresses are in `addresses`, none departed. A
  // family's NODATA while another family answers with addresses is an answer (no such
  // records), not a failure.
  std::string degradedReason;

  bool degraded() const { return !degradedReason.empty(); }
};

// What `host` means to a subscriber asking for `families`.
SubscriberView viewFor(const HostSnapshot& host, AddressFamilies families);

// Counters for metrics (the server layer exports them). Monotonic except the gauges.
struct WatcherStats {
  std::array<uint64_t, kResolveStatusCount> lookups{};  // by ResolveStatus (index = enum value)
  uint64_t refreshes = 0;                               // completed refreshes
  uint64_t refreshFailures = 0;                         // refreshes in which every lookup failed
  uint64_t extraLookups = 0;  // lookups beyond lookupsPerRefresh, to complete 8-address answers
  uint64_t changes = 0;       // refreshes that changed the address set
  uint64_t noChange = 0;      // successful refreshes with the same set (Envoy's update_no_rebuild)
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
  // Not copyable: due_ points into targets_.
  WatchSchedule(const WatchSchedule&) = delete;
  WatchSchedule& operator=(const WatchSchedule&) = delete;

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
  // onResult. A target in flight is never handed out twice. Each ticket carries the families'
  // settled sets (when options.confirmSettledSets).
  std::vector<RefreshTicket> takeDue(core::MonoTime now, size_t limit);
  // The same, appended to `out`. A caller taking tickets over and over (the DNS watcher's
  // dispatcher, every 250 ms) keeps one vector: a new one of a few dozen tickets is a block
  // of kilobytes per round, and each made glibc's malloc consolidate its free lists (1.3 % of
  // the controller's CPU samples at 1,000 names, bench/README.md).
  void takeDue(core::MonoTime now, size_t limit, std::vector<RefreshTicket>& out);

  // The earliest next refresh among targets not in flight; nullopt when there is none.
  std::optional<core::MonoTime> nextDue() const;

  // Folds the refresh's lookups (in the order made; at least one; see wantsAnotherLookup)
  // into the target and schedules its next refresh. A stale ticket changes nothing
  // (applied == false) and the lookups are not counted.
  RefreshUpdate onResult(const RefreshTicket& ticket, const std::vector<LookupResult>& lookups,
                         core::MonoTime now);

  std::optional<HostSnapshot> snapshot(std::string_view hostname) const;
  // The hostname `bindingKey` is subscribed to, if any.
  std::optional<std::string> hostnameOf(const std::string& bindingKey) const;
  std::vector<std::string> hostnames() const;  // sorted
  WatcherStats stats() const;

 private:
  struct Target {
    std::map<std::string, api::DnsSource> subscribers;  // by binding key
    RefreshParams params;
    std::array<FamilyState, 2> families;  // by familyIndex()
    std::optional<core::MonoTime> lastSuccess;
    // Sorted by address, disjoint from every family's addresses.
    std::vector<DepartedAddress> departed;
    std::chrono::seconds lastTtl{0};
    std::vector<std::string> cnameChain;
    core::MonoTime nextRefresh{};
    std::optional<uint64_t> inFlight;  // ticket id
  };

  // By hostname. A hash map: the DNS loop looks a target up for every refresh, and a tree's
  // string comparisons cost 7 % of that thread's time at 1,000 names (bench/README.md).
  // Nodes never move, so due_ can point at the keys.
  using TargetMap = std::unordered_map<std::string, Target>;
  // When a target with no refresh in flight is due. Ordered by time, then by hostname (so
  // equal times are handed out in a fixed order); `hostname` points at the target's key in
  // targets_, which outlives the entry (setNextRefresh, unsubscribe and takeDue keep them in
  // step): a refresh re-indexes its target without copying the name.
  struct DueEntry {
    core::MonoTime when;
    const std::string* hostname;
    bool operator<(const DueEntry& other) const {
      return when != other.when ? when < other.when : *hostname < *other.hostname;
    }
  };

  static RefreshParams mergeParams(const std::map<std::string, api::DnsSource>& subscribers);
  Duration withJitter(Duration interval);
  Duration floor(Duration interval) const;
  HostSnapshot makeSnapshot(const std::string& hostname, const Target& target) const;
  // Sets the target's nextRefresh, keeping due_ in step.
  void setNextRefresh(TargetMap::value_type& entry, core::MonoTime when);
  // Folds one family's lookups into its state; returns what changed. `otherFamilyAnswered`:
  // another family of this refresh came back with addresses, so this family's NODATA is an
  // answer (the name exists and has no such records), not a failure. `wasSettled`: the
  // ticket carried this family's settled set.
  FamilyUpdate foldFamily(Target& target, api::AddressFamily family,
                          const std::vector<LookupResult>& lookups, core::MonoTime now,
                          bool otherFamilyAnswered, bool wasSettled) const;
  // One family's set goes from `previous` to `next` (both sorted): departures (rules above).
  void recordDepartures(Target& target, const std::vector<api::IpAddress>& previous,
                        const std::vector<api::IpAddress>& next, core::MonoTime now) const;
  // Whether `family`'s last good set is settled at `now` ("Confirming a settled set" above).
  bool isSettled(const Target& target, api::AddressFamily family, core::MonoTime now) const;
  // Forgets the state of every family no subscriber asks for any more.
  static void forgetUnaskedFamilies(Target& target);

  Random& random_;
  WatchScheduleOptions options_;
  TargetMap targets_;
  // Every target with no refresh in flight, by nextRefresh: takeDue and nextDue are O(log n)
  // instead of a scan of every hostname on every wake-up.
  std::set<DueEntry> due_;
  std::map<std::string, std::string> bindingHost_;  // binding key -> hostname
  uint64_t nextTicket_ = 1;
  WatcherStats stats_;
};

}  // namespace endpointbinder::dns
