"""The live demo: endpoint-binder on the example manifests against the local AWS emulator and a
local DNS server (nothing leaves this machine). Run it through hack/demo. `prepare` gives every
example what it points at (tests/integration/examples_test.py runs them the same way)."""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
os.environ.setdefault("EB_BIN_DIR", os.path.join(ROOT, "build", "bin"))

import harness  # noqa: E402  (after sys.path)

OPENSEARCH = "vpc-f-iot-dashboards-7kq2xw5nbc3hmf4tyr6ludvpaa.ap-northeast-1.es.amazonaws.com"
INTERNAL_ALB = "internal-web-alb-1790321842.ap-northeast-1.elb.amazonaws.com"


def say(text):
    print(f"\n\033[1m==> {text}\033[0m", flush=True)


def cli(controller, *args):
    out = subprocess.run([harness.BINARY, *args, "--server", controller.base], capture_output=True, text=True)
    print(out.stdout + out.stderr, end="", flush=True)


def target_groups_of(manifests_dir):
    """(arn, targetType, protocol) of every TargetGroupBinding in the examples."""
    found = []
    for name in sorted(os.listdir(manifests_dir)):
        text = open(os.path.join(manifests_dir, name)).read()
        for arn in re.findall(r"targetGroupARN:\s*(\S+)", text):
            instance = "targetType: instance" in text
            found.append((arn, "instance" if instance else "ip", "TCP" if "nlb" in arn else "HTTPS"))
    return found


SPOT_FLEET = "sfr-0d4b0a3e-5c1f-4c9e-9a7b-2f6e8d1c3b5a"  # manifests/examples/spotfleet-alb.yaml
ZONE, REVERSE_ZONE = "Z04517273P2QJMRVBE6KD", "Z07615331DW2RVXN8PQ4K"  # ec2-route53.yaml
VPC = "vpc-0123456789abcdef0"  # the emulator's default VPC


def prepare(emulator, dns, manifests):
    """Copies the examples into `manifests` and gives each what it points at in the emulator
    and the DNS server: target groups, the OpenSearch and ALB names, the Spot Fleet, the private
    zones and instances tagged for names. Returns {what: value} for the caller to show."""
    for name in os.listdir(os.path.join(ROOT, "manifests", "examples")):
        shutil.copy(os.path.join(ROOT, "manifests", "examples", name), manifests)
    arns = []
    for arn, target_type, protocol in target_groups_of(manifests):
        emulator.control("POST", "target-groups", {
            "arn": arn, "name": arn.split("/")[-2], "targetType": target_type, "protocol": protocol,
            "port": 443, "deregistrationDelay": 5, "healthyAfter": 1})
        arns.append(arn)
        print(f"   target group {arn.split(':')[-1]}")
    dns.set(OPENSEARCH, a=["10.0.21.10", "10.0.22.10", "10.0.23.10"], ttl=5)
    ips = [f"10.0.{31 + i % 3}.{10 + i}" for i in range(12)]
    dns.set(INTERNAL_ALB, a=ips, ttl=5, rotate=8)
    print(f"   DNS: {OPENSEARCH} -> 3 OpenSearch node IPs")
    print(f"   DNS: {INTERNAL_ALB} -> 12 ALB IPs, 8 per answer (like a real ALB)")
    emulator.control("POST", "settings", {"transitionSeconds": 0, "route53PropagationSeconds": 1})
    fleet = emulator.control("POST", "spot-fleets", {"id": SPOT_FLEET, "targetCapacity": 3})
    print(f"   Spot Fleet {SPOT_FLEET}: 3 instances")
    for zone, name in ((ZONE, "corp.internal"), (REVERSE_ZONE, "10.in-addr.arpa")):
        emulator.control("POST", "route53/zones", {"name": name, "id": zone,
                                                   "vpcs": [{"region": harness.REGION, "vpcId": VPC}]})
    named = emulator.control("POST", "instances/launch", {"instances": [
        {"tags": {"Name": n, "dns": "true"}} for n in ("Web 01", "web 02", "batch_runner")]})
    print("   private zones corp.internal and 10.in-addr.arpa; 3 instances tagged dns=true")
    queue = emulator.control("POST", "queues", {"name": "endpoint-binder-events", "events": True})
    print("   SQS queue fed with EC2 / Auto Scaling events (what EventBridge rules deliver)")
    return {"fleet": fleet["ids"], "named": named["ids"], "arns": arns, "queue": queue["url"]}


