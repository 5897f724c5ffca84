// Randomized property tests for computePlan, one plan per case: a random tracker history,
// source listing, target group and policy (kSnapshotSeedBase + i), checked against the rules
// of planner.h: minimal, complete, grace (counted from when a listing dropped the target),
// failing source, prune, replacements not serving, registered and serving floors, the
// window's cap and its order, allowedCIDRs, address family, refused registrations,
// nextDeadline, and independence from input order and duplicates.
// The convergence properties (many syncs against a simulated group) are in
// planner_convergence_property_test.cc. On failure the seed is printed;
// EB_PROPERTY_SEED=<seed> reruns just that case, EB_PROPERTY_SCALE=<n> multiplies the cases.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "controller/core/address_family.h"
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
  int cappedByEarlierRemovals = 0;  // the window's earlier removals used the budget
  int waitingForReplacements = 0;
  int registrationHolds = 0;  // AddressFamily or RejectedByAWS
  const int ran = forEachSeed(kSnapshotSeedBase, kSnapshotCases, [&](uint64_t seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    Rng rng(seed);
    const auto pool = randomPool(rng, uniform(rng, 0, 24));
    const api::Policy policy = randomPolicy(rng, false);
    const GroupFacts facts = randomFacts(rng);
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
    MonoTime previous = now - hours(2);
    const std::vector<std::string> lineages = {"ns/web@1", "ns/web@1", "ns/web@2", "ns/api@1"};
    for (const MonoTime t : times) {
      switch (uniform(rng, 0, 5)) {
        case 0:
          lastListing = randomSubset(rng, pool, 0.6);
          tracker.recordListing(lastListing, t);
          break;
        case 1: {
          // A source answer with its own history: confirmed a while ago, and the departure
          // times of what it dropped since the previous listing (and of some it never had).
          SourceListing listing;
          listing.targets = randomSubset(rng, pool, 0.6);
          listing.confirmedAt = t - milliseconds(uniform(rng, 0, 30'000));
          listing.lineage = pick(rng, lineages);
          for (const auto& target : pool) {
            if (chance(rng, 0.5)) {
              const auto span = std::max<long long>(
                  1, std::chrono::duration_cast<milliseconds>(t - previous).count());
              listing.departedAt[target.key()] =
                  t - milliseconds(uniform(rng, 0, static_cast<int>(std::min(span, 7'200'000LL))));
            }
          }
          lastListing = listing.targets;
          tracker.recordListing(listing, t);
          break;
        }
        case 2:
          tracker.recordSourceFailure(pick(rng, std::vector<std::string>{"SERVFAIL", "timeout"}),
                                      t);
          break;
        case 3: {
          std::vector<ObservedTarget> seen;
          for (const auto& target : randomSubset(rng, pool, 0.5)) {
            seen.push_back(randomObserved(rng, target));
          }
          tracker.recordObserved(seen, t);
          break;
        }
        case 4:
          tracker.recordDeregistered(static_cast<size_t>(uniform(rng, 1, 4)), t);
          break;
        default:
          if (!pool.empty()) {
            tracker.recordRejected(pick(rng, pool), "InvalidTarget: refused",
                                   t + seconds(uniform(rng, 1, 900)));
          }
      }
      previous = t;
    }
    // Recent removals near `now`, so the window's budget is often partly used.
    if (chance(rng, 0.3)) {
      tracker.recordDeregistered(static_cast<size_t>(uniform(rng, 1, 3)),
                                 now - milliseconds(uniform(rng, 0, 120'000)));
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

    const Plan plan = computePlan(desired, observed, tracker, policy, now, facts);
    SCOPED_TRACE(describe(plan));
    checkPlanInvariants(plan, desired, observed, tracker, policy, now, facts);
    checkOrderIndependence(plan, desired, observed, tracker, policy, now, rng, facts);

    const auto heldFor = [](const Plan& p, HoldReason reason) {
      return std::count_if(p.held.begin(), p.held.end(),
                           [&](const HeldTarget& h) { return h.reason == reason; });
    };
    // At the deadline something held within grace is due. Only when the tracker knows the group:
    // a target it has never been told about is "absent since now" at every call. A deadline of
    // the cap's window is only when a held change *may* become due (a percentage's base shrinks
    // as the window frees), so plans with cap holds are left to the convergence property.
    if (trackerObservedGroup && plan.nextDeadline && *plan.nextDeadline < MonoTime::max() &&
        heldFor(plan, HoldReason::kMaxDeregistrationsPerSync) == 0) {
      const Plan later = computePlan(desired, observed, tracker, policy, *plan.nextDeadline, facts);
      const auto withinGrace = [](const Plan& p) {
        return std::count_if(p.held.begin(), p.held.end(), [](const HeldTarget& h) {
          return h.reason == HoldReason::kWithinGracePeriod;
        });
      };
      EXPECT_LT(withinGrace(later), withinGrace(plan)) << "nothing became due at nextDeadline";
      checkPlanInvariants(later, desired, observed, tracker, policy, *plan.nextDeadline, facts);
    }
    if (!plan.hasWrites() && plan.held.empty()) ++steadyStates;
    if (!plan.toDeregister.empty()) ++withDeregistrations;
    if (heldFor(plan, HoldReason::kMaxDeregistrationsPerSync) > 0) {
      ++capped;
      if (tracker.deregisteredWithin(facts.deregistrationWindow, now) > 0) {
        ++cappedByEarlierRemovals;
      }
    }
    if (heldFor(plan, HoldReason::kReplacementsNotReady) > 0) ++waitingForReplacements;
    if (heldFor(plan, HoldReason::kAddressFamily) + heldFor(plan, HoldReason::kRejectedByAws) > 0) {
      ++registrationHolds;
    }
  });
  std::printf(
      "[ property ] %d snapshot cases: %d steady, %d with deregistrations, %d capped (%d by "
      "earlier removals), %d waiting for replacements, %d with refused or wrong-family targets\n",
      ran, steadyStates, withDeregistrations, capped, cappedByEarlierRemovals,
      waitingForReplacements, registrationHolds);
  if (!onlySeed()) {
    // The generator must reach the interesting regions, or the checks above prove little.
    EXPECT_GT(withDeregistrations, ran / 10);
    EXPECT_GT(capped, ran / 50);
    EXPECT_GT(cappedByEarlierRemovals, ran / 100);
    EXPECT_GT(waitingForReplacements, ran / 50);
    EXPECT_GT(registrationHolds, ran / 50);
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
        const GroupFacts facts = randomFacts(rng);
        for (const auto& t : randomPool(rng, uniform(rng, 0, 20))) {
          if (ipAllowed(t, policy) && addressFamilyAccepted(facts.ipAddressType, t.id)) {
            listed.push_back(t);
          }
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
        if (chance(rng, 0.3)) tracker.recordDeregistered(2, now - seconds(uniform(rng, 0, 90)));
        const Plan plan =
            computePlan({listed, chance(rng, 0.2)}, observed, tracker, policy, now, facts);
        EXPECT_EQ(plan, Plan{}) << describe(plan);
      });
  if (!onlySeed()) {
    EXPECT_EQ(ran, scaled(kSteadyStateCases));
  }
}

}  // namespace
}  // namespace endpointbinder::core
