#!/usr/bin/python3
"""Conformance of the AWS API emulator, driven by boto3 (the official AWS SDK for Python).

Every supported ELBv2 and STS action is called through boto3, so each response and error is
parsed by botocore exactly as for real AWS: codes, messages, HTTP status, pagination, tags,
the target health lifecycle, IP and instance target rules, limits, throttling and SigV4.
Run: /usr/bin/python3 tests/emulator/conformance_test.py
"""

import base64
import datetime
import http.client
import json
import os
import sys
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

VPC = "vpc-0123456789abcdef0"
SUBNETS = ["subnet-0123456789abcdef1", "subnet-0123456789abcdef2", "subnet-0123456789abcdef3"]
NS = "{http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/}"
REGION = "ap-northeast-1"


def signed_request(url, params, method="POST", access_key="test", secret="test",
                   service="elasticloadbalancing", region=REGION, when=None, headers=None,
                   mutate=None):
    """Sends a Query call signed with botocore's SigV4 at time `when`; (status, body)."""
    body = urllib.parse.urlencode(params).encode()
    target = url + "/"
    if method == "GET":
        target, body = url + "/?" + body.decode(), b""
    request = AWSRequest(method=method, url=target, data=body, headers=dict(headers or {}))
    if method == "POST":
        request.headers["Content-Type"] = "application/x-www-form-urlencoded; charset=utf-8"
    when = when or datetime.datetime.now(datetime.timezone.utc)
    stamp = when.strftime("%Y%m%dT%H%M%SZ")
    request.context["timestamp"] = stamp
    request.headers["X-Amz-Date"] = stamp
    signer = SigV4Auth(Credentials(access_key, secret), service, region)
    canonical = signer.canonical_request(request)
    signature = signer.signature(signer.string_to_sign(request, canonical), request)
    names = signer.signed_headers(signer.headers_to_sign(request))
    request.headers["Authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={access_key}/{stamp[:8]}/{region}/{service}/aws4_request, "
        f"SignedHeaders={names}, Signature={signature}")
    if mutate:
        mutate(request)
    parts = urllib.parse.urlsplit(target)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        path = parts.path + ("?" + parts.query if parts.query else "")
        connection.request(method, path, body=request.body or None,
                           headers=dict(request.headers))
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


EMULATOR = None


def setUpModule():
    global EMULATOR
    # Transient states (initial, draining) are asserted right after a call, so their windows
    # are wide enough to survive a loaded CI machine's scheduling stalls.
    EMULATOR = EmulatorProcess("--healthy-after", "1", "--deregistration-delay", "2").start()


def tearDownModule():
    EMULATOR.stop()


class EmulatorTestCase(AwsErrorAssertions, unittest.TestCase):
    """One emulator for the module, reset before every test."""

    @classmethod
    def setUpClass(cls):
        cls.emu = EMULATOR
        cls.elb = cls.emu.client("elbv2", region=REGION)
        cls.raw = cls.emu.client("elbv2", region=REGION, validate=False)
        cls.sts = cls.emu.client("sts", region=REGION)

    def setUp(self):
        self.emu.reset()


    def create_group(self, name="web", protocol="HTTPS", port=443, target_type="ip", **extra):
        result = self.elb.create_target_group(Name=name, Protocol=protocol, Port=port,
                                              VpcId=VPC, TargetType=target_type, **extra)
        return result["TargetGroups"][0]["TargetGroupArn"]

    def health(self, arn, **kwargs):
        out = self.elb.describe_target_health(TargetGroupArn=arn, **kwargs)
        return {(d["Target"]["Id"], d["Target"].get("Port")):
                (d["TargetHealth"]["State"], d["TargetHealth"].get("Reason"))
                for d in out["TargetHealthDescriptions"]}

    def wait_for(self, predicate, timeout=5.0):
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value or time.monotonic() > deadline:
                return value
            time.sleep(0.05)


