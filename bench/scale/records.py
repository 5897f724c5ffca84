#!/usr/bin/python3
"""DNSRecordBinding at scale (issue 12): the real binary against the emulator's EC2 and Route 53
(Route 53's 5 requests/s throttle on), on 127.0.0.1 with ports chosen at run time.

--instances instances tagged for one DNSRecordBinding (names from the Name tag, a reverse zone
for PTR records). Measured: time from start until every A and PTR record exists, the
ChangeResourceRecordSets batches sent against the fewest Route 53's limits allow (1,000
records and 32,000 value characters per batch, an UPSERT counting twice), other Route 53
calls, throttling; then a restart (no writes expected) and a scale-in of 10 % (deletions after
the grace period, in as few batches).
Results: a markdown summary on stdout and JSON (--out).
"""

import argparse
import json
import math
import os
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import wait_for  # noqa: E402
from scale import git_info, machine_info  # noqa: E402

VPC = "vpc-0123456789abcdef0"


def manifest(grace):
    return f"""apiVersion: endpointbinder.io/v1alpha1
kind: DNSRecordBinding
metadata:
  name: names
spec:
  hostedZoneId: ZCORP1
  reverseHostedZoneId: ZREV10
  source:
    ec2:
      filters: [{{name: "tag:dns", values: ["true"]}}]
  record:
    nameFrom: "tag:Name"
    ttl: 60
  policy:
    deregistrationGracePeriod: {grace}
    maxDeletionsPerSync: 100%
"""


def lower_bound(changes):
    """Fewest batches for `changes` [(action, values)] under Route 53's limits."""
    records = sum(len(v) * (2 if a == "UPSERT" else 1) for a, v in changes)
    chars = sum(sum(len(x) for x in v) * (2 if a == "UPSERT" else 1) for a, v in changes)
    return max(math.ceil(records / 1000), math.ceil(chars / 32000)), records, chars


def batches_of(emulator, since):
    out = []
    for r in emulator.requests("ChangeResourceRecordSets", since=since):
        if r["status"] == 200:
            out.append(r)
    return out


def sets(emulator, zone):
    return emulator.control("GET", f"route53/record-sets?zoneId={zone}")["recordSets"]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--instances", type=int, default=1000)
    p.add_argument("--grace", default="10s")
    p.add_argument("--out", default="records.json")
    p.add_argument("--binary", default=None)
    args = p.parse_args()
    if args.binary:
        harness.BINARY = os.path.abspath(args.binary)
    report = {"machine": machine_info(), "git": git_info(), "settings": vars(args)}
    emulator = harness.Emulator()
    dns = harness.DnsServer()
    tmp = tempfile.TemporaryDirectory(prefix="eb-records-bench-")
    controllers = []
    try:
        emulator.control("POST", "settings", {"transitionSeconds": 0, "route53PropagationSeconds": 1})
        for zone, name in (("ZCORP1", "corp.internal"), ("ZREV10", "10.in-addr.arpa")):
            emulator.control("POST", "route53/zones", {"name": name, "id": zone,
                                                       "vpcs": [{"region": harness.REGION, "vpcId": VPC}]})
        ids = []
        for start in range(0, args.instances, 1000):
            batch = [{"tags": {"Name": f"host-{i:05d}", "dns": "true"}}
                     for i in range(start, min(args.instances, start + 1000))]
            ids += emulator.control("POST", "instances/launch", {"instances": batch})["ids"]
        with open(os.path.join(tmp.name, "names.yaml"), "w") as f:
            f.write(manifest(args.grace))

        def counts():
            a = sum(1 for s in sets(emulator, "ZCORP1") if s["type"] == "A")
            ptr = sum(1 for s in sets(emulator, "ZREV10") if s["type"] == "PTR")
            return a, ptr

        started = time.monotonic()
        c = harness.Controller(tmp.name, emulator, dns, ["--instance-poll-interval", "5s"],
                               log_level="info")
        controllers.append(c)
        wait_for(lambda: counts() == (args.instances, args.instances), 600, interval=0.5,
                 what="every A and PTR record")
        converge = time.monotonic() - started
        batches = batches_of(emulator, 0)
        # What was written: every A/PTR with its companion, CREATEs.
        written = []
        for zone in ("ZCORP1", "ZREV10"):
            for s in sets(emulator, zone):
                if s["type"] in ("A", "PTR") or s["name"].startswith("_eb-"):
                    written.append(("CREATE", s.get("values") or []))
        bound, records, chars = lower_bound(written)
        log = emulator.control("GET", "requests")["requests"]
        by_action = {}
        throttled = 0
        for r in log:
            if r.get("service") != "route53":
                continue
            by_action[r["action"]] = by_action.get(r["action"], 0) + 1
            throttled += 1 if r.get("throttled") else 0
        report["coldStart"] = {"seconds": round(converge, 1), "batches": len(batches),
                               "lowerBound": bound, "records": records, "characters": chars,
                               "route53Calls": by_action, "throttled": throttled}

        # Restart: adopts without writing.
        c.stop()
        seq = max((r["seq"] for r in log), default=0)
        c2 = harness.Controller(tmp.name, emulator, dns, ["--instance-poll-interval", "5s"],
                                log_level="info")
        controllers.append(c2)
        time.sleep(15)
        report["restart"] = {"batchesWithin15s": len(batches_of(emulator, seq))}

        # Scale-in of 10 %: deleted after the grace, in as few batches.
        seq = max((r["seq"] for r in emulator.control("GET", "requests")["requests"]), default=0)
        gone = ids[: max(1, args.instances // 10)]
        for start in range(0, len(gone), 500):
            emulator.control("POST", "instances/terminate", {"ids": gone[start:start + 500]})
        t0 = time.monotonic()
        left = args.instances - len(gone)
        wait_for(lambda: counts() == (left, left), 300, interval=0.5, what="scale-in deletions")
        deleted_after = time.monotonic() - t0
        report["scaleIn"] = {"terminated": len(gone), "seconds": round(deleted_after, 1),
                             "batches": len(batches_of(emulator, seq))}
    finally:
        for c in controllers:
            c.stop()
        emulator.stop()
        dns.stop()
        tmp.cleanup()
    with open(args.out, "w") as f:
        json.dump(report, f, indent=2)
    cs = report["coldStart"]
    print(f"cold start: {args.instances} instances -> {args.instances} A + {args.instances} PTR records "
          f"in {cs['seconds']} s; {cs['batches']} change batches (fewest possible {cs['lowerBound']}: "
          f"{cs['records']} records, {cs['characters']} characters); Route 53 calls {cs['route53Calls']}, "
          f"throttled {cs['throttled']}")
    print(f"restart: {report['restart']['batchesWithin15s']} change batches in 15 s")
    si = report["scaleIn"]
    print(f"scale-in: {si['terminated']} terminated -> records deleted in {si['seconds']} s "
          f"(grace {args.grace}) in {si['batches']} batches")


if __name__ == "__main__":
    main()
