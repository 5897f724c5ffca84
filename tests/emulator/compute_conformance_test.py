#!/usr/bin/python3
"""Conformance of the emulator's EC2, Auto Scaling and SQS APIs and of the EventBridge events
its control API emits, driven by boto3 (the official AWS SDK for Python), so every response
and error is parsed by botocore exactly as for real AWS: DescribeInstances filters (wildcards
as EC2 evaluates them), pagination and errors in EC2's own XML; Spot Fleet instances and
requests; Auto Scaling lifecycle states and hooks; SQS long polling that returns early,
visibility timeouts, batch deletes, dead-letter redrive, the JSON protocol; and the event
bodies delivered into queues.
Run: /usr/bin/python3 tests/emulator/compute_conformance_test.py
"""

import datetime
import http.client
import json
import os
import sys
import threading
import time
import unittest
import urllib.parse
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import botocore.exceptions  # noqa: E402
from botocore.auth import SigV4Auth  # noqa: E402
from botocore.awsrequest import AWSRequest  # noqa: E402
from botocore.credentials import Credentials  # noqa: E402

from awsemu.harness import AwsErrorAssertions, EmulatorProcess  # noqa: E402

REGION = "ap-northeast-1"
VPC = "vpc-0123456789abcdef0"
SUBNETS = ["subnet-0123456789abcdef1", "subnet-0123456789abcdef2", "subnet-0123456789abcdef3"]
EC2_NS = "{http://ec2.amazonaws.com/doc/2016-11-15/}"
ENVELOPE = ["version", "id", "detail-type", "source", "account", "time", "region",
            "resources", "detail"]


def signed(url, service, body, headers, path="/", region=REGION):
    """POSTs `body` signed with SigV4 for `service`; (status, headers, body)."""
    request = AWSRequest(method="POST", url=url + path, data=body, headers=dict(headers))
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    request.context["timestamp"] = stamp
    request.headers["X-Amz-Date"] = stamp
    signer = SigV4Auth(Credentials("test", "test"), service, region)
    canonical = signer.canonical_request(request)
    signature = signer.signature(signer.string_to_sign(request, canonical), request)
    names = signer.signed_headers(signer.headers_to_sign(request))
    request.headers["Authorization"] = (
        f"AWS4-HMAC-SHA256 Credential=test/{stamp[:8]}/{region}/{service}/aws4_request, "
        f"SignedHeaders={names}, Signature={signature}")
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        connection.request("POST", path, body=body, headers=dict(request.headers))
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def query(url, service, params, path="/"):
    return signed(url, service, urllib.parse.urlencode(params).encode(),
                  {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}, path)


EMULATOR = None


def setUpModule():
    global EMULATOR
    EMULATOR = EmulatorProcess("--region", REGION).start()


def tearDownModule():
    EMULATOR.stop()


class EmulatorTestCase(AwsErrorAssertions, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.emu = EMULATOR
        cls.ec2 = cls.emu.client("ec2", region=REGION)
        cls.asg = cls.emu.client("autoscaling", region=REGION)
        cls.sqs = cls.emu.client("sqs", region=REGION)

    def setUp(self):
        self.emu.reset()


    def launch(self, **body):
        return self.emu.post("/_emulator/instances/launch", body)["ids"]

    def wait_for(self, predicate, timeout=10.0):
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value or time.monotonic() > deadline:
                return value
            time.sleep(0.05)

    def ids(self, **kwargs):
        out = self.ec2.describe_instances(**kwargs)
        return [i["InstanceId"] for r in out["Reservations"] for i in r["Instances"]]

    def state(self, instance_id):
        out = self.ec2.describe_instances(InstanceIds=[instance_id])
        return out["Reservations"][0]["Instances"][0]["State"]["Name"]

    def events_queue(self, **extra):
        return self.emu.post("/_emulator/queues", {"name": "events", "events": True,
                                                   **extra})["url"]

    def drain(self, url, count, wait=5):
        """Receives (and deletes) until `count` bodies arrived or `wait` seconds passed."""
        bodies = []
        deadline = time.monotonic() + wait
        while len(bodies) < count and time.monotonic() < deadline:
            out = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                           WaitTimeSeconds=1)
            for message in out.get("Messages", []):
                bodies.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return bodies