class TargetGroupTest(EmulatorTestCase):
    def test_create_describe_delete(self):
        created = self.elb.create_target_group(
            Name="web", Protocol="HTTPS", Port=443, VpcId=VPC, TargetType="ip",
            Tags=[{"Key": "team", "Value": "iot"}])
        group = created["TargetGroups"][0]
        self.assertRegex(group["TargetGroupArn"],
                         r"^arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:"
                         r"targetgroup/web/[0-9a-f]{16}$")
        expected = {"TargetGroupName": "web", "Protocol": "HTTPS", "Port": 443, "VpcId": VPC,
                    "HealthCheckProtocol": "HTTPS", "HealthCheckPort": "traffic-port",
                    "HealthCheckEnabled": True, "HealthCheckIntervalSeconds": 30,
                    "HealthCheckTimeoutSeconds": 5, "HealthyThresholdCount": 5,
                    "UnhealthyThresholdCount": 2, "HealthCheckPath": "/",
                    "Matcher": {"HttpCode": "200"}, "LoadBalancerArns": [],
                    "TargetType": "ip", "ProtocolVersion": "HTTP1", "IpAddressType": "ipv4"}
        for key, value in expected.items():
            self.assertEqual(group[key], value, key)
        arn = group["TargetGroupArn"]
        by_arn = self.elb.describe_target_groups(TargetGroupArns=[arn])["TargetGroups"]
        by_name = self.elb.describe_target_groups(Names=["web"])["TargetGroups"]
        self.assertEqual(by_arn, [group])
        self.assertEqual(by_name, [group])
        # Same settings again: AWS answers with the existing group.
        again = self.create_group("web")
        self.assertEqual(again, arn)
        self.assertAwsError("DuplicateTargetGroupName", 400, self.elb.create_target_group,
                            Name="web", Protocol="HTTP", Port=80, VpcId=VPC, TargetType="ip",
                            message="A target group with the same name 'web' exists, but with "
                                    "different settings")
        nlb = self.elb.create_target_group(Name="tcp", Protocol="TCP", Port=5432, VpcId=VPC,
                                           TargetType="ip")["TargetGroups"][0]
        self.assertEqual(nlb["HealthCheckProtocol"], "TCP")
        self.assertNotIn("HealthCheckPath", nlb)
        self.assertNotIn("ProtocolVersion", nlb)
        self.elb.delete_target_group(TargetGroupArn=arn)
        self.assertAwsError("TargetGroupNotFound", 400, self.elb.describe_target_groups,
                            TargetGroupArns=[arn], message="One or more target groups not found")
        self.elb.delete_target_group(TargetGroupArn=arn)  # deleting again succeeds

    def test_create_validation(self):
        self.assertAwsError("ValidationError", 400, self.elb.create_target_group,
                            Name="a" * 33, Protocol="HTTP", Port=80, VpcId=VPC,
                            contains="cannot be longer than '32' characters")
        self.assertAwsError("ValidationError", 400, self.elb.create_target_group,
                            Name="-web", Protocol="HTTP", Port=80, VpcId=VPC,
                            contains="cannot begin or end with '-'")
        self.assertAwsError("ValidationError", 400, self.elb.create_target_group,
                            Name="web", Protocol="HTTP", Port=80, VpcId="vpc-00000000000000000",
                            message="The VPC ID 'vpc-00000000000000000' is not found")
        self.assertAwsError("ValidationError", 400, self.elb.create_target_group,
                            Name="web", Protocol="HTTP", Port=80,
                            message="A VPC ID must be specified")
        self.assertAwsError("ValidationError", 400, self.raw.create_target_group,
                            Name="web", Protocol="HTTP", Port=70000, VpcId=VPC,
                            message="1 validation error detected: Value '70000' at 'port' failed "
                                    "to satisfy constraint: Member must have value less than or "
                                    "equal to 65535")
        self.assertAwsError("ValidationError", 400, self.raw.create_target_group,
                            Name="web", Protocol="SMTP", Port=25, VpcId=VPC,
                            contains="Member must satisfy enum value set: [HTTP, HTTPS, TCP")
        self.assertAwsError("ValidationError", 400, self.raw.create_target_group,
                            Protocol="HTTP", Port=80, VpcId=VPC,
                            message="1 validation error detected: Value null at 'name' failed to "
                                    "satisfy constraint: Member must not be null")

    def test_pagination(self):
        arns = [self.create_group(f"g{i}", protocol="HTTP", port=80 + i) for i in range(7)]
        first = self.elb.describe_target_groups(PageSize=3)
        self.assertEqual([g["TargetGroupArn"] for g in first["TargetGroups"]], arns[:3])
        second = self.elb.describe_target_groups(PageSize=3, Marker=first["NextMarker"])
        third = self.elb.describe_target_groups(PageSize=3, Marker=second["NextMarker"])
        self.assertEqual([g["TargetGroupArn"] for g in second["TargetGroups"]], arns[3:6])
        self.assertEqual([g["TargetGroupArn"] for g in third["TargetGroups"]], arns[6:])
        self.assertNotIn("NextMarker", third)
        paginator = self.elb.get_paginator("describe_target_groups")
        seen = [g["TargetGroupArn"] for page in paginator.paginate(PaginationConfig={
            "PageSize": 2}) for g in page["TargetGroups"]]
        self.assertEqual(seen, arns)
        by_arns = self.elb.describe_target_groups(TargetGroupArns=arns[2:5], PageSize=2)
        self.assertEqual(len(by_arns["TargetGroups"]), 2)
        self.assertIn("NextMarker", by_arns)
        self.assertAwsError("ValidationError", 400, self.raw.describe_target_groups,
                            PageSize=401,
                            message="1 validation error detected: Value '401' at 'pageSize' "
                                    "failed to satisfy constraint: Member must have value less "
                                    "than or equal to 400")
        self.assertAwsError("ValidationError", 400, self.elb.describe_target_groups,
                            Marker="not-a-marker", contains="marker")
        self.assertAwsError("TargetGroupNotFound", 400, self.elb.describe_target_groups,
                            Names=["g1", "nope"])
        self.assertAwsError("ValidationError", 400, self.elb.describe_target_groups,
                            TargetGroupArns=["arn:aws:s3:::bucket"],
                            message="'arn:aws:s3:::bucket' is not a valid target group ARN")

    def test_attributes(self):
        arn = self.create_group()
        attributes = {a["Key"]: a["Value"] for a in self.elb.describe_target_group_attributes(
            TargetGroupArn=arn)["Attributes"]}
        self.assertEqual(attributes["deregistration_delay.timeout_seconds"], "2")
        self.assertEqual(attributes["stickiness.enabled"], "false")
        modified = self.elb.modify_target_group_attributes(
            TargetGroupArn=arn,
            Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": "30"}])
        values = {a["Key"]: a["Value"] for a in modified["Attributes"]}
        self.assertEqual(values["deregistration_delay.timeout_seconds"], "30")
        self.assertEqual(values, {a["Key"]: a["Value"] for a in
                                  self.elb.describe_target_group_attributes(
                                      TargetGroupArn=arn)["Attributes"]})
        self.assertAwsError("ValidationError", 400, self.elb.modify_target_group_attributes,
                            TargetGroupArn=arn, Attributes=[
                                {"Key": "deregistration_delay.timeout_seconds",
                                 "Value": "3601"}], contains="between 0 and 3600")
        self.assertAwsError("ValidationError", 400, self.elb.modify_target_group_attributes,
                            TargetGroupArn=arn, Attributes=[{"Key": "no.such", "Value": "1"}],
                            contains="not recognized")
        self.assertAwsError("TargetGroupNotFound", 400,
                            self.elb.describe_target_group_attributes,
                            TargetGroupArn=arn.replace("targetgroup/web", "targetgroup/nope"))


class TargetLifecycleTest(EmulatorTestCase):
    def test_register_initial_healthy_draining_gone(self):
        arn = self.create_group()
        self.elb.register_targets(TargetGroupArn=arn, Targets=[{"Id": "10.0.1.5"},
                                                               {"Id": "10.0.70.9", "Port": 8443}])
        self.assertEqual(self.health(arn), {
            ("10.0.1.5", 443): ("initial", "Elb.RegistrationInProgress"),
            ("10.0.70.9", 8443): ("initial", "Elb.RegistrationInProgress")})
        description = self.elb.describe_target_health(TargetGroupArn=arn)[
            "TargetHealthDescriptions"][0]
        self.assertEqual(description, {
            "Target": {"Id": "10.0.1.5", "Port": 443}, "HealthCheckPort": "443",
            "TargetHealth": {"State": "initial", "Reason": "Elb.RegistrationInProgress",
                             "Description": "Target registration is in progress"}})
        self.assertTrue(self.wait_for(lambda: set(self.health(arn).values()) ==
                                      {("healthy", None)}))
        # Registering what is registered changes nothing.
        self.elb.register_targets(TargetGroupArn=arn, Targets=[{"Id": "10.0.1.5"}])
        self.assertEqual(self.health(arn)[("10.0.1.5", 443)], ("healthy", None))
        self.elb.deregister_targets(TargetGroupArn=arn, Targets=[{"Id": "10.0.1.5"}])
        self.assertEqual(self.health(arn)[("10.0.1.5", 443)],
                         ("draining", "Target.DeregistrationInProgress"))
        # A draining target registered again starts over.
        self.elb.register_targets(TargetGroupArn=arn, Targets=[{"Id": "10.0.1.5"}])
        self.assertEqual(self.health(arn)[("10.0.1.5", 443)],
                         ("initial", "Elb.RegistrationInProgress"))
        self.elb.deregister_targets(TargetGroupArn=arn, Targets=[
            {"Id": "10.0.1.5", "Port": 443}, {"Id": "10.0.70.9", "Port": 8443}])
        self.assertEqual(set(self.health(arn).values()),
                         {("draining", "Target.DeregistrationInProgress")})
        # Deregistering what is absent or already draining succeeds.
        self.elb.deregister_targets(TargetGroupArn=arn, Targets=[{"Id": "10.0.9.9"},
                                                                 {"Id": "10.0.1.5"}])
        self.assertTrue(self.wait_for(lambda: self.health(arn) == {}, timeout=5))
        listed = self.health(arn, Targets=[{"Id": "10.0.1.5", "Port": 443}])
        self.assertEqual(listed, {("10.0.1.5", 443): ("unused", "Target.NotRegistered")})

    def test_describe_listed_targets(self):
        arn = self.create_group()
        self.elb.register_targets(TargetGroupArn=arn, Targets=[
            {"Id": "10.0.1.5"}, {"Id": "10.0.1.5", "Port": 8443}, {"Id": "10.0.1.6"}])
        listed = self.health(arn, Targets=[{"Id": "10.0.1.5"}, {"Id": "10.0.1.7", "Port": 80}])
        self.assertEqual(set(listed), {("10.0.1.5", 443), ("10.0.1.5", 8443), ("10.0.1.7", 80)})
        self.assertEqual(listed[("10.0.1.7", 80)], ("unused", "Target.NotRegistered"))
        self.assertAwsError("TargetGroupNotFound", 400, self.elb.describe_target_health,
                            TargetGroupArn=arn.replace("/web/", "/other/"))

    def test_health_check_disabled_is_unavailable(self):
        arn = self.create_group(HealthCheckEnabled=False)
        self.elb.register_targets(TargetGroupArn=arn, Targets=[{"Id": "10.0.1.5"}])
        self.assertEqual(self.health(arn)[("10.0.1.5", 443)],
                         ("unavailable", "Target.HealthCheckDisabled"))

    def test_unknown_and_malformed_group(self):
        arn = self.create_group()
        missing = arn.replace("/web/", "/gone/")
        self.assertAwsError("TargetGroupNotFound", 400, self.elb.register_targets,
                            TargetGroupArn=missing, Targets=[{"Id": "10.0.1.5"}],
                            message=f"Target groups '{missing}' not found")
        self.assertAwsError("ValidationError", 400, self.elb.register_targets,
                            TargetGroupArn="web", Targets=[{"Id": "10.0.1.5"}],
                            message="'web' is not a valid target group ARN")
        other_region = arn.replace(REGION, "us-west-2")
        self.assertAwsError("TargetGroupNotFound", 400, self.elb.register_targets,
                            TargetGroupArn=other_region, Targets=[{"Id": "10.0.1.5"}])
        self.assertAwsError("ValidationError", 400, self.raw.register_targets,
                            TargetGroupArn=arn,
                            message="1 validation error detected: Value null at 'targets' "
                                    "failed to satisfy constraint: Member must not be null")

    def test_target_limit(self):
        arn = self.create_group()
        targets = [{"Id": f"10.0.{i // 250}.{i % 250 + 1}"} for i in range(1000)]
        self.elb.register_targets(TargetGroupArn=arn, Targets=targets)
        self.assertEqual(len(self.elb.describe_target_health(TargetGroupArn=arn)[
            "TargetHealthDescriptions"]), 1000)
        self.assertAwsError("TooManyTargets", 400, self.elb.register_targets,
                            TargetGroupArn=arn, Targets=[{"Id": "10.0.200.1"}],
                            contains="maximum number of targets per target group (1000)")
        # Re-registering existing targets does not count twice.
        self.elb.register_targets(TargetGroupArn=arn, Targets=targets[:10])


class TargetRulesTest(EmulatorTestCase):
    def test_ip_rules(self):
        arn = self.create_group()
        register = self.elb.register_targets
        self.assertAwsError("ValidationError", 400, register, TargetGroupArn=arn,
                            Targets=[{"Id": "8.8.8.8", "AvailabilityZone": "all"}],
                            contains="The IP address '8.8.8.8' is not a valid target")
        self.assertAwsError("ValidationError", 400, register, TargetGroupArn=arn,
                            Targets=[{"Id": "127.0.0.1", "AvailabilityZone": "all"}])
        self.assertAwsError("ValidationError", 400, register, TargetGroupArn=arn,
                            Targets=[{"Id": "172.20.0.1"}],
                            message="The Availability Zone is required for IP address "
                                    "'172.20.0.1' because it is not in the VPC")
        self.assertAwsError("ValidationError", 400, register, TargetGroupArn=arn,
                            Targets=[{"Id": "10.0.1.5", "AvailabilityZone": "all"}],
                            message="The IP address '10.0.1.5' is within the VPC, and cannot "
                                    "have its Availability Zone overridden to 'all' from "
                                    "'ap-northeast-1a'")
        self.assertAwsError("ValidationError", 400, register, TargetGroupArn=arn,
                            Targets=[{"Id": "10.0.300.1"}],
                            message="The IP address '10.0.300.1' is not a valid IPv4 address")
        self.assertAwsError("ValidationError", 400, register, TargetGroupArn=arn,
                            Targets=[{"Id": "i-0123456789abcdef0"}])
        self.assertAwsError("ValidationError", 400, register, TargetGroupArn=arn,
                            Targets=[{"Id": "172.20.0.1", "AvailabilityZone": "eu-west-1a"}],
                            contains="not valid")
        self.assertAwsError("ValidationError", 400, self.raw.register_targets,
                            TargetGroupArn=arn, Targets=[{"Id": "10.0.1.5", "Port": 0}],
                            message="1 validation error detected: Value '0' at "
                                    "'targets.1.member.port' failed to satisfy constraint: "
                                    "Member must have value greater than or equal to 1")
        self.assertEqual(self.health(arn), {})  # nothing of a failed call was applied
        register(TargetGroupArn=arn, Targets=[
            {"Id": "172.20.0.1", "AvailabilityZone": "all"},
            {"Id": "192.168.3.4", "AvailabilityZone": "ap-northeast-1b", "Port": 8443},
            {"Id": "100.64.0.9", "AvailabilityZone": "all"},
            {"Id": "10.0.130.7", "AvailabilityZone": "ap-northeast-1c"},
            {"Id": "10.0.1.5"}])
        described = {d["Target"]["Id"]: d["Target"] for d in
                     self.elb.describe_target_health(TargetGroupArn=arn)[
                         "TargetHealthDescriptions"]}
        self.assertEqual(described["172.20.0.1"], {"Id": "172.20.0.1", "Port": 443,
                                                   "AvailabilityZone": "all"})
        self.assertEqual(described["192.168.3.4"]["AvailabilityZone"], "ap-northeast-1b")
        self.assertEqual(described["10.0.1.5"], {"Id": "10.0.1.5", "Port": 443})

    def test_ip_address_type(self):
        v4 = self.create_group("v4")
        v6 = self.create_group("v6", IpAddressType="ipv6")
        described = {g["TargetGroupName"]: g["IpAddressType"]
                     for g in self.elb.describe_target_groups()["TargetGroups"]}
        self.assertEqual(described, {"v4": "ipv4", "v6": "ipv6"})
        self.assertAwsError("ValidationError", 400, self.raw.create_target_group,
                            Name="v5", Protocol="HTTP", Port=80, VpcId=VPC, TargetType="ip",
                            IpAddressType="ipv5", contains="Member must satisfy enum value set")
        register = self.elb.register_targets
        # An IPv6 address in an ipv4 group: AWS's code and message, and the whole call fails.
        self.assertAwsError("ValidationError", 400, register, TargetGroupArn=v4,
                            Targets=[{"Id": "10.0.1.5"}, {"Id": "2600:1f18:4000:a800::10"}],
                            message="The IP address '2600:1f18:4000:a800::10' is not a valid "
                                    "IPv4 address")
        self.assertEqual(self.health(v4), {})
        # ...and the reverse: IPv4 targets cannot be registered with an ipv6 group.
        self.assertAwsError("ValidationError", 400, register, TargetGroupArn=v6,
                            Targets=[{"Id": "10.0.1.5"}],
                            message="The IP address '10.0.1.5' is not a valid IPv6 address")
        self.assertAwsError("ValidationError", 400, register, TargetGroupArn=v6,
                            Targets=[{"Id": "fe80::1", "AvailabilityZone": "all"}],
                            contains="The IP address 'fe80::1' is not a valid target")
        self.assertAwsError("ValidationError", 400, register, TargetGroupArn=v6,
                            Targets=[{"Id": "fd00::5"}],
                            message="The Availability Zone is required for IP address 'fd00::5' "
                                    "because it is not in the VPC")
        self.assertAwsError("ValidationError", 400, register, TargetGroupArn=v6,
                            Targets=[{"Id": "2600:1f18:4000:a801::7", "AvailabilityZone": "all"}],
                            message="The IP address '2600:1f18:4000:a801::7' is within the VPC, "
                                    "and cannot have its Availability Zone overridden to 'all' "
                                    "from 'ap-northeast-1b'")
        self.assertEqual(self.health(v6), {})
        register(TargetGroupArn=v6, Targets=[{"Id": "2600:1f18:4000:a800::10"},
                                             {"Id": "fd00::5", "AvailabilityZone": "all"}])
        self.assertEqual(set(self.health(v6)), {("2600:1f18:4000:a800::10", 443),
                                                ("fd00::5", 443)})
        # Instances have no IPv6 address in the emulator: refused by name, in AWS's wording
        # (its quoting included).
        self.emu.post("/_emulator/instances", {"instances": [
            {"id": "i-0123456789abcdef0", "privateIp": "10.0.1.10"},
            {"id": "i-0fedcba9876543210", "privateIp": "10.0.1.11"}]})
        inst6 = self.create_group("inst6", protocol="HTTP", port=80, target_type="instance",
                                  IpAddressType="ipv6")
        self.assertAwsError("InvalidTarget", 400, register, TargetGroupArn=inst6,
                            Targets=[{"Id": "i-0123456789abcdef0"},
                                     {"Id": "i-0fedcba9876543210"}],
                            message="The following targets cannot be used with this IPv6 target "
                                    "group because of missing primary IPv6 addresses: "
                                    "i-0123456789abcdef0', 'i-0fedcba9876543210")

    def test_instance_targets(self):
        arn = self.create_group("inst", protocol="HTTP", port=80, target_type="instance")
        register = self.elb.register_targets
        self.assertAwsError("InvalidTarget", 400, register, TargetGroupArn=arn,
                            Targets=[{"Id": "i-0123456789abcdef0"}],
                            message="The following targets are not valid instances: "
                                    "'i-0123456789abcdef0'")
        self.emu.post("/_emulator/instances", {"instances": [
            {"id": "i-0123456789abcdef0", "privateIp": "10.0.1.10", "az": "ap-northeast-1a",
             "state": "running", "tags": {"Name": "web-1"}},
            {"id": "i-0fedcba9876543210", "privateIp": "10.0.1.11", "state": "stopped"}]})
        self.assertAwsError("ValidationError", 400, register, TargetGroupArn=arn,
                            Targets=[{"Id": "10.0.1.5"}],
                            message="Instance ID '10.0.1.5' is not valid")
        self.assertAwsError("ValidationError", 400, register, TargetGroupArn=arn,
                            Targets=[{"Id": "i-0123456789abcdef0",
                                      "AvailabilityZone": "ap-northeast-1a"}])
        self.assertAwsError("InvalidTarget", 400, register, TargetGroupArn=arn,
                            Targets=[{"Id": "i-0fedcba9876543210"}],
                            message="The following targets are not in a running state and "
                                    "cannot be registered: 'i-0fedcba9876543210'")
        register(TargetGroupArn=arn, Targets=[{"Id": "i-0123456789abcdef0"},
                                              {"Id": "i-0123456789abcdef0", "Port": 8080}])
        self.assertEqual(set(self.health(arn)), {("i-0123456789abcdef0", 80),
                                                 ("i-0123456789abcdef0", 8080)})
        self.assertTrue(self.wait_for(lambda: set(self.health(arn).values()) ==
                                      {("healthy", None)}))
        self.assertAwsError("InvalidTarget", 400, self.elb.describe_target_health,
                            TargetGroupArn=arn, Targets=[{"Id": "i-0aaaaaaaaaaaaaaaa"}])


class TagsTest(EmulatorTestCase):
    def test_tags(self):
        first = self.create_group("one", Tags=[{"Key": "owner", "Value": "a"}])
        second = self.create_group("two")
        self.elb.add_tags(ResourceArns=[first, second], Tags=[
            {"Key": "endpointbinder.io/owner", "Value": "ctl/default/x"},
            {"Key": "owner", "Value": "b"}])
        described = self.elb.describe_tags(ResourceArns=[second, first])["TagDescriptions"]
        self.assertEqual([d["ResourceArn"] for d in described], [second, first])
        self.assertEqual(described[1]["Tags"], [
            {"Key": "owner", "Value": "b"},
            {"Key": "endpointbinder.io/owner", "Value": "ctl/default/x"}])
        self.elb.remove_tags(ResourceArns=[first], TagKeys=["owner", "absent"])
        self.assertEqual(self.elb.describe_tags(ResourceArns=[first])["TagDescriptions"][0][
            "Tags"], [{"Key": "endpointbinder.io/owner", "Value": "ctl/default/x"}])
        self.elb.remove_tags(ResourceArns=[second],
                             TagKeys=["owner", "endpointbinder.io/owner"])
        self.assertEqual(self.elb.describe_tags(ResourceArns=[second])["TagDescriptions"],
                         [{"ResourceArn": second, "Tags": []}])
        self.assertAwsError("ValidationError", 400, self.elb.describe_tags,
                            ResourceArns=[first] * 21,
                            contains="Member must have length less than or equal to 20")
        missing = first.replace("/one/", "/none/")
        self.assertAwsError("TargetGroupNotFound", 400, self.elb.describe_tags,
                            ResourceArns=[first, missing])
        self.assertAwsError("TargetGroupNotFound", 400, self.elb.add_tags,
                            ResourceArns=[first, missing], Tags=[{"Key": "k", "Value": "v"}])
        self.assertEqual(len(self.elb.describe_tags(ResourceArns=[first])["TagDescriptions"][0][
            "Tags"]), 1)  # all-or-nothing
        self.assertAwsError("TooManyTags", 400, self.elb.add_tags, ResourceArns=[first],
                            Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(50)])
        self.assertAwsError("DuplicateTagKeys", 400, self.elb.add_tags, ResourceArns=[first],
                            Tags=[{"Key": "k", "Value": "1"}, {"Key": "k", "Value": "2"}])


