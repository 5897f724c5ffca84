#include "controller/core/targets.h"

#include <array>
#include <optional>
#include <utility>

#include "api/net.h"

namespace endpointbinder::core {

namespace {

constexpr std::array<std::pair<TargetState, std::string_view>, 7> kStateNames = {{
    {TargetState::kInitial, "initial"},
    {TargetState::kHealthy, "healthy"},
    {TargetState::kUnhealthy, "unhealthy"},
    {TargetState::kUnhealthyDraining, "unhealthy.draining"},
    {TargetState::kUnused, "unused"},
    {TargetState::kDraining, "draining"},
    {TargetState::kUnavailable, "unavailable"},
}};

}  // namespace

std::string Target::key() const {
  // Only IPv6 has more than one spelling: an IPv4 text that parses is already canonical
  // (no leading zeros or shorthand are accepted), and instance ids have no ':'.
  std::optional<api::IpAddress> address;
  if (id.find(':') != std::string::npos) address = api::IpAddress::parse(id);
  std::string text = address ? address->toString() : id;
  text += ':';
  text += std::to_string(port);
  return text;
}

TargetState parseTargetState(std::string_view awsName) {
  for (const auto& [state, name] : kStateNames) {
    if (name == awsName) return state;
  }
  return TargetState::kUnknown;
}

const char* targetStateName(TargetState state) {
  for (const auto& [known, name] : kStateNames) {
    if (known == state) return name.data();
  }
  return "unknown";
}

bool isRegistered(TargetState state) {
  switch (state) {
    case TargetState::kUnhealthyDraining:
    case TargetState::kUnused:
    case TargetState::kDraining:
      return false;
    case TargetState::kInitial:
    case TargetState::kHealthy:
    case TargetState::kUnhealthy:
    case TargetState::kUnavailable:
    case TargetState::kUnknown:
      return true;
  }
  return true;
}

bool isRegistered(const ObservedTarget& observed) {
  if (observed.state == TargetState::kUnused) {
    return !observed.reason.empty() && observed.reason != kReasonNotRegistered;
  }
  return isRegistered(observed.state);
}

bool isServing(const ObservedTarget& observed) {
  if (observed.state == TargetState::kHealthy) return true;
  return observed.state == TargetState::kUnavailable &&
         observed.reason == kReasonHealthCheckDisabled;
}

}  // namespace endpointbinder::core
