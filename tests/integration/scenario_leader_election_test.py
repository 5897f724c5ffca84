"""High availability (issue 14, part 1): two and three replicas of the real binary elect a leader
through a lease in a real DynamoDB-compatible server (dynalite from npm, on loopback), while
the AWS emulator serves ELBv2 to all of them. The DNS answer changes every 0.4 s, so every
replica that may write has something to write at all times.

Each replica signs with its own access key, so the emulator's request log tells whose write
calls reached ELBv2. In every run the writes form one unbroken run per leader in the expected
order, and each run ends before the next begins (end = start + duration of the call): there is
never more than one writer. Each replica reaches DynamoDB through its own TCP proxy, which the
partition test black-holes (the leader's lease calls then time out while ELBv2 stays reachable).
Takeover times are printed as MEASURE lines.

Run with /usr/bin/python3 after building the binary; needs node and npm (dynalite is installed
into the build directory on first use).
"""
import re
import signal
import threading
import time
import unittest

from dynalite import Dynalite, TcpProxy
from harness import ScenarioTest, http_json, tg_binding, wait_for

WRITES = {"RegisterTargets", "DeregisterTargets", "AddTags", "RemoveTags"}
TABLE = "endpoint-binder-leases"
# Short timings keep the tests in seconds: lease 3 s, deadline 2 s, renew/read every 0.25 s;
# an AWS attempt may take 1 s (a write may start only when it would end within the lease).
FAST = ["--leader-election-lease-duration", "3s", "--leader-election-renew-deadline", "2s",
        "--leader-election-retry-period", "250ms", "--aws-attempt-timeout", "1s"]


