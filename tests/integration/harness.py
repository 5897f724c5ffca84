"""Test harness for end-to-end scenarios: the real endpoint-binder binary against the local AWS
emulator (tests/emulator) and the scriptable DNS server (tests/dns), all on 127.0.0.1 with
ports chosen at run time. Every process is started here and killed at teardown; the servers
also exit by themselves when this process dies.

Run with Debian's interpreter: /usr/bin/python3 (it has boto3/botocore/dnslib).
"""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request

ROOT = os.environ.get("EB_SOURCE_DIR") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN_DIR = os.environ.get("EB_BIN_DIR") or os.path.join(ROOT, "build", "bin")
BINARY = os.path.join(BIN_DIR, "endpoint-binder")
PYTHON = "/usr/bin/python3"
ACCOUNT = "123456789012"
REGION = "ap-northeast-1"


def _die_with_parent():
    """preexec_fn: the child gets SIGKILL when this test process dies, even by SIGKILL."""
    import ctypes
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Everything here is on loopback: never route it through a proxy from the environment.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http_json(method, url, body=None, timeout=10):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with _OPENER.open(req, timeout=timeout) as resp:
            raw = resp.read()
            return resp.status, (json.loads(raw) if raw.strip().startswith((b"{", b"[")) else raw.decode())
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            return e.code, json.loads(raw)
        except ValueError:
            return e.code, raw.decode(errors="replace")


def wait_for(predicate, timeout, interval=0.1, what="condition"):
    """Polls predicate() until it returns a truthy value; returns it, or fails after timeout."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last value: {last!r}")


class _Process:
    """A child process whose first stdout line is READY ...; the rest of its output is kept."""

    def __init__(self, args, ready_prefix="READY", env=None, timeout=20):
        self.args = args
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        self.lines = []
        line = self.proc.stdout.readline()
        if not line.startswith(ready_prefix):
            err = self.proc.stderr.read() if self.proc.poll() is not None else ""
            self.stop()
            raise RuntimeError(f"{args[:3]} did not start: {line!r} {err}")
        self.ready_line = line.strip()
        threading.Thread(target=self._drain, args=(self.proc.stdout,), daemon=True).start()
        threading.Thread(target=self._drain, args=(self.proc.stderr,), daemon=True).start()

    def _drain(self, stream):
        for line in stream:
            self.lines.append(line)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Emulator(_Process):
    def __init__(self, extra_args=()):
        super().__init__([PYTHON, os.path.join(ROOT, "tests/emulator/emulator.py"), "--port", "0",
                          "--region", REGION, *extra_args])
        self.url = self.ready_line.split()[1]

    def control(self, method, path, body=None):
        status, payload = http_json(method, self.url + "/_emulator/" + path, body)
        if status >= 300:
            raise AssertionError(f"emulator {method} {path}: {status} {payload}")
        return payload

    def create_target_group(self, name, port=443, target_type="ip", protocol="HTTPS", deregistration_delay=1,
                            healthy_after=0.2, tags=None):
        return self.control("POST", "target-groups", {
            "name": name, "port": port, "protocol": protocol, "targetType": target_type,
            "deregistrationDelay": deregistration_delay, "healthyAfter": healthy_after, "tags": tags or {},
        })["arn"]

    def targets(self, arn, states=None):
        """{id: state} of the group's targets, optionally only those in `states`."""
        for tg in self.control("GET", "state")["targetGroups"]:
            if tg["arn"] == arn:
                return {t["id"]: t["state"] for t in tg["targets"] if states is None or t["state"] in states}
        raise AssertionError(f"no target group {arn}")

    def registered(self, arn):
        return set(self.targets(arn, states={"initial", "healthy", "unhealthy", "unavailable"}))

    def requests(self, action=None, since=0):
        log = self.control("GET", f"requests?since={since}")["requests"]
        return [r for r in log if action is None or r["action"] == action]


class DnsServer(_Process):
    def __init__(self):
        super().__init__([PYTHON, os.path.join(ROOT, "tests/dns/dns_server.py"), "--port", "0"])
        fields = dict(part.split("=", 1) for part in self.ready_line.split()[1:])
        self.dns = fields["dns"]
        self.control_url = fields["control"]

    def set(self, name, a=(), ttl=5, mode="ok", rotate=None, cname=None, aaaa=(), mode_by_type=None):
        body = {"a": list(a), "aaaa": list(aaaa), "ttl": ttl, "mode": mode}
        if rotate:
            body["rotate"] = rotate
        if cname:
            body["cname"] = cname
        if mode_by_type:
            body["modeByType"] = dict(mode_by_type)  # e.g. {"AAAA": "timeout"}
        status, payload = http_json("PUT", f"{self.control_url}/records/{name}", body)
        assert status < 300, payload

    def queries(self):
        return http_json("GET", self.control_url + "/queries")[1]


