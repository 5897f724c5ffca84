#!/usr/bin/python3
"""Several AWS accounts in the emulator, driven by boto3: STS AssumeRole and what its
credentials may do.

AssumeRole against the role table (config key `roles`, control API /_emulator/roles): trust
by account and by ARN (role sessions included), ExternalId rules, AccessDenied wording,
parameter validation, DurationSeconds bounds and the stsDurationSeconds override. Target
groups in other accounts (control API `account`/ARN), which account a call acts in (ELBv2
lookups, AccessDenied for another account's resource), the request log's account field and
throttling buckets per account.
Run: /usr/bin/python3 tests/emulator/accounts_conformance_test.py
"""

import datetime
import json
import os
import subprocess
import sys
import tempfile
import time
import unittest
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import botocore.exceptions  # noqa: E402
from botocore import UNSIGNED  # noqa: E402
from botocore.config import Config  # noqa: E402

from awsemu.harness import EMULATOR, AwsErrorAssertions, ControlError, EmulatorProcess  # noqa: E402
from conformance_test import signed_request  # noqa: E402

REGION = "eu-west-1"
DEFAULT = "123456789012"  # the emulator's account: the default test/test key's
OTHER = "210987654321"  # the account whose target groups the binder reaches by role
THIRD = "555555555555"
BINDER_ROLE = f"arn:aws:iam::{OTHER}:role/binder-access"
USER_ROLE = f"arn:aws:iam::{OTHER}:role/team/by-user"
OPEN_ROLE = f"arn:aws:iam::{OTHER}:role/no-external-id"
CHAINED_ROLE = f"arn:aws:iam::{THIRD}:role/chained"
CALLER = f"arn:aws:iam::{DEFAULT}:user/test"
ROLES = [
    {"arn": BINDER_ROLE, "externalId": "binder-ext-1", "trusted": [DEFAULT]},
    {"arn": USER_ROLE, "trusted": [CALLER]},
    {"arn": OPEN_ROLE, "trusted": [f"arn:aws:iam::{DEFAULT}:root"]},
    # Trusts sessions of binder-access only (role chaining).
    {"arn": CHAINED_ROLE, "trusted": [f"arn:aws:iam::{OTHER}:role/binder-access"]},
]
VPC = "vpc-0123456789abcdef0"

EMU = None
CONFIG_PATH = None


def setUpModule():
    global EMU, CONFIG_PATH
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump({"region": REGION, "healthyAfter": 0, "roles": ROLES}, handle)
        CONFIG_PATH = handle.name
    EMU = EmulatorProcess("--config", CONFIG_PATH).start()


def tearDownModule():
    EMU.stop()
    os.unlink(CONFIG_PATH)


def denied(role_arn, caller=CALLER):
    return f"User: {caller} is not authorized to perform: sts:AssumeRole on resource: {role_arn}"


