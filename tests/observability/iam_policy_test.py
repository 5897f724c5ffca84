"""`endpoint-binder iam-policy PATH...`: the exact policy JSON for manifests/examples and for
manifest sets written here (sorting, de-duplication, partitions, every source kind), exit 1
with diagnostics on invalid input, and every action checked against the AWS service models of
botocore (an action name AWS does not have would make the policy useless).

Run with /usr/bin/python3 (python3-botocore) after building the binary.
"""
import json
import os
import re
import subprocess
import tempfile
import textwrap
import unittest

import botocore.session

ROOT = os.environ.get("EB_SOURCE_DIR") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN_DIR = os.environ.get("EB_BIN_DIR") or os.path.join(ROOT, "build", "bin")
BINARY = os.path.join(BIN_DIR, "endpoint-binder")
EXAMPLES = os.path.join(ROOT, "manifests", "examples")
# IAM service prefix -> botocore service model.
IAM_SERVICES = {"elasticloadbalancing": "elbv2", "sts": "sts", "ec2": "ec2", "autoscaling": "autoscaling",
                "route53": "route53", "sqs": "sqs", "ssm": "ssm", "kms": "kms", "sns": "sns",
                "s3": "s3"}
# IAM actions named differently from the API operation they allow.
IAM_ACTION_OPERATIONS = {"s3:ListBucket": "ListObjectsV2"}
TG = "arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup/"

DESCRIBE_TARGET_GROUPS = {
    "Sid": "DescribeTargetGroups", "Effect": "Allow",
    "Action": ["elasticloadbalancing:DescribeTags", "elasticloadbalancing:DescribeTargetGroups",
               "elasticloadbalancing:DescribeTargetHealth"],
    "Resource": "*",
}
CALLER_IDENTITY = {"Sid": "CallerIdentity", "Effect": "Allow", "Action": ["sts:GetCallerIdentity"], "Resource": "*"}


def change_targets(arns):
    return {"Sid": "ChangeBoundTargets", "Effect": "Allow",
            "Action": ["elasticloadbalancing:DeregisterTargets", "elasticloadbalancing:RegisterTargets"],
            "Resource": arns}


def claim(arns):
    return {"Sid": "ClaimBoundTargetGroups", "Effect": "Allow", "Action": ["elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags"],
            "Resource": arns,
            "Condition": {"ForAllValues:StringEquals": {"aws:TagKeys": ["endpointbinder.io/owner"]}}}


def sources(actions):
    return {"Sid": "DescribeInstanceSources", "Effect": "Allow", "Action": actions, "Resource": "*"}


def records(zones, partition="aws"):
    return [{"Sid": "ChangeBoundRecords", "Effect": "Allow",
             "Action": ["route53:ChangeResourceRecordSets", "route53:GetHostedZone",
                        "route53:ListResourceRecordSets"],
             "Resource": [f"arn:{partition}:route53:::hostedzone/{z}" for z in zones]},
            {"Sid": "WaitForRecordChanges", "Effect": "Allow", "Action": ["route53:GetChange"],
             "Resource": [f"arn:{partition}:route53:::change/*"]}]


def notifications(parameters=(), topics=(), region="ap-northeast-1", account="123456789012"):
    """The notification statements: Slack webhook parameters (read, decrypt through SSM) and
    SNS topics."""
    out = []
    if parameters:
        out.append({"Sid": "ReadSlackWebhookUrls", "Effect": "Allow", "Action": ["ssm:GetParameter"],
                    "Resource": [f"arn:aws:ssm:{region}:{account}:parameter{p}" for p in parameters]})
        out.append({"Sid": "DecryptSlackWebhookUrls", "Effect": "Allow", "Action": ["kms:Decrypt"],
                    "Resource": [f"arn:aws:kms:{region}:{account}:key/*"],
                    "Condition": {"StringEquals": {"kms:ViaService": [f"ssm.{region}.amazonaws.com"]}}})
    if topics:
        out.append({"Sid": "PublishNotifications", "Effect": "Allow",
                    "Action": ["sns:GetTopicAttributes", "sns:Publish"], "Resource": list(topics)})
    return out


