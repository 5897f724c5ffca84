#include "controller/aws/elbv2_xml.h"

#include <fmt/format.h>

#include <charconv>
#include <optional>
#include <pugixml.hpp>

#include "controller/aws/query_xml.h"

namespace endpointbinder::aws {
namespace {

// Parses the document and returns <{action}Result> under <{action}Response>.
core::Result<pugi::xml_node> resultNode(pugi::xml_document& doc, std::string_view xml,
                                        std::string_view action, bool requireResult) {
  auto parsedRoot = responseRoot(doc, xml, action);
  if (!parsedRoot) return parsedRoot;
  const pugi::xml_node root = *parsedRoot;
  const pugi::xml_node result = root.child(fmt::format("{}Result", action).c_str());
  if (!result && requireResult) {
    return malformedResponse(action, fmt::format("no <{}Result> element", action));
  }
  return result;
}

// Text of a child element, or nullopt when the element is absent.
std::optional<std::string> childText(const pugi::xml_node& node, const char* name) {
  const pugi::xml_node child = node.child(name);
  if (!child) return std::nullopt;
  return std::string(child.child_value());
}

// A port: absent → 0; present → an integer 0..65535 (surrounding blanks allowed).
std::optional<int> portOf(const pugi::xml_node& node) {
  const pugi::xml_node child = node.child("Port");
  if (!child) return 0;
  std::string_view text = child.child_value();
  while (!text.empty() && (text.front() == ' ' || text.front() == '\n' || text.front() == '\t')) {
    text.remove_prefix(1);
  }
  while (!text.empty() && (text.back() == ' ' || text.back() == '\n' || text.back() == '\t')) {
    text.remove_suffix(1);
  }
  int port = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || port < 0 ||
      port > 65535) {
    return std::nullopt;
  }
  return port;
}

}  // namespace

core::Result<TargetGroupsPage> parseDescribeTargetGroups(std::string_view xml) {
  constexpr std::string_view kAction = "DescribeTargetGroups";
  pugi::xml_document doc;
  auto result = resultNode(doc, xml, kAction, true);
  if (!result) return std::unexpected(std::move(result.error()));

  TargetGroupsPage page;
  int index = 0;
  for (const pugi::xml_node member : result->child("TargetGroups").children("member")) {
    ++index;
    TargetGroupInfo info;
    std::optional<std::string> arn = childText(member, "TargetGroupArn");
    if (!arn || arn->empty()) {
      return malformedResponse(kAction,
                               fmt::format("target group {} has no TargetGroupArn", index));
    }
    info.arn = std::move(*arn);
    info.name = member.child_value("TargetGroupName");
    info.protocol = member.child_value("Protocol");
    info.targetType = member.child_value("TargetType");
    info.vpcId = member.child_value("VpcId");
    if (std::string_view type = member.child_value("IpAddressType"); !type.empty()) {
      info.ipAddressType = type;
    }
    const std::optional<int> port = portOf(member);
    if (!port)
      return malformedResponse(kAction, fmt::format("target group {} has a bad Port", index));
    info.port = *port;
    for (const pugi::xml_node lb : member.child("LoadBalancerArns").children("member")) {
      info.loadBalancerArns.emplace_back(lb.child_value());
    }
    page.targetGroups.push_back(std::move(info));
  }
  page.nextMarker = result->child_value("NextMarker");
  return page;
}

core::Result<std::vector<core::ObservedTarget>> parseDescribeTargetHealth(std::string_view xml) {
  constexpr std::string_view kAction = "DescribeTargetHealth";
  pugi::xml_document doc;
  auto result = resultNode(doc, xml, kAction, true);
  if (!result) return std::unexpected(std::move(result.error()));

  std::vector<core::ObservedTarget> targets;
  int index = 0;
  for (const pugi::xml_node member : result->child("TargetHealthDescriptions").children("member")) {
    ++index;
    const pugi::xml_node target = member.child("Target");
    std::optional<std::string> id = childText(target, "Id");
    if (!target || !id || id->empty()) {
      return malformedResponse(kAction, fmt::format("description {} has no Target/Id", index));
    }
    core::ObservedTarget observed;
    observed.target.id = std::move(*id);
    const std::optional<int> port = portOf(target);
    if (!port)
      return malformedResponse(kAction, fmt::format("description {} has a bad Port", index));
    observed.target.port = *port;
    if (std::optional<std::string> az = childText(target, "AvailabilityZone"); az && !az->empty()) {
      observed.target.availabilityZone = std::move(*az);
    }
    const pugi::xml_node health = member.child("TargetHealth");
    const std::optional<std::string> state = childText(health, "State");
    if (!health || !state) {
      return malformedResponse(kAction,
                               fmt::format("description {} has no TargetHealth/State", index));
    }
    observed.state = core::parseTargetState(*state);
    observed.reason = health.child_value("Reason");
    observed.description = health.child_value("Description");
    targets.push_back(std::move(observed));
  }
  return targets;
}