class LoadBalancerTest(EmulatorTestCase):
    def test_load_balancer_listener_ties_group(self):
        lb = self.elb.create_load_balancer(Name="alb", Subnets=SUBNETS[:2], Scheme="internal",
                                           Tags=[{"Key": "k", "Value": "v"}])[
            "LoadBalancers"][0]
        self.assertEqual(lb["Type"], "application")
        self.assertEqual(lb["State"], {"Code": "active"})
        self.assertEqual([z["ZoneName"] for z in lb["AvailabilityZones"]],
                         ["ap-northeast-1a", "ap-northeast-1b"])
        self.assertTrue(lb["DNSName"].startswith("internal-alb-"))
        self.assertIsInstance(lb["CreatedTime"], datetime.datetime)
        lb_arn = lb["LoadBalancerArn"]
        self.assertEqual(self.elb.describe_load_balancers(Names=["alb"])["LoadBalancers"], [lb])
        group = self.create_group()
        listener = self.elb.create_listener(
            LoadBalancerArn=lb_arn, Protocol="HTTP", Port=80,
            DefaultActions=[{"Type": "forward", "TargetGroupArn": group}])["Listeners"][0]
        self.assertEqual(listener["DefaultActions"][0]["TargetGroupArn"], group)
        described = self.elb.describe_target_groups(TargetGroupArns=[group])["TargetGroups"][0]
        self.assertEqual(described["LoadBalancerArns"], [lb_arn])
        self.assertEqual([g["TargetGroupArn"] for g in self.elb.describe_target_groups(
            LoadBalancerArn=lb_arn)["TargetGroups"]], [group])
        self.assertEqual(self.elb.describe_listeners(LoadBalancerArn=lb_arn)["Listeners"],
                         [listener])
        self.assertEqual(self.elb.describe_tags(ResourceArns=[lb_arn])["TagDescriptions"][0][
            "Tags"], [{"Key": "k", "Value": "v"}])
        self.assertAwsError("ResourceInUse", 400, self.elb.delete_target_group,
                            TargetGroupArn=group)
        self.elb.delete_listener(ListenerArn=listener["ListenerArn"])
        self.assertEqual(self.elb.describe_target_groups(TargetGroupArns=[group])[
            "TargetGroups"][0]["LoadBalancerArns"], [])
        self.elb.delete_load_balancer(LoadBalancerArn=lb_arn)
        self.elb.delete_load_balancer(LoadBalancerArn=lb_arn)  # absent: success
        self.assertAwsError("LoadBalancerNotFound", 400, self.elb.describe_load_balancers,
                            LoadBalancerArns=[lb_arn])
        self.elb.delete_target_group(TargetGroupArn=group)

    def test_load_balancer_errors(self):
        self.assertAwsError("ValidationError", 400, self.elb.create_load_balancer,
                            Name="alb", Subnets=SUBNETS[:1],
                            message="At least two subnets in two different Availability "
                                    "Zones must be specified")
        self.assertAwsError("SubnetNotFound", 400, self.elb.create_load_balancer,
                            Name="alb", Subnets=["subnet-00000000000000000", SUBNETS[0]])
        nlb = self.elb.create_load_balancer(Name="nlb", Type="network", Subnets=SUBNETS[:1])[
            "LoadBalancers"][0]
        tcp = self.create_group("tcp", protocol="TCP", port=5432)
        web = self.create_group("web", protocol="HTTP", port=80)
        self.assertAwsError("ValidationError", 400, self.elb.create_listener,
                            LoadBalancerArn=nlb["LoadBalancerArn"], Protocol="TCP", Port=80,
                            DefaultActions=[{"Type": "forward", "TargetGroupArn": web}])
        self.elb.create_listener(LoadBalancerArn=nlb["LoadBalancerArn"], Protocol="TCP",
                                 Port=5432,
                                 DefaultActions=[{"Type": "forward", "TargetGroupArn": tcp}])
        self.assertAwsError("DuplicateListener", 400, self.elb.create_listener,
                            LoadBalancerArn=nlb["LoadBalancerArn"], Protocol="TCP", Port=5432,
                            DefaultActions=[{"Type": "forward", "TargetGroupArn": tcp}])
        self.assertAwsError("ListenerNotFound", 400, self.elb.delete_listener,
                            ListenerArn=nlb["LoadBalancerArn"].replace(
                                "loadbalancer/", "listener/") + "/0123456789abcdef")

    def test_unused_without_load_balancer_when_required(self):
        self.emu.post("/_emulator/settings", {"requireLoadBalancer": True})
        group = self.create_group()
        self.elb.register_targets(TargetGroupArn=group, Targets=[{"Id": "10.0.1.5"}])
        self.assertEqual(self.health(group)[("10.0.1.5", 443)], ("unused", "Target.NotInUse"))
        lb = self.elb.create_load_balancer(Name="alb", Subnets=SUBNETS)["LoadBalancers"][0]
        self.elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP",
                                 Port=80, DefaultActions=[{"Type": "forward",
                                                           "TargetGroupArn": group}])
        self.assertEqual(self.health(group)[("10.0.1.5", 443)],
                         ("initial", "Elb.RegistrationInProgress"))
        self.assertTrue(self.wait_for(lambda: self.health(group)[("10.0.1.5", 443)] ==
                                      ("healthy", None)))