def policy(*statements):
    flat = []
    for s in statements:
        flat.extend(s if isinstance(s, list) else [s])
    return {"Version": "2012-10-17", "Statement": flat}


def tgb(name, arn, source, namespace="default", target_type="ip"):
    return textwrap.dedent(f"""\
        apiVersion: endpointbinder.io/v1alpha1
        kind: TargetGroupBinding
        metadata: {{name: {name}, namespace: {namespace}}}
        spec:
          targetGroupARN: {arn}
          targetType: {target_type}
          source: {source}
        """)


def dnsrb(name, zone, source, reverse=None):
    return textwrap.dedent(f"""\
        apiVersion: endpointbinder.io/v1alpha1
        kind: DNSRecordBinding
        metadata: {{name: {name}}}
        spec:
          hostedZoneId: {zone}
          source: {source}
        """) + (f"  reverseHostedZoneId: {reverse}\n" if reverse else "")


class IamPolicy(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.path.exists(BINARY):
            raise AssertionError(f"{BINARY} not built")
        session = botocore.session.get_session()
        cls.operations = {prefix: set(session.get_service_model(model).operation_names)
                          for prefix, model in IAM_SERVICES.items()}

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="eb-iam-")
        self.addCleanup(self.tmp.cleanup)

    def run_cli(self, *args):
        return subprocess.run([BINARY, "iam-policy", *args], capture_output=True, text=True, timeout=30)

    def write(self, filename, *documents):
        path = os.path.join(self.tmp.name, filename)
        with open(path, "w") as f:
            f.write("---\n".join(documents))
        return path

    def assert_policy(self, expected, *args):
        r = self.run_cli(*args)
        self.assertEqual(0, r.returncode, r.stderr)
        self.assertEqual("", r.stderr)
        # Exactly this text: two-space JSON as json.dumps writes it, then a newline.
        self.assertEqual(json.dumps(expected, indent=2) + "\n", r.stdout)
        self.check_policy_is_valid(json.loads(r.stdout))
        return r.stdout

    def check_policy_is_valid(self, doc):
        """IAM's grammar and AWS's action names."""
        self.assertEqual("2012-10-17", doc["Version"])
        sids = [s["Sid"] for s in doc["Statement"]]
        self.assertEqual(len(sids), len(set(sids)))
        for s in doc["Statement"]:
            self.assertRegex(s["Sid"], r"^[A-Za-z0-9]+$", "IAM Sids are alphanumeric")
            self.assertEqual("Allow", s["Effect"])
            self.assertEqual(sorted(set(s["Action"])), s["Action"], "sorted, no duplicates")
            for action in s["Action"]:
                prefix, _, operation = action.partition(":")
                operation = IAM_ACTION_OPERATIONS.get(action, operation)
                self.assertIn(prefix, self.operations, action)
                self.assertIn(operation, self.operations[prefix], f"{action} is not an AWS action")
            resources = [s["Resource"]] if isinstance(s["Resource"], str) else s["Resource"]
            self.assertEqual(sorted(set(resources)), resources)
            for resource in resources:
                self.assertRegex(resource, r"^(\*|arn:aws[a-z-]*:(elasticloadbalancing|route53|sqs|ssm|kms|sns|s3|iam):[^*]*(\*)?)$")

    def test_examples(self):
        expected = policy(
            DESCRIBE_TARGET_GROUPS,
            change_targets([TG + "api-spot-8080/9c1e5f0b7a3d2e64", TG + "f-iot-dashboards-tg/4ab4dba084c2bb5c",
                            TG + "onprem-historian/1f0c9a7e3b5d2468", TG + "web-nlb-to-alb-443/73e2d6bc24d8a067"]),
            claim([TG + "api-spot-8080/9c1e5f0b7a3d2e64", TG + "f-iot-dashboards-tg/4ab4dba084c2bb5c",
                   TG + "onprem-historian/1f0c9a7e3b5d2468", TG + "web-nlb-to-alb-443/73e2d6bc24d8a067"]),
            # spotFleet (api-spot-fleet) and ec2 (the DNSRecordBinding internal-names).
            sources(["ec2:DescribeInstances", "ec2:DescribeSpotFleetInstances",
                     "ec2:DescribeSpotFleetRequests"]),
            # The forward and the reverse zone of internal-names.
            records(["Z04517273P2QJMRVBE6KD", "Z07615331DW2RVXN8PQ4K"]),
            notifications(["/endpoint-binder/slack-webhook"],
                          ["arn:aws:sns:ap-northeast-1:123456789012:web-ops-alerts"]),
            CALLER_IDENTITY)
        text = self.assert_policy(expected, EXAMPLES)
        # A single file gives its own, smaller policy.
        self.assert_policy(policy(DESCRIBE_TARGET_GROUPS,
                                  change_targets([TG + "f-iot-dashboards-tg/4ab4dba084c2bb5c"]),
                                  claim([TG + "f-iot-dashboards-tg/4ab4dba084c2bb5c"]),
                                  notifications(["/endpoint-binder/slack-webhook"]), CALLER_IDENTITY),
                           os.path.join(EXAMPLES, "opensearch-dashboards-alb.yaml"))
        if os.environ.get("EB_TEST_VERBOSE"):
            print(text)

    def test_sorted_deduplicated_and_every_source_kind(self):
        # Files are read in sorted order; ARNs must come out sorted whatever the order.
        self.write("a.yaml",
                   tgb("zeta", TG + "zz-last/0000000000000001", "{static: {addresses: [10.0.0.1]}}"),
                   tgb("asg", TG + "aa-first/0000000000000002",
                       "{autoScalingGroup: {name: web-asg}}", target_type="instance"))
        self.write("b.yaml",
                   tgb("names", TG + "mm-middle/0000000000000003", "{dns: {hostname: db.example.internal}}"),
                   dnsrb("one", "ZB0000000000000000002", "{ec2: {filters: [{name: 'tag:dns', values: ['true']}]}}"),
                   dnsrb("two", "ZA0000000000000000001", "{spotFleet: {requestId: sfr-0d4b0a3e-5c1f-4c9e-9a7b-2f6e8d1c3b5a}}"),
                   dnsrb("three", "ZB0000000000000000002", "{autoScalingGroup: {name: other}}"))
        arns = [TG + "aa-first/0000000000000002", TG + "mm-middle/0000000000000003", TG + "zz-last/0000000000000001"]
        self.assert_policy(policy(
            DESCRIBE_TARGET_GROUPS, change_targets(arns), claim(arns),
            sources(["autoscaling:DescribeAutoScalingGroups", "ec2:DescribeInstances",
                     "ec2:DescribeSpotFleetInstances", "ec2:DescribeSpotFleetRequests"]),
            records(["ZA0000000000000000001", "ZB0000000000000000002"]),
            CALLER_IDENTITY), self.tmp.name)

    def test_dns_and_static_sources_need_no_source_permissions(self):
        path = self.write("x.yaml", tgb("a", TG + "a/0000000000000001", "{dns: {hostname: a.example.internal}}"),
                          tgb("b", TG + "b/0000000000000002", "{static: {addresses: [10.0.0.1]}}"))
        arns = [TG + "a/0000000000000001", TG + "b/0000000000000002"]
        self.assert_policy(policy(DESCRIBE_TARGET_GROUPS, change_targets(arns), claim(arns), CALLER_IDENTITY), path)

    def test_route53_only_and_partitions(self):
        path = self.write("names.yaml", dnsrb("n", "Z0123456789ABCDEFGHIJ", "{ec2: {filters: [{name: 'tag:dns', values: ['true']}]}}"))
        expected = policy(sources(["ec2:DescribeInstances"]), records(["Z0123456789ABCDEFGHIJ"]), CALLER_IDENTITY)
        self.assert_policy(expected, path)
        self.assert_policy(policy(sources(["ec2:DescribeInstances"]), records(["Z0123456789ABCDEFGHIJ"], "aws-cn"),
                                  CALLER_IDENTITY), path, "--partition", "aws-cn")
        # The target groups' partition is the default for Route 53 ARNs.
        cn = "arn:aws-cn:elasticloadbalancing:cn-north-1:123456789012:targetgroup/cn/0000000000000001"
        self.write("tg.yaml", tgb("cn", cn, "{static: {addresses: [10.0.0.1]}}"))
        self.assert_policy(policy(DESCRIBE_TARGET_GROUPS, change_targets([cn]), claim([cn]),
                                  sources(["ec2:DescribeInstances"]),
                                  records(["Z0123456789ABCDEFGHIJ"], "aws-cn"), CALLER_IDENTITY), self.tmp.name)
        r = self.run_cli(path, "--partition", "AWS CN")
        self.assertEqual(2, r.returncode)

    def test_reverse_zones_are_granted_like_forward_zones(self):
        # Two bindings share a reverse zone; one reverse zone is another binding's forward zone.
        ec2 = "{ec2: {filters: [{name: 'tag:dns', values: ['true']}]}}"
        path = self.write("ptr.yaml",
                          dnsrb("a", "ZC0000000000000000003", ec2, reverse="ZR0000000000000000009"),
                          dnsrb("b", "ZA0000000000000000001", "{autoScalingGroup: {name: web}}",
                                reverse="ZR0000000000000000009"),
                          dnsrb("c", "ZR0000000000000000009", ec2))
        expected = policy(sources(["autoscaling:DescribeAutoScalingGroups", "ec2:DescribeInstances"]),
                          records(["ZA0000000000000000001", "ZC0000000000000000003", "ZR0000000000000000009"]),
                          CALLER_IDENTITY)
        self.assert_policy(expected, path)
        doc = json.loads(self.run_cli(path, "--partition", "aws-us-gov").stdout)
        zones = next(s for s in doc["Statement"] if s["Sid"] == "ChangeBoundRecords")
        self.assertIn("route53:GetHostedZone", zones["Action"], "doctor and the reconciler read the zone")
        self.assertIn("arn:aws-us-gov:route53:::hostedzone/ZR0000000000000000009", zones["Resource"])

    def test_events_queue_is_granted_on_that_queue_only(self):
        path = self.write("asg.yaml", tgb("asg", TG + "asg/0000000000000001", "{autoScalingGroup: {name: web}}",
                                          target_type="instance"))
        arns = [TG + "asg/0000000000000001"]
        queue = {"Sid": "ReadInstanceEvents", "Effect": "Allow",
                 "Action": ["sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"],
                 "Resource": ["arn:aws:sqs:ap-northeast-1:123456789012:binder-events"]}
        self.assert_policy(policy(DESCRIBE_TARGET_GROUPS, change_targets(arns), claim(arns),
                                  sources(["autoscaling:DescribeAutoScalingGroups", "ec2:DescribeInstances"]),
                                  queue, CALLER_IDENTITY),
                           path, "--events-queue-url",
                           "https://sqs.ap-northeast-1.amazonaws.com/123456789012/binder-events")
        cn = json.loads(self.run_cli(path, "--events-queue-url",
                                     "https://sqs.cn-north-1.amazonaws.com.cn/123456789012/q").stdout)
        self.assertIn(dict(queue, Resource=["arn:aws-cn:sqs:cn-north-1:123456789012:q"]), cn["Statement"])
        for bad in ("http://127.0.0.1:4566/123456789012/q", "https://sqs.eu-west-1.amazonaws.com/q",
                    "https://sqs.eu-west-1.amazonaws.com/12345/q", "binder-events"):
            r = self.run_cli(path, "--events-queue-url", bad)
            self.assertEqual(2, r.returncode, bad)
            self.assertEqual("", r.stdout)
            self.assertIn("is not an SQS queue URL", r.stderr)

    def test_s3_manifests_are_granted_on_their_prefix_only(self):
        path = self.write("a.yaml", tgb("a", TG + "a/0000000000000001", "{dns: {hostname: a.local}}"))
        arns = [TG + "a/0000000000000001"]
        listing = {"Sid": "ManifestsList", "Effect": "Allow", "Action": ["s3:ListBucket"],
                   "Resource": ["arn:aws:s3:::eb-manifests"],
                   "Condition": {"StringEquals": {"s3:prefix": ["prod/"]}}}
        reading = {"Sid": "ManifestsRead", "Effect": "Allow", "Action": ["s3:GetObject"],
                   "Resource": ["arn:aws:s3:::eb-manifests/prod/*"]}
        self.assert_policy(policy(DESCRIBE_TARGET_GROUPS, change_targets(arns), claim(arns), listing, reading,
                                  CALLER_IDENTITY),
                           path, "--manifests", "s3://eb-manifests/prod/")
        # Two prefixes of one bucket, and a whole bucket (no prefix: no condition).
        doc = json.loads(self.run_cli(path, "--manifests", "s3://eb-manifests/prod/", "--manifests",
                                      "s3://eb-manifests/shared/", "--manifests", "s3://other-bucket").stdout)
        self.check_policy_is_valid(doc)
        by_sid = {s["Sid"]: s for s in doc["Statement"]}
        self.assertEqual({"StringEquals": {"s3:prefix": ["prod/", "shared/"]}}, by_sid["ManifestsList1"]["Condition"])
        self.assertEqual(["arn:aws:s3:::other-bucket"], by_sid["ManifestsList2"]["Resource"])
        self.assertNotIn("Condition", by_sid["ManifestsList2"])
        self.assertEqual(["arn:aws:s3:::eb-manifests/prod/*", "arn:aws:s3:::eb-manifests/shared/*",
                          "arn:aws:s3:::other-bucket/*"], by_sid["ManifestsRead"]["Resource"])
        for bad in ("manifests/", "s3://Bad_Bucket/x/", "https://eb-manifests.s3.amazonaws.com/prod/"):
            r = self.run_cli(path, "--manifests", bad)
            self.assertEqual(2, r.returncode, bad)
            self.assertEqual("", r.stdout)
            self.assertIn("is not an S3 location", r.stderr)

    def test_notifications_are_scoped_to_their_parameters_keys_and_topics(self):
        def with_notifications(name, arn, entries):
            return tgb(name, arn, "{static: {addresses: [10.0.0.1]}}") + "  notifications:\n" + "".join(
                f"    - {entry}\n" for entry in entries)
        tokyo = TG + "a/0000000000000001"
        ireland = "arn:aws:elasticloadbalancing:eu-west-1:210987654321:targetgroup/b/0000000000000002"
        path = self.write("n.yaml",
                          with_notifications("a", tokyo, [
                              "{slackWebhookSecretRef: {ssmParameter: /eb/slack}}",
                              "{snsTopicARN: arn:aws:sns:ap-northeast-1:123456789012:ops}"]),
                          with_notifications("b", ireland, [
                              "{slackWebhookSecretRef: {ssmParameter: /eb/slack}}",
                              "{snsTopicARN: arn:aws:sns:us-east-1:123456789012:ops}",
                              "{snsTopicARN: arn:aws:sns:ap-northeast-1:123456789012:ops}"]))
        doc = json.loads(self.run_cli(path).stdout)
        self.check_policy_is_valid(doc)
        by_sid = {s["Sid"]: s for s in doc["Statement"]}
        # Each parameter in the Region and account its binding's target group names.
        self.assertEqual(by_sid["ReadSlackWebhookUrls"]["Resource"],
                         ["arn:aws:ssm:ap-northeast-1:123456789012:parameter/eb/slack",
                          "arn:aws:ssm:eu-west-1:210987654321:parameter/eb/slack"])
        self.assertEqual(by_sid["DecryptSlackWebhookUrls"]["Resource"],
                         ["arn:aws:kms:ap-northeast-1:123456789012:key/*",
                          "arn:aws:kms:eu-west-1:210987654321:key/*"])
        self.assertEqual(by_sid["DecryptSlackWebhookUrls"]["Condition"],
                         {"StringEquals": {"kms:ViaService": ["ssm.ap-northeast-1.amazonaws.com",
                                                              "ssm.eu-west-1.amazonaws.com"]}})
        self.assertEqual(by_sid["PublishNotifications"]["Resource"],
                         ["arn:aws:sns:ap-northeast-1:123456789012:ops",
                          "arn:aws:sns:us-east-1:123456789012:ops"])
        # Without notifications, none of it.
        plain = self.write("plain.yaml", tgb("p", tokyo, "{static: {addresses: [10.0.0.1]}}"))
        sids = [s["Sid"] for s in json.loads(self.run_cli(plain).stdout)["Statement"]]
        self.assertFalse({"ReadSlackWebhookUrls", "DecryptSlackWebhookUrls", "PublishNotifications"} & set(sids))

    def test_roles_of_other_accounts(self):
        """Groups reached through spec.assumeRoleARN: the task role may assume exactly those
        roles (and needs no ELBv2 permission for them); --role-policies prints each role's
        trust policy (the controller's role, the bindings' external ids) and permissions."""
        other = "arn:aws:elasticloadbalancing:ap-northeast-1:222233334444:targetgroup/"
        role = "arn:aws:iam::222233334444:role/eb-target"
        role2 = "arn:aws:iam::555566667777:role/eb"
        other2 = "arn:aws:elasticloadbalancing:ap-northeast-1:555566667777:targetgroup/"
        static = "{static: {addresses: [10.0.0.1]}}"
        path = self.write(
            "m.yaml", tgb("own", TG + "own/0000000000000001", static),
            tgb("a", other + "a/0000000000000002", static)
            + f"  assumeRoleARN: {role}\n  externalId: team-a\n",
            tgb("b", other + "b/0000000000000003", static)
            + f"  assumeRoleARN: {role}\n  externalId: team-b\n",
            tgb("c", other2 + "c/0000000000000004", static) + f"  assumeRoleARN: {role2}\n")
        own = [TG + "own/0000000000000001"]
        self.assert_policy(policy(DESCRIBE_TARGET_GROUPS, change_targets(own), claim(own),
                                  {"Sid": "AssumeTargetAccountRoles", "Effect": "Allow",
                                   "Action": ["sts:AssumeRole"], "Resource": [role, role2]},
                                  CALLER_IDENTITY), path)
        controller = "arn:aws:iam::123456789012:role/eb-task"
        r = self.run_cli("--role-policies", "--controller-role-arn", controller, path)
        self.assertEqual(0, r.returncode, r.stderr)
        printed = json.loads(r.stdout)
        self.assertEqual(json.dumps(printed, indent=2) + "\n", r.stdout)

        def trust(external_ids):
            statement = {"Sid": "EndpointBinderController", "Effect": "Allow",
                         "Principal": {"AWS": controller}, "Action": "sts:AssumeRole"}
            if external_ids:
                statement["Condition"] = {"StringEquals": {"sts:ExternalId": external_ids}}
            return {"Version": "2012-10-17", "Statement": [statement]}

        groups_a = [other + "a/0000000000000002", other + "b/0000000000000003"]
        groups_c = [other2 + "c/0000000000000004"]
        self.assertEqual({
            role: {"TrustPolicy": trust(["team-a", "team-b"]),
                   "PermissionPolicy": policy(DESCRIBE_TARGET_GROUPS, change_targets(groups_a),
                                              claim(groups_a))},
            role2: {"TrustPolicy": trust([]),
                    "PermissionPolicy": policy(DESCRIBE_TARGET_GROUPS, change_targets(groups_c),
                                               claim(groups_c))},
        }, printed)
        for documents in printed.values():
            self.check_policy_is_valid(documents["PermissionPolicy"])

        r = self.run_cli("--role-policies", path)
        self.assertEqual(2, r.returncode)
        self.assertIn("--controller-role-arn", r.stderr)
        r = self.run_cli("--role-policies", "--controller-role-arn", "arn:aws:iam::1:user/x", path)
        self.assertEqual(2, r.returncode)
        self.assertIn("--controller-role-arn", r.stderr)
        r = self.run_cli("--role-policies", "--controller-role-arn", controller,
                         self.write("plain.yaml", tgb("own", TG + "own/0000000000000001", static)))
        self.assertEqual(1, r.returncode)
        self.assertIn("no binding names spec.assumeRoleARN", r.stderr)

    def test_role_policies_warn_when_a_binding_of_a_role_sends_no_external_id(self):
        other = "arn:aws:elasticloadbalancing:ap-northeast-1:222233334444:targetgroup/"
        role = "arn:aws:iam::222233334444:role/eb-target"
        static = "{static: {addresses: [10.0.0.1]}}"
        path = self.write(
            "m.yaml",
            tgb("a", other + "a/0000000000000002", static) + f"  assumeRoleARN: {role}\n  externalId: x-1\n",
            tgb("b", other + "b/0000000000000003", static) + f"  assumeRoleARN: {role}\n")
        r = self.run_cli("--role-policies", "--controller-role-arn",
                         "arn:aws:iam::123456789012:role/eb-task", path)
        self.assertEqual(0, r.returncode, r.stderr)
        self.assertIn("binding default/b assumes " + role + " without an externalId", r.stderr)
        self.assertNotIn("default/a", r.stderr)

    def test_invalid_manifests_print_diagnostics_and_no_policy(self):
        good = self.write("good.yaml", tgb("ok", TG + "ok/0000000000000001", "{static: {addresses: [10.0.0.1]}}"))
        bad = self.write("bad.yaml", tgb("bad", TG + "bad/0000000000000002", "{dns: {hostnme: a.example.internal}}"))
        r = self.run_cli(self.tmp.name)
        self.assertEqual(1, r.returncode)
        self.assertEqual("", r.stdout, "no partial policy")
        self.assertRegex(r.stderr, re.escape(bad) + r":\d+:\d+: spec\.source\.dns")
        self.assertNotIn(good, r.stderr)
        self.assertIn("no policy printed", r.stderr)

        r = self.run_cli(os.path.join(self.tmp.name, "missing.yaml"))
        self.assertEqual(1, r.returncode)
        self.assertEqual("", r.stdout)
        self.assertIn("missing.yaml", r.stderr)

    def test_no_bindings_is_an_error(self):
        empty = os.path.join(self.tmp.name, "empty")
        os.mkdir(empty)
        r = self.run_cli(empty)
        self.assertEqual(1, r.returncode)
        self.assertEqual("", r.stdout)
        self.assertIn("no bindings", r.stderr)

    def test_usage(self):
        r = self.run_cli()
        self.assertEqual(2, r.returncode, "a path is required")
        r = subprocess.run([BINARY, "iam-policy", "--help"], capture_output=True, text=True, timeout=30)
        self.assertEqual(0, r.returncode)
        self.assertIn("--partition", r.stdout)


if __name__ == "__main__":
    unittest.main(verbosity=2)
