#!/usr/bin/python3
"""Instance-source benchmark (issue 11): the real endpoint-binder binary against the local AWS
emulator's EC2, Auto Scaling and SQS, on 127.0.0.1 with ports chosen at run time.

Measured:

  calls    For each N in --sizes: N instance bindings (80 % `ec2` tag filters, 10 % Auto
           Scaling groups, 10 % Spot Fleets; N = 1 is one `ec2` binding) over --instances
           instances, each binding its own instance target group. Once every binding has
           registered its instances, EC2 / Auto Scaling / SQS calls are counted over
           --rounds inventory rounds at --poll-interval and reported per round and per hour at
           the default 60 s interval (calls per round x 60), with the events queue on (its idle
           long polls are counted per real hour: they do not depend on the poll interval).
  latency  With 100 bindings: instances launched one at a time into random bindings' tags,
           launch (control API call) -> RegisterTargets completed (emulator request log):
           p50/p99 with the events queue (poll interval 60 s), and without it (polling only,
           60 s); then Spot interruption warnings -> DeregisterTargets completed.

ELBv2 quotas are lifted in the emulator and the controller for this run (1,000 groups' cold
start registrations would otherwise take minutes and are measured by scale.py); EC2 and Auto
Scaling keep AWS's published defaults in both, so throttling of the inventory shows up.
Results: a markdown table on stdout and JSON (--out).
"""

import argparse
import json
import os
import random
import statistics
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402  (tests/integration/harness.py: Emulator, DnsServer, Controller)
from harness import wait_for  # noqa: E402
from scale import RequestTracker, git_info, machine_info, percentile  # noqa: E402

ELB_UNLIMITED = ["--quota", "elasticloadbalancing:*=unlimited"]
CONTROLLER_ELB_LIMITS = "RegisterTargets=500:1000,DeregisterTargets=500:1000,Describe*=500:1000,*=500:1000"
INVENTORY_ACTIONS = ("DescribeInstances", "DescribeSpotFleetInstances", "DescribeSpotFleetRequests",
                     "DescribeAutoScalingGroups")
SQS_ACTIONS = ("ReceiveMessage", "DeleteMessage")


def log(msg):
    sys.stderr.write(f"[{time.strftime('%H:%M:%S')}] {msg}\n")
    sys.stderr.flush()


def binding_yaml(name, arn, source_lines, grace="10m"):
    return "\n".join([
        "apiVersion: endpointbinder.io/v1alpha1",
        "kind: TargetGroupBinding",
        "metadata:",
        f"  name: {name}",
        "spec:",
        f"  targetGroupARN: {arn}",
        "  targetType: instance",
        "  source:",
        *source_lines,
        "  policy:",
        f"    deregistrationGracePeriod: {grace}",
        "    maxDeregistrationsPerSync: 100%",
    ]) + "\n"


