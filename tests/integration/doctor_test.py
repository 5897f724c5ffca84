"""`endpoint-binder doctor` against the emulator and the DNS server: a healthy setup, a missing
target group, and an AWS endpoint that accepts connections but never answers (what a missing
VPC endpoint looks like from a private subnet)."""
import os
import socket
import subprocess
import time
import unittest

from harness import BINARY, REGION, ScenarioTest, tg_binding


class Doctor(ScenarioTest):
    def doctor(self, *extra, env_extra=None):
        env = dict(os.environ, AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test", AWS_REGION=REGION,
                   AWS_ENDPOINT_URL=self.emulator.url, AWS_EC2_METADATA_DISABLED="true")
        env.update(env_extra or {})
        started = time.monotonic()
        out = subprocess.run([BINARY, "doctor", "--manifests", self.manifests, "--dns-server", self.dns.dns,
                              "--timeout", "1", *extra], capture_output=True, text=True, env=env, timeout=60)
        return out, time.monotonic() - started

    def test_healthy_setup_passes_every_check(self):
        arn = self.emulator.create_target_group("doctor-ok")
        self.dns.set("doctor.local", a=["10.0.40.1", "10.0.40.2"], ttl=30)
        self.write_manifest("ok.yaml", tg_binding("ok", arn, "doctor.local"))
        out, _ = self.doctor()
        print(out.stdout)
        self.assertEqual(0, out.returncode, out.stdout + out.stderr)
        for line in ("region ap-northeast-1", "credentials from the environment provider",
                     "sts:GetCallerIdentity: arn:aws:", "DNS doctor.local: 2 addresses",
                     "exists, TargetType ip", "not claimed yet", "DescribeTargetHealth allowed",
                     "all checks passed"):
            self.assertIn(line, out.stdout)
        self.assertNotIn("[FAIL]", out.stdout)

    def test_missing_target_group_and_unresolvable_name_fail(self):
        missing = f"arn:aws:elasticloadbalancing:{REGION}:123456789012:targetgroup/nope/0123456789abcdef"
        self.write_manifest("missing.yaml", tg_binding("missing", missing, "nowhere.local"))
        out, _ = self.doctor()
        print(out.stdout)
        self.assertEqual(1, out.returncode)
        self.assertRegex(out.stdout, r"\[FAIL\] target group nope \(default/missing\): .*TargetGroupNotFound")
        self.assertRegex(out.stdout, r"\[FAIL\] DNS nowhere.local: NXDOMAIN")

    def test_instance_sources_and_events_queue(self):
        fleet = self.emulator.control("POST", "spot-fleets", {"targetCapacity": 2})
        self.emulator.control("POST", "autoscaling-groups", {"name": "web-asg", "desiredCapacity": 1})
        self.emulator.control("POST", "instances/launch", {"count": 3, "tags": {"role": "web"}})
        queue = self.emulator.control("POST", "queues", {"name": "binder-events", "events": True})
        arns = [self.emulator.create_target_group(n, port=80, target_type="instance", protocol="HTTP")
                for n in ("d-fleet", "d-asg", "d-ec2", "d-gone")]
        def binding(name, arn, source):
            return (f"apiVersion: endpointbinder.io/v1alpha1\nkind: TargetGroupBinding\nmetadata: {{name: {name}}}\n"
                    f"spec:\n  targetGroupARN: {arn}\n  targetType: instance\n  source: {source}\n")
        self.write_manifest("fleet.yaml", binding("fleet", arns[0], f"{{spotFleet: {{requestId: {fleet['id']}}}}}"))
        self.write_manifest("asg.yaml", binding("asg", arns[1], "{autoScalingGroup: {name: web-asg}}"))
        self.write_manifest("ec2.yaml", binding("ec2", arns[2], "{ec2: {filters: [{name: 'tag:role', values: [web]}]}}"))
        self.write_manifest("gone.yaml", binding("gone", arns[3], "{autoScalingGroup: {name: no-such-asg}}"))
        out, _ = self.doctor("--events-queue-url", queue["url"])
        print(out.stdout)
        self.assertEqual(1, out.returncode, "the missing group fails")
        for line in ("[ OK ] ec2 endpoint", "[ OK ] autoscaling endpoint", "[ OK ] sqs endpoint",
                     f"[ OK ] Spot Fleet {fleet['id']} (default/fleet): active, 2 active instances",
                     "[ OK ] Auto Scaling group web-asg (default/asg): 1 of 1 instances InService",
                     "[ OK ] ec2 source tag:role=web (default/ec2): 3 instances match",
                     "[FAIL] Auto Scaling group no-such-asg (default/gone): not found",
                     "[ OK ] events queue arn:aws:sqs:"):
            self.assertIn(line, out.stdout)
        out, _ = self.doctor("--events-queue-url", queue["url"].rsplit("/", 1)[0] + "/nope")
        self.assertRegex(out.stdout, r"\[FAIL\] events queue .*/nope: .*NonExistentQueue")

    def test_record_binding_zones_exist_are_private_and_associated(self):
        vpc = {"region": REGION, "vpcId": "vpc-0123456789abcdef0"}
        other = {"region": "eu-west-1", "vpcId": "vpc-0fedcba9876543210"}
        self.emulator.control("POST", "route53/zones", {"name": "corp.internal", "id": "ZCORP1", "vpcs": [vpc, other]})
        self.emulator.control("POST", "route53/zones", {"name": "10.in-addr.arpa", "id": "ZREV10", "vpcs": [vpc]})
        self.emulator.control("POST", "route53/zones", {"name": "pub.example", "id": "ZPUBLIC", "private": False})
        self.emulator.control("POST", "route53/zones", {"name": "flat.internal", "id": "ZFLAT", "vpcs": [vpc]})
        self.emulator.control("POST", "instances/launch", {"count": 2, "tags": {"dns": "true"}})
        def binding(name, zone, reverse=None):
            text = (f"apiVersion: endpointbinder.io/v1alpha1\nkind: DNSRecordBinding\nmetadata: {{name: {name}}}\n"
                    f"spec:\n  hostedZoneId: {zone}\n  source: {{ec2: {{filters: [{{name: 'tag:dns', values: ['true']}}]}}}}\n")
            return text + (f"  reverseHostedZoneId: {reverse}\n" if reverse else "")
        self.write_manifest("names.yaml", binding("names", "ZCORP1", reverse="ZREV10"))
        self.write_manifest("more.yaml", binding("more", "ZCORP1"))
        out, _ = self.doctor()
        print(out.stdout)
        self.assertEqual(0, out.returncode, out.stdout + out.stderr)
        for line in ("[ OK ] manifests: 0 target group bindings and 2 DNS record bindings valid",
                     "[ OK ] ec2 source tag:dns=true (default/more): 2 instances match",
                     "[ OK ] route53 endpoint",
                     # One read per zone, naming every binding that uses it.
                     "[ OK ] hosted zone corp.internal. ZCORP1 (default/more, default/names): private, "
                     "associated with 2 VPCs: vpc-0123456789abcdef0 (ap-northeast-1), vpc-0fedcba9876543210 (eu-west-1)",
                     "[ OK ] hosted zone 10.in-addr.arpa. ZREV10 (default/names reverse): private, "
                     "associated with 1 VPC: vpc-0123456789abcdef0 (ap-northeast-1)", "all checks passed"):
            self.assertIn(line, out.stdout)
        self.assertEqual(1, out.stdout.count("hosted zone corp.internal."))

        # A public zone, a missing zone, and a "reverse" zone that is not under in-addr.arpa.
        self.write_manifest("names.yaml", binding("names", "ZPUBLIC", reverse="ZFLAT"))
        self.write_manifest("more.yaml", binding("more", "ZNOSUCHZONE"))
        out, _ = self.doctor()
        print(out.stdout)
        self.assertEqual(1, out.returncode)
        self.assertIn("[FAIL] hosted zone pub.example. ZPUBLIC (default/names): is public\n"
                      "       a DNSRecordBinding writes private hosted zones only", out.stdout)
        self.assertRegex(out.stdout, r"\[FAIL\] hosted zone ZNOSUCHZONE \(default/more\): .*NoSuchHostedZone.*\n"
                                     r"       check the id \(without /hostedzone/\)")
        self.assertIn("[WARN] hosted zone flat.internal. ZFLAT (default/names reverse): is named as a reverse zone "
                      "for A records but is not under in-addr.arpa.: no PTR record can be written to it", out.stdout)
        self.assertIn("2 checks failed", out.stdout)

    def test_endpoint_that_never_answers_is_reported_as_missing_vpc_endpoint(self):
        # Accepts TCP connections (the kernel completes them from the backlog) but never answers.
        silent = socket.socket()
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        self.addCleanup(silent.close)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        arn = self.emulator.create_target_group("doctor-hang")
        self.write_manifest("hang.yaml", tg_binding("hang", arn, static=["10.0.41.1"]))
        out, elapsed = self.doctor(env_extra={"AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2": url})
        print(out.stdout)
        self.assertEqual(1, out.returncode)
        self.assertIn(f"[FAIL] elasticloadbalancing endpoint {url} unreachable", out.stdout)
        self.assertIn("missing VPC endpoint (com.amazonaws.ap-northeast-1.elasticloadbalancing)", out.stdout)
        self.assertIn("[ OK ] sts endpoint", out.stdout)
        self.assertLess(elapsed, 30, "short timeouts: doctor must not hang")


if __name__ == "__main__":
    unittest.main(verbosity=2)