class DescribeInstancesTest(EmulatorTestCase):
    def test_shape_states_and_reservations(self):
        ids = self.launch(count=2, instanceType="c5.large", subnetId=SUBNETS[1],
                          tags={"Name": "web", "team": "edge"})
        other = self.launch(instances=[{"privateIp": "10.0.200.9", "tags": {"Name": "db"}}])
        out = self.ec2.describe_instances()
        self.assertEqual([len(r["Instances"]) for r in out["Reservations"]], [2, 1])
        self.assertNotIn("NextToken", out)
        first = out["Reservations"][0]
        self.assertEqual(first["OwnerId"], "123456789012")
        self.assertTrue(first["ReservationId"].startswith("r-"))
        instance = first["Instances"][0]
        self.assertEqual(instance["InstanceId"], ids[0])
        self.assertRegex(instance["InstanceId"], r"^i-[0-9a-f]{17}$")
        self.assertEqual(instance["InstanceType"], "c5.large")
        self.assertEqual(instance["State"], {"Code": 16, "Name": "running"})
        self.assertEqual(instance["SubnetId"], SUBNETS[1])
        self.assertEqual(instance["VpcId"], VPC)
        self.assertEqual(instance["Placement"]["AvailabilityZone"], REGION + "b")
        self.assertTrue(instance["PrivateIpAddress"].startswith("10.0."))
        self.assertEqual({(t["Key"], t["Value"]) for t in instance["Tags"]},
                         {("Name", "web"), ("team", "edge")})
        ips = [i["PrivateIpAddress"] for r in out["Reservations"] for i in r["Instances"]]
        self.assertEqual(len(set(ips)), 3)
        self.assertIn("10.0.200.9", ips)
        self.assertEqual(out["Reservations"][1]["Instances"][0]["InstanceId"], other[0])
        # Stopped instances keep their address; terminated ones lose it.
        self.emu.post("/_emulator/instances/stop", {"ids": [ids[0]]})
        self.emu.post("/_emulator/instances/terminate", {"ids": [ids[1]]})
        described = {i["InstanceId"]: i for r in self.ec2.describe_instances()["Reservations"]
                     for i in r["Instances"]}
        self.assertEqual(described[ids[0]]["State"], {"Code": 80, "Name": "stopped"})
        self.assertIn("PrivateIpAddress", described[ids[0]])
        self.assertEqual(described[ids[1]]["State"], {"Code": 48, "Name": "terminated"})
        self.assertNotIn("PrivateIpAddress", described[ids[1]])
        self.assertEqual(described[ids[1]]["StateReason"]["Code"],
                         "Client.UserInitiatedShutdown")

    def test_transition_seconds_shows_pending(self):
        # Long transitions make the intermediate states observable without timing races;
        # short ones show the second step really happens later.
        slow, fast = self.launch(transitionSeconds=60), self.launch(transitionSeconds=0.2)
        self.assertEqual(self.state(slow[0]), "pending")
        self.assertTrue(self.wait_for(lambda: self.state(fast[0]) == "running"))
        self.emu.post("/_emulator/instances/terminate", {"ids": fast, "transitionSeconds": 60})
        self.assertEqual(self.state(fast[0]), "shutting-down")
        self.emu.post("/_emulator/instances/stop", {"ids": slow, "transitionSeconds": 0.2})
        self.assertTrue(self.wait_for(lambda: self.state(slow[0]) == "stopped"))

    def test_filters_and_wildcards(self):
        web = self.launch(count=2, tags={"Name": "web-1", "env": "prod"})
        batch = self.launch(count=1, instanceType="m5.xlarge", subnetId=SUBNETS[2],
                            tags={"Name": "batch*", "env": "dev"})
        bare = self.launch(count=1, instances=[{"privateIp": "10.0.64.77"}], az=REGION + "b")
        stopped = self.launch(count=1, tags={"Name": "web-2"})
        self.emu.post("/_emulator/instances/stop", {"ids": stopped})

        def ids(*filters):
            return set(self.ids(Filters=[{"Name": n, "Values": v} for n, v in filters]))
        self.assertEqual(ids(("tag:Name", ["web-*"])), set(web + stopped))
        self.assertEqual(ids(("tag:Name", ["w?b-1"])), set(web))
        self.assertEqual(ids(("tag:Name", ["web-?", "batch*"])), set(web + stopped + batch))
        self.assertEqual(ids(("tag:Name", ["batch\\*"])), set(batch))  # escaped: literal *
        self.assertEqual(ids(("tag:Name", ["WEB-*"])), set())  # case-sensitive
        self.assertEqual(ids(("tag:Name", ["web"])), set())  # whole value, not a prefix
        self.assertEqual(ids(("tag:name", ["*"])), set())  # keys are case-sensitive too
        self.assertEqual(ids(("tag-key", ["e?v"])), set(web + batch))
        self.assertEqual(ids(("tag-value", ["prod", "dev"])), set(web + batch))
        self.assertEqual(ids(("instance-type", ["m5.*"])), set(batch))
        self.assertEqual(ids(("subnet-id", [SUBNETS[2]])), set(batch))
        self.assertEqual(ids(("vpc-id", [VPC])), set(web + batch + bare + stopped))
        self.assertEqual(ids(("private-ip-address", ["10.0.64.7?"])), set(bare))
        self.assertEqual(ids(("availability-zone", [REGION + "b"])), set(bare))
        self.assertEqual(ids(("instance-id", [web[0]])), {web[0]})
        image = self.ec2.describe_instances(InstanceIds=[web[0]])["Reservations"][0]["Instances"][0]["ImageId"]
        self.assertEqual(ids(("image-id", [image])), set(web + batch + bare + stopped))
        self.assertEqual(ids(("image-id", ["ami-*0"])), set(web + batch + bare + stopped))
        self.assertEqual(ids(("image-id", ["ami-00000000000000000"])), set())
        self.assertEqual(ids(("instance-state-name", ["running"]), ("tag:Name", ["web-*"])),
                         set(web))  # filters AND
        self.assertEqual(ids(("instance-state-code", ["80"])), set(stopped))
        self.assertAwsError("InvalidParameterValue", 400, self.ec2.describe_instances,
                            Filters=[{"Name": "public-ip", "Values": ["1.2.3.4"]}],
                            message="The filter 'public-ip' is invalid")
        self.assertAwsError("FilterLimitExceeded", 400, self.ec2.describe_instances,
                            Filters=[{"Name": "tag:Name", "Values": ["x"] * 201}])

    def test_regions_are_separate(self):
        mine = self.launch(count=1)
        self.launch(count=1, region="eu-west-1")
        self.assertEqual(self.ids(), mine)
        other = self.emu.client("ec2", region="eu-west-1")
        out = other.describe_instances()
        self.assertEqual(out["Reservations"][0]["Instances"][0]["Placement"]
                         ["AvailabilityZone"], "eu-west-1a")

    def test_pagination(self):
        launched = []
        for _ in range(3):  # three reservations of four
            launched += self.launch(count=4)
        pages = []
        token = None
        while True:
            kwargs = {"MaxResults": 5}
            if token:
                kwargs["NextToken"] = token
            out = self.ec2.describe_instances(**kwargs)
            pages.append([i["InstanceId"] for r in out["Reservations"] for i in r["Instances"]])
            token = out.get("NextToken")
            if not token:
                break
        self.assertEqual([len(p) for p in pages], [5, 5, 2])
        self.assertEqual(sum(pages, []), launched)
        # A page splits a reservation: its instances appear under the same id in both pages.
        first = self.ec2.describe_instances(MaxResults=5)
        self.assertEqual([len(r["Instances"]) for r in first["Reservations"]], [4, 1])
        paginator = self.ec2.get_paginator("describe_instances")
        seen = [i["InstanceId"] for page in paginator.paginate(
            Filters=[{"Name": "instance-state-name", "Values": ["running"]}],
            PaginationConfig={"PageSize": 5}) for r in page["Reservations"]
            for i in r["Instances"]]
        self.assertEqual(seen, launched)
        self.assertEqual(self.ids(), launched)  # no MaxResults: everything at once
        self.assertAwsError("InvalidParameterValue", 400, self.ec2.describe_instances,
                            MaxResults=4, message="Value ( 4 ) for parameter maxResults is "
                                                  "invalid. Expecting a value greater than 5.")
        self.assertAwsError("InvalidParameterValue", 400, self.ec2.describe_instances,
                            MaxResults=1001)
        self.assertAwsError("InvalidParameterCombination", 400, self.ec2.describe_instances,
                            InstanceIds=launched[:1], MaxResults=5,
                            message="The parameter instancesSet cannot be used with the "
                                    "parameter maxResults")
        self.assertAwsError("InvalidPaginationToken", 400, self.ec2.describe_instances,
                            MaxResults=5, NextToken="garbage")

    def test_instance_id_errors(self):
        [instance] = self.launch()
        self.assertEqual(self.ids(InstanceIds=[instance]), [instance])
        self.assertAwsError("InvalidInstanceID.NotFound", 400, self.ec2.describe_instances,
                            InstanceIds=[instance, "i-0123456789abcdef0"],
                            message="The instance ID 'i-0123456789abcdef0' does not exist")
        self.assertAwsError("InvalidInstanceID.NotFound", 400, self.ec2.describe_instances,
                            InstanceIds=["i-0123456789abcdef0", "i-0123456789abcdef1"],
                            message="The instance IDs 'i-0123456789abcdef0, "
                                    "i-0123456789abcdef1' do not exist")
        self.assertAwsError("InvalidInstanceID.Malformed", 400, self.ec2.describe_instances,
                            InstanceIds=["web-1"], message='Invalid id: "web-1"')
        self.assertAwsError("DryRunOperation", 412, self.ec2.describe_instances, DryRun=True)

    def test_raw_xml_errors_throttling_and_faults(self):
        self.launch(tags={"Name": "web"})
        status, _, body = query(self.emu.url, "ec2", {
            "Action": "DescribeInstances", "Version": "2016-11-15",
            "Filter.1.Name": "tag:Name", "Filter.1.Value.1": "w*"})
        self.assertEqual(status, 200, body)
        root = ET.fromstring(body)
        self.assertEqual(root.tag, EC2_NS + "DescribeInstancesResponse")
        self.assertTrue(root.find(EC2_NS + "requestId").text)
        item = root.find(f"{EC2_NS}reservationSet/{EC2_NS}item/{EC2_NS}instancesSet/"
                         f"{EC2_NS}item")
        self.assertEqual(item.find(f"{EC2_NS}instanceState/{EC2_NS}name").text, "running")
        self.assertEqual(item.find(f"{EC2_NS}tagSet/{EC2_NS}item/{EC2_NS}key").text, "Name")
        self.assertIsNotNone(item.find(f"{EC2_NS}placement/{EC2_NS}availabilityZone"))
        status, _, body = query(self.emu.url, "ec2", {
            "Action": "DescribeInstances", "Version": "2016-11-15", "InstanceId.1": "bad"})
        self.assertEqual(status, 400)
        root = ET.fromstring(body)
        self.assertEqual(root.tag, "Response")
        self.assertEqual(root.find("Errors/Error/Code").text, "InvalidInstanceID.Malformed")
        self.assertTrue(root.find("RequestID").text)
        status, _, body = query(self.emu.url, "ec2", {"Action": "DescribeSpotFleetInstances",
                                                      "Version": "2016-11-15"})
        self.assertEqual(status, 400)
        self.assertIn(b"<Code>MissingParameter</Code>", body)
        self.assertIn(b"SpotFleetRequestId", body)
        # Throttling as EC2 words it, in its own bucket per action.
        self.emu.post("/_emulator/quotas", {"ec2:DescribeInstances": {"rate": 0.01,
                                                                      "burst": 1}})
        self.ec2.describe_instances()
        self.assertAwsError("RequestLimitExceeded", 503, self.ec2.describe_instances,
                            message="Request limit exceeded.")
        self.emu.post("/_emulator/quotas", {"ec2:DescribeInstances": None})
        # Fault rules select EC2 by service.
        self.emu.post("/_emulator/faults", {"service": "ec2", "action": "Describe*",
                                            "errorRate": 1, "remaining": 1})
        self.assertAwsError("Unavailable", 503, self.ec2.describe_instances)
        self.emu.post("/_emulator/faults", {"service": "ec2", "throttleRate": 1,
                                            "remaining": 1})
        self.assertAwsError("RequestLimitExceeded", 503, self.ec2.describe_instances)
        self.ec2.describe_instances()
        counts = self.emu.get("/_emulator/requests")["counts"]["DescribeInstances"]
        self.assertEqual(counts["throttled"], 2)
        log = self.emu.get("/_emulator/requests?action=DescribeInstances")["requests"]
        self.assertEqual({e["service"] for e in log}, {"ec2"})


