// Instance: what endpoint-binder knows of one EC2 instance, as DescribeInstances reports it,
// and the pure rules over it: EC2's filter semantics (wildcards, tag filters) evaluated
// locally, and how an Auto Scaling lifecycle state maps onto a listing.
//
// Local evaluation exists so that one account-wide DescribeInstances listing can serve every
// `ec2` source (EC2's request quotas are shared by the whole account): the evaluator must give
// exactly the answer EC2's own filters would give, or say it cannot (unknown filter names are
// then sent to EC2 as filters instead).
// Pure: no I/O. Thread-safety: plain values and free functions.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "api/manifest.h"

namespace endpointbinder::core {

struct Instance {
  std::string id;     // i-0123456789abcdef0
  std::string state;  // instanceState/name: pending, running, shutting-down, terminated, ...
  std::string instanceType;
  std::string vpcId;
  std::string subnetId;
  std::string availabilityZone;
  std::string imageId;
  std::string privateIpAddress;            // primary private IPv4; empty when none
  std::vector<std::string> ipv6Addresses;  // of every network interface, primary first
  std::string lifecycle;                   // instanceLifecycle: "spot", "scheduled", "" (on-demand)
  std::map<std::string, std::string, std::less<>> tags;  // transparent: found by string_view

  bool operator==(const Instance&) const = default;
};

// EC2's filter-value wildcards: `*` matches zero or more characters, `?` exactly one, and a
// backslash makes the next character literal (`\*`, `\?`, `\\`). Case-sensitive, as EC2's
// filter values are. A trailing lone backslash matches a backslash.
bool ec2WildcardMatch(std::string_view pattern, std::string_view text);

// Whether `id` has the shape of an EC2 instance ID: "i-" and 1 to 17 lowercase hex digits
// (old IDs have 8, current ones 17). Used to drop malformed IDs that events and listings carry.
bool isInstanceId(std::string_view id);

// Whether `name` is a DescribeInstances filter evaluated here exactly as EC2 does:
// tag:<key>, tag-key, tag-value, vpc-id, subnet-id, instance-type, instance-id,
// availability-zone, image-id, private-ip-address, instance-lifecycle, instance-state-name.
bool ec2FilterEvaluatedLocally(std::string_view name);
// All of `filters` are (an empty list is).
bool ec2FiltersEvaluatedLocally(const std::vector<api::Ec2Filter>& filters);

// Whether `instance` matches one filter: any of its values matches (wildcards as above).
// `tag:<key>` matches the value of tag <key> (the key compared exactly); `tag-key` any tag's
// key; `tag-value` any tag's value. An instance without the field (no private address, no
// lifecycle) matches no value. REQUIRES: ec2FilterEvaluatedLocally(filter.name).
bool ec2FilterMatches(const api::Ec2Filter& filter, const Instance& instance);

// Every filter matches and the instance's state is one of `states` (the source's
// instance-state-name filter). REQUIRES: ec2FiltersEvaluatedLocally(filters).
bool ec2SourceMatches(const std::vector<api::Ec2Filter>& filters,
                      const std::vector<std::string>& states, const Instance& instance);

// Evaluates many sources' filters over one account-wide listing without matching every source
// against every instance: instances are indexed by tag key and value, and a source with a
// `tag:<key>` filter whose values are all literal (no `*`, `?` or `\`) is matched only against
// the instances carrying one of those tags. Other sources are matched against every instance.
// The result is exactly ec2SourceMatches over the whole listing, in the listing's order.
// `instances` must outlive the index. Not thread-safe (one round's scratch value).
class InstanceIndex {
 public:
  explicit InstanceIndex(const std::vector<Instance>& instances);
  // REQUIRES: ec2FiltersEvaluatedLocally(filters).
  std::vector<const Instance*> matching(const std::vector<api::Ec2Filter>& filters,
                                        const std::vector<std::string>& states) const;

 private:
  const std::vector<Instance>& instances_;
  // "key\0value" -> positions in instances_, ascending.
  std::unordered_map<std::string, std::vector<size_t>> byTag_;
};

// An Auto Scaling group instance's LifecycleState as a listing sees it.
enum class AsgMembership {
  kListed,     // InService
  kNotListed,  // Pending*, Standby, EnteringStandby, Detaching, Detached, Warmed:*, unknown
  kLeaving,    // Terminating, Terminating:Wait, Terminating:Proceed, Terminated: going now
};
AsgMembership asgMembership(std::string_view lifecycleState);

}  // namespace endpointbinder::core
