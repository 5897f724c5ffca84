// Shared fixtures for the micro benchmarks: deterministic target lists shaped like a real
// binding's (unique IPv4 addresses inside 10.0.0.0/8, port 443, a few outside the VPC with
// AvailabilityZone "all"). Header-only; used by one benchmark binary.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "api/net.h"
#include "controller/core/targets.h"

namespace endpointbinder::bench {

// The n-th unique address in 10.0.0.0/8 (10.0.0.1, 10.0.0.2, ...), skipping .0 and .255 host
// bytes so every address is a plausible host.
inline std::string nthAddress(std::uint32_t n) {
  const std::uint32_t host = n % 254 + 1;
  const std::uint32_t rest = n / 254;
  const std::uint32_t value = (10u << 24) | ((rest % 65536) << 8) | host;
  return api::IpAddress::v4(value).toString();
}

// `count` targets starting at the `first`-th address, port 443.
inline std::vector<core::Target> makeTargets(std::uint32_t first, std::uint32_t count) {
  std::vector<core::Target> targets;
  targets.reserve(count);
  for (std::uint32_t i = 0; i < count; ++i) {
    targets.push_back(core::Target{nthAddress(first + i), 443, std::nullopt});
  }
  return targets;
}

inline std::vector<core::ObservedTarget> observe(const std::vector<core::Target>& targets,
                                                 core::TargetState state) {
  std::vector<core::ObservedTarget> observed;
  observed.reserve(targets.size());
  for (const auto& target : targets)
    observed.push_back(core::ObservedTarget{target, state, {}, {}});
  return observed;
}

}  // namespace endpointbinder::bench
