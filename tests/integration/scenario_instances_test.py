"""Instance sources end to end (issue 11): the real binary against the emulator's EC2, Auto
Scaling and SQS. Spot Fleet, Auto Scaling group and EC2-filter bindings, for instance and ip
target groups; failures that must remove nothing; and the events queue that makes changes
(and Spot interruption warnings) take effect within seconds while polling stays on."""
import time
import unittest

from harness import ScenarioTest, wait_for

POLL = "1s"  # --instance-poll-interval for the polling tests


def instance_binding(name, arn, source, target_type="instance", port=None, policy=None):
    """A TargetGroupBinding manifest whose source is one of ec2/spotFleet/autoScalingGroup,
    given as YAML lines under `source:` (already indented by 4)."""
    lines = [
        "apiVersion: endpointbinder.io/v1alpha1",
        "kind: TargetGroupBinding",
        "metadata:",
        f"  name: {name}",
        "spec:",
        f"  targetGroupARN: {arn}",
        f"  targetType: {target_type}",
    ]
    if port:
        lines.append(f"  port: {port}")
    lines.append("  source:")
    lines.extend(source)
    if policy:
        lines.append("  policy:")
        lines.extend(f"    {k}: {v}" for k, v in policy.items())
    return "\n".join(lines) + "\n"


def fleet_source(fleet_id):
    return ["    spotFleet:", f"      requestId: {fleet_id}"]


def group_source(name):
    return ["    autoScalingGroup:", f"      name: {name}"]


def ec2_source(tag_key, values, states=None):
    lines = ["    ec2:", "      filters:", f"        - name: \"tag:{tag_key}\"",
             "          values: [" + ", ".join(values) + "]"]
    if states:
        lines.append("      states: [" + ", ".join(states) + "]")
    return lines


class InstanceScenario(ScenarioTest):
    def launch(self, count, tags):
        return self.emulator.control("POST", "instances/launch", {"count": count, "tags": tags})

    def ec2_calls(self, action="DescribeInstances"):
        return [r for r in self.emulator.requests(action) if r["status"] == 200]


class SpotFleetBehindAnInstanceGroup(InstanceScenario):
    def test_converges_and_a_scale_in_waits_out_the_grace(self):
        arn = self.emulator.create_target_group("fleet-web", port=80, target_type="instance",
                                                protocol="HTTP")
        fleet = self.emulator.control("POST", "spot-fleets", {"targetCapacity": 3})
        self.write_manifest("fleet.yaml", instance_binding(
            "fleet-web", arn, fleet_source(fleet["id"]),
            policy={"deregistrationGracePeriod": "6s", "maxDeregistrationsPerSync": 1}))
        c = self.start_controller("--instance-poll-interval", POLL)
        wait_for(lambda: self.emulator.registered(arn) == set(fleet["ids"]), 30, what="fleet registered")
        wait_for(lambda: (c.condition("fleet-web", "SourceResolved") or {}).get("status") == "True", 10,
                 what="SourceResolved=True")

        # Scale out: the new instance joins at the next poll.
        added = self.emulator.control("POST", "spot-fleets/launch", {"id": fleet["id"], "count": 1})["ids"]
        wait_for(lambda: set(added) <= self.emulator.registered(arn), 15, what="scaled-out instance registered")

        # Scale in: the fleet drops one instance. It stays for the grace period, then goes.
        gone = fleet["ids"][0]
        self.emulator.control("POST", "instances/terminate", {"ids": [gone]})
        dropped_at = time.monotonic()
        time.sleep(3)
        self.assertEqual([], [r for r in self.emulator.requests("DeregisterTargets") if r["status"] == 200],
                         "nothing is deregistered within the 6 s grace")
        wait_for(lambda: gone not in self.emulator.registered(arn), 20,
                 what="terminated instance deregistered after the grace")
        deregistered_after = time.monotonic() - dropped_at
        self.assertGreaterEqual(deregistered_after, 6 - 1.5, "not before the grace")
        print(f"MEASURE instances.scale_in_deregistered_after {deregistered_after:.1f}s (grace 6s)")
        self.assertEqual(self.emulator.registered(arn), set(fleet["ids"][1:]) | set(added))

        # Calls per poll: one fleet-state, one fleet-instances and one DescribeInstances call.
        before = len(self.ec2_calls())
        time.sleep(5)
        per_second = (len(self.ec2_calls()) - before) / 5
        self.assertLessEqual(per_second, 2.0, "about one DescribeInstances per 1 s poll")

    def test_cancelled_fleet_is_a_failing_source_and_deregisters_nothing(self):
        arn = self.emulator.create_target_group("fleet-cancel", port=80, target_type="instance",
                                                protocol="HTTP")
        fleet = self.emulator.control("POST", "spot-fleets", {"targetCapacity": 2})
        self.write_manifest("fleet.yaml", instance_binding(
            "fleet-cancel", arn, fleet_source(fleet["id"]), policy={"deregistrationGracePeriod": "1s"}))
        c = self.start_controller("--instance-poll-interval", POLL)
        wait_for(lambda: self.emulator.registered(arn) == set(fleet["ids"]), 30, what="fleet registered")
        self.emulator.control("POST", "spot-fleets/cancel", {"id": fleet["id"], "terminateInstances": False})
        wait_for(lambda: (c.condition("fleet-cancel", "SourceResolved") or {}).get("status") == "False", 15,
                 what="SourceResolved=False")
        self.assertIn("cancelled", c.condition("fleet-cancel", "SourceResolved")["message"])
        time.sleep(3)
        self.assertEqual(self.emulator.registered(arn), set(fleet["ids"]), "a cancelled fleet is not zero instances")
        self.assertEqual([], self.emulator.requests("DeregisterTargets"))


