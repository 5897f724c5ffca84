"""Traffic-path safety (issue 10, items 1, 2, 4, 5, 6 and 7) with the real binary, the emulator
and the scripted DNS server: spec edits after a quiet spell, renames and released claims, an
answer of public addresses only, a target AWS refuses, replacements that never get healthy, and
deletionPolicy Deregister. Each test says why it fails on the code before the issue was fixed
(commit a829579). Grace periods are a few seconds, so the file runs in about a minute and a half.
"""
import os
import time
import unittest

from harness import ScenarioTest, tg_binding, wait_for

OWNER = "endpointbinder.io/owner"


class SafetyTest(ScenarioTest):
    def group(self, arn):
        for tg in self.emulator.control("GET", "state")["targetGroups"]:
            if tg["arn"] == arn:
                return tg
        raise AssertionError(f"no target group {arn}")

    def owner(self, arn):
        return self.group(arn)["tags"].get(OWNER)

    def registered_keys(self, arn):
        """{"id:port"} of the registered (non-draining) targets: a port change keeps the id."""
        return {f"{t['id']}:{t['port']}" for t in self.group(arn)["targets"]
                if t["state"] in ("initial", "healthy", "unhealthy", "unavailable")}

    def register_by_hand(self, arn, ids, port=443):
        self.emulator.control("POST", "targets", {
            "arn": arn, "targets": [{"id": i, "port": port} for i in ids], "state": "healthy"})

    def deregistered_ids(self, arn, since=0):
        ids = []
        for r in self.emulator.requests("DeregisterTargets", since):
            if r["status"] == 200 and r["params"].get("TargetGroupArn") == arn:
                ids += [v for k, v in r["params"].items() if k.startswith("Targets.member.") and k.endswith(".Id")]
        return ids

    def events(self, c, name, namespace="default"):
        b = c.binding(name, namespace) or {}
        return [e["reason"] for e in b.get("status", {}).get("events", [])]

    def held(self, c, name):
        b = c.binding(name) or {}
        return ((b.get("status") or {}).get("lastPlan") or {}).get("held", [])

    def cond(self, c, name, ctype, namespace="default"):
        return c.condition(name, ctype, namespace) or {}


