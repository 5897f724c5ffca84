"""The live demo: endpoint-binder on the example manifests against the local AWS emulator and a
local DNS server (nothing leaves this machine). Run it through hack/demo."""
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


def main():
    interactive = sys.stdin.isatty() and os.environ.get("CI") != "true" and "--once" not in sys.argv
    say("Starting the local AWS emulator (SigV4-verified ELBv2 + STS) and a DNS server")
    emulator = harness.Emulator()
    dns = harness.DnsServer()
    manifests = tempfile.mkdtemp(prefix="endpoint-binder-demo-")
    controller = None
    try:
        for name in os.listdir(os.path.join(ROOT, "manifests", "examples")):
            shutil.copy(os.path.join(ROOT, "manifests", "examples", name), manifests)
        for arn, target_type, protocol in target_groups_of(manifests):
            emulator.control("POST", "target-groups", {
                "arn": arn, "name": arn.split("/")[-2], "targetType": target_type, "protocol": protocol,
                "port": 443, "deregistrationDelay": 5, "healthyAfter": 1})
            print(f"   target group {arn.split(':')[-1]}")
        dns.set(OPENSEARCH, a=["10.0.21.10", "10.0.22.10", "10.0.23.10"], ttl=5)
        ips = [f"10.0.{31 + i % 3}.{10 + i}" for i in range(12)]
        dns.set(INTERNAL_ALB, a=ips, ttl=5, rotate=8)
        print(f"   DNS: {OPENSEARCH} -> 3 OpenSearch node IPs")
        print(f"   DNS: {INTERNAL_ALB} -> 12 ALB IPs, 8 per answer (like a real ALB)")

        say("Starting endpoint-binder run --manifests <copy of manifests/examples>")
        controller = harness.Controller(manifests, emulator, dns)
        harness.wait_for(lambda: all(
            (controller.binding(n, ns) or {}).get("status", {}).get("lastSyncTime")
            for ns, n in [("factory-iot", "opensearch-dashboards"), ("web", "web-static-ip")]), 30,
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
