// Targets as the planner sees them: what the source lists (desired) and what the target
// group holds (observed), keyed by "id:port" like aws-load-balancer-controller.
// Thread-safety: plain values.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace endpointbinder::core {

struct Target {
  std::string id;  // IP address (canonical text) or instance id
  int port = 0;
  std::optional<std::string> availabilityZone;  // "all" for IPs outside the VPC

  std::string key() const { return id + ":" + std::to_string(port); }
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

// Registered from the planner's point of view: in the group and not on its way out.
// draining / unhealthy.draining / unused targets are not registered (they may be re-registered).
bool isRegistered(TargetState state);

struct ObservedTarget {
  Target target;
  TargetState state = TargetState::kUnknown;
  std::string reason;       // e.g. "Target.Timeout"
  std::string description;  // free text from AWS
};

}  // namespace endpointbinder::core
