// FakeInstanceApis: an in-memory EC2 + Auto Scaling for unit tests of the instance inventory.
// Holds instances, Spot Fleet requests and Auto Scaling groups; answers the Ec2Api and
// AutoScalingApi calls from them (filters evaluated with core's evaluator; a filter name that
// is not evaluated locally matches instances whose tag "fake:<name>" holds one of the values),
// counts every call per action, pages DescribeInstances like EC2 (1,000 a page, counted per
// page) and fails the next N calls of an action on request.
// Thread-safety: every method locks; safe from several threads.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "controller/aws/instances.h"

namespace endpointbinder::testing {

class FakeInstanceApis final : public aws::Ec2Api, public aws::AutoScalingApi {
 public:
  struct Fleet {
    std::string state = "active";
    std::vector<std::string> instanceIds;
  };

  void putInstance(core::Instance instance);
  void removeInstance(const std::string& id);
  void setState(const std::string& id, const std::string& state);
  void putFleet(const std::string& id, Fleet fleet);
  void removeFleet(const std::string& id);
  void putGroup(aws::AutoScalingGroupInfo group);
  void removeGroup(const std::string& name);
  // The next `times` calls (pages) of `action` fail with `error`.
  void failNext(const std::string& action, core::Error error, int times = 1);

  // Calls (pages for DescribeInstances) per action since the last resetCalls().
  int calls(const std::string& action) const;
  int totalCalls() const;
  void resetCalls();
  // The filters of every DescribeInstances call, in order.
  std::vector<std::vector<api::Ec2Filter>> describeInstancesFilters() const;

  core::Result<std::vector<core::Instance>> describeInstances(
      const std::vector<api::Ec2Filter>& filters) override;
  core::Result<std::vector<std::string>> describeSpotFleetInstances(
      const std::string& requestId) override;
  core::Result<std::vector<aws::SpotFleetRequestInfo>> describeSpotFleetRequests(
      const std::vector<std::string>& requestIds) override;
  core::Result<std::vector<aws::AutoScalingGroupInfo>> describeAutoScalingGroups(
      const std::vector<std::string>& names) override;

 private:
  // Counts a call; returns the scripted failure, if any.
  std::optional<core::Error> enter(const std::string& action);

  mutable std::mutex mu_;
  std::map<std::string, core::Instance> instances_;
  std::map<std::string, Fleet> fleets_;
  std::map<std::string, aws::AutoScalingGroupInfo> groups_;
  std::map<std::string, int> calls_;
  std::map<std::string, std::vector<core::Error>> failures_;
  std::vector<std::vector<api::Ec2Filter>> filters_;
};

// A running instance with a private IPv4 address and the given tags.
core::Instance fakeInstance(const std::string& id, const std::string& ip,
                            std::map<std::string, std::string> tags = {});

}  // namespace endpointbinder::testing
