"""`endpoint-binder iam-policy --leader-election-table TABLE`: the lease statement (GetItem,
PutItem, UpdateItem on exactly that table, in the target groups' Region and account, "*" when
they disagree), its place before CallerIdentity, the environment variable `run` reads too, and
refusal of a name DynamoDB would not accept. Actions are checked against botocore's model.

Run with /usr/bin/python3 after building the binary.
"""
import json
import os
import subprocess
import tempfile
import textwrap
import unittest

import botocore.session

ROOT = os.environ.get("EB_SOURCE_DIR") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN_DIR = os.environ.get("EB_BIN_DIR") or os.path.join(ROOT, "build", "bin")
BINARY = os.path.join(BIN_DIR, "endpoint-binder")
TG = "arn:aws:elasticloadbalancing:{region}:{account}:targetgroup/{name}/0123456789abcdef"


def tgb(name, region="ap-northeast-1", account="123456789012"):
    return textwrap.dedent(f"""\
        apiVersion: endpointbinder.io/v1alpha1
        kind: TargetGroupBinding
        metadata: {{name: {name}}}
        spec:
          targetGroupARN: {TG.format(region=region, account=account, name=name)}
          targetType: ip
          source: {{static: {{addresses: [10.0.1.1]}}}}
        """)


class LeaderElectionPolicy(unittest.TestCase):
    def setUp(self):
        if not os.path.exists(BINARY):
            self.fail(f"{BINARY} not built")
        self.tmp = tempfile.TemporaryDirectory(prefix="eb-iam-leader-")
        self.addCleanup(self.tmp.cleanup)

    def manifests(self, *docs):
        path = os.path.join(self.tmp.name, "m.yaml")
        with open(path, "w") as f:
            f.write("---\n".join(docs))
        return path

    def run_cli(self, *args, env=None):
        full = dict(os.environ)
        full.pop("ENDPOINT_BINDER_LEADER_ELECTION_TABLE", None)
        full.update(env or {})
        return subprocess.run([BINARY, "iam-policy", *args], capture_output=True, text=True,
                              timeout=30, env=full)

    def statements(self, *args, env=None):
        r = self.run_cli(*args, env=env)
        self.assertEqual(0, r.returncode, r.stderr)
        return json.loads(r.stdout)["Statement"]

    def test_the_lease_table_only(self):
        path = self.manifests(tgb("web"), tgb("api"))
        without = self.statements(path)
        self.assertNotIn("LeaderElection", [s["Sid"] for s in without])
        with_table = self.statements(path, "--leader-election-table", "eb-leases")
        self.assertEqual(without[:-1], with_table[:-2], "nothing else changes")
        self.assertEqual({"Sid": "LeaderElection", "Effect": "Allow",
                          "Action": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"],
                          "Resource": ["arn:aws:dynamodb:ap-northeast-1:123456789012:table/eb-leases"]},
                         with_table[-2])
        self.assertEqual("CallerIdentity", with_table[-1]["Sid"])
        operations = set(botocore.session.get_session().get_service_model("dynamodb").operation_names)
        for action in with_table[-2]["Action"]:
            self.assertIn(action.split(":")[1], operations)
        # The variable `run` reads works here too.
        self.assertEqual(with_table, self.statements(
            path, env={"ENDPOINT_BINDER_LEADER_ELECTION_TABLE": "eb-leases"}))

    def test_groups_in_several_regions_leave_the_region_open(self):
        path = self.manifests(tgb("web"), tgb("api", region="eu-west-1", account="210987654321"))
        lease = self.statements(path, "--leader-election-table", "eb-leases")[-2]
        self.assertEqual(["arn:aws:dynamodb:*:*:table/eb-leases"], lease["Resource"])

    def test_a_name_dynamodb_refuses_is_an_error(self):
        path = self.manifests(tgb("web"))
        r = self.run_cli(path, "--leader-election-table", "no/slashes")
        self.assertNotEqual(0, r.returncode)
        self.assertEqual("", r.stdout)
        self.assertIn("DynamoDB table name", r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
