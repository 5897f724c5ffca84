// Tests for InstanceInventory over a fake EC2 / Auto Scaling: sharing (identical sources read
// once; EC2 calls per round do not grow with the number of bindings), the listing rules of each
// source kind, failure freezing, departures, notifications and the event path.
#include "controller/runtime/instance_inventory.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <set>

#include "tests/support/fake_instance_apis.h"

namespace endpointbinder::runtime {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::fakeInstance;
using testing::FakeInstanceApis;

constexpr const char* kFleet = "sfr-0d4b0a3e-5c1f-4c9e-9a7b-2f6e8d1c3b5a";

std::string iid(int n) { return fmt::format("i-{:017x}", n); }
std::string ip(int n) { return fmt::format("10.0.{}.{}", n / 250, n % 250 + 1); }

api::Source ec2Source(std::vector<api::Ec2Filter> filters,
                      std::vector<std::string> states = {"running"}) {
  return api::Ec2Source{std::move(filters), std::move(states)};
}
api::Source fleetSource(std::string id = kFleet) { return api::SpotFleetSource{std::move(id)}; }
api::Source groupSource(std::string name) { return api::AutoScalingGroupSource{std::move(name)}; }

core::Error throttled() {
  return core::Error{core::ErrorKind::kRetryable, "Request limit exceeded.", "RequestLimitExceeded",
                     "req", 503};
}

struct Harness {
  core::ManualClock clock;
  FakeInstanceApis aws;
  core::NullLogger log;
  std::vector<std::vector<std::string>> notified;
  InstanceInventory inventory{InstanceInventory::Deps{aws, aws, clock, log,
                                                      [this](const std::vector<std::string>& keys) {
                                                        notified.push_back(keys);
                                                      }},
                              InventoryOptions{}};

