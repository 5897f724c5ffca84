#include "tests/support/fake_instance_apis.h"

#include <algorithm>

#include "controller/core/instance.h"

namespace endpointbinder::testing {

void FakeInstanceApis::putInstance(core::Instance instance) {
  std::lock_guard lock(mu_);
  instances_[instance.id] = std::move(instance);
}

void FakeInstanceApis::removeInstance(const std::string& id) {
  std::lock_guard lock(mu_);
  instances_.erase(id);
}

void FakeInstanceApis::setState(const std::string& id, const std::string& state) {
  std::lock_guard lock(mu_);
  instances_.at(id).state = state;
}

void FakeInstanceApis::putFleet(const std::string& id, Fleet fleet) {
  std::lock_guard lock(mu_);
  fleets_[id] = std::move(fleet);
}

void FakeInstanceApis::removeFleet(const std::string& id) {
  std::lock_guard lock(mu_);
  fleets_.erase(id);
}

void FakeInstanceApis::putGroup(aws::AutoScalingGroupInfo group) {
  std::lock_guard lock(mu_);
  groups_[group.name] = std::move(group);
}

void FakeInstanceApis::removeGroup(const std::string& name) {
  std::lock_guard lock(mu_);
  groups_.erase(name);
}

void FakeInstanceApis::failNext(const std::string& action, core::Error error, int times) {
  std::lock_guard lock(mu_);
  for (int i = 0; i < times; ++i) failures_[action].push_back(error);
}

int FakeInstanceApis::calls(const std::string& action) const {
  std::lock_guard lock(mu_);
  const auto it = calls_.find(action);
  return it == calls_.end() ? 0 : it->second;
}

int FakeInstanceApis::totalCalls() const {
  std::lock_guard lock(mu_);
  int total = 0;
  for (const auto& [action, n] : calls_) total += n;
  return total;
}

void FakeInstanceApis::resetCalls() {
  std::lock_guard lock(mu_);
  calls_.clear();
  filters_.clear();
}

std::vector<std::vector<api::Ec2Filter>> FakeInstanceApis::describeInstancesFilters() const {
  std::lock_guard lock(mu_);
  return filters_;
}

std::optional<core::Error> FakeInstanceApis::enter(const std::string& action) {
  ++calls_[action];
  auto& queue = failures_[action];
  if (queue.empty()) return std::nullopt;
  auto error = queue.front();
  queue.erase(queue.begin());
  return error;
}

core::Result<std::vector<core::Instance>> FakeInstanceApis::describeInstances(
    const std::vector<api::Ec2Filter>& filters) {
  std::lock_guard lock(mu_);
  filters_.push_back(filters);
  std::vector<core::Instance> out;
  for (const auto& [id, instance] : instances_) {
    const bool match = std::all_of(filters.begin(), filters.end(), [&](const auto& f) {
      if (core::ec2FilterEvaluatedLocally(f.name)) return core::ec2FilterMatches(f, instance);
      const auto tag = instance.tags.find("fake:" + f.name);
      return tag != instance.tags.end() &&
             std::find(f.values.begin(), f.values.end(), tag->second) != f.values.end();
    });
    if (match) out.push_back(instance);
  }
  // One call per page of 1,000, as EC2 pages.
  const size_t pages = std::max<size_t>(1, (out.size() + 999) / 1000);
  for (size_t i = 0; i < pages; ++i) {
    if (auto error = enter("DescribeInstances")) return std::unexpected(*error);
  }
  return out;
}

core::Result<std::vector<std::string>> FakeInstanceApis::describeSpotFleetInstances(
    const std::string& requestId) {
  std::lock_guard lock(mu_);
  if (auto error = enter("DescribeSpotFleetInstances")) return std::unexpected(*error);
  const auto it = fleets_.find(requestId);
  if (it == fleets_.end()) {
    return core::makeError(core::ErrorKind::kNotFound, "no such fleet",
                           "InvalidSpotFleetRequestId.NotFound");
  }
  return it->second.instanceIds;
}

core::Result<std::vector<aws::SpotFleetRequestInfo>> FakeInstanceApis::describeSpotFleetRequests(
    const std::vector<std::string>& requestIds) {
  std::lock_guard lock(mu_);
  if (auto error = enter("DescribeSpotFleetRequests")) return std::unexpected(*error);
  std::vector<aws::SpotFleetRequestInfo> out;
  for (const auto& id : requestIds) {
    const auto it = fleets_.find(id);
    if (it == fleets_.end()) {
      return core::makeError(core::ErrorKind::kNotFound, "The spot fleet request ID does not exist",
                             "InvalidSpotFleetRequestId.NotFound");
    }
    out.push_back({id, it->second.state, "fulfilled"});
  }
  return out;
}

core::Result<std::vector<aws::AutoScalingGroupInfo>> FakeInstanceApis::describeAutoScalingGroups(
    const std::vector<std::string>& names) {
  std::lock_guard lock(mu_);
  if (auto error = enter("DescribeAutoScalingGroups")) return std::unexpected(*error);
  std::vector<aws::AutoScalingGroupInfo> out;
  for (const auto& name : names) {
    if (const auto it = groups_.find(name); it != groups_.end()) out.push_back(it->second);
  }
  return out;
}

core::Instance fakeInstance(const std::string& id, const std::string& ip,
                            std::map<std::string, std::string> tags) {
  core::Instance i;
  i.id = id;
  i.state = "running";
  i.instanceType = "c5.large";
  i.vpcId = "vpc-1";
  i.subnetId = "subnet-1";
  i.availabilityZone = "ap-northeast-1a";
  i.privateIpAddress = ip;
  i.tags.insert(tags.begin(), tags.end());
  return i;
}

}  // namespace endpointbinder::testing
