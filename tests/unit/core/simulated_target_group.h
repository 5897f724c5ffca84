// Test helpers for core planner tests: a simulated ELBv2 target group that applies plans the
// way AWS does (initial -> healthy/unhealthy, deregistration drains, re-registration of a
// draining target, refused registrations), and a SimulatedBinding that runs the reconcile
// steps the runtime runs: source answer -> tracker (with its lineage and departure times),
// group -> tracker, computePlan with the group's facts, apply, then refusals and
// deregistrations -> tracker (the rate cap's window).
// Test-only. Thread-safety: none.
#pragma once

#include <chrono>
#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "api/manifest.h"
#include "controller/core/endpoint_tracker.h"
#include "controller/core/planner.h"
#include "controller/core/targets.h"

namespace endpointbinder::core::testing {

class SimulatedTargetGroup {
 public:
  struct Options {
    std::chrono::nanoseconds healthCheckDelay = std::chrono::seconds(20);  // initial -> checked
    std::chrono::nanoseconds drainFor = std::chrono::seconds(300);         // deregistration delay
  };

  SimulatedTargetGroup() = default;
  explicit SimulatedTargetGroup(Options options) : options_(options) {}

  // A target registered outside the planner (before the binding existed, or by hand).
  void addRegistered(const Target& target, MonoTime now, bool healthChecked = true) {
    Member& m = members_[target.key()];
    m.target = target;
    m.phase = Phase::kRegistered;
    m.since = healthChecked ? now - options_.healthCheckDelay : now;
  }

  // RegisterTargets then DeregisterTargets, as the reconciler sends them. Returns the targets
  // AWS refused to register (see setRefused); the others are registered.
  std::vector<Target> apply(const Plan& plan, MonoTime now) {
    if (!plan.toRegister.empty()) ++registerCalls_;
    if (!plan.toDeregister.empty()) ++deregisterCalls_;
    std::vector<Target> refused;
    for (const auto& target : plan.toRegister) {
      if (refused_.contains(target.key())) {
        refused.push_back(target);
        continue;
      }
      const auto it = members_.find(target.key());
      if (it != members_.end() && it->second.phase == Phase::kRegistered) continue;
      members_[target.key()] = Member{target, Phase::kRegistered, now};
    }
    for (const auto& target : plan.toDeregister) {
      auto it = members_.find(target.key());
      if (it == members_.end() || it->second.phase != Phase::kRegistered) continue;
      it->second.phase = Phase::kDraining;
      it->second.since = now;
    }
    return refused;
  }

  // Health checks decide this target's state (it keeps failing until told otherwise).
  void setSick(const std::string& key, bool sick) { sick_[key] = sick; }
  // AWS refuses to register this target (InvalidTarget) until told otherwise.
  void setRefused(const std::string& key, bool refused) {
    if (refused) {
      refused_.insert(key);
    } else {
      refused_.erase(key);
    }
  }
  bool refuses(const std::string& key) const { return refused_.contains(key); }
  // A group no load balancer uses: AWS reports registered targets as unused/Target.NotInUse.
  void setAttached(bool attached) { attached_ = attached; }

  // DescribeTargetHealth at `now`; drained targets have left the group. Sorted by key.
  std::vector<ObservedTarget> observe(MonoTime now) {
    std::erase_if(members_, [&](const auto& item) {
      return item.second.phase == Phase::kDraining && now - item.second.since >= options_.drainFor;
    });
    std::vector<ObservedTarget> out;
    for (const auto& [key, m] : members_) {
      ObservedTarget o{m.target, TargetState::kHealthy, "", ""};
      const bool sick = isSick(key);
      if (m.phase == Phase::kDraining) {
        o.state = sick ? TargetState::kUnhealthyDraining : TargetState::kDraining;
        o.reason = "Target.DeregistrationInProgress";
      } else if (!attached_) {
        o.state = TargetState::kUnused;
        o.reason = "Target.NotInUse";
      } else if (now - m.since < options_.healthCheckDelay) {
        o.state = TargetState::kInitial;
        o.reason = "Elb.InitialHealthChecking";
      } else if (sick) {
        o.state = TargetState::kUnhealthy;
        o.reason = "Target.Timeout";
      }
      out.push_back(std::move(o));
    }
    return out;
  }