class ThrottlingTest(EmulatorTestCase):
    def test_token_bucket_throttles(self):
        group = self.create_group()
        self.emu.post("/_emulator/quotas", {"RegisterTargets": {"rate": 0.05, "burst": 2}})
        self.elb.register_targets(TargetGroupArn=group, Targets=[{"Id": "10.0.1.5"}])
        self.elb.register_targets(TargetGroupArn=group, Targets=[{"Id": "10.0.1.6"}])
        self.assertAwsError("Throttling", 400, self.elb.register_targets,
                            TargetGroupArn=group, Targets=[{"Id": "10.0.1.7"}],
                            message="Rate exceeded")
        self.assertNotIn(("10.0.1.7", 443), self.health(group))
        counts = self.emu.get("/_emulator/requests")["counts"]["RegisterTargets"]
        self.assertEqual(counts, {"total": 3, "ok": 2, "throttled": 1, "error": 0})
        # Other actions have their own buckets.
        self.elb.deregister_targets(TargetGroupArn=group, Targets=[{"Id": "10.0.1.5"}])

    def test_default_register_quota_is_4_per_second_burst_20(self):
        group = self.create_group()
        statuses = []
        started = time.monotonic()
        for i in range(25):
            try:
                self.elb.register_targets(TargetGroupArn=group, Targets=[{"Id": f"10.0.2.{i}"}])
                statuses.append("ok")
            except botocore.exceptions.ClientError as error:
                statuses.append(error.response["Error"]["Code"])
        refilled = 4 * (time.monotonic() - started)  # 4 tokens a second after the burst
        self.assertGreaterEqual(statuses.count("ok"), 20)
        self.assertLessEqual(statuses.count("ok"), 20 + int(refilled) + 1)
        if refilled < 4:  # unless the machine was very slow, the burst ran out
            self.assertIn("Throttling", statuses)


