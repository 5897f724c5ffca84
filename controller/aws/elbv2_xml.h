// Pure parsers for ELBv2 (2015-12-01) Query responses, and the request-parameter builders that
// mirror them. The input is untrusted: every parser returns an Error (kind kRetryable, code
// "MalformedResponse": a garbled answer is worth asking for again later) for malformed XML, an
// unexpected root element or a missing required field, and never throws or crashes. Unknown
// target health states become core::TargetState::kUnknown.
// Thread-safety: pure functions.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "controller/aws/elbv2.h"
#include "controller/aws/query_client.h"
#include "controller/core/error.h"
#include "controller/core/targets.h"

namespace endpointbinder::aws {

inline constexpr std::string_view kElbv2ApiVersion = "2015-12-01";
inline constexpr std::string_view kElbv2SigningName = "elasticloadbalancing";

struct TargetGroupsPage {
  std::vector<TargetGroupInfo> targetGroups;
  std::string nextMarker;  // empty on the last page
};

// <DescribeTargetGroupsResponse><DescribeTargetGroupsResult><TargetGroups><member>…
// Requires TargetGroupArn per member; Port must be an integer when present. IpAddressType is
// taken as given ("ipv4" when absent); an unknown value is kept for the caller to judge.
core::Result<TargetGroupsPage> parseDescribeTargetGroups(std::string_view xml);

// <DescribeTargetHealthResponse>…<TargetHealthDescriptions><member><Target><Id/><Port/>
// <AvailabilityZone/></Target><TargetHealth><State/><Reason/><Description/></TargetHealth>…
// Requires Target/Id and TargetHealth/State; Port is 0 when absent (Lambda targets).
core::Result<std::vector<core::ObservedTarget>> parseDescribeTargetHealth(std::string_view xml);

// <DescribeTagsResponse>…<TagDescriptions><member><ResourceArn/><Tags><member><Key/><Value/>…
// Requires ResourceArn and Key; a missing Value is "".
core::Result<std::map<std::string, Tags>> parseDescribeTags(std::string_view xml);

// Responses without data (RegisterTargets, DeregisterTargets, AddTags): checks the root element
// is <{action}Response>.
core::Result<void> parseEmptyResponse(std::string_view xml, std::string_view action);

// Request parameters (serialized as botocore's Query serializer does, lists as `.member.N`).
QueryParams describeTargetGroupsParams(const std::vector<std::string>& arns,
                                       const std::string& marker, int pageSize);
QueryParams describeTargetHealthParams(const std::string& arn);
// RegisterTargets and DeregisterTargets (same shape): Port when non-zero, AvailabilityZone when
// set.
QueryParams registerTargetsParams(const std::string& arn, const std::vector<core::Target>& targets);
QueryParams describeTagsParams(const std::vector<std::string>& arns);
QueryParams addTagsParams(const std::string& arn, const Tags& tags);
QueryParams removeTagsParams(const std::string& arn, const std::vector<std::string>& keys);

}  // namespace endpointbinder::aws