class SpecEditsAfterAQuietSpell(SafetyTest):
    """Item 1. The targets are registered before the controller starts, so it writes nothing
    and looks at nothing again for --resync-period 10m: its last reconcile is the first one.
    Old code: "last listed" was the time of the last reconcile, so after a quiet spell longer
    than grace the edit found the dropped targets absent "since long ago" and deregistered
    them within a second of the edit; the no-DeregisterTargets check below then fails."""

    def test_edit_drops_address_changes_port_and_switches_hostname_grace_counts_from_edit(self):
        grace = 4
        policy = {"deregistrationGracePeriod": f"{grace}s", "maxDeregistrationsPerSync": '"100%"',
                  # Only grace is under test; the new targets' health is waited for elsewhere.
                  "requireHealthyReplacements": "false"}
        drop = self.emulator.create_target_group("edit-drop")
        port = self.emulator.create_target_group("edit-port")
        host = self.emulator.create_target_group("edit-host")
        self.register_by_hand(drop, ["10.0.20.1", "10.0.20.2"])
        self.register_by_hand(port, ["10.0.21.1"])
        self.register_by_hand(host, ["10.0.22.1"])
        self.dns.set("blue.edit.local", a=["10.0.22.1"], ttl=1)
        self.dns.set("green.edit.local", a=["10.0.22.2"], ttl=1)
        self.write_manifest("drop.yaml", tg_binding("drop", drop, static=["10.0.20.1", "10.0.20.2"], policy=policy))
        self.write_manifest("port.yaml", tg_binding("port", port, static=["10.0.21.1"], policy=policy))
        self.write_manifest("host.yaml", tg_binding("host", host, "blue.edit.local", policy=policy))
        c = self.start_controller(resync="10m")
        for name in ("drop", "port", "host"):
            wait_for(lambda: self.cond(c, name, "Ready").get("status") == "True", 15, what=f"{name} Ready")
        self.assertEqual([], self.emulator.requests("RegisterTargets"), "expected a steady start")

        time.sleep(grace + 1.5)  # quiet: no reconcile, the DNS answers do not change
        edited = time.monotonic()
        self.write_manifest("drop.yaml", tg_binding("drop", drop, static=["10.0.20.1"], policy=policy))
        self.write_manifest("port.yaml", tg_binding("port", port, static=["10.0.21.1"], port=8443, policy=policy))
        self.write_manifest("host.yaml", tg_binding("host", host, "green.edit.local", policy=policy))
        wait_for(lambda: "10.0.21.1:8443" in self.registered_keys(port)
                 and "10.0.22.2:443" in self.registered_keys(host), 10, what="new targets registered")

        time.sleep(max(0, grace - 1.5 - (time.monotonic() - edited)))
        self.assertEqual([], self.emulator.requests("DeregisterTargets"), "deregistered within grace of the edit")
        self.assertEqual({"10.0.20.1:443", "10.0.20.2:443"}, self.registered_keys(drop))
        self.assertEqual({"10.0.21.1:443", "10.0.21.1:8443"}, self.registered_keys(port))
        self.assertEqual({"10.0.22.1:443", "10.0.22.2:443"}, self.registered_keys(host))

        wait_for(lambda: self.registered_keys(drop) == {"10.0.20.1:443"}
                 and self.registered_keys(port) == {"10.0.21.1:8443"}
                 and self.registered_keys(host) == {"10.0.22.2:443"}, 10, what="old targets gone after grace")
        self.assertGreaterEqual(time.monotonic() - edited, grace - 0.5)


