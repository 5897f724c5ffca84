// Randomized property tests for computePlan, one plan per case: a random tracker history,
// source listing, target group and policy (kSnapshotSeedBase + i), checked against the rules
// of planner.h: minimal, complete, grace, failing source, prune, floor, cap and its order,
// allowedCIDRs, nextDeadline, and independence from input order and duplicates.
// The convergence properties (many syncs against a simulated group) are in
// planner_convergence_property_test.cc. On failure the seed is printed;
// EB_PROPERTY_SEED=<seed> reruns just that case, EB_PROPERTY_SCALE=<n> multiplies the cases.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "controller/core/planner.h"
#include "tests/unit/core/planner_property_checks.h"

namespace endpointbinder::core {
namespace {

using namespace testing;  // NOLINT(google-build-using-namespace): test helpers

constexpr uint64_t kSnapshotSeedBase = 0x5eed'0000;
constexpr int kSnapshotCases = 7500;
constexpr int kSteadyStateCases = 500;

// ---------------------------------------------------------------- snapshot cases

TEST(PlannerProperty, RandomSnapshots) {
  int steadyStates = 0;
  int withDeregistrations = 0;
  int capped = 0;
  const int ran = forEachSeed(kSnapshotSeedBase, kSnapshotCases, [&](uint64_t seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    Rng rng(seed);
    const auto pool = randomPool(rng, uniform(rng, 0, 24));
    const api::Policy policy = randomPolicy(rng, false);
    const MonoTime now = kEpoch + milliseconds(uniform(rng, 0, 1'000'000));

    // Tracker history over the last hour, oldest first.
    EndpointTracker tracker(chance(rng, 0.5) ? EndpointTracker::kDefaultForgetAfter
                                             : milliseconds(uniform(rng, 0, 1'800'000)));
    std::vector<MonoTime> times;
    for (int i = uniform(rng, 0, 12); i > 0; --i) {
      times.push_back(now - milliseconds(uniform(rng, 1, 3'600'000)));
    }
    std::sort(times.begin(), times.end());
    std::vector<Target> lastListing;
    for (const MonoTime t : times) {
      switch (uniform(rng, 0, 3)) {
        case 0:
        case 1:
          lastListing = randomSubset(rng, pool, 0.6);
          tracker.recordListing(lastListing, t);
          break;
        case 2:
          tracker.recordSourceFailure(pick(rng, std::vector<std::string>{"SERVFAIL", "timeout"}),
                                      t);
          break;
        default: {
          std::vector<ObservedTarget> seen;
          for (const auto& target : randomSubset(rng, pool, 0.5)) {
            seen.push_back(randomObserved(rng, target));
          }
          tracker.recordObserved(seen, t);
        }
      }
    }
    DesiredTargets desired;
    desired.targets = chance(rng, 0.6) ? lastListing : randomSubset(rng, pool, 0.5);
    desired.sourceFailing = chance(rng, 0.8) ? tracker.sourceFailing() : chance(rng, 0.3);
    std::vector<ObservedTarget> observed;
    for (const auto& target : randomSubset(rng, pool, 0.6)) {
      observed.push_back(randomObserved(rng, target));
    }
    // Usually the tracker has seen this group (as the reconciler does before planning).
    const bool trackerObservedGroup = chance(rng, 0.8);
    if (trackerObservedGroup) tracker.recordObserved(observed, now);
    SCOPED_TRACE(describePolicy(policy));

    const Plan plan = computePlan(desired, observed, tracker, policy, now);
    SCOPED_TRACE(describe(plan));
    checkPlanInvariants(plan, desired, observed, tracker, policy, now);
    checkOrderIndependence(plan, desired, observed, tracker, policy, now, rng);

    // At the deadline something held within grace is due. Only when the tracker knows the group:
    // a target it has never been told about is "absent since now" at every call.
    if (trackerObservedGroup && plan.nextDeadline && *plan.nextDeadline < MonoTime::max()) {
      const Plan later = computePlan(desired, observed, tracker, policy, *plan.nextDeadline);
      const auto withinGrace = [](const Plan& p) {
        return std::count_if(p.held.begin(), p.held.end(), [](const HeldTarget& h) {
          return h.reason == HoldReason::kWithinGracePeriod;
        });
      };
      EXPECT_LT(withinGrace(later), withinGrace(plan)) << "nothing became due at nextDeadline";
      checkPlanInvariants(later, desired, observed, tracker, policy, *plan.nextDeadline);
    }
    if (!plan.hasWrites() && plan.held.empty()) ++steadyStates;
    if (!plan.toDeregister.empty()) ++withDeregistrations;
    if (std::any_of(plan.held.begin(), plan.held.end(), [](const HeldTarget& h) {
          return h.reason == HoldReason::kMaxDeregistrationsPerSync;
        })) {
      ++capped;
    }
  });
  std::printf("[ property ] %d snapshot cases: %d steady, %d with deregistrations, %d capped\n",
              ran, steadyStates, withDeregistrations, capped);
  if (!onlySeed()) {
    // The generator must reach the interesting regions, or the checks above prove little.
    EXPECT_GT(withDeregistrations, ran / 10);
    EXPECT_GT(capped, ran / 50);
    EXPECT_GT(steadyStates, ran / 50);
  }
}

TEST(PlannerProperty, SteadyStateYieldsAnEmptyPlan) {
  // Everything listed is registered and nothing else is: the plan is empty whatever the
  // health, the policy or the tracker's memory.
  const int ran =
      forEachSeed(kSnapshotSeedBase + kSnapshotCases, kSteadyStateCases, [&](uint64_t seed) {
        SCOPED_TRACE("seed " + std::to_string(seed));
        Rng rng(seed ^ 0xabcdef);
        api::Policy policy = randomPolicy(rng, false);
        std::vector<Target> listed;
        for (const auto& t : randomPool(rng, uniform(rng, 0, 20))) {
          if (ipAllowed(t, policy)) listed.push_back(t);
        }
        std::vector<ObservedTarget> observed;
        for (const auto& t : listed) {
          auto o = randomObserved(rng, t);
          if (!isRegistered(o)) o.state = TargetState::kHealthy;
          observed.push_back(o);
        }
        EndpointTracker tracker;
        const MonoTime now = kEpoch + minutes(uniform(rng, 0, 600));
        if (chance(rng, 0.5)) tracker.recordListing(listed, now - minutes(uniform(rng, 0, 60)));
        if (chance(rng, 0.5)) tracker.recordObserved(observed, now);
        const Plan plan = computePlan({listed, chance(rng, 0.2)}, observed, tracker, policy, now);
        EXPECT_EQ(plan, Plan{}) << describe(plan);
      });
  if (!onlySeed()) {
    EXPECT_EQ(ran, scaled(kSteadyStateCases));
  }
}

}  // namespace
}  // namespace endpointbinder::core
