"""Quick checks of the monitoring artefacts, with no controller running:

- deploy/prometheus: `promtool check rules`, `promtool test rules` (the unit tests in
  alerts_test.yaml), `promtool check config` of the example scrape config; every alert has a
  severity, a summary/description/runbook naming its binding, a unit test where it fires and
  one where it must not, and its firing test really depends on its expression (mutation);
- deploy/grafana/endpoint-binder.json: importable Grafana 10+ structure (schemaVersion,
  __inputs/__requires, datasource variable used everywhere, binding variable multi + all, no
  overlapping panels), drift in the first row, and every query parses (promtool) and names only
  series the controller exports (controller/runtime/metrics.cc) or Prometheus adds.

The queries' results against a real Prometheus scraping the real controller are checked by
dashboard_prometheus_test.py. Run with /usr/bin/python3.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import observability as obs  # noqa: E402

SEVERITIES = {"critical", "warning", "info"}
# Families whose series are per binding (labels namespace and name).
BINDING_FAMILIES = {
    "endpointbinder_reconcile_total", "endpointbinder_reconcile_errors_total", "endpointbinder_binding_targets",
    "endpointbinder_binding_drift_targets", "endpointbinder_plan_operations_total",
    "endpointbinder_plan_held_operations", "endpointbinder_binding_last_successful_sync_timestamp_seconds",
    "endpointbinder_binding_condition",
    # DNSRecordBindings: per binding as well, so filtered and named the same way.
    "endpointbinder_record_binding_records", "endpointbinder_record_binding_condition",
}


def promtool(*args, cwd=None):
    return subprocess.run([obs.PROMTOOL, *args], capture_output=True, text=True, timeout=120, cwd=cwd)


class PrometheusRules(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.path.exists(obs.PROMTOOL):
            raise unittest.SkipTest(f"{obs.PROMTOOL} not installed (Debian package prometheus)")
        cls.rules = obs.load_alert_rules()
        with open(obs.ALERTS_TEST) as f:
            cls.unit_tests = yaml.safe_load(f)

    def test_promtool_check_rules(self):
        r = promtool("check", "rules", obs.ALERTS)
        self.assertEqual(0, r.returncode, r.stdout + r.stderr)
        self.assertIn(f"SUCCESS: {len(self.rules)} rules found", r.stdout)

    def test_promtool_unit_tests_pass(self):
        r = promtool("test", "rules", os.path.basename(obs.ALERTS_TEST), cwd=obs.PROMETHEUS_DIR)
        self.assertEqual(0, r.returncode, r.stdout + r.stderr)
        self.assertIn("SUCCESS", r.stdout)

    def test_example_scrape_config_is_valid_and_loads_the_rules(self):
        r = promtool("check", "config", obs.EXAMPLE_CONFIG)
        self.assertEqual(0, r.returncode, r.stdout + r.stderr)
        with open(obs.EXAMPLE_CONFIG) as f:
            config = yaml.safe_load(f)
        self.assertEqual(["alerts.yaml"], config["rule_files"])
        jobs = [j["job_name"] for j in config["scrape_configs"]]
        self.assertIn("endpoint-binder", jobs, "alerts.yaml's availability alerts select this job name")
        for rule_name, rule in self.rules:
            if "up{" in rule["expr"]:
                self.assertIn('job="endpoint-binder"', rule["expr"], rule_name)

    def test_alerts_are_labelled_and_annotated(self):
        names = [name for name, _ in self.rules]
        self.assertEqual(len(names), len(set(names)), "duplicate alert names")
        for name, rule in self.rules:
            with self.subTest(alert=name):
                self.assertTrue(name.startswith("EndpointBinder"))
                self.assertIn(rule["labels"]["severity"], SEVERITIES)
                self.assertTrue({"summary", "description", "runbook"} <= set(rule["annotations"]))
                self.assertIn("for", rule, "every alert waits before firing")
                families = {n for n, _ in obs.selectors(rule["expr"])}
                if families & BINDING_FAMILIES:
                    # Per-binding alerts name the binding everywhere a human reads it.
                    for key in ("summary", "description", "runbook"):
                        text = rule["annotations"][key]
                        self.assertIn("{{ $labels.namespace }}/{{ $labels.name }}", text, key)

    def test_every_alert_has_a_firing_and_a_quiet_unit_test(self):
        fires, quiet = set(), set()
        for case in self.unit_tests["tests"]:
            for check in case.get("alert_rule_test", []):
                (fires if check.get("exp_alerts") else quiet).add(check["alertname"])
        for name, _ in self.rules:
            with self.subTest(alert=name):
                self.assertIn(name, fires, "no unit test where it fires")
                self.assertIn(name, quiet, "no unit test where it must not fire")
        self.assertEqual(set(), (fires | quiet) - {n for n, _ in self.rules}, "tests of unknown alerts")

    def test_unit_tests_fail_when_an_alert_can_never_fire(self):
        """Mutation: each alert's expression replaced by one that never matches must break the
        unit tests, so every firing case really exercises its expression."""
        with open(obs.ALERTS) as f:
            original = yaml.safe_load(f)
        with tempfile.TemporaryDirectory(prefix="eb-alerts-mutation-") as tmp:
            shutil.copy(obs.ALERTS_TEST, tmp)
            for name, _ in self.rules:
                with self.subTest(alert=name):
                    mutated = yaml.safe_load(yaml.safe_dump(original))
                    for group in mutated["groups"]:
                        for rule in group["rules"]:
                            if rule.get("alert") == name:
                                rule["expr"] = "vector(1) > 2"
                    with open(os.path.join(tmp, "alerts.yaml"), "w") as f:
                        yaml.safe_dump(mutated, f)
                    r = promtool("test", "rules", os.path.basename(obs.ALERTS_TEST), cwd=tmp)
                    self.assertNotEqual(0, r.returncode, "unit tests pass without the alert's expression")
                    self.assertIn(name, r.stdout + r.stderr)

    def test_alert_expressions_name_exported_series(self):
        known = obs.known_series_names() | obs.PROMETHEUS_SERIES
        for name, rule in self.rules:
            with self.subTest(alert=name):
                used = {n for n, _ in obs.selectors(rule["expr"])}
                self.assertTrue(used, "no series found in the expression")
                self.assertEqual(set(), used - known, "series the controller does not export")


class GrafanaDashboard(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = obs.load_dashboard()
        cls.panels = obs.panels(cls.d)
        cls.variables = {v["name"]: v for v in cls.d["templating"]["list"]}

    def test_importable_grafana_10_dashboard(self):
        d = self.d
        self.assertGreaterEqual(d["schemaVersion"], 38)
        self.assertIsNone(d["id"], "exported for sharing: no database id")
        self.assertRegex(d["uid"], r"^[a-zA-Z0-9_-]{1,40}$")
        self.assertTrue(d["title"])
        inputs = d["__inputs"]
        self.assertEqual([("DS_PROMETHEUS", "datasource", "prometheus")],
                         [(i["name"], i["type"], i["pluginId"]) for i in inputs])
        requires = {(r["type"], r["id"]): r for r in d["__requires"]}
        self.assertIn(("datasource", "prometheus"), requires)
        grafana = requires[("grafana", "grafana")]
        self.assertGreaterEqual(int(grafana["version"].split(".")[0]), 10)
        for panel_type in {p["type"] for p in self.panels}:
            self.assertIn(("panel", panel_type), requires, f"__requires lacks panel {panel_type}")

    def test_datasource_variable_is_used_everywhere(self):
        ds = self.variables["datasource"]
        self.assertEqual(("datasource", "prometheus"), (ds["type"], ds["query"]))
        self.assertEqual("${DS_PROMETHEUS}", ds["current"]["value"], "import picks the data source")
        expected = {"type": "prometheus", "uid": "${datasource}"}
        for p in self.panels:
            with self.subTest(panel=p["title"]):
                self.assertEqual(expected, p["datasource"])
                self.assertTrue(p["targets"])
                for t in p["targets"]:
                    self.assertEqual(expected, t["datasource"])
        for name, v in self.variables.items():
            if v["type"] == "query":
                self.assertEqual(expected, v["datasource"], name)
        with open(obs.DASHBOARD) as f:
            text = f.read()
        self.assertNotRegex(text, r'"uid":\s*"(?!\$\{datasource\}|-- Grafana --|endpoint-binder")',
                            "a hard-coded data source uid")

    def test_binding_variables(self):
        for name in ("job", "namespace", "binding"):
            v = self.variables[name]
            with self.subTest(variable=name):
                self.assertEqual("query", v["type"])
                self.assertTrue(v["multi"] and v["includeAll"])
                self.assertEqual(".*", v["allValue"])
                self.assertEqual(v["definition"], v["query"]["query"])
                self.assertRegex(v["definition"], r"^label_values\(")
        # Over a per-binding family whose series exist from the moment a manifest loads.
        for name, label in (("namespace", "namespace"), ("binding", "name")):
            m = re.fullmatch(r"label_values\((\w+)\{(.*)\}, (\w+)\)", self.variables[name]["definition"])
            self.assertIsNotNone(m, name)
            self.assertIn(m.group(1), BINDING_FAMILIES)
            self.assertEqual(label, m.group(3))
        self.assertIn('namespace=~"$namespace"', self.variables["binding"]["definition"])
        order = [v["name"] for v in self.d["templating"]["list"]]
        self.assertLess(order.index("namespace"), order.index("binding"), "binding depends on namespace")

    def test_layout(self):
        ids = [p["id"] for p in self.d["panels"]]
        self.assertEqual(len(ids), len(set(ids)), "duplicate panel ids")
        cells = {}
        for p in self.d["panels"]:
            g = p["gridPos"]
            with self.subTest(panel=p["title"]):
                self.assertTrue(p["title"])
                self.assertLessEqual(g["x"] + g["w"], 24)
                self.assertGreater(g["w"], 0)
                self.assertGreater(g["h"], 0)
                if p["type"] != "row":
                    self.assertTrue(p.get("description"), "every panel explains itself")
                for x in range(g["x"], g["x"] + g["w"]):
                    for y in range(g["y"], g["y"] + g["h"]):
                        self.assertNotIn((x, y), cells, f"overlaps {cells.get((x, y))}")
                        cells[(x, y)] = p["title"]

    def test_first_row_answers_is_anything_drifting(self):
        top = self.d["panels"]
        self.assertEqual("row", top[0]["type"])
        self.assertIn("drift", top[0]["title"].lower())
        first_row = []
        for p in top[1:]:
            if p["type"] == "row":
                break
            first_row.append(p)
        exprs = [(p["type"], t["expr"]) for p in first_row for t in p["targets"]]
        drift_stat = [e for kind, e in exprs if kind == "stat" and "endpointbinder_binding_drift_targets" in e]
        self.assertTrue(drift_stat, "a stat of bindings with drift")
        for drift_type in ("missing", "unexpected"):
            self.assertTrue(any(kind == "timeseries" and f'type="{drift_type}"' in e for kind, e in exprs),
                            f"{drift_type} targets per binding over time")

    def test_queries_use_exported_series_and_variables(self):
        known = obs.known_series_names() | obs.PROMETHEUS_SERIES
        queries = obs.panel_queries(self.d)
        self.assertGreaterEqual(len(queries), 20)
        for title, ref, expr in queries:
            with self.subTest(panel=title, ref=ref):
                found = obs.selectors(expr)
                self.assertTrue(found)
                for name, matchers in found:
                    self.assertIn(name, known)
                    self.assertEqual(("=~", "$job"), matchers.get("job"), f"{name} is not filtered by $job")
                    family = re.sub(r"_(bucket|sum|count)$", "", name)
                    if family in BINDING_FAMILIES:
                        self.assertEqual(("=~", "$namespace"), matchers.get("namespace"), name)
                        self.assertEqual(("=~", "$binding"), matchers.get("name"), name)

    def test_queries_parse(self):
        """Every panel and variable query, variables substituted as Grafana would, is valid
        PromQL: promtool parses them as recording rules."""
        values = {"job": "endpoint-binder", "namespace": ".*", "binding": ".*"}
        rules = [{"record": f"dashboard:query_{i}", "expr": obs.substitute(expr, values)}
                 for i, (_, _, expr) in enumerate(obs.panel_queries(self.d))]
        for name, query in obs.variable_queries(self.d):
            m = re.fullmatch(r"label_values\((.+),\s*(\w+)\)", query)
            self.assertIsNotNone(m, query)
            rules.append({"record": f"dashboard:variable_{name}", "expr": obs.substitute(m.group(1), values)})
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", prefix="eb-dashboard-") as f:
            yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}, f)
            f.flush()
            r = promtool("check", "rules", f.name)
        self.assertEqual(0, r.returncode, r.stdout + r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