class SpotFleetTest(EmulatorTestCase):
    def test_fleet_instances_pagination_and_states(self):
        fleet = self.emu.post("/_emulator/spot-fleets", {"targetCapacity": 3,
                                                         "instanceType": "c5.large",
                                                         "tags": {"app": "iot"}})
        self.assertRegex(fleet["id"], r"^sfr-[0-9a-f-]{36}$")
        out = self.ec2.describe_spot_fleet_instances(SpotFleetRequestId=fleet["id"])
        self.assertEqual(out["SpotFleetRequestId"], fleet["id"])
        self.assertEqual([a["InstanceId"] for a in out["ActiveInstances"]], fleet["ids"])
        active = out["ActiveInstances"][0]
        self.assertEqual(active["InstanceType"], "c5.large")
        self.assertRegex(active["SpotInstanceRequestId"], r"^sir-[0-9a-f]{8}$")
        self.assertEqual(active["InstanceHealth"], "healthy")
        pages = []
        token = None
        while True:
            kwargs = {"SpotFleetRequestId": fleet["id"], "MaxResults": 2}
            if token:
                kwargs["NextToken"] = token
            out = self.ec2.describe_spot_fleet_instances(**kwargs)
            pages.append([a["InstanceId"] for a in out["ActiveInstances"]])
            token = out.get("NextToken")
            if not token:
                break
        self.assertEqual(pages, [fleet["ids"][:2], fleet["ids"][2:]])
        described = self.ec2.describe_instances(InstanceIds=fleet["ids"][:1])
        instance = described["Reservations"][0]["Instances"][0]
        self.assertEqual(instance["InstanceLifecycle"], "spot")
        self.assertIn({"Key": "aws:ec2spot:fleet-request-id", "Value": fleet["id"]},
                      instance["Tags"])
        # A terminated instance leaves the active set.
        self.emu.post("/_emulator/instances/terminate", {"ids": fleet["ids"][:1]})
        out = self.ec2.describe_spot_fleet_instances(SpotFleetRequestId=fleet["id"])
        self.assertEqual([a["InstanceId"] for a in out["ActiveInstances"]], fleet["ids"][1:])
        config = self.ec2.describe_spot_fleet_requests(
            SpotFleetRequestIds=[fleet["id"]])["SpotFleetRequestConfigs"][0]
        self.assertEqual(config["SpotFleetRequestState"], "active")
        self.assertEqual(config["SpotFleetRequestConfig"]["TargetCapacity"], 3)
        # Cancelled with termination: cancelled_terminating while instances shut down, then
        # cancelled, with no instances either way.
        quick = self.emu.post("/_emulator/spot-fleets", {"targetCapacity": 1})["id"]
        self.emu.post("/_emulator/spot-fleets/cancel", {"id": fleet["id"],
                                                        "transitionSeconds": 60})
        self.emu.post("/_emulator/spot-fleets/cancel", {"id": quick})

        def fleet_state(fleet_id):
            return self.ec2.describe_spot_fleet_requests(SpotFleetRequestIds=[fleet_id])[
                "SpotFleetRequestConfigs"][0]["SpotFleetRequestState"]
        self.assertEqual(fleet_state(fleet["id"]), "cancelled_terminating")
        self.assertEqual(fleet_state(quick), "cancelled")
        for fleet_id in (fleet["id"], quick):
            self.assertEqual(self.ec2.describe_spot_fleet_instances(
                SpotFleetRequestId=fleet_id)["ActiveInstances"], [])

    def test_cancelled_running_missing_and_deleted(self):
        fleet = self.emu.post("/_emulator/spot-fleets", {"targetCapacity": 1})
        self.emu.post("/_emulator/spot-fleets/cancel", {"id": fleet["id"],
                                                        "terminateInstances": False})
        configs = self.ec2.describe_spot_fleet_requests()["SpotFleetRequestConfigs"]
        self.assertEqual([c["SpotFleetRequestState"] for c in configs], ["cancelled_running"])
        self.assertEqual(len(self.ec2.describe_spot_fleet_instances(
            SpotFleetRequestId=fleet["id"])["ActiveInstances"]), 1)
        self.emu.post("/_emulator/spot-fleets/delete", {"id": fleet["id"]})
        for call, kwargs in ((self.ec2.describe_spot_fleet_instances,
                              {"SpotFleetRequestId": fleet["id"]}),
                             (self.ec2.describe_spot_fleet_requests,
                              {"SpotFleetRequestIds": [fleet["id"]]})):
            self.assertAwsError("InvalidSpotFleetRequestId.NotFound", 400, call,
                                message=f"The spot fleet request ID '{fleet['id']}' does not "
                                        "exist", **kwargs)
        self.assertAwsError("InvalidParameterValue", 400,
                            self.ec2.describe_spot_fleet_instances,
                            SpotFleetRequestId=fleet["id"], MaxResults=1001)