class Ec2DescribeOutage(InstanceScenario):
    def test_an_outage_removes_nothing_and_recovery_resumes(self):
        arn = self.emulator.create_target_group("ec2-web", port=80, target_type="instance", protocol="HTTP")
        ids = self.launch(3, {"role": "web"})["ids"]
        self.launch(2, {"role": "db"})
        self.write_manifest("web.yaml", instance_binding(
            "ec2-web", arn, ec2_source("role", ["web"]),
            policy={"deregistrationGracePeriod": "2s", "maxDeregistrationsPerSync": 2}))
        c = self.start_controller("--instance-poll-interval", POLL)
        wait_for(lambda: self.emulator.registered(arn) == set(ids), 30, what="web instances registered")

        self.emulator.control("POST", "faults", {"service": "ec2", "action": "DescribeInstances",
                                                 "errorRate": 1, "errorStatus": 503})
        wait_for(lambda: (c.condition("ec2-web", "SourceResolved") or {}).get("status") == "False", 20,
                 what="SourceResolved=False during the outage")
        # Two instances stop while EC2 cannot be read: nothing may be deregistered.
        self.emulator.control("POST", "instances/stop", {"ids": ids[:2]})
        time.sleep(6)  # three times the grace, several polls
        self.assertEqual([], self.emulator.requests("DeregisterTargets"), "an outage removes nothing")
        self.assertEqual(self.emulator.registered(arn) | set(self.emulator.targets(arn)), set(ids))

        self.emulator.control("DELETE", "faults")
        wait_for(lambda: (c.condition("ec2-web", "SourceResolved") or {}).get("status") == "True", 30,
                 what="SourceResolved=True after recovery")
        wait_for(lambda: ids[0] not in self.emulator.registered(arn) and ids[1] not in self.emulator.registered(arn),
                 30, what="stopped instances deregistered after recovery and grace")
        self.assertIn(ids[2], self.emulator.registered(arn))


class AutoScalingGroup(InstanceScenario):
    def test_standby_is_not_registered_and_terminating_leaves_at_once(self):
        arn = self.emulator.create_target_group("asg-web", port=80, target_type="instance", protocol="HTTP")
        group = self.emulator.control("POST", "autoscaling-groups", {"name": "web-asg", "desiredCapacity": 3,
                                                                     "maxSize": 10})
        ids = group["ids"]
        self.emulator.control("POST", "autoscaling-groups/set-state",
                              {"name": "web-asg", "ids": [ids[0]], "lifecycleState": "Standby"})
        self.write_manifest("asg.yaml", instance_binding(
            "asg-web", arn, group_source("web-asg"), policy={"deregistrationGracePeriod": "10m"}))
        self.start_controller("--instance-poll-interval", POLL)
        wait_for(lambda: self.emulator.registered(arn) == set(ids[1:]), 30, what="InService instances registered")
        time.sleep(3)
        self.assertNotIn(ids[0], set(self.emulator.targets(arn)), "a Standby instance is never registered")

        # Scale in: Terminating leaves at once, despite a 10 minute grace.
        self.emulator.control("POST", "autoscaling-groups/terminate", {"name": "web-asg", "ids": [ids[1]]})
        wait_for(lambda: ids[1] not in self.emulator.registered(arn), 15,
                 what="terminating instance deregistered without waiting for the grace")
        self.assertIn(ids[2], self.emulator.registered(arn))


