// Tests for targets the source says are leaving (an Auto Scaling instance Terminating, a Spot
// interruption warning): the tracker remembers it until the target is listed again, and the
// planner deregisters them without the grace period, never past prune, a failing source, the
// floors or the rate cap.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "controller/core/endpoint_tracker.h"
#include "controller/core/planner.h"

namespace endpointbinder::core {
namespace {

using std::chrono::hours;
using std::chrono::seconds;

const MonoTime kT0 = MonoTime{} + hours(100);

Target instance(const std::string& id) { return Target{id, 80, std::nullopt}; }

ObservedTarget registered(const Target& t, TargetState state = TargetState::kHealthy) {
  return ObservedTarget{t, state, "", ""};
}

SourceListing listing(std::vector<Target> targets, MonoTime at,
                      std::unordered_map<std::string, std::string> leaving = {}) {
  SourceListing l;
  l.targets = std::move(targets);
  l.confirmedAt = at;
  l.lineage = "ns/web@1";
  l.bindingKey = "ns/web";
  l.leaving = std::move(leaving);
  return l;
}

api::Policy policy() {
  api::Policy p;  // grace 3m, minTargets 1, cap 50%, replacements awaited
  p.allowedCidrs = api::defaultAllowedCidrs();
  return p;
}

const Target kA = instance("i-0aaaaaaaaaaaaaaaa");
const Target kB = instance("i-0bbbbbbbbbbbbbbbb");
const Target kC = instance("i-0cccccccccccccccc");

// a and b listed and registered; then b leaves (or just drops out) 10 s later.
struct Fixture {
  EndpointTracker tracker;
  std::vector<ObservedTarget> observed{registered(kA), registered(kB)};
  MonoTime now = kT0 + seconds(10);

  explicit Fixture(bool leaving, std::string reason = "Spot interruption warning 0s ago") {
    tracker.recordObserved(observed, kT0);
    tracker.recordListing(listing({kA, kB}, kT0), kT0);
    std::unordered_map<std::string, std::string> going;
    if (leaving) going.emplace(kB.key(), std::move(reason));
    tracker.recordListing(listing({kA}, now, going), now);
  }
  Plan plan(const api::Policy& p = policy(), bool failing = false) {
    return computePlan(DesiredTargets{{kA}, failing}, observed, tracker, p, now);
  }
};

TEST(LeavingTargets, TrackerRemembersWhyUntilListedAgain) {
  Fixture f(true, "Auto Scaling lifecycle state Terminating:Wait");
  EXPECT_EQ(f.tracker.leavingReason(kB.key()), "Auto Scaling lifecycle state Terminating:Wait");
  EXPECT_EQ(f.tracker.leavingReason(kA.key()), std::nullopt);
  // A later listing that no longer mentions it keeps it leaving (terminations do not undo).
  f.tracker.recordListing(listing({kA}, f.now + seconds(60)), f.now + seconds(60));
  EXPECT_TRUE(f.tracker.leavingReason(kB.key()).has_value());
  // Listed again (a new lineage, the same instance back): no longer leaving.
  f.tracker.recordListing(listing({kA, kB}, f.now + seconds(120)), f.now + seconds(120));
  EXPECT_EQ(f.tracker.leavingReason(kB.key()), std::nullopt);
}

TEST(LeavingTargets, ALeavingKeyThatIsAlsoListedIsNotLeaving) {
  EndpointTracker tracker;
  tracker.recordListing(listing({kA}, kT0, {{kA.key(), "confused source"}}), kT0);
  EXPECT_EQ(tracker.leavingReason(kA.key()), std::nullopt);
}

TEST(LeavingTargets, DeregisteredAtOnceInsteadOfAfterTheGrace) {
  Fixture leaving(true);
  const auto plan = leaving.plan();
  ASSERT_EQ(plan.toDeregister.size(), 1u);
  EXPECT_EQ(plan.toDeregister[0], kB);
  EXPECT_TRUE(plan.held.empty());

  Fixture dropped(false);  // the same departure without the leaving mark waits out the grace
  const auto held = dropped.plan();
  EXPECT_TRUE(held.toDeregister.empty());
  ASSERT_EQ(held.held.size(), 1u);
  EXPECT_EQ(held.held[0].reason, HoldReason::kWithinGracePeriod);
}

TEST(LeavingTargets, DoesNotWaitForReplacementsThatDoNotServeYet) {
  Fixture f(true);
  f.observed.push_back(registered(kC, TargetState::kInitial));
  f.tracker.recordListing(listing({kA, kC}, f.now, {{kB.key(), "Spot interruption warning"}}),
                          f.now);
  const auto plan =
      computePlan(DesiredTargets{{kA, kC}, false}, f.observed, f.tracker, policy(), f.now);
  ASSERT_EQ(plan.toDeregister.size(), 1u) << "c is not serving yet, b goes anyway";
  EXPECT_EQ(plan.toDeregister[0], kB);
}

TEST(LeavingTargets, PruneFailingSourceAndFloorsStillHold) {
  {
    Fixture f(true);
    auto p = policy();
    p.prune = false;
    const auto plan = f.plan(p);
    ASSERT_EQ(plan.held.size(), 1u);
    EXPECT_EQ(plan.held[0].reason, HoldReason::kPruneDisabled);
  }
  {
    Fixture f(true);
    const auto plan = f.plan(policy(), /*failing=*/true);
    ASSERT_EQ(plan.held.size(), 1u);
    EXPECT_EQ(plan.held[0].reason, HoldReason::kSourceFailing);
  }
  {
    Fixture f(true);
    auto p = policy();
    p.minTargets = 2;
    const auto plan = f.plan(p);
    ASSERT_EQ(plan.held.size(), 1u);
    EXPECT_EQ(plan.held[0].reason, HoldReason::kMinTargets);
    EXPECT_NE(plan.held[0].message.find("leaving (Spot interruption warning"), std::string::npos)
        << plan.held[0].message;
  }
}

TEST(LeavingTargets, GoFirstUnderTheRateCap) {
  // c was dropped long ago (past grace), b is leaving now; the cap allows one removal.
  EndpointTracker tracker;
  std::vector<ObservedTarget> observed{registered(kA), registered(kB), registered(kC)};
  tracker.recordObserved(observed, kT0);
  tracker.recordListing(listing({kA, kB, kC}, kT0), kT0);
  tracker.recordListing(listing({kA, kB}, kT0 + seconds(1)), kT0 + seconds(1));
  const auto now = kT0 + hours(1);
  tracker.recordObserved(observed, now);
  tracker.recordListing(
      listing({kA}, now, {{kB.key(), "Auto Scaling lifecycle state Terminating"}}), now);
  auto p = policy();
  p.maxDeregistrationsPerSync = api::CountOrPercent{false, 1};
  const auto plan = computePlan(DesiredTargets{{kA}, false}, observed, tracker, p, now);
  ASSERT_EQ(plan.toDeregister.size(), 1u);
  EXPECT_EQ(plan.toDeregister[0], kB) << "the leaving one before the longest absent";
}

}  // namespace
}  // namespace endpointbinder::core
