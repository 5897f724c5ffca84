#!/usr/bin/python3
"""The emulator's control API (/_emulator/...) and process lifecycle.

Fault injection (throttle rates, 5xx, connection resets, afterApply, delays), eventual
consistency, dead targets, the request log and stats, seeding through the API and a config
file, and how the process stops (SIGTERM, parent death, max lifetime).
Run: /usr/bin/python3 tests/emulator/control_test.py
"""

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import botocore.exceptions  # noqa: E402

from awsemu.harness import EMULATOR, ControlError, EmulatorProcess  # noqa: E402

REGION = "us-east-1"
ACCOUNT = "123456789012"


def process_gone(pid):
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            return any(line.startswith("State:") and "Z" in line.split()[1] for line in status)
    except FileNotFoundError:
        return True


def wait_until(predicate, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


class ControlTestCase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.emu = EmulatorProcess("--healthy-after", "0.2", "--deregistration-delay", "1",
                                  "--seed", "7").start()
        cls.elb = cls.emu.client("elbv2", region=REGION)

    @classmethod
    def tearDownClass(cls):
        cls.emu.stop()

    def setUp(self):
        self.emu.reset()

    def group(self, **extra):
        body = {"name": "web", "protocol": "HTTPS", "port": 443, "targetType": "ip"}
        body.update(extra)
        return self.emu.post("/_emulator/target-groups", body)["arn"]

    def states(self, arn):
        return {(d["Target"]["Id"], d["Target"]["Port"]): (d["TargetHealth"]["State"],
                                                           d["TargetHealth"].get("Reason"))
                for d in self.elb.describe_target_health(TargetGroupArn=arn)[
                    "TargetHealthDescriptions"]}

    def emulator_targets(self, arn):
        groups = self.emu.get("/_emulator/state")["targetGroups"]
        return [t["id"] for g in groups if g["arn"] == arn for t in g["targets"]]


class FaultTest(ControlTestCase):
    def test_throttle_rate_is_observed(self):
        self.emu.post("/_emulator/settings", {"throttle": False})  # only the fault throttles
        rule = self.emu.post("/_emulator/faults", {"action": "DescribeTargetGroups",
                                                   "throttleRate": 0.5})
        self.assertIsInstance(rule["id"], int)
        throttled = 0
        for _ in range(200):
            try:
                self.elb.describe_target_groups()
            except botocore.exceptions.ClientError as error:
                self.assertEqual(error.response["Error"]["Code"], "Throttling")
                self.assertEqual(error.response["Error"]["Message"], "Rate exceeded")
                self.assertEqual(error.response["ResponseMetadata"]["HTTPStatusCode"], 400)
                throttled += 1
        self.assertTrue(70 <= throttled <= 130, throttled)
        counts = self.emu.get("/_emulator/requests")["counts"]["DescribeTargetGroups"]
        self.assertEqual(counts, {"total": 200, "ok": 200 - throttled, "throttled": throttled,
                                  "error": 0})
        self.elb.describe_load_balancers()  # other actions are not matched

    def test_503_happens_before_the_write(self):
        arn = self.group()
        self.emu.post("/_emulator/faults", {"action": "RegisterTargets", "errorRate": 1.0,
                                            "errorStatus": 503, "remaining": 2})
        for _ in range(2):
            with self.assertRaises(botocore.exceptions.ClientError) as caught:
                self.elb.register_targets(TargetGroupArn=arn, Targets=[{"Id": "10.0.1.5"}])
            self.assertEqual(caught.exception.response["Error"]["Code"], "ServiceUnavailable")
            self.assertEqual(caught.exception.response["ResponseMetadata"]["HTTPStatusCode"],
                             503)
            self.assertEqual(self.emulator_targets(arn), [])
        self.elb.register_targets(TargetGroupArn=arn, Targets=[{"Id": "10.0.1.5"}])
        self.assertEqual(self.emulator_targets(arn), ["10.0.1.5"])
        self.assertEqual(self.emu.get("/_emulator/faults")["rules"], [])
        counts = self.emu.get("/_emulator/requests")["counts"]["RegisterTargets"]
        self.assertEqual(counts, {"total": 3, "ok": 1, "throttled": 0, "error": 2})

    def test_500_on_describe_target_health_is_health_unavailable(self):
        arn = self.group()
        self.emu.post("/_emulator/faults", {"action": "DescribeTargetHealth",
                                            "errorRate": 1.0, "errorStatus": 500})
        with self.assertRaises(botocore.exceptions.ClientError) as caught:
            self.elb.describe_target_health(TargetGroupArn=arn)
        self.assertEqual(caught.exception.response["Error"]["Code"], "HealthUnavailable")
        self.assertEqual(caught.exception.response["ResponseMetadata"]["HTTPStatusCode"], 500)
        self.emu.delete("/_emulator/faults")
        self.elb.describe_target_health(TargetGroupArn=arn)

    def test_reset_surfaces_as_connection_error_without_applying(self):
        arn = self.group()
        self.emu.post("/_emulator/faults", {"action": "RegisterTargets", "resetRate": 1.0,
                                            "remaining": 1})
        with self.assertRaises((botocore.exceptions.ConnectionError,
                                botocore.exceptions.HTTPClientError)):
            self.elb.register_targets(TargetGroupArn=arn, Targets=[{"Id": "10.0.1.5"}])
        self.assertEqual(self.emulator_targets(arn), [])
        entry = self.emu.get("/_emulator/requests?action=RegisterTargets")["requests"][-1]
        self.assertEqual((entry["status"], entry["errorCode"], entry["fault"]),
                         (0, "ConnectionReset", "reset"))
        self.elb.register_targets(TargetGroupArn=arn, Targets=[{"Id": "10.0.1.5"}])

    def test_after_apply_resets_after_the_write(self):
        arn = self.group()
        self.emu.post("/_emulator/faults", {"action": "RegisterTargets", "resetRate": 1.0,
                                            "afterApply": True, "remaining": 1})
        with self.assertRaises((botocore.exceptions.ConnectionError,
                                botocore.exceptions.HTTPClientError)):
            self.elb.register_targets(TargetGroupArn=arn, Targets=[{"Id": "10.0.1.5"}])
        self.assertEqual(self.emulator_targets(arn), ["10.0.1.5"])
        # The client's retry of the same write is harmless.
        self.elb.register_targets(TargetGroupArn=arn, Targets=[{"Id": "10.0.1.5"}])
        self.emu.post("/_emulator/faults", {"action": "DeregisterTargets", "errorRate": 1.0,
                                            "errorStatus": 500, "afterApply": True})
        with self.assertRaises(botocore.exceptions.ClientError) as caught:
            self.elb.deregister_targets(TargetGroupArn=arn, Targets=[{"Id": "10.0.1.5"}])
        self.assertEqual(caught.exception.response["Error"]["Code"], "InternalFailure")
        self.assertEqual(self.states(arn)[("10.0.1.5", 443)][0], "draining")

    def test_retrying_client_recovers(self):
        arn = self.group()
        retrying = self.emu.client("elbv2", region=REGION, attempts=4)
        self.emu.post("/_emulator/faults", {"action": "RegisterTargets", "errorRate": 1.0,
                                            "errorStatus": 503, "remaining": 2})
        response = retrying.register_targets(TargetGroupArn=arn, Targets=[{"Id": "10.0.1.5"}])
        self.assertEqual(response["ResponseMetadata"]["RetryAttempts"], 2)

    def test_delay(self):
        self.emu.post("/_emulator/faults", {"action": "Describe*", "delayMs": 300})
        started = time.monotonic()
        self.elb.describe_target_groups()
        self.assertGreaterEqual(time.monotonic() - started, 0.3)
        entry = self.emu.get("/_emulator/requests")["requests"][-1]
        self.assertGreaterEqual(entry["durationMs"], 300)
        self.emu.delete("/_emulator/faults")
        self.elb.describe_target_groups()
        entry = self.emu.get("/_emulator/requests")["requests"][-1]
        self.assertLess(entry["durationMs"], 300)

    def test_bad_rules_are_rejected(self):
        for rule in ({"throttleRate": 0.7, "errorRate": 0.7}, {"errorStatus": 200},
                     {"bogus": 1}, {"remaining": 0}):
            status, body = self.emu.call("POST", "/_emulator/faults", rule)
            self.assertEqual(status, 400, rule)
            self.assertIn("error", body)


class StateTest(ControlTestCase):
    def test_eventual_consistency(self):
        arn = self.group(healthyAfter=0, deregistrationDelay=30)
        self.emu.post("/_emulator/consistency", {"describeLagMs": 1000})
        self.assertEqual(self.emu.get("/_emulator/consistency"), {"describeLagMs": 1000})
        self.elb.register_targets(TargetGroupArn=arn, Targets=[{"Id": "10.0.1.5"}])
        self.assertEqual(self.states(arn), {})
        self.assertTrue(wait_until(lambda: self.states(arn) == {("10.0.1.5", 443):
                                                               ("healthy", None)}, 5))
        self.elb.deregister_targets(TargetGroupArn=arn, Targets=[{"Id": "10.0.1.5"}])
        self.assertEqual(self.states(arn)[("10.0.1.5", 443)][0], "healthy")
        self.assertTrue(wait_until(lambda: self.states(arn)[("10.0.1.5", 443)][0] ==
                                   "draining", 5))
        self.emu.post("/_emulator/consistency", {"describeLagMs": 0})
        self.assertEqual(self.states(arn)[("10.0.1.5", 443)][0], "draining")

    def test_dead_targets(self):
        arn = self.group(healthyAfter=0)
        self.elb.register_targets(TargetGroupArn=arn, Targets=[{"Id": "10.0.1.5"},
                                                               {"Id": "10.0.1.6"}])
        self.assertEqual(set(self.states(arn).values()), {("healthy", None)})
        self.emu.post("/_emulator/dead-targets", {"ids": ["10.0.1.5"], "dead": True})
        self.assertEqual(self.states(arn)[("10.0.1.5", 443)], ("unhealthy", "Target.Timeout"))
        self.assertEqual(self.states(arn)[("10.0.1.6", 443)], ("healthy", None))
        self.assertEqual(self.emu.get("/_emulator/dead-targets"), {"ids": ["10.0.1.5"]})
        self.emu.post("/_emulator/dead-targets", {"ids": ["10.0.1.5"], "dead": True,
                                                  "reason": "Target.FailedHealthChecks"})
        description = self.elb.describe_target_health(
            TargetGroupArn=arn, Targets=[{"Id": "10.0.1.5"}])["TargetHealthDescriptions"][0]
        self.assertEqual(description["TargetHealth"], {
            "State": "unhealthy", "Reason": "Target.FailedHealthChecks",
            "Description": "Health checks failed"})
        self.emu.post("/_emulator/dead-targets", {"ids": ["10.0.1.5"], "dead": False})
        self.assertEqual(self.states(arn)[("10.0.1.5", 443)], ("healthy", None))
        # A dead address registered later goes initial -> unhealthy.
        self.emu.post("/_emulator/dead-targets", {"ids": ["10.0.1.7"]})
        slow = self.group(name="slow", healthyAfter=1)
        self.elb.register_targets(TargetGroupArn=slow, Targets=[{"Id": "10.0.1.7"}])
        self.assertEqual(self.states(slow)[("10.0.1.7", 443)][0], "initial")
        self.assertTrue(wait_until(lambda: self.states(slow)[("10.0.1.7", 443)][0] ==
                                   "unhealthy", 5))

    def test_target_group_endpoint(self):
        arn = f"arn:aws:elasticloadbalancing:ap-northeast-1:{ACCOUNT}:targetgroup/f-iot-alb-tg/" \
              "4ab4dba084c2bb5c"
        created = self.emu.post("/_emulator/target-groups", {
            "name": "f-iot-alb-tg", "protocol": "HTTPS", "port": 443, "targetType": "ip",
            "deregistrationDelay": 2, "tags": {"env": "prod"}, "arn": arn, "healthyAfter": 0})
        self.assertEqual(created["arn"], arn)
        self.assertIn(":loadbalancer/app/", created["loadBalancerArn"])
        elb = self.emu.client("elbv2", region="ap-northeast-1")
        group = elb.describe_target_groups(TargetGroupArns=[arn])["TargetGroups"][0]
        self.assertEqual(group["LoadBalancerArns"], [created["loadBalancerArn"]])
        self.assertEqual(elb.describe_tags(ResourceArns=[arn])["TagDescriptions"][0]["Tags"],
                         [{"Key": "env", "Value": "prod"}])
        attributes = {a["Key"]: a["Value"] for a in elb.describe_target_group_attributes(
            TargetGroupArn=arn)["Attributes"]}
        self.assertEqual(attributes["deregistration_delay.timeout_seconds"], "2")
        elb.register_targets(TargetGroupArn=arn, Targets=[{"Id": "10.0.1.5"}])
        state = self.emu.get("/_emulator/state")["targetGroups"][0]
        self.assertEqual({k: state[k] for k in ("arn", "name", "port", "protocol", "targetType",
                                                "tags", "deregistrationDelay")},
                         {"arn": arn, "name": "f-iot-alb-tg", "port": 443, "protocol": "HTTPS",
                          "targetType": "ip", "tags": {"env": "prod"},
                          "deregistrationDelay": 2})
        self.assertEqual(state["targets"], [{"id": "10.0.1.5", "port": 443,
                                             "availabilityZone": None, "state": "healthy",
                                             "reason": None}])
        status, body = self.emu.call("POST", "/_emulator/target-groups", {"arn": arn})
        self.assertEqual(status, 409, body)
        self.emu.post("/_emulator/target-groups/settings", {"arn": arn, "healthyAfter": 5,
                                                            "deregistrationDelay": 0})
        elb.deregister_targets(TargetGroupArn=arn, Targets=[{"Id": "10.0.1.5"}])
        self.assertEqual(self.emu.get("/_emulator/state")["targetGroups"][0]["targets"], [])
        unattached = self.emu.post("/_emulator/target-groups", {
            "name": "bare", "attachLoadBalancer": False})
        self.assertIsNone(unattached["loadBalancerArn"])
        self.emu.post("/_emulator/settings", {"requireLoadBalancer": True})
        self.emu.post("/_emulator/targets", {"arn": unattached["arn"], "targets": ["10.0.1.9"]})
        self.assertEqual(self.states(unattached["arn"])[("10.0.1.9", 443)],
                         ("unused", "Target.NotInUse"))

    def test_target_group_ip_address_type(self):
        v6 = self.emu.post("/_emulator/target-groups", {"name": "v6", "ipAddressType": "ipv6",
                                                        "region": REGION})
        v4 = self.group(name="v4", region=REGION)
        described = {g["TargetGroupName"]: g["IpAddressType"]
                     for g in self.elb.describe_target_groups()["TargetGroups"]}
        self.assertEqual(described, {"v6": "ipv6", "v4": "ipv4"})
        state = {g["name"]: g["ipAddressType"]
                 for g in self.emu.get("/_emulator/state")["targetGroups"]}
        self.assertEqual(state, {"v6": "ipv6", "v4": "ipv4"})
        self.emu.post("/_emulator/targets", {"arn": v6["arn"],
                                             "targets": ["2600:1f18:4000:a802::9"]})
        self.assertEqual(set(self.states(v6["arn"])), {("2600:1f18:4000:a802::9", 443)})
        for bad in ({"name": "v5", "ipAddressType": "ipv5"},
                    {"name": "fn", "targetType": "lambda", "ipAddressType": "ipv6"}):
            with self.assertRaises(ControlError) as caught:
                self.emu.post("/_emulator/target-groups", bad)
            self.assertEqual(caught.exception.status, 400)
        with self.assertRaises(ControlError) as caught:
            self.emu.post("/_emulator/targets", {"arn": v4, "targets": ["fd00::1"]})
        self.assertEqual(caught.exception.status, 400)
        self.assertIn("is not a valid IPv4 address", str(caught.exception))

    def test_seeding_targets(self):
        arn = self.group(healthyAfter=10)
        result = self.emu.post("/_emulator/targets", {"arn": arn, "state": "healthy", "targets": [
            {"id": "10.0.1.5"}, {"id": "172.20.0.1", "port": 8443, "availabilityZone": "all"}]})
        self.assertEqual(result["registered"], 2)
        self.assertEqual(set(self.states(arn).values()), {("healthy", None)})
        self.assertEqual(self.emu.get("/_emulator/requests")["requests"], [
            r for r in self.emu.get("/_emulator/requests")["requests"]
            if r["action"] == "DescribeTargetHealth"])  # seeding is not an API call
        with self.assertRaises(ControlError) as caught:
            self.emu.post("/_emulator/targets", {"arn": arn, "targets": ["8.8.8.8"]})
        self.assertEqual(caught.exception.status, 400)

    def test_instances(self):
        self.emu.post("/_emulator/instances", {"instances": [
            {"id": "i-0abc1234def567890", "privateIp": "10.0.1.10", "az": "us-east-1a",
             "state": "running", "tags": {"Name": "web-1"}}]})
        listed = self.emu.get("/_emulator/instances")["instances"]
        self.assertEqual(listed[0]["id"], "i-0abc1234def567890")
        self.assertEqual(listed[0]["tags"], {"Name": "web-1"})
        with self.assertRaises(ControlError):
            self.emu.post("/_emulator/instances", {"instances": [{"id": "web-1"}]})
        arn = self.group(name="inst", targetType="instance", protocol="HTTP", port=80)
        self.elb.register_targets(TargetGroupArn=arn, Targets=[{"Id": "i-0abc1234def567890"}])
        self.emu.post("/_emulator/instances", {"instances": [
            {"id": "i-0abc1234def567890", "privateIp": "10.0.1.10", "state": "stopped"}]})
        self.assertTrue(wait_until(lambda: self.states(arn)[("i-0abc1234def567890", 80)] ==
                                   ("unhealthy", "Target.InvalidState"), 5))

    def test_quotas(self):
        quotas = self.emu.post("/_emulator/quotas", {"DescribeTargetGroups": {"rate": 1,
                                                                              "burst": 1},
                                                     "DescribeLoadBalancers": None})
        self.assertEqual(quotas["quotas"]["DescribeTargetGroups"], {"rate": 1.0, "burst": 1.0})
        self.assertEqual(quotas["quotas"]["RegisterTargets"], {"rate": 4.0, "burst": 20.0})
        self.assertIsNone(quotas["quotas"]["DescribeLoadBalancers"])
        self.elb.describe_target_groups()
        with self.assertRaises(botocore.exceptions.ClientError) as caught:
            self.elb.describe_target_groups()
        self.assertEqual(caught.exception.response["Error"]["Code"], "Throttling")
        for _ in range(50):
            self.elb.describe_load_balancers()  # unlimited
        self.emu.reset()
        quotas = self.emu.get("/_emulator/quotas")["quotas"]
        self.assertNotIn("DescribeTargetGroups", quotas)
        self.assertEqual(quotas["Describe*"], {"rate": 10.0, "burst": 40.0})
        self.elb.describe_target_groups()

    def test_request_log_and_stats(self):
        served_before = self.emu.get("/_emulator/stats")["requests"]
        arn = self.group()
        self.elb.register_targets(TargetGroupArn=arn, Targets=[{"Id": "10.0.1.5"}])
        first = self.emu.get("/_emulator/requests")
        entry = first["requests"][0]
        self.assertEqual(entry["seq"], first["lastSeq"])  # seq never restarts
        self.assertEqual(entry["service"], "elasticloadbalancing")
        self.assertEqual(entry["action"], "RegisterTargets")
        self.assertEqual(entry["status"], 200)
        self.assertIsNone(entry["errorCode"])
        self.assertFalse(entry["throttled"])
        self.assertEqual(entry["params"]["Targets.member.1.Id"], "10.0.1.5")
        self.assertEqual(entry["params"]["TargetGroupArn"], arn)
        self.assertIsInstance(entry["time"], float)
        self.assertIsInstance(entry["durationMs"], float)
        with self.assertRaises(botocore.exceptions.ClientError):
            self.elb.register_targets(TargetGroupArn=arn, Targets=[{"Id": "8.8.8.8"}])
        self.elb.describe_target_health(TargetGroupArn=arn)
        later = self.emu.get(f"/_emulator/requests?since={entry['seq']}")
        self.assertEqual([r["action"] for r in later["requests"]],
                         ["RegisterTargets", "DescribeTargetHealth"])
        self.assertEqual(later["requests"][0]["errorCode"], "ValidationError")
        self.assertEqual(later["counts"], {
            "RegisterTargets": {"total": 1, "ok": 0, "throttled": 0, "error": 1},
            "DescribeTargetHealth": {"total": 1, "ok": 1, "throttled": 0, "error": 0}})
        everything = self.emu.get("/_emulator/requests?params=0")
        self.assertEqual(everything["counts"]["RegisterTargets"],
                         {"total": 2, "ok": 1, "throttled": 0, "error": 1})
        self.assertNotIn("params", everything["requests"][0])
        stats = self.emu.get("/_emulator/stats")
        self.assertGreater(stats["cpuSeconds"], 0)
        self.assertEqual(stats["requests"], served_before + 3)  # whole process life
        self.assertGreater(stats["uptime"], 0)
        self.emu.delete("/_emulator/requests")
        self.assertEqual(self.emu.get("/_emulator/requests"),
                         {"requests": [], "counts": {}, "lastSeq": entry["seq"] + 2})

    def test_reset_and_errors(self):
        self.group()
        self.emu.post("/_emulator/faults", {"action": "*", "delayMs": 1})
        self.emu.post("/_emulator/settings", {"healthyAfter": 9})
        self.elb.describe_target_groups()
        self.assertEqual(self.emu.reset(), {"ok": True})
        self.assertEqual(self.emu.get("/_emulator/state")["targetGroups"], [])
        self.assertEqual(self.emu.get("/_emulator/faults"), {"rules": []})
        self.assertEqual(self.emu.get("/_emulator/requests")["requests"], [])
        self.assertEqual(self.emu.get("/_emulator/settings")["healthyAfter"], 0.2)
        self.assertEqual(self.emu.get("/_emulator/health"), {"ok": True})
        self.assertEqual(self.emu.call("GET", "/_emulator/nope")[0], 404)
        self.assertEqual(self.emu.call("PUT", "/_emulator/faults")[0], 405)
        self.assertEqual(self.emu.call("POST", "/_emulator/dead-targets", {"ids": "x"})[0], 400)
        self.assertEqual(self.emu.call("POST", "/_emulator/target-groups", {})[0], 400)


class ConcurrencyTest(ControlTestCase):
    def test_parallel_clients(self):
        self.emu.post("/_emulator/settings", {"throttle": False})
        arn = self.group(healthyAfter=0)
        clients = [self.emu.client("elbv2", region=REGION) for _ in range(4)]
        errors = []

        def work(index, client):
            try:
                for i in range(40):
                    client.register_targets(TargetGroupArn=arn,
                                            Targets=[{"Id": f"10.0.{index}.{i + 1}"}])
                    client.describe_target_health(TargetGroupArn=arn)
            except Exception as error:  # collected and reported by the main thread
                errors.append(error)

        threads = [threading.Thread(target=work, args=(i, c)) for i, c in enumerate(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        self.assertEqual(errors, [])
        self.assertEqual(len(self.states(arn)), 160)
        log = self.emu.get("/_emulator/requests?params=0")
        seqs = [r["seq"] for r in log["requests"]]
        self.assertEqual(seqs, list(range(seqs[0], seqs[0] + len(seqs))))
        self.assertEqual(log["counts"]["RegisterTargets"],
                         {"total": 160, "ok": 160, "throttled": 0, "error": 0})


class ProcessTest(unittest.TestCase):
    def test_sigterm_stops_quickly(self):
        emu = EmulatorProcess().start()
        started = time.monotonic()
        emu.process.send_signal(signal.SIGTERM)
        self.assertEqual(emu.process.wait(10), 0)
        self.assertLess(time.monotonic() - started, 5)
        emu.stop()

    def test_max_lifetime(self):
        emu = EmulatorProcess("--max-lifetime", "1").start()
        self.assertEqual(emu.process.wait(10), 0)
        emu.stop()

    def test_exits_when_parent_dies(self):
        launcher = (
            "import subprocess, sys\n"
            f"p = subprocess.Popen([sys.executable, {EMULATOR!r}, '--port', '0'],"
            " stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
            "print(p.stdout.readline().decode().strip(), p.pid, flush=True)\n")
        # Only the launcher holds our stdout pipe, so run() returns when the launcher exits,
        # right after it read READY: the emulator loses its parent at once.
        output = subprocess.run([sys.executable, "-c", launcher], stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                                timeout=60, check=True).stdout.decode().split()
        self.assertEqual(output[0], "READY")
        pid = int(output[2])
        try:
            self.assertTrue(wait_until(lambda: process_gone(pid), 10))
        finally:
            if not process_gone(pid):
                os.kill(pid, signal.SIGKILL)

    def test_config_file(self):
        config = {
            "account": "210987654321", "region": "eu-west-1",
            "credentials": [{"accessKeyId": "AKIAEXAMPLE", "secretAccessKey": "secret"},
                            "AKIASESSION:secret2:token2"],
            "defaultCredentials": False, "healthyAfter": 0,
            "quotas": {"DescribeTargetGroups": {"rate": 100, "burst": 100}},
            "instances": [{"id": "i-0123456789abcdef0", "privateIp": "10.0.1.10"}],
            "targetGroups": [{"name": "seeded", "protocol": "HTTP", "port": 80,
                              "targetType": "instance", "deregistrationDelay": 5}],
            "faults": [{"action": "DescribeTags", "errorRate": 1.0}],
        }
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
            json.dump(config, handle)
        try:
            with EmulatorProcess("--config", handle.name, "--target-limit", "5") as emu:
                settings = emu.get("/_emulator/settings")
                self.assertEqual(settings["targetLimit"], 5)
                self.assertEqual(settings["healthyAfter"], 0)
                group = emu.get("/_emulator/state")["targetGroups"][0]
                self.assertTrue(group["arn"].startswith(
                    "arn:aws:elasticloadbalancing:eu-west-1:210987654321:targetgroup/seeded/"))
                self.assertEqual(group["deregistrationDelay"], 5)
                elb = emu.client("elbv2", region="eu-west-1", access_key="AKIAEXAMPLE",
                                 secret_key="secret")
                elb.register_targets(TargetGroupArn=group["arn"],
                                     Targets=[{"Id": "i-0123456789abcdef0"}])
                session = emu.client("sts", region="eu-west-1", access_key="AKIASESSION",
                                     secret_key="secret2", session_token="token2")
                self.assertEqual(session.get_caller_identity()["Account"], "210987654321")
                default = emu.client("elbv2", region="eu-west-1")
                with self.assertRaises(botocore.exceptions.ClientError) as caught:
                    default.describe_target_groups()
                self.assertEqual(caught.exception.response["Error"]["Code"],
                                 "InvalidClientTokenId")
                with self.assertRaises(botocore.exceptions.ClientError) as caught:
                    elb.describe_tags(ResourceArns=[group["arn"]])
                self.assertEqual(caught.exception.response["Error"]["Code"],
                                 "ServiceUnavailable")
                emu.reset()  # back to the config's state, seeded objects included
                self.assertEqual(len(emu.get("/_emulator/state")["targetGroups"]), 1)
                self.assertEqual(len(emu.get("/_emulator/faults")["rules"]), 1)
        finally:
            os.unlink(handle.name)

    def test_bad_config_fails_fast(self):
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
            json.dump({"helthyAfter": 1}, handle)
        try:
            result = subprocess.run([sys.executable, EMULATOR, "--config", handle.name],
                                    capture_output=True, timeout=60)
            self.assertEqual(result.returncode, 2)
            self.assertEqual(result.stdout, b"")
            self.assertIn(b"unknown config keys", result.stderr)
        finally:
            os.unlink(handle.name)


if __name__ == "__main__":
    unittest.main(verbosity=2)