class LeaderElectionTest(ScenarioTest):
    def setUp(self):
        super().setUp()
        self.dynalite = Dynalite()
        self.addCleanup(self.dynalite.stop)
        self.dynalite.create_lease_table(TABLE)
        self.arn = self.emulator.create_target_group("web", port=443)
        self.answer = ["10.0.1.1"]
        self.dns.set("web.local", a=self.answer, ttl=1)
        self.write_manifest("web.yaml", tg_binding("web", self.arn, "web.local"))
        self.keys = {}  # access key id -> replica name
        self._churning = threading.Event()

    def replica(self, name, timings=FAST):
        key, secret = f"AKID{name.upper()}REPLICA", f"secret-{name}"
        self.emulator.control("POST", "credentials", {"accessKeyId": key, "secretAccessKey": secret})
        proxy = TcpProxy(self.dynalite.url)
        self.addCleanup(proxy.stop)
        c = self.start_controller(
            "--leader-election-table", TABLE, "--leader-election-identity", name, *timings,
            env_extra={"AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret,
                       "AWS_ENDPOINT_URL_DYNAMODB": proxy.url},
            resync="2s")
        c.name, c.key, c.proxy = name, key, proxy
        self.keys[key] = name
        return c

    # ---- observation helpers

    @staticmethod
    def leader_view(c):
        try:
            status, body = http_json("GET", c.base + "/leader", timeout=2)
        except OSError:
            return None
        return body if status == 200 and isinstance(body, dict) else None

    def leading(self, c):
        if c.proc.poll() is not None:
            return False
        view = self.leader_view(c)
        return bool(view and view["leading"])

    def wait_for_leader(self, candidates, timeout):
        """Polls every 20 ms until one candidate leads; fails if two ever lead at once."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            leaders = [c for c in candidates if self.leading(c)]
            self.assertLessEqual(len(leaders), 1, f"two leaders at once: {[c.name for c in leaders]}")
            if leaders:
                return leaders[0]
            time.sleep(0.02)
        self.fail(f"no leader among {[c.name for c in candidates]} within {timeout}s")

    def churn(self):
        """Adds a new address to the DNS answer every 0.4 s until the test ends or stop_churn()."""
        self._churning.set()

        def run():
            n = 1
            while self._churning.is_set():
                n += 1
                self.answer = self.answer[-3:] + [f"10.0.{1 + n // 250}.{n % 250 + 1}"]
                self.dns.set("web.local", a=self.answer, ttl=1)
                time.sleep(0.4)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        self.addCleanup(self.stop_churn)

    def stop_churn(self):
        self._churning.clear()

    def writes(self):
        return sorted((r for r in self.emulator.requests() if r["action"] in WRITES),
                      key=lambda r: r["time"])

    def writes_by(self, c):
        return [r for r in self.writes() if r["accessKeyId"] == c.key]

    def assert_one_writer_at_a_time(self, expected_order):
        """The emulator's log of write calls: one unbroken run per leader, in `expected_order`,
        each ending before the next starts. Returns [(name, first start, last end)]."""
        runs = []
        for r in self.writes():
            who = self.keys.get(r["accessKeyId"], r["accessKeyId"])
            end = r["time"] + r["durationMs"] / 1000.0
            if runs and runs[-1][0] == who:
                runs[-1][2] = max(runs[-1][2], end)
            else:
                runs.append([who, r["time"], end])
        self.assertEqual(expected_order, [run[0] for run in runs],
                         "write calls of different replicas interleave (or a leader never wrote)")
        for before, after in zip(runs, runs[1:]):
            self.assertLessEqual(before[2], after[1],
                                 f"{before[0]}'s last write ended after {after[0]}'s first began")
        return runs

    def dynamodb_calls(self, c):
        """{operation: calls} of one replica's DynamoDB calls, from its metrics."""
        out = {}
        for line in c.metrics().splitlines():
            m = re.match(r'^endpointbinder_aws_requests_total\{(.*)\}\s+(\S+)', line)
            if m and 'service="dynamodb"' in m.group(1):
                op = re.search(r'operation="([^"]+)"', m.group(1)).group(1)
                out[op] = out.get(op, 0) + float(m.group(2))
        return out

    # ---- the scenarios

    def test_standby_writes_nothing_and_sigterm_hands_over_at_once(self):
        # A long lease (30 s): a takeover in seconds can only come from the release.
        slow = ["--leader-election-lease-duration", "30s", "--leader-election-renew-deadline", "20s",
                "--leader-election-retry-period", "250ms", "--aws-attempt-timeout", "1s"]
        a = self.replica("a", slow)
        self.wait_for_leader([a], 10)
        b = self.replica("b", slow)
        wait_for(lambda: (self.leader_view(b) or {}).get("holder") == "a", 10, what="b sees a lead")
        self.churn()
        wait_for(lambda: len(self.writes_by(a)) >= 4, 15, what="a writes")

        # The standby resolves, plans and reports, and says who leads, everywhere.
        wait_for(lambda: (b.condition("web", "Synced") or {}).get("reason") == "Standby", 15,
                 what="b's binding reports Standby")
        self.assertIn("a leads (term 1)", b.condition("web", "Synced")["message"])
        status, readyz = http_json("GET", b.base + "/readyz")
        self.assertEqual(200, status, readyz)
        self.assertIn("[+]leader-election: a leads (term 1)", readyz)
        self.assertIn("[+]leader-election: this replica (a) leads (term 1)",
                      http_json("GET", a.base + "/readyz")[1])
        self.assertIn("Leader: a leads (term 1); asked b, a standby", b.cli("get").stdout)
        self.assertEqual(1, a.metric("endpointbinder_leader"))
        self.assertEqual(0, b.metric("endpointbinder_leader"))
        self.assertEqual([], self.writes_by(b), "the standby wrote")

        # What the lease costs: one call per retry period per replica.
        before_a, before_b, t0 = self.dynamodb_calls(a), self.dynamodb_calls(b), time.monotonic()
        time.sleep(4)
        elapsed = time.monotonic() - t0
        renewals = self.dynamodb_calls(a).get("UpdateItem", 0) - before_a.get("UpdateItem", 0)
        reads = self.dynamodb_calls(b).get("GetItem", 0) - before_b.get("GetItem", 0)
        print(f"MEASURE lease.leader_calls_per_retry_period {renewals * 0.25 / elapsed:.2f}")
        print(f"MEASURE lease.standby_calls_per_retry_period {reads * 0.25 / elapsed:.2f}")
        self.assertGreater(renewals, 0)
        self.assertLessEqual(renewals, elapsed / 0.25 + 2, "the leader renews once per retry period")
        self.assertLessEqual(reads, elapsed / 0.25 + 2, "the standby reads once per retry period")

        # SIGTERM: a stops writing, releases the lease; b takes it at its next read.
        t0 = time.monotonic()
        a.proc.send_signal(signal.SIGTERM)
        new = self.wait_for_leader([b], 10)
        handover = time.monotonic() - t0
        print(f"MEASURE lease.sigterm_handover {handover:.2f}s")
        self.assertLess(handover, 10, "not a lapse of the 30 s lease: the lease was released")
        self.assertEqual(0, a.proc.wait(15))
        lease = self.dynalite.lease(TABLE, "endpoint-binder")
        self.assertEqual(("b", 2), (lease["holder"], lease["fence"]), "a new term for b")
        wait_for(lambda: len(self.writes_by(new)) >= 2, 15, what="b writes")
        self.stop_churn()
        wanted = set(self.answer)
        wait_for(lambda: wanted <= self.emulator.registered(self.arn), 15, what="b converged")
        self.assertEqual(1, b.metric("endpointbinder_leader"))
        self.assertEqual(1, b.metric("endpointbinder_leader_transitions_total", to="leader"))
        self.assert_one_writer_at_a_time(["a", "b"])

    def test_kill9_of_the_leader_among_three(self):
        a = self.replica("a")
        self.wait_for_leader([a], 10)
        b = self.replica("b")
        c = self.replica("c")
        self.churn()
        wait_for(lambda: len(self.writes_by(a)) >= 3, 15, what="a writes")
        for standby in (b, c):
            wait_for(lambda: (self.leader_view(standby) or {}).get("holder") == "a", 10,
                     what=f"{standby.name} sees a lead")

        t0 = time.monotonic()
        a.kill(signal.SIGKILL)
        new = self.wait_for_leader([b, c], 15)
        takeover = time.monotonic() - t0
        print(f"MEASURE lease.kill9_takeover {takeover:.2f}s (lease 3s, retry 0.25s)")
        # The lease had to lapse: at least lease duration - renew deadline after a's last renewal.
        self.assertGreaterEqual(takeover, 1.0)
        wait_for(lambda: len(self.writes_by(new)) >= 2, 15, what=f"{new.name} writes")
        self.stop_churn()
        wanted = set(self.answer)
        t1 = time.monotonic()
        wait_for(lambda: wanted <= self.emulator.registered(self.arn), 15, what="converged")
        print(f"MEASURE lease.kill9_converged_after_churn {time.monotonic() - t1:.2f}s")
        other = c if new is b else b
        self.assertFalse(self.leading(other))
        self.assertEqual([], self.writes_by(other), f"{other.name}, a standby, wrote")
        self.assert_one_writer_at_a_time(["a", new.name])
        self.assertEqual(2, self.dynalite.lease(TABLE, "endpoint-binder")["fence"])

    def test_partitioned_leader_stops_writing_before_the_standby_takes_over(self):
        a = self.replica("a")
        self.wait_for_leader([a], 10)
        b = self.replica("b")
        self.churn()
        wait_for(lambda: len(self.writes_by(a)) >= 3, 15, what="a writes")
        wait_for(lambda: (self.leader_view(b) or {}).get("holder") == "a", 10, what="b sees a lead")

        # a's lease calls now time out; ELBv2 is still reachable for it.
        cut_wall, t0 = time.time(), time.monotonic()
        a.proxy.blackhole()
        stopped = None
        while time.monotonic() - t0 < 15:
            if stopped is None and not self.leading(a):
                stopped = time.monotonic() - t0
            if self.leading(b):
                break
            time.sleep(0.02)
        took_over = time.monotonic() - t0
        self.assertIsNotNone(stopped, "a never stopped leading")
        self.assertTrue(self.leading(b), "b never took over")
        self.assertLess(stopped, took_over, "a stopped leading after b started")
        print(f"MEASURE lease.partition_leader_stopped {stopped:.2f}s")
        print(f"MEASURE lease.partition_takeover {took_over:.2f}s (lease 3s, deadline 2s)")

        wait_for(lambda: len(self.writes_by(b)) >= 2, 15, what="b writes")
        runs = self.assert_one_writer_at_a_time(["a", "b"])
        print(f"MEASURE lease.partition_write_gap {runs[1][1] - runs[0][2]:.2f}s "
              f"(a's last write ended {runs[0][2] - cut_wall:.2f}s after the cut)")
        # a stayed connected to ELBv2 and kept reading: only the fence kept it from writing.
        first_b = runs[1][1]
        wait_for(lambda: any(r["accessKeyId"] == a.key and r["time"] > first_b
                             for r in self.emulator.requests()), 10,
                 what="a still calling ELBv2 after b took over (else the test proves nothing)")

        # The partition heals: a sees b's lease and stays a standby.
        a.proxy.heal()
        wait_for(lambda: (self.leader_view(a) or {}).get("holder") == "b", 10, what="a sees b lead")
        time.sleep(1.5)
        self.stop_churn()
        self.assertFalse(self.leading(a))
        self.assert_one_writer_at_a_time(["a", "b"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
