"""Scenarios 4 and 6 of the controller issue: AWS misbehaves (throttling storm, 503s, resets)
and the controller is killed mid-write. Writes must converge exactly once."""
import collections
import signal
import time
import unittest

from harness import ScenarioTest, tg_binding, wait_for


def registered_once(emulator, arn):
    """{target id: number of successful RegisterTargets calls that named it} for one group."""
    counts = collections.Counter()
    for r in emulator.requests("RegisterTargets"):
        if r["status"] != 200 or r["params"].get("TargetGroupArn") != arn:
            continue
        for k, v in r["params"].items():
            if k.startswith("Targets.member.") and k.endswith(".Id"):
                counts[v] += 1
    return counts


class ThrottlingStorm(ScenarioTest):
    """Scenario 4: half of all calls throttled and a fifth of writes failing with 503."""

    def test_converges_without_duplicate_writes_and_retries_are_visible(self):
        arns = []
        for i in range(4):
            arn = self.emulator.create_target_group(f"storm-{i}", port=443)
            arns.append(arn)
            self.dns.set(f"storm{i}.local", a=[f"10.0.6.{i * 10 + j}" for j in range(3)], ttl=2)
            self.write_manifest(f"storm{i}.yaml", tg_binding(f"storm-{i}", arn, f"storm{i}.local"))
        self.emulator.control("POST", "faults", {"action": "*", "throttleRate": 0.5})
        self.emulator.control("POST", "faults", {"action": "RegisterTargets", "errorRate": 0.2, "errorStatus": 503})
        started = time.monotonic()
        # Eight attempts per call, as a user facing a storm would set: with AWS's default three,
        # half of all calls throttled fails about half of the reconciles, and the work queue's
        # backoff (1 s doubling to 5 min) after six failures in a row alone exceeds the bound
        # below, which made this test fail now and then on a loaded machine. Retries and
        # throttles stay visible (checked below); convergence then takes seconds.
        c = self.start_controller(env_extra={"AWS_MAX_ATTEMPTS": "8"})
        for i, arn in enumerate(arns):
            want = {f"10.0.6.{i * 10 + j}" for j in range(3)}
            wait_for(lambda: self.emulator.registered(arn) == want, 90, interval=0.2, what=f"storm-{i} converged")
        print(f"MEASURE scenario4.converged {time.monotonic() - started:.2f}s")
        for arn in arns:
            dup = {k: v for k, v in registered_once(self.emulator, arn).items() if v > 1}
            self.assertEqual({}, dup, "a target was registered by more than one successful call")
        throttled = [r for r in self.emulator.requests() if r.get("throttled")]
        self.assertGreater(len(throttled), 0, "the storm happened")
        self.assertGreater(c.metric("endpointbinder_aws_retries_total") or 0, 0, "retries visible in metrics")
        self.assertGreater(c.metric("endpointbinder_aws_throttles_total") or 0, 0, "throttles visible in metrics")

    def test_connection_resets_after_apply_do_not_duplicate(self):
        arn = self.emulator.create_target_group("resets", port=443)
        self.dns.set("resets.local", a=["10.0.7.1", "10.0.7.2"], ttl=2)
        self.emulator.control("POST", "faults", {"action": "RegisterTargets", "resetRate": 1.0,
                                                 "afterApply": True, "remaining": 1})
        self.write_manifest("resets.yaml", tg_binding("resets", arn, "resets.local"))
        self.start_controller()
        wait_for(lambda: self.emulator.registered(arn) == {"10.0.7.1", "10.0.7.2"}, 30, what="registered")
        time.sleep(2)
        # The reset call applied the write; the retry may repeat it, and that is harmless
        # (RegisterTargets is idempotent), but nothing may be deregistered or flap.
        self.assertEqual([], self.emulator.requests("DeregisterTargets"))


class KilledMidApply(ScenarioTest):
    """Scenario 6: kill -9 while a large plan is being applied, then restart."""

    def test_restart_converges_and_loses_nothing(self):
        ips = [f"10.0.{8 + i // 200}.{i % 200 + 1}" for i in range(450)]  # three chunks of <= 200
        arn = self.emulator.create_target_group("big", port=443)
        self.write_manifest("big.yaml", tg_binding("big", arn, static=ips,
                                                   policy={"deregistrationGracePeriod": "1s"}))
        self.emulator.control("POST", "faults", {"action": "RegisterTargets", "delayMs": 1500})
        c = self.start_controller()
        wait_for(lambda: any(r["status"] == 200 for r in self.emulator.requests("RegisterTargets")), 30,
                 interval=0.05, what="first chunk applied")
        c.kill(signal.SIGKILL)
        partial = self.emulator.registered(arn)
        self.assertLess(len(partial), len(ips), "killed before the plan finished")
        self.emulator.control("DELETE", "faults")
        self.start_controller()
        wait_for(lambda: self.emulator.registered(arn) == set(ips), 60, what="converged after restart")
        self.assertEqual([], self.emulator.requests("DeregisterTargets"))


if __name__ == "__main__":
    unittest.main(verbosity=2)