class ProtocolTest(EmulatorTestCase):
    def test_raw_xml_shapes(self):
        group = self.create_group()
        status, body = signed_request(self.emu.url, {
            "Action": "DescribeTargetHealth", "Version": "2015-12-01", "TargetGroupArn": group})
        self.assertEqual(status, 200)
        root = ET.fromstring(body)
        self.assertEqual(root.tag, NS + "DescribeTargetHealthResponse")
        self.assertIsNotNone(root.find(f"{NS}DescribeTargetHealthResult/"
                                       f"{NS}TargetHealthDescriptions"))
        self.assertTrue(root.find(f"{NS}ResponseMetadata/{NS}RequestId").text)
        status, body = signed_request(self.emu.url, {
            "Action": "RegisterTargets", "Version": "2015-12-01", "TargetGroupArn": group,
            "Targets.member.1.Id": "8.8.8.8"})
        self.assertEqual(status, 400)
        root = ET.fromstring(body)
        self.assertEqual(root.tag, NS + "ErrorResponse")
        self.assertEqual(root.find(f"{NS}Error/{NS}Type").text, "Sender")
        self.assertEqual(root.find(f"{NS}Error/{NS}Code").text, "ValidationError")
        self.assertTrue(root.find(f"{NS}RequestId").text)

    def test_get_query_requests(self):
        group = self.create_group()
        status, body = signed_request(self.emu.url, {
            "Action": "DescribeTargetGroups", "Version": "2015-12-01", "Names.member.1": "web"},
            method="GET")
        self.assertEqual(status, 200, body)
        self.assertIn(group.encode(), body)

    def test_unknown_action_and_version(self):
        status, body = signed_request(self.emu.url, {"Action": "Frobnicate",
                                                     "Version": "2015-12-01"})
        self.assertEqual(status, 400)
        self.assertIn(b"<Code>InvalidAction</Code>", body)
        status, body = signed_request(self.emu.url, {"Action": "DescribeTargetGroups",
                                                     "Version": "2012-06-01"})
        self.assertEqual(status, 400)
        self.assertIn(b"<Code>InvalidAction</Code>", body)
        status, body = signed_request(self.emu.url, {"Action": "DescribeTargetGroups"})
        self.assertEqual(status, 400)
        self.assertIn(b"<Code>MissingParameter</Code>", body)


