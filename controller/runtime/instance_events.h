// Parsing of the EventBridge events an SQS queue carries to the event reader: what an event
// says about instances, or why the message is not one of ours.
//
// Understood (the message body is the EventBridge event JSON; an SNS notification wrapping one,
// {"Type": "Notification", "Message": "<event JSON>"}, is unwrapped):
//   source aws.ec2:
//     "EC2 Instance State-change Notification"  detail.instance-id (and detail.state)
//     "EC2 Spot Instance Interruption Warning"  detail.instance-id -> spotInterruption
//     "EC2 Instance Rebalance Recommendation"   detail.instance-id
//   source aws.autoscaling:
//     "EC2 Instance Launch Successful", "EC2 Instance Terminate Successful",
//     "EC2 Instance Launch Unsuccessful", "EC2 Instance Terminate Unsuccessful",
//     "EC2 Instance-launch Lifecycle Action", "EC2 Instance-terminate Lifecycle Action"
//                                               detail.EC2InstanceId, detail.AutoScalingGroupName
// Anything else that is a JSON object with "source" and "detail-type" is foreign (another
// rule's event, or a test message): counted and deleted. A body that is not JSON, nests deeper
// than 32 levels, exceeds 256 KiB, or is one of the events above without the instance id it
// must carry is malformed. Never throws.
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>

#include "controller/runtime/instance_inventory.h"

namespace endpointbinder::runtime {

enum class EventMessageKind { kInstanceEvent, kForeign, kMalformed };

struct ParsedEventMessage {
  EventMessageKind kind = EventMessageKind::kMalformed;
  InstanceEvent event;      // kInstanceEvent only
  std::string detailType;   // as given, for logs (printable ASCII, at most 100 characters)
  std::string description;  // why it is foreign or malformed
};

ParsedEventMessage parseEventMessage(std::string_view body);

}  // namespace endpointbinder::runtime
