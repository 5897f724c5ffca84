#!/usr/bin/python3
"""`endpoint-binder get` and `describe` against a stand-in status API (the real binary, a fake
server): both kinds listed (target group bindings' table unchanged, record bindings in their
own table), `get KIND`, `-o json` as the server sent it, and `describe` finding a
DNSRecordBinding after the TargetGroupBinding lookup answers 404.
Environment: EB_BIN_DIR (directory of endpoint-binder). Run with /usr/bin/python3."""
import http.server
import json
import os
import subprocess
import threading
import unittest

SOURCE = os.environ.get("EB_SOURCE_DIR", os.getcwd())
BINARY = os.path.join(os.environ.get("EB_BIN_DIR", os.path.join(SOURCE, "build", "bin")), "endpoint-binder")
API = "/apis/endpointbinder.io/v1alpha1/"
NOW = "2026-12-04T17:00:00Z"

TGB = {"apiVersion": "endpointbinder.io/v1alpha1", "kind": "TargetGroupBinding",
       "metadata": {"name": "web", "namespace": "default", "generation": "0123456789abcdef",
                    "creationTimestamp": NOW},
       "spec": {"targetGroupARN": "arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup/web/0123456789abcdef"},
       "status": {"observedGeneration": "0123456789abcdef",
                  "conditions": [{"type": "Ready", "status": "True", "reason": "Converged", "message": "",
                                  "lastTransitionTime": NOW}],
                  "targets": {"desired": 2, "registered": 2, "healthy": 2, "unhealthy": 0, "draining": 0,
                              "initial": 0, "missing": 0, "unexpected": 0},
                  "lastError": "", "events": []}}
DRB = {"apiVersion": "endpointbinder.io/v1alpha1", "kind": "DNSRecordBinding",
       "metadata": {"name": "internal-names", "namespace": "platform", "generation": "fedcba9876543210",
                    "creationTimestamp": NOW},
       "spec": {"hostedZoneId": "Z04517273P2QJMRVBE6KD"},
       "status": {"observedGeneration": "fedcba9876543210",
                  "conditions": [{"type": "Ready", "status": "False", "reason": "Converging",
                                  "message": "1 names missing or pending", "lastTransitionTime": NOW},
                                 {"type": "Conflict", "status": "True", "reason": "SharedName",
                                  "message": "1 names not written", "lastTransitionTime": NOW},
                                 {"type": "InSync", "status": "False", "reason": "PENDING",
                                  "message": "Route 53 is propagating the last change", "lastTransitionTime": NOW}],
                  "records": {"desired": 3, "present": 2, "missing": 1, "unexpected": 0},
                  "lastError": "", "events": []}}


def listing(kind, items):
    # Keys in the order the server writes them, with spacing no client would produce.
    return json.dumps({"apiVersion": "endpointbinder.io/v1alpha1", "kind": kind + "List", "metadata": {},
                       "items": items}, indent=1)


class StatusApi(http.server.BaseHTTPRequestHandler):
    records = True  # serve the record binding

    def do_GET(self):
        self.server.paths.append(self.path)
        bodies = {API + "targetgroupbindings": listing("TargetGroupBinding", [TGB]),
                  API + "dnsrecordbindings": listing("DNSRecordBinding", [DRB] if self.server.records else []),
                  API + "targetgroupbindings/default/web": json.dumps(TGB),
                  API + "dnsrecordbindings/platform/internal-names": json.dumps(DRB)}
        body = bodies.get(self.path)
        status = 200 if body else 404
        if body is None:
            body = json.dumps({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                               "message": "not found", "reason": "NotFound", "code": 404})
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