def record_names(emulator, zone=ZONE):
    sets = emulator.control("GET", f"route53/record-sets?zoneId={zone}")["recordSets"]
    return sorted(f"{s['name']} {s['type']} {','.join(s.get('values') or [])}"
                  for s in sets if s["type"] in ("A", "PTR"))


def main():
    interactive = sys.stdin.isatty() and os.environ.get("CI") != "true" and "--once" not in sys.argv
    say("Starting the local AWS emulator (SigV4-verified ELBv2, EC2, Auto Scaling, SQS, Route 53, "
        "STS) and a DNS server")
    emulator = harness.Emulator()
    dns = harness.DnsServer()
    manifests = tempfile.mkdtemp(prefix="endpoint-binder-demo-")
    controller = None
    try:
        prepared = prepare(emulator, dns, manifests)

        say("Starting endpoint-binder run --manifests <copy of manifests/examples> --events-queue-url ...")
        controller = harness.Controller(manifests, emulator, dns,
                                        ["--events-queue-url", prepared["queue"]])
        harness.wait_for(lambda: all(
            (controller.binding(n, ns) or {}).get("status", {}).get("lastSyncTime")
            for ns, n in [("factory-iot", "opensearch-dashboards"), ("web", "web-static-ip"),
                          ("api", "api-spot-fleet")]), 30,
            what="first syncs")
        time.sleep(2)
        say("endpoint-binder get")
        cli(controller, "get")

        say("OpenSearch blue/green deployment: the endpoint now answers three new node IPs")
        dns.set(OPENSEARCH, a=["10.0.21.20", "10.0.22.20", "10.0.23.20"], ttl=5)
        time.sleep(8)
        cli(controller, "get")
        say("endpoint-binder describe factory-iot/opensearch-dashboards  (old IPs wait out their 3m grace)")
        cli(controller, "describe", "factory-iot/opensearch-dashboards")

        say("Names in Route 53 for the instances tagged dns=true (DNSRecordBinding)")
        harness.wait_for(lambda: len(record_names(emulator)) == 3, 30, what="names written")
        for line in record_names(emulator) + record_names(emulator, REVERSE_ZONE):
            print("   " + line)

        say("A Spot interruption warning: the instance leaves its target group at once")
        victim = prepared["fleet"][0]
        emulator.control("POST", "instances/interrupt", {"ids": [victim], "warningSeconds": 120})
        time.sleep(2)  # the warning arrives through the events queue within a second
        cli(controller, "describe", "api/api-spot-fleet")

        say("Where to look next")
        print(f"   metrics:    http://127.0.0.1:{controller.metrics_port}/metrics")
        print(f"   status API: {controller.base}/apis/endpointbinder.io/v1alpha1/targetgroupbindings")
        print(f"   get:        {harness.BINARY} get --server {controller.base}")
        print(f"   log:        {controller.log_path}")
        if interactive:
            print("\n   The controller keeps running; press Ctrl-C to stop.", flush=True)
            try:
                while controller.proc.poll() is None:
                    time.sleep(1)
            except KeyboardInterrupt:
                pass
    finally:
        if controller:
            controller.stop()
        dns.stop()
        emulator.stop()
        shutil.rmtree(manifests, ignore_errors=True)
    say("Stopped. Everything ran on 127.0.0.1.")


if __name__ == "__main__":
    main()