class AutoScalingTest(EmulatorTestCase):
    HOOKS = [{"name": "warm-up", "transition": "autoscaling:EC2_INSTANCE_LAUNCHING",
              "heartbeatTimeout": 300, "defaultResult": "CONTINUE"},
             {"name": "drain", "transition": "autoscaling:EC2_INSTANCE_TERMINATING",
              "heartbeatTimeout": 300, "notificationMetadata": "binder"}]

    def members(self, name="web"):
        group = self.asg.describe_auto_scaling_groups(
            AutoScalingGroupNames=[name])["AutoScalingGroups"][0]
        return {i["InstanceId"]: (i["LifecycleState"], i["HealthStatus"])
                for i in group["Instances"]}

    def test_lifecycle_states_hooks_and_events(self):
        url = self.events_queue(events={"sources": ["aws.autoscaling"]})
        group = self.emu.post("/_emulator/autoscaling-groups", {
            "name": "web", "desiredCapacity": 2, "subnetIds": SUBNETS[:2],
            "lifecycleHooks": self.HOOKS})
        self.assertRegex(group["arn"], r"^arn:aws:autoscaling:ap-northeast-1:123456789012:"
                                       r"autoScalingGroup:[0-9a-f-]{36}:"
                                       r"autoScalingGroupName/web$")
        first, second = group["ids"]
        self.assertEqual(self.members(), {first: ("Pending:Wait", "Healthy"),
                                          second: ("Pending:Wait", "Healthy")})
        launch_actions = self.drain(url, 2)
        self.assertEqual([e["detail-type"] for e in launch_actions],
                         ["EC2 Instance-launch Lifecycle Action"] * 2)
        action = launch_actions[0]
        self.assertEqual(list(action), ENVELOPE)
        self.assertEqual(action["source"], "aws.autoscaling")
        self.assertEqual(action["resources"], [group["arn"]])
        self.assertEqual(action["detail"]["LifecycleTransition"],
                         "autoscaling:EC2_INSTANCE_LAUNCHING")
        self.assertEqual(action["detail"]["LifecycleHookName"], "warm-up")
        self.assertEqual(action["detail"]["AutoScalingGroupName"], "web")
        self.assertEqual((action["detail"]["Origin"], action["detail"]["Destination"]),
                         ("EC2", "AutoScalingGroup"))
        # Complete one by token, one by instance id: both go in service.
        self.asg.complete_lifecycle_action(
            AutoScalingGroupName="web", LifecycleHookName="warm-up",
            LifecycleActionToken=action["detail"]["LifecycleActionToken"],
            LifecycleActionResult="CONTINUE")
        self.asg.complete_lifecycle_action(
            AutoScalingGroupName="web", LifecycleHookName="warm-up",
            InstanceId=launch_actions[1]["detail"]["EC2InstanceId"],
            LifecycleActionResult="CONTINUE")
        self.assertEqual(self.members(), {first: ("InService", "Healthy"),
                                          second: ("InService", "Healthy")})
        successes = self.drain(url, 2)
        self.assertEqual([e["detail-type"] for e in successes],
                         ["EC2 Instance Launch Successful"] * 2)
        detail = successes[0]["detail"]
        self.assertEqual(detail["StatusCode"], "InProgress")
        self.assertEqual(detail["Description"],
                         f"Launching a new EC2 instance: {detail['EC2InstanceId']}")
        self.assertEqual(set(detail["Details"]), {"Availability Zone", "Subnet ID"})
        self.assertEqual(successes[0]["resources"][0], group["arn"])
        self.assertTrue(successes[0]["resources"][1].endswith(detail["EC2InstanceId"]))
        self.assertAwsError("ValidationError", 400, self.asg.complete_lifecycle_action,
                            AutoScalingGroupName="web", LifecycleHookName="warm-up",
                            InstanceId=first, LifecycleActionResult="CONTINUE",
                            message=f"No active Lifecycle Action found with instance ID "
                                    f"{first}")
        # Standby and scale-in.
        self.emu.post("/_emulator/autoscaling-groups/set-state",
                      {"name": "web", "ids": [second], "lifecycleState": "Standby"})
        self.emu.post("/_emulator/autoscaling-groups/terminate", {"name": "web",
                                                                  "ids": [first]})
        self.assertEqual(self.members(), {first: ("Terminating:Wait", "Healthy"),
                                          second: ("Standby", "Healthy")})
        [terminate] = self.drain(url, 1)
        self.assertEqual(terminate["detail-type"], "EC2 Instance-terminate Lifecycle Action")
        self.assertEqual(terminate["detail"]["NotificationMetadata"], "binder")
        self.assertEqual((terminate["detail"]["Origin"], terminate["detail"]["Destination"]),
                         ("AutoScalingGroup", "EC2"))
        self.asg.complete_lifecycle_action(
            AutoScalingGroupName="web", LifecycleHookName="drain",
            LifecycleActionToken=terminate["detail"]["LifecycleActionToken"],
            LifecycleActionResult="CONTINUE")
        self.assertEqual(self.members(), {second: ("Standby", "Healthy")})
        self.assertEqual(self.state(first), "terminated")
        [gone] = self.drain(url, 1)
        self.assertEqual(gone["detail-type"], "EC2 Instance Terminate Successful")
        self.assertEqual(gone["detail"]["Description"], f"Terminating EC2 instance: {first}")
        hooks = self.asg.describe_lifecycle_hooks(AutoScalingGroupName="web")["LifecycleHooks"]
        self.assertEqual([h["LifecycleHookName"] for h in hooks], ["warm-up", "drain"])

    def test_heartbeat_timeout_and_ec2_termination(self):
        self.emu.post("/_emulator/autoscaling-groups", {
            "name": "web", "desiredCapacity": 2,
            "lifecycleHooks": [{"name": "warm-up",
                                "transition": "autoscaling:EC2_INSTANCE_LAUNCHING",
                                "heartbeatTimeout": 0.3, "defaultResult": "CONTINUE"}]})
        first, second = self.members()
        waits = self.emu.get("/_emulator/events?detailType=" + urllib.parse.quote(
            "EC2 Instance-launch Lifecycle Action"))["events"]
        self.assertEqual(len(waits), 2)  # they waited...
        self.assertTrue(self.wait_for(lambda: set(self.members().values()) ==
                                      {("InService", "Healthy")}))  # ...until the timeout
        # EC2 terminating a member on its own: Unhealthy, Terminating, then gone.
        self.emu.post("/_emulator/instances/terminate", {"ids": [first],
                                                         "transitionSeconds": 60})
        self.emu.post("/_emulator/instances/terminate", {"ids": [second]})
        self.assertEqual(self.members(), {first: ("Terminating", "Unhealthy")})

    def test_pagination_names_and_errors(self):
        for name in ("a", "b", "c"):
            self.emu.post("/_emulator/autoscaling-groups", {"name": name})
        # Launching straight into service skips Pending (and hooks).
        [ready] = self.emu.post("/_emulator/autoscaling-groups/launch", {
            "name": "a", "count": 1, "lifecycleState": "InService"})["ids"]
        self.assertEqual(self.members("a"), {ready: ("InService", "Healthy")})
        self.emu.post("/_emulator/autoscaling-groups", {"name": "elsewhere",
                                                        "region": "eu-west-1"})
        first = self.asg.describe_auto_scaling_groups(MaxRecords=2)
        self.assertEqual([g["AutoScalingGroupName"] for g in first["AutoScalingGroups"]],
                         ["a", "b"])
        second = self.asg.describe_auto_scaling_groups(MaxRecords=2,
                                                       NextToken=first["NextToken"])
        self.assertEqual([g["AutoScalingGroupName"] for g in second["AutoScalingGroups"]],
                         ["c"])
        self.assertNotIn("NextToken", second)
        named = self.asg.describe_auto_scaling_groups(AutoScalingGroupNames=["c", "nope"])
        self.assertEqual([g["AutoScalingGroupName"] for g in named["AutoScalingGroups"]],
                         ["c"])
        self.assertAwsError("ValidationError", 400, self.asg.describe_auto_scaling_groups,
                            MaxRecords=101)
        self.assertAwsError("InvalidNextToken", 400, self.asg.describe_auto_scaling_groups,
                            NextToken="garbage")
        status, _, body = query(self.emu.url, "autoscaling", {
            "Action": "DescribeAutoScalingGroups", "Version": "2011-01-01",
            "MaxRecords": "101"})
        root = ET.fromstring(body)
        ns = "{http://autoscaling.amazonaws.com/doc/2011-01-01/}"
        self.assertEqual((status, root.tag), (400, ns + "ErrorResponse"))
        self.assertEqual(root.find(f"{ns}Error/{ns}Type").text, "Sender")
        self.emu.post("/_emulator/quotas", {"autoscaling:DescribeAutoScalingGroups":
                                            {"rate": 0.01, "burst": 1}})
        self.asg.describe_auto_scaling_groups()
        self.assertAwsError("Throttling", 400, self.asg.describe_auto_scaling_groups,
                            message="Rate exceeded")