class GetAndDescribe(unittest.TestCase):
    def setUp(self):
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), StatusApi)
        self.server.paths = []
        self.server.records = True
        thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        thread.start()
        self.addCleanup(self.server.server_close)
        self.addCleanup(self.server.shutdown)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def cli(self, *args):
        return subprocess.run([BINARY, *args, "--server", self.url], capture_output=True, text=True, timeout=30)

    def test_get_lists_both_kinds_in_their_own_tables(self):
        r = self.cli("get")
        self.assertEqual(0, r.returncode, r.stderr)
        lines = r.stdout.splitlines()
        self.assertRegex(lines[0], r"^NAMESPACE +NAME +READY +TARGETS +HEALTHY +DRIFT +LAST-SYNC +AGE$")
        self.assertRegex(lines[1], r"^default +web +True +2/2 +2 +- +<none> +\S+$")
        self.assertEqual("", lines[2])
        self.assertRegex(lines[3], r"^NAMESPACE +NAME +READY +NAMES +ZONE +DRIFT +INSYNC +CONFLICT +LAST-SYNC +AGE$")
        self.assertRegex(lines[4], r"^platform +internal-names +False +2/3 +Z04517273P2QJMRVBE6KD +1 +False +True "
                                   r"+<none> +\S+$")
        self.assertEqual(5, len(lines))
        # Without record bindings the output is the target group bindings' table alone.
        self.server.records = False
        r = self.cli("get")
        self.assertEqual(2, len(r.stdout.splitlines()), r.stdout)

    def test_get_one_kind_and_json(self):
        r = self.cli("get", "dnsrecordbindings")
        self.assertEqual(0, r.returncode, r.stderr)
        self.assertIn("internal-names", r.stdout)
        self.assertNotIn("TARGETS", r.stdout)
        self.assertEqual([API + "dnsrecordbindings", "/leader"], self.server.paths)
        # One kind: the server's list exactly as sent.
        r = self.cli("get", "targetgroupbindings", "-o", "json")
        self.assertEqual(listing("TargetGroupBinding", [TGB]) + "\n", r.stdout)
        # Both kinds: one List of every item.
        r = self.cli("get", "-o", "json")
        doc = json.loads(r.stdout)
        self.assertEqual("List", doc["kind"])
        self.assertEqual([TGB, DRB], doc["items"])
        r = self.cli("get", "widgets")
        self.assertNotEqual(0, r.returncode)
        self.assertIn("widgets", r.stderr)

    def test_describe_finds_a_record_binding(self):
        r = self.cli("describe", "internal-names", "-n", "platform")
        self.assertEqual(0, r.returncode, r.stderr)
        self.assertEqual([API + "targetgroupbindings/platform/internal-names",
                          API + "dnsrecordbindings/platform/internal-names"], self.server.paths)
        self.assertIn("Kind:                DNSRecordBinding\n", r.stdout)
        self.assertIn("  Hosted Zone Id:  Z04517273P2QJMRVBE6KD\n", r.stdout)
        self.assertRegex(r.stdout, r"  Records:\n    Desired:     3\n    Present:     2\n    Missing:     1\n"
                                   r"    Unexpected:  0\n")
        self.assertRegex(r.stdout, r"    InSync +False +PENDING +\S+ +Route 53 is propagating the last change\n")
        self.assertNotIn("Targets:", r.stdout)
        r = self.cli("describe", "platform/internal-names", "-o", "json")
        self.assertEqual(json.dumps(DRB) + "\n", r.stdout)
        # A target group binding is found first, without asking for records.
        self.server.paths.clear()
        r = self.cli("describe", "web")
        self.assertEqual(0, r.returncode, r.stderr)
        self.assertIn("  Targets:\n", r.stdout)
        self.assertEqual([API + "targetgroupbindings/default/web"], self.server.paths)
        # --kind asks one resource only.
        self.server.paths.clear()
        r = self.cli("describe", "--kind", "dnsrecordbinding", "web")
        self.assertEqual(1, r.returncode)
        self.assertEqual([API + "dnsrecordbindings/default/web"], self.server.paths)
        self.assertEqual("error: no binding default/web (HTTP 404)\n", r.stderr)

    def test_describe_unknown_binding(self):
        r = self.cli("describe", "nope")
        self.assertEqual(1, r.returncode)
        self.assertEqual("error: no binding default/nope (HTTP 404)\n", r.stderr)
        self.assertEqual("", r.stdout)


if __name__ == "__main__":
    unittest.main(verbosity=2)
