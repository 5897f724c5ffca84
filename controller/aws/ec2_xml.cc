#include "controller/aws/ec2_xml.h"

#include <fmt/format.h>

#include <algorithm>
#include <pugixml.hpp>

#include "controller/aws/query_xml.h"

namespace endpointbinder::aws {
namespace {

std::string trimmed(std::string_view text) {
  const auto blank = [](char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; };
  while (!text.empty() && blank(text.front())) text.remove_prefix(1);
  while (!text.empty() && blank(text.back())) text.remove_suffix(1);
  return std::string(text);
}

std::string text(const pugi::xml_node& node, const char* name) {
  return trimmed(node.child_value(name));
}

void addUnique(std::vector<std::string>& list, std::string value) {
  if (value.empty() || std::find(list.begin(), list.end(), value) != list.end()) return;
  list.push_back(std::move(value));
}

// The interface's IPv6 addresses, its primary IPv6 first.
std::vector<std::string> interfaceIpv6(const pugi::xml_node& interface) {
  std::vector<std::string> primary;
  std::vector<std::string> others;
  for (const pugi::xml_node item : interface.child("ipv6AddressesSet").children("item")) {
    auto address = text(item, "ipv6Address");
    if (text(item, "isPrimaryIpv6") == "true") {
      addUnique(primary, std::move(address));
    } else {
      addUnique(others, std::move(address));
    }
  }
  for (auto& a : others) addUnique(primary, std::move(a));
  return primary;
}

}  // namespace

core::Result<InstancesPage> parseDescribeInstances(std::string_view xml) {
  constexpr std::string_view kAction = "DescribeInstances";
  pugi::xml_document doc;
  auto root = responseRoot(doc, xml, kAction);
  if (!root) return std::unexpected(std::move(root.error()));

  InstancesPage page;
  int index = 0;
  for (const pugi::xml_node reservation : root->child("reservationSet").children("item")) {
    for (const pugi::xml_node item : reservation.child("instancesSet").children("item")) {
      ++index;
      core::Instance instance;
      instance.id = text(item, "instanceId");
      if (instance.id.empty()) {
        return malformedResponse(kAction, fmt::format("instance {} has no instanceId", index));
      }
      instance.state = text(item.child("instanceState"), "name");
      if (instance.state.empty()) {
        return malformedResponse(kAction, fmt::format("instance {} ({}) has no instanceState/name",
                                                      index, instance.id.substr(0, 32)));
      }
      instance.instanceType = text(item, "instanceType");
      instance.vpcId = text(item, "vpcId");
      instance.subnetId = text(item, "subnetId");
      instance.availabilityZone = text(item.child("placement"), "availabilityZone");
      instance.imageId = text(item, "imageId");
      instance.privateIpAddress = text(item, "privateIpAddress");
      instance.lifecycle = text(item, "instanceLifecycle");
      for (const pugi::xml_node tag : item.child("tagSet").children("item")) {
        instance.tags.insert_or_assign(std::string(tag.child_value("key")),
                                       std::string(tag.child_value("value")));
      }
      addUnique(instance.ipv6Addresses, text(item, "ipv6Address"));
      std::vector<std::pair<int, pugi::xml_node>> interfaces;
      for (const pugi::xml_node ni : item.child("networkInterfaceSet").children("item")) {
        const std::string device = text(ni.child("attachment"), "deviceIndex");
        int order = 1'000'000;
        if (!device.empty() && device.size() < 7 &&
            std::all_of(device.begin(), device.end(),
                        [](char c) { return c >= '0' && c <= '9'; })) {
          order = std::stoi(device);
        }
        interfaces.emplace_back(order, ni);
      }
      std::stable_sort(interfaces.begin(), interfaces.end(),
                       [](const auto& a, const auto& b) { return a.first < b.first; });
      for (const auto& [order, ni] : interfaces) {
        for (auto& address : interfaceIpv6(ni)) addUnique(instance.ipv6Addresses, address);
      }
      page.instances.push_back(std::move(instance));
    }
  }
  page.nextToken = text(*root, "nextToken");
  return page;
}

core::Result<SpotFleetInstancesPage> parseDescribeSpotFleetInstances(std::string_view xml) {
  constexpr std::string_view kAction = "DescribeSpotFleetInstances";
  pugi::xml_document doc;
  auto root = responseRoot(doc, xml, kAction);
  if (!root) return std::unexpected(std::move(root.error()));
  SpotFleetInstancesPage page;
  int index = 0;
  for (const pugi::xml_node item : root->child("activeInstanceSet").children("item")) {
    ++index;
    std::string id = text(item, "instanceId");
    if (id.empty())
      return malformedResponse(kAction, fmt::format("instance {} has no instanceId", index));
    page.instanceIds.push_back(std::move(id));
  }
  page.nextToken = text(*root, "nextToken");
  return page;
}

core::Result<SpotFleetRequestsPage> parseDescribeSpotFleetRequests(std::string_view xml) {
  constexpr std::string_view kAction = "DescribeSpotFleetRequests";
  pugi::xml_document doc;
  auto root = responseRoot(doc, xml, kAction);
  if (!root) return std::unexpected(std::move(root.error()));
  SpotFleetRequestsPage page;
  int index = 0;
  for (const pugi::xml_node item : root->child("spotFleetRequestConfigSet").children("item")) {
    ++index;
    SpotFleetRequestInfo info;
    info.id = text(item, "spotFleetRequestId");
    info.state = text(item, "spotFleetRequestState");
    info.activityStatus = text(item, "activityStatus");
    if (info.id.empty() || info.state.empty()) {
      return malformedResponse(kAction, fmt::format("request {} has no spotFleetRequestId or "
                                                    "spotFleetRequestState",
                                                    index));
    }
    page.requests.push_back(std::move(info));
  }
  page.nextToken = text(*root, "nextToken");
  return page;
}

core::Result<AutoScalingGroupsPage> parseDescribeAutoScalingGroups(std::string_view xml) {
  constexpr std::string_view kAction = "DescribeAutoScalingGroups";
  pugi::xml_document doc;
  auto root = responseRoot(doc, xml, kAction);
  if (!root) return std::unexpected(std::move(root.error()));
  const pugi::xml_node result = root->child("DescribeAutoScalingGroupsResult");
  if (!result) return malformedResponse(kAction, "no <DescribeAutoScalingGroupsResult> element");
  AutoScalingGroupsPage page;
  int index = 0;
  for (const pugi::xml_node member : result.child("AutoScalingGroups").children("member")) {
    ++index;
    AutoScalingGroupInfo group;
    group.name = text(member, "AutoScalingGroupName");
    if (group.name.empty()) {
      return malformedResponse(kAction, fmt::format("group {} has no AutoScalingGroupName", index));
    }
    group.status = text(member, "Status");
    int instanceIndex = 0;
    for (const pugi::xml_node i : member.child("Instances").children("member")) {
      ++instanceIndex;
      AutoScalingInstanceInfo instance;
      instance.id = text(i, "InstanceId");
      instance.lifecycleState = text(i, "LifecycleState");
      instance.healthStatus = text(i, "HealthStatus");
      instance.availabilityZone = text(i, "AvailabilityZone");
      if (instance.id.empty() || instance.lifecycleState.empty()) {
        return malformedResponse(kAction, fmt::format("group {} instance {} has no InstanceId or "
                                                      "LifecycleState",
                                                      index, instanceIndex));
      }
      group.instances.push_back(std::move(instance));
    }
    page.groups.push_back(std::move(group));
  }
  page.nextToken = text(result, "NextToken");
  return page;
}

QueryParams describeInstancesParams(const std::vector<api::Ec2Filter>& filters,
                                    const std::string& nextToken, int maxResults) {
  QueryParams params;
  for (size_t i = 0; i < filters.size(); ++i) {
    const std::string prefix = fmt::format("Filter.{}.", i + 1);
    params.emplace_back(prefix + "Name", filters[i].name);
    for (size_t v = 0; v < filters[i].values.size(); ++v) {
      params.emplace_back(fmt::format("{}Value.{}", prefix, v + 1), filters[i].values[v]);
    }
  }
  params.emplace_back("MaxResults", std::to_string(maxResults));
  if (!nextToken.empty()) params.emplace_back("NextToken", nextToken);
  return params;
}

QueryParams describeSpotFleetInstancesParams(const std::string& requestId,
                                             const std::string& nextToken, int maxResults) {
  QueryParams params;
  params.emplace_back("SpotFleetRequestId", requestId);
  params.emplace_back("MaxResults", std::to_string(maxResults));
  if (!nextToken.empty()) params.emplace_back("NextToken", nextToken);
  return params;
}

QueryParams describeSpotFleetRequestsParams(const std::vector<std::string>& requestIds,
                                            const std::string& nextToken, int maxResults) {
  QueryParams params;
  for (size_t i = 0; i < requestIds.size(); ++i) {
    params.emplace_back(fmt::format("SpotFleetRequestId.{}", i + 1), requestIds[i]);
  }
  if (requestIds.empty()) params.emplace_back("MaxResults", std::to_string(maxResults));
  if (!nextToken.empty()) params.emplace_back("NextToken", nextToken);
  return params;
}

QueryParams describeAutoScalingGroupsParams(const std::vector<std::string>& names,
                                            const std::string& nextToken, int maxRecords) {
  QueryParams params;
  for (size_t i = 0; i < names.size(); ++i) {
    params.emplace_back(fmt::format("AutoScalingGroupNames.member.{}", i + 1), names[i]);
  }
  params.emplace_back("MaxRecords", std::to_string(maxRecords));
  if (!nextToken.empty()) params.emplace_back("NextToken", nextToken);
  return params;
}

}  // namespace endpointbinder::aws