class SqsTest(EmulatorTestCase):
    def queue(self, name="work", **attributes):
        return self.emu.post("/_emulator/queues", {"name": name, **attributes})["url"]

    def test_receive_delete_and_attributes(self):
        url = self.queue()
        self.assertEqual(url, f"{self.emu.url}/123456789012/work")
        self.assertEqual(self.sqs.get_queue_url(QueueName="work")["QueueUrl"], url)
        sent = self.sqs.send_message(QueueUrl=url, MessageBody="hello")
        out = self.sqs.receive_message(QueueUrl=url, AttributeNames=["All"])
        [message] = out["Messages"]
        self.assertEqual(message["MessageId"], sent["MessageId"])
        self.assertEqual(message["Body"], "hello")
        self.assertEqual(message["MD5OfBody"], "5d41402abc4b2a76b9719d911017c592")
        self.assertEqual(message["Attributes"]["ApproximateReceiveCount"], "1")
        self.assertEqual(set(message["Attributes"]),
                         {"SenderId", "SentTimestamp", "ApproximateReceiveCount",
                          "ApproximateFirstReceiveTimestamp"})
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["All"])["Attributes"]
        self.assertEqual((attributes["ApproximateNumberOfMessages"],
                          attributes["ApproximateNumberOfMessagesNotVisible"]), ("0", "1"))
        self.assertEqual(attributes["QueueArn"],
                         "arn:aws:sqs:ap-northeast-1:123456789012:work")
        self.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        self.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])  # again
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"])
        self.assertEqual(attributes["Attributes"],
                         {"ApproximateNumberOfMessagesNotVisible": "0"})
        self.assertEqual(self.sqs.receive_message(QueueUrl=url).get("Messages"), None)

    def test_long_poll_returns_early_when_a_message_arrives(self):
        url = self.queue()
        sender = threading.Timer(0.3, lambda: self.emu.post("/_emulator/queues/send", {
            "queue": "work", "body": "late"}))
        started = time.monotonic()
        sender.start()
        try:
            out = self.sqs.receive_message(QueueUrl=url, WaitTimeSeconds=20)
        finally:
            sender.cancel()
        elapsed = time.monotonic() - started
        self.assertEqual([m["Body"] for m in out["Messages"]], ["late"])
        self.assertGreaterEqual(elapsed, 0.25)
        self.assertLess(elapsed, 15)  # far below the 20 s it would otherwise take
        # With nothing to receive, the poll really waits.
        started = time.monotonic()
        self.assertNotIn("Messages", self.sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1))
        self.assertGreaterEqual(time.monotonic() - started, 0.95)

    def test_visibility_timeout_reappearance_and_stale_handles(self):
        url = self.queue(visibilityTimeout=30)
        self.sqs.send_message(QueueUrl=url, MessageBody="job")
        first = self.sqs.receive_message(QueueUrl=url, VisibilityTimeout=1)["Messages"][0]
        self.assertNotIn("Messages", self.sqs.receive_message(QueueUrl=url))
        started = time.monotonic()
        again = self.sqs.receive_message(QueueUrl=url, WaitTimeSeconds=5,
                                         AttributeNames=["ApproximateReceiveCount"])
        self.assertLess(time.monotonic() - started, 4.5)  # woke when it became visible
        second = again["Messages"][0]
        self.assertEqual(second["MessageId"], first["MessageId"])
        self.assertNotEqual(second["ReceiptHandle"], first["ReceiptHandle"])
        self.assertEqual(second["Attributes"]["ApproximateReceiveCount"], "2")
        self.sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=second["ReceiptHandle"],
                                           VisibilityTimeout=0)
        third = self.sqs.receive_message(QueueUrl=url)["Messages"][0]
        self.assertEqual(third["MessageId"], first["MessageId"])
        # A stale handle AWS issued still deletes the message; a forged one is refused.
        self.sqs.delete_message(QueueUrl=url, ReceiptHandle=first["ReceiptHandle"])
        self.assertAwsError("InvalidParameterValue", 400, self.sqs.change_message_visibility,
                            QueueUrl=url, ReceiptHandle=third["ReceiptHandle"],
                            VisibilityTimeout=10)
        self.assertAwsError("ReceiptHandleIsInvalid", 400, self.sqs.delete_message,
                            QueueUrl=url, ReceiptHandle="forged",
                            message='The input receipt handle "forged" is not a valid receipt '
                                    'handle.')

    def test_delete_batch_and_errors(self):
        url = self.queue()
        for n in range(3):
            self.sqs.send_message(QueueUrl=url, MessageBody=f"m{n}")
        messages = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
        self.assertEqual([m["Body"] for m in messages], ["m0", "m1", "m2"])
        out = self.sqs.delete_message_batch(QueueUrl=url, Entries=[
            {"Id": "a", "ReceiptHandle": messages[0]["ReceiptHandle"]},
            {"Id": "b", "ReceiptHandle": "forged"},
            {"Id": "c", "ReceiptHandle": messages[2]["ReceiptHandle"]}])
        self.assertEqual([e["Id"] for e in out["Successful"]], ["a", "c"])
        self.assertEqual([(e["Id"], e["Code"], e["SenderFault"]) for e in out["Failed"]],
                         [("b", "ReceiptHandleIsInvalid", True)])
        entries = [{"Id": f"e{n}", "ReceiptHandle": "x"} for n in range(11)]
        self.assertAwsError("AWS.SimpleQueueService.TooManyEntriesInBatchRequest", 400,
                            self.sqs.delete_message_batch, QueueUrl=url, Entries=entries)
        self.assertAwsError("AWS.SimpleQueueService.BatchEntryIdsNotDistinct", 400,
                            self.sqs.delete_message_batch, QueueUrl=url,
                            Entries=[{"Id": "a", "ReceiptHandle": "x"}] * 2)
        self.assertAwsError("InvalidParameterValue", 400, self.sqs.receive_message,
                            QueueUrl=url, MaxNumberOfMessages=11,
                            message="Value 11 for parameter MaxNumberOfMessages is invalid. "
                                    "Reason: Must be between 1 and 10, if provided.")
        self.assertAwsError("InvalidParameterValue", 400, self.sqs.receive_message,
                            QueueUrl=url, WaitTimeSeconds=21,
                            message="Value 21 for parameter WaitTimeSeconds is invalid. "
                                    "Reason: Must be >= 0 and <= 20, if provided.")
        missing = url.replace("/work", "/nope")
        self.assertAwsError("AWS.SimpleQueueService.NonExistentQueue", 400,
                            self.sqs.receive_message, QueueUrl=missing,
                            message="The specified queue does not exist for this wsdl "
                                    "version.")
        self.assertAwsError("AWS.SimpleQueueService.NonExistentQueue", 400,
                            self.sqs.get_queue_url, QueueName="nope")

    def test_dead_letter_redrive(self):
        self.queue("dlq")
        url = self.queue(deadLetter={"queue": "dlq", "maxReceiveCount": 2})
        self.sqs.send_message(QueueUrl=url, MessageBody="poison")
        for _ in range(2):
            message = self.sqs.receive_message(QueueUrl=url)["Messages"][0]
            self.sqs.change_message_visibility(QueueUrl=url,
                                               ReceiptHandle=message["ReceiptHandle"],
                                               VisibilityTimeout=0)
        self.assertNotIn("Messages", self.sqs.receive_message(QueueUrl=url))
        dlq = self.sqs.get_queue_url(QueueName="dlq")["QueueUrl"]
        self.assertEqual([m["Body"] for m in self.sqs.receive_message(QueueUrl=dlq)
                          ["Messages"]], ["poison"])
        policy = json.loads(self.sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["RedrivePolicy"])["Attributes"]["RedrivePolicy"])
        self.assertEqual(policy, {"deadLetterTargetArn":
                                  "arn:aws:sqs:ap-northeast-1:123456789012:dlq",
                                  "maxReceiveCount": 2})

    def test_request_to_queue_url_path_and_xml(self):
        url = self.queue()
        self.sqs.send_message(QueueUrl=url, MessageBody="by-path")
        path = urllib.parse.urlsplit(url).path
        status, _, body = query(self.emu.url, "sqs", {
            "Action": "ReceiveMessage", "Version": "2012-11-05",
            "AttributeName.1": "All"}, path=path)
        self.assertEqual(status, 200, body)
        ns = "{http://queue.amazonaws.com/doc/2012-11-05/}"
        root = ET.fromstring(body)
        message = root.find(f"{ns}ReceiveMessageResult/{ns}Message")
        self.assertEqual(message.find(f"{ns}Body").text, "by-path")
        names = [a.find(f"{ns}Name").text for a in message.findall(f"{ns}Attribute")]
        self.assertIn("ApproximateReceiveCount", names)
        status, _, body = query(self.emu.url, "sqs", {
            "Action": "ReceiveMessage", "Version": "2012-11-05"},
            path="/123456789012/missing")
        root = ET.fromstring(body)
        self.assertEqual((status, root.find(f"{ns}Error/{ns}Code").text),
                         (400, "AWS.SimpleQueueService.NonExistentQueue"))

    def test_json_protocol(self):
        url = self.queue()
        self.emu.post("/_emulator/queues/send", {"queue": url, "body": {"not": "an event"}})

        def call(action, payload):
            status, headers, body = signed(
                self.emu.url, "sqs", json.dumps(payload).encode(),
                {"Content-Type": "application/x-amz-json-1.0",
                 "X-Amz-Target": f"AmazonSQS.{action}"})
            return status, {k.lower(): v for k, v in headers.items()}, json.loads(body)
        status, headers, out = call("ReceiveMessage", {
            "QueueUrl": url, "MaxNumberOfMessages": 5, "WaitTimeSeconds": 1,
            "MessageSystemAttributeNames": ["ApproximateReceiveCount"]})
        self.assertEqual(status, 200, out)
        self.assertEqual(headers["content-type"], "application/x-amz-json-1.0")
        [message] = out["Messages"]
        self.assertEqual(json.loads(message["Body"]), {"not": "an event"})
        self.assertEqual(message["Attributes"], {"ApproximateReceiveCount": "1"})
        status, _, out = call("DeleteMessage", {"QueueUrl": url,
                                                "ReceiptHandle": message["ReceiptHandle"]})
        self.assertEqual((status, out), (200, {}))
        status, headers, out = call("ReceiveMessage", {"QueueUrl": url + "-missing"})
        self.assertEqual(status, 400)
        self.assertEqual(out["__type"], "com.amazonaws.sqs#QueueDoesNotExist")
        self.assertEqual(headers["x-amzn-query-error"],
                         "AWS.SimpleQueueService.NonExistentQueue;Sender")
        log = self.emu.get("/_emulator/requests?action=ReceiveMessage")["requests"]
        self.assertEqual([e["errorCode"] for e in log][-1],
                         "AWS.SimpleQueueService.NonExistentQueue")