class RenamesAndClaims(SafetyTest):
    """Item 2. Old code: the owner tag named the binding, a new name met that tag and was a
    Conflict forever (it never registered the new address nor got Conflict=False); deletion and
    a targetGroupARN change left the tag behind (no RemoveTags existed)."""

    def test_renamed_and_moved_bindings_take_over_their_groups(self):
        policy = {"deregistrationGracePeriod": "2s"}
        same = self.emulator.create_target_group("rename-same")
        moved = self.emulator.create_target_group("rename-moved")
        drain = self.emulator.create_target_group("rename-deregister")
        self.dns.set("same.local", a=["10.0.23.1", "10.0.23.2"], ttl=1)
        self.dns.set("moved.local", a=["10.0.24.1", "10.0.24.2"], ttl=1)
        self.dns.set("drain.local", a=["10.0.31.1", "10.0.31.2"], ttl=1)
        self.write_manifest("same.yaml", tg_binding("before", same, "same.local", policy=policy))
        # A rename is not a deletion: deletionPolicy Deregister must not drain the group that
        # the new name binds.
        drain_policy = {**policy, "deletionPolicy": "Deregister", "maxDeregistrationsPerSync": '"100%"'}
        self.write_manifest("a.yaml", tg_binding("mover", moved, "moved.local", policy=drain_policy))
        self.write_manifest("drain.yaml", tg_binding("drain-before", drain, "drain.local", policy=drain_policy))
        c = self.start_controller("--manifest-deletion-settle", "1s")
        wait_for(lambda: self.emulator.registered(same) == {"10.0.23.1", "10.0.23.2"}
                 and self.emulator.registered(moved) == {"10.0.24.1", "10.0.24.2"}
                 and self.emulator.registered(drain) == {"10.0.31.1", "10.0.31.2"}, 15, what="registered")
        self.assertEqual("endpoint-binder/default/before", self.owner(same))

        # metadata.name changes in the same file; the other moves to b.yaml in another namespace.
        # The new names wait (Conflict) until the old names' deletions are confirmed, which
        # hand the groups over untouched: no Deregister drains a group, no target leaves.
        self.write_manifest("same.yaml", tg_binding("after", same, "same.local", policy=policy))
        self.write_manifest("drain.yaml", tg_binding("drain-after", drain, "drain.local", policy=drain_policy))
        self.write_manifest("b.yaml", tg_binding("mover", moved, "moved.local", namespace="team", policy=drain_policy))
        os.remove(os.path.join(self.manifests, "a.yaml"))
        wait_for(lambda: self.owner(same) == "endpoint-binder/default/after"
                 and self.owner(moved) == "endpoint-binder/team/mover"
                 and self.owner(drain) == "endpoint-binder/default/drain-after", 20, what="claims taken over")
        wait_for(lambda: self.cond(c, "after", "Conflict").get("status") == "False"
                 and self.cond(c, "mover", "Conflict", "team").get("status") == "False", 10,
                 what="no Conflict left")
        wait_for(lambda: c.binding("before") is None and c.binding("mover") is None
                 and c.binding("drain-before") is None, 10, what="old names gone")
        self.assertEqual([], self.deregistered_ids(drain), "a renamed Deregister binding drained its group")
        self.assertEqual([], self.deregistered_ids(moved), "a moved Deregister binding drained its group")
        self.assertIn("Adopted", self.events(c, "after"))
        self.assertIn("Adopted", self.events(c, "mover", "team"))
        # Both groups are served throughout: a new address is registered by the new names.
        self.dns.set("same.local", a=["10.0.23.1", "10.0.23.2", "10.0.23.3"], ttl=1)
        wait_for(lambda: "10.0.23.3" in self.emulator.registered(same), 10, what="new name writes")
        self.assertEqual([], self.emulator.requests("DeregisterTargets"))
        self.assertEqual({"10.0.24.1", "10.0.24.2"}, self.emulator.registered(moved))

    def test_deletion_and_arn_change_release_claims_and_a_foreign_claim_stays_conflict(self):
        kept = self.emulator.create_target_group("release-retain")
        first = self.emulator.create_target_group("release-first")
        second = self.emulator.create_target_group("release-second")
        # Another controller's claim naming a binding key that does not exist here: the key
        # alone must not make it adoptable, only our own controller id does.
        foreign = self.emulator.create_target_group(
            "foreign", tags={OWNER: "other-controller/default/ghost"})
        self.dns.set("release.local", a=["10.0.25.1"], ttl=1)
        self.write_manifest("retain.yaml", tg_binding("retain", kept, "release.local",
                                                      policy={"deletionPolicy": "Retain"}))
        self.write_manifest("mover.yaml", tg_binding("arn-mover", first, "release.local"))
        self.write_manifest("foreign.yaml", tg_binding("foreign", foreign, "release.local"))
        c = self.start_controller("--manifest-deletion-settle", "1s")
        wait_for(lambda: self.owner(kept) == "endpoint-binder/default/retain"
                 and self.owner(first) == "endpoint-binder/default/arn-mover", 15, what="claimed")
        wait_for(lambda: self.cond(c, "foreign", "Conflict").get("status") == "True", 15, what="foreign Conflict")

        os.remove(os.path.join(self.manifests, "retain.yaml"))
        self.write_manifest("mover.yaml", tg_binding("arn-mover", second, "release.local"))
        wait_for(lambda: self.owner(kept) is None, 15, what="Retain deletion removes the owner tag")
        wait_for(lambda: self.owner(first) is None and self.owner(second) == "endpoint-binder/default/arn-mover",
                 15, what="old group released, new one claimed")
        self.assertIn("Released", self.events(c, "arn-mover"))
        self.assertEqual({"10.0.25.1"}, self.emulator.registered(kept), "Retain keeps targets")
        self.assertEqual({"10.0.25.1"}, self.emulator.registered(second))
        self.assertEqual([], [r for r in self.emulator.requests("RemoveTags")
                              if r["params"].get("ResourceArns.member.1") == foreign])
        self.assertEqual("other-controller/default/ghost", self.owner(foreign))
        self.assertEqual("True", self.cond(c, "foreign", "Conflict").get("status"))
        self.assertEqual(set(), self.emulator.registered(foreign))


