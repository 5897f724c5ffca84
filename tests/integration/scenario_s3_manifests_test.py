"""Manifests from S3 (issue 14 part 2), with the real binary against the emulator's S3:
`run --manifests s3://manifests/prod/ --s3-poll-interval 1s`. A binding read from an object
converges; an edit of the object is picked up within a poll; a broken object keeps the last
good spec (InvalidManifest event, nothing deregistered); an S3 outage (every S3 call failing)
deletes and deregisters nothing, even with an object deleted meanwhile; once S3 answers again
the deleted object's binding is deleted, after the settle. The request log shows what the
polling costs: one ListObjectsV2 per poll, a GetObject only for a changed object; a listing of
several pages is read whole.
Every binding has deletionPolicy: Deregister, so a wrong deletion shows as a DeregisterTargets
call."""
import time
import unittest

from harness import Controller, ScenarioTest, tg_binding, wait_for

DEREGISTER = {"deletionPolicy": "Deregister", "deregistrationGracePeriod": "1s", "minTargets": 0,
              "requireHealthyReplacements": "false", "maxDeregistrationsPerSync": '"100%"'}
LOCATION = "s3://manifests/prod/"


class S3Manifests(ScenarioTest):
    def setUp(self):
        super().setUp()
        self.emulator.control("POST", "s3/buckets", {"name": "manifests"})

    def put(self, key, text):
        return self.emulator.control("POST", "s3/objects",
                                     {"bucket": "manifests", "key": key, "body": text})

    def delete(self, key):
        self.emulator.control("POST", "s3/objects/delete", {"bucket": "manifests", "key": key})

    def start(self):
        c = Controller(LOCATION, self.emulator, self.dns, extra_args=("--s3-poll-interval", "1s"),
                       env_extra={"ENDPOINT_BINDER_MANIFEST_DELETION_SETTLE": "2s"})
        self.controllers.append(c)
        return c

    def deregistrations(self):
        return self.emulator.requests("DeregisterTargets")

    def events(self, c, name):
        return [e["reason"] for e in (c.binding(name) or {}).get("status", {}).get("events", [])]

    def test_converges_follows_edits_and_keeps_the_last_good_spec(self):
        arn = self.emulator.create_target_group("s3-web-tg")
        self.dns.set("web.local", a=["10.0.40.1"], ttl=1)
        self.dns.set("web2.local", a=["10.0.40.2"], ttl=1)
        self.put("prod/web.yaml", tg_binding("web", arn, "web.local", policy=DEREGISTER))
        self.put("prod/notes.txt", "not a manifest")
        c = self.start()
        wait_for(lambda: self.emulator.registered(arn) == {"10.0.40.1"}, 20, what="converged")

        # Idle: one ListObjectsV2 per poll, no GetObject.
        seq = self.emulator.control("GET", "requests")["lastSeq"]
        time.sleep(5)
        idle = self.emulator.requests(since=seq)
        lists = [r for r in idle if r["action"] == "ListObjectsV2"]
        self.assertGreaterEqual(len(lists), 3)
        self.assertLessEqual(len(lists), 7)
        self.assertEqual([], [r for r in idle if r["action"] == "GetObject"])
        self.assertTrue(all(r["params"].get("prefix") == "prod/" for r in lists))

        # An edit is picked up within a poll (plus the reconcile).
        seq = self.emulator.control("GET", "requests")["lastSeq"]
        self.put("prod/web.yaml", tg_binding("web", arn, "web2.local", policy=DEREGISTER))
        wait_for(lambda: "10.0.40.2" in self.emulator.registered(arn), 10, what="edit applied")
        gets = [r for r in self.emulator.requests("GetObject", since=seq)]
        self.assertEqual(["prod/web.yaml"], [r["params"]["Key"] for r in gets])

        # A broken object: the last good spec stays, nothing is deregistered because of it.
        wait_for(lambda: self.emulator.registered(arn) == {"10.0.40.2"}, 20, what="edit converged")
        before = len(self.deregistrations())
        self.put("prod/web.yaml", "apiVersion: endpointbinder.io/v1alpha1\nkind: [\n")
        wait_for(lambda: "InvalidManifest" in self.events(c, "web"), 10,
                 what="InvalidManifest event")
        self.assertIn("s3://manifests/prod/web.yaml", c.output())
        time.sleep(4)  # two settles, several polls
        self.assertEqual(before, len(self.deregistrations()))
        self.assertEqual({"10.0.40.2"}, self.emulator.registered(arn))
        self.assertIsNotNone(c.binding("web"))

    def test_outage_deletes_nothing_and_a_deleted_object_goes_after_the_settle(self):
        arn = self.emulator.create_target_group("s3-api-tg")
        keep = self.emulator.create_target_group("s3-keep-tg")
        self.dns.set("api.local", a=["10.0.41.1"], ttl=1)
        self.dns.set("keep.local", a=["10.0.41.9"], ttl=1)
        self.put("prod/api.yaml", tg_binding("api", arn, "api.local", policy=DEREGISTER))
        self.put("prod/keep.yaml", tg_binding("keep", keep, "keep.local", policy=DEREGISTER))
        c = self.start()
        wait_for(lambda: self.emulator.registered(arn) == {"10.0.41.1"} and
                 self.emulator.registered(keep) == {"10.0.41.9"}, 20, what="converged")

        # S3 down: every call fails. The object is deleted meanwhile.
        self.emulator.control("POST", "faults", {"service": "s3", "action": "*",
                                                 "errorRate": 1.0, "errorStatus": 503})
        self.delete("prod/api.yaml")
        wait_for(lambda: "cannot list" in c.output(), 10, what="the failed listing reported")
        time.sleep(5)  # over two settles, several polls
        self.assertEqual([], self.deregistrations())
        self.assertIsNotNone(c.binding("api"))
        self.assertEqual({"10.0.41.1"}, self.emulator.registered(arn))

        # S3 back: the deletion is seen, confirmed after the settle, and carried out.
        self.emulator.control("DELETE", "faults")
        wait_for(lambda: c.binding("api") is None, 20, what="binding deleted")
        wait_for(lambda: self.emulator.registered(arn) == set(), 20, what="deregistered")
        self.assertEqual({"10.0.41.9"}, self.emulator.registered(keep))
        self.assertIsNotNone(c.binding("keep"))

    def test_a_listing_of_several_pages_is_read_whole(self):
        # 1,000 other objects first: the binding's object is on ListObjectsV2's second page, so
        # it exists only if the continuation token (base64, '=' signed encoded) round-trips.
        arn = self.emulator.create_target_group("s3-paged-tg")
        for i in range(1000):
            self.put(f"prod/aa/{i:04d}.txt", "x")
        self.put("prod/zz.yaml", tg_binding("paged", arn, static=["10.0.42.1"], policy=DEREGISTER))
        c = self.start()
        wait_for(lambda: self.emulator.registered(arn) == {"10.0.42.1"}, 20, what="converged")
        lists = self.emulator.requests("ListObjectsV2")
        self.assertTrue(all(r["status"] == 200 for r in lists), lists[:3])
        self.assertIn("continuation-token", lists[1]["params"])
        self.assertIsNotNone(c.binding("paged"))


if __name__ == "__main__":
    unittest.main(verbosity=2)
