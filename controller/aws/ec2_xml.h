// Pure parsers for the EC2 (Query protocol "ec2", 2016-11-15) and Auto Scaling (Query,
// 2011-01-01) responses instance sources read, and the request-parameter builders that mirror
// them (as botocore's serializers write them: EC2 lists flattened as `Filter.1.Value.1`,
// Auto Scaling lists as `AutoScalingGroupNames.member.1`).
//
// EC2 answers have no Result wrapper (<DescribeInstancesResponse><reservationSet><item>…) and
// lists are <item> elements; Auto Scaling answers follow the ELBv2 shape
// (<…Response><…Result><AutoScalingGroups><member>…).
// The input is untrusted: every parser returns an Error (kind kRetryable, code
// "MalformedResponse") for malformed XML, an unexpected root element or a missing required
// field, and never throws or crashes.
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "api/manifest.h"
#include "controller/aws/instances.h"
#include "controller/aws/query_client.h"
#include "controller/core/error.h"
#include "controller/core/instance.h"

namespace endpointbinder::aws {

inline constexpr std::string_view kEc2ApiVersion = "2016-11-15";
inline constexpr std::string_view kEc2SigningName = "ec2";
inline constexpr std::string_view kAutoScalingApiVersion = "2011-01-01";
inline constexpr std::string_view kAutoScalingSigningName = "autoscaling";

struct InstancesPage {
  std::vector<core::Instance> instances;
  std::string nextToken;  // empty on the last page
};

// Requires instanceId and instanceState/name per instance. IPv6 addresses come from every
// network interface (the primary interface, deviceIndex 0, first; each interface's primary
// IPv6 first), after the instance's own ipv6Address when present; duplicates are dropped.
core::Result<InstancesPage> parseDescribeInstances(std::string_view xml);

struct SpotFleetInstancesPage {
  std::vector<std::string> instanceIds;
  std::string nextToken;
};
// Requires instanceId per active instance.
core::Result<SpotFleetInstancesPage> parseDescribeSpotFleetInstances(std::string_view xml);

struct SpotFleetRequestsPage {
  std::vector<SpotFleetRequestInfo> requests;
  std::string nextToken;
};
// Requires spotFleetRequestId and spotFleetRequestState per request.
core::Result<SpotFleetRequestsPage> parseDescribeSpotFleetRequests(std::string_view xml);

struct AutoScalingGroupsPage {
  std::vector<AutoScalingGroupInfo> groups;
  std::string nextToken;
};
// Requires AutoScalingGroupName per group, InstanceId and LifecycleState per instance.
core::Result<AutoScalingGroupsPage> parseDescribeAutoScalingGroups(std::string_view xml);

// `Filter.N.Name` / `Filter.N.Value.M` in order, then MaxResults and NextToken (when set).
QueryParams describeInstancesParams(const std::vector<api::Ec2Filter>& filters,
                                    const std::string& nextToken, int maxResults);
QueryParams describeSpotFleetInstancesParams(const std::string& requestId,
                                             const std::string& nextToken, int maxResults);
// MaxResults only without ids (EC2 returns every named request in one answer).
QueryParams describeSpotFleetRequestsParams(const std::vector<std::string>& requestIds,
                                            const std::string& nextToken, int maxResults);
QueryParams describeAutoScalingGroupsParams(const std::vector<std::string>& names,
                                            const std::string& nextToken, int maxRecords);

}  // namespace endpointbinder::aws