class PublicAnswer(SafetyTest):
    """Item 4. Old code: the public address was held NotAllowed, the source counted as
    answering, so both old targets were absent and, after the 1 s grace, one was deregistered
    (down to minTargets 1): the DeregisterTargets check fails."""

    def test_answer_of_only_disallowed_addresses_freezes_deregistrations(self):
        arn = self.emulator.create_target_group("public-answer")
        self.dns.set("pub.local", a=["10.0.26.1", "10.0.26.2"], ttl=1)
        self.write_manifest("pub.yaml", tg_binding("pub", arn, "pub.local", policy={
            "deregistrationGracePeriod": "1s", "maxDeregistrationsPerSync": '"100%"'}))
        c = self.start_controller()
        wait_for(lambda: self.emulator.registered(arn) == {"10.0.26.1", "10.0.26.2"}, 15, what="registered")
        self.dns.set("pub.local", a=["8.8.8.8"], ttl=1)
        cond = wait_for(lambda: self.cond(c, "pub", "SourceResolved").get("reason") == "NoAllowedAddresses"
                        and self.cond(c, "pub", "SourceResolved"), 10, what="NoAllowedAddresses")
        self.assertEqual("False", cond["status"])
        self.assertIn("8.8.8.8", cond["message"])
        time.sleep(3)  # three grace periods
        self.assertEqual([], self.emulator.requests("DeregisterTargets"))
        self.assertEqual({"10.0.26.1", "10.0.26.2"}, self.emulator.registered(arn))
        self.assertNotIn("8.8.8.8", self.emulator.registered(arn))


class UnusableAnswers(SafetyTest):
    """Review of item 4. Old code: a source listing only IPv6 addresses for an ipv4 group (here
    a spec edited to ask for AAAA records), or only addresses AWS refuses, counted every old
    target absent and drained the group after the grace (the refused case down to nothing, as
    the refused registration never landed)."""

    def test_answers_of_the_other_family_or_refused_addresses_freeze_deregistrations(self):
        family = self.emulator.create_target_group("family-answer")
        refused = self.emulator.create_target_group("refused-answer")
        self.dns.set("family.local", a=["10.0.28.1", "10.0.28.2"], aaaa=["fd00::28:1"], ttl=1)
        self.dns.set("refusing.local", a=["10.0.29.1", "10.0.29.2"], ttl=1)
        policy = {"deregistrationGracePeriod": "1s", "maxDeregistrationsPerSync": '"100%"',
                  "minTargets": 0, "requireHealthyReplacements": "false",
                  "allowedCIDRs": '[10.0.0.0/8, 192.168.0.0/16, "fd00::/8"]'}
        self.write_manifest("family.yaml", tg_binding("family", family, "family.local", policy=policy))
        self.write_manifest("refusing.yaml", tg_binding("refusing", refused, "refusing.local", policy=policy))
        c = self.start_controller()
        wait_for(lambda: self.emulator.registered(family) == {"10.0.28.1", "10.0.28.2"}
                 and self.emulator.registered(refused) == {"10.0.29.1", "10.0.29.2"}, 15, what="registered")
        self.write_manifest("family.yaml", tg_binding("family", family, "family.local", policy=policy,
                                                      dns_extra={"addressFamilies": "[IPv6]"}))
        # 192.168.50.1 is outside the emulator's VPC and has no availabilityZone: refused.
        self.dns.set("refusing.local", a=["192.168.50.1"], ttl=1)
        cond = wait_for(lambda: self.cond(c, "family", "SourceResolved").get("reason") == "NoAllowedAddresses"
                        and self.cond(c, "family", "SourceResolved"), 10, what="family NoAllowedAddresses")
        self.assertIn("IpAddressType ipv4", cond["message"])
        cond = wait_for(lambda: self.cond(c, "refusing", "SourceResolved").get("reason") == "NoAllowedAddresses"
                        and self.cond(c, "refusing", "SourceResolved"), 10, what="refused NoAllowedAddresses")
        self.assertIn("refused by AWS", cond["message"])
        time.sleep(3)  # three grace periods
        self.assertEqual([], self.emulator.requests("DeregisterTargets"))
        self.assertEqual({"10.0.28.1", "10.0.28.2"}, self.emulator.registered(family))
        self.assertEqual({"10.0.29.1", "10.0.29.2"}, self.emulator.registered(refused))
        # A usable answer again: the departures count from then, and the grace runs out.
        self.dns.set("family.local", a=["10.0.28.1"], aaaa=["fd00::28:1"], ttl=1)
        self.write_manifest("family.yaml", tg_binding("family", family, "family.local", policy=policy))
        wait_for(lambda: self.emulator.registered(family) == {"10.0.28.1"}, 15, what="family recovers")


