#include "api/manifest.h"

#include <algorithm>

namespace endpointbinder::api {

int CountOrPercent::resolve(int total) const {
  if (!isPercent) return value;
  if (value <= 0 || total <= 0) return 0;
  // Round down, but a positive percentage of a non-empty group always allows one removal,
  // otherwise "10%" of a 3-target group would freeze it forever.
  return std::max(1, static_cast<int>((static_cast<long long>(total) * value) / 100));
}

std::string CountOrPercent::toString() const {
  return std::to_string(value) + (isPercent ? "%" : "");
}

const char* sourceKindName(const Source& source) {
  switch (source.index()) {
    case 0:
      return "dns";
    case 1:
      return "static";
    case 2:
      return "ec2";
    case 3:
      return "spotFleet";
    case 4:
      return "autoScalingGroup";
  }
  return "unknown";
}

bool deregistersOnSpotInterruption(const TargetGroupBindingSpec& spec) {
  return spec.policy.deregisterOnSpotInterruption.value_or(
      std::holds_alternative<SpotFleetSource>(spec.source));
}

std::vector<Cidr> defaultAllowedCidrs() {
  std::vector<Cidr> cidrs;
  for (const char* text : {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10"}) {
    cidrs.push_back(*Cidr::parse(text));
  }
  return cidrs;
}

}  // namespace endpointbinder::api
