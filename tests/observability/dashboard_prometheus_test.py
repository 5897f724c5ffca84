"""The Grafana dashboard and the alert rules against a REAL Prometheus scraping the REAL
controller while it reconciles against the AWS emulator with induced drift and failures.

Set-up (one per run, shared by the tests): the emulator and the DNS server from
tests/integration/harness.py; seven manifests in namespace "obs":
- drifting: DNS answers 10.0.1.5, 10.0.1.6 and 10.0.2.7 with allowedCIDRs [10.0.1.0/24], so
  10.0.2.7 is held as NotAllowed forever (missing = 1); 10.0.1.99 was registered by hand and a
  1h grace period keeps it (unexpected = 1, held WithinGracePeriod);
- steady: a static source, fully registered (drift 0);
- failing: its DNS name answers SERVFAIL (SourceResolved=False);
- conflicted: its target group carries another owner's tag (Conflict=True);
- denied: its target group is not yet claimed and every AddTags call is refused with
  AccessDenied (a task role without that permission), so it never syncs;
- broken.yaml: a manifest with a typo (manifest_errors = 1);
- names: a DNSRecordBinding naming the ec2 filter's instances in a private Route 53 zone (one
  throttled zone read, so the Route 53 throttle panel has a series);
- instances (ec2 filter) and asg (Auto Scaling group): instance target groups fed by the
  shared instance inventory (polled every 1s) and by an events queue the emulator delivers
  EC2 and Auto Scaling events to; one instance is launched once the controller runs, so a
  state-change event is handled. The first DescribeInstances attempt is throttled (retried),
  so the instance-source throttle panel has a series.
The other target groups carry this controller's owner tag already, so AddTags is only ever
called for denied. Two DescribeTargetHealth attempts are throttled (the client's retries
absorb them), so the throttle and retry series exist.

Prometheus (/usr/bin/prometheus, scrape and rule evaluation every 1s) loads
deploy/prometheus/alerts.yaml. Then:
- every dashboard panel query, with $job/$namespace/$binding = ".*" (Grafana's "All") and
  $__rate_interval = 5s, is run as a range query over the run: it must return series, and at
  least one finite value (a panel that would draw nothing fails);
- the drift panels show drifting's missing = 1 and unexpected = 1, and steady's 0;
- the variable queries (label_values) list the namespace and the bindings;
- every label a query or alert matches on is a label the scraped series really carry (with
  the value, for equality matchers), so a misspelt label cannot go unnoticed;
- every alert expression is evaluated (/api/v1/query). Alerts this set-up must trigger
  (missing targets, failing source, conflict, not ready, manifest errors) must return exactly
  the expected bindings. For the others (down, absent, sync stale, unexpected beyond grace,
  throttling, AWS errors) the full expression must return nothing, and the expression without
  its final threshold comparison (for absent(X): X) must return series, which proves that
  the series and label matching they rely on exist and that only the threshold keeps them
  quiet. Prometheus's own rule evaluation must report no error, and the alerts it holds
  pending or firing must be the expected ones;
- `promtool check config` accepts the generated configuration.

Run with /usr/bin/python3 after building the binary (EB_BIN_DIR).
"""
import ctypes
import json
import math
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import harness  # noqa: E402
import observability as obs  # noqa: E402

NS = "obs"
ALL = {"job": ".*", "namespace": ".*", "binding": ".*"}
# Alerts this set-up triggers: (what identifies an alert, exactly the expected identities).
EXPECTED_ACTIVE = {
    "EndpointBinderTargetsMissing": ("binding", {(NS, "drifting")}),
    "EndpointBinderSourceFailing": ("binding", {(NS, "failing")}),
    "EndpointBinderConflict": ("binding", {(NS, "conflicted")}),
    "EndpointBinderManifestErrors": ("job", {"endpoint-binder"}),
    "EndpointBinderAwsErrors": ("operation", {"AddTags"}),
}
# Not Ready: a listed target is not registered (drifting), the source fails (failing), the
# group is someone else's (conflicted), the claim is refused (denied). Never steady.
NOT_READY_AT_LEAST = {(NS, "drifting"), (NS, "failing"), (NS, "conflicted"), (NS, "denied")}
EXPECTED_QUIET = {
    "EndpointBinderDown", "EndpointBinderAbsent", "EndpointBinderSyncStale",
    "EndpointBinderTargetsUnexpected", "EndpointBinderAwsThrottling",
    "EndpointBinderNotificationsFailing",  # no binding here has notifications: all at zero
    # Instance sources: rounds every second, the queue reads fine, no foreign message, no
    # interruption (the series exist: the sources and the queue are configured).
    "EndpointBinderInstanceInventoryStalled", "EndpointBinderEventQueueFailing",
    "EndpointBinderEventQueueUnusableMessages", "EndpointBinderSpotInterruptions",
    # DNS records: every name written and in sync, no conflict.
    "EndpointBinderRecordsMissing", "EndpointBinderRecordConflict", "EndpointBinderRecordsNotInSync",
}
OWNER_TAG = "endpointbinder.io/owner"
CONTROLLER_ID = "endpoint-binder"  # the run command's default --controller-id
THRESHOLD = re.compile(r"^(?P<base>.*?)\s*(>=|<=|==|!=|>|<)\s*-?[0-9.]+(e[+-]?[0-9]+)?\s*$", re.S)


