// Which targets a target group's IP address type admits, decided before any call to AWS.
//
// AWS: "All IP addresses within a target group must have the same IP address type. For
// example, you can't register an IPv4 target with an IPv6 target group." An IPv6 address sent
// to an `ipv4` group is refused as a whole RegisterTargets call (ValidationError "The IP address
// '<ip>' is not a valid IPv4 address"), so the caller holds such targets instead of sending
// them. Instance ids (and other non-IP ids) are not judged here: an instance is reachable over
// the group's family or AWS refuses it by name (for an `ipv6` group without a primary IPv6
// address: InvalidTarget "The following targets cannot be used with this IPv6 target group
// because of missing primary IPv6 addresses: …"), which registerReportingRejections handles.
// Thread-safety: pure functions.
#pragma once

#include <string_view>

namespace endpointbinder::core {

// DescribeTargetGroups `IpAddressType` values (TargetGroupIpAddressTypeEnum).
inline constexpr std::string_view kIpAddressTypeIpv4 = "ipv4";  // AWS's default
inline constexpr std::string_view kIpAddressTypeIpv6 = "ipv6";

// True when a group of `ipAddressType` can take `targetId`:
// - `targetId` is not an IP literal (instance id, ARN): true.
// - an IPv4 literal: only `ipv4` groups, or "" (the member absent means AWS's default ipv4).
// - an IPv6 literal (any spelling, IPv4-mapped included): only `ipv6` groups.
// - `ipAddressType` is a value this build does not know: true, so AWS decides (and a refusal
//   is then held by name like any other).
// Type names are compared case-insensitively.
bool addressFamilyAccepted(std::string_view ipAddressType, std::string_view targetId);

}  // namespace endpointbinder::core
