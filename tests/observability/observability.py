"""Shared by the observability tests: reads the Grafana dashboard, the alert rules and the metric
families that controller/runtime/metrics.cc registers, and extracts the PromQL in them.

Run with Debian's interpreter: /usr/bin/python3 (python3-yaml).
"""
import json
import os
import re

import yaml

ROOT = os.environ.get("EB_SOURCE_DIR") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DASHBOARD = os.path.join(ROOT, "deploy", "grafana", "endpoint-binder.json")
PROMETHEUS_DIR = os.path.join(ROOT, "deploy", "prometheus")
ALERTS = os.path.join(PROMETHEUS_DIR, "alerts.yaml")
ALERTS_TEST = os.path.join(PROMETHEUS_DIR, "alerts_test.yaml")
EXAMPLE_CONFIG = os.path.join(PROMETHEUS_DIR, "prometheus.example.yml")
METRICS_CC = os.path.join(ROOT, "controller", "runtime", "metrics.cc")
# Families registered elsewhere with prometheus-cpp's builders (.Name("...")).
EXTRA_METRICS_CC = [os.path.join(ROOT, "controller", "runtime", "notification_metrics.cc")]
PROMETHEUS = "/usr/bin/prometheus"
PROMTOOL = "/usr/bin/promtool"

# What a query may name besides the controller's own families: the series Prometheus adds.
PROMETHEUS_SERIES = {"up"}


def load_dashboard():
    with open(DASHBOARD) as f:
        return json.load(f)


def load_alert_rules():
    """[(alert name, rule dict)] of every alerting rule, in file order."""
    with open(ALERTS) as f:
        doc = yaml.safe_load(f)
    return [(rule["alert"], rule) for group in doc["groups"] for rule in group["rules"] if "alert" in rule]


def panels(dashboard):
    """Every panel that is not a row, rows' nested panels included."""
    out = []
    for p in dashboard["panels"]:
        if p.get("type") == "row":
            out.extend(p.get("panels", []))
        else:
            out.append(p)
    return out


def panel_queries(dashboard):
    """[(panel title, refId, expr)] of every panel query."""
    return [(p["title"], t["refId"], t["expr"]) for p in panels(dashboard) for t in p.get("targets", [])]


def variable_queries(dashboard):
    """[(variable name, query)] of the query variables."""
    out = []
    for v in dashboard["templating"]["list"]:
        if v["type"] == "query":
            q = v["query"]
            out.append((v["name"], q["query"] if isinstance(q, dict) else q))
    return out


def substitute(expr, values, rate_interval="5s"):
    """The query Grafana would send: template variables replaced by `values` (name -> regex),
    $__rate_interval / $__interval by fixed windows."""
    expr = expr.replace("$__rate_interval", rate_interval).replace("${__rate_interval}", rate_interval)
    expr = expr.replace("$__interval", "1s").replace("${__interval}", "1s")
    for name, value in values.items():
        expr = expr.replace("${%s}" % name, value).replace("$" + name, value)
    if "$" in expr:
        raise ValueError(f"unsubstituted variable in {expr!r}")
    return expr


def known_families():
    """{family name: kind} registered by metrics.cc: counters, gauges, histograms (BuildX), the
    per-binding families of its BindingCollector and the ProcessCollector's process_* families."""
    with open(METRICS_CC) as f:
        text = f.read()
    families = {}
    for kind, name in re.findall(r'(counterFamily|gaugeFamily|histogramFamily)\(\s*\*registry_,\s*"([a-z_:]+)"', text):
        families[name] = kind.replace("Family", "")
    for name in re.findall(r'singleValue\("(process_[a-z_]+)"', text):
        families[name] = "process"
    # Per-binding families, rendered at scrape time from constants (kFooName = "...").
    for name in re.findall(r'constexpr const char\* k\w+Name =\s*"(endpointbinder_[a-z_:]+)"', text):
        families[name] = "counter" if name.endswith("_total") else "gauge"
    for path in EXTRA_METRICS_CC:
        with open(path) as f:
            for kind, name in re.findall(r'Build(Counter|Gauge|Histogram)\(\)\s*\.Name\("([a-z_:]+)"\)', f.read()):
                families[name] = kind.lower()
    return families


def known_series_names():
    """Every series name the controller exposes (histograms as _bucket/_sum/_count)."""
    names = set()
    for name, kind in known_families().items():
        if kind == "histogram":
            names.update({name + "_bucket", name + "_sum", name + "_count"})
        else:
            names.add(name)
    return names


# Words of PromQL that look like identifiers but name no series.
_PROMQL_WORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool",
    "offset", "sum", "min", "max", "avg", "count", "stddev", "stdvar", "topk", "bottomk", "quantile",
    "count_values", "group", "inf", "nan",
}


_GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)$")


def selectors(expr):
    """[(series name, {label: (op, value)})] of every series selector in `expr`."""
    out = []
    # Drop string literals first so that label values are never taken for names.
    for m in re.finditer(r'(?<![A-Za-z0-9_:.$])([A-Za-z_:][A-Za-z0-9_:]*)\s*(\{([^}]*)\})?', _blank_strings(expr)):
        name, has_braces = m.group(1), m.group(2)
        if name.lower() in _PROMQL_WORDS:
            continue
        rest = expr[m.end():].lstrip()
        if rest.startswith("("):  # a function call
            continue
        before = expr[:m.start()].rstrip()
        if _GROUPING.search(before) or _inside_grouping(expr, m.start()):
            continue
        matchers = {}
        if has_braces:
            raw = expr[m.start(2) + 1:m.end(2) - 1]
            for lm in re.finditer(r'([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"', raw):
                matchers[lm.group(1)] = (lm.group(2), lm.group(3))
        out.append((name, matchers))
    return out


def _blank_strings(expr):
    return re.sub(r'"(?:[^"\\]|\\.)*"', lambda m: '"' + " " * (len(m.group(0)) - 2) + '"', expr)


def _inside_grouping(expr, pos):
    """True when `pos` is inside the parenthesised label list of by/without/on/ignoring/group_*."""
    depth_start = expr.rfind("(", 0, pos)
    if depth_start < 0 or ")" in expr[depth_start:pos]:
        return False
    return bool(_GROUPING.search(expr[:depth_start].rstrip()))
