"""Issue 16 items 1-3: DNS at the edges of real networks, end to end.

1. A first DNS server that answers REFUSED or SERVFAIL no longer ends the lookup: the next
   server is asked (before, `--dns-server <refusing> --dns-server <good>` registered nothing);
   when every server fails, the status names each one.
2. An AAAA query that times out freezes the IPv6 addresses only: an IPv4-only binding on the
   same name keeps following A changes (before, the name failed as a whole and a new A record
   was never registered), and the dual-stack binding keeps its last good IPv6 target.
3. Dead names (queries dropped) with many lookups per refresh no longer hold the DNS workers:
   a live name's change is registered within seconds (before, over a minute later).
Real binary, DNS servers over UDP on loopback, emulator with SigV4 verification.
"""
import re
import sys
import time
import unittest

from harness import DnsServer, ScenarioTest, tg_binding, wait_for


def measure(name, seconds):
    sys.stderr.write(f"MEASURE {name} {seconds:.2f}s\n")


class DnsServerFailover(ScenarioTest):
    def test_a_refusing_or_failing_first_server_is_passed_over(self):
        good = DnsServer()
        self.addCleanup(good.stop)
        # The harness's server is the first --dns-server: it refuses one name, fails the other.
        arns = {}
        for name, mode, address in (("refused.edge.local", "refused", "10.0.7.10"),
                                    ("servfail.edge.local", "servfail", "10.0.7.20")):
            self.dns.set(name, a=["10.0.7.99"], ttl=1, mode=mode)
            good.set(name, a=[address], ttl=1)
            binding = name.split(".")[0]
            arns[binding] = self.emulator.create_target_group(f"{binding}-tg", port=443)
            self.write_manifest(f"{binding}.yaml", tg_binding(binding, arns[binding], name))
        started = time.monotonic()
        c = self.start_controller("--dns-server", good.dns)
        wait_for(lambda: self.emulator.registered(arns["refused"]) == {"10.0.7.10"}, 15,
                 what="the second server's answer registered despite the first refusing")
        wait_for(lambda: self.emulator.registered(arns["servfail"]) == {"10.0.7.20"}, 15,
                 what="the second server's answer registered despite the first failing")
        measure("dns_edges.failover_registered", time.monotonic() - started)

        # Every server fails: the first reason is the status, and each server is named.
        good.set("refused.edge.local", a=["10.0.7.10"], ttl=1, mode="servfail")

        def failing():
            cond = c.condition("refused", "SourceResolved") or {}
            return cond if cond.get("status") == "False" else None

        cond = wait_for(failing, 15, what="SourceResolved=False once both servers fail")
        self.assertIn(f"REFUSED from {self.dns.dns} (A)", cond["message"])
        self.assertIn(f"SERVFAIL from {good.dns} (A)", cond["message"])
        self.assertEqual({"10.0.7.10"}, self.emulator.registered(arns["refused"]))