class EventsTest(EmulatorTestCase):
    def test_state_change_events_in_order(self):
        url = self.events_queue()
        [instance] = self.launch()
        self.emu.post("/_emulator/instances/stop", {"ids": [instance]})
        self.emu.post("/_emulator/instances/start", {"ids": [instance]})
        self.emu.post("/_emulator/instances/terminate", {"ids": [instance]})
        bodies = self.drain(url, 8)
        self.assertEqual([(b["detail"]["instance-id"], b["detail"]["state"]) for b in bodies],
                         [(instance, s) for s in ("pending", "running", "stopping", "stopped",
                                                  "pending", "running", "shutting-down",
                                                  "terminated")])
        event = bodies[0]
        self.assertEqual(list(event), ENVELOPE)
        self.assertEqual((event["version"], event["source"], event["detail-type"],
                          event["account"], event["region"]),
                         ("0", "aws.ec2", "EC2 Instance State-change Notification",
                          "123456789012", REGION))
        self.assertEqual(event["resources"],
                         [f"arn:aws:ec2:{REGION}:123456789012:instance/{instance}"])
        self.assertRegex(event["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertEqual(len({b["id"] for b in bodies}), 8)
        listed = self.emu.get("/_emulator/events")
        self.assertEqual(len(listed["events"]), 8)
        self.assertEqual(listed["events"][0]["queues"], ["events"])

    def test_spot_interruption_and_rebalance(self):
        url = self.events_queue()
        fleet = self.emu.post("/_emulator/spot-fleets", {"targetCapacity": 2})
        self.drain(url, 4)  # pending and running of both
        victim, survivor = fleet["ids"]
        self.emu.post("/_emulator/instances/interrupt", {"ids": [victim], "warningSeconds": 2,
                                                         "rebalance": True})
        rebalance, warning = self.drain(url, 2)
        self.assertEqual(rebalance["detail-type"], "EC2 Instance Rebalance Recommendation")
        self.assertEqual(rebalance["detail"], {"instance-id": victim})
        self.assertEqual(warning["detail-type"], "EC2 Spot Instance Interruption Warning")
        self.assertEqual(warning["detail"], {"instance-id": victim,
                                             "instance-action": "terminate"})
        self.assertEqual(list(warning), ENVELOPE)
        self.assertEqual(self.state(victim), "running")  # the warning comes first
        states = [b["detail"]["state"] for b in self.drain(url, 2)]
        self.assertEqual(states, ["shutting-down", "terminated"])
        self.assertEqual([a["InstanceId"] for a in self.ec2.describe_spot_fleet_instances(
            SpotFleetRequestId=fleet["id"])["ActiveInstances"]], [survivor])
        self.emu.post("/_emulator/instances/rebalance", {"ids": [survivor]})
        [only] = self.drain(url, 1)
        self.assertEqual(only["detail-type"], "EC2 Instance Rebalance Recommendation")
        # `replace` launches a replacement into the fleet once the warning has run out.
        self.emu.post("/_emulator/instances/interrupt", {"ids": [survivor], "warningSeconds": 0,
                                                         "replace": True})
        active = [a["InstanceId"] for a in self.ec2.describe_spot_fleet_instances(
            SpotFleetRequestId=fleet["id"])["ActiveInstances"]]
        self.assertEqual(len(active), 1)
        self.assertNotIn(survivor, active)

    def test_event_rules_filter_and_foreign_messages(self):
        url = self.emu.post("/_emulator/queues", {
            "name": "spot", "events": {"detailTypes": [
                "EC2 Spot Instance Interruption Warning"]}})["url"]
        [instance] = self.launch()
        self.emu.post("/_emulator/instances/interrupt", {"ids": [instance],
                                                         "warningSeconds": 60})
        self.emu.post("/_emulator/queues/send", {"queue": "spot", "body": "not json {"})
        out = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
        self.assertEqual(len(out), 2)
        self.assertEqual(json.loads(out[0]["Body"])["detail-type"],
                         "EC2 Spot Instance Interruption Warning")
        self.assertEqual(out[1]["Body"], "not json {")
        with self.assertRaises(Exception):
            self.emu.post("/_emulator/queues", {"name": "bad", "events": {
                "detailTypes": ["EC2 Something Else"]}})


class ControlTest(EmulatorTestCase):
    def status(self, path, body):
        return self.emu.call("POST", path, body)[0]

    def test_errors_say_what(self):
        self.assertEqual(self.status("/_emulator/instances/launch",
                                     {"subnetId": "subnet-0000000000000000f"}), 400)
        self.assertEqual(self.status("/_emulator/instances/launch", {"colour": "red"}), 400)
        self.assertEqual(self.status("/_emulator/instances/stop",
                                     {"ids": ["i-0123456789abcdef0"]}), 404)
        [instance] = self.launch(instances=[{"id": "i-0123456789abcdef0"}])
        self.assertEqual(self.status("/_emulator/instances/launch",
                                     {"instances": [{"id": instance}]}), 409)
        self.emu.post("/_emulator/instances/terminate", {"ids": [instance]})
        self.assertEqual(self.status("/_emulator/instances/start", {"ids": [instance]}), 409)
        self.assertEqual(self.status("/_emulator/spot-fleets", {"id": "sfr-1"}), 400)
        self.assertEqual(self.status("/_emulator/spot-fleets/cancel", {"id": "sfr-x"}), 404)
        self.emu.post("/_emulator/queues", {"name": "q"})
        self.assertEqual(self.status("/_emulator/queues", {"name": "q"}), 409)
        self.assertEqual(self.status("/_emulator/queues", {"name": "bad name"}), 400)
        self.assertEqual(self.status("/_emulator/queues/send", {"queue": "nope",
                                                                "body": "x"}), 404)
        self.emu.post("/_emulator/autoscaling-groups", {"name": "web", "maxSize": 1})
        self.assertEqual(self.status("/_emulator/autoscaling-groups/launch",
                                     {"name": "web", "count": 2}), 409)
        self.assertEqual(self.status("/_emulator/autoscaling-groups/set-state",
                                     {"name": "web", "ids": [instance],
                                      "lifecycleState": "Sleeping"}), 400)

    def test_ipv6_instances_register_in_ipv6_groups(self):
        [instance] = self.launch(ipv6=True, subnetId=SUBNETS[0])
        described = self.ec2.describe_instances(InstanceIds=[instance])
        address = described["Reservations"][0]["Instances"][0]["Ipv6Address"]
        self.assertTrue(address.startswith("2600:1f18:4000:a800:"))
        elb = self.emu.client("elbv2", region=REGION)
        arn = elb.create_target_group(Name="v6", Protocol="HTTP", Port=80, VpcId=VPC,
                                      TargetType="instance", IpAddressType="ipv6")[
            "TargetGroups"][0]["TargetGroupArn"]
        elb.register_targets(TargetGroupArn=arn, Targets=[{"Id": instance}])
        [plain] = self.launch()
        self.assertAwsError("InvalidTarget", 400, elb.register_targets, TargetGroupArn=arn,
                            Targets=[{"Id": plain}], contains="missing primary IPv6")


if __name__ == "__main__":
    unittest.main(verbosity=2)
