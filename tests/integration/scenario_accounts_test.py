"""Target groups in other accounts (issue 14 part 3), with the real binary against the
emulator: a binding with spec.assumeRoleARN and externalId reaches a target group of account
222233334444 through STS AssumeRole (signed with the controller's own credentials), while a
binding without one keeps using the controller's account. The request log proves which
account made each call; the claim on the other account's group names the controller's account;
the role is assumed once, not per call; a binding whose role is refused (wrong external id)
fails and changes nothing in its group, which keeps its serving targets; `plan` and `get`
show it all. Budgets are per account: throttling of one account's ELBv2 does not slow the
other's."""
import json
import subprocess
import time
import unittest

from harness import BINARY, REGION, ScenarioTest, tg_binding, wait_for

HOME = "123456789012"
OTHER = "222233334444"
ROLE = f"arn:aws:iam::{OTHER}:role/endpoint-binder-target"
EXTERNAL_ID = "platform-prod-7f3a"
# deletionPolicy Deregister and no floors: a wrong deregistration shows as a DeregisterTargets.
POLICY = {"deregistrationGracePeriod": "2s", "minTargets": 0, "maxDeregistrationsPerSync": '"100%"',
          "requireHealthyReplacements": "false", "deletionPolicy": "Deregister"}


def with_role(manifest, role=ROLE, external_id=EXTERNAL_ID):
    extra = f"  assumeRoleARN: {role}\n" + (f"  externalId: {external_id}\n" if external_id else "")
    return manifest.replace("  targetType: ip\n", "  targetType: ip\n" + extra, 1)