class Controller:
    """The real endpoint-binder binary in `run` mode, configured through flags like a user."""

    def __init__(self, manifests_dir, emulator, dns, extra_args=(), env_extra=None, resync="30s",
                 log_level="debug"):
        self.metrics_port = free_port()
        self.health_port = free_port()
        self.manifests_dir = manifests_dir
        args = [BINARY, "run", "--manifests", manifests_dir,
                "--metrics-addr", f"127.0.0.1:{self.metrics_port}",
                "--health-addr", f"127.0.0.1:{self.health_port}",
                "--dns-server", dns.dns, "--resync-period", resync, "--log-level", log_level,
                *extra_args]
        env = dict(os.environ)
        env.update({
            "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_REGION": REGION,
            "AWS_ENDPOINT_URL": emulator.url, "AWS_EC2_METADATA_DISABLED": "true",
        })
        env.pop("AWS_PROFILE", None)
        env.update(env_extra or {})
        self.log_path = tempfile.mktemp(prefix="endpoint-binder-", suffix=".log")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT, env=env,
                                     preexec_fn=_die_with_parent)
        self.base = f"http://127.0.0.1:{self.health_port}"
        wait_for(self._healthy, 20, what="controller /healthz")

    def _healthy(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"controller exited {self.proc.returncode}:\n{self.output()}")
        try:
            return http_json("GET", self.base + "/healthz", timeout=1)[0] == 200
        except OSError:
            return False

    def thread_names(self):
        """The names of the controller's threads (what `top -H` and perf show)."""
        names = set()
        tasks = f"/proc/{self.proc.pid}/task"
        for tid in os.listdir(tasks):
            try:
                with open(f"{tasks}/{tid}/comm") as f:
                    names.add(f.read().strip())
            except OSError:  # the thread ended meanwhile
                pass
        return names

    def output(self):
        if not self.log.closed:
            self.log.flush()
        with open(self.log_path) as f:
            return f.read()

    def binding(self, name, namespace="default"):
        status, payload = http_json(
            "GET", f"{self.base}/apis/endpointbinder.io/v1alpha1/targetgroupbindings/{namespace}/{name}")
        return payload if status == 200 else None

    def condition(self, name, ctype, namespace="default"):
        b = self.binding(name, namespace)
        if not b:
            return None
        for c in b.get("status", {}).get("conditions", []):
            if c["type"] == ctype:
                return c
        return None

    def metrics(self):
        with _OPENER.open(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5) as r:
            return r.read().decode()

    def metric(self, name, **labels):
        """Sum of the samples of `name` whose labels include `labels`."""
        total, found = 0.0, False
        for line in self.metrics().splitlines():
            if line.startswith("#"):
                continue
            m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)", line)
            if not m or m.group(1) != name:
                continue
            got = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(3) or ""))
            if all(got.get(k) == v for k, v in labels.items()):
                total += float(m.group(4))
                found = True
        return total if found else None

    def cli(self, *args):
        return subprocess.run([BINARY, *args, "--server", self.base], capture_output=True, text=True, timeout=20)

    def kill(self, sig=signal.SIGKILL):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        self.proc.wait(15)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(12)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def tg_binding(name, arn, hostname=None, namespace="default", port=None, policy=None, static=None,
               dns_extra=None):
    """A TargetGroupBinding manifest (YAML text) for tests."""
    lines = [
        "apiVersion: endpointbinder.io/v1alpha1",
        "kind: TargetGroupBinding",
        "metadata:",
        f"  name: {name}",
        f"  namespace: {namespace}",
        "spec:",
        f"  targetGroupARN: {arn}",
        "  targetType: ip",
    ]
    if port:
        lines.append(f"  port: {port}")
    lines.append("  source:")
    if static:
        lines.append("    static:")
        lines.append("      addresses: [" + ", ".join(static) + "]")
    else:
        lines.append("    dns:")
        lines.append(f"      hostname: {hostname}")
        lines.append("      minRefreshInterval: 1s")
        lines.append("      maxRefreshInterval: 10s")
        for k, v in (dns_extra or {}).items():
            lines.append(f"      {k}: {v}")
    if policy:
        lines.append("  policy:")
        for k, v in policy.items():
            lines.append(f"    {k}: {v}")
    return "\n".join(lines) + "\n"


class ScenarioTest(unittest.TestCase):
    """Starts an emulator and a DNS server per test; tests start controllers themselves."""

    emulator_args = ()

    def setUp(self):
        if not os.path.exists(BINARY):
            self.fail(f"{BINARY} not built")
        self.emulator = Emulator(self.emulator_args)
        self.addCleanup(self.emulator.stop)
        self.dns = DnsServer()
        self.addCleanup(self.dns.stop)
        self.tmp = tempfile.TemporaryDirectory(prefix="eb-manifests-")
        self.addCleanup(self.tmp.cleanup)
        self.manifests = self.tmp.name
        self.controllers = []

    def _failed(self):
        result = getattr(getattr(self, "_outcome", None), "result", None)
        if result is None:
            return True
        return any(test is self for test, _ in result.failures + result.errors)

    def tearDown(self):
        failed = self._failed()
        for c in self.controllers:
            c.stop()
            if failed or os.environ.get("EB_TEST_VERBOSE"):
                sys.stderr.write(f"\n---- controller log ({c.log_path}) ----\n{c.output()[-6000:]}\n")

    def write_manifest(self, filename, text):
        path = os.path.join(self.manifests, filename)
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.rename(tmp, path)
        return path

    def start_controller(self, *extra_args, **kwargs):
        c = Controller(self.manifests, self.emulator, self.dns, extra_args, **kwargs)
        self.controllers.append(c)
        return c
