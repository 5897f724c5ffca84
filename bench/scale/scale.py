#!/usr/bin/python3
"""End-to-end scale benchmark: the real endpoint-binder binary against the local AWS emulator
(tests/emulator) and the scriptable DNS server (tests/dns), all on 127.0.0.1 with ports chosen at
run time.

For each N in --sizes, a fresh emulator, DNS server and controller are started with N
TargetGroupBindings, each a DNS name answering 8 unique addresses (100.64.0.0/10, outside the
VPC, so registered with AvailabilityZone "all") and its own target group (preloaded through the
emulator's config file). Measured, per N:

  cold start    time from starting the controller until every binding's 8 addresses were
                registered (from the emulator's request log: completion of the RegisterTargets
                call that registered the last missing address), the AWS calls made by action,
                throttling errors, and the ratio to the lower bound the emulator's quotas allow;
  steady state  from when the work queue is empty (endpointbinder_workqueue_depth 0 at three
                polls in a row, after --settle-seconds), over --steady-seconds (default two
                resync periods, so the resync-driven reads of every binding fall inside the
                window whatever its phase): AWS calls per
                binding-hour by action, DNS queries per binding-hour, controller CPU seconds per
                binding-hour and % of one core (from /proc/<pid>/stat), resident memory (VmRSS);
  change        the DNS answers of --change-fraction of the bindings change (--change-ips of
                the 8 addresses replaced) at random times during a window; from the request log:
                delay until each new address is registered (p50/p95/p99), and until each removed
                address is deregistered, compared with the configured grace period;
  emulator      its own CPU use (/_emulator/stats cpuSeconds) per phase, to show it is not the
                bottleneck; the DNS server's CPU from /proc.

Results: a markdown table on stdout and a JSON file (--out). Only Debian's /usr/bin/python3
standard library is used here (the emulator and DNS server need python3-botocore and
python3-dnslib). Every child process is started here, gets SIGTERM when this process dies
(PR_SET_PDEATHSIG) and is stopped at the end; the servers also stop by themselves.
"""

import argparse
import ctypes
import datetime
import json
import math
import os
import platform
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
PYTHON = "/usr/bin/python3"
REGION = "ap-northeast-1"
ACCOUNT = "123456789012"
IPS_PER_BINDING = 8
TARGET_PORT = 443

# The emulator's defaults (tests/emulator/awsemu/throttle.py, AWS-NOTES.md), set explicitly so
# the run records exactly what it ran against. The controller's client-side defaults are equal.
DEFAULT_QUOTAS = {
    "RegisterTargets": {"rate": 4.0, "burst": 20.0},
    "DeregisterTargets": {"rate": 4.0, "burst": 20.0},
    "Describe*": {"rate": 10.0, "burst": 40.0},
    "*": {"rate": 10.0, "burst": 40.0},
}

WRITE_ACTIONS = ("RegisterTargets", "DeregisterTargets", "AddTags", "RemoveTags",
                 "ModifyTargetGroupAttributes", "CreateTargetGroup", "DeleteTargetGroup")

# Targets from bench/README.md.
TARGET_COLD_RATIO = 1.2
TARGET_CHANGE_SLACK_S = 2.0
# A removed address may go this much before `grace` after the DNS change (timing of the
# request log versus the DNS server's clock); grace counts from the first answer without it.
DEREGISTER_TIMING_SLACK_S = 0.5
TARGET_RSS_MIB_AT_1000 = 30.0
TARGET_CPU_PCT_AT_1000 = 1.0

_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback only


def log(msg):
    sys.stderr.write(f"[scale {time.strftime('%H:%M:%S')}] {msg}\n")
    sys.stderr.flush()


def http_json(method, url, body=None, timeout=30):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with _OPENER.open(req, timeout=timeout) as resp:
            return resp.status, _decode(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, _decode(e.read())


def _decode(raw):
    """JSON when the body is JSON, else its text (health endpoints answer plain text)."""
    if raw.strip().startswith((b"{", b"[")):
        try:
            return json.loads(raw)
        except ValueError:
            pass
    return raw.decode(errors="replace")


def http_text(url, timeout=30):
    with _OPENER.open(url, timeout=timeout) as resp:
        return resp.read().decode()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent():
    """Runs in the child before exec: SIGTERM it when this script dies (Linux prctl)."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG
    except OSError:
        pass


# ---------------------------------------------------------------------------------------------
# /proc readings

CLK_TCK = os.sysconf("SC_CLK_TCK")


def read_stat(path):
    """A /proc .../stat file as (name, fields after the name: fields[0] is stat's field 3).
    Raises OSError when it is gone, IndexError or ValueError when it is not a stat file."""
    with open(path) as f:
        data = f.read()
    return data[data.index("(") + 1:data.rindex(")")], data[data.rindex(")") + 1:].split()


def cpu_seconds_of(fields):
    """utime + stime in seconds from read_stat()'s fields."""
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_cpu_seconds(pid):
    """utime + stime of `pid` in seconds (all threads), or None when it is gone."""
    try:
        return cpu_seconds_of(read_stat(f"/proc/{pid}/stat")[1])
    except (OSError, IndexError, ValueError):
        return None


def proc_thread_cpu_seconds(pid):
    """utime + stime in seconds of each of `pid`'s threads, {(tid, start time): (name, seconds)}
    (the controller names its own threads; cpprest's keep the process name, reported as
    "unnamed"); {} when it is gone."""
    out = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
        with open(f"/proc/{pid}/comm") as f:
            process_name = f.read().strip()
    except OSError:
        return out
    for tid in tids:
        try:
            name, fields = read_stat(f"/proc/{pid}/task/{tid}/stat")
            if name == process_name:
                name = "unnamed"  # cpprest's threads (and the main thread, asleep)
            out[(tid, fields[19])] = (name, cpu_seconds_of(fields))  # fields[19]: start time
        except (OSError, IndexError, ValueError):
            continue  # the thread ended meanwhile
    return out


def thread_cpu_percent(before, after, cpu_seconds, elapsed):
    """Per thread name, % of one core between two proc_thread_cpu_seconds() readings: a thread
    started in between counts from 0. A thread that ended in between is not in `after`: what
    the process's `cpu_seconds` has beyond the threads' sum is reported as "ended or rounding"
    when over two clock ticks (each thread's time is rounded to ticks on its own, and the
    readings are not taken at the same instant: a tick or two either way is noise)."""
    by_name = {}
    for key, (name, seconds) in after.items():
        spent = seconds - before.get(key, (name, 0.0))[1]
        by_name[name] = by_name.get(name, 0.0) + spent
    rest = cpu_seconds - sum(by_name.values())
    if abs(round(rest * CLK_TCK)) > 2:
        by_name["ended or rounding"] = rest
    return {name: round(100.0 * s / elapsed, 3) for name, s in sorted(by_name.items())}


def proc_status_kib(pid, key):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def machine_info():
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_kib = None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    mem_kib = int(line.split()[1])
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "cpuModel": model,
            "memoryMiB": round(mem_kib / 1024) if mem_kib else None,
            "kernel": platform.release(), "python": platform.python_version(),
            "loadAverageAtStart": list(os.getloadavg())}


def git_info():
    def run(*args):
        try:
            out = subprocess.run(["git", "-C", ROOT, *args], capture_output=True, text=True,
                                 timeout=20)
            return out.stdout.strip() if out.returncode == 0 else None
        except (OSError, subprocess.TimeoutExpired):
            return None
    status = run("status", "--porcelain", "--untracked-files=no")
    return {"commit": run("rev-parse", "HEAD"), "branch": run("rev-parse", "--abbrev-ref", "HEAD"),
            "dirty": bool(status) if status is not None else None}


# ---------------------------------------------------------------------------------------------
# Child processes


class Child:
    """A child process; `ready_prefix` waits for its first stdout line (the servers' READY)."""

    def __init__(self, args, name, ready_prefix=None, env=None, stdout_path=None, timeout=60):
        self.name = name
        self.args = args
        self.log_path = stdout_path
        self.ready_line = None
        if ready_prefix:
            self.err_file = open(stdout_path, "w") if stdout_path else subprocess.DEVNULL
            self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self.err_file,
                                         text=True, env=env, preexec_fn=_die_with_parent)
            box = {}
            reader = threading.Thread(target=lambda: box.setdefault("line",
                                                                    self.proc.stdout.readline()),
                                      daemon=True)
            reader.start()
            reader.join(timeout)
            line = box.get("line") or ""
            if not line.startswith(ready_prefix):
                self.stop()
                raise RuntimeError(f"{name} did not start (first line {line!r}); see {stdout_path}")
            self.ready_line = line.strip()
            # Nothing else is written to stdout; keep the pipe drained anyway.
            threading.Thread(target=self._drain, daemon=True).start()
        else:
            self.err_file = open(stdout_path, "w")
            self.proc = subprocess.Popen(args, stdout=self.err_file, stderr=subprocess.STDOUT,
                                         env=env, preexec_fn=_die_with_parent)

    def _drain(self):
        for _ in self.proc.stdout:
            pass

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    def stop(self, timeout=15):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        if hasattr(self.err_file, "close"):
            self.err_file.close()


