"""Deletion safety on the manifest side (issue 10 item 7, issue 16 items 5 and 6), with the real
binary: a binding counts as deleted only when two clean reads of the manifests, at least
--manifest-deletion-settle apart, both lack it. Every binding here has deletionPolicy:
Deregister, so a wrong deletion shows as a DeregisterTargets call.

The settle is passed as ENDPOINT_BINDER_MANIFEST_DELETION_SETTLE (the flag's variable), so the
same tests also run against a binary from before the flag existed, and fail there."""
import os
import shutil
import time
import unittest

from harness import Controller, ScenarioTest, tg_binding, wait_for

DEREGISTER = {"deletionPolicy": "Deregister"}


class ManifestSafety(ScenarioTest):
    def start(self, settle, manifests=None):
        c = Controller(manifests or self.manifests, self.emulator, self.dns,
                       env_extra={"ENDPOINT_BINDER_MANIFEST_DELETION_SETTLE": settle})
        self.controllers.append(c)
        return c

    def deregistrations(self):
        return self.emulator.requests("DeregisterTargets")

    def test_binding_unknown_to_a_fresh_process_keeps_its_group(self):
        # Review of issue 10. A group claimed by binding "a" (a previous run of the controller
        # tagged it) has its targets registered. The controller starts while a.yaml is truncated
        # (being rewritten), and b.yaml names the same group. Old code: "a" was unknown to the fresh
        # process, so "b" adopted the group at once and drained a's targets after its 1 s grace,
        # although a.yaml was whole again a moment later. Now an unknown holder counts as gone only
        # once the manifests have settled (a clean read a settle after the first): "b" waits.
        arn = self.emulator.create_target_group(
            "restart-tg", tags={"endpointbinder.io/owner": "endpoint-binder/default/a"})
        self.emulator.control("POST", "targets", {
            "arn": arn, "targets": [{"id": i, "port": 443} for i in ("10.0.32.1", "10.0.32.2")],
            "state": "healthy"})
        self.dns.set("a.local", a=["10.0.32.1", "10.0.32.2"], ttl=1)
        self.dns.set("b.local", a=["10.0.32.9"], ttl=1)
        policy = {"deregistrationGracePeriod": "1s", "minTargets": 0, "requireHealthyReplacements": "false",
                  "maxDeregistrationsPerSync": '"100%"'}
        self.write_manifest("a.yaml", "")  # caught truncated
        self.write_manifest("b.yaml", tg_binding("b", arn, "b.local", policy=policy))
        c = self.start("3s")
        wait_for(lambda: (self.condition(c, "b", "Conflict") or {}).get("reason") == "ClaimedByBinding", 15,
                 what="b waits for the unknown holder")
        time.sleep(1)
        self.write_manifest("a.yaml", tg_binding("a", arn, "a.local", policy=policy))
        time.sleep(4)  # past the settle and several graces
        self.assertEqual([], self.deregistrations())
        self.assertEqual({"10.0.32.1", "10.0.32.2"}, self.emulator.registered(arn))
        self.assertEqual("endpoint-binder/default/a", self.owner(arn))

    def condition(self, c, name, ctype):
        return c.condition(name, ctype)

    def owner(self, arn):
        for group in self.emulator.control("GET", "state")["targetGroups"]:
            if group["arn"] == arn:
                return group.get("tags", {}).get("endpointbinder.io/owner")
        return None

    def test_binding_moved_into_a_file_that_fails_to_parse_is_never_deleted(self):
        arn = self.emulator.create_target_group("moved-tg")
        self.dns.set("moved.local", a=["10.0.20.1"], ttl=1)
        good = tg_binding("moved", arn, "moved.local", policy=DEREGISTER)
        self.write_manifest("a.yaml", good)
        c = self.start("1s")
        wait_for(lambda: self.emulator.registered(arn) == {"10.0.20.1"}, 15, what="registered")

        # Moved to b.yaml, with a typo there; a.yaml is left valid and empty.
        self.write_manifest("b.yaml", good.replace("hostname:", "hostnme:"))
        self.write_manifest("a.yaml", "# moved to b.yaml\n")
        wait_for(lambda: any(e["reason"] == "InvalidManifest"
                             for e in (c.binding("moved") or {}).get("status", {}).get("events", [])),
                 15, what="InvalidManifest event: kept on its last good spec")
        time.sleep(4)  # four settles
        self.assertEqual([], self.deregistrations())
        self.assertIsNotNone(c.binding("moved"))
        # Still running: a new address is registered.
        self.dns.set("moved.local", a=["10.0.20.1", "10.0.20.2"], ttl=1)
        wait_for(lambda: self.emulator.registered(arn) == {"10.0.20.1", "10.0.20.2"}, 15,
                 what="the kept binding still reconciles")

        # Fixed where it now lives: the same binding, from b.yaml.
        self.write_manifest("b.yaml", good)
        wait_for(lambda: c.metric("endpointbinder_manifest_errors") == 0, 15, what="manifests valid again")
        time.sleep(2)
        self.assertEqual([], self.deregistrations())
        self.assertNotIn("deletion confirmed", c.output())

    def test_file_rewritten_slowly_in_place_three_times_is_never_deleted(self):
        arn = self.emulator.create_target_group("slow-tg")
        self.dns.set("slow.local", a=["10.0.21.1"], ttl=1)
        text = tg_binding("slow", arn, "slow.local", policy=DEREGISTER)
        path = self.write_manifest("slow.yaml", text)
        c = self.start("5s")
        wait_for(lambda: self.emulator.registered(arn) == {"10.0.21.1"}, 15, what="registered")

        # `generator > slow.yaml`: truncate, then three chunks, with pauses long enough for the
        # watcher (200 ms debounce) to read the file empty and then half written.
        third = len(text) // 3
        chunks = [text[:third], text[third:2 * third], text[2 * third:]]
        for _ in range(3):
            with open(path, "w") as f:
                time.sleep(0.6)
                for chunk in chunks:
                    f.write(chunk)
                    f.flush()
                    time.sleep(0.6)
        time.sleep(1)
        self.assertEqual([], self.deregistrations())
        self.assertEqual({"10.0.21.1"}, self.emulator.registered(arn))
        self.assertIsNotNone(c.binding("slow"))
        out = c.output()
        # The empty reads were noticed, and taken for nothing more than a pending deletion.
        self.assertIn("binding absent from manifests; deleting after confirmation", out)
        self.assertIn("binding back in manifests; deletion cancelled", out)
        self.assertNotIn("deletion confirmed", out)

    def test_git_sync_revisions_moving_a_binding_between_files_never_delete_it(self):
        # git-sync's layout: <root>/.worktrees/<rev> and <root>/current -> .worktrees/<rev>,
        # swapped by renaming a new link over it, the old revision removed afterwards. The
        # binding moves between m.yaml and n.yaml; a directory of empty manifests read between
        # the two (linked from every revision, so that publishing stays quick) makes each read
        # long enough for swaps to land in the middle of it. A reader that follows the link
        # anew for each file reads m.yaml of one revision and n.yaml of another, and in a
        # quarter of such reads finds the binding in neither.
        root = os.path.join(self.manifests, "git")
        os.makedirs(os.path.join(root, ".worktrees"))
        os.makedirs(os.path.join(root, "fill"))
        for i in range(1000):
            open(os.path.join(root, "fill", f"f{i:04}.yaml"), "w").close()
        arn = self.emulator.create_target_group("mover-tg")
        stay_arn = self.emulator.create_target_group("stay-tg")
        self.dns.set("mover.local", a=["10.0.22.1"], ttl=1)
        self.dns.set("stay.local", a=["10.0.22.2"], ttl=1)
        mover = tg_binding("mover", arn, "mover.local", policy=DEREGISTER)
        stay = tg_binding("stay", stay_arn, "stay.local", policy=DEREGISTER)
        layouts = [{"m.yaml": stay + "---\n" + mover, "n.yaml": "# nothing here\n"},
                   {"m.yaml": stay, "n.yaml": mover}]
        revision = [0]
        previous = [None]

        def publish(files):
            revision[0] += 1
            name = os.path.join(".worktrees", str(revision[0]))
            directory = os.path.join(root, name)
            os.makedirs(directory)
            os.symlink(os.path.join("..", "..", "fill"), os.path.join(directory, "mm-fill"))
            for filename, text in files.items():
                with open(os.path.join(directory, filename), "w") as f:
                    f.write(text)
            tmp = os.path.join(root, ".current.tmp")
            os.symlink(name, tmp)
            os.rename(tmp, os.path.join(root, "current"))
            if previous[0]:
                shutil.rmtree(previous[0])
            previous[0] = directory

        publish(layouts[0])
        c = self.start("1s", manifests=os.path.join(root, "current"))
        wait_for(lambda: self.emulator.registered(arn) == {"10.0.22.1"}
                 and self.emulator.registered(stay_arn) == {"10.0.22.2"}, 15, what="registered")
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            publish(layouts[revision[0] % 2])
            time.sleep(0.005)
        time.sleep(3)
        self.assertEqual([], self.deregistrations())
        self.assertEqual({"10.0.22.1"}, self.emulator.registered(arn))
        self.assertIsNotNone(c.binding("mover"))
        self.assertNotIn("deletion confirmed", c.output())

    def test_real_deletion_is_applied_only_after_the_settle(self):
        arn = self.emulator.create_target_group("gone-tg")
        self.dns.set("gone.local", a=["10.0.23.1"], ttl=1)
        self.write_manifest("gone.yaml", tg_binding("gone", arn, "gone.local", policy=DEREGISTER))
        c = self.start("3s")
        wait_for(lambda: self.emulator.registered(arn) == {"10.0.23.1"}, 15, what="registered")

        deleted = time.monotonic()
        os.remove(os.path.join(self.manifests, "gone.yaml"))
        # Before the settle can have passed, it still runs as before.
        time.sleep(2.5)
        self.assertIsNotNone(c.binding("gone"), "deleted before the settle")
        self.assertEqual([], self.deregistrations())
        self.assertIn("binding absent from manifests; deleting after confirmation", c.output())
        wait_for(lambda: c.binding("gone") is None, 15, what="binding deleted")
        self.assertGreaterEqual(time.monotonic() - deleted, 3.0)
        wait_for(lambda: self.emulator.registered(arn) == set(), 15, what="Deregister applied")
        self.assertIn("binding deletion confirmed", c.output())




if __name__ == "__main__":
    unittest.main(verbosity=2)
