// Randomized convergence properties: a binding synced over time against a simulated target
// group that applies every plan (kSimulationSeedBase + i), with a churning source, failures,
// restarts, spec edits (new lineages), departure times reported by the source, refused
// registrations, sick targets and detached groups. Every plan passes the checks of
// planner_property_checks.h plus an oracle of when each target was last evidenced (nothing
// is removed before it has been absent for its grace counted from when the controller knew it
// left the listing, nothing while the source fails) and of the rate cap's sliding window; then
// the source settles, the syncs come as the reconciler schedules them (after writes, at
// nextDeadline, at resync), and the group must converge within the grace periods, the cap's
// windows and the replacements' health checks to a steady state that makes no write.
// On failure the seed is printed; EB_PROPERTY_SEED=<seed> reruns just that case,
// EB_PROPERTY_SCALE=<n> multiplies the cases.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "controller/core/address_family.h"
#include "controller/core/planner.h"
#include "tests/unit/core/planner_property_checks.h"
#include "tests/unit/core/simulated_target_group.h"

namespace endpointbinder::core {
namespace {

using namespace testing;  // NOLINT(google-build-using-namespace): test helpers

constexpr uint64_t kSimulationSeedBase = 0x51f0'0000;
constexpr int kSimulationCases = 2500;

// ---------------------------------------------------------------- simulation cases

struct SimulationStats {
  int cases = 0;
  int syncs = 0;
  int deregistrations = 0;
  int failedSyncs = 0;
  int restarts = 0;
  int lineageChanges = 0;
  int cappedSyncs = 0;             // a plan held a due target for the window
  int waitingForReplacements = 0;  // a plan held a serving target for its replacements
  int refusals = 0;                // registrations the simulated group refused
};

void runSimulation(uint64_t seed, SimulationStats& stats) {
  SCOPED_TRACE("seed " + std::to_string(seed));
  Rng rng(seed);
  const api::Policy policy = randomPolicy(rng, true);
  GroupFacts facts = randomFacts(rng);
  facts.rejectionRetry = pick(rng, std::vector<std::chrono::nanoseconds>{seconds(30), minutes(5)});
  SCOPED_TRACE(describePolicy(policy) + " group=" + facts.ipAddressType +
               " window=" + formatDuration(facts.deregistrationWindow));
  SimulatedTargetGroup::Options groupOptions;
  groupOptions.healthCheckDelay = seconds(pick(rng, std::vector<int>{0, 10, 30}));
  groupOptions.drainFor = seconds(pick(rng, std::vector<int>{0, 30, 300}));
  SimulatedTargetGroup group(groupOptions);
  SimulatedBinding binding(policy, facts);
  const std::vector<seconds> steps = {seconds(5), seconds(10), seconds(15), seconds(30),
                                      seconds(60)};
  const double failRate = pick(rng, std::vector<double>{0.0, 0.1, 0.3, 0.6});
  const double churnRate = pick(rng, std::vector<double>{0.05, 0.2, 0.5});

  MonoTime now = kEpoch;
  auto pool = randomPool(rng, uniform(rng, 2, 10));
  std::vector<Target> live = randomSubset(rng, pool, 0.6);
  for (const auto& t : randomSubset(rng, pool, 0.4)) group.addRegistered(t, now, chance(rng, 0.7));
  ++stats.cases;

  // The source's own history: when it stopped listing each target it dropped (between two
  // syncs), and the lineage (binding key and spec generation) of its answers.
  std::map<std::string, MonoTime> departed;
  int generation = 1;
  MonoTime previousSync = now;

  // Oracle: the latest time each key was evidenced — listed by a good answer, standing in the
  // last good listing while the source failed, last listed before the source reported it
  // gone (only within the lineage of the previous listing; otherwise when the listing that
  // dropped it arrived), or first observed in the group after a restart.
  std::map<std::string, MonoTime> evidence;
  std::set<std::string> lastGood;
  std::optional<std::string> lastLineage;  // of the latest good answer since the restart
  bool restarted = true;                   // the binding starts with no memory
  const auto raise = [&](const std::string& k, MonoTime at) {
    auto [it, inserted] = evidence.try_emplace(k, at);
    if (!inserted) it->second = std::max(it->second, at);
  };
  // The rate cap's oracle: our deregistrations since the last restart (the tracker's memory).
  std::vector<MonoTime> removals;
  std::set<std::string> refused;  // keys the group has refused to register

  auto syncOnce = [&](bool allowTrouble) {
    SourceAnswer answer;
    const bool fail = allowTrouble && chance(rng, failRate);
    if (fail) {
      answer = SourceAnswer::failed(
          pick(rng, std::vector<std::string>{"SERVFAIL", "timeout", "NXDOMAIN", "empty answer"}));
      ++stats.failedSyncs;
      for (const auto& k : lastGood) raise(k, now);
    } else {
      answer = SourceAnswer::of(live);
      std::shuffle(answer.targets.begin(), answer.targets.end(), rng);
      answer.lineage = "ns/sim@" + std::to_string(generation);
      for (const auto& [k, at] : departed) answer.departedAt.emplace(k, at);
      const bool sameLineage = lastLineage == answer.lineage;
      const auto listedNow = keysOf(live);
      for (const auto& k : lastGood) {
        if (listedNow.contains(k)) continue;
        const auto d = departed.find(k);
        raise(k, sameLineage && d != departed.end() ? std::min(d->second, now) : now);
      }
      if (sameLineage) {
        // Dropped before this sync, and listed again and dropped again in between: the source
        // says until when.
        for (const auto& [k, at] : departed) {
          if (!listedNow.contains(k) && evidence.contains(k)) raise(k, std::min(at, now));
        }
      }
      lastGood = listedNow;
      lastLineage = answer.lineage;
      for (const auto& k : listedNow) raise(k, now);
    }
    const bool hadAnswer = !restarted || !fail;
    const auto inWindow = [&] {
      return static_cast<int>(std::count_if(removals.begin(), removals.end(), [&](MonoTime at) {
        return now - at < facts.deregistrationWindow;
      }));
    };
    const int recent = inWindow();
    Plan plan = binding.sync(answer, group, now);
    ++stats.syncs;
    previousSync = now;
    for (const auto& t : plan.toRegister) stats.refusals += group.refuses(t.key()) ? 1 : 0;
    if (restarted) {
      for (const auto& o : binding.lastObserved()) {
        if (isRegistered(o) && !evidence.contains(o.target.key())) evidence[o.target.key()] = now;
      }
      if (!fail) restarted = false;
    }
    // The tracker as the planner saw it: the deregistrations of this plan are recorded after.
    const int removedNow = static_cast<int>(plan.toDeregister.size());
    // The sliding window: a count cap bounds every window; a percentage bounds it by the
    // targets registered at the window's start (registered before this plan plus those the
    // window already removed).
    std::set<std::string> registeredBefore;
    for (const auto& o : binding.lastObserved()) {
      if (isRegistered(o)) registeredBefore.insert(o.target.key());
    }
    const int windowCap = std::max(0, policy.maxDeregistrationsPerSync.resolve(
                                          static_cast<int>(registeredBefore.size()) + recent));
    EXPECT_LE(recent + removedNow, std::max(recent, windowCap))
        << removedNow << " removed now, " << recent << " earlier in the window";
    if (!policy.maxDeregistrationsPerSync.isPercent) {
      EXPECT_LE(recent + removedNow, std::max(recent, policy.maxDeregistrationsPerSync.value));
    }
    for (int i = 0; i < removedNow; ++i) removals.push_back(now);
    EXPECT_EQ(
        static_cast<int>(binding.tracker().deregisteredWithin(facts.deregistrationWindow, now)),
        inWindow())
        << "the binding records its deregistrations for the window";
    checkPlanInvariants(plan, binding.lastDesired(), binding.lastObserved(),
                        binding.plannedTracker(), policy, now, facts);
    // Every snapshot case checks order independence; here a sample of syncs keeps the
    // sanitizer build fast.
    if (chance(rng, 0.25)) {
      checkOrderIndependence(plan, binding.lastDesired(), binding.lastObserved(),
                             binding.plannedTracker(), policy, now, rng, facts);
    }
    const auto heldFor = [&](HoldReason reason) {
      return std::any_of(plan.held.begin(), plan.held.end(),
                         [&](const HeldTarget& h) { return h.reason == reason; });
    };
    if (heldFor(HoldReason::kMaxDeregistrationsPerSync)) ++stats.cappedSyncs;
    if (heldFor(HoldReason::kReplacementsNotReady)) ++stats.waitingForReplacements;
    if (fail || !hadAnswer) {
      EXPECT_TRUE(plan.toDeregister.empty()) << "removed while failing";
    }
    // Nothing seen within grace is removed (the oracle knows nothing of the tracker).
    for (const auto& t : plan.toDeregister) {
      const auto k = t.key();
      if (!evidence.contains(k)) {
        ADD_FAILURE() << "removed a target never evidenced: " << k;
        continue;
      }
      api::Duration threshold = policy.deregistrationGracePeriod;
      const auto o = std::find_if(binding.lastObserved().begin(), binding.lastObserved().end(),
                                  [&](const ObservedTarget& x) { return x.target.key() == k; });
      if (policy.unhealthyGracePeriod > api::Duration::zero() &&
          o->state == TargetState::kUnhealthy) {
        threshold = std::min(threshold, policy.unhealthyGracePeriod);
      }
      EXPECT_GE(now - evidence[k], threshold) << "removed within grace: " << k;
    }
    stats.deregistrations += static_cast<int>(plan.toDeregister.size());
    return plan;
  };

  // Phase 1: churn, failures, restarts, sickness.
  for (int i = uniform(rng, 8, 24); i > 0 && !::testing::Test::HasFailure(); --i) {
    now += pick(rng, steps);
    if (chance(rng, churnRate)) {
      if (chance(rng, 0.5) || live.empty()) {
        if (chance(rng, 0.3)) pool.push_back(randomTarget(rng));
        const auto& t = pick(rng, pool);
        if (std::none_of(live.begin(), live.end(),
                         [&](const Target& x) { return x.key() == t.key(); })) {
          live.push_back(t);
        }
      } else {
        // The source stopped listing it somewhere between the previous sync and this one.
        const auto gone = live.begin() + uniform(rng, 0, static_cast<int>(live.size()) - 1);
        const auto since = std::chrono::duration_cast<milliseconds>(now - previousSync).count();
        departed[gone->key()] = now - milliseconds(uniform(rng, 0, static_cast<int>(since)));
        live.erase(gone);
      }
    }
    for (const auto& t : live) departed.erase(t.key());
    if (chance(rng, 0.05)) {
      ++generation;  // a spec edit: the next answers are of a new lineage
      ++stats.lineageChanges;
    }
    if (chance(rng, 0.08)) {
      const auto key = pick(rng, pool).key();
      group.setRefused(key, true);
      refused.insert(key);
    }
    if (chance(rng, 0.1)) group.setSick(pick(rng, pool).key(), chance(rng, 0.6));
    if (chance(rng, 0.02)) group.setAttached(chance(rng, 0.5));
    if (chance(rng, 0.03)) {
      binding.restart();
      evidence.clear();
      lastGood.clear();
      lastLineage.reset();
      removals.clear();
      restarted = true;
      ++stats.restarts;
    }
    syncOnce(true);
  }
  if (::testing::Test::HasFailure()) return;

  // Phase 2: the source settles and answers every time, and AWS takes every target again.
  // Syncs come as the reconciler schedules them: soon after a plan that wrote, at
  // nextDeadline, else at the resync period. The group must converge within the grace periods
  // plus a bounded number of syncs, a window for each sync the cap held back, and a resync
  // for each sync that waited on replacements' health checks or on a refusal's retry.
  for (const auto& k : refused) group.setRefused(k, false);
  const auto resync = pick(rng, std::vector<seconds>{seconds(60), seconds(300)});
  const auto afterWrite = pick(rng, steps);
  const MonoTime settleFrom = now;
  const auto settleBy = std::max(policy.deregistrationGracePeriod, policy.unhealthyGracePeriod) +
                        groupOptions.healthCheckDelay + resync +
                        (refused.empty() ? std::chrono::nanoseconds(0) : facts.rejectionRetry);
  Plan plan;
  int settleSyncs = 0;
  std::chrono::nanoseconds waits{0};
  const auto holds = [](const Plan& p, HoldReason reason) {
    return std::any_of(p.held.begin(), p.held.end(),
                       [&](const HeldTarget& h) { return h.reason == reason; });
  };
  for (; settleSyncs < 60 && !::testing::Test::HasFailure(); ++settleSyncs) {
    if (settleSyncs == 0 || plan.hasWrites()) {
      now += afterWrite;
    } else if (plan.nextDeadline && *plan.nextDeadline < now + resync) {
      now = *plan.nextDeadline;
    } else {
      now += resync;
    }
    plan = syncOnce(false);
    if (holds(plan, HoldReason::kMaxDeregistrationsPerSync)) waits += facts.deregistrationWindow;
    const bool checking =
        std::any_of(binding.lastObserved().begin(), binding.lastObserved().end(),
                    [](const ObservedTarget& o) { return o.state == TargetState::kInitial; });
    if (checking || holds(plan, HoldReason::kRejectedByAws)) {
      waits += resync;
      continue;  // health checks still running, or a refusal's retry to come: no deadline
    }
    if (!plan.hasWrites() && !plan.nextDeadline) break;
  }
  if (::testing::Test::HasFailure()) return;
  EXPECT_LE(now - settleFrom, settleBy + afterWrite * (settleSyncs + 1) + waits)
      << "converged too late: " << settleSyncs << " syncs";
  if (::testing::Test::HasFailure()) return;
  EXPECT_FALSE(plan.hasWrites()) << "not converged:\n" << describe(plan);
  std::set<std::string> wanted;
  for (const auto& t : live) {
    if (ipAllowed(t, policy) && addressFamilyAccepted(facts.ipAddressType, t.id)) {
      wanted.insert(t.key());
    }
  }
  const auto registered = group.registeredKeys();
  for (const auto& k : wanted) EXPECT_TRUE(registered.contains(k)) << "not registered: " << k;
  // What the settled group's serving and replacements look like.
  std::set<std::string> listedKeys = keysOf(live);
  int servingCount = 0;
  bool listedNotServing = false;
  std::set<std::string> servingKeys;
  for (const auto& o : binding.lastObserved()) {
    if (!isRegistered(o)) continue;
    if (isServing(o)) {
      ++servingCount;
      servingKeys.insert(o.target.key());
    } else if (listedKeys.contains(o.target.key())) {
      listedNotServing = true;
    }
  }
  if (policy.prune) {
    // Listed targets stay even outside allowedCIDRs if already registered: extras are the
    // registered targets the source does not list. One may stay only for the registered
    // floor, or — serving — for the serving floor or for a listed target that never serves.
    for (const auto& k : registered) {
      if (listedKeys.contains(k)) continue;
      const bool registeredFloor = registered.size() <= static_cast<size_t>(policy.minTargets);
      const bool servingHold =
          servingKeys.contains(k) && (servingCount <= policy.minTargets ||
                                      (policy.requireHealthyReplacements && listedNotServing));
      EXPECT_TRUE(registeredFloor || servingHold)
          << "extra target " << k << " left with " << registered.size() << " registered, "
          << servingCount << " serving";
    }
  }
  // A steady state makes no write call, waits on no deadline, and holds only what it must.
  const int calls = group.registerCalls() + group.deregisterCalls();
  for (int i = 0; i < 3; ++i) {
    now += resync;
    const Plan steady = syncOnce(false);
    EXPECT_FALSE(steady.hasWrites());
    EXPECT_EQ(steady.nextDeadline, std::nullopt);
    for (const auto& h : steady.held) {
      EXPECT_TRUE(h.reason == HoldReason::kNotAllowed || h.reason == HoldReason::kAddressFamily ||
                  (h.reason == HoldReason::kPruneDisabled && !policy.prune) ||
                  (h.reason == HoldReason::kMinTargets && policy.prune) ||
                  (h.reason == HoldReason::kReplacementsNotReady && policy.prune &&
                   policy.requireHealthyReplacements && listedNotServing))
          << h.target.key() << " " << holdReasonName(h.reason);
    }
    if (policy.prune && std::all_of(registered.begin(), registered.end(), [&](const auto& k) {
          return std::any_of(live.begin(), live.end(),
                             [&](const Target& t) { return t.key() == k; });
        })) {
      for (const auto& h : steady.held) {
        EXPECT_TRUE(h.reason == HoldReason::kNotAllowed || h.reason == HoldReason::kAddressFamily)
            << h.target.key() << " " << holdReasonName(h.reason);
      }
    }
  }
  EXPECT_EQ(group.registerCalls() + group.deregisterCalls(), calls);
}

TEST(PlannerConvergenceProperty, SimulatedSyncsConvergeSafely) {
  SimulationStats stats;
  const int ran = forEachSeed(kSimulationSeedBase, kSimulationCases,
                              [&](uint64_t seed) { runSimulation(seed, stats); });
  std::printf(
      "[ property ] %d simulation cases: %d syncs, %d deregistrations, %d failed syncs, "
      "%d restarts, %d spec edits, %d capped syncs, %d waiting for replacements, %d refused\n",
      ran, stats.syncs, stats.deregistrations, stats.failedSyncs, stats.restarts,
      stats.lineageChanges, stats.cappedSyncs, stats.waitingForReplacements, stats.refusals);
  if (!onlySeed()) {
    EXPECT_GT(stats.deregistrations, ran);
    EXPECT_GT(stats.failedSyncs, ran);
    EXPECT_GT(stats.restarts, ran / 4);
    EXPECT_GT(stats.lineageChanges, ran / 4);
    EXPECT_GT(stats.cappedSyncs, ran / 10);
    EXPECT_GT(stats.waitingForReplacements, ran / 10);
    EXPECT_GT(stats.refusals, ran / 10);
  }
}
}  // namespace
}  // namespace endpointbinder::core
