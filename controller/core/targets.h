// Targets as the planner sees them: what the source lists (desired) and what the target
// group holds (observed), keyed by "id:port" like aws-load-balancer-controller.
// Thread-safety: plain values.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace endpointbinder::core {

struct Target {
  std::string id;  // IP address (canonical text) or instance id
  int port = 0;
  std::optional<std::string> availabilityZone;  // "all" for IPs outside the VPC

  // "id:port", the identity used everywhere (diff, tracker, status). An id that parses as an
  // IP address is written in canonical form ("FD00::1" and "fd00::1" are one target), so a
  // differently spelled answer never looks like a new target; other ids are used as given.
  // The availability zone is not part of the identity (AWS keys targets by id and port).
  std::string key() const;
  bool operator==(const Target&) const = default;
};

// ELBv2 TargetHealth.State, plus kUnknown for states this build does not know.
enum class TargetState {
  kInitial,
  kHealthy,
  kUnhealthy,
  kUnhealthyDraining,
  kUnused,
  kDraining,
  kUnavailable,
  kUnknown,
};

TargetState parseTargetState(std::string_view awsName);  // unknown text -> kUnknown
const char* targetStateName(TargetState state);          // AWS spelling; "unknown"

// Registered from the planner's point of view, judged by the state alone: in the group and not
// on its way out. draining / unhealthy.draining / unused are not registered (they may be
// re-registered); every other state, kUnknown included, is (a state we cannot read is not
// evidence that the target left).
bool isRegistered(TargetState state);

// AWS reason code of an `unused` target that is not in the group at all.
inline constexpr std::string_view kReasonNotRegistered = "Target.NotRegistered";

struct ObservedTarget {
  Target target;
  TargetState state = TargetState::kUnknown;
  std::string reason;       // e.g. "Target.Timeout"
  std::string description;  // free text from AWS
};

// What the planner and tracker use. Like isRegistered(state), except that an `unused` target
// whose reason says it *is* registered (Target.NotInUse: the group has no load balancer or the
// zone is disabled; Target.InvalidState: the instance is stopped; Target.IpUnusable) counts as
// registered: registering it again changes nothing, so treating it as unregistered would make
// a write on every sync and would keep it from ever being deregistered. `unused` with
// Target.NotRegistered or with no reason at all is not registered.
bool isRegistered(const ObservedTarget& observed);

// AWS reason code of an `unavailable` target in a group whose health checks are disabled.
inline constexpr std::string_view kReasonHealthCheckDisabled = "Target.HealthCheckDisabled";

// Takes traffic now, as far as the target group says: `healthy`, or `unavailable` because the
// group's health checks are disabled (the load balancer then routes to every target). What
// minTargets counts and what a removal must not leave too few of.
bool isServing(const ObservedTarget& observed);

}  // namespace endpointbinder::core
