#include "controller/runtime/instance_events.h"

#include <cpprest/json.h>

#include <algorithm>
#include <array>
#include <optional>

#include "controller/aws/json_limits.h"
#include "controller/core/text.h"

namespace endpointbinder::runtime {

namespace {

constexpr size_t kMaxBodyBytes = 256 * 1024;  // SQS's message size limit
constexpr int kMaxNesting = 32;

constexpr std::array<std::string_view, 3> kEc2Types = {
    "EC2 Instance State-change Notification",
    "EC2 Spot Instance Interruption Warning",
    "EC2 Instance Rebalance Recommendation",
};
constexpr std::array<std::string_view, 6> kAutoScalingTypes = {
    "EC2 Instance Launch Successful",       "EC2 Instance Terminate Successful",
    "EC2 Instance Launch Unsuccessful",     "EC2 Instance Terminate Unsuccessful",
    "EC2 Instance-launch Lifecycle Action", "EC2 Instance-terminate Lifecycle Action",
};

std::optional<std::string> stringField(const web::json::value& object, const char* name) {
  if (!object.is_object() || !object.has_field(name)) return std::nullopt;
  const auto& value = object.at(name);
  if (!value.is_string()) return std::nullopt;
  return value.as_string();
}

std::optional<web::json::value> parseJson(std::string_view body) {
  if (body.size() > kMaxBodyBytes || !aws::jsonNestingWithinLimit(body, kMaxNesting))
    return std::nullopt;
  std::error_code error;
  auto value = web::json::value::parse(std::string(body), error);
  if (error) return std::nullopt;
  return value;
}

ParsedEventMessage malformed(std::string why, std::string detailType = {}) {
  ParsedEventMessage out;
  out.kind = EventMessageKind::kMalformed;
  out.description = std::move(why);
  out.detailType = std::move(detailType);
  return out;
}

}  // namespace

ParsedEventMessage parseEventMessage(std::string_view body) {
  auto json = parseJson(body);
  if (!json) return malformed("not a JSON document (or over 256 KiB, or nested too deep)");
  if (!json->is_object()) return malformed("not a JSON object");
  // SNS in between: the event is the notification's Message.
  if (stringField(*json, "Type") == "Notification") {
    const auto message = stringField(*json, "Message");
    if (!message) return malformed("SNS notification without a Message");
    auto inner = parseJson(*message);
    if (!inner || !inner->is_object()) {
      ParsedEventMessage out;
      out.kind = EventMessageKind::kForeign;
      out.description = "an SNS notification whose Message is not an event";
      return out;
    }
    json = std::move(inner);
  }
  const auto source = stringField(*json, "source");
  const auto detailType = stringField(*json, "detail-type");
  if (!source || !detailType) {
    ParsedEventMessage out;
    out.kind = EventMessageKind::kForeign;
    out.description = "a JSON object that is not an EventBridge event (no source or detail-type)";
    return out;
  }
  ParsedEventMessage out;
  out.detailType = core::printableAscii(*detailType, 100);
  const auto known = [&](const auto& list) {
    return std::find(list.begin(), list.end(), *detailType) != list.end();
  };
  const bool ec2 = *source == "aws.ec2" && known(kEc2Types);
  const bool autoScaling = *source == "aws.autoscaling" && known(kAutoScalingTypes);
  if (!ec2 && !autoScaling) {
    out.kind = EventMessageKind::kForeign;
    out.description = "event " + core::printableAscii(*source, 40) + " \"" + out.detailType +
                      "\" is not one endpoint-binder acts on";
    return out;
  }
  if (!json->has_field("detail") || !json->at("detail").is_object()) {
    return malformed("event without a detail object", out.detailType);
  }
  const auto& detail = json->at("detail");
  const auto id = stringField(detail, ec2 ? "instance-id" : "EC2InstanceId");
  if (!id || !core::isInstanceId(*id)) {
    return malformed(std::string("event without a valid ") +
                         (ec2 ? "detail.instance-id" : "detail.EC2InstanceId"),
                     out.detailType);
  }
  out.kind = EventMessageKind::kInstanceEvent;
  out.event.instanceIds.push_back(*id);
  out.event.spotInterruption = *detailType == "EC2 Spot Instance Interruption Warning";
  if (autoScaling) {
    if (auto group = stringField(detail, "AutoScalingGroupName"); group && !group->empty()) {
      out.event.autoScalingGroupName = *group;
    }
  }
  return out;
}

}  // namespace endpointbinder::runtime
