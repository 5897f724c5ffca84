// BindingSources with instance sources: what a binding sees through the shared inventory —
// instance ids or addresses of the target group's family, leaving instances, the Spot
// interruption policy, and failing sources — and that track/untrack (un)subscribe.
#include <gtest/gtest.h>

#include "controller/runtime/binding_sources.h"
#include "tests/support/dns_fake_resolver.h"
#include "tests/support/fake_instance_apis.h"

namespace endpointbinder::runtime {
namespace {

using testing::fakeInstance;
using testing::FakeInstanceApis;

constexpr const char* kFleet = "sfr-0d4b0a3e-5c1f-4c9e-9a7b-2f6e8d1c3b5a";

api::TargetGroupBinding binding(const std::string& name, api::Source source,
                                api::TargetType type = api::TargetType::kIp) {
  api::TargetGroupBinding b;
  b.metadata.name = name;
  b.metadata.ns = "ns";
  b.spec.targetType = type;
  b.spec.source = std::move(source);
  return b;
}

struct Fixture {
  core::ManualClock clock;
  dns::testing::FakeResolver resolver;
  dns::testing::FakeRandom random;
  core::NullLogger log;
  FakeInstanceApis aws;
  dns::DnsWatcher watcher{resolver, clock, random,
                          [](const std::string&, const std::vector<std::string>&) {}};
  InstanceInventory inventory{InstanceInventory::Deps{aws, aws, clock, log, nullptr}};
  BindingSources sources{watcher, &inventory};

  Fixture() {
    auto dual = fakeInstance("i-00000000000000001", "10.0.0.1");
    dual.ipv6Addresses = {"fd00::1"};
    aws.putInstance(dual);
    aws.putInstance(fakeInstance("i-00000000000000002", "10.0.0.2"));
    aws.putFleet(kFleet, {"active", {"i-00000000000000001", "i-00000000000000002"}});
  }
  void refresh() {
    clock.advance(std::chrono::seconds(61));
    inventory.refreshDue(true);
  }
};

TEST(BindingSourcesInstances, IdsByTargetTypeAndTheGroupsAddressFamily) {
  Fixture f;
  const auto byId = binding("by-id", api::SpotFleetSource{kFleet}, api::TargetType::kInstance);
  const auto byIp = binding("by-ip", api::SpotFleetSource{kFleet});
  f.sources.track(byId);
  f.sources.track(byIp);
  EXPECT_EQ(f.inventory.stats().sources, 1u) << "one fleet, read once for both";
  auto before = f.sources.snapshot(byIp);
  EXPECT_TRUE(before.failing);
  EXPECT_EQ(before.failureReason, "waiting for the first spotFleet listing");

  f.refresh();
  EXPECT_EQ(f.sources.snapshot(byId).ids,
            (std::vector<std::string>{"i-00000000000000001", "i-00000000000000002"}));
  EXPECT_EQ(f.sources.snapshot(byIp).ids, (std::vector<std::string>{"10.0.0.1", "10.0.0.2"}))
      << "snapshot() is the ipv4 view";
  EXPECT_EQ(f.sources.snapshotForGroup(byIp, "ipv6").ids, (std::vector<std::string>{"fd00::1"}));
  EXPECT_EQ(f.sources.snapshotForGroup(byIp, "IPV6").ids, (std::vector<std::string>{"fd00::1"}));
  EXPECT_EQ(f.sources.snapshotForGroup(byId, "ipv6").ids.size(), 2u) << "ids do not depend on it";
  EXPECT_FALSE(f.sources.snapshot(byIp).failing);
}

TEST(BindingSourcesInstances, InterruptionPolicyDecidesWhoSeesTheWarningAsLeaving) {
  Fixture f;
  auto fleet = binding("fleet", api::SpotFleetSource{kFleet});  // default on for spotFleet
  auto off = binding("off", api::SpotFleetSource{kFleet});
  off.spec.policy.deregisterOnSpotInterruption = false;
  f.sources.track(fleet);
  f.sources.track(off);
  f.refresh();
  ASSERT_TRUE(f.inventory.refreshInstances({InstanceEvent{{"i-00000000000000002"}, "", true}}));
  const auto on = f.sources.snapshot(fleet);
  EXPECT_EQ(on.ids, (std::vector<std::string>{"10.0.0.1"}));
  ASSERT_EQ(on.leaving.size(), 1u);
  EXPECT_EQ(on.leaving[0].id, "10.0.0.2");
  EXPECT_TRUE(f.sources.snapshot(off).leaving.empty());
  EXPECT_EQ(f.sources.snapshot(off).ids.size(), 2u);
}

TEST(BindingSourcesInstances, FailingSourceAndUntrack) {
  Fixture f;
  const auto missing = binding("missing", api::AutoScalingGroupSource{"nope"});
  f.sources.track(missing);
  f.refresh();
  auto s = f.sources.snapshot(missing);
  EXPECT_TRUE(s.failing);
  EXPECT_EQ(s.failureReason, "Auto Scaling group nope not found");
  f.sources.untrack(missing.metadata.key());
  EXPECT_EQ(f.inventory.stats().sources, 0u);
  EXPECT_EQ(f.sources.snapshot(missing).failureReason,
            "not subscribed to the instance inventory yet");
  // A source kind changed to static drops the subscription.
  auto moved = binding("moved", api::SpotFleetSource{kFleet});
  f.sources.track(moved);
  moved.spec.source = api::StaticSource{{*api::IpAddress::parse("10.0.0.9")}};
  f.sources.track(moved);
  EXPECT_EQ(f.inventory.stats().sources, 0u);
  EXPECT_EQ(f.sources.snapshot(moved).ids, (std::vector<std::string>{"10.0.0.9"}));
}

TEST(BindingSourcesInstances, WithoutEc2AccessInstanceSourcesFail) {
  core::ManualClock clock;
  dns::testing::FakeResolver resolver;
  dns::testing::FakeRandom random;
  dns::DnsWatcher watcher{resolver, clock, random,
                          [](const std::string&, const std::vector<std::string>&) {}};
  BindingSources sources{watcher};
  const auto b = binding("asg", api::AutoScalingGroupSource{"web"});
  sources.track(b);
  const auto s = sources.snapshot(b);
  EXPECT_TRUE(s.failing);
  EXPECT_NE(s.failureReason.find("needs EC2 access"), std::string::npos);
}

}  // namespace
}  // namespace endpointbinder::runtime
