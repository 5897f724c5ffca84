// TargetGroupApi: the ELBv2 operations endpoint-binder needs, behind a small interface so the
// runtime can be tested with a fake. The real implementation (Elbv2Client) speaks the ELBv2
// Query API with SigV4, standard-mode retries and per-action token buckets.
// Thread-safety: implementations must allow concurrent calls.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "controller/core/error.h"
#include "controller/core/targets.h"

namespace endpointbinder::aws {

struct TargetGroupInfo {
  std::string arn;
  std::string name;
  std::string targetType;  // "ip", "instance", "lambda", "alb"
  std::string protocol;    // "HTTP", "HTTPS", "TCP", ...
  int port = 0;
  std::string vpcId;
  std::vector<std::string> loadBalancerArns;
  // IpAddressType: "ipv4" (AWS's default, also when the member is absent, as for Lambda
  // groups) or "ipv6". An ip group accepts only addresses of its family
  // (core::addressFamilyAccepted).
  std::string ipAddressType = "ipv4";
};

using Tags = std::map<std::string, std::string>;

class TargetGroupApi {
 public:
  virtual ~TargetGroupApi() = default;

  // DescribeTargetGroups for the given ARNs (all pages). A missing ARN is an Error of kind
  // kNotFound (AWS fails the whole call with TargetGroupNotFound).
  virtual core::Result<std::vector<TargetGroupInfo>> describeTargetGroups(
      const std::vector<std::string>& arns) = 0;

  // DescribeTargetHealth: every target of the group with its state.
  virtual core::Result<std::vector<core::ObservedTarget>> describeTargetHealth(
      const std::string& arn) = 0;

  // RegisterTargets / DeregisterTargets, chunked at 200 targets per call. Port and
  // AvailabilityZone are sent per target when set. Deregistering an absent target succeeds.
  virtual core::Result<void> registerTargets(const std::string& arn,
                                             const std::vector<core::Target>& targets) = 0;
  virtual core::Result<void> deregisterTargets(const std::string& arn,
                                               const std::vector<core::Target>& targets) = 0;

  // DescribeTags (at most 20 ARNs per call; more are split), AddTags (overwrites) and
  // RemoveTags (removing a key the resource lacks succeeds).
  virtual core::Result<std::map<std::string, Tags>> describeTags(
      const std::vector<std::string>& arns) = 0;
  virtual core::Result<void> addTags(const std::string& arn, const Tags& tags) = 0;
  virtual core::Result<void> removeTags(const std::string& arn,
                                        const std::vector<std::string>& keys) = 0;
};

}  // namespace endpointbinder::aws