def _die_with_parent():
    """Runs in the child before exec: SIGTERM when the test process dies (PR_SET_PDEATHSIG),
    so Prometheus never outlives a killed test."""
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)


def without_threshold(expr):
    """The expression an alert compares (its final comparison removed); absent(X) gives X."""
    expr = expr.strip()
    m = re.fullmatch(r"absent\((.*)\)", expr, re.S)
    if m:
        return m.group(1)
    m = THRESHOLD.match(expr)
    if not m:
        raise ValueError(f"no threshold comparison at the end of {expr!r}")
    return m.group("base")


class Prometheus:
    def __init__(self, workdir, metrics_port):
        self.port = harness.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.config = os.path.join(workdir, "prometheus.yml")
        with open(self.config, "w") as f:
            json.dump({  # JSON is YAML
                "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
                "rule_files": [obs.ALERTS],
                "scrape_configs": [{"job_name": "endpoint-binder",
                                    "static_configs": [{"targets": [f"127.0.0.1:{metrics_port}"]}]}],
            }, f, indent=2)
        self.log_path = os.path.join(workdir, "prometheus.log")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [obs.PROMETHEUS, f"--config.file={self.config}", f"--storage.tsdb.path={os.path.join(workdir, 'tsdb')}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--storage.tsdb.retention.time=1h"],
            stdout=self.log, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
        self.started = time.time()
        harness.wait_for(self._ready, 60, interval=0.2, what="prometheus /-/ready")

    def _ready(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"prometheus exited {self.proc.returncode}:\n{self.output()}")
        try:
            return harness.http_json("GET", self.url + "/-/ready", timeout=1)[0] == 200
        except OSError:
            return False

    def output(self):
        self.log.flush()
        with open(self.log_path) as f:
            return f.read()[-4000:]

    def api(self, path, **params):
        query = urllib.parse.urlencode(params, doseq=True)
        status, body = harness.http_json("GET", f"{self.url}/api/v1/{path}?{query}", timeout=30)
        if status != 200 or not isinstance(body, dict) or body.get("status") != "success":
            raise AssertionError(f"prometheus {path} {params}: {status} {body}")
        return body["data"]

    def query(self, expr):
        """Instant query: [(labels, value)]."""
        data = self.api("query", query=expr)
        if data["resultType"] == "scalar":
            return [({}, float(data["result"][1]))]
        return [(r["metric"], float(r["value"][1])) for r in data["result"]]

    def query_range(self, expr, start, end):
        data = self.api("query_range", query=expr, start=f"{start:.3f}", end=f"{end:.3f}", step="1")
        return [(r["metric"], [float(v) for _, v in r["values"]]) for r in data["result"]]

    def value(self, expr):
        result = self.query(expr)
        return result[0][1] if result else None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def instance_binding(name, arn, source_lines):
    """A TargetGroupBinding (YAML text) of instance targets whose source is `source_lines`."""
    return "\n".join([
        "apiVersion: endpointbinder.io/v1alpha1", "kind: TargetGroupBinding", "metadata:",
        f"  name: {name}", f"  namespace: {NS}", "spec:", f"  targetGroupARN: {arn}",
        "  targetType: instance", "  source:", *source_lines]) + "\n"


def binding_keys(result):
    return {(labels.get("namespace"), labels.get("name")) for labels, _ in result}


