"""EventBridge events of EC2 and Auto Scaling, delivered to SQS queues as a rule with an SQS
target would deliver them: the message Body is the event JSON, compact.

The event shapes follow AWS's documented examples: the envelope (version "0", id, detail-type,
source, account, time with second precision, region, resources, detail) and each detail's
keys ("instance-id"/"state" for EC2 state changes, "instance-action" for Spot interruption
warnings, LifecycleActionToken/... for Auto Scaling lifecycle actions, StatusCode/Details/...
for successful launches and terminations). EventBus keeps the emitted events (for the control
API) and routes each to the queues whose rule matches it, after the configured delivery delay.
Thread-safety: callers hold the emulator lock.
"""

import collections
import datetime
import json
import uuid

STATE_CHANGE = "EC2 Instance State-change Notification"
SPOT_WARNING = "EC2 Spot Instance Interruption Warning"
REBALANCE = "EC2 Instance Rebalance Recommendation"
LAUNCH_LIFECYCLE = "EC2 Instance-launch Lifecycle Action"
TERMINATE_LIFECYCLE = "EC2 Instance-terminate Lifecycle Action"
LAUNCH_SUCCESSFUL = "EC2 Instance Launch Successful"
TERMINATE_SUCCESSFUL = "EC2 Instance Terminate Successful"
DETAIL_TYPES = (STATE_CHANGE, SPOT_WARNING, REBALANCE, LAUNCH_LIFECYCLE, TERMINATE_LIFECYCLE,
                LAUNCH_SUCCESSFUL, TERMINATE_SUCCESSFUL)
SOURCES = ("aws.ec2", "aws.autoscaling")


def event_time(when):
    return datetime.datetime.fromtimestamp(when, tz=datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


def activity_time(when):
    value = datetime.datetime.fromtimestamp(when, tz=datetime.timezone.utc)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def instance_arn(account, instance):
    return f"arn:aws:ec2:{instance.region}:{account}:instance/{instance.id}"


def envelope(detail_type, source, account, region, when, resources, detail):
    return {"version": "0", "id": str(uuid.uuid4()), "detail-type": detail_type,
            "source": source, "account": account, "time": event_time(when), "region": region,
            "resources": list(resources), "detail": detail}


def state_change(account, instance, state, when):
    return envelope(STATE_CHANGE, "aws.ec2", account, instance.region, when,
                    [instance_arn(account, instance)],
                    {"instance-id": instance.id, "state": state})


def spot_warning(account, instance, action, when):
    return envelope(SPOT_WARNING, "aws.ec2", account, instance.region, when,
                    [instance_arn(account, instance)],
                    {"instance-id": instance.id, "instance-action": action})


def rebalance(account, instance, when):
    return envelope(REBALANCE, "aws.ec2", account, instance.region, when,
                    [instance_arn(account, instance)], {"instance-id": instance.id})


def lifecycle_action(account, group, hook, instance_id, token, when):
    launching = hook.transition == "autoscaling:EC2_INSTANCE_LAUNCHING"
    detail = {"LifecycleActionToken": token, "AutoScalingGroupName": group.name,
              "LifecycleHookName": hook.name, "EC2InstanceId": instance_id,
              "LifecycleTransition": hook.transition}
    if hook.notification_metadata is not None:
        detail["NotificationMetadata"] = hook.notification_metadata
    detail["Origin"] = "EC2" if launching else "AutoScalingGroup"
    detail["Destination"] = "AutoScalingGroup" if launching else "EC2"
    return envelope(LAUNCH_LIFECYCLE if launching else TERMINATE_LIFECYCLE, "aws.autoscaling",
                    account, group.region, when, [group.arn], detail)


def scaling_result(account, group, instance, launching, started, when, cause):
    verb = "Launching a new EC2 instance" if launching else "Terminating EC2 instance"
    detail = {"Origin": "EC2" if launching else "AutoScalingGroup",
              "Destination": "AutoScalingGroup" if launching else "EC2",
              "StatusCode": "InProgress", "Description": f"{verb}: {instance.id}",
              "AutoScalingGroupName": group.name, "ActivityId": str(uuid.uuid4()),
              "Details": {"Availability Zone": instance.az, "Subnet ID": instance.subnet_id},
              "RequestId": str(uuid.uuid4()), "StatusMessage": "",
              "EndTime": activity_time(when), "EC2InstanceId": instance.id,
              "StartTime": activity_time(started), "Cause": cause}
    return envelope(LAUNCH_SUCCESSFUL if launching else TERMINATE_SUCCESSFUL,
                    "aws.autoscaling", account, group.region, when,
                    [group.arn, instance_arn(account, instance)], detail)


def encode(event):
    return json.dumps(event, separators=(",", ":"))


class EventRule:
    """Which events a queue receives: all, or those of the listed sources/detail types."""

    def __init__(self, spec):
        if spec is True:
            spec = {}
        if not isinstance(spec, dict):
            raise ValueError("'events' must be true or {\"sources\": [...], "
                             "\"detailTypes\": [...]}")
        unknown = set(spec) - {"sources", "detailTypes"}
        if unknown:
            raise ValueError(f"unknown event rule fields: {sorted(unknown)}")
        self.sources = spec.get("sources")
        self.detail_types = spec.get("detailTypes")
        for values, known, label in ((self.sources, SOURCES, "sources"),
                                     (self.detail_types, DETAIL_TYPES, "detailTypes")):
            if values is not None:
                if not isinstance(values, list) or not values:
                    raise ValueError(f"'{label}' must be a non-empty list")
                bad = [v for v in values if v not in known]
                if bad:
                    raise ValueError(f"unknown {label} {bad}; known: {list(known)}")

    def matches(self, event):
        return (self.sources is None or event["source"] in self.sources) and \
            (self.detail_types is None or event["detail-type"] in self.detail_types)

    def describe(self):
        return {"sources": self.sources, "detailTypes": self.detail_types}


class EventBus:
    """Emitted events (latest 10,000, numbered) and their delivery into matching queues."""

    def __init__(self, sqs, settings_getter):
        self._sqs = sqs
        self._settings = settings_getter
        self.reset()

    def reset(self):
        self._events = collections.deque(maxlen=10000)
        self._seq = 0

    def emit(self, event, now):
        self._seq += 1
        delay = self._settings().event_delay_ms / 1000.0
        delivered = []
        for queue in self._sqs.queues_for_event(event):
            queue.send(encode(event), now, delay=delay, sender="AIDAEVENTBRIDGEEMULATOR")
            delivered.append(queue.name)
        self._events.append({"seq": self._seq, "event": event, "queues": delivered})

    def snapshot(self, since=None, detail_type=None):
        events = [e for e in self._events if since is None or e["seq"] > since]
        if detail_type:
            events = [e for e in events if e["event"]["detail-type"] == detail_type]
        return {"events": events, "lastSeq": self._seq}