class Fixture:
    """An emulator with `instances` instances spread over N bindings' sources, a manifest
    directory, and (once started) the controller."""

    def __init__(self, n, instances, tmp):
        self.n = n
        self.emulator = harness.Emulator(ELB_UNLIMITED)
        self.dns = harness.DnsServer()
        self.dir = tmp
        self.controller = None
        self.emulator.control("POST", "settings", {"transitionSeconds": 0})
        self.expected = {}  # arn -> set of instance ids
        self.ec2_bindings = []  # (arn, tag value) of the ec2-filter bindings
        self.fleets = []  # (arn, fleet id)
        n_groups = 0 if n == 1 else n // 10
        n_fleets = 0 if n == 1 else n // 10
        n_ec2 = n - n_groups - n_fleets
        per = max(1, min(30, instances // n))  # instances per binding; the rest match none
        made = 0
        for i in range(n_ec2):
            arn = self.emulator.create_target_group(f"ec2-{i}", port=80, target_type="instance",
                                                   protocol="HTTP")
            value = f"svc-{i}"
            ids = self._launch(per, {"app": value})
            made += per
            self.expected[arn] = set(ids)
            self.ec2_bindings.append((arn, value))
            self._write(f"ec2-{i}", arn, ["    ec2:", "      filters:",
                                          "        - name: \"tag:app\"", f"          values: [{value}]"])
        for i in range(n_groups):
            arn = self.emulator.create_target_group(f"asg-{i}", port=80, target_type="instance",
                                                   protocol="HTTP")
            group = self.emulator.control("POST", "autoscaling-groups",
                                          {"name": f"asg-{i}", "desiredCapacity": per})
            made += per
            self.expected[arn] = set(group["ids"])
            self._write(f"asg-{i}", arn, ["    autoScalingGroup:", f"      name: asg-{i}"])
        for i in range(n_fleets):
            arn = self.emulator.create_target_group(f"sfr-{i}", port=80, target_type="instance",
                                                   protocol="HTTP")
            fleet = self.emulator.control("POST", "spot-fleets", {"targetCapacity": per})
            made += per
            self.expected[arn] = set(fleet["ids"])
            self.fleets.append((arn, fleet["id"]))
            self._write(f"sfr-{i}", arn, ["    spotFleet:", f"      requestId: {fleet['id']}"])
        # Instances no binding selects: the account-wide listing reads them too.
        spare = instances - made
        while spare > 0:
            self._launch(min(spare, 1000), {"app": "unbound"})
            spare -= min(spare, 1000)
        self.instances = instances
        self.tracker = RequestTracker(self.emulator.url)

    def _launch(self, count, tags):
        ids = []
        while count > 0:
            take = min(count, 1000)
            ids += self.emulator.control("POST", "instances/launch", {"count": take, "tags": tags})["ids"]
            count -= take
        return ids

    def _write(self, name, arn, source):
        with open(os.path.join(self.dir, f"{name}.yaml"), "w") as f:
            f.write(binding_yaml(name, arn, source))

    def start(self, poll, queue=True):
        args = ["--instance-poll-interval", poll, "--aws-rate-limits", CONTROLLER_ELB_LIMITS,
                "--workers", "8"]
        if queue:
            q = self.emulator.control("POST", "queues", {"name": "binder-events", "events": True})
            args += ["--events-queue-url", q["url"]]
        self.controller = harness.Controller(self.dir, self.emulator, self.dns, args, resync="5m",
                                             log_level="info")

    def converged(self):
        state = self.emulator.control("GET", "state")["targetGroups"]
        registered = {tg["arn"]: {t["id"] for t in tg["targets"]
                                  if t["state"] in ("initial", "healthy", "unhealthy")} for tg in state}
        return all(ids <= registered.get(arn, set()) for arn, ids in self.expected.items())

    def stop(self):
        if self.controller:
            self.controller.stop()
        self.emulator.stop()
        self.dns.stop()


def measure_calls(n, instances, rounds, poll_s, tmp):
    fx = Fixture(n, instances, tmp)
    try:
        started = time.time()
        fx.start(f"{poll_s}s")
        wait_for(fx.converged, 900, interval=1.0, what=f"{n} bindings converged")
        cold = time.time() - started
        log(f"N={n}: converged in {cold:.1f}s")
        fx.tracker.poll()
        rounds_before = fx.controller.metric("endpointbinder_instance_inventory_rounds_total") or 0
        window_start = time.time()
        time.sleep(rounds * poll_s)
        window_end = time.time()
        rounds_done = (fx.controller.metric("endpointbinder_instance_inventory_rounds_total") or 0) - rounds_before
        time.sleep(21)  # a long poll started in the window is logged when it returns (<= 20 s)
        fx.tracker.poll()
        counts = fx.tracker.counts(window_start, window_end)
        window = window_end - window_start
        per_round = {a: counts.get(a, {}).get("total", 0) / max(rounds_done, 1) for a in INVENTORY_ACTIONS}
        sqs_per_hour = {a: counts.get(a, {}).get("total", 0) * 3600.0 / window for a in SQS_ACTIONS}
        throttled = sum(c["throttled"] for a, c in counts.items() if a in INVENTORY_ACTIONS)
        rss = harness_rss(fx.controller.proc.pid)
        return {
            "bindings": n, "instances": instances, "coldStartSeconds": round(cold, 1),
            "windowSeconds": round(window, 1), "rounds": rounds_done,
            "callsPerRound": {a: round(v, 2) for a, v in per_round.items()},
            "callsPerHourAt60s": {a: round(v * 60, 1) for a, v in per_round.items()},
            "sqsCallsPerHour": {a: round(v, 1) for a, v in sqs_per_hour.items()},
            "inventoryThrottled": throttled,
            "accountWide": fx.controller.metric("endpointbinder_instance_inventory_account_wide"),
            "rssMiB": rss,
        }
    finally:
        fx.stop()


def harness_rss(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return round(int(line.split()[1]) / 1024.0, 1)
    except OSError:
        return None
    return None


def measure_latency(queue, launches, spacing, tmp, rng):
    """Launch -> registered with 100 bindings (poll 60 s), with or without the queue."""
    fx = Fixture(100, 1000, tmp)
    try:
        fx.start("60s", queue=queue)
        wait_for(fx.converged, 300, interval=1.0, what="100 bindings converged")
        # Start each launch at a random phase of the poll round.
        waits = []
        pending = {}
        for k in range(launches):
            arn, value = rng.choice(fx.ec2_bindings)
            at = time.time()
            ids = fx._launch(1, {"app": value})
            pending[(arn, ids[0])] = at
            time.sleep(spacing * rng.uniform(0.5, 1.5))
        deadline = time.time() + 90
        while time.time() < deadline:
            fx.tracker.poll()
            if all(key in fx.tracker.registered for key in pending):
                break
            time.sleep(0.5)
        for key, at in pending.items():
            done = fx.tracker.registered.get(key)
            waits.append(done - at if done else float("inf"))
        result = {"queue": queue, "launches": launches, "pollInterval": "60s",
                  "p50": round(percentile(waits, 50), 2), "p99": round(percentile(waits, 99), 2),
                  "max": round(max(waits), 2), "missing": sum(1 for w in waits if w == float("inf"))}
        if queue and fx.fleets:
            result["interruption"] = measure_interruptions(fx, rng)
        return result
    finally:
        fx.stop()


def measure_interruptions(fx, rng, count=10):
    victims = [(arn, sorted(fx.expected[arn])[0])
               for arn, _ in rng.sample(fx.fleets, min(count, len(fx.fleets)))]
    warned = {}
    for arn, iid in victims:
        warned[(arn, iid)] = time.time()
        fx.emulator.control("POST", "instances/interrupt", {"ids": [iid], "warningSeconds": 120})
        time.sleep(0.5)
    deadline = time.time() + 30
    while time.time() < deadline:
        fx.tracker.poll()
        if all(key in fx.tracker.deregistered for key in warned):
            break
        time.sleep(0.2)
    took = [fx.tracker.deregistered[k][0] - at if k in fx.tracker.deregistered else float("inf")
            for k, at in warned.items()]
    return {"count": len(took), "p50": round(percentile(took, 50), 2),
            "max": round(max(took), 2) if took else None}


def markdown(report):
    lines = ["### Inventory calls (EC2 / Auto Scaling) and SQS", "",
             "| bindings | instances | rounds | DescribeInstances /round | fleet calls /round | "
             "DescribeAutoScalingGroups /round | EC2+AS calls /h at 60 s | SQS calls /h (idle) | "
             "throttled | cold start (s) | RSS MiB |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in report["calls"]:
        pr = r["callsPerRound"]
        fleet = pr["DescribeSpotFleetInstances"] + pr["DescribeSpotFleetRequests"]
        per_hour = sum(r["callsPerHourAt60s"].values())
        sqs = sum(r["sqsCallsPerHour"].values())
        lines.append(f"| {r['bindings']} | {r['instances']} | {r['rounds']} | "
                     f"{pr['DescribeInstances']:.2f} | {fleet:.2f} | {pr['DescribeAutoScalingGroups']:.2f} | "
                     f"{per_hour:.0f} | {sqs:.0f} | {r['inventoryThrottled']} | {r['coldStartSeconds']} | "
                     f"{r['rssMiB']} |")
    lines += ["", "### Latency (100 bindings, poll interval 60 s)", "",
              "| path | launches | launch → registered p50 (s) | p99 (s) | max (s) | missing |",
              "|---|---:|---:|---:|---:|---:|"]
    for r in report["latency"]:
        lines.append(f"| {'events queue' if r['queue'] else 'polling only'} | {r['launches']} | "
                     f"{r['p50']} | {r['p99']} | {r['max']} | {r['missing']} |")
    for r in report["latency"]:
        if r.get("interruption"):
            i = r["interruption"]
            lines += ["", f"Spot interruption warning → deregistered ({i['count']} instances): "
                          f"p50 {i['p50']} s, max {i['max']} s."]
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="1,100,1000")
    p.add_argument("--instances", type=int, default=3000)
    p.add_argument("--rounds", type=int, default=6, help="inventory rounds counted per size")
    p.add_argument("--poll-seconds", type=int, default=10, help="poll interval for the call counts")
    p.add_argument("--launches", type=int, default=30)
    p.add_argument("--spacing", type=float, default=4.0, help="mean seconds between launches")
    p.add_argument("--skip-latency", action="store_true")
    p.add_argument("--out", default="instances.json")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--binary", default=None)
    args = p.parse_args()
    if args.binary:
        harness.BINARY = os.path.abspath(args.binary)
    rng = random.Random(args.seed)
    import tempfile
    report = {"machine": machine_info(), "git": git_info(), "settings": vars(args),
              "calls": [], "latency": []}
    for n in [int(s) for s in args.sizes.split(",") if s]:
        with tempfile.TemporaryDirectory(prefix="eb-inst-bench-") as tmp:
            log(f"calls: N={n}")
            report["calls"].append(measure_calls(n, args.instances, args.rounds, args.poll_seconds, tmp))
    if not args.skip_latency:
        for queue in (True, False):
            with tempfile.TemporaryDirectory(prefix="eb-inst-bench-") as tmp:
                log(f"latency: queue={queue}")
                report["latency"].append(measure_latency(queue, args.launches, args.spacing, tmp, rng))
    with open(args.out, "w") as f:
        json.dump(report, f, indent=2)
    print(markdown(report))


if __name__ == "__main__":
    main()
