// The five real situations of SCENARIOS.md, replayed through the planner with a simulated
// target group: the source's answers over time, the reconcile loop, and what must (and must
// never) happen to the group. Deterministic: scripted answers or fixed PRNG seeds.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <iomanip>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "controller/core/planner.h"
#include "tests/unit/core/simulated_target_group.h"

namespace endpointbinder::core {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;
using testing::keysOf;
using testing::SimulatedBinding;
using testing::SimulatedTargetGroup;
using testing::SourceAnswer;

const MonoTime kT0 = MonoTime{} + hours(24);

// "i-" and 17 hex digits, like an EC2 instance id.
std::string instanceId(int n) {
  std::ostringstream text;
  text << "i-" << std::hex << std::setw(17) << std::setfill('0') << n;
  return text.str();
}

std::vector<Target> targets(const std::vector<std::string>& ids, int port) {
  std::vector<Target> out;
  out.reserve(ids.size());
  for (const auto& id : ids) out.push_back(Target{id, port, std::nullopt});
  return out;
}

api::Policy policyWith(std::chrono::seconds grace) {
  api::Policy policy;
  policy.deregistrationGracePeriod = grace;
  policy.allowedCidrs = api::defaultAllowedCidrs();
  return policy;
}

bool hasKey(const std::vector<Target>& list, const std::string& key) {
  return std::any_of(list.begin(), list.end(), [&](const Target& t) { return t.key() == key; });
}

// ---- 1. OpenSearch Dashboards behind an internal ALB (seed 000) ----
// The VPC endpoint of a multi-node domain resolves to one IP per node; a blue/green deployment
// brings new node IPs, keeps both for a while, then retires the old ones.
TEST(Scenario1OpenSearchBlueGreen, FollowsTheNodeIpsWithGraceAndNoGap) {
  const std::vector<std::string> blue = {"10.0.1.10", "10.0.2.10", "10.0.3.10"};
  const std::vector<std::string> green = {"10.0.1.77", "10.0.2.77", "10.0.3.77"};
  std::vector<std::string> both = blue;
  both.insert(both.end(), green.begin(), green.end());

  SimulatedBinding binding(policyWith(minutes(3)));
  SimulatedTargetGroup group;
  const auto step = seconds(30);  // the answer's TTL, not "every minute"
  std::map<std::string, MonoTime> deregisteredAt;
  for (MonoTime now = kT0; now <= kT0 + minutes(30); now += step) {
    const auto elapsed = now - kT0;
    SourceAnswer answer;
    if (elapsed < minutes(10)) {
      answer = SourceAnswer::of(targets(blue, 443));
    } else if (elapsed < minutes(12)) {
      answer = SourceAnswer::of(targets(both, 443));
    } else if (elapsed < minutes(14)) {
      answer = SourceAnswer::failed("SERVFAIL");  // the old Lambda exited here
    } else {
      answer = SourceAnswer::of(targets(green, 443));
    }
    // One blue node fails its health checks while still listed: never a reason to remove it.
    group.setSick("10.0.2.10:443", elapsed >= minutes(2) && elapsed < minutes(8));

    const Plan plan = binding.sync(answer, group, now);
    for (const auto& t : plan.toDeregister) deregisteredAt[t.key()] = now;

    if (elapsed == seconds(0)) {
      EXPECT_EQ(keysOf(plan.toRegister), keysOf(targets(blue, 443))) << "every node, not the first";
    }
    if (elapsed == minutes(10)) {
      EXPECT_EQ(keysOf(plan.toRegister), keysOf(targets(green, 443))) << "new nodes at once";
    }
    if (elapsed < minutes(17)) {
      EXPECT_TRUE(plan.toDeregister.empty()) << "at " << elapsed.count();
    }
    EXPECT_FALSE(group.registeredKeys().empty()) << "the group is never empty";
  }
  // Absent from 14m (the first good answer after the outage), so due at 17m: all three in one
  // sync (50% of 6 registered).
  for (const auto& ip : blue) {
    ASSERT_TRUE(deregisteredAt.contains(ip + ":443")) << ip;
    EXPECT_EQ(deregisteredAt[ip + ":443"], kT0 + minutes(17)) << ip;
  }
  EXPECT_EQ(deregisteredAt.size(), 3u);
  EXPECT_EQ(group.registeredKeys(), keysOf(targets(green, 443)));
  EXPECT_EQ(group.deregisterCalls(), 1) << "one DeregisterTargets call";
  EXPECT_EQ(group.registerCalls(), 2);
}

TEST(Scenario1OpenSearchBlueGreen, UnhealthyGraceRemovesAnAbsentFailingNodeSooner) {
  api::Policy policy = policyWith(minutes(10));
  policy.unhealthyGracePeriod = seconds(60);
  SimulatedBinding binding(policy);
  SimulatedTargetGroup group;
  const std::vector<std::string> nodes = {"10.0.1.10", "10.0.2.10", "10.0.3.10"};
  binding.sync(SourceAnswer::of(targets(nodes, 443)), group, kT0);
  // 10.0.3.10 leaves the answer and fails health checks; 10.0.2.10 leaves but stays healthy.
  group.setSick("10.0.3.10:443", true);
  std::map<std::string, MonoTime> deregisteredAt;
  for (MonoTime now = kT0 + seconds(30); now <= kT0 + minutes(12); now += seconds(10)) {
    const Plan plan = binding.sync(SourceAnswer::of(targets({"10.0.1.10"}, 443)), group, now);
    for (const auto& t : plan.toDeregister) deregisteredAt.emplace(t.key(), now);
  }
  // Absent from kT0+30s, the first listing without them (not from kT0, the last listing with
  // them); unhealthy from its first check after 20 s of `initial` (kT0+30s here).
  EXPECT_EQ(deregisteredAt.at("10.0.3.10:443"), kT0 + seconds(90));
  EXPECT_EQ(deregisteredAt.at("10.0.2.10:443"), kT0 + minutes(10) + seconds(30));
}

// ---- 2. EC2 instances with readable names (seed 001), expressed as instance targets ----
TEST(Scenario2Ec2Instances, LevelTriggeredRepairOfDriftAndNoCidrCheckOnInstances) {
  api::Policy policy = policyWith(minutes(2));
  policy.allowedCidrs = api::defaultAllowedCidrs();
  SimulatedBinding binding(policy);
  SimulatedTargetGroup group;
  // Drift left by lost "terminated" events: an instance long gone is still registered.
  group.addRegistered(Target{"i-0dead00000000000a", 80, std::nullopt}, kT0);
  // 250 running instances: more than one DescribeInstances page, one RegisterTargets plan.
  std::vector<std::string> running;
  for (int i = 0; i < 250; ++i) {
    running.push_back(instanceId(0x1000 + i));
  }
  Plan first = binding.sync(SourceAnswer::of(targets(running, 80)), group, kT0);
  EXPECT_EQ(first.toRegister.size(), 250u);
  EXPECT_TRUE(first.toDeregister.empty()) << "the stale one's grace starts at first sight";
  EXPECT_TRUE(std::none_of(first.held.begin(), first.held.end(), [](const HeldTarget& h) {
    return h.reason == HoldReason::kNotAllowed;
  })) << "instance ids are never checked against allowedCIDRs";

  // A launch whose event was lost is picked up by the next sync, whatever was missed.
  running.push_back("i-0new000000000000b");
  Plan second = binding.sync(SourceAnswer::of(targets(running, 80)), group, kT0 + seconds(30));
  ASSERT_EQ(second.toRegister.size(), 1u);
  EXPECT_EQ(second.toRegister[0].id, "i-0new000000000000b");

  MonoTime removedAt{};
  for (MonoTime now = kT0 + minutes(1); now <= kT0 + minutes(5); now += seconds(30)) {
    const Plan plan = binding.sync(SourceAnswer::of(targets(running, 80)), group, now);
    if (hasKey(plan.toDeregister, "i-0dead00000000000a:80")) removedAt = now;
    EXPECT_TRUE(plan.toRegister.empty());
  }
  EXPECT_EQ(removedAt, kT0 + minutes(2));
  EXPECT_EQ(group.registeredKeys(), keysOf(targets(running, 80)));
}

TEST(Scenario2Ec2Instances, StoppedInstanceIsNotRegisteredAgainOnEverySync) {
  // A source that lists stopped instances too (states: [running, stopped]); AWS reports the
  // stopped one as unused/Target.InvalidState. It is registered: no write, ever.
  SimulatedBinding binding(policyWith(minutes(2)));
  std::vector<ObservedTarget> observed;
  EndpointTracker tracker;
  const auto listed = targets({"i-0aaa", "i-0bbb"}, 80);
  observed.push_back({listed[0], TargetState::kHealthy, "", ""});
  observed.push_back({listed[1], TargetState::kUnused, "Target.InvalidState", ""});
  for (int i = 0; i < 20; ++i) {
    const MonoTime now = kT0 + seconds(30) * i;
    tracker.recordListing(listed, now);
    tracker.recordObserved(observed, now);
    const Plan plan = computePlan({listed, false}, observed, tracker, binding.policy(), now);
    EXPECT_FALSE(plan.hasWrites()) << "sync " << i;
  }
}

TEST(Scenario2Ec2Instances, TerminatingOneOfTwoInstancesWithTheSameNameRemovesOnlyIt) {
  SimulatedBinding binding(policyWith(minutes(2)));
  SimulatedTargetGroup group;
  const auto both = targets({"i-0web1", "i-0web2"}, 80);  // both tagged Name=web
  binding.sync(SourceAnswer::of(both), group, kT0);
  for (MonoTime now = kT0 + seconds(30); now <= kT0 + minutes(4); now += seconds(30)) {
    binding.sync(SourceAnswer::of(targets({"i-0web2"}, 80)), group, now);
  }
  EXPECT_EQ(group.registeredKeys(), std::set<std::string>{"i-0web2:80"});
}

// ---- 3. DNS failing intermittently inside a VPC (seed 002) ----
// Failures are "no information", never "the endpoints are gone".
TEST(Scenario3IntermittentDns, FailuresNeverRemoveALiveEndpoint) {
  std::mt19937_64 rng(20240602);
  SimulatedBinding binding(policyWith(minutes(3)));
  SimulatedTargetGroup group;
  std::vector<std::string> live = {"10.20.0.11", "10.20.1.12"};
  const std::array<const char*, 4> failures = {"SERVFAIL", "timeout", "NXDOMAIN", "empty answer"};
  std::map<std::string, MonoTime> lastListed;
  int failedSyncs = 0;
  bool retiredRemoved = false;
  for (MonoTime now = kT0; now <= kT0 + hours(6); now += seconds(15)) {
    if (now == kT0 + hours(3)) live = {"10.20.0.11", "10.20.2.99"};  // one endpoint moves
    // A bad hour: failures 60% of the time; otherwise 25%.
    const bool badHour = now >= kT0 + hours(1) && now < kT0 + hours(2);
    std::bernoulli_distribution fails(badHour ? 0.6 : 0.25);
    SourceAnswer answer;
    if (now != kT0 && fails(rng)) {
      answer = SourceAnswer::failed(failures[rng() % 4]);
      ++failedSyncs;
    } else {
      answer = SourceAnswer::of(targets(live, 443));
      for (const auto& ip : live) lastListed[ip + ":443"] = now;
    }
    const Plan plan = binding.sync(answer, group, now);
    if (!answer.ok) {
      EXPECT_TRUE(plan.toDeregister.empty()) << "never while failing";
    }
    for (const auto& t : plan.toDeregister) {
      EXPECT_EQ(t.key(), "10.20.1.12:443") << "only the retired endpoint";
      EXPECT_GE(now - lastListed[t.key()], minutes(3));
      retiredRemoved = true;
    }
    for (const auto& ip : live) {
      if (lastListed.contains(ip + ":443")) {
        EXPECT_TRUE(group.registeredKeys().contains(ip + ":443")) << ip;
      }
    }
  }
  EXPECT_GT(failedSyncs, 300) << "the scenario must actually fail often";
  EXPECT_TRUE(retiredRemoved);
  EXPECT_EQ(group.registeredKeys(), keysOf(targets(live, 443)));
}

TEST(Scenario3IntermittentDns, AnOutageLongerThanTheGraceDoesNotCountAsAbsence) {
  SimulatedBinding binding(policyWith(minutes(3)));
  SimulatedTargetGroup group;
  const auto a = targets({"10.20.0.11"}, 443);
  const auto ab = targets({"10.20.0.11", "10.20.1.12"}, 443);
  binding.sync(SourceAnswer::of(ab), group, kT0);
  MonoTime now = kT0;
  for (int i = 1; i <= 40; ++i) {  // 10 minutes of SERVFAIL
    now = kT0 + seconds(15) * i;
    EXPECT_TRUE(binding.sync(SourceAnswer::failed("SERVFAIL"), group, now).toDeregister.empty());
  }
  // The first answer after the outage leaves 10.20.1.12 out: its grace starts now.
  const MonoTime recovered = now + seconds(15);
  Plan plan = binding.sync(SourceAnswer::of(a), group, recovered);
  EXPECT_TRUE(plan.toDeregister.empty());
  ASSERT_TRUE(plan.nextDeadline.has_value());
  EXPECT_EQ(*plan.nextDeadline, recovered + minutes(3));
  plan = binding.sync(SourceAnswer::of(a), group, recovered + minutes(3));
  EXPECT_TRUE(hasKey(plan.toDeregister, "10.20.1.12:443"));
}

TEST(Scenario3IntermittentDns, FailingFromTheStartAfterARestartHoldsEverything) {
  SimulatedBinding binding(policyWith(minutes(3)));
  SimulatedTargetGroup group;
  for (const auto& t : targets({"10.20.0.11", "10.20.1.12"}, 443)) group.addRegistered(t, kT0);
  for (int i = 0; i < 100; ++i) {
    const Plan plan = binding.sync(SourceAnswer::failed("timeout"), group, kT0 + minutes(1) * i);
    EXPECT_FALSE(plan.hasWrites()) << "minute " << i;
    for (const auto& h : plan.held) {
      if (i >= 3) {
        EXPECT_EQ(h.reason, HoldReason::kSourceFailing) << h.message;
      }
    }
  }
  EXPECT_EQ(group.registeredKeys().size(), 2u);
}

// ---- 4. Spot Fleet / ECS instances into an ALB target group (seed 003) ----
TEST(Scenario4SpotFleet, InstancesComeAndGoAndTheGroupFollows) {
  std::mt19937_64 rng(3003);
  api::Policy policy = policyWith(minutes(2));
  policy.minTargets = 2;
  SimulatedBinding binding(policy);
  SimulatedTargetGroup group;
  std::vector<std::string> fleet;
  int nextId = 0;
  auto launch = [&] { fleet.push_back(instanceId(0xabc000 + nextId++)); };
  for (int i = 0; i < 8; ++i) launch();
  std::map<std::string, MonoTime> goneSince;  // the first listing without it
  std::set<std::string> everDeregistered;
  const MonoTime churnEnds = kT0 + hours(2);
  MonoTime now = kT0;
  for (; now <= churnEnds + minutes(10); now += seconds(30)) {
    if (now < churnEnds && std::bernoulli_distribution(0.15)(rng)) {
      fleet.erase(fleet.begin() + static_cast<long>(rng() % fleet.size()));  // interruption
    }
    if (now < churnEnds && fleet.size() < 8 && std::bernoulli_distribution(0.3)(rng)) launch();
    const auto listed = targets(fleet, 8080);
    const auto listedKeys = keysOf(listed);
    for (const auto& k : listedKeys) goneSince.erase(k);
    for (const auto& k : group.registeredKeys()) {
      if (!listedKeys.contains(k)) goneSince.emplace(k, now);
    }
    const auto before = group.registeredKeys();
    const Plan plan = binding.sync(SourceAnswer::of(listed), group, now);
    EXPECT_EQ(keysOf(plan.toRegister), [&] {
      std::set<std::string> missing;
      for (const auto& t : listed) {
        if (!before.contains(t.key())) missing.insert(t.key());
      }
      return missing;
    }()) << "every new instance is registered at its first listing";
    for (const auto& t : plan.toDeregister) {
      ASSERT_TRUE(goneSince.contains(t.key())) << t.key();
      EXPECT_GE(now - goneSince[t.key()], minutes(2)) << t.key();
      everDeregistered.insert(t.key());
    }
    if (!plan.toDeregister.empty()) {
      EXPECT_GE(static_cast<int>(before.size() - plan.toDeregister.size()), 2) << "minTargets";
    }
  }
  EXPECT_GT(everDeregistered.size(), 10u) << "unlike the old Lambda, it deregisters";
  EXPECT_EQ(group.registeredKeys(), keysOf(targets(fleet, 8080)));
}

TEST(Scenario4SpotFleet, MassInterruptionIsCappedAndFloored) {
  api::Policy policy = policyWith(minutes(2));
  policy.minTargets = 2;  // cap stays the default 50%
  SimulatedBinding binding(policy);
  SimulatedTargetGroup group;
  const std::vector<std::string> fleet = {"i-01", "i-02", "i-03", "i-04",
                                          "i-05", "i-06", "i-07", "i-08"};
  binding.sync(SourceAnswer::of(targets(fleet, 8080)), group, kT0);
  const auto survivors = targets({"i-07", "i-08"}, 8080);
  std::vector<size_t> removedPerSync;
  std::vector<MonoTime> removedAt;
  for (MonoTime now = kT0 + seconds(30); now <= kT0 + minutes(5); now += seconds(30)) {
    const Plan plan = binding.sync(SourceAnswer::of(survivors), group, now);
    if (!plan.toDeregister.empty()) {
      removedPerSync.push_back(plan.toDeregister.size());
      removedAt.push_back(now);
    }
  }
  // 8 registered: 50% = 4; then, once the window (1 min) has let the first batch go, 4
  // registered: 50% = 2 (and minTargets 2 allows exactly 2).
  EXPECT_EQ(removedPerSync, (std::vector<size_t>{4, 2}));
  ASSERT_EQ(removedAt.size(), 2u);
  EXPECT_EQ(removedAt[0], kT0 + seconds(30) + minutes(2)) << "absent from the first sync";
  EXPECT_EQ(removedAt[1], removedAt[0] + minutes(1)) << "the next window, not the next sync";
  EXPECT_EQ(group.registeredKeys(), keysOf(survivors));
}

TEST(Scenario4SpotFleet, UpsertOnlyLikeTheOldLambda) {
  api::Policy policy = policyWith(minutes(2));
  policy.prune = false;
  SimulatedBinding binding(policy);
  SimulatedTargetGroup group;
  binding.sync(SourceAnswer::of(targets({"i-01", "i-02"}, 8080)), group, kT0);
  for (MonoTime now = kT0 + minutes(1); now <= kT0 + hours(1); now += minutes(1)) {
    const Plan plan = binding.sync(SourceAnswer::of(targets({"i-03"}, 8080)), group, now);
    EXPECT_TRUE(plan.toDeregister.empty());
  }
  EXPECT_EQ(group.registeredKeys(), (std::set<std::string>{"i-01:8080", "i-02:8080", "i-03:8080"}));
}

// ---- 5. A static IP in front of an ALB: NLB target group of ALB node IPs (seed 004) ----
// Each lookup shows at most 8 of the ALB's IPs in random order; several lookups are unioned;
// an IP is deregistered only after it has been missing for N runs (here grace = 3 runs).
class AlbNodes {
 public:
  AlbNodes(std::vector<std::string> nodes, uint64_t seed) : nodes_(std::move(nodes)), rng_(seed) {}
  void setNodes(std::vector<std::string> nodes) { nodes_ = std::move(nodes); }
  // One refresh: `lookups` answers of at most 8 addresses each, unioned.
  std::vector<Target> refresh(int lookups, int port) {
    std::set<std::string> seen;
    for (int i = 0; i < lookups; ++i) {
      auto answer = nodes_;
      std::shuffle(answer.begin(), answer.end(), rng_);
      if (answer.size() > 8) answer.resize(8);
      seen.insert(answer.begin(), answer.end());
    }
    return targets(std::vector<std::string>(seen.begin(), seen.end()), port);
  }