class AuthTest(EmulatorTestCase):
    def test_wrong_secret(self):
        client = self.emu.client("elbv2", region=REGION, secret_key="wrong")
        error = self.assertAwsError("SignatureDoesNotMatch", 403, client.describe_target_groups)
        self.assertTrue(error["Message"].startswith(
            "The request signature we calculated does not match the signature you provided."))
        self.assertIn("The Canonical String for this request should have been", error["Message"])

    def test_unknown_key(self):
        client = self.emu.client("elbv2", region=REGION, access_key="AKIAUNKNOWN")
        self.assertAwsError("InvalidClientTokenId", 403, client.describe_target_groups,
                            message="The security token included in the request is invalid.")

    def test_unsigned_and_malformed(self):
        connection = http.client.HTTPConnection(self.emu.url.split("//")[1], timeout=10)
        try:
            connection.request("POST", "/",
                               body="Action=DescribeTargetGroups&Version=2015-12-01",
                               headers={"Content-Type": "application/x-www-form-urlencoded"})
            response = connection.getresponse()
            body = response.read()
        finally:
            connection.close()
        self.assertEqual(response.status, 403)
        self.assertIn(b"<Code>MissingAuthenticationToken</Code>", body)

        def drop_signature(request):
            auth = request.headers["Authorization"]
            del request.headers["Authorization"]
            request.headers["Authorization"] = auth.split(", Signature=")[0]
        status, body = signed_request(self.emu.url, {"Action": "DescribeTargetGroups",
                                                     "Version": "2015-12-01"},
                                      mutate=drop_signature)
        self.assertEqual(status, 403)
        self.assertIn(b"<Code>IncompleteSignature</Code>", body)

    def test_clock_skew(self):
        params = {"Action": "DescribeTargetGroups", "Version": "2015-12-01"}
        now = datetime.datetime.now(datetime.timezone.utc)
        status, _ = signed_request(self.emu.url, params, when=now - datetime.timedelta(
            minutes=14))
        self.assertEqual(status, 200)
        for offset in (-16, 16):
            status, body = signed_request(self.emu.url, params,
                                          when=now + datetime.timedelta(minutes=offset))
            self.assertEqual(status, 403)
            self.assertIn(b"<Code>SignatureDoesNotMatch</Code>", body)
            self.assertIn(b"Signature expired" if offset < 0 else b"Signature not yet current",
                          body)

    def test_tampered_body(self):
        def tamper(request):
            request.data = request.body.replace(b"web", b"wex")
        status, body = signed_request(self.emu.url, {
            "Action": "DescribeTargetGroups", "Version": "2015-12-01", "Names.member.1": "web"},
            mutate=tamper)
        self.assertEqual(status, 403, body)
        self.assertIn(b"<Code>SignatureDoesNotMatch</Code>", body)

    def test_service_scope_must_match_host(self):
        # A scope naming a service the emulator does not serve (ec2 is served since issue 11).
        status, body = signed_request(self.emu.url, {"Action": "DescribeTargetGroups",
                                                     "Version": "2015-12-01"},
                                      service="lambda")
        self.assertEqual(status, 403)
        self.assertIn(b"SignatureDoesNotMatch", body)