class RefusedTarget(SafetyTest):
    """Item 5. 192.168.50.1 is inside the default allowedCIDRs but outside the emulator's VPC
    (10.0.0.0/16) and has no availabilityZone, so ELB refuses it. Old code: the whole
    RegisterTargets call failed, the reconcile failed before anything was written and retried
    with backoff forever: the good addresses were never registered."""

    def test_refused_target_is_held_while_the_rest_registers_and_deregisters(self):
        arn = self.emulator.create_target_group("refused")
        good = ["10.0.27.1", "10.0.27.2"]
        self.dns.set("refused.local", a=[*good, "192.168.50.1"], ttl=1)
        self.write_manifest("refused.yaml", tg_binding("refused", arn, "refused.local", policy={
            "deregistrationGracePeriod": "1s", "maxDeregistrationsPerSync": '"100%"'}))
        c = self.start_controller()
        wait_for(lambda: self.emulator.registered(arn) == set(good), 15, what="good addresses registered")
        held = wait_for(lambda: [h for h in self.held(c, "refused") if "RejectedByAWS" in h], 10,
                        what="RejectedByAWS held")
        self.assertIn("192.168.50.1", held[0])
        self.assertIn("Availability Zone", held[0], "the AWS message is kept")
        out = c.cli("describe", "refused")
        self.assertEqual(0, out.returncode, out.stderr)
        self.assertIn("RejectedByAWS", out.stdout)
        self.assertIn("192.168.50.1", out.stdout)

        self.dns.set("refused.local", a=["10.0.27.2", "192.168.50.1"], ttl=1)
        wait_for(lambda: self.emulator.registered(arn) == {"10.0.27.2"}, 10,
                 what="a later deregistration still happens")
        self.assertEqual(["10.0.27.1"], self.deregistered_ids(arn))