 private:
  std::vector<std::string> nodes_;
  std::mt19937_64 rng_;
};

std::vector<std::string> albIps(int from, int to) {
  std::vector<std::string> ips;
  for (int i = from; i <= to; ++i)
    ips.push_back("10.0." + std::to_string(i % 2) + "." + std::to_string(i));
  return ips;
}

TEST(Scenario5AlbBehindNlb, MissingForFewerThanNRunsIsKept) {
  const auto run = minutes(1);
  SimulatedBinding binding(policyWith(minutes(3)));  // N = 3 runs
  SimulatedTargetGroup group;
  const auto all = albIps(1, 12);
  auto without = [&](const std::set<std::string>& drop) {
    std::vector<std::string> kept;
    for (const auto& ip : all) {
      if (!drop.contains(ip)) kept.push_back(ip);
    }
    return targets(kept, 443);
  };
  // Scripted unions: 10.0.0.12 missing for two runs, back, missing for two more, back.
  const std::vector<std::vector<Target>> script = {targets(all, 443),
                                                   without({"10.0.0.12"}),
                                                   without({"10.0.0.12"}),
                                                   targets(all, 443),
                                                   without({"10.0.0.12", "10.0.1.3"}),
                                                   without({"10.0.0.12"}),
                                                   targets(all, 443),
                                                   targets(all, 443)};
  for (size_t i = 0; i < script.size(); ++i) {
    const Plan plan = binding.sync(SourceAnswer::of(script[i]), group, kT0 + run * i);
    EXPECT_TRUE(plan.toDeregister.empty()) << "run " << i;
  }
  EXPECT_EQ(group.registeredKeys().size(), 12u);
}

TEST(Scenario5AlbBehindNlb, ScaleInIsFollowedAfterNRuns) {
  const auto run = minutes(1);
  SimulatedBinding binding(policyWith(minutes(3)));
  SimulatedTargetGroup group;
  AlbNodes alb(albIps(1, 12), 404);
  binding.sync(SourceAnswer::of(targets(albIps(1, 12), 443)), group, kT0);
  alb.setNodes(albIps(1, 10));  // the ALB drops two nodes
  std::map<std::string, MonoTime> removedAt;
  for (int i = 1; i <= 10; ++i) {
    const Plan plan = binding.sync(SourceAnswer::of(alb.refresh(3, 443)), group, kT0 + run * i);
    for (const auto& t : plan.toDeregister) removedAt[t.key()] = kT0 + run * i;
  }
  // Missing from run 1 on (the first refresh without them), so gone after N = 3 whole runs.
  EXPECT_EQ(removedAt.size(), 2u);
  EXPECT_EQ(removedAt["10.0.1.11:443"], kT0 + minutes(4));
  EXPECT_EQ(removedAt["10.0.0.12:443"], kT0 + minutes(4));
}

TEST(Scenario5AlbBehindNlb, PartialAnswersUnionedOverManyRuns) {
  // 12 nodes, 8 per answer, 3 lookups per refresh, one refresh a minute for 12 hours. A node
  // may be missing from a refresh by chance; it must only ever be deregistered after N whole
  // runs without it, and come back at the next refresh that shows it.
  const auto run = minutes(1);
  SimulatedBinding binding(policyWith(minutes(3)));
  SimulatedTargetGroup group;
  AlbNodes alb(albIps(1, 12), 5005);
  std::map<std::string, MonoTime> lastListed;
  int partialRefreshes = 0;
  for (int i = 0; i < 12 * 60; ++i) {
    const MonoTime now = kT0 + run * i;
    const auto union3 = alb.refresh(3, 443);
    if (union3.size() < 12) ++partialRefreshes;
    for (const auto& t : union3) lastListed[t.key()] = now;
    const Plan plan = binding.sync(SourceAnswer::of(union3), group, now);
    for (const auto& t : plan.toDeregister) {
      EXPECT_GE(now - lastListed[t.key()], minutes(3)) << t.key() << " at run " << i;
    }
    for (const auto& t : union3) {
      EXPECT_TRUE(group.registeredKeys().contains(t.key())) << "listed means registered";
    }
  }
  EXPECT_GT(partialRefreshes, 100) << "the answers really are partial";
}

}  // namespace
}  // namespace endpointbinder::core