class StsTest(EmulatorTestCase):
    ROLE = "arn:aws:iam::123456789012:role/endpoint-binder"

    def test_get_caller_identity(self):
        identity = self.sts.get_caller_identity()
        self.assertEqual(identity["Account"], "123456789012")
        self.assertEqual(identity["Arn"], "arn:aws:iam::123456789012:user/test")
        self.assertTrue(identity["UserId"])

    def test_assume_role_with_web_identity(self):
        unsigned = self.emu.client("sts", region=REGION)
        claims = {"sub": "system:sa", "aud": "sts.amazonaws.com", "iss": "https://oidc.example"}
        token = "header." + base64.urlsafe_b64encode(json.dumps(claims).encode()).decode() \
            .rstrip("=") + ".signature"
        result = unsigned.assume_role_with_web_identity(
            RoleArn=self.ROLE, RoleSessionName="binder", WebIdentityToken=token,
            DurationSeconds=900)
        credentials = result["Credentials"]
        self.assertTrue(credentials["AccessKeyId"].startswith("ASIA"))
        remaining = (credentials["Expiration"] - datetime.datetime.now(
            datetime.timezone.utc)).total_seconds()
        self.assertTrue(880 < remaining <= 900, remaining)
        self.assertEqual(result["AssumedRoleUser"]["Arn"],
                         "arn:aws:sts::123456789012:assumed-role/endpoint-binder/binder")
        self.assertEqual(result["SubjectFromWebIdentityToken"], "system:sa")
        self.assertEqual(result["Provider"], "oidc.example")
        self.assertEqual(result["Audience"], "sts.amazonaws.com")
        log = self.emu.get("/_emulator/requests?action=AssumeRoleWithWebIdentity")
        self.assertIsNone(log["requests"][0]["accessKeyId"])  # botocore sent it unsigned
        temporary = self.emu.client("sts", region=REGION,
                                    access_key=credentials["AccessKeyId"],
                                    secret_key=credentials["SecretAccessKey"],
                                    session_token=credentials["SessionToken"])
        self.assertEqual(temporary.get_caller_identity()["Arn"],
                         result["AssumedRoleUser"]["Arn"])
        elb = self.emu.client("elbv2", region=REGION, access_key=credentials["AccessKeyId"],
                              secret_key=credentials["SecretAccessKey"],
                              session_token=credentials["SessionToken"])
        self.assertEqual(elb.describe_target_groups()["TargetGroups"], [])
        no_token = self.emu.client("elbv2", region=REGION,
                                   access_key=credentials["AccessKeyId"],
                                   secret_key=credentials["SecretAccessKey"])
        self.assertAwsError("InvalidClientTokenId", 403, no_token.describe_target_groups)

    def test_expired_session_credentials(self):
        self.emu.post("/_emulator/settings", {"stsDurationSeconds": 1})
        credentials = self.sts.assume_role_with_web_identity(
            RoleArn=self.ROLE, RoleSessionName="binder", WebIdentityToken="token-1")[
            "Credentials"]
        elb = self.emu.client("elbv2", region=REGION, access_key=credentials["AccessKeyId"],
                              secret_key=credentials["SecretAccessKey"],
                              session_token=credentials["SessionToken"])
        elb.describe_target_groups()
        time.sleep(1.1)
        self.assertAwsError("ExpiredToken", 400, elb.describe_target_groups,
                            message="The security token included in the request is expired")

    def test_web_identity_validation(self):
        self.emu.post("/_emulator/settings", {"webIdentityTokens": ["good-token"]})
        self.assertAwsError("InvalidIdentityToken", 400,
                            self.sts.assume_role_with_web_identity, RoleArn=self.ROLE,
                            RoleSessionName="binder", WebIdentityToken="bad-token")
        self.sts.assume_role_with_web_identity(RoleArn=self.ROLE, RoleSessionName="binder",
                                               WebIdentityToken="good-token")
        raw = self.emu.client("sts", region=REGION, validate=False)
        self.assertAwsError("ValidationError", 400, raw.assume_role_with_web_identity,
                            RoleArn=self.ROLE, WebIdentityToken="good-token",
                            message="1 validation error detected: Value null at "
                                    "'roleSessionName' failed to satisfy constraint: Member "
                                    "must not be null")
        self.assertAwsError("ValidationError", 400, raw.assume_role_with_web_identity,
                            RoleArn="arn:aws:iam::123456789012:user/someone",
                            RoleSessionName="binder", WebIdentityToken="good-token",
                            message="Request ARN is invalid")
        self.assertAwsError("AccessDenied", 403, raw.assume_role_with_web_identity,
                            RoleArn="arn:aws:iam::210987654321:role/other",
                            RoleSessionName="binder", WebIdentityToken="good-token")


if __name__ == "__main__":
    unittest.main(verbosity=2)