class ReplacementsNotReady(SafetyTest):
    """Item 6. Blue/green by address where the green side is dead. Old code: health was not
    looked at; the blue targets went after grace and the group served nothing: the "blue
    stays past grace" check fails."""

    def test_serving_targets_stay_until_replacements_are_healthy_unless_turned_off(self):
        grace = 2
        guarded = self.emulator.create_target_group("bg-guarded")
        unguarded = self.emulator.create_target_group("bg-unguarded")
        self.dns.set("guarded.local", a=["10.0.28.1", "10.0.28.2"], ttl=1)
        self.dns.set("unguarded.local", a=["10.0.29.1", "10.0.29.2"], ttl=1)
        policy = {"deregistrationGracePeriod": f"{grace}s", "maxDeregistrationsPerSync": '"100%"'}
        self.write_manifest("guarded.yaml", tg_binding("guarded", guarded, "guarded.local", policy=policy))
        # minTargets 0: the floor counts serving targets and the green side never serves.
        self.write_manifest("unguarded.yaml", tg_binding("unguarded", unguarded, "unguarded.local", policy={
            **policy, "requireHealthyReplacements": "false", "minTargets": 0}))
        c = self.start_controller()
        wait_for(lambda: set(self.emulator.targets(guarded, {"healthy"})) == {"10.0.28.1", "10.0.28.2"}
                 and set(self.emulator.targets(unguarded, {"healthy"})) == {"10.0.29.1", "10.0.29.2"},
                 15, what="blue healthy")

        green = ["10.0.28.11", "10.0.28.12", "10.0.29.11", "10.0.29.12"]
        self.emulator.control("POST", "dead-targets", {"ids": green, "dead": True})
        switched = time.monotonic()
        self.dns.set("guarded.local", a=green[:2], ttl=1)
        self.dns.set("unguarded.local", a=green[2:], ttl=1)
        wait_for(lambda: self.emulator.registered(unguarded) == set(green[2:]), grace + 8,
                 what="requireHealthyReplacements: false removes blue after grace")
        self.assertGreaterEqual(time.monotonic() - switched, grace - 0.5)

        time.sleep(max(0, grace + 2 - (time.monotonic() - switched)))
        self.assertEqual({"10.0.28.1", "10.0.28.2", *green[:2]}, self.emulator.registered(guarded))
        wait_for(lambda: any("ReplacementsNotReady" in h for h in self.held(c, "guarded")), 5,
                 what="held ReplacementsNotReady")
        self.assertEqual([], self.deregistered_ids(guarded))

        self.emulator.control("POST", "dead-targets", {"ids": green[:2], "dead": False})
        # Health is read again at most 10 s apart while replacements are awaited.
        wait_for(lambda: self.emulator.registered(guarded) == set(green[:2]), 15,
                 what="blue removed once green is healthy")


class DeletionPolicyDeregister(SafetyTest):
    """Item 7. Old code: deleting a binding with deletionPolicy Deregister removed every
    registered target in one call, the hand-registered one included: both checks fail."""

    def test_deregister_removes_only_listed_targets_at_the_capped_rate(self):
        window = 2
        arn = self.emulator.create_target_group("delete-deregister")
        listed = [f"10.0.30.{i}" for i in range(1, 7)]
        self.dns.set("delete.local", a=listed, ttl=1)
        self.write_manifest("delete.yaml", tg_binding("delete", arn, "delete.local", policy={
            "deletionPolicy": "Deregister", "maxDeregistrationsPerSync": 2,
            # Long: the hand-registered target is never removed while the binding lives.
            "deregistrationGracePeriod": "10m"}))
        c = self.start_controller("--manifest-deletion-settle", "1s", "--deregistration-window", f"{window}s")
        wait_for(lambda: self.emulator.registered(arn) == set(listed), 15, what="registered")
        self.register_by_hand(arn, ["10.0.30.99"])
        wait_for(lambda: self.cond(c, "delete", "Ready").get("status") == "True", 10, what="Ready")

        os.remove(os.path.join(self.manifests, "delete.yaml"))
        wait_for(lambda: self.emulator.registered(arn) == {"10.0.30.99"}, 20, what="listed targets removed")
        wait_for(lambda: self.owner(arn) is None, 10, what="claim released after the drain")
        calls = [r for r in self.emulator.requests("DeregisterTargets") if r["status"] == 200]
        for r in calls:
            n = len([k for k in r["params"] if k.startswith("Targets.member.") and k.endswith(".Id")])
            self.assertLessEqual(n, 2, "more than maxDeregistrationsPerSync in one call")
        self.assertNotIn("10.0.30.99", self.deregistered_ids(arn))
        self.assertEqual(sorted(listed), sorted(self.deregistered_ids(arn)))
        # Three calls of two, each a window after the one before; allow the first call's own
        # latency (hence one window, not two).
        self.assertGreaterEqual(calls[-1]["time"] - calls[0]["time"], window)


if __name__ == "__main__":
    unittest.main(verbosity=2)