class OtherAccounts(ScenarioTest):
    def setUp(self):
        super().setUp()
        self.emulator.control("POST", "roles", {"arn": ROLE, "externalId": EXTERNAL_ID,
                                                "trusted": [HOME]})

    def create_group_in(self, account, name, registered=()):
        arn = self.emulator.control("POST", "target-groups", {
            "name": name, "account": account, "port": 443, "protocol": "HTTPS",
            "targetType": "ip", "deregistrationDelay": 1, "healthyAfter": 0.2})["arn"]
        if registered:
            self.emulator.control("POST", "targets", {"arn": arn, "targets": list(registered),
                                                      "state": "healthy"})
        return arn

    def owner(self, arn):
        for group in self.emulator.control("GET", "state")["targetGroups"]:
            if group["arn"] == arn:
                return group.get("tags", {}).get("endpointbinder.io/owner")
        raise AssertionError(f"no target group {arn}")

    def calls_on(self, arn, since=0):
        """(action, account) of every ELBv2 call naming `arn`."""
        out = []
        for r in self.emulator.requests(since=since):
            params = r.get("params") or {}
            if arn in (params.get("TargetGroupArn"), params.get("ResourceArns.member.1"),
                       params.get("TargetGroupArns.member.1")):
                out.append((r["action"], r.get("account")))
        return out

    def test_a_group_of_another_account_is_bound_through_the_role(self):
        remote = self.create_group_in(OTHER, "shared-web")
        local = self.emulator.create_target_group("local-web")
        self.dns.set("web.local", a=["10.0.50.1", "10.0.50.2"], ttl=1)
        self.write_manifest("remote.yaml", with_role(tg_binding("web", remote, "web.local",
                                                                policy=POLICY)))
        self.write_manifest("local.yaml", tg_binding("local", local, static=["10.0.50.9"],
                                                     policy=POLICY))
        c = self.start_controller()
        wait_for(lambda: self.emulator.registered(remote) == {"10.0.50.1", "10.0.50.2"}, 20,
                 what="remote group converged")
        wait_for(lambda: self.emulator.registered(local) == {"10.0.50.9"}, 20,
                 what="local group converged")
        wait_for(lambda: (c.condition("web", "Conflict") or {}).get("reason") == "Owned", 10,
                 what="the claim reported")

        # Every call on the remote group was made as the other account, every call on the
        # local one as the controller's.
        remote_calls = self.calls_on(remote)
        self.assertIn(("RegisterTargets", OTHER), remote_calls)
        self.assertEqual({OTHER}, {account for _, account in remote_calls}, remote_calls)
        self.assertEqual({HOME}, {account for _, account in self.calls_on(local)})
        self.assertEqual(f"endpoint-binder/{HOME}/default/web", self.owner(remote))
        self.assertEqual("endpoint-binder/default/local", self.owner(local))

        # The role was assumed once, with the external id and the controller's session name.
        assumed = self.emulator.requests("AssumeRole")
        self.assertEqual(1, len(assumed), assumed)
        self.assertEqual(HOME, assumed[0]["account"])
        self.assertEqual(ROLE, assumed[0]["params"]["RoleArn"])
        self.assertEqual(EXTERNAL_ID, assumed[0]["params"]["ExternalId"])
        self.assertEqual("endpoint-binder", assumed[0]["params"]["RoleSessionName"])
        self.assertEqual(1, len(self.emulator.requests("GetCallerIdentity")))

        # A DNS change goes through the role too, still without a second AssumeRole.
        self.dns.set("web.local", a=["10.0.50.1", "10.0.50.3"], ttl=1)
        wait_for(lambda: self.emulator.registered(remote) == {"10.0.50.1", "10.0.50.3"}, 20,
                 what="the change followed, the old address deregistered after the grace")
        self.assertEqual(1, len(self.emulator.requests("AssumeRole")))

        # get shows the role; the claim condition names the account.
        status = c.binding("web")
        self.assertEqual(ROLE, status["spec"]["assumeRoleARN"])
        self.assertNotIn(EXTERNAL_ID, json.dumps(status), "the external id is not printed")
        owned = c.condition("web", "Conflict")
        self.assertIn(f"endpoint-binder/{HOME}/default/web", owned["message"])

        # plan reads through the role and agrees that nothing is to change.
        plan = subprocess.run([BINARY, "plan", self.manifests, "--dns-server", self.dns.dns],
                              capture_output=True, text=True, timeout=60,
                              env=self.aws_env())
        self.assertIn(f"as role {ROLE}", plan.stdout, plan.stdout + plan.stderr)
        self.assertNotIn("conflict", plan.stdout)
        self.assertEqual(0, plan.returncode, plan.stdout + plan.stderr)

    def test_a_refused_role_fails_the_binding_and_changes_nothing(self):
        serving = ["10.0.51.1", "10.0.51.2"]
        remote = self.create_group_in(OTHER, "refused-web", registered=serving)
        self.write_manifest("remote.yaml", with_role(
            tg_binding("web", remote, static=["10.0.51.1"], policy=POLICY),
            external_id="not-the-right-one"))
        c = self.start_controller()
        wait_for(lambda: (c.condition("web", "Synced") or {}).get("reason") == "AccessDenied", 20,
                 what="Synced False AccessDenied")
        synced = c.condition("web", "Synced")
        self.assertEqual("False", synced["status"])
        self.assertIn(f"sts:AssumeRole {ROLE}", synced["message"])
        time.sleep(4)  # two grace periods: still nothing may leave
        self.assertEqual(set(serving), self.emulator.registered(remote))
        self.assertEqual([], [call for call in self.calls_on(remote)
                              if call[0] in ("RegisterTargets", "DeregisterTargets", "AddTags")])
        self.assertIsNone(self.owner(remote))
        described = c.cli("describe", "web").stdout
        self.assertIn("AccessDenied", described)
        self.assertIn(ROLE, described)

        # Fixed in the manifest: the binding converges (the address it no longer lists leaves
        # after the grace).
        self.write_manifest("remote.yaml", with_role(
            tg_binding("web", remote, static=["10.0.51.1"], policy=POLICY)))
        wait_for(lambda: self.emulator.registered(remote) == {"10.0.51.1"}, 20,
                 what="converged once the external id is right")
        self.assertEqual(f"endpoint-binder/{HOME}/default/web", self.owner(remote))

    def test_each_account_has_its_own_budget(self):
        # ELBv2 quotas are per account: the client-side budget is too. With one RegisterTargets
        # token refilled every 10 s, a budget shared with the controller's own account would
        # hold the other account's registration back 10 s behind the own one.
        remote = self.create_group_in(OTHER, "budget-web")
        local = self.emulator.create_target_group("budget-local")
        self.write_manifest("remote.yaml", with_role(
            tg_binding("web", remote, static=["10.0.52.1"], policy=POLICY)))
        self.write_manifest("local.yaml", tg_binding("local", local, static=["10.0.52.9"],
                                                     policy=POLICY))
        self.start_controller("--aws-rate-limits", "RegisterTargets=0.1:1", "--workers", "2")
        wait_for(lambda: self.emulator.registered(remote) == {"10.0.52.1"} and
                 self.emulator.registered(local) == {"10.0.52.9"}, 30, what="both converged")
        times = {r["account"]: r["time"] for r in self.emulator.requests("RegisterTargets")}
        self.assertEqual({HOME, OTHER}, set(times))
        self.assertLess(abs(times[HOME] - times[OTHER]), 5.0,
                        "the other account's registration waited for the own account's budget")

    def aws_env(self):
        import os
        env = dict(os.environ)
        env.update({"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
                    "AWS_REGION": REGION, "AWS_ENDPOINT_URL": self.emulator.url,
                    "AWS_EC2_METADATA_DISABLED": "true"})
        env.pop("AWS_PROFILE", None)
        return env


if __name__ == "__main__":
    unittest.main(verbosity=2)