class IpTargetsFromInstances(InstanceScenario):
    def test_an_ip_binding_registers_private_addresses(self):
        arn = self.emulator.create_target_group("ec2-ip", port=8080, target_type="ip", protocol="HTTP")
        launched = self.launch(2, {"role": "api"})["instances"]
        self.launch(1, {"role": "web"})
        addresses = {i["privateIp"] for i in launched}
        self.write_manifest("api.yaml", instance_binding("ec2-ip", arn, ec2_source("role", ["api"]),
                                                         target_type="ip"))
        self.start_controller("--instance-poll-interval", POLL)
        wait_for(lambda: self.emulator.registered(arn) == addresses, 30, what="private addresses registered")


class EventsQueue(InstanceScenario):
    """The SQS fast path: polling every minute, events act within seconds."""

    def start_with_queue(self):
        queue = self.emulator.control("POST", "queues", {"name": "binder-events", "events": True,
                                                         "visibilityTimeout": 5})
        c = self.start_controller("--instance-poll-interval", "60s", "--events-queue-url", queue["url"])
        return queue, c

    def queue_counts(self, name="binder-events"):
        for q in self.emulator.control("GET", "queues")["queues"]:
            if q["name"] == name:
                return q
        raise AssertionError("no queue")

    def test_interruption_deregisters_within_five_seconds_and_launches_register_fast(self):
        self.emulator.control("POST", "settings", {"spotWarningSeconds": 30})
        arn = self.emulator.create_target_group("fleet-events", port=80, target_type="instance",
                                                protocol="HTTP", deregistration_delay=20)
        fleet = self.emulator.control("POST", "spot-fleets", {"targetCapacity": 3})
        self.write_manifest("fleet.yaml", instance_binding(
            "fleet-events", arn, fleet_source(fleet["id"]),
            policy={"deregistrationGracePeriod": "10m", "maxDeregistrationsPerSync": "100%"}))
        queue, c = self.start_with_queue()
        wait_for(lambda: self.emulator.registered(arn) == set(fleet["ids"]), 30, what="fleet registered")

        # A launch is registered well before the 60 s poll.
        launched_at = time.monotonic()
        added = self.emulator.control("POST", "spot-fleets/launch", {"id": fleet["id"], "count": 1})["ids"]
        wait_for(lambda: set(added) <= self.emulator.registered(arn), 10, interval=0.05,
                 what="launched instance registered from its event")
        print(f"MEASURE instances.launch_to_registered_with_queue {time.monotonic() - launched_at:.2f}s")

        victim = fleet["ids"][1]
        warned_at = time.monotonic()
        self.emulator.control("POST", "instances/interrupt", {"ids": [victim], "warningSeconds": 30})
        wait_for(lambda: victim not in self.emulator.registered(arn), 5, interval=0.05,
                 what="interrupted instance deregistered within 5 s")
        took = time.monotonic() - warned_at
        print(f"MEASURE instances.interruption_to_deregistered {took:.2f}s")
        self.assertEqual(self.emulator.registered(arn), (set(fleet["ids"]) | set(added)) - {victim})

        # Messages are deleted once handled; foreign and malformed ones are deleted too.
        self.emulator.control("POST", "queues/send", {"queue": queue["url"], "body": "not json {"})
        self.emulator.control("POST", "queues/send", {"queue": queue["url"],
                                                      "body": '{"source": "my.app", "detail-type": "Hello"}'})
        wait_for(lambda: self.queue_counts()["visible"] == 0 and self.queue_counts()["inFlight"] == 0, 15,
                 what="queue drained")
        wait_for(lambda: (c.metric("endpointbinder_event_queue_messages_total", outcome="malformed") or 0) >= 1,
                 5, what="malformed message counted")
        self.assertGreaterEqual(c.metric("endpointbinder_event_queue_messages_total", outcome="foreign") or 0, 1)
        self.assertGreaterEqual(c.metric("endpointbinder_event_queue_messages_total", outcome="deleted") or 0, 3)
        self.assertEqual(c.proc.poll(), None, "still running")


if __name__ == "__main__":
    unittest.main()