# ---------------------------------------------------------------------------------------------
# Addresses and fixtures


def address(n):
    """The n-th unique address in 100.64.0.0/10, host byte 1..254 (never .0 or .255)."""
    host = n % 254 + 1
    rest = n // 254
    value = (100 << 24) | (64 << 16) | ((rest % (64 * 256)) << 8) | host
    if rest >= 64 * 256:
        raise ValueError("address pool exhausted")
    return socket.inet_ntoa(value.to_bytes(4, "big"))


def binding_name(i):
    return f"b-{i:05d}"


def hostname(i):
    return f"{binding_name(i)}.scale.test"


def tg_arn(i):
    return (f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:targetgroup/"
            f"scale-{i:05d}/{i:016x}")


def manifest_doc(i, settings):
    return "\n".join([
        "apiVersion: endpointbinder.io/v1alpha1",
        "kind: TargetGroupBinding",
        "metadata:",
        f"  name: {binding_name(i)}",
        "  namespace: bench",
        "spec:",
        f"  targetGroupARN: {tg_arn(i)}",
        "  targetType: ip",
        "  availabilityZone: all",
        "  source:",
        "    dns:",
        f"      hostname: {hostname(i)}",
        f"      minRefreshInterval: {settings['minRefreshInterval']}",
        f"      maxRefreshInterval: {settings['maxRefreshInterval']}",
        "  policy:",
        f"    deregistrationGracePeriod: {settings['gracePeriod']}",
    ]) + "\n"


def parse_duration(text):
    """'90s', '5m', '1h', '500ms' -> seconds."""
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m|h)", text.strip())
    if not m:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (use 500ms, 30s, 5m, 1h)")
    return float(m.group(1)) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[m.group(2)]


