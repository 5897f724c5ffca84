// Test helpers for core planner tests: a simulated ELBv2 target group that applies plans the
// way AWS does (initial -> healthy/unhealthy, deregistration drains, re-registration of a
// draining target), and a SimulatedBinding that runs the reconcile steps the runtime runs:
// source answer -> tracker, group -> tracker, computePlan, apply.
// Test-only. Thread-safety: none.
#pragma once

#include <chrono>
#include <map>
#include <set>
#include <string>
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

  // RegisterTargets then DeregisterTargets, as the reconciler sends them.
  void apply(const Plan& plan, MonoTime now) {
    if (!plan.toRegister.empty()) ++registerCalls_;
    if (!plan.toDeregister.empty()) ++deregisterCalls_;
    for (const auto& target : plan.toRegister) {
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
  }

  // Health checks decide this target's state (it keeps failing until told otherwise).
  void setSick(const std::string& key, bool sick) { sick_[key] = sick; }
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
  bool attached_ = true;
  int registerCalls_ = 0;
  int deregisterCalls_ = 0;
};

// One source answer: the targets, or a failure with its reason.
struct SourceAnswer {
  bool ok = true;
  std::vector<Target> targets;
  std::string failure;

  static SourceAnswer of(std::vector<Target> targets) { return {true, std::move(targets), {}}; }
  static SourceAnswer failed(std::string why) { return {false, {}, std::move(why)}; }
};

// The reconcile loop of one binding, reduced to what core needs: keeps the last good listing
// while the source fails, feeds the tracker, plans and applies the plan to the group.
class SimulatedBinding {
 public:
  explicit SimulatedBinding(api::Policy policy) : policy_(std::move(policy)) {}

  Plan sync(const SourceAnswer& answer, SimulatedTargetGroup& group, MonoTime now) {
    if (answer.ok) {
      lastGood_ = answer.targets;
      hasAnswer_ = true;
      tracker_.recordListing(lastGood_, now);
    } else {
      tracker_.recordSourceFailure(answer.failure, now);
    }
    observed_ = group.observe(now);
    tracker_.recordObserved(observed_, now);
    desired_ = DesiredTargets{lastGood_, !answer.ok || !hasAnswer_};
    Plan plan = computePlan(desired_, observed_, tracker_, policy_, now);
    group.apply(plan, now);
    return plan;
  }

  // A controller restart: every memory is lost, the target group is not.
  void restart() {
    tracker_ = EndpointTracker();
    lastGood_.clear();
    hasAnswer_ = false;
  }

  const EndpointTracker& tracker() const { return tracker_; }
  // The inputs of the latest sync's plan.
  const DesiredTargets& lastDesired() const { return desired_; }
  const std::vector<ObservedTarget>& lastObserved() const { return observed_; }
  const api::Policy& policy() const { return policy_; }

 private:
  api::Policy policy_;
  EndpointTracker tracker_;
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
