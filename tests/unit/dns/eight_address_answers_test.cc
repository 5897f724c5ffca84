// Completing 8-address answers (issue 10 item 8): Route 53 answers an ALB or NLB alias with a
// random 8 of its N addresses per query, so one lookup per refresh lets a live address miss
// a whole grace period. wantsAnotherLookup() (watch_schedule.h) keeps looking while an answer
// has exactly 8 addresses of a family and lookups still bring new ones.
//
// First the rule, lookup by lookup, driven like the DnsWatcher's worker drives it; then
// Route 53 itself, simulated: random 8-of-N answers, the pure WatchSchedule on a manual clock,
// and the registered set that the departed/gone-since times imply, before (lookupsPerRefresh
// lookups, the old worker loop) and after (the worker asks wantsAnotherLookup). No threads,
// no sleeps, no network; every random draw is seeded.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <map>
#include <random>
#include <set>

#include "controller/dns/watch_schedule.h"
#include "tests/support/dns_fake_resolver.h"

namespace endpointbinder::dns {
namespace {

using namespace std::chrono_literals;
using testing::answerOf;
using testing::failureOf;

std::string v4(int i) { return "10.1." + std::to_string(i / 250) + "." + std::to_string(i % 250); }
std::string v6(int i) { return "fd00::" + std::to_string(i + 1); }

// An answer with the IPv4 addresses v4(first) .. v4(last).
ResolveOutcome range(int first, int last, int ttl = 60) {
  std::vector<std::string> addresses;
  for (int i = first; i <= last; ++i) addresses.push_back(v4(i));
  return answerOf(addresses, ttl);
}

RefreshTicket ticketFor(int lookups, AddressFamilies families = {}) {
  RefreshTicket ticket;
  ticket.hostname = "alb.test";
  ticket.families = families;
  ticket.lookups = lookups;
  ticket.id = 1;
  return ticket;
}

// Makes lookups the way DnsWatcher's worker does: while wantsAnotherLookup says so, the next
// answer is answer(number of lookups made so far). Returns the lookups made.
std::vector<LookupResult> drive(const RefreshTicket& ticket,
                                const std::function<ResolveOutcome(size_t)>& answer,
                                const WatchScheduleOptions& options = {},
                                std::chrono::nanoseconds latency = 1ms) {
  std::vector<LookupResult> made;
  while (wantsAnotherLookup(ticket, made, options)) {
    made.push_back(LookupResult{answer(made.size()), latency});
    if (made.size() > 10'000) break;  // a broken rule must fail the test, not hang it
  }
  return made;
}

TEST(QuietLookupsToStopTest, IsTheSmallestRunWhoseChanceIsWithinTheBound) {
  // ((k - 7) / (k + 1))^r <= 1e-3; the values the header comment quotes.
  const std::map<size_t, int> expected = {{8, 4},   {9, 5},   {10, 6},  {12, 8},
                                          {16, 11}, {20, 15}, {30, 24}, {50, 41}};
  for (const auto& [seen, runs] : expected) {
    SCOPED_TRACE(seen);
    EXPECT_EQ(quietLookupsToStop(seen, 1e-3), runs);
    const double quiet = (static_cast<double>(seen) - 7) / (static_cast<double>(seen) + 1);
    EXPECT_LE(std::pow(quiet, runs), 1e-3);
    EXPECT_GT(std::pow(quiet, runs - 1), 1e-3);
  }
  EXPECT_EQ(quietLookupsToStop(12, 1.0), 0);
  EXPECT_EQ(quietLookupsToStop(12, 1e-2), 5);
  EXPECT_EQ(quietLookupsToStop(12, 0.0), std::numeric_limits<int>::max());  // only the cap
  EXPECT_EQ(quietLookupsToStop(12, 1e-300), 723);
}

TEST(WantsAnotherLookupTest, LookupsPerRefreshAreMadeFailuresIncludedOnceTheNameAnswered) {
  const auto made = drive(ticketFor(3), [](size_t i) {
    return i == 1 ? failureOf(ResolveStatus::kTimeout) : range(1, 3);
  });
  EXPECT_EQ(made.size(), 3u);
}

// Issue 16 item 3: a refresh went on with its lookupsPerRefresh lookups after a timeout, each
// up to the resolver's deadline, so a few dead names held the watcher's workers for minutes.
// Until something answers, the first failure ends the refresh.
TEST(WantsAnotherLookupTest, ADeadNameGetsOneLookupPerRefresh) {
  for (const auto status : {ResolveStatus::kTimeout, ResolveStatus::kServFail,
                            ResolveStatus::kNxDomain, ResolveStatus::kNoData}) {
    SCOPED_TRACE(resolveStatusName(status));
    const auto made =
        drive(ticketFor(16), [&](size_t i) { return i == 0 ? failureOf(status) : range(1, 3); });
    EXPECT_EQ(made.size(), 1u);
  }
  // One family answering is the name answering: the other family's failure does not end it.
  const auto partial = drive(ticketFor(3, {true, true}), [](size_t) {
    return combineOutcomes(range(1, 3), failureOf(ResolveStatus::kTimeout));
  });
  EXPECT_EQ(partial.size(), 3u);
}

TEST(WantsAnotherLookupTest, AnAnswerOfFewerOrMoreThanEightAddressesEarnsNoExtraLookup) {
  EXPECT_EQ(drive(ticketFor(1), [](size_t) { return range(1, 7); }).size(), 1u);
  // More than 8 of a family: not Route 53 cutting it short, so it is the whole set.
  EXPECT_EQ(drive(ticketFor(1), [](size_t) { return range(1, 12); }).size(), 1u);
  EXPECT_EQ(drive(ticketFor(1), [](size_t) { return failureOf(ResolveStatus::kServFail); }).size(),
            1u);
}

TEST(WantsAnotherLookupTest, AnUnchangingEightAddressAnswerCostsFourExtraLookups) {
  const auto made = drive(ticketFor(1), [](size_t) { return range(1, 8); });
  EXPECT_EQ(made.size(), 1u + 4u);  // r(8) = 4 quiet lookups
}

TEST(WantsAnotherLookupTest, NewAddressesRestartTheQuietRunWithTheLargerSet) {
  // Quiet twice at 8 seen, then 4 new ones (12 seen): r(12) = 8 quiet lookups from there.
  const auto made =
      drive(ticketFor(1), [](size_t i) { return i == 3 ? range(5, 12) : range(1, 8); });
  EXPECT_EQ(made.size(), 4u + 8u);
}

TEST(WantsAnotherLookupTest, AFailureEndsTheExtraLookups) {
  // A name that starts timing out costs at most one extra (failed) lookup.
  auto made = drive(ticketFor(1), [](size_t i) {
    return i == 0 ? range(1, 8) : failureOf(ResolveStatus::kTimeout);
  });
  EXPECT_EQ(made.size(), 2u);
  made = drive(ticketFor(1), [](size_t i) {
    return i < 3 ? range(1 + static_cast<int>(i), 8 + static_cast<int>(i))
                 : failureOf(ResolveStatus::kServFail);
  });
  EXPECT_EQ(made.size(), 4u);
}

TEST(WantsAnotherLookupTest, AShorterAnswerMeansTheSetIsComplete) {
  const auto made =
      drive(ticketFor(1), [](size_t i) { return i == 0 ? range(1, 8) : range(1, 7); });
  EXPECT_EQ(made.size(), 2u);
}

TEST(WantsAnotherLookupTest, EachFamilyIsCountedOnItsOwn) {
  AddressFamilies both{true, true};
  auto answer = [](int v4s, int v6s) {
    std::vector<std::string> addresses;
    for (int i = 0; i < v4s; ++i) addresses.push_back(v4(i));
    for (int i = 0; i < v6s; ++i) addresses.push_back(v6(i));
    return answerOf(addresses, 60);
  };
  // 8 A + 2 AAAA, or 3 A + 8 AAAA: the 8 is cut short; 10 addresses in all is no signal.
  EXPECT_EQ(drive(ticketFor(1, both), [&](size_t) { return answer(8, 2); }).size(), 5u);
  EXPECT_EQ(drive(ticketFor(1, both), [&](size_t) { return answer(3, 8); }).size(), 5u);
  EXPECT_EQ(drive(ticketFor(1, both), [&](size_t) { return answer(5, 5); }).size(), 1u);
  EXPECT_EQ(drive(ticketFor(1, both), [&](size_t) { return answer(9, 9); }).size(), 1u);
}

TEST(WantsAnotherLookupTest, TheLookupCapBoundsARefreshThatKeepsFindingAddresses) {
  // Every answer 8 new addresses (a huge or changing pool): stops at maxLookupsPerRefresh.
  const auto grow = [](size_t i) {
    const int first = static_cast<int>(i) * 8;
    return range(first, first + 7);
  };
  EXPECT_EQ(drive(ticketFor(1), grow).size(), 64u);
  WatchScheduleOptions options;
  options.maxLookupsPerRefresh = 10;
  EXPECT_EQ(drive(ticketFor(1), grow, options).size(), 10u);
  // lookupsPerRefresh above the cap still gets its lookups, and no extra.
  EXPECT_EQ(drive(ticketFor(16), grow, options).size(), 16u);
}

TEST(WantsAnotherLookupTest, TheTimeBudgetBoundsExtraLookupsOfASlowResolver) {
  // 2 s per answer: 2, 4, then 6 s >= the 5 s budget.
  const auto made = drive(
      ticketFor(1), [](size_t) { return range(1, 8); }, {}, 2s);
  EXPECT_EQ(made.size(), 3u);
}

TEST(WantsAnotherLookupTest, ExtraLookupsAreCountedAndFoldedIntoOneAnswer) {
  core::ManualClock clock;
  testing::FakeRandom random;
  WatchSchedule schedule(random);
  api::DnsSource source;
  source.hostname = "alb.test";
  schedule.subscribe("ns/a", source, clock.now());
  const auto ticket = schedule.takeDue(clock.now(), 1).at(0);
  EXPECT_EQ(ticket.lookups, 1);
  const auto made = drive(ticket, [](size_t i) { return i % 2 == 0 ? range(1, 8) : range(5, 12); });
  ASSERT_EQ(made.size(), 2u + 8u);
  const auto update = schedule.onResult(ticket, made, clock.now());
  EXPECT_TRUE(update.addressesChanged);
  EXPECT_EQ(schedule.snapshot("alb.test")->addresses.size(), 12u);
  EXPECT_EQ(schedule.stats().extraLookups, 9u);
  EXPECT_EQ(schedule.stats().totalLookups(), 10u);
}

// ---- Route 53, simulated -------------------------------------------------------------------

// An ALB alias in Route 53: every query answers a uniformly random 8 of the N addresses.
class Route53Alias {
 public:
  Route53Alias(int addresses, uint64_t seed) : engine_(seed) {
    for (int i = 0; i < addresses; ++i) pool_.push_back(v4(i));
  }
  ResolveOutcome query(int ttl) {
    // A partial Fisher-Yates shuffle: the first 8 are a uniform sample.
    const size_t take = std::min<size_t>(kRoute53MaxAnswer, pool_.size());
    for (size_t i = 0; i < take; ++i) {
      std::uniform_int_distribution<size_t> pick(i, pool_.size() - 1);
      std::swap(pool_[i], pool_[pick(engine_)]);
    }
    return answerOf({pool_.begin(), pool_.begin() + static_cast<long>(take)}, ttl);
  }
  const std::vector<std::string>& pool() const { return pool_; }

 private:
  std::mt19937_64 engine_;
  std::vector<std::string> pool_;
};

enum class Worker {
  kLookupsPerRefresh,   // before: exactly ticket.lookups lookups per refresh
  kWantsAnotherLookup,  // after: as DnsWatcher's worker now does
};

struct Flapping {
  int refreshes = 0;
  int lookups = 0;
  int maxLookups = 0;
  int incompleteRefreshes = 0;  // refreshes whose answer lacked some live address
  int flaps = 0;                // live addresses deregistered when their grace ran out
  core::MonoTime::duration simulated{0};
  core::MonoTime::duration heldAll{0};  // time the group held every address

  void add(const Flapping& o) {
    refreshes += o.refreshes;
    lookups += o.lookups;
    maxLookups = std::max(maxLookups, o.maxLookups);
    incompleteRefreshes += o.incompleteRefreshes;
    flaps += o.flaps;
    simulated += o.simulated;
    heldAll += o.heldAll;
  }
  double heldAllShare() const {
    return std::chrono::duration<double>(heldAll) / std::chrono::duration<double>(simulated);
  }
};

// One binding on one ALB name with `addresses` live addresses (none ever leaves), for
// `length`: the schedule refreshes on its own times (TTL 60 s, real jitter), and the target
// group follows the rule the reconciler applies to the snapshot: register what is listed;
// deregister an address when its grace, counted from its gone-since time, runs out while it
// is still absent. Each such deregistration of a live address is a flap.
Flapping simulate(int addresses, Worker worker, uint64_t seed, core::MonoTime::duration length,
                  core::MonoTime::duration grace = 3min, int ttl = 60) {
  core::ManualClock clock;
  StdRandom jitter(seed);
  WatchSchedule schedule(jitter);
  Route53Alias route53(addresses, seed * 7919 + 1);
  api::DnsSource source;
  source.hostname = "internal-alb.elb.test";
  source.lookupsPerRefresh = 1;
  source.minRefreshInterval = 5s;
  source.maxRefreshInterval = 60s;
  const core::MonoTime start = clock.now();
  const core::MonoTime end = start + length;
  schedule.subscribe("ns/alb", source, start);

  Flapping result;
  result.simulated = length;
  std::map<std::string, bool> registered;             // every live address
  std::map<std::string, core::MonoTime> absentSince;  // listed before, absent now
  for (const auto& address : route53.pool()) registered[address] = false;
  core::MonoTime heldAllSince = start;
  bool holdsAll = false;
  auto account = [&](core::MonoTime at) {
    const bool all = std::all_of(registered.begin(), registered.end(),
                                 [](const auto& entry) { return entry.second; });
    if (holdsAll && !all) result.heldAll += at - heldAllSince;
    if (!holdsAll && all) heldAllSince = at;
    holdsAll = all;
  };
  // Grace deadlines that passed before `at`, in time order (the reconciler wakes for each).
  auto expireUntil = [&](core::MonoTime at) {
    std::vector<std::pair<core::MonoTime, std::string>> due;
    for (const auto& [address, since] : absentSince) {
      if (registered[address] && since + grace <= at) due.emplace_back(since + grace, address);
    }
    std::sort(due.begin(), due.end());
    for (const auto& [when, address] : due) {
      registered[address] = false;
      result.flaps++;
      account(when);
    }
  };

  while (true) {
    const auto next = schedule.nextDue();
    if (!next || *next >= end) break;
    clock.advance(*next - clock.now());
    expireUntil(clock.now());
    const auto ticket = schedule.takeDue(clock.now(), 1).at(0);
    std::vector<LookupResult> made;
    auto lookUp = [&] { made.push_back(LookupResult{route53.query(ttl), 1ms}); };
    if (worker == Worker::kLookupsPerRefresh) {
      for (int i = 0; i < ticket.lookups; ++i) lookUp();
    } else {
      while (wantsAnotherLookup(ticket, made, {})) lookUp();
    }
    clock.advance(std::chrono::milliseconds(made.size()));
    schedule.onResult(ticket, made, clock.now());
    result.refreshes++;
    result.lookups += static_cast<int>(made.size());
    result.maxLookups = std::max(result.maxLookups, static_cast<int>(made.size()));

    const auto snapshot = *schedule.snapshot(source.hostname);
    std::set<std::string> listed;
    for (const auto& address : snapshot.addresses) listed.insert(address.toString());
    if (listed.size() < route53.pool().size()) result.incompleteRefreshes++;
    absentSince.clear();
    for (const auto& departed : snapshot.departed) {
      absentSince[departed.address.toString()] = departed.goneSince;
    }
    for (const auto& address : listed) registered[address] = true;
    account(clock.now());
  }
  expireUntil(end);
  if (holdsAll) result.heldAll += end - heldAllSince;
  return result;
}

Flapping simulateMany(int addresses, Worker worker, int runs) {
  Flapping total;
  for (int run = 0; run < runs; ++run) {
    total.add(simulate(addresses, worker, static_cast<uint64_t>(run + 1), 41min));
  }
  return total;
}

void print(const char* label, int addresses, int runs, const Flapping& f) {
  std::printf(
      "%-7s N=%-3d %d x 41 min: flaps %4d (%.2f per 41 min)  held all %6.2f%%  "
      "incomplete refreshes %4d/%d  lookups/refresh %.1f (max %d)\n",
      label, addresses, runs, f.flaps, static_cast<double>(f.flaps) / runs, 100 * f.heldAllShare(),
      f.incompleteRefreshes, f.refreshes, static_cast<double>(f.lookups) / f.refreshes,
      f.maxLookups);
}

// The measurement, 41 minutes at a time with 50 seeds (34 simulated hours) per case:
// 12 and 20 addresses, 8 per answer, TTL 60 s, 3 m grace, lookupsPerRefresh 1.
TEST(Route53RotationSimulationTest, EightOfTwelveAndEightOfTwentyNoLongerFlap) {
  constexpr int kRuns = 50;
  struct Expect {
    int addresses;
    double meanLookupsLow, meanLookupsHigh;  // the chain's means: 11.5 and 22.7
  };
  for (const Expect& e : {Expect{12, 9.5, 13.5}, Expect{20, 19.5, 26.0}}) {
    SCOPED_TRACE(e.addresses);
    const Flapping before = simulateMany(e.addresses, Worker::kLookupsPerRefresh, kRuns);
    const Flapping after = simulateMany(e.addresses, Worker::kWantsAnotherLookup, kRuns);
    print("before", e.addresses, kRuns, before);
    print("after", e.addresses, kRuns, after);

    // Before: the picture (N = 12: ~12 flaps per 41 min, all 12 held ~3/4 of the
    // time; N = 20 is worse). Loose bounds: the point is the contrast.
    EXPECT_GT(before.flaps, kRuns * 4);
    EXPECT_LT(before.heldAllShare(), 0.9);
    EXPECT_GT(before.incompleteRefreshes, before.refreshes / 2);

    // After: no flap, every address held all the time but for a rare first answer that
    // missed one (p ~ 1e-3 per refresh), and the cost the header comment states.
    EXPECT_EQ(after.flaps, 0);
    EXPECT_GT(after.heldAllShare(), 0.999);
    EXPECT_LE(after.incompleteRefreshes, after.refreshes / 100);
    const double meanLookups = static_cast<double>(after.lookups) / after.refreshes;
    EXPECT_GT(meanLookups, e.meanLookupsLow);
    EXPECT_LT(meanLookups, e.meanLookupsHigh);
    EXPECT_LE(after.maxLookups, 64);
  }
}

}  // namespace
}  // namespace endpointbinder::dns