def percentile(values, p):
    """Nearest-rank percentile (p in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100.0 * len(ordered)))
    return ordered[rank - 1]


def lower_bound_seconds(calls, quota):
    """Seconds the token bucket needs to allow `calls` calls, starting full."""
    if quota is None or calls <= quota["burst"]:
        return 0.0
    return (calls - quota["burst"]) / quota["rate"]


def quota_for(action, quotas):
    if action in quotas:
        return quotas[action]
    best = None
    for pattern in quotas:
        if pattern != "*" and "*" in pattern and re.fullmatch(pattern.replace("*", ".*"), action):
            if best is None or len(pattern) > len(best):
                best = pattern
    return quotas[best] if best else quotas.get("*")


# ---------------------------------------------------------------------------------------------
# The emulator's request log, followed incrementally


TARGET_ID_KEY = re.compile(r"^Targets\.member\.(\d+)\.Id$")


class RequestTracker:
    """Follows /_emulator/requests with a `since` cursor, keeping one light record per AWS call
    and the registrations/deregistrations by (target group, address) with their completion
    times. Entries are fetched with params while they are fresh (the emulator drops params of
    old entries under memory pressure)."""

    def __init__(self, emulator_url):
        self.url = emulator_url
        self.cursor = 0
        self.calls = []  # (time, action, status, throttled, errorCode)
        self.registered = {}    # (arn, ip) -> completion time of the first successful register
        self.deregistered = {}  # (arn, ip) -> [completion times of successful deregisters]
        self.register_events = []  # (completion time, arn, [ips])
        self.missing_params = 0
        self.lock = threading.Lock()

    def poll(self):
        status, payload = http_json("GET", f"{self.url}/_emulator/requests?since={self.cursor}",
                                    timeout=60)
        if status != 200:
            raise RuntimeError(f"request log: {status} {payload}")
        with self.lock:
            for e in payload["requests"]:
                self.cursor = max(self.cursor, e["seq"])
                done = e["time"] + (e.get("durationMs") or 0) / 1000.0
                action = e.get("action") or "(none)"
                self.calls.append((e["time"], action, e.get("status"), bool(e.get("throttled")),
                                   e.get("errorCode")))
                if action not in ("RegisterTargets", "DeregisterTargets") or e.get("status") != 200:
                    continue
                params = e.get("params")
                if params is None:
                    self.missing_params += 1
                    continue
                arn = params.get("TargetGroupArn")
                ips = [v for k, v in params.items() if TARGET_ID_KEY.match(k)]
                if action == "RegisterTargets":
                    self.register_events.append((done, arn, ips))
                    for ip in ips:
                        self.registered.setdefault((arn, ip), done)
                else:
                    for ip in ips:
                        self.deregistered.setdefault((arn, ip), []).append(done)
        return len(payload["requests"])

    def counts(self, start=None, end=None):
        """{action: {"total", "ok", "throttled", "error"}} over calls started in [start, end)."""
        out = {}
        with self.lock:
            for t, action, status, throttled, _ in self.calls:
                if (start is not None and t < start) or (end is not None and t >= end):
                    continue
                c = out.setdefault(action, {"total": 0, "ok": 0, "throttled": 0, "error": 0})
                c["total"] += 1
                if throttled:
                    c["throttled"] += 1
                elif status == 200:
                    c["ok"] += 1
                else:
                    c["error"] += 1
        return out

    def call_times(self, action, start=None, end=None):
        with self.lock:
            return [t for t, a, status, _, _ in self.calls
                    if a == action and (start is None or t >= start) and (end is None or t < end)]


# ---------------------------------------------------------------------------------------------
# One size


class Run:
    def __init__(self, n, args, workdir, quotas):
        self.n = n
        self.args = args
        self.dir = os.path.join(workdir, f"n{n}")
        os.makedirs(self.dir, exist_ok=True)
        self.quotas = quotas
        self.children = []
        self.next_address = n * IPS_PER_BINDING  # the pool after the initial answers
        self.answers = {i: [address(i * IPS_PER_BINDING + k) for k in range(IPS_PER_BINDING)]
                        for i in range(n)}
        self.result = {"n": n}

    # -- setup --

    def start_servers(self):
        a = self.args
        lifetime = int(a.max_lifetime)
        emu_config = {
            "region": REGION,
            "account": ACCOUNT,
            "healthyAfter": a.healthy_after,
            "deregistrationDelay": a.deregistration_delay,
            "targetGroupLimit": max(3000, self.n + 100),
            "maxLifetime": lifetime,
            "seed": a.seed,
            "quotas": self.quotas,
            "targetGroups": [{
                "arn": tg_arn(i), "protocol": "HTTPS", "port": TARGET_PORT, "targetType": "ip",
                "deregistrationDelay": a.deregistration_delay, "healthyAfter": a.healthy_after,
                "attachLoadBalancer": False,
            } for i in range(self.n)],
        }
        cfg_path = os.path.join(self.dir, "emulator.json")
        with open(cfg_path, "w") as f:
            json.dump(emu_config, f)
        t = time.monotonic()
        self.emulator = Child([PYTHON, os.path.join(ROOT, "tests/emulator/emulator.py"),
                               "--port", "0", "--config", cfg_path],
                              "emulator", ready_prefix="READY",
                              stdout_path=os.path.join(self.dir, "emulator.stderr"),
                              timeout=max(60, self.n / 20))
        self.children.append(self.emulator)
        self.emulator_url = self.emulator.ready_line.split()[1]
        log(f"N={self.n}: emulator ready at {self.emulator_url} "
            f"({self.n} target groups preloaded in {time.monotonic() - t:.1f}s)")

        zone = {"records": {hostname(i): {"a": ips, "ttl": a.ttl}
                            for i, ips in self.answers.items()}}
        zone_path = os.path.join(self.dir, "zone.json")
        with open(zone_path, "w") as f:
            json.dump(zone, f)
        self.dns = Child([PYTHON, os.path.join(ROOT, "tests/dns/dns_server.py"), "--port", "0",
                          "--zone", zone_path, "--seed", str(a.seed),
                          "--max-lifetime", str(lifetime)],
                         "dns", ready_prefix="READY",
                         stdout_path=os.path.join(self.dir, "dns.stderr"))
        self.children.append(self.dns)
        fields = dict(part.split("=", 1) for part in self.dns.ready_line.split()[1:])
        self.dns_addr = fields["dns"]
        self.dns_control = fields["control"]
        status, quotas = http_json("GET", f"{self.emulator_url}/_emulator/quotas")
        self.result["emulatorQuotas"] = quotas
        self.tracker = RequestTracker(self.emulator_url)

    def write_manifests(self):
        self.manifest_dir = os.path.join(self.dir, "manifests")
        os.makedirs(self.manifest_dir, exist_ok=True)
        per_file = 100
        for start in range(0, self.n, per_file):
            docs = [manifest_doc(i, self.settings_for_manifest())
                    for i in range(start, min(self.n, start + per_file))]
            with open(os.path.join(self.manifest_dir, f"bindings-{start // per_file:04d}.yaml"),
                      "w") as f:
                f.write("---\n".join(docs))

    def settings_for_manifest(self):
        a = self.args
        return {"minRefreshInterval": a.min_refresh, "maxRefreshInterval": a.max_refresh,
                "gracePeriod": a.grace}

    def start_controller(self):
        a = self.args
        self.metrics_port = free_port()
        self.health_port = free_port()
        cmd = [a.binary, "run", "--manifests", self.manifest_dir,
               "--metrics-addr", f"127.0.0.1:{self.metrics_port}",
               "--health-addr", f"127.0.0.1:{self.health_port}",
               "--dns-server", self.dns_addr,
               "--workers", str(a.workers),
               "--resync-period", a.resync_period,
               "--log-level", a.log_level]
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("AWS_", "ENDPOINT_BINDER_"))}
        env.update({"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
                    "AWS_REGION": REGION, "AWS_ENDPOINT_URL": self.emulator_url,
                    "AWS_EC2_METADATA_DISABLED": "true"})
        self.result["controllerCommand"] = cmd
        cmd += a.controller_args.split()
        if a.controller_wrapper:
            cmd = a.controller_wrapper.split() + cmd
        self.t_start = time.time()
        self.controller = Child(cmd, "controller", env=env,
                                stdout_path=os.path.join(self.dir, "controller.log"))
        self.children.append(self.controller)
        self.controller_pid = self.controller.pid
        if a.controller_wrapper:
            self.controller_pid = self.find_controller_pid(a.binary)
        self.result["controllerPid"] = self.controller_pid
        log(f"N={self.n}: controller pid {self.controller_pid} (for perf record -p)")

    # -- helpers --

    def find_controller_pid(self, binary, timeout=30):
        """The binary's process under a wrapper (heaptrack runs it as a child): the first
        descendant of the wrapper whose executable is the binary."""
        target = os.path.realpath(binary)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            children = {}
            for entry in os.listdir("/proc"):
                if not entry.isdigit():
                    continue
                try:
                    with open(f"/proc/{entry}/stat") as f:
                        ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                    children.setdefault(ppid, []).append(int(entry))
                except (OSError, ValueError, IndexError):
                    continue
            queue = [self.controller.pid]
            while queue:
                pid = queue.pop(0)
                try:
                    if os.path.realpath(f"/proc/{pid}/exe") == target:
                        return pid
                except OSError:
                    pass
                queue.extend(children.get(pid, []))
            time.sleep(0.2)
        log(f"N={self.n}: the wrapped controller process was not found; measuring the wrapper")
        return self.controller.pid

    def emulator_stats(self):
        return http_json("GET", f"{self.emulator_url}/_emulator/stats")[1]

    def dns_query_count(self):
        return http_json("GET", f"{self.dns_control}/queries")[1]["count"]

    def check_alive(self):
        if not self.controller.alive():
            raise RuntimeError(f"controller exited with {self.controller.proc.returncode}; "
                               f"see {self.controller.log_path}")

    def scrape_metric(self, name):
        """Sum of every sample of metric `name`, or None (also when --no-scrape)."""
        if not self.args.scrape:
            return None
        try:
            text = http_text(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=30)
        except OSError:
            return None
        total, found = 0.0, False
        for line in text.splitlines():
            if line.startswith(name) and (len(line) == len(name) or line[len(name)] in " {"):
                try:
                    total += float(line.rsplit(" ", 1)[1])
                    found = True
                except ValueError:
                    pass
        return total if found else None

    def healthy(self):
        try:
            return http_json("GET", f"http://127.0.0.1:{self.health_port}/healthz", timeout=2)[0] == 200
        except OSError:
            return False

    # -- phases --

    def cold_start(self):
        a = self.args
        n = self.n
        missing = {tg_arn(i): set(ips) for i, ips in self.answers.items()}
        arn_index = {tg_arn(i): i for i in range(n)}
        converged_at = {}
        emu0 = self.emulator_stats()
        dns_cpu0 = proc_cpu_seconds(self.dns.pid)
        reg_lb = lower_bound_seconds(n, quota_for("RegisterTargets", self.quotas))
        timeout = max(a.cold_timeout, 3 * reg_lb + 180)
        deadline = time.monotonic() + timeout
        healthy_at = None
        processed = 0
        last_report = time.monotonic()
        while time.monotonic() < deadline:
            self.check_alive()
            if healthy_at is None and self.healthy():
                healthy_at = time.time()
            self.tracker.poll()
            with self.tracker.lock:
                events = self.tracker.register_events[processed:]
                processed = len(self.tracker.register_events)
            for done, arn, ips in events:
                want = missing.get(arn)
                if not want:
                    continue
                want.difference_update(ips)
                if not want:
                    converged_at[arn_index[arn]] = done
            if len(converged_at) == n:
                break
            if time.monotonic() - last_report > 30:
                log(f"N={n}: cold start: {len(converged_at)}/{n} bindings converged after "
                    f"{time.time() - self.t_start:.0f}s")
                last_report = time.monotonic()
            time.sleep(a.poll_interval)
        t_done = time.time()
        emu1 = self.emulator_stats()
        dns_cpu1 = proc_cpu_seconds(self.dns.pid)
        ok = len(converged_at) == n
        cold = max(converged_at.values()) - self.t_start if ok else None
        counts = self.tracker.counts(end=t_done)
        throttled = sum(c["throttled"] for c in counts.values())
        # Lower bounds: (1) the unavoidable writes, one RegisterTargets per target group;
        # (2) the calls this controller actually made, each action's bucket on its own (they
        # refill in parallel, so the slowest bucket bounds the run).
        lb_min = reg_lb
        lb_made_by_action = {action: round(lower_bound_seconds(c["total"] - c["throttled"],
                                                               quota_for(action, self.quotas)), 2)
                             for action, c in counts.items()}
        lb_made = max(lb_made_by_action.values()) if lb_made_by_action else 0.0
        ctrl_cpu = proc_cpu_seconds(self.controller_pid)
        convergence_times = sorted(t - self.t_start for t in converged_at.values())
        self.result["coldStart"] = {
            "converged": ok,
            "loadAverage": list(os.getloadavg()),
            "bindingsConverged": len(converged_at),
            "seconds": round(cold, 2) if cold is not None else None,
            "healthzAfterSeconds": round(healthy_at - self.t_start, 2) if healthy_at else None,
            "firstBindingSeconds": round(convergence_times[0], 2) if convergence_times else None,
            "medianBindingSeconds": round(statistics.median(convergence_times), 2)
            if convergence_times else None,
            "callsByAction": counts,
            "callsPerBinding": {k: round(v["total"] / n, 2) for k, v in counts.items()},
            "throttlingErrors": throttled,
            "errors": sum(c["error"] for c in counts.values()),
            "lowerBoundSeconds": round(lb_min, 2),
            "lowerBoundBasis": "one RegisterTargets per target group at the RegisterTargets quota "
                               "(rate, burst)",
            "ratioToLowerBound": round(cold / lb_min, 3) if cold and lb_min >= 1 else None,
            "lowerBoundForCallsMadeSeconds": round(lb_made, 2),
            "lowerBoundForCallsMadeByAction": lb_made_by_action,
            "ratioToLowerBoundForCallsMade": round(cold / lb_made, 3)
            if cold and lb_made >= 1 else None,
            "controllerCpuSeconds": round(ctrl_cpu, 2) if ctrl_cpu is not None else None,
            "controllerPeakRssMiB": round((proc_status_kib(self.controller_pid, "VmHWM") or 0)
                                          / 1024, 1),
            "emulatorCpuSeconds": round(emu1["cpuSeconds"] - emu0["cpuSeconds"], 2),
            "emulatorCpuPercentOfOneCore": round(100 * (emu1["cpuSeconds"] - emu0["cpuSeconds"])
                                                 / max(1e-9, t_done - self.t_start), 1),
            "dnsServerCpuSeconds": round(dns_cpu1 - dns_cpu0, 2)
            if dns_cpu0 is not None and dns_cpu1 is not None else None,
        }
        log(f"N={n}: cold start {'converged' if ok else 'DID NOT converge'} "
            f"in {cold if cold is None else round(cold, 1)}s "
            f"(lower bound {lb_min:.1f}s), throttled {throttled}")
        if not ok:
            raise RuntimeError(f"cold start did not converge within {timeout:.0f}s: "
                               f"{len(converged_at)}/{n} bindings")

    def settle(self):
        """Waits --settle-seconds (post-write refreshes finish), then until the work queue is
        empty (issue 15: after a long cold start the post-write re-reads and the resync backlog
        drain for minutes, and a window placed in that drain is not steady state)."""
        end = time.monotonic() + self.args.settle_seconds
        while time.monotonic() < end:
            self.check_alive()
            self.tracker.poll()
            time.sleep(min(self.args.poll_interval * 5, max(0.0, end - time.monotonic())))
        self.wait_for_empty_queue()

    def wait_for_empty_queue(self):
        """Polls endpointbinder_workqueue_depth until it reads 0 three times in a row, one
        --poll-interval apart (a single 0 can fall between two keys). Skipped with --no-scrape."""
        if not self.args.scrape:
            return
        started = time.time()
        timeout = max(self.args.cold_timeout, 0.5 * self.n)  # a drain at 10 reads/s, twice
        deadline = time.monotonic() + timeout
        zeros, depth, peak = 0, None, 0.0
        while zeros < 3:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the work queue did not empty within {timeout:.0f}s "
                                   f"(depth {depth})")
            self.check_alive()
            self.tracker.poll()
            depth = self.scrape_metric("endpointbinder_workqueue_depth")
            peak = max(peak, depth or 0.0)
            zeros = zeros + 1 if depth == 0 else 0
            if zeros < 3:
                time.sleep(self.args.poll_interval)
        waited = time.time() - started
        self.result["queueEmpty"] = {
            "waitedSeconds": round(waited, 1),
            "afterControllerStartSeconds": round(time.time() - self.t_start, 1),
            "peakDepthWhileWaiting": peak,
        }
        log(f"N={self.n}: work queue empty after {waited:.0f}s more (peak depth {peak:.0f})")

    def align_to_resync(self):
        """Waits until halfway between two resync ticks (the controller starts its resync timer at
        start-up, ticks every period), so a window of whole periods holds exactly that many
        resyncs and the read burst of each falls entirely inside it."""
        period = parse_duration(self.args.resync_period)
        since = time.time() - self.t_start
        # Not before the second round: the first starts a period after the controller does.
        k = max(1, math.ceil(since / period - 0.5))
        start = self.t_start + (k + 0.5) * period
        log(f"N={self.n}: steady window starts {max(0.0, start - time.time()):.0f}s from now, "
            f"halfway between resyncs")
        while time.time() < start:
            self.check_alive()
            self.tracker.poll()
            time.sleep(min(5.0, max(0.0, start - time.time())))

    def steady_state(self):
        a = self.args
        n = self.n
        window = a.steady_seconds
        if a.align_resync:
            self.align_to_resync()
        reconciles0 = self.scrape_metric("endpointbinder_reconcile_total")
        dns0 = self.dns_query_count()
        emu0 = self.emulator_stats()
        dns_cpu0 = proc_cpu_seconds(self.dns.pid)
        t0 = time.time()
        cpu0 = proc_cpu_seconds(self.controller_pid)
        threads0 = proc_thread_cpu_seconds(self.controller_pid)
        rss_samples = []
        end = time.monotonic() + window
        while time.monotonic() < end:
            self.check_alive()
            rss = proc_status_kib(self.controller_pid, "VmRSS")
            if rss:
                rss_samples.append(rss)
            self.tracker.poll()
            time.sleep(min(5.0, max(0.0, end - time.monotonic())))
        cpu1 = proc_cpu_seconds(self.controller_pid)
        threads1 = proc_thread_cpu_seconds(self.controller_pid)
        t1 = time.time()
        dns_cpu1 = proc_cpu_seconds(self.dns.pid)
        emu1 = self.emulator_stats()
        dns1 = self.dns_query_count()
        reconciles1 = self.scrape_metric("endpointbinder_reconcile_total")
        self.tracker.poll()
        elapsed = t1 - t0
        per_binding_hour = 3600.0 / (elapsed * n)
        counts = self.tracker.counts(start=t0, end=t1)
        # Calls that reached the action (answered or failed); throttled attempts are retries
        # of those and are reported on their own.
        calls = {action: round((c["total"] - c["throttled"]) * per_binding_hour, 2)
                 for action, c in counts.items()}
        cpu = cpu1 - cpu0
        rss_now = proc_status_kib(self.controller_pid, "VmRSS") or 0
        # How the window's reads were spread: a resync shows as one burst at the read quota.
        dth_times = self.tracker.call_times("DescribeTargetHealth", start=t0, end=t1)
        self.result["steady"] = {
            "windowSeconds": round(elapsed, 1),
            "windowStartAfterControllerStart": round(t0 - self.t_start, 1),
            "loadAverage": list(os.getloadavg()),
            "awsCallsPerBindingHour": calls,
            "describeTargetHealthPerBindingHour": calls.get("DescribeTargetHealth", 0.0),
            "throttledInWindow": sum(c["throttled"] for c in counts.values()),
            "writeCallsInWindow": sum(c["total"] for act, c in counts.items()
                                      if act in WRITE_ACTIONS),
            "otherCallsInWindow": sum(c["total"] for act, c in counts.items()
                                      if act != "DescribeTargetHealth"),
            "callsInWindow": counts,
            "describeTargetHealthBurst": _burst_summary(dth_times),
            "dnsQueriesPerBindingHour": round((dns1 - dns0) * per_binding_hour, 1),
            "reconcilesPerBindingHour": round((reconciles1 - reconciles0) * per_binding_hour, 1)
            if reconciles0 is not None and reconciles1 is not None else None,
            "controllerCpuSeconds": round(cpu, 3),
            "controllerCpuSecondsPerBindingHour": round(cpu * per_binding_hour, 4),
            "controllerCpuPercentOfOneCore": round(100.0 * cpu / elapsed, 3),
            # By thread name: where the CPU goes, without a profiler.
            "controllerCpuPercentByThread": thread_cpu_percent(threads0, threads1, cpu, elapsed),
            "controllerRssMiB": round(rss_now / 1024, 1),
            "controllerRssMaxMiB": round(max(rss_samples + [rss_now]) / 1024, 1),
            "controllerPeakRssMiB": round((proc_status_kib(self.controller_pid, "VmHWM") or 0)
                                          / 1024, 1),
            "controllerRssAnonMiB": round((proc_status_kib(self.controller_pid, "RssAnon") or 0)
                                          / 1024, 1),
            "controllerRssFileMiB": round((proc_status_kib(self.controller_pid, "RssFile") or 0)
                                          / 1024, 1),
            "controllerThreads": proc_status_kib(self.controller_pid, "Threads"),
            "metricsScraped": self.args.scrape,
            "emulatorCpuPercentOfOneCore": round(100.0 * (emu1["cpuSeconds"] - emu0["cpuSeconds"])
                                                 / elapsed, 2),
            "dnsServerCpuPercentOfOneCore": round(100.0 * (dns_cpu1 - dns_cpu0) / elapsed, 2)
            if dns_cpu0 is not None and dns_cpu1 is not None else None,
        }
        s = self.result["steady"]
        log(f"N={n}: steady {elapsed:.0f}s: DTH/binding-h {s['describeTargetHealthPerBindingHour']}, "
            f"writes {s['writeCallsInWindow']}, DNS q/binding-h {s['dnsQueriesPerBindingHour']}, "
            f"CPU {s['controllerCpuPercentOfOneCore']}% RSS {s['controllerRssMiB']} MiB")

    def change_latency(self):
        a = self.args
        n = self.n
        rng = random.Random(a.seed + n)
        k = max(1, round(n * a.change_fraction))
        chosen = rng.sample(range(n), k)
        window = max(a.change_window, k * a.change_spacing)
        offsets = sorted(rng.uniform(0, window) for _ in chosen)
        plan = list(zip(offsets, chosen))
        changes = []  # (binding, change time, new ips, removed ips)
        errors = []
        emu0 = self.emulator_stats()
        cpu0 = proc_cpu_seconds(self.controller_pid)

        def apply_changes(start):
            for offset, i in plan:
                delay = start + offset - time.time()
                if delay > 0:
                    time.sleep(delay)
                old = self.answers[i]
                removed_idx = rng.sample(range(IPS_PER_BINDING), a.change_ips)
                new_ips = []
                ips = list(old)
                for j in removed_idx:
                    new_ips.append(address(self.next_address))
                    self.next_address += 1
                    ips[j] = new_ips[-1]
                removed = [old[j] for j in removed_idx]
                t_change = time.time()
                status, payload = http_json("PUT", f"{self.dns_control}/records/{hostname(i)}",
                                            {"a": ips, "ttl": a.ttl})
                if status >= 300:
                    errors.append(f"{hostname(i)}: {status} {payload}")
                    continue
                self.answers[i] = ips
                changes.append((i, t_change, new_ips, removed))

        t_window = time.time()
        changer = threading.Thread(target=apply_changes, args=(t_window,), daemon=True)
        changer.start()
        grace = parse_duration(a.grace)
        # Wait for the window, then until everything landed or a generous bound passed.
        deadline = time.monotonic() + window + grace + a.ttl + 120
        while time.monotonic() < deadline:
            self.check_alive()
            self.tracker.poll()
            if not changer.is_alive():
                pending_reg = [(i, ip) for i, _, new, _ in changes for ip in new
                               if (tg_arn(i), ip) not in self.tracker.registered]
                pending_dereg = [(i, ip) for i, t, _, rem in changes for ip in rem
                                 if not any(d >= t for d in
                                            self.tracker.deregistered.get((tg_arn(i), ip), []))]
                if not pending_reg and not pending_dereg:
                    break
            time.sleep(a.poll_interval)
        changer.join(5)
        t_end = time.time()
        cpu1 = proc_cpu_seconds(self.controller_pid)
        emu1 = self.emulator_stats()
        reg_lat, dereg_delay, unregistered, undereg = [], [], 0, 0
        for i, t, new, removed in changes:
            arn = tg_arn(i)
            for ip in new:
                done = self.tracker.registered.get((arn, ip))
                if done is None:
                    unregistered += 1
                else:
                    reg_lat.append(done - t)
            for ip in removed:
                times = [d for d in self.tracker.deregistered.get((arn, ip), []) if d >= t]
                if times:
                    dereg_delay.append(min(times) - t)
                else:
                    undereg += 1
        counts = self.tracker.counts(start=t_window, end=t_end)

        def dist(values):
            if not values:
                return None
            return {"count": len(values), "min": round(min(values), 2),
                    "p50": round(percentile(values, 50), 2), "p95": round(percentile(values, 95), 2),
                    "p99": round(percentile(values, 99), 2), "max": round(max(values), 2)}

        early = [d for d in dereg_delay if d < grace - DEREGISTER_TIMING_SLACK_S]
        self.result["change"] = {
            "bindingsChanged": len(changes),
            "addressesReplacedPerBinding": a.change_ips,
            "windowSeconds": round(window, 1),
            "dnsTtlSeconds": a.ttl,
            "gracePeriodSeconds": grace,
            "registerLatencySeconds": dist(reg_lat),
            "newAddressesNeverRegistered": unregistered,
            "deregisterDelaySeconds": dist(dereg_delay),
            "deregisterMinusGraceSeconds": dist([d - grace for d in dereg_delay]),
            "deregisteredBeforeGrace": len(early),
            "removedAddressesNeverDeregistered": undereg,
            "callsInPhase": counts,
            "loadAverage": list(os.getloadavg()),
            "throttlingErrors": sum(c["throttled"] for c in counts.values()),
            "controllerCpuSeconds": round(cpu1 - cpu0, 2),
            "emulatorCpuPercentOfOneCore": round(100.0 * (emu1["cpuSeconds"] - emu0["cpuSeconds"])
                                                 / max(1e-9, t_end - t_window), 2),
            "dnsErrors": errors,
        }
        c = self.result["change"]
        log(f"N={n}: change: register latency {c['registerLatencySeconds']}, "
            f"deregister delay {c['deregisterDelaySeconds']} (grace {grace}s)")

    def finish(self):
        self.tracker.poll()
        totals = self.tracker.counts()
        self.result["totals"] = {
            "callsByAction": totals,
            "throttlingErrors": sum(c["throttled"] for c in totals.values()),
            "requestLogEntriesWithoutParams": self.tracker.missing_params,
        }
        # The controller's own view, once, after measuring: how many bindings report Ready.
        try:
            status, payload = http_json(
                "GET", f"http://127.0.0.1:{self.health_port}/apis/endpointbinder.io/v1alpha1/"
                "targetgroupbindings", timeout=60)
            items = payload.get("items", []) if isinstance(payload, dict) else []
            ready = sum(1 for b in items for c in b.get("status", {}).get("conditions", [])
                        if c.get("type") == "Ready" and c.get("status") == "True")
            self.result["statusApi"] = {"bindings": len(items), "ready": ready}
        except (OSError, ValueError, AttributeError) as e:
            self.result["statusApi"] = {"error": str(e)}
        warn = errors = 0
        try:
            with open(self.controller.log_path, errors="replace") as f:
                for line in f:
                    if '"level":"warn"' in line:
                        warn += 1
                    elif '"level":"error"' in line:
                        errors += 1
        except OSError:
            pass
        self.result["controllerLog"] = {"path": self.controller.log_path, "warnLines": warn,
                                        "errorLines": errors}
        emu = self.emulator_stats()
        self.result["emulatorTotal"] = {"cpuSeconds": round(emu["cpuSeconds"], 2),
                                        "uptimeSeconds": round(emu["uptime"], 1),
                                        "requests": emu["requests"]}

    def stop(self):
        for child in reversed(self.children):
            try:
                child.stop()
            except Exception as e:  # keep stopping the others
                log(f"stopping {child.name}: {e}")

    def run(self):
        try:
            self.start_servers()
            self.write_manifests()
            self.start_controller()
            self.cold_start()
            self.settle()
            self.steady_state()
            self.change_latency()
            self.finish()
        except Exception as e:
            self.result["error"] = str(e)
            log(f"N={self.n}: FAILED: {e}")
        finally:
            self.stop()
        return self.result


def _burst_summary(times):
    """How DescribeTargetHealth calls were spread in a window: first/last offsets, peak per s."""
    if not times:
        return None
    per_second = {}
    for t in times:
        per_second[int(t)] = per_second.get(int(t), 0) + 1
    return {"calls": len(times), "spanSeconds": round(max(times) - min(times), 1),
            "peakPerSecond": max(per_second.values())}


# ---------------------------------------------------------------------------------------------
# Report


def fmt(v, digits=2):
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def verdict(ok):
    return "met" if ok else "MISSED"


def markdown(report):
    results = [r for r in report["results"]]
    cols = [f"N={r['n']}" for r in results]
    lines = ["| metric | " + " | ".join(cols) + " | target |",
             "|---|" + "---|" * len(cols) + "---|"]

    def row(label, getter, target=""):
        vals = []
        for r in results:
            try:
                vals.append(getter(r))
            except (KeyError, TypeError):
                vals.append(None)
        lines.append(f"| {label} | " + " | ".join(fmt(v) for v in vals) + f" | {target} |")

    row("cold start: converged bindings", lambda r: r["coldStart"]["bindingsConverged"])
    row("cold start: seconds", lambda r: r["coldStart"]["seconds"])
    row("cold start: quota lower bound (s)", lambda r: r["coldStart"]["lowerBoundSeconds"])
    row("cold start: ratio to lower bound", lambda r: r["coldStart"]["ratioToLowerBound"],
        f"≤ {TARGET_COLD_RATIO}")
    row("cold start: bound for calls made (s)",
        lambda r: r["coldStart"]["lowerBoundForCallsMadeSeconds"])
    for action in ("DescribeTargetGroups", "DescribeTags", "AddTags", "DescribeTargetHealth",
                   "RegisterTargets", "DeregisterTargets"):
        row(f"cold start: {action} calls",
            lambda r, a=action: r["coldStart"]["callsByAction"].get(a, {}).get("total", 0))
    row("cold start: throttling errors", lambda r: r["coldStart"]["throttlingErrors"], "0")
    row("cold start: emulator CPU % of a core",
        lambda r: r["coldStart"]["emulatorCpuPercentOfOneCore"])
    row("work queue empty, s after the controller started",
        lambda r: r["queueEmpty"]["afterControllerStartSeconds"])
    row("steady: window (s)", lambda r: r["steady"]["windowSeconds"])
    row("steady: load average (1 min) of the machine", lambda r: r["steady"]["loadAverage"][0])
    row("steady: DescribeTargetHealth / binding-hour",
        lambda r: r["steady"]["describeTargetHealthPerBindingHour"],
        f"≤ {3600 / parse_duration(report['settings']['resyncPeriod']):g} (one per resync)")
    row("steady: throttled answers in window", lambda r: r["steady"]["throttledInWindow"], "0")
    row("steady: write calls in window", lambda r: r["steady"]["writeCallsInWindow"], "0")
    row("steady: other AWS calls in window", lambda r: r["steady"]["otherCallsInWindow"], "0")
    row("steady: DNS queries / binding-hour", lambda r: r["steady"]["dnsQueriesPerBindingHour"])
    row("steady: reconciles / binding-hour", lambda r: r["steady"]["reconcilesPerBindingHour"])
    row("steady: controller CPU s / binding-hour",
        lambda r: r["steady"]["controllerCpuSecondsPerBindingHour"])
    row("steady: controller CPU % of one core",
        lambda r: r["steady"]["controllerCpuPercentOfOneCore"],
        f"≤ {TARGET_CPU_PCT_AT_1000:g}% at N=1000")
    row("steady: ... by thread (% of one core)",
        lambda r: ", ".join(f"{name} {pct:g}" for name, pct in sorted(
            r["steady"]["controllerCpuPercentByThread"].items(), key=lambda kv: -kv[1])))
    row("steady: controller RSS MiB", lambda r: r["steady"]["controllerRssMiB"],
        f"≤ {TARGET_RSS_MIB_AT_1000:g} at N=1000")
    row("steady: controller RSS anonymous / file MiB",
        lambda r: f"{r['steady']['controllerRssAnonMiB']} / {r['steady']['controllerRssFileMiB']}")
    row("steady: controller peak RSS MiB (VmHWM)", lambda r: r["steady"]["controllerPeakRssMiB"])
    row("steady: emulator CPU % of a core", lambda r: r["steady"]["emulatorCpuPercentOfOneCore"])
    row("steady: DNS server CPU % of a core", lambda r: r["steady"]["dnsServerCpuPercentOfOneCore"])
    row("change: bindings changed", lambda r: r["change"]["bindingsChanged"])
    row("change: register latency p50 (s)", lambda r: r["change"]["registerLatencySeconds"]["p50"])
    row("change: register latency p95 (s)", lambda r: r["change"]["registerLatencySeconds"]["p95"])
    row("change: register latency p99 (s)", lambda r: r["change"]["registerLatencySeconds"]["p99"],
        f"≤ TTL + {TARGET_CHANGE_SLACK_S:g} s")
    row("change: new addresses never registered",
        lambda r: r["change"]["newAddressesNeverRegistered"], "0")
    row("change: deregister delay p50 (s)", lambda r: r["change"]["deregisterDelaySeconds"]["p50"])
    row("change: deregister delay p99 (s)", lambda r: r["change"]["deregisterDelaySeconds"]["p99"])
    row("change: deregister delay min (s)", lambda r: r["change"]["deregisterDelaySeconds"]["min"],
        "≥ grace")
    row(f"change: deregistered < grace − {DEREGISTER_TIMING_SLACK_S:g} s after the DNS change",
        lambda r: r["change"]["deregisteredBeforeGrace"], "0")
    row("change: throttling errors", lambda r: r["change"]["throttlingErrors"], "0")
    row("all phases: throttling errors", lambda r: r["totals"]["throttlingErrors"], "0")
    row("status API: Ready bindings", lambda r: r["statusApi"]["ready"])
    return "\n".join(lines)


def evaluate(report):
    """Target verdicts per N (bench/README.md)."""
    out = []
    ttl = report["settings"]["dnsTtlSeconds"]
    for r in report["results"]:
        n = r["n"]
        v = {"n": n}
        if "error" in r:
            v["error"] = r["error"]
        try:
            s = r["steady"]
            # ≤ 12 per binding-hour at the default 5m resync: one read per group per resync.
            # The resync spreads its reads over the period, so a window of whole periods can
            # hold one more read than it has bindings (the one due on both of its edges).
            limit = 3600.0 / parse_duration(report["settings"]["resyncPeriod"])
            edge = 3600.0 / (s["windowSeconds"] * n)
            v["steadyDescribeTargetHealth"] = verdict(
                s["describeTargetHealthPerBindingHour"] <= limit + edge + 1e-9)
            v["steadyNoWrites"] = verdict(s["writeCallsInWindow"] == 0)
            v["steadyNoOtherCalls"] = verdict(s["otherCallsInWindow"] == 0)
            if n == 1000:
                v["rss"] = verdict(s["controllerRssMiB"] <= TARGET_RSS_MIB_AT_1000)
                v["cpu"] = verdict(s["controllerCpuPercentOfOneCore"] <= TARGET_CPU_PCT_AT_1000)
        except (KeyError, TypeError):
            pass
        try:
            c = r["coldStart"]
            if c["ratioToLowerBound"] is not None:
                v["coldStartRatio"] = verdict(c["ratioToLowerBound"] <= TARGET_COLD_RATIO)
            else:
                v["coldStartRatio"] = "n/a (lower bound < 1 s)"
            v["coldStartThrottling"] = verdict(c["throttlingErrors"] == 0)
        except (KeyError, TypeError):
            pass
        try:
            ch = r["change"]
            v["changeP99"] = verdict(ch["registerLatencySeconds"]["p99"] <= ttl + TARGET_CHANGE_SLACK_S
                                     and ch["newAddressesNeverRegistered"] == 0)
            v["deregisterNotBeforeGrace"] = verdict(ch["deregisteredBeforeGrace"] == 0)
        except (KeyError, TypeError):
            pass
        try:
            v["noThrottlingAnyPhase"] = verdict(r["totals"]["throttlingErrors"] == 0)
        except (KeyError, TypeError):
            pass
        out.append(v)
    return out


def print_report(report):
    """The markdown summary of a report (a finished run's, or one loaded by --render)."""
    settings = report["settings"]
    print("## endpoint-binder scale benchmark\n")
    m = report["machine"]
    print(f"Machine: {m['nproc']} CPUs ({m['cpuModel']}), {m['memoryMiB']} MiB, load average at "
          f"start {', '.join(f'{x:.1f}' for x in m['loadAverageAtStart'])}; "
          f"commit {report['git']['commit']}{' (dirty tree)' if report['git']['dirty'] else ''}; "
          f"{settings['binaryVersion']}\n")
    print(f"Settings: workers {settings['workers']}, resync {settings['resyncPeriod']}, "
          f"TTL {settings['dnsTtlSeconds']}s, minRefreshInterval {settings['minRefreshInterval']}, "
          f"grace {settings['deregistrationGracePeriod']}, steady window "
          f"{settings['steadySeconds']:.0f}s, quotas "
          + ", ".join(f"{k} {v['rate']:g}/s burst {v['burst']:g}" if v else f"{k} unlimited"
                      for k, v in settings["quotas"].items())
          + (f", controller args {settings['controllerExtraArgs']}"
             if settings.get("controllerExtraArgs") else "") + "\n")
    print(markdown(report))
    print()
    for v in report["verdicts"]:
        v = dict(v)
        print(f"- N={v.pop('n')}: " + ", ".join(f"{k} {val}" for k, val in v.items()))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--render", metavar="JSON",
                   help="print the table and verdicts of a saved --out file (verdicts recomputed) "
                        "and exit")
    p.add_argument("--sizes", default="1,100,1000,5000",
                   help="comma-separated numbers of bindings, one run each")
    p.add_argument("--quick", action="store_true",
                   help="small smoke run: sizes 1,20; resync 30s (steady window 60s); change window 15s; grace 10s")
    p.add_argument("--binary", default=None,
                   help="endpoint-binder binary (default: $EB_BIN_DIR, build/bin, build-bench/bin)")
    p.add_argument("--out", default="results.json", help="JSON results file")
    p.add_argument("--workers", type=int, default=8)
    p.add_argument("--resync-period", default="5m")
    p.add_argument("--log-level", default="info")
    p.add_argument("--steady-seconds", type=float, default=None,
                   help="steady-state window (default: two resync periods)")
    p.add_argument("--no-align-resync", dest="align_resync", action="store_false",
                   help="start the steady window right after settling instead of halfway "
                        "between two resync ticks")
    p.add_argument("--settle-seconds", type=float, default=20.0,
                   help="pause between convergence and the steady window (post-write re-reads)")
    p.add_argument("--ttl", type=int, default=5, help="DNS TTL of every answer (s)")
    p.add_argument("--min-refresh", default="1s", help="minRefreshInterval in the manifests")
    p.add_argument("--max-refresh", default="60s", help="maxRefreshInterval in the manifests")
    p.add_argument("--grace", default="30s", help="deregistrationGracePeriod in the manifests")
    p.add_argument("--change-fraction", type=float, default=0.1)
    p.add_argument("--change-ips", type=int, default=2,
                   help="addresses (of 8) replaced in each changed answer")
    p.add_argument("--change-window", type=float, default=60.0,
                   help="seconds over which the DNS changes are spread (at least)")
    p.add_argument("--change-spacing", type=float, default=0.5,
                   help="the window grows to changes × this, so changes alone stay under the "
                        "RegisterTargets quota")
    p.add_argument("--healthy-after", type=float, default=1.0,
                   help="emulator: seconds a new target stays initial")
    p.add_argument("--deregistration-delay", type=int, default=5,
                   help="emulator: draining time of the target groups (s)")
    p.add_argument("--quota", action="append", default=[], metavar="ACTION=RATE:BURST",
                   help="override an emulator quota (repeatable); defaults are AWS-like")
    p.add_argument("--cold-timeout", type=float, default=300.0,
                   help="cold-start timeout (s), raised to 3x the lower bound + 180 s")
    p.add_argument("--poll-interval", type=float, default=1.0,
                   help="request-log poll interval (s)")
    p.add_argument("--no-scrape", dest="scrape", action="store_false",
                   help="never read the controller's /metrics (a scrape materializes every "
                        "series; compare RSS with and without)")
    p.add_argument("--controller-args", default="",
                   help="extra flags for `endpoint-binder run` (e.g. '--aws-rate-limits "
                        "RegisterTargets=50:100' with matching --quota, for profiling runs)")
    p.add_argument("--controller-wrapper", default="",
                   help="prefix for the controller command, for profiling only (e.g. "
                        "'heaptrack -o /tmp/eb'); CPU and memory are then read from the "
                        "binary's own process")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--max-lifetime", type=float, default=4 * 3600,
                   help="the servers exit after this many seconds whatever happens")
    args = p.parse_args()
    if args.render:
        with open(args.render) as f:
            report = json.load(f)
        report["verdicts"] = evaluate(report)
        print_report(report)
        return 0

    if args.quick:
        args.sizes = "1,20" if args.sizes == p.get_default("sizes") else args.sizes
        if args.resync_period == p.get_default("resync_period"):
            args.resync_period = "30s"
        args.settle_seconds = min(args.settle_seconds, 12.0)
        if args.change_window == p.get_default("change_window"):
            args.change_window = 15.0
        if args.grace == p.get_default("grace"):
            args.grace = "10s"
    if args.steady_seconds is None:
        args.steady_seconds = 2 * parse_duration(args.resync_period)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    if not 1 <= args.change_ips <= IPS_PER_BINDING:
        p.error(f"--change-ips must be within 1..{IPS_PER_BINDING}")

    if args.binary is None:
        candidates = [os.path.join(os.environ.get("EB_BIN_DIR", ""), "endpoint-binder"),
                      os.path.join(ROOT, "build", "bin", "endpoint-binder"),
                      os.path.join(ROOT, "build-bench", "bin", "endpoint-binder")]
        args.binary = next((c for c in candidates if os.path.isfile(c) and os.access(c, os.X_OK)),
                           candidates[1])
    if not os.access(args.binary, os.X_OK):
        p.error(f"no endpoint-binder binary at {args.binary} (build it or pass --binary)")

    quotas = {k: dict(v) for k, v in DEFAULT_QUOTAS.items()}
    for text in args.quota:
        action, _, spec = text.partition("=")
        if spec == "unlimited":
            quotas[action] = None
        else:
            rate, _, burst = spec.partition(":")
            quotas[action] = {"rate": float(rate), "burst": float(burst or max(1.0, float(rate)))}

    version = subprocess.run([args.binary, "version"], capture_output=True, text=True,
                             timeout=30).stdout.strip()
    settings = {
        "sizes": sizes,
        "binary": os.path.abspath(args.binary),
        "binaryVersion": version,
        "workers": args.workers,
        "resyncPeriod": args.resync_period,
        "steadySeconds": args.steady_seconds,
        "steadyWindowAlignedToResync": args.align_resync,
        "settleSeconds": args.settle_seconds,
        "dnsTtlSeconds": args.ttl,
        "minRefreshInterval": args.min_refresh,
        "maxRefreshInterval": args.max_refresh,
        "deregistrationGracePeriod": args.grace,
        "ipsPerBinding": IPS_PER_BINDING,
        "addressPool": "100.64.0.0/10 (outside the VPC, availabilityZone: all)",
        "changeFraction": args.change_fraction,
        "changeIpsPerBinding": args.change_ips,
        "changeWindowSeconds": args.change_window,
        "changeSpacingSeconds": args.change_spacing,
        "emulatorHealthyAfter": args.healthy_after,
        "emulatorDeregistrationDelay": args.deregistration_delay,
        "quotas": quotas,
        "controllerClientRateLimits": "defaults (RegisterTargets/DeregisterTargets 4:18, "
                                      "reads 10:35, other writes 10:35)",
        "seed": args.seed,
        "quick": args.quick,
        "controllerWrapper": args.controller_wrapper or None,
        "controllerExtraArgs": args.controller_args or None,
        "scrapeMetrics": args.scrape,
        "mallocArenaMax": os.environ.get("MALLOC_ARENA_MAX"),
    }
    report = {"tool": "bench/scale/scale.py",
              "started": datetime.datetime.now(datetime.timezone.utc).isoformat(),
              "machine": machine_info(), "git": git_info(), "settings": settings, "results": []}
    log(f"machine {report['machine']}, sizes {sizes}, steady window {args.steady_seconds:.0f}s")

    workdir = tempfile.mkdtemp(prefix="eb-scale-")
    report["workdir"] = workdir
    stop = {"flag": False}

    def on_signal(signum, frame):
        stop["flag"] = True
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    try:
        for n in sizes:
            log(f"=== N={n} ===")
            t = time.monotonic()
            result = Run(n, args, workdir, quotas).run()
            result["wallSeconds"] = round(time.monotonic() - t, 1)
            report["results"].append(result)
            with open(args.out, "w") as f:  # partial results survive an interrupted run
                json.dump(report, f, indent=2)
    except KeyboardInterrupt:
        log("interrupted; writing partial results")
    report["verdicts"] = evaluate(report)
    report["finished"] = datetime.datetime.now(datetime.timezone.utc).isoformat()
    with open(args.out, "w") as f:
        json.dump(report, f, indent=2)
    print_report(report)
    print(f"\nJSON: {os.path.abspath(args.out)}; logs in {workdir}")
    return 0 if all("error" not in r for r in report["results"]) else 1


if __name__ == "__main__":
    sys.exit(main())