  // Keys in the group and not leaving.
  std::set<std::string> registeredKeys() const {
    std::set<std::string> keys;
    for (const auto& [key, m] : members_) {
      if (m.phase == Phase::kRegistered) keys.insert(key);
    }
    return keys;
  }
  bool contains(const std::string& key) const { return members_.contains(key); }
  int registerCalls() const { return registerCalls_; }
  int deregisterCalls() const { return deregisterCalls_; }

 private:
  enum class Phase { kRegistered, kDraining };
  struct Member {
    Target target;
    Phase phase = Phase::kRegistered;
    MonoTime since{};
  };
  bool isSick(const std::string& key) const {
    const auto it = sick_.find(key);
    return it != sick_.end() && it->second;
  }

  Options options_;
  std::map<std::string, Member> members_;
  std::map<std::string, bool> sick_;
  std::set<std::string> refused_;
  bool attached_ = true;
  int registerCalls_ = 0;
  int deregisterCalls_ = 0;
};

// One source answer: the targets, or a failure with its reason. A good answer may carry what
// the runtime's source reports: who produced it (binding key and spec generation) and since
// when the source no longer lists what it dropped (trusted only within one lineage).
struct SourceAnswer {
  bool ok = true;
  std::vector<Target> targets;
  std::string failure;
  std::string lineage = "ns/sim@1";
  std::unordered_map<std::string, MonoTime> departedAt;

  static SourceAnswer of(std::vector<Target> targets) {
    SourceAnswer answer;
    answer.targets = std::move(targets);
    return answer;
  }
  static SourceAnswer failed(std::string why) {
    SourceAnswer answer;
    answer.ok = false;
    answer.failure = std::move(why);
    return answer;
  }
};

// The reconcile loop of one binding, reduced to what core needs: keeps the last good listing
// while the source fails, feeds the tracker, plans and applies the plan to the group.
class SimulatedBinding {
 public:
  explicit SimulatedBinding(api::Policy policy, GroupFacts facts = {})
      : policy_(std::move(policy)), facts_(std::move(facts)) {}

  // The plan as computed (the refusals of this sync appear in the next one's holds).
  Plan sync(const SourceAnswer& answer, SimulatedTargetGroup& group, MonoTime now) {
    if (answer.ok) {
      lastGood_ = answer.targets;
      hasAnswer_ = true;
      tracker_.recordListing(
          SourceListing{answer.targets, now, answer.lineage, answer.departedAt, ""}, now);
    } else {
      // As the runtime does: the last good listing stands in for the source meanwhile.
      tracker_.recordSourceFailure(answer.failure, now, lastGood_);
    }
    observed_ = group.observe(now);
    tracker_.recordObserved(observed_, now);
    desired_ = DesiredTargets{lastGood_, !answer.ok || !hasAnswer_};
    Plan plan = computePlan(desired_, observed_, tracker_, policy_, now, facts_);
    planned_ = tracker_;
    for (const auto& refused : group.apply(plan, now)) {
      tracker_.recordRejected(refused, "InvalidTarget: refused by the simulated group",
                              now + facts_.rejectionRetry);
    }
    if (!plan.toDeregister.empty()) tracker_.recordDeregistered(plan.toDeregister.size(), now);
    return plan;
  }

  // A controller restart: every memory is lost, the target group is not.
  void restart() {
    tracker_ = EndpointTracker();
    lastGood_.clear();
    hasAnswer_ = false;
  }

  const EndpointTracker& tracker() const { return tracker_; }
  // The tracker as the latest plan saw it (before its refusals and deregistrations).
  const EndpointTracker& plannedTracker() const { return planned_; }
  // The inputs of the latest sync's plan.
  const DesiredTargets& lastDesired() const { return desired_; }
  const std::vector<ObservedTarget>& lastObserved() const { return observed_; }
  const api::Policy& policy() const { return policy_; }
  const GroupFacts& facts() const { return facts_; }

 private:
  api::Policy policy_;
  GroupFacts facts_;
  EndpointTracker tracker_;
  EndpointTracker planned_;
  std::vector<Target> lastGood_;
  bool hasAnswer_ = false;
  DesiredTargets desired_;
  std::vector<ObservedTarget> observed_;
};

inline std::set<std::string> keysOf(const std::vector<Target>& targets) {
  std::set<std::string> keys;
  for (const auto& t : targets) keys.insert(t.key());
  return keys;
}

}  // namespace endpointbinder::core::testing