class AddressFamilies(ScenarioTest):
    def test_an_aaaa_timeout_freezes_only_the_ipv6_addresses(self):
        name = "dual.edge.local"
        self.dns.set(name, a=["10.0.6.10"], aaaa=["fd00::6:10"], ttl=1)
        v4 = self.emulator.create_target_group("dual-v4-tg", port=443)
        v6 = self.emulator.control("POST", "target-groups", {
            "name": "dual-v6-tg", "port": 443, "protocol": "HTTPS", "targetType": "ip",
            "ipAddressType": "ipv6", "deregistrationDelay": 1, "healthyAfter": 0.2})["arn"]
        self.write_manifest("v4only.yaml", tg_binding(
            "v4only", v4, name, dns_extra={"addressFamilies": "[IPv4]"}))
        # fd00::/8 is outside the emulated VPC, as on-premises addresses are: AZ "all".
        self.write_manifest("dual.yaml", tg_binding(
            "dual", v6, name, dns_extra={"addressFamilies": "[both]"},
            policy={"allowedCIDRs": '["10.0.0.0/8", "fd00::/8"]',
                    "deregistrationGracePeriod": "2s"}).replace(
                        "  targetType: ip\n", "  targetType: ip\n  availabilityZone: all\n"))
        c = self.start_controller("--dns-timeout", "300ms")
        wait_for(lambda: self.emulator.registered(v4) == {"10.0.6.10"}, 15, what="IPv4 registered")
        wait_for(lambda: self.emulator.registered(v6) == {"fd00::6:10"}, 15, what="IPv6 registered")

        # AAAA queries are dropped from now on; the A record moves.
        self.dns.set(name, a=["10.0.6.20"], aaaa=["fd00::6:20"], ttl=1,
                     mode_by_type={"AAAA": "timeout"})
        changed = time.monotonic()
        wait_for(lambda: "10.0.6.20" in self.emulator.registered(v4), 10, interval=0.05,
                 what="the IPv4-only binding registers the new A record while AAAA times out")
        measure("dns_edges.a_change_registered_during_aaaa_timeout", time.monotonic() - changed)
        cond = c.condition("v4only", "SourceResolved") or {}
        self.assertEqual("True", cond.get("status"), cond)

        # The dual-stack binding keeps its last good IPv6 target well past its 2 s grace: the
        # failing family is frozen, not emptied.
        time.sleep(4)
        self.assertEqual({"fd00::6:10"}, self.emulator.registered(v6))
        self.assertFalse([r for r in self.emulator.requests("DeregisterTargets")
                          if r["params"].get("TargetGroupArn") == v6])

        # AAAA answers again, with the address changed during the outage.
        self.dns.set(name, a=["10.0.6.20"], aaaa=["fd00::6:20"], ttl=1)
        wait_for(lambda: "fd00::6:20" in self.emulator.registered(v6), 10, interval=0.05,
                 what="the new AAAA record registered after recovery")


class DeadNames(ScenarioTest):
    DEAD = 6  # more than the DNS watcher's idle workers (4)

    def test_dead_names_do_not_delay_a_live_one(self):
        for i in range(self.DEAD):
            name = f"dead{i}.edge.local"
            self.dns.set(name, a=[f"10.0.8.{i + 1}"], ttl=1, mode="timeout")
            arn = self.emulator.create_target_group(f"dead{i}-tg", port=443)
            self.write_manifest(f"dead{i}.yaml", tg_binding(
                f"dead{i}", arn, name, dns_extra={"lookupsPerRefresh": 16}))
        live = self.emulator.create_target_group("live-tg", port=443)
        self.dns.set("live.edge.local", a=["10.0.9.10"], ttl=1)
        self.write_manifest("live.yaml", tg_binding("live", live, "live.edge.local"))
        # The default --dns-timeout (2 s, so a 6 s deadline per lookup): a dead name's refresh
        # used to take 16 deadlines, 96 s, on one of four workers.
        c = self.start_controller()
        wait_for(lambda: self.emulator.registered(live) == {"10.0.9.10"}, 15, what="live registered")
        time.sleep(2)  # the dead names' lookups are in flight by now

        self.dns.set("live.edge.local", a=["10.0.9.20"], ttl=1)
        changed = time.monotonic()
        wait_for(lambda: "10.0.9.20" in self.emulator.registered(live), 10, interval=0.05,
                 what="the live name's change registered while dead names time out")
        measure("dns_edges.live_change_with_dead_names", time.monotonic() - changed)

        # The dead names do fail, for the reason they have.
        for i in range(self.DEAD):
            wait_for(lambda: re.search(r"deadline exceeded|no answer in time",
                                       (c.condition(f"dead{i}", "SourceResolved") or {})
                                       .get("message", "")), 15,
                     what=f"dead{i} failing with a timeout")


if __name__ == "__main__":
    unittest.main(verbosity=2)