class AccountsTestCase(AwsErrorAssertions, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.emu = EMU
        cls.sts = EMU.client("sts", region=REGION)
        cls.raw_sts = EMU.client("sts", region=REGION, validate=False)
        cls.elb = EMU.client("elbv2", region=REGION)

    def setUp(self):
        self.emu.reset()


    def assume(self, role=BINDER_ROLE, session="binder", client=None, **extra):
        if role == BINDER_ROLE and "ExternalId" not in extra:
            extra["ExternalId"] = "binder-ext-1"
        return (client or self.sts).assume_role(RoleArn=role, RoleSessionName=session, **extra)

    def client_for(self, service, result):
        credentials = result["Credentials"]
        return self.emu.client(service, region=REGION, access_key=credentials["AccessKeyId"],
                               secret_key=credentials["SecretAccessKey"],
                               session_token=credentials["SessionToken"])


class AssumeRoleTest(AccountsTestCase):
    def test_success_issues_credentials_of_the_roles_account(self):
        before = datetime.datetime.now(datetime.timezone.utc)
        result = self.assume()
        credentials = result["Credentials"]
        self.assertTrue(credentials["AccessKeyId"].startswith("ASIA"))
        self.assertTrue(credentials["SecretAccessKey"] and credentials["SessionToken"])
        remaining = (credentials["Expiration"] - before).total_seconds()
        self.assertTrue(3590 < remaining <= 3601, remaining)  # DurationSeconds defaults to 1 h
        user = result["AssumedRoleUser"]
        self.assertEqual(user["Arn"], f"arn:aws:sts::{OTHER}:assumed-role/binder-access/binder")
        self.assertRegex(user["AssumedRoleId"], r"^AROA[0-9A-Z]{17}:binder$")
        self.assertNotIn("PackedPolicySize", result)
        identity = self.client_for("sts", result).get_caller_identity()
        self.assertEqual(identity["Account"], OTHER)
        self.assertEqual(identity["Arn"], user["Arn"])
        self.assertEqual(identity["UserId"], user["AssumedRoleId"])

    def test_wire_shape(self):
        status, body = signed_request(EMU.url, {
            "Action": "AssumeRole", "Version": "2011-06-15", "RoleArn": OPEN_ROLE,
            "RoleSessionName": "wire"}, service="sts", region=REGION)
        self.assertEqual(status, 200, body)
        ns = "{https://sts.amazonaws.com/doc/2011-06-15/}"
        root = ET.fromstring(body)
        self.assertEqual(root.tag, ns + "AssumeRoleResponse")
        result = root.find(ns + "AssumeRoleResult")
        self.assertEqual([c.tag[len(ns):] for c in result],
                         ["Credentials", "AssumedRoleUser"])
        self.assertEqual([c.tag[len(ns):] for c in result.find(ns + "Credentials")],
                         ["AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration"])
        self.assertRegex(result.find(f"{ns}Credentials/{ns}Expiration").text,
                         r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertEqual([c.tag[len(ns):] for c in result.find(ns + "AssumedRoleUser")],
                         ["AssumedRoleId", "Arn"])
        self.assertTrue(root.find(f"{ns}ResponseMetadata/{ns}RequestId").text)

    def test_unsigned_call_is_refused(self):
        import boto3
        unsigned = boto3.client("sts", endpoint_url=self.emu.url, region_name=REGION,
                                config=Config(signature_version=UNSIGNED,
                                              retries={"total_max_attempts": 1}))
        self.addCleanup(unsigned.close)
        self.assertAwsError("MissingAuthenticationToken", 403, unsigned.assume_role,
                            RoleArn=OPEN_ROLE, RoleSessionName="anonymous")

    def test_denied(self):
        unknown = f"arn:aws:iam::{OTHER}:role/unknown"
        self.assertAwsError("AccessDenied", 403, self.sts.assume_role, RoleArn=unknown,
                            RoleSessionName="binder", message=denied(unknown))
        self.emu.post("/_emulator/roles", {"arn": unknown, "trusted": [THIRD]})  # untrusted
        self.assertAwsError("AccessDenied", 403, self.sts.assume_role, RoleArn=unknown,
                            RoleSessionName="binder", message=denied(unknown))
        self.assertAwsError("AccessDenied", 403, self.sts.assume_role, RoleArn=BINDER_ROLE,
                            RoleSessionName="binder", message=denied(BINDER_ROLE))  # no ExternalId
        self.assertAwsError("AccessDenied", 403, self.assume, ExternalId="binder-ext-2",
                            message=denied(BINDER_ROLE))
        # A role without an externalId condition ignores one given.
        self.assume(OPEN_ROLE, ExternalId="whatever")
        log = self.emu.get("/_emulator/requests?action=AssumeRole&params=0")
        self.assertEqual([e["status"] for e in log["requests"]], [403, 403, 403, 403, 200])

    def test_trust_by_arn_and_role_chaining(self):
        self.assume(USER_ROLE)  # trusted by the caller's user ARN
        other_user = self.emu.client("sts", region=REGION, access_key="AKIAOTHERUSER",
                                     secret_key="secret")
        self.emu.post("/_emulator/credentials", {"accessKeyId": "AKIAOTHERUSER",
                                                 "secretAccessKey": "secret"})
        self.assertAwsError("AccessDenied", 403, self.assume, USER_ROLE, client=other_user,
                            message=denied(USER_ROLE,
                                           f"arn:aws:iam::{DEFAULT}:user/AKIAOTHERUSER"))
        self.assume(OPEN_ROLE, client=other_user)  # account root trusts every principal
        # A session of binder-access is trusted as arn:aws:iam::OTHER:role/binder-access.
        session = self.client_for("sts", self.assume())
        chained = self.assume(CHAINED_ROLE, session="second", client=session)
        self.assertEqual(chained["AssumedRoleUser"]["Arn"],
                         f"arn:aws:sts::{THIRD}:assumed-role/chained/second")
        self.assertEqual(self.client_for("sts", chained).get_caller_identity()["Account"],
                         THIRD)
        # ... but the default account's user is not that role.
        self.assertAwsError("AccessDenied", 403, self.assume, CHAINED_ROLE,
                            message=denied(CHAINED_ROLE))
        open_session = self.client_for("sts", self.assume(OPEN_ROLE, session="s3"))
        self.assertAwsError("AccessDenied", 403, self.assume, CHAINED_ROLE, client=open_session,
                            message=denied(CHAINED_ROLE, f"arn:aws:sts::{OTHER}:assumed-role/"
                                                         "no-external-id/s3"))

    def test_bad_parameters(self):
        raw = self.raw_sts
        cases = [
            ({"RoleSessionName": "x"},
             "1 validation error detected: Value 'x' at 'roleSessionName' failed to satisfy "
             "constraint: Member must have length greater than or equal to 2"),
            ({"RoleSessionName": "bad name"},
             "1 validation error detected: Value 'bad name' at 'roleSessionName' failed to "
             "satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*"),
            ({"RoleSessionName": "s" * 65},
             f"1 validation error detected: Value '{'s' * 65}' at 'roleSessionName' failed to "
             "satisfy constraint: Member must have length less than or equal to 64"),
            ({"ExternalId": "e"},
             "1 validation error detected: Value 'e' at 'externalId' failed to satisfy "
             "constraint: Member must have length greater than or equal to 2"),
            ({"ExternalId": "no spaces"},
             "1 validation error detected: Value 'no spaces' at 'externalId' failed to satisfy "
             "constraint: Member must satisfy regular expression pattern: [\\w+=,.@:\\/-]*"),
        ]
        for extra, message in cases:
            args = {"RoleArn": OPEN_ROLE, "RoleSessionName": "binder", **extra}
            with self.subTest(extra=extra):
                self.assertAwsError("ValidationError", 400, raw.assume_role, **args,
                                    message=message)
        self.assertAwsError("ValidationError", 400, raw.assume_role, RoleArn=OPEN_ROLE,
                            message="1 validation error detected: Value null at "
                                    "'roleSessionName' failed to satisfy constraint: Member "
                                    "must not be null")
        self.assertAwsError("ValidationError", 400, raw.assume_role,
                            RoleArn=f"arn:aws:iam::{OTHER}:user/someone",
                            RoleSessionName="binder", message="Request ARN is invalid")

    def test_duration_bounds(self):
        for seconds, bound in ((899, "greater than or equal to 900"),
                               (43201, "less than or equal to 43200")):
            self.assertAwsError("ValidationError", 400, self.raw_sts.assume_role,
                                RoleArn=OPEN_ROLE, RoleSessionName="binder",
                                DurationSeconds=seconds,
                                message=f"1 validation error detected: Value '{seconds}' at "
                                        "'durationSeconds' failed to satisfy constraint: "
                                        f"Member must have value {bound}")
        for seconds in (900, 43200):
            before = datetime.datetime.now(datetime.timezone.utc)
            expiration = self.assume(OPEN_ROLE, DurationSeconds=seconds)["Credentials"][
                "Expiration"]
            remaining = (expiration - before).total_seconds()
            self.assertTrue(seconds - 10 < remaining <= seconds + 1, (seconds, remaining))

    def test_sts_duration_setting_expires_credentials(self):
        self.emu.post("/_emulator/settings", {"stsDurationSeconds": 1})
        result = self.assume(DurationSeconds=3600)  # the setting wins, as for web identity
        elb = self.client_for("elbv2", result)
        elb.describe_target_groups()
        time.sleep(1.2)
        self.assertAwsError("ExpiredToken", 400, elb.describe_target_groups,
                            message="The security token included in the request is expired")
        self.assertAwsError("ExpiredToken", 400, self.client_for("sts", result).assume_role,
                            RoleArn=CHAINED_ROLE, RoleSessionName="late")

    def test_fault_and_throttle_paths(self):
        self.emu.post("/_emulator/faults", {"service": "sts", "action": "AssumeRole",
                                            "throttleRate": 1.0, "remaining": 1})
        self.assertAwsError("Throttling", 400, self.assume, OPEN_ROLE, message="Rate exceeded")
        self.assume(OPEN_ROLE)
        self.emu.post("/_emulator/quotas", {"sts:AssumeRole": {"rate": 0.01, "burst": 1}})
        self.assume(OPEN_ROLE)
        self.assertAwsError("Throttling", 400, self.assume, OPEN_ROLE)


class RolesControlTest(AccountsTestCase):
    def test_config_roles_listed_and_restored_by_reset(self):
        roles = self.emu.get("/_emulator/roles")["roles"]
        self.assertEqual(sorted(r["arn"] for r in roles), sorted(r["arn"] for r in ROLES))
        binder = next(r for r in roles if r["arn"] == BINDER_ROLE)
        self.assertEqual(binder, {"arn": BINDER_ROLE, "externalId": "binder-ext-1",
                                  "trusted": [DEFAULT]})
        self.emu.delete(f"/_emulator/roles?arn={BINDER_ROLE}")
        self.assertAwsError("AccessDenied", 403, self.assume, message=denied(BINDER_ROLE))
        self.emu.reset()
        self.assume()

    def test_add_replace_delete(self):
        role = f"arn:aws:iam::{THIRD}:role/added"
        self.assertAwsError("AccessDenied", 403, self.assume, role)
        added = self.emu.post("/_emulator/roles", {"arn": role, "trusted": [DEFAULT]})
        self.assertEqual(added["role"], {"arn": role, "externalId": None,
                                         "trusted": [DEFAULT]})
        self.assertEqual(self.assume(role)["AssumedRoleUser"]["Arn"],
                         f"arn:aws:sts::{THIRD}:assumed-role/added/binder")
        self.emu.post("/_emulator/roles", {"arn": role, "externalId": "now-needed",
                                           "trusted": [DEFAULT]})
        self.assertAwsError("AccessDenied", 403, self.assume, role)
        self.assume(role, ExternalId="now-needed")
        self.assertEqual(len(self.emu.get("/_emulator/roles")["roles"]), len(ROLES) + 1)
        self.assertEqual(self.emu.delete(f"/_emulator/roles?arn={role}"), {"ok": True})
        self.assertAwsError("AccessDenied", 403, self.assume, role, ExternalId="now-needed")
        status, body = self.emu.call("DELETE", f"/_emulator/roles?arn={role}")
        self.assertEqual(status, 404, body)
        status, body = self.emu.call("DELETE", "/_emulator/roles")
        self.assertEqual((status, body["error"]), (400, "missing query parameter 'arn'"))

    def test_bad_role_specs(self):
        cases = [
            ({"trusted": [DEFAULT]}, "role 'arn' must be an IAM role ARN"),
            ({"arn": f"arn:aws:iam::{OTHER}:user/u", "trusted": [DEFAULT]},
             "role 'arn' must be an IAM role ARN"),
            ({"arn": OPEN_ROLE}, "'trusted' must be a non-empty list"),
            ({"arn": OPEN_ROLE, "trusted": ["12345"]}, "trusted entry '12345' is neither"),
            ({"arn": OPEN_ROLE, "trusted": [DEFAULT], "externalId": "x"},
             "'externalId' must be 2-1224 characters"),
            ({"arn": OPEN_ROLE, "trusted": [DEFAULT], "policy": {}}, "unknown role fields"),
        ]
        for body, message in cases:
            with self.subTest(body=body):
                status, result = self.emu.call("POST", "/_emulator/roles", body)
                self.assertEqual(status, 400, result)
                self.assertIn(message, result["error"])

    def test_bad_config_roles_fail_fast(self):
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
            json.dump({"roles": [{"arn": "arn:aws:iam::1:role/x", "trusted": [DEFAULT]}]},
                      handle)
        try:
            result = subprocess.run([sys.executable, EMULATOR, "--config", handle.name],
                                    capture_output=True, timeout=60)
            self.assertEqual(result.returncode, 2)
            self.assertIn(b"config roles: role 'arn' must be an IAM role ARN", result.stderr)
        finally:
            os.unlink(handle.name)


class CrossAccountElbv2Test(AccountsTestCase):
    def seed_groups(self):
        """The same name in two accounts: the default's and OTHER's (by ARN and by field)."""
        mine = self.emu.post("/_emulator/target-groups", {"name": "web", "region": REGION})
        theirs = self.emu.post("/_emulator/target-groups", {
            "arn": f"arn:aws:elasticloadbalancing:{REGION}:{OTHER}:targetgroup/web/"
                   "0123456789abcdef"})
        by_field = self.emu.post("/_emulator/target-groups", {
            "name": "api", "account": OTHER, "region": REGION})
        self.assertTrue(by_field["arn"].startswith(
            f"arn:aws:elasticloadbalancing:{REGION}:{OTHER}:targetgroup/api/"))
        return mine["arn"], theirs["arn"], by_field["arn"]

    def test_control_api_target_groups_in_other_accounts(self):
        mine, theirs, api = self.seed_groups()
        status, body = self.emu.call("POST", "/_emulator/target-groups",
                                     {"name": "web", "account": OTHER, "region": REGION})
        self.assertEqual(status, 409, body)
        self.assertIn(f"exists in account {OTHER}, {REGION}", body["error"])
        for bad in ({"name": "x", "account": "12"}, {"name": "x", "account": 210987654321}):
            status, body = self.emu.call("POST", "/_emulator/target-groups", bad)
            self.assertEqual(status, 400, body)
            self.assertIn("'account' must be a 12-digit account id", body["error"])
        status, body = self.emu.call("POST", "/_emulator/target-groups", {
            "account": DEFAULT, "arn": f"arn:aws:elasticloadbalancing:{REGION}:{THIRD}:"
                                       "targetgroup/z/0123456789abcdef"})
        self.assertEqual(status, 400, body)
        self.emu.post("/_emulator/targets", {"arn": theirs, "targets": ["10.0.1.5"],
                                             "state": "healthy"})
        state = {g["arn"]: g for g in self.emu.get("/_emulator/state")["targetGroups"]}
        self.assertEqual((state[mine]["account"], state[theirs]["account"],
                          state[api]["account"]), (DEFAULT, OTHER, OTHER))
        self.assertEqual([t["id"] for t in state[theirs]["targets"]], ["10.0.1.5"])
        lbs = {lb["account"] for lb in self.emu.get("/_emulator/state")["loadBalancers"]}
        self.assertEqual(lbs, {DEFAULT, OTHER})  # each group's load balancer is its account's

    def test_config_file_target_groups_in_other_accounts(self):
        config = {"region": REGION, "targetGroups": [
            {"name": "seeded", "account": OTHER},
            {"arn": f"arn:aws:elasticloadbalancing:{REGION}:{THIRD}:targetgroup/seeded/"
                    "00000000000000aa"}]}
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
            json.dump(config, handle)
        try:
            with EmulatorProcess("--config", handle.name) as emu:
                accounts = sorted(g["account"] for g in emu.get("/_emulator/state")[
                    "targetGroups"])
                self.assertEqual(accounts, [OTHER, THIRD])
        finally:
            os.unlink(handle.name)

    def test_role_credentials_act_only_in_the_roles_account(self):
        mine, theirs, api = self.seed_groups()
        self.emu.post("/_emulator/targets", {"arn": theirs, "targets": ["10.0.1.5"],
                                             "state": "healthy"})
        session = self.assume()
        role_arn = session["AssumedRoleUser"]["Arn"]
        theirs_elb = self.client_for("elbv2", session)
        health = theirs_elb.describe_target_health(TargetGroupArn=theirs)
        self.assertEqual([(d["Target"]["Id"], d["TargetHealth"]["State"])
                          for d in health["TargetHealthDescriptions"]], [("10.0.1.5", "healthy")])
        theirs_elb.register_targets(TargetGroupArn=theirs, Targets=[{"Id": "10.0.1.6"}])
        self.assertEqual(sorted(g["TargetGroupArn"] for g in
                                theirs_elb.describe_target_groups()["TargetGroups"]),
                         sorted([theirs, api]))
        self.assertEqual([g["TargetGroupArn"] for g in self.elb.describe_target_groups(
            Names=["web"])["TargetGroups"]], [mine])
        # Describe* is authorised on "*": the default account looks in its own account.
        self.assertAwsError("TargetGroupNotFound", 400, self.elb.describe_target_health,
                            TargetGroupArn=theirs, message=f"Target groups '{theirs}' not found")
        self.assertAwsError("TargetGroupNotFound", 400, self.elb.describe_target_groups,
                            TargetGroupArns=[theirs])
        # Actions authorised per resource are denied for another account's ARN.
        self.assertAwsError("AccessDenied", 403, self.elb.register_targets,
                            TargetGroupArn=theirs, Targets=[{"Id": "10.0.1.7"}],
                            message=f"User: {CALLER} is not authorized to perform: "
                                    f"elasticloadbalancing:RegisterTargets on resource: {theirs}")
        self.assertAwsError("AccessDenied", 403, theirs_elb.deregister_targets,
                            TargetGroupArn=mine, Targets=[{"Id": "10.0.1.7"}],
                            message=f"User: {role_arn} is not authorized to perform: "
                                    "elasticloadbalancing:DeregisterTargets on resource: "
                                    f"{mine}")
        self.assertAwsError("AccessDenied", 403, theirs_elb.add_tags, ResourceArns=[mine],
                            Tags=[{"Key": "k", "Value": "v"}])
        self.assertAwsError("AccessDenied", 403, self.elb.delete_target_group,
                            TargetGroupArn=theirs)
        state = {g["arn"]: g for g in self.emu.get("/_emulator/state")["targetGroups"]}
        self.assertEqual(sorted(t["id"] for t in state[theirs]["targets"]),
                         ["10.0.1.5", "10.0.1.6"])

    def test_create_target_group_names_unique_per_account(self):
        created = self.elb.create_target_group(Name="same", Protocol="HTTP", Port=80,
                                               VpcId=VPC, TargetType="ip")
        theirs = self.client_for("elbv2", self.assume()).create_target_group(
            Name="same", Protocol="HTTPS", Port=443, VpcId=VPC, TargetType="ip")
        arns = [created["TargetGroups"][0]["TargetGroupArn"],
                theirs["TargetGroups"][0]["TargetGroupArn"]]
        self.assertEqual([a.split(":")[4] for a in arns], [DEFAULT, OTHER])
        self.assertAwsError("DuplicateTargetGroupName", 400, self.elb.create_target_group,
                            Name="same", Protocol="HTTPS", Port=443, VpcId=VPC, TargetType="ip")

    def test_request_log_names_the_account(self):
        _, theirs, _ = self.seed_groups()
        session = self.assume()
        key = session["Credentials"]["AccessKeyId"]
        self.client_for("elbv2", session).describe_target_health(TargetGroupArn=theirs)
        self.elb.describe_target_groups()
        log = self.emu.get("/_emulator/requests?params=0")["requests"]
        self.assertEqual([(e["action"], e["account"], e["accessKeyId"]) for e in log],
                         [("AssumeRole", DEFAULT, "test"),
                          ("DescribeTargetHealth", OTHER, key),
                          ("DescribeTargetGroups", DEFAULT, "test")])

    def test_throttling_buckets_are_per_account(self):
        _, theirs, _ = self.seed_groups()
        mine = self.emu.get("/_emulator/state")["targetGroups"][0]["arn"]
        theirs_elb = self.client_for("elbv2", self.assume())
        self.emu.post("/_emulator/quotas", {"DescribeTargetHealth": {"rate": 0.01, "burst": 2}})
        for _ in range(2):
            self.elb.describe_target_health(TargetGroupArn=mine)
        self.assertAwsError("Throttling", 400, self.elb.describe_target_health,
                            TargetGroupArn=mine)
        for _ in range(2):  # the other account's bucket is still full
            theirs_elb.describe_target_health(TargetGroupArn=theirs)
        self.assertAwsError("Throttling", 400, theirs_elb.describe_target_health,
                            TargetGroupArn=theirs)
        counts = self.emu.get("/_emulator/requests?action=DescribeTargetHealth")["counts"]
        self.assertEqual(counts["DescribeTargetHealth"],
                         {"total": 6, "ok": 4, "throttled": 2, "error": 0})

    def test_credentials_endpoint_account(self):
        self.emu.post("/_emulator/credentials", {"accessKeyId": "AKIATHIRD",
                                                 "secretAccessKey": "s", "account": THIRD})
        sts = self.emu.client("sts", region=REGION, access_key="AKIATHIRD", secret_key="s")
        self.assertEqual(sts.get_caller_identity()["Account"], THIRD)
        with self.assertRaises(ControlError) as caught:
            self.emu.post("/_emulator/credentials", {"accessKeyId": "A", "secretAccessKey": "s",
                                                     "account": "abc"})
        self.assertEqual(caught.exception.status, 400)


if __name__ == "__main__":
    unittest.main(verbosity=2)
