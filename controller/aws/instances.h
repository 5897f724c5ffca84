// Ec2Api and AutoScalingApi: the EC2 and Auto Scaling reads instance sources need, behind small
// interfaces so the instance inventory can be tested with fakes. The real implementations
// (Ec2Client, AutoScalingClient) speak the EC2 Query API (2016-11-15) and the Auto Scaling
// Query API (2011-01-01) through QueryClient: SigV4, standard-mode retries (EC2's
// RequestLimitExceeded and Auto Scaling's Throttling are retryable) and per-action buckets.
// Thread-safety: implementations must allow concurrent calls.
#pragma once

#include <string>
#include <vector>

#include "api/manifest.h"
#include "controller/core/error.h"
#include "controller/core/instance.h"

namespace endpointbinder::aws {

// A Spot Fleet request's state, as DescribeSpotFleetRequests reports it.
struct SpotFleetRequestInfo {
  std::string id;              // sfr-...
  std::string state;           // spotFleetRequestState: submitted, active, modifying,
                               // cancelled, cancelled_running, cancelled_terminating, failed
  std::string activityStatus;  // error, pending_fulfillment, pending_termination, fulfilled
};

// Whether a fleet in `state` lists its instances as a source: submitted, active and modifying
// do; a cancelled (in any form) or failed fleet is a failing source, never "zero instances".
bool spotFleetStateServes(const std::string& state);

struct AutoScalingInstanceInfo {
  std::string id;
  std::string lifecycleState;  // InService, Pending, Standby, Terminating:Wait, ...
  std::string healthStatus;    // Healthy, Unhealthy
  std::string availabilityZone;
};

struct AutoScalingGroupInfo {
  std::string name;
  std::string status;  // empty, or "Delete in progress" while the group is being deleted
  std::vector<AutoScalingInstanceInfo> instances;
};

class Ec2Api {
 public:
  virtual ~Ec2Api() = default;

  // DescribeInstances with `filters` (every page). An empty list describes every instance of
  // the account in the Region (the inventory's account-wide listing).
  virtual core::Result<std::vector<core::Instance>> describeInstances(
      const std::vector<api::Ec2Filter>& filters) = 0;

  // The active instance ids of a Spot Fleet request (DescribeSpotFleetInstances, every page).
  // An unknown request id is an Error of kind kNotFound.
  virtual core::Result<std::vector<std::string>> describeSpotFleetInstances(
      const std::string& requestId) = 0;

  // DescribeSpotFleetRequests for `requestIds` (every page). AWS fails the whole call when one
  // id is unknown (kNotFound); the caller asks again id by id to find it. An empty list
  // returns an empty list without calling AWS.
  virtual core::Result<std::vector<SpotFleetRequestInfo>> describeSpotFleetRequests(
      const std::vector<std::string>& requestIds) = 0;
};

class AutoScalingApi {
 public:
  virtual ~AutoScalingApi() = default;

  // DescribeAutoScalingGroups for `names` (every page). A name with no group is simply
  // absent from the answer (AWS does not fail the call). An empty list returns an empty list
  // without calling AWS (an empty filter would describe every group).
  virtual core::Result<std::vector<AutoScalingGroupInfo>> describeAutoScalingGroups(
      const std::vector<std::string>& names) = 0;
};

}  // namespace endpointbinder::aws