core::Result<std::map<std::string, Tags>> parseDescribeTags(std::string_view xml) {
  constexpr std::string_view kAction = "DescribeTags";
  pugi::xml_document doc;
  auto result = resultNode(doc, xml, kAction, true);
  if (!result) return std::unexpected(std::move(result.error()));

  std::map<std::string, Tags> tagsByArn;
  int index = 0;
  for (const pugi::xml_node member : result->child("TagDescriptions").children("member")) {
    ++index;
    std::optional<std::string> arn = childText(member, "ResourceArn");
    if (!arn || arn->empty()) {
      return malformedResponse(kAction,
                               fmt::format("tag description {} has no ResourceArn", index));
    }
    Tags& tags = tagsByArn[*arn];
    for (const pugi::xml_node tag : member.child("Tags").children("member")) {
      std::optional<std::string> key = childText(tag, "Key");
      if (!key)
        return malformedResponse(kAction,
                                 fmt::format("tag description {} has a tag without Key", index));
      tags.insert_or_assign(std::move(*key), std::string(tag.child_value("Value")));
    }
  }
  return tagsByArn;
}

core::Result<void> parseEmptyResponse(std::string_view xml, std::string_view action) {
  pugi::xml_document doc;
  auto result = resultNode(doc, xml, action, false);
  if (!result) return std::unexpected(std::move(result.error()));
  return {};
}

QueryParams describeTargetGroupsParams(const std::vector<std::string>& arns,
                                       const std::string& marker, int pageSize) {
  QueryParams params;
  for (size_t i = 0; i < arns.size(); ++i) {
    params.emplace_back(fmt::format("TargetGroupArns.member.{}", i + 1), arns[i]);
  }
  if (!marker.empty()) params.emplace_back("Marker", marker);
  params.emplace_back("PageSize", std::to_string(pageSize));
  return params;
}

QueryParams describeTargetHealthParams(const std::string& arn) { return {{"TargetGroupArn", arn}}; }

QueryParams registerTargetsParams(const std::string& arn,
                                  const std::vector<core::Target>& targets) {
  QueryParams params;
  params.emplace_back("TargetGroupArn", arn);
  for (size_t i = 0; i < targets.size(); ++i) {
    const core::Target& target = targets[i];
    const std::string prefix = fmt::format("Targets.member.{}.", i + 1);
    params.emplace_back(prefix + "Id", target.id);
    if (target.port != 0) params.emplace_back(prefix + "Port", std::to_string(target.port));
    if (target.availabilityZone) {
      params.emplace_back(prefix + "AvailabilityZone", *target.availabilityZone);
    }
  }
  return params;
}

QueryParams describeTagsParams(const std::vector<std::string>& arns) {
  QueryParams params;
  for (size_t i = 0; i < arns.size(); ++i) {
    params.emplace_back(fmt::format("ResourceArns.member.{}", i + 1), arns[i]);
  }
  return params;
}

QueryParams addTagsParams(const std::string& arn, const Tags& tags) {
  QueryParams params;
  params.emplace_back("ResourceArns.member.1", arn);
  size_t i = 0;
  for (const auto& [key, value] : tags) {
    ++i;
    params.emplace_back(fmt::format("Tags.member.{}.Key", i), key);
    params.emplace_back(fmt::format("Tags.member.{}.Value", i), value);
  }
  return params;
}

QueryParams removeTagsParams(const std::string& arn, const std::vector<std::string>& keys) {
  QueryParams params;
  params.emplace_back("ResourceArns.member.1", arn);
  for (size_t i = 0; i < keys.size(); ++i) {
    params.emplace_back(fmt::format("TagKeys.member.{}", i + 1), keys[i]);
  }
  return params;
}

}  // namespace endpointbinder::aws
