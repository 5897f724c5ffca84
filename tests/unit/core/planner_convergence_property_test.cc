// Randomized convergence properties: a binding synced over time against a simulated target
// group that applies every plan (kSimulationSeedBase + i), with a churning source, failures,
// restarts, sick targets and detached groups. Every plan passes the checks of
// planner_property_checks.h plus an oracle of when each target was last evidenced (nothing
// seen within grace is removed, nothing while the source fails); then the source settles, the
// syncs come as the reconciler schedules them (after writes, at nextDeadline, at resync), and
// the group must converge within the grace periods to a steady state that makes no write.
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
};

void runSimulation(uint64_t seed, SimulationStats& stats) {
  SCOPED_TRACE("seed " + std::to_string(seed));
  Rng rng(seed);
  const api::Policy policy = randomPolicy(rng, true);
  SCOPED_TRACE(describePolicy(policy));
  SimulatedTargetGroup::Options groupOptions;
  groupOptions.healthCheckDelay = seconds(pick(rng, std::vector<int>{0, 10, 30}));
  groupOptions.drainFor = seconds(pick(rng, std::vector<int>{0, 30, 300}));
  SimulatedTargetGroup group(groupOptions);
  SimulatedBinding binding(policy);
  const std::vector<seconds> steps = {seconds(5), seconds(10), seconds(15), seconds(30),
                                      seconds(60)};
  const double failRate = pick(rng, std::vector<double>{0.0, 0.1, 0.3, 0.6});
  const double churnRate = pick(rng, std::vector<double>{0.05, 0.2, 0.5});

  MonoTime now = kEpoch;
  auto pool = randomPool(rng, uniform(rng, 2, 10));
  std::vector<Target> live = randomSubset(rng, pool, 0.6);
  for (const auto& t : randomSubset(rng, pool, 0.4)) group.addRegistered(t, now, chance(rng, 0.7));
  ++stats.cases;

  // Oracle: the latest time each key was evidenced — listed by a good answer, standing in the
  // last good listing through an outage, or first observed in the group after a restart.
  std::map<std::string, MonoTime> evidence;
  std::set<std::string> lastGood;
  bool outage = false;
  bool restarted = true;  // the binding starts with no memory

  auto syncOnce = [&](bool allowTrouble) {
    SourceAnswer answer;
    const bool fail = allowTrouble && chance(rng, failRate);
    if (fail) {
      answer = SourceAnswer::failed(
          pick(rng, std::vector<std::string>{"SERVFAIL", "timeout", "NXDOMAIN", "empty answer"}));
      outage = true;
      ++stats.failedSyncs;
    } else {
      answer = SourceAnswer::of(live);
      std::shuffle(answer.targets.begin(), answer.targets.end(), rng);
      if (outage) {
        for (const auto& k : lastGood) evidence[k] = now;
      }
      outage = false;
      lastGood.clear();
      for (const auto& t : live) {
        evidence[t.key()] = now;
        lastGood.insert(t.key());
      }
    }
    const bool hadAnswer = !restarted || !fail;
    Plan plan = binding.sync(answer, group, now);
    ++stats.syncs;
    if (restarted) {
      for (const auto& o : binding.lastObserved()) {
        if (isRegistered(o) && !evidence.contains(o.target.key())) evidence[o.target.key()] = now;
      }
      if (!fail) restarted = false;
    }
    checkPlanInvariants(plan, binding.lastDesired(), binding.lastObserved(), binding.tracker(),
                        policy, now);
    // Every snapshot case checks order independence; here a sample of syncs keeps the
    // sanitizer build fast.
    if (chance(rng, 0.25)) {
      checkOrderIndependence(plan, binding.lastDesired(), binding.lastObserved(), binding.tracker(),
                             policy, now, rng);
    }
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
        live.erase(live.begin() + uniform(rng, 0, static_cast<int>(live.size()) - 1));
      }
    }
    if (chance(rng, 0.1)) group.setSick(pick(rng, pool).key(), chance(rng, 0.6));
    if (chance(rng, 0.02)) group.setAttached(chance(rng, 0.5));
    if (chance(rng, 0.03)) {
      binding.restart();
      evidence.clear();
      lastGood.clear();
      outage = false;
      restarted = true;
      ++stats.restarts;
    }
    syncOnce(true);
  }
  if (::testing::Test::HasFailure()) return;

  // Phase 2: the source settles and answers every time. Syncs come as the reconciler
  // schedules them: soon after a plan that wrote, at nextDeadline, else at the resync period.
  // The group must converge within the grace periods plus a bounded number of syncs.
  const auto resync = pick(rng, std::vector<seconds>{seconds(60), seconds(300)});
  const auto afterWrite = pick(rng, steps);
  const MonoTime settleFrom = now;
  const auto settleBy = std::max(policy.deregistrationGracePeriod, policy.unhealthyGracePeriod) +
                        groupOptions.healthCheckDelay + resync;
  Plan plan;
  int settleSyncs = 0;
  for (; settleSyncs < 60 && !::testing::Test::HasFailure(); ++settleSyncs) {
    if (settleSyncs == 0 || plan.hasWrites()) {
      now += afterWrite;
    } else if (plan.nextDeadline && *plan.nextDeadline < now + resync) {
      now = *plan.nextDeadline;
    } else {
      now += resync;
    }
    plan = syncOnce(false);
    if (!plan.hasWrites() && !plan.nextDeadline) break;
  }
  if (::testing::Test::HasFailure()) return;
  EXPECT_LE(now - settleFrom, settleBy + afterWrite * (settleSyncs + 1))
      << "converged too late: " << settleSyncs << " syncs";
  if (::testing::Test::HasFailure()) return;
  EXPECT_FALSE(plan.hasWrites()) << "not converged:\n" << describe(plan);
  std::set<std::string> wanted;
  for (const auto& t : live) {
    if (ipAllowed(t, policy)) wanted.insert(t.key());
  }
  const auto registered = group.registeredKeys();
  for (const auto& k : wanted) EXPECT_TRUE(registered.contains(k)) << "not registered: " << k;
  if (policy.prune) {
    // Listed targets stay even outside allowedCIDRs if already registered: extras are the
    // registered targets the source does not list.
    std::set<std::string> listedKeys;
    for (const auto& t : live) listedKeys.insert(t.key());
    size_t extras = 0;
    for (const auto& k : registered) extras += listedKeys.contains(k) ? 0 : 1;
    EXPECT_TRUE(extras == 0 || registered.size() <= static_cast<size_t>(policy.minTargets))
        << extras << " extra targets left with " << registered.size() << " registered";
  }
  // A steady state makes no write call, waits on no deadline, and holds only what it must.
  const int calls = group.registerCalls() + group.deregisterCalls();
  for (int i = 0; i < 3; ++i) {
    now += resync;
    const Plan steady = syncOnce(false);
    EXPECT_FALSE(steady.hasWrites());
    EXPECT_EQ(steady.nextDeadline, std::nullopt);
    for (const auto& h : steady.held) {
      EXPECT_TRUE(h.reason == HoldReason::kNotAllowed ||
                  (h.reason == HoldReason::kPruneDisabled && !policy.prune) ||
                  (h.reason == HoldReason::kMinTargets && policy.prune))
          << h.target.key() << " " << holdReasonName(h.reason);
    }
    if (policy.prune && std::all_of(registered.begin(), registered.end(), [&](const auto& k) {
          return std::any_of(live.begin(), live.end(),
                             [&](const Target& t) { return t.key() == k; });
        })) {
      for (const auto& h : steady.held) EXPECT_EQ(h.reason, HoldReason::kNotAllowed);
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
      "%d restarts\n",
      ran, stats.syncs, stats.deregistrations, stats.failedSyncs, stats.restarts);
  if (!onlySeed()) {
    EXPECT_GT(stats.deregistrations, ran);
    EXPECT_GT(stats.failedSyncs, ran);
    EXPECT_GT(stats.restarts, ran / 4);
  }
}
}  // namespace
}  // namespace endpointbinder::core