class DashboardAgainstPrometheus(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        for path in (harness.BINARY, obs.PROMETHEUS, obs.PROMTOOL):
            if not os.path.exists(path):
                raise AssertionError(f"{path} is missing (build the binary; Debian package prometheus)")
        cls.cleanups = []
        try:
            cls._start()
        except BaseException:
            cls._stop()
            raise

    @classmethod
    def _start(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="eb-observability-")
        cls.cleanups.append(cls.tmp.cleanup)
        manifests = os.path.join(cls.tmp.name, "manifests")
        os.mkdir(manifests)

        cls.emulator = harness.Emulator()
        cls.cleanups.append(cls.emulator.stop)
        cls.dns = harness.DnsServer()
        cls.cleanups.append(cls.dns.stop)

        emu = cls.emulator

        def claimed(name):
            return emu.create_target_group("obs-" + name, tags={OWNER_TAG: f"{CONTROLLER_ID}/{NS}/{name}"})

        drifting, steady, failing = claimed("drifting"), claimed("steady"), claimed("failing")
        conflicted = emu.create_target_group("obs-conflicted", tags={OWNER_TAG: "someone-else/obs/conflicted"})
        denied = emu.create_target_group("obs-denied")
        # Registered by hand: the source never lists it.
        emu.control("POST", "targets", {"arn": drifting, "targets": ["10.0.1.99"], "state": "healthy"})
        cls.dns.set("drifting.obs.test", a=["10.0.1.5", "10.0.1.6", "10.0.2.7"], ttl=2)
        cls.dns.set("failing.obs.test", mode="servfail")
        cls.dns.set("conflicted.obs.test", a=["10.0.4.1"], ttl=2)
        emu.control("POST", "faults", {"action": "DescribeTargetHealth", "throttleRate": 1, "remaining": 2})
        emu.control("POST", "faults", {"action": "AddTags", "errorRate": 1, "errorStatus": 403,
                                       "errorCode": "AccessDenied", "errorMessage": "injected by the test"})

        def write(name, text):
            with open(os.path.join(manifests, name + ".yaml"), "w") as f:
                f.write(text)

        write("drifting", harness.tg_binding("drifting", drifting, "drifting.obs.test", namespace=NS, policy={
            "deregistrationGracePeriod": "1h", "allowedCIDRs": "[10.0.1.0/24]"}))
        write("steady", harness.tg_binding("steady", steady, namespace=NS, static=["10.0.3.1", "10.0.3.2"]))
        write("failing", harness.tg_binding("failing", failing, "failing.obs.test", namespace=NS))
        write("conflicted", harness.tg_binding("conflicted", conflicted, "conflicted.obs.test", namespace=NS))
        write("denied", harness.tg_binding("denied", denied, namespace=NS, static=["10.0.5.1"]))
        write("broken", harness.tg_binding("broken", steady, "x.obs.test", namespace=NS).replace("hostname:", "hostnme:"))

        # Instance sources with the events queue.
        def instance_group(name):
            return emu.create_target_group("obs-" + name, port=80, target_type="instance", protocol="HTTP",
                                           tags={OWNER_TAG: f"{CONTROLLER_ID}/{NS}/{name}"})

        instances, asg = instance_group("instances"), instance_group("asg")
        cls.web_ids = emu.control("POST", "instances/launch", {"count": 2, "tags": {"role": "obs-web"}})["ids"]
        cls.asg_ids = emu.control("POST", "autoscaling-groups", {"name": "obs-asg", "desiredCapacity": 2,
                                                                 "maxSize": 4})["ids"]
        queue = emu.control("POST", "queues", {"name": "obs-events", "events": True})
        emu.control("POST", "faults", {"service": "ec2", "action": "DescribeInstances", "throttleRate": 1,
                                       "remaining": 1})
        write("instances", instance_binding("instances", instances, [
            "    ec2:", "      filters:", '        - name: "tag:role"', "          values: [obs-web]"]))
        write("asg", instance_binding("asg", asg, ["    autoScalingGroup:", "      name: obs-asg"]))
        # Names for the same instances in a private Route 53 zone (one throttled read).
        emu.control("POST", "route53/zones", {"name": "obs.internal", "id": "ZOBS1", "vpcs": [
            {"region": harness.REGION, "vpcId": "vpc-0123456789abcdef0"}]})
        emu.control("POST", "faults", {"service": "route53", "action": "ListResourceRecordSets",
                                       "throttleRate": 1, "remaining": 1})
        write("names", "\n".join([
            "apiVersion: endpointbinder.io/v1alpha1", "kind: DNSRecordBinding",
            "metadata:", "  name: names", f"  namespace: {NS}", "spec:", "  hostedZoneId: ZOBS1",
            "  source:", "    ec2:", "      filters:", '        - name: "tag:role"',
            "          values: [obs-web]", "  record:", "    nameFrom: instance-id"]) + "\n")

        cls.controller = harness.Controller(manifests, emu, cls.dns, extra_args=(
            "--instance-poll-interval", "1s", "--events-queue-url", queue["url"]))
        cls.cleanups.append(cls.controller.stop)
        cls.prom = Prometheus(cls.tmp.name, cls.controller.metrics_port)
        cls.cleanups.append(cls.prom.stop)

        p = cls.prom
        handled = 'endpointbinder_event_queue_messages_total{outcome="handled"}'
        harness.wait_for(lambda: emu.registered(instances) == set(cls.web_ids), 60, what="ec2 instances registered")
        before = harness.wait_for(lambda: p.value(handled) is not None and (p.value(handled),), 30,
                                  what="events queue scraped")[0]
        # A launch once Prometheus scrapes: its state-change events go through the queue.
        cls.web_ids += emu.control("POST", "instances/launch", {"count": 1, "tags": {"role": "obs-web"}})["ids"]
        drift = f'endpointbinder_binding_drift_targets{{namespace="{NS}", name="drifting"'
        expectations = {
            "drifting missing = 1": lambda: p.value(drift + ', type="missing"}') == 1,
            "drifting unexpected = 1": lambda: p.value(drift + ', type="unexpected"}') == 1,
            "steady fully registered": lambda: p.value(
                'endpointbinder_binding_targets{name="steady", state="registered"}') == 2
                and p.value('endpointbinder_binding_drift_targets{name="steady", type="missing"}') == 0,
            "failing SourceResolved=False": lambda: p.value(
                'endpointbinder_binding_condition{name="failing", condition="SourceResolved", status="false"}') == 1,
            "conflicted Conflict=True": lambda: p.value(
                'endpointbinder_binding_condition{name="conflicted", condition="Conflict", status="true"}') == 1,
            "manifest errors": lambda: p.value("endpointbinder_manifest_errors") == 1,
            "throttles": lambda: (p.value("sum(endpointbinder_aws_throttles_total)") or 0) >= 1,
            "AddTags refused": lambda: (p.value(
                'sum(endpointbinder_aws_requests_total{operation="AddTags", outcome!="success"})') or 0) >= 1,
            "denied reconciles fail": lambda: (p.value(
                'endpointbinder_reconcile_total{name="denied", result="error"}') or 0) >= 1,
            "instance targets registered": lambda: emu.registered(instances) == set(cls.web_ids)
                and emu.registered(asg) == set(cls.asg_ids),
            "instance inventory": lambda: p.value("endpointbinder_instance_inventory_sources") == 2
                and (p.value("endpointbinder_instance_inventory_instances") or 0) >= 5
                and (p.value("endpointbinder_instance_inventory_rounds_total") or 0) >= 2,
            "the launch's events handled": lambda: (p.value(handled) or 0) > before,
            "record names present": lambda: p.value(
                f'endpointbinder_record_binding_records{{namespace="{NS}", name="names", state="present"}}')
                == len(cls.web_ids)
                and (p.value('sum(endpointbinder_aws_throttles_total{operation="ListResourceRecordSets"})')
                     or 0) >= 1,
            "EC2 and Auto Scaling calls": lambda: (p.value(
                'sum(endpointbinder_aws_requests_total{service="autoscaling", outcome="success"})') or 0) >= 1
                and (p.value('endpointbinder_aws_throttles_total{operation="DescribeInstances"}') or 0) >= 1,
            "held WithinGracePeriod and NotAllowed": lambda: p.value(
                'endpointbinder_plan_held_operations{name="drifting", reason="WithinGracePeriod"}') == 1
                and p.value('endpointbinder_plan_held_operations{name="drifting", reason="NotAllowed"}') == 1,
        }
        for what, check in expectations.items():
            try:
                harness.wait_for(check, 90, interval=0.5, what=what)
            except AssertionError:
                sys.stderr.write(f"\n---- controller log ----\n{cls.controller.output()[-6000:]}\n")
                raise
        # Enough history for every 5s rate window and for alerts to be pending.
        time.sleep(6)
        cls.end = time.time()

    @classmethod
    def _stop(cls):
        for cleanup in reversed(cls.cleanups):
            try:
                cleanup()
            except Exception as e:  # keep stopping the others
                sys.stderr.write(f"cleanup failed: {e}\n")

    @classmethod
    def tearDownClass(cls):
        cls._stop()

    # ---- dashboard --------------------------------------------------------------------------

    def test_every_panel_query_returns_data(self):
        dashboard = obs.load_dashboard()
        queries = obs.panel_queries(dashboard)
        self.assertGreaterEqual(len(queries), 20)
        for title, ref, expr in queries:
            with self.subTest(panel=title, ref=ref):
                q = obs.substitute(expr, ALL)
                result = self.prom.query_range(q, self.prom.started, self.end)
                self.assertTrue(result, f"no series for {q}")
                finite = [v for _, values in result for v in values if math.isfinite(v)]
                self.assertTrue(finite, f"only NaN/Inf for {q}")
        sys.stderr.write(f"\n{len(queries)} panel queries evaluated\n")

    def test_drift_panels_show_the_induced_drift(self):
        dashboard = obs.load_dashboard()
        by_title = {p["title"]: p for p in obs.panels(dashboard)}
        seen = {}
        for title, drift_type in (("Missing targets per binding", "missing"),
                                  ("Unexpected targets per binding", "unexpected")):
            q = obs.substitute(by_title[title]["targets"][0]["expr"], ALL)
            values = {(labels["namespace"], labels["name"]): v for labels, v in self.prom.query(q)}
            self.assertEqual(1, values.get((NS, "drifting")), f"{title}: {values}")
            self.assertEqual(0, values.get((NS, "steady")), f"{title}: {values}")
            seen[drift_type] = values[(NS, "drifting")]
        # Selecting one binding narrows the panel to it, as the $binding variable does.
        only = obs.substitute(by_title["Missing targets per binding"]["targets"][0]["expr"],
                              {"job": ".*", "namespace": NS, "binding": "(drifting)"})
        self.assertEqual({(NS, "drifting")}, binding_keys(self.prom.query(only)))
        stat = obs.substitute(by_title["Bindings with drift"]["targets"][0]["expr"], ALL)
        self.assertGreaterEqual(self.prom.value(stat), 1)
        stat_steady = obs.substitute(by_title["Bindings with drift"]["targets"][0]["expr"],
                                     {"job": ".*", "namespace": NS, "binding": "(steady)"})
        self.assertEqual(0, self.prom.value(stat_steady), "or vector(0) shows 0, not 'No data'")
        sys.stderr.write(f"drift seen for {NS}/drifting: missing={seen['missing']:g} unexpected={seen['unexpected']:g}\n")

    def test_instance_source_panels_show_the_inventory_and_the_queue(self):
        dashboard = obs.load_dashboard()
        by_title = {p["title"]: p for p in obs.panels(dashboard)}

        def stat(title):
            return self.prom.value(obs.substitute(by_title[title]["targets"][0]["expr"], ALL))

        self.assertEqual(2, stat("Instance sources"), "the ec2 filter and the Auto Scaling group")
        self.assertGreaterEqual(stat("Instances held"), len(self.web_ids) + len(self.asg_ids))
        self.assertEqual(0, stat("Interrupted instances"))
        self.assertGreaterEqual(stat("Inventory rounds (1h)"), 2)
        self.assertGreaterEqual(stat("Events handled (1h)"), 1)
        calls = obs.substitute(by_title["EC2 and Auto Scaling calls"]["targets"][0]["expr"], ALL)
        operations = {(l["service"], l["operation"]) for l, _ in self.prom.query(calls)}
        self.assertTrue({("ec2", "DescribeInstances"), ("autoscaling", "DescribeAutoScalingGroups")} <= operations,
                        operations)
        rounds = obs.substitute(by_title["Inventory refreshes"]["targets"][0]["expr"], ALL)
        self.assertTrue(any(v > 0 for _, values in self.prom.query_range(rounds, self.prom.started, self.end)
                            for v in values), "rounds every second")

    def test_variable_queries_list_the_bindings(self):
        dashboard = obs.load_dashboard()
        found = {}
        for name, query in obs.variable_queries(dashboard):
            m = re.fullmatch(r"label_values\((.+),\s*(\w+)\)", query)
            self.assertIsNotNone(m, query)
            selector, label = obs.substitute(m.group(1), ALL), m.group(2)
            # What Grafana's Prometheus data source asks for label_values(selector, label).
            values = self.prom.api(f"label/{label}/values", **{"match[]": selector})
            found[name] = set(values)
        self.assertEqual({"endpoint-binder"}, found["job"])
        self.assertIn(NS, found["namespace"])
        self.assertTrue({"drifting", "steady", "failing", "conflicted", "instances", "asg"} <= found["binding"],
                        found["binding"])

    def test_matched_labels_exist_on_the_scraped_series(self):
        dashboard = obs.load_dashboard()
        exprs = [obs.substitute(e, ALL) for _, _, e in obs.panel_queries(dashboard)]
        exprs += [rule["expr"] for _, rule in obs.load_alert_rules()]
        checked = 0
        for expr in exprs:
            for name, matchers in obs.selectors(expr):
                series = self.prom.api("series", **{"match[]": name, "start": f"{self.prom.started:.3f}"})
                for label, (op, value) in matchers.items():
                    with self.subTest(series=name, label=label):
                        values = {s[label] for s in series if label in s}
                        self.assertTrue(values, f"no {name} series has a label {label!r}")
                        if op == "=":
                            self.assertIn(value, values)
                        elif op == "=~":
                            self.assertTrue(any(re.fullmatch(value, v) for v in values), f"{value!r} vs {values}")
                        checked += 1
        self.assertGreater(checked, 50)

    # ---- alerts -----------------------------------------------------------------------------

    def test_every_alert_expression(self):
        rules = obs.load_alert_rules()
        names = {n for n, _ in rules}
        self.assertEqual(set(EXPECTED_ACTIVE) | {"EndpointBinderNotReady"} | EXPECTED_QUIET, names,
                         "every alert must be classified here")
        evaluated = 0
        for name, rule in rules:
            with self.subTest(alert=name):
                full = self.prom.query(rule["expr"])
                if name in EXPECTED_ACTIVE:  # rates need a few scrapes of new failures first
                    full = harness.wait_for(lambda: self.prom.query(rule["expr"]), 30, interval=1,
                                            what=f"{name} expression returns series")
                base = self.prom.query(without_threshold(rule["expr"]))
                evaluated += 2
                self.assertTrue(base, f"the series {name} relies on are missing")
                if name in EXPECTED_QUIET:
                    self.assertEqual([], full, f"{name} would fire")
                elif name == "EndpointBinderNotReady":
                    keys = binding_keys(full)
                    self.assertTrue(NOT_READY_AT_LEAST <= keys, keys)
                    self.assertNotIn((NS, "steady"), keys)
                else:
                    identity, expected = EXPECTED_ACTIVE[name]
                    got = binding_keys(full) if identity == "binding" else {l.get(identity) for l, _ in full}
                    self.assertEqual(expected, got, full)
        # The unexpected target is within its grace period: the alert's expression subtracts it.
        unexpected = dict(rules)["EndpointBinderTargetsUnexpected"]["expr"]
        values = {(l["namespace"], l["name"]): v for l, v in self.prom.query(without_threshold(unexpected))}
        self.assertEqual(0, values[(NS, "drifting")])
        sys.stderr.write(f"{evaluated} alert expressions evaluated ({len(rules)} alerts, with and without threshold)\n")

    def test_prometheus_evaluates_the_rules_without_errors(self):
        def state():
            groups = self.prom.api("rules", type="alert")["groups"]
            return [r for g in groups for r in g["rules"]]

        rules = harness.wait_for(lambda: all(not r["lastEvaluation"].startswith("0001") for r in state()) and state(),
                                 20, what="every rule evaluated")
        self.assertEqual({n for n, _ in obs.load_alert_rules()}, {r["name"] for r in rules})
        for r in rules:
            with self.subTest(alert=r["name"]):
                self.assertEqual("ok", r["health"], r.get("lastError"))

        def active():
            alerts = self.prom.api("alerts")["alerts"]
            return {a["labels"]["alertname"] for a in alerts if a["state"] in ("pending", "firing")}

        expected = set(EXPECTED_ACTIVE) | {"EndpointBinderNotReady"}
        got = harness.wait_for(lambda: expected <= active() and active(), 20, what="alerts pending or firing")
        self.assertEqual(set(), got & EXPECTED_QUIET)

    def test_promtool_accepts_the_generated_config(self):
        r = subprocess.run([obs.PROMTOOL, "check", "config", self.prom.config], capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(0, r.returncode, r.stdout + r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