  InventoryView view(const std::string& key, InstanceIdKind kind = InstanceIdKind::kInstanceId,
                     bool onInterruption = false) {
    auto v = inventory.view(key, kind, onInterruption);
    EXPECT_TRUE(v.has_value()) << key;
    return v.value_or(InventoryView{});
  }
  std::set<std::string> notifiedKeys() const {
    std::set<std::string> keys;
    for (const auto& batch : notified) keys.insert(batch.begin(), batch.end());
    return keys;
  }
  // Advances to the next due time and refreshes.
  void tick() {
    if (auto due = inventory.nextDue(); due && *due > clock.now())
      clock.advance(*due - clock.now());
    inventory.refreshDue();
  }
};

TEST(InstanceInventory, SourceKeysTreatFiltersAsSets) {
  EXPECT_EQ(instanceSourceKey(ec2Source({{"tag:role", {"web", "api"}}, {"vpc-id", {"v"}}})),
            instanceSourceKey(ec2Source({{"vpc-id", {"v"}}, {"tag:role", {"api", "web", "web"}}})));
  EXPECT_NE(instanceSourceKey(ec2Source({{"tag:role", {"web"}}})),
            instanceSourceKey(ec2Source({{"tag:role", {"web"}}}, {"running", "stopped"})));
  EXPECT_NE(instanceSourceKey(ec2Source({{"tag:a", {"b,c"}}})),
            instanceSourceKey(ec2Source({{"tag:a", {"b", "c"}}})));
  EXPECT_EQ(instanceSourceKey(fleetSource("sfr-1")), "spotFleet sfr-1");
  EXPECT_EQ(instanceSourceKey(groupSource("web")), "autoScalingGroup web");
  EXPECT_TRUE(isInstanceSource(groupSource("web")));
  EXPECT_FALSE(isInstanceSource(api::StaticSource{}));
}

TEST(InstanceInventory, IdenticalSourcesAreReadOnce) {
  Harness h;
  h.aws.putInstance(fakeInstance(iid(1), ip(1), {{"role", "web"}}));
  h.aws.putInstance(fakeInstance(iid(2), ip(2), {{"role", "api"}}));
  h.inventory.subscribe("ns/a", ec2Source({{"tag:role", {"web", "web-canary"}}}));
  h.inventory.subscribe("ns/b", ec2Source({{"tag:role", {"web-canary", "web"}}}));
  h.inventory.subscribe("ns/c", ec2Source({{"tag:role", {"web", "web-canary"}}}));
  EXPECT_EQ(h.inventory.stats().sources, 1u);
  h.tick();
  EXPECT_EQ(h.aws.calls("DescribeInstances"), 1);
  for (const char* key : {"ns/a", "ns/b", "ns/c"}) {
    const auto v = h.view(key);
    EXPECT_TRUE(v.hasAnswer);
    EXPECT_FALSE(v.failing);
    EXPECT_EQ(v.ids, (std::vector<std::string>{iid(1)})) << key;
  }
  EXPECT_EQ(h.view("ns/a", InstanceIdKind::kIpv4).ids, (std::vector<std::string>{ip(1)}));
  EXPECT_EQ(h.notifiedKeys(), (std::set<std::string>{"ns/a", "ns/b", "ns/c"}));
}

// EC2's quotas are per account: a round must cost the same for 1,000 bindings as for 100.
TEST(InstanceInventory, CallsPerRoundDoNotGrowWithBindings) {
  std::map<int, int> steadyCalls;
  for (int bindings : {1, 100, 1000}) {
    Harness h;
    for (int i = 0; i < 3000; ++i) {
      h.aws.putInstance(fakeInstance(iid(i), ip(i), {{"app", fmt::format("app-{}", i % 1000)}}));
    }
    for (int b = 0; b < bindings; ++b) {
      h.inventory.subscribe(fmt::format("ns/b{}", b),
                            ec2Source({{"tag:app", {fmt::format("app-{}", b)}}}));
    }
    h.tick();  // the first round learns the sizes
    for (int b = 0; b < bindings; b += std::max(1, bindings / 10)) {
      EXPECT_EQ(h.view(fmt::format("ns/b{}", b)).ids.size(), 3u) << b;
    }
    h.aws.resetCalls();
    h.clock.advance(seconds(60));
    h.inventory.refreshDue();
    steadyCalls[bindings] = h.aws.totalCalls();
    EXPECT_EQ(h.inventory.stats().accountWide, bindings > 3) << bindings;
  }
  EXPECT_EQ(steadyCalls[1], 1) << "one filtered call";
  EXPECT_EQ(steadyCalls[100], 3) << "one account-wide listing of 3 pages";
  EXPECT_EQ(steadyCalls[1000], 3) << "the same listing serves 1,000 bindings";
}

TEST(InstanceInventory, LocalEvaluationListsWhatFilteredCallsList) {
  // Two sources force the account-wide listing; a third binding alone uses a filtered call.
  // Both ways must list the same instances.
  const auto filters =
      std::vector<api::Ec2Filter>{{"tag:role", {"web*"}}, {"instance-type", {"c5.?arge"}}};
  auto populate = [](FakeInstanceApis& aws) {
    aws.putInstance(fakeInstance(iid(1), ip(1), {{"role", "web"}}));
    aws.putInstance(fakeInstance(iid(2), ip(2), {{"role", "web-canary"}}));
    aws.putInstance(fakeInstance(iid(3), ip(3), {{"role", "api"}}));
    auto stopped = fakeInstance(iid(4), ip(4), {{"role", "web"}});
    stopped.state = "stopped";
    aws.putInstance(stopped);
    auto big = fakeInstance(iid(5), ip(5), {{"role", "web"}});
    big.instanceType = "c5.xlarge";
    aws.putInstance(big);
  };
  Harness wide;
  populate(wide.aws);
  wide.inventory.subscribe("ns/web", ec2Source(filters));
  wide.inventory.subscribe("ns/other", ec2Source({{"tag:role", {"api"}}}));
  wide.tick();
  EXPECT_TRUE(wide.inventory.stats().accountWide);
  EXPECT_EQ(wide.aws.describeInstancesFilters().at(0).size(), 0u) << "no filters: account-wide";

  Harness narrow;
  populate(narrow.aws);
  narrow.inventory.subscribe("ns/web", ec2Source(filters));
  narrow.tick();
  EXPECT_FALSE(narrow.inventory.stats().accountWide);
  const auto sent = narrow.aws.describeInstancesFilters().at(0);
  ASSERT_EQ(sent.size(), 3u);
  EXPECT_EQ(sent[2].name, "instance-state-name") << "states go to EC2 as a filter";

  EXPECT_EQ(wide.view("ns/web").ids, (std::vector<std::string>{iid(1), iid(2)}));
  EXPECT_EQ(narrow.view("ns/web").ids, wide.view("ns/web").ids);
}

TEST(InstanceInventory, FiltersEc2CannotBeEvaluatedHereGetTheirOwnCall) {
  Harness h;
  h.aws.putInstance(fakeInstance(iid(1), ip(1), {{"role", "web"}, {"fake:launch-time", "x"}}));
  h.aws.putInstance(fakeInstance(iid(2), ip(2), {{"role", "web"}}));
  h.inventory.subscribe("ns/a", ec2Source({{"tag:role", {"web"}}}));
  h.inventory.subscribe("ns/b", ec2Source({{"tag:role", {"api"}}}));
  h.inventory.subscribe("ns/remote", ec2Source({{"launch-time", {"x"}}}));
  h.tick();
  EXPECT_EQ(h.view("ns/remote").ids, (std::vector<std::string>{iid(1)}));
  EXPECT_EQ(h.view("ns/a").ids, (std::vector<std::string>{iid(1), iid(2)}));
  EXPECT_EQ(h.aws.calls("DescribeInstances"), 2) << "account-wide listing + the remote source";
}

TEST(InstanceInventory, SpotFleetListsItsRunningActiveInstances) {
  Harness h;
  h.aws.putInstance(fakeInstance(iid(1), ip(1)));
  h.aws.putInstance(fakeInstance(iid(2), ip(2)));
  auto pending = fakeInstance(iid(3), ip(3));
  pending.state = "pending";
  h.aws.putInstance(pending);
  h.aws.putInstance(fakeInstance(iid(9), ip(9)));  // not in the fleet
  h.aws.putFleet(kFleet, {"active", {iid(1), iid(2), iid(3)}});
  h.inventory.subscribe("ns/fleet", fleetSource());
  h.tick();
  EXPECT_EQ(h.view("ns/fleet").ids, (std::vector<std::string>{iid(1), iid(2)}));
  EXPECT_EQ(h.view("ns/fleet", InstanceIdKind::kIpv4).ids,
            (std::vector<std::string>{ip(1), ip(2)}));
  EXPECT_EQ(h.aws.calls("DescribeSpotFleetRequests"), 1);
  EXPECT_EQ(h.aws.calls("DescribeSpotFleetInstances"), 1);
  EXPECT_EQ(h.aws.calls("DescribeInstances"), 1) << "members by instance-id filter";
  EXPECT_EQ(h.aws.describeInstancesFilters().at(0).at(0).name, "instance-id");
}

TEST(InstanceInventory, CancelledOrMissingFleetIsFailingNeverEmpty) {
  for (const std::string end : {"cancelled_terminating", "cancelled", "failed", "missing"}) {
    Harness h;
    h.aws.putInstance(fakeInstance(iid(1), ip(1)));
    h.aws.putFleet(kFleet, {"active", {iid(1)}});
    h.inventory.subscribe("ns/fleet", fleetSource());
    h.tick();
    ASSERT_EQ(h.view("ns/fleet").ids, (std::vector<std::string>{iid(1)}));
    if (end == "missing") {
      h.aws.removeFleet(kFleet);
    } else {
      h.aws.putFleet(kFleet, {end, {}});
    }
    h.notified.clear();
    h.clock.advance(seconds(60));
    h.inventory.refreshDue();
    const auto v = h.view("ns/fleet");
    EXPECT_TRUE(v.failing) << end;
    EXPECT_NE(v.failureReason.find(end == "missing" ? "not found" : end), std::string::npos)
        << v.failureReason;
    EXPECT_EQ(v.ids, (std::vector<std::string>{iid(1)})) << "the last good listing stands";
    EXPECT_EQ(h.notifiedKeys(), (std::set<std::string>{"ns/fleet"}));
  }
}

TEST(InstanceInventory, OneMissingFleetDoesNotFailTheOthers) {
  Harness h;
  h.aws.putInstance(fakeInstance(iid(1), ip(1)));
  h.aws.putFleet("sfr-a", {"active", {iid(1)}});
  h.inventory.subscribe("ns/a", fleetSource("sfr-a"));
  h.inventory.subscribe("ns/b", fleetSource("sfr-b"));  // never existed
  h.tick();
  EXPECT_FALSE(h.view("ns/a").failing);
  EXPECT_EQ(h.view("ns/a").ids, (std::vector<std::string>{iid(1)}));
  EXPECT_TRUE(h.view("ns/b").failing);
  EXPECT_FALSE(h.view("ns/b").hasAnswer);
}

TEST(InstanceInventory, AutoScalingLifecycleStates) {
  Harness h;
  aws::AutoScalingGroupInfo group{"web-asg", "", {}};
  const std::vector<std::string> states = {"InService", "Pending",          "Standby",
                                           "Detached",  "Terminating:Wait", "InService"};
  for (size_t i = 0; i < states.size(); ++i) {
    h.aws.putInstance(fakeInstance(iid(static_cast<int>(i)), ip(static_cast<int>(i))));
    group.instances.push_back({iid(static_cast<int>(i)), states[i], "Healthy", "a"});
  }
  h.aws.putGroup(group);
  h.inventory.subscribe("ns/asg", groupSource("web-asg"));
  h.tick();
  auto v = h.view("ns/asg");
  EXPECT_EQ(v.ids, (std::vector<std::string>{iid(0), iid(5)})) << "InService only";
  ASSERT_EQ(v.leaving.size(), 1u);
  EXPECT_EQ(v.leaving[0].id, iid(4));
  EXPECT_EQ(v.leaving[0].reason, "Auto Scaling lifecycle state Terminating:Wait");
  auto v4 = h.view("ns/asg", InstanceIdKind::kIpv4);
  ASSERT_EQ(v4.leaving.size(), 1u);
  EXPECT_EQ(v4.leaving[0].id, ip(4)) << "leaving by address for ip bindings";

  // Scale-in: instance 0 goes Terminating: it leaves at once (no departure to wait out).
  group.instances[0].lifecycleState = "Terminating";
  h.aws.putGroup(group);
  h.clock.advance(seconds(60));
  h.inventory.refreshDue();
  v = h.view("ns/asg");
  EXPECT_EQ(v.ids, (std::vector<std::string>{iid(5)}));
  EXPECT_EQ(v.leaving.size(), 2u);
  EXPECT_TRUE(v.departed.empty()) << "leaving, not departed";

  // Missing group: failing, last good kept.
  h.aws.removeGroup("web-asg");
  h.clock.advance(seconds(60));
  h.inventory.refreshDue();
  v = h.view("ns/asg");
  EXPECT_TRUE(v.failing);
  EXPECT_NE(v.failureReason.find("not found"), std::string::npos);
  EXPECT_EQ(v.ids, (std::vector<std::string>{iid(5)}));
}

TEST(InstanceInventory, AutoScalingMemberThatLeftTerminatedIsLeavingOneStillRunningDeparts) {
  // Without lifecycle hooks an instance is Terminating only briefly: a poll may first see it
  // gone from the group. Terminated (or gone from EC2) it is leaving; detached and still
  // running it is an ordinary departure that waits out the grace.
  Harness h;
  aws::AutoScalingGroupInfo group{"web-asg", "", {}};
  for (int i = 0; i < 4; ++i) {
    h.aws.putInstance(fakeInstance(iid(i), ip(i)));
    group.instances.push_back({iid(i), "InService", "Healthy", "a"});
  }
  h.aws.putGroup(group);
  h.inventory.subscribe("ns/asg", groupSource("web-asg"));
  h.tick();
  ASSERT_EQ(h.view("ns/asg").ids.size(), 4u);

  h.aws.setState(iid(0), "terminated");
  h.aws.removeInstance(iid(1));                               // long gone from EC2 too
  group.instances = {{iid(2), "InService", "Healthy", "a"}};  // 3 detached, still running
  h.aws.putGroup(group);
  h.clock.advance(seconds(60));
  const auto at = h.clock.now();
  h.inventory.refreshDue();
  auto v = h.view("ns/asg");
  EXPECT_EQ(v.ids, (std::vector<std::string>{iid(2)}));
  ASSERT_EQ(v.leaving.size(), 2u);
  EXPECT_EQ(v.leaving[0].id, iid(0));
  EXPECT_EQ(v.leaving[0].reason, "left the Auto Scaling group (EC2 state terminated)");
  EXPECT_EQ(v.leaving[1].reason, "left the Auto Scaling group (EC2 state gone)");
  ASSERT_EQ(v.departed.size(), 1u);
  EXPECT_EQ(v.departed[0].id, iid(3));
  EXPECT_EQ(v.departed[0].goneSince, at);
  EXPECT_EQ(h.view("ns/asg", InstanceIdKind::kIpv4).leaving.at(0).id, ip(0))
      << "by address where EC2 still reports one";

  // The next round no longer names them, but they stay leaving for a while: a reconcile
  // between two rounds must not miss them.
  h.clock.advance(seconds(60));
  h.inventory.refreshDue();
  EXPECT_EQ(h.view("ns/asg").leaving.size(), 2u);
  h.clock.advance(std::chrono::minutes(16));
  h.inventory.refreshDue();
  EXPECT_TRUE(h.view("ns/asg").leaving.empty()) << "forgotten after 15 minutes";
}

TEST(InstanceInventory, AnAddressReusedByANewInstanceDoesNotLeaveWithTheOldOne) {
  // EC2 hands a freed private address to the next instance. Old: the leaving mark of the
  // terminated instance was kept by address for 15 minutes, so the new instance's address was
  // dropped from the listing and deregistered at once, without grace.
  Harness h;
  aws::AutoScalingGroupInfo group{"web-asg", "", {}};
  h.aws.putInstance(fakeInstance(iid(0), ip(0)));
  h.aws.putInstance(fakeInstance(iid(1), ip(1)));
  group.instances = {{iid(0), "InService", "Healthy", "a"}, {iid(1), "InService", "Healthy", "a"}};
  h.aws.putGroup(group);
  h.inventory.subscribe("ns/asg", groupSource("web-asg"));
  h.tick();
  group.instances[0].lifecycleState = "Terminating";
  h.aws.putGroup(group);
  h.clock.advance(seconds(60));
  h.inventory.refreshDue();
  ASSERT_EQ(h.view("ns/asg", InstanceIdKind::kIpv4).leaving.size(), 1u);

  h.aws.removeInstance(iid(0));
  h.aws.putInstance(fakeInstance(iid(9), ip(0)));  // the same address, a new instance
  group.instances = {{iid(1), "InService", "Healthy", "a"}, {iid(9), "InService", "Healthy", "a"}};
  h.aws.putGroup(group);
  h.clock.advance(seconds(60));
  h.inventory.refreshDue();
  const auto v = h.view("ns/asg", InstanceIdKind::kIpv4);
  EXPECT_EQ(v.ids, (std::vector<std::string>{ip(0), ip(1)}));
  EXPECT_TRUE(v.leaving.empty()) << v.leaving.front().id;
  EXPECT_EQ(h.view("ns/asg").leaving.size(), 1u) << "the old instance id still leaves";
}

TEST(InstanceInventory, AnEventNeverClearsAFailingFleet) {
  // Old: an event naming a spot instance without a fleet tag re-read every answered fleet
  // without checking its state, so a cancelled fleet's failure was cleared by a short listing.
  Harness h;
  h.aws.putInstance(fakeInstance(iid(1), ip(1)));
  h.aws.putInstance(fakeInstance(iid(2), ip(2)));
  h.aws.putFleet(kFleet, {"active", {iid(1), iid(2)}});
  h.inventory.subscribe("ns/fleet", fleetSource());
  h.tick();
  h.aws.putFleet(kFleet, {"cancelled_running", {iid(1)}});
  h.clock.advance(seconds(60));
  h.inventory.refreshDue();
  ASSERT_TRUE(h.view("ns/fleet").failing);
  auto spot = fakeInstance(iid(3), ip(3));
  spot.lifecycle = "spot";
  h.aws.putInstance(spot);
  h.clock.advance(seconds(5));
  h.inventory.refreshInstances({InstanceEvent{{iid(3)}, "", false}});
  const auto v = h.view("ns/fleet");
  EXPECT_TRUE(v.failing);
  EXPECT_EQ(v.ids, (std::vector<std::string>{iid(1), iid(2)})) << "the last good listing stands";
}

TEST(InstanceInventory, FailedDescribeFreezesTheLastGoodListingAndRetriesSooner) {
  Harness h;
  h.aws.putInstance(fakeInstance(iid(1), ip(1), {{"role", "web"}}));
  h.aws.putInstance(fakeInstance(iid(2), ip(2), {{"role", "web"}}));
  h.inventory.subscribe("ns/web", ec2Source({{"tag:role", {"web"}}}));
  h.tick();
  const auto firstSuccess = h.view("ns/web").lastSuccess;

  h.aws.removeInstance(iid(2));
  h.aws.failNext("DescribeInstances", throttled(), 2);
  h.clock.advance(seconds(60));
  const auto failedAt = h.clock.now();
  h.notified.clear();
  h.inventory.refreshDue();
  auto v = h.view("ns/web");
  EXPECT_TRUE(v.failing);
  EXPECT_EQ(v.failingSince, failedAt);
  EXPECT_NE(v.failureReason.find("RequestLimitExceeded"), std::string::npos) << v.failureReason;
  EXPECT_EQ(v.ids, (std::vector<std::string>{iid(1), iid(2)})) << "nothing departs in an outage";
  EXPECT_TRUE(v.departed.empty());
  EXPECT_EQ(v.lastSuccess, firstSuccess);
  EXPECT_EQ(h.notifiedKeys(), (std::set<std::string>{"ns/web"}));

  EXPECT_EQ(h.inventory.nextDue(), failedAt + seconds(5)) << "first retry after 5 s";
  h.tick();  // fails again: next retry after 10 s, same failingSince
  EXPECT_EQ(h.view("ns/web").failingSince, failedAt);
  EXPECT_EQ(h.inventory.nextDue(), failedAt + seconds(15));
  h.tick();  // answers again
  const auto recoveredAt = h.clock.now();
  v = h.view("ns/web");
  EXPECT_FALSE(v.failing);
  EXPECT_EQ(v.ids, (std::vector<std::string>{iid(1)}));
  ASSERT_EQ(v.departed.size(), 1u);
  EXPECT_EQ(v.departed[0].goneSince, recoveredAt) << "gone from the first listing without it";
}

TEST(InstanceInventory, DepartureCountsFromTheFirstListingWithoutItAndQuietRoundsNotifyNobody) {
  Harness h;
  h.aws.putInstance(fakeInstance(iid(1), ip(1), {{"role", "web"}}));
  h.aws.putInstance(fakeInstance(iid(2), ip(2), {{"role", "web"}}));
  h.inventory.subscribe("ns/web", ec2Source({{"tag:role", {"web"}}}));
  h.inventory.subscribe("ns/api", ec2Source({{"tag:role", {"api"}}}));
  h.tick();
  h.notified.clear();
  h.clock.advance(seconds(60));
  h.inventory.refreshDue();
  EXPECT_TRUE(h.notified.empty()) << "nothing changed";

  h.aws.setState(iid(2), "shutting-down");
  h.clock.advance(seconds(60));
  const auto goneAt = h.clock.now();
  h.inventory.refreshDue();
  EXPECT_EQ(h.notifiedKeys(), (std::set<std::string>{"ns/web"})) << "only the binding that changed";
  h.clock.advance(seconds(60));
  h.inventory.refreshDue();
  const auto v = h.view("ns/web", InstanceIdKind::kIpv4);
  ASSERT_EQ(v.departed.size(), 1u);
  EXPECT_EQ(v.departed[0].id, ip(2));
  EXPECT_EQ(v.departed[0].goneSince, goneAt);
}

TEST(InstanceInventory, AddressFamilies) {
  Harness h;
  auto dual = fakeInstance(iid(1), "10.0.0.1", {{"role", "web"}});
  dual.ipv6Addresses = {"2001:DB8:0:0::10", "2001:db8::11"};
  h.aws.putInstance(dual);
  h.aws.putInstance(fakeInstance(iid(2), "10.0.0.2", {{"role", "web"}}));  // IPv4 only
  h.inventory.subscribe("ns/web", ec2Source({{"tag:role", {"web"}}}));
  h.tick();
  EXPECT_EQ(h.view("ns/web", InstanceIdKind::kIpv4).ids,
            (std::vector<std::string>{"10.0.0.1", "10.0.0.2"}));
  EXPECT_EQ(h.view("ns/web", InstanceIdKind::kIpv6).ids, (std::vector<std::string>{"2001:db8::10"}))
      << "one canonical IPv6 address per instance that has one";
}

TEST(InstanceInventory, NewSourceBetweenRoundsIsAnsweredFromTheAccountWideListing) {
  Harness h;
  h.aws.putInstance(fakeInstance(iid(1), ip(1), {{"role", "web"}}));
  h.aws.putInstance(fakeInstance(iid(2), ip(2), {{"role", "api"}}));
  h.inventory.subscribe("ns/web", ec2Source({{"tag:role", {"web"}}}));
  h.inventory.subscribe("ns/api", ec2Source({{"tag:role", {"api"}}}));
  h.tick();
  ASSERT_TRUE(h.inventory.stats().accountWide);
  const auto roundDue = h.inventory.nextDue();
  h.aws.resetCalls();
  h.clock.advance(seconds(20));
  h.inventory.subscribe("ns/all", ec2Source({{"tag-key", {"role"}}}));
  h.tick();
  EXPECT_EQ(h.aws.totalCalls(), 0);
  EXPECT_EQ(h.view("ns/all").ids, (std::vector<std::string>{iid(1), iid(2)}));
  EXPECT_TRUE(h.notifiedKeys().contains("ns/all"));
  // It joins the common round: the next refresh is the round's, for everyone at once.
  EXPECT_EQ(h.inventory.nextDue(), roundDue);
}

TEST(InstanceInventory, UnsubscribeForgetsSourcesNobodyUses) {
  Harness h;
  h.inventory.subscribe("ns/a", fleetSource());
  h.inventory.subscribe("ns/b", fleetSource());
  h.inventory.subscribe("ns/a", groupSource("g"));  // moves
  EXPECT_EQ(h.inventory.stats().sources, 2u);
  h.inventory.unsubscribe("ns/b");
  EXPECT_EQ(h.inventory.stats().sources, 1u);
  EXPECT_FALSE(h.inventory.view("ns/b", InstanceIdKind::kInstanceId, false));
  h.inventory.unsubscribe("ns/a");
  EXPECT_EQ(h.inventory.stats().sources, 0u);
  EXPECT_EQ(h.inventory.nextDue(), std::nullopt);
}

TEST(InstanceInventory, SpotInterruptionWarningLeavesAtOnceWhereThePolicySaysSo) {
  Harness h;
  h.aws.putInstance(fakeInstance(iid(1), ip(1)));
  h.aws.putInstance(fakeInstance(iid(2), ip(2)));
  h.aws.putFleet(kFleet, {"active", {iid(1), iid(2)}});
  h.inventory.subscribe("ns/fleet", fleetSource());
  h.tick();
  h.notified.clear();
  h.clock.advance(seconds(3));
  ASSERT_TRUE(h.inventory.refreshInstances({InstanceEvent{{iid(2)}, "", true}}));
  EXPECT_EQ(h.notifiedKeys(), (std::set<std::string>{"ns/fleet"}));
  auto v = h.view("ns/fleet", InstanceIdKind::kIpv4, /*onInterruption=*/true);
  EXPECT_EQ(v.ids, (std::vector<std::string>{ip(1)}));
  ASSERT_EQ(v.leaving.size(), 1u);
  EXPECT_EQ(v.leaving[0].id, ip(2));
  EXPECT_EQ(v.leaving[0].reason, "Spot interruption warning 0s ago");
  EXPECT_EQ(h.view("ns/fleet", InstanceIdKind::kIpv4, false).ids,
            (std::vector<std::string>{ip(1), ip(2)}))
      << "a binding that does not act on warnings keeps it until it is gone";
}

TEST(InstanceInventory, EventListsANewFleetInstanceWithoutWaitingForThePoll) {
  Harness h;
  h.aws.putInstance(fakeInstance(iid(1), ip(1), {{"aws:ec2spot:fleet-request-id", kFleet}}));
  h.aws.putFleet(kFleet, {"active", {iid(1)}});
  h.inventory.subscribe("ns/fleet", fleetSource());
  h.inventory.subscribe("ns/tagged", ec2Source({{"tag:aws:ec2spot:fleet-request-id", {kFleet}}}));
  h.tick();
  const auto roundDue = h.inventory.nextDue();
  h.aws.resetCalls();
  h.notified.clear();

  h.aws.putInstance(fakeInstance(iid(2), ip(2), {{"aws:ec2spot:fleet-request-id", kFleet}}));
  h.aws.putFleet(kFleet, {"active", {iid(1), iid(2)}});
  h.clock.advance(seconds(5));
  ASSERT_TRUE(h.inventory.refreshInstances({InstanceEvent{{iid(2)}, "", false}}));
  EXPECT_EQ(h.view("ns/fleet").ids, (std::vector<std::string>{iid(1), iid(2)}));
  EXPECT_EQ(h.view("ns/tagged").ids, (std::vector<std::string>{iid(1), iid(2)}))
      << "local filters evaluated on the event's instance";
  EXPECT_EQ(h.notifiedKeys(), (std::set<std::string>{"ns/fleet", "ns/tagged"}));
  EXPECT_EQ(h.aws.calls("DescribeInstances"), 1) << "just the named instance";
  EXPECT_EQ(h.aws.calls("DescribeSpotFleetInstances"), 1);
  EXPECT_EQ(h.aws.calls("DescribeSpotFleetRequests"), 0);
  EXPECT_EQ(h.inventory.nextDue(), roundDue) << "polling stays on its schedule";

  // The instance stops: the next event drops it from both.
  h.aws.setState(iid(2), "stopping");
  h.aws.putFleet(kFleet, {"active", {iid(1)}});
  ASSERT_TRUE(h.inventory.refreshInstances({InstanceEvent{{iid(2)}, "", false}}));
  EXPECT_EQ(h.view("ns/fleet").ids, (std::vector<std::string>{iid(1)}));
  EXPECT_EQ(h.view("ns/tagged").ids, (std::vector<std::string>{iid(1)}));
  EXPECT_EQ(h.view("ns/tagged").departed.size(), 1u);
}

TEST(InstanceInventory, AutoScalingEventRefreshesTheNamedGroup) {
  Harness h;
  aws::AutoScalingGroupInfo group{"web-asg", "", {{iid(1), "InService", "Healthy", "a"}}};
  h.aws.putInstance(fakeInstance(iid(1), ip(1)));
  h.aws.putGroup(group);
  h.inventory.subscribe("ns/asg", groupSource("web-asg"));
  h.inventory.subscribe("ns/other", groupSource("other-asg"));
  h.tick();
  h.aws.resetCalls();
  group.instances[0].lifecycleState = "Terminating:Wait";
  h.aws.putGroup(group);
  ASSERT_TRUE(h.inventory.refreshInstances({InstanceEvent{{iid(1)}, "web-asg", false}}));
  const auto v = h.view("ns/asg");
  EXPECT_TRUE(v.ids.empty());
  ASSERT_EQ(v.leaving.size(), 1u);
  EXPECT_EQ(h.aws.calls("DescribeAutoScalingGroups"), 1);
}

TEST(InstanceInventory, EventWhoseDescribeFailsIsAnErrorAndChangesNothing) {
  Harness h;
  h.aws.putInstance(fakeInstance(iid(1), ip(1), {{"role", "web"}}));
  h.inventory.subscribe("ns/web", ec2Source({{"tag:role", {"web"}}}));
  h.tick();
  h.aws.failNext("DescribeInstances", throttled());
  auto result = h.inventory.refreshInstances({InstanceEvent{{iid(1)}, "", false}});
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, "RequestLimitExceeded");
  EXPECT_FALSE(h.view("ns/web").failing) << "an event failing is not the source failing";
  EXPECT_EQ(h.view("ns/web").ids, (std::vector<std::string>{iid(1)}));
}

}  // namespace
}  // namespace endpointbinder::runtime
