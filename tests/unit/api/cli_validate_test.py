#!/usr/bin/python3
"""`endpoint-binder validate` and `version`, driven through the real binary.

Exit codes: 0 valid, 1 invalid manifests (every diagnostic on stderr, one per line), 2 usage
errors; warnings never change the exit code. `--output json` prints
{valid, bindings, errors, warnings} on stdout.
Environment: EB_SOURCE_DIR (repo root), EB_BIN_DIR (directory of endpoint-binder).
"""
import json
import os
import re
import subprocess
import sys
import tempfile
import unittest

SOURCE = os.environ.get("EB_SOURCE_DIR", os.getcwd())
BINARY = os.path.join(os.environ.get("EB_BIN_DIR", os.path.join(SOURCE, "build", "bin")),
                      "endpoint-binder")
EXAMPLES = os.path.join("manifests", "examples")
INVALID = os.path.join("tests", "testdata", "manifests", "invalid")


def run(*args, cwd=SOURCE):
    return subprocess.run([BINARY, *args], capture_output=True, text=True, cwd=cwd, timeout=60)


def expected_diagnostics(case):
    """The diagnostics of an invalid corpus case, with paths as the CLI prints them."""
    with open(os.path.join(SOURCE, INVALID, case + ".expected"), encoding="utf-8") as f:
        lines = [l.rstrip("\n") for l in f if l.strip() and not l.startswith(("#", "returns:"))]
    return [re.sub(r"^([^:]+\.yaml)", lambda m: os.path.join(INVALID, m.group(1)), l)
            for l in lines]


class Validate(unittest.TestCase):
    def test_examples_are_valid_with_one_line_per_binding(self):
        result = run("validate", EXAMPLES)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stderr, "")
        lines = result.stdout.splitlines()
        self.assertEqual(lines[-1], "5 bindings valid (5 files)")
        self.assertEqual(len(lines), 6)
        self.assertIn("TargetGroupBinding factory-iot/opensearch-dashboards: dns "
                      "vpc-f-iot-dashboards-7kq2xw5nbc3hmf4tyr6ludvpaa.ap-northeast-1.es.amazonaws.com"
                      " -> targetgroup/f-iot-dashboards-tg (ip, port 443), generation ", result.stdout)
        self.assertIn("DNSRecordBinding platform/internal-names: ec2 1 filter -> hosted zone "
                      "Z04517273P2QJMRVBE6KD (A from tag:Name; PTR in Z07615331DW2RVXN8PQ4K)", result.stdout)

    def test_an_invalid_file_exits_1_with_the_diagnostic_on_stderr(self):
        path = os.path.join(INVALID, "percent-over-100.yaml")
        result = run("validate", path)
        self.assertEqual(result.returncode, 1)
        self.assertEqual(result.stderr,
                         path + ':9:32: spec.policy.maxDeregistrationsPerSync: "150%" exceeds 100%\n')
        self.assertEqual(result.stdout, "invalid: 1 error (0 other bindings valid)\n")

    def test_every_error_of_every_file_is_printed(self):
        cases = ["all-errors-reported", "multi-doc-one-bad", "syntax-error"]
        paths = [os.path.join(INVALID, c + ".yaml") for c in cases]
        result = run("validate", *paths, EXAMPLES)
        self.assertEqual(result.returncode, 1)
        want = [line for case in cases for line in expected_diagnostics(case)]
        self.assertEqual(result.stderr.splitlines(), want)
        self.assertEqual(result.stdout,
                         f"invalid: {len(want)} errors (7 other bindings valid)\n")

    def test_json_output_on_success(self):
        result = run("validate", "--output", "json", EXAMPLES)
        self.assertEqual(result.returncode, 0, result.stderr)
        output = json.loads(result.stdout)
        self.assertEqual(set(output), {"valid", "bindings", "errors", "warnings"})
        self.assertIs(output["valid"], True)
        self.assertEqual(output["errors"], [])
        self.assertEqual(output["warnings"], [])
        self.assertEqual(len(output["bindings"]), 5)
        for binding in output["bindings"]:
            self.assertEqual(set(binding), {"kind", "namespace", "name", "generation", "file"})
            self.assertRegex(binding["generation"], r"^[0-9a-f]{16}$")
            self.assertTrue(binding["file"].startswith(EXAMPLES + os.sep))
        kinds = sorted((b["kind"], b["namespace"], b["name"]) for b in output["bindings"])
        self.assertEqual(kinds, [
            ("DNSRecordBinding", "platform", "internal-names"),
            ("TargetGroupBinding", "api", "api-spot-fleet"),
            ("TargetGroupBinding", "factory-iot", "factory-historian"),
            ("TargetGroupBinding", "factory-iot", "opensearch-dashboards"),
            ("TargetGroupBinding", "web", "web-static-ip"),
        ])

    def test_json_output_on_failure_lists_errors_and_the_valid_bindings(self):
        path = os.path.join(INVALID, "multi-doc-one-bad.yaml")
        result = run("validate", "-o", "json", path)
        self.assertEqual(result.returncode, 1)
        self.assertEqual(result.stderr, "")
        output = json.loads(result.stdout)
        self.assertIs(output["valid"], False)
        self.assertEqual(output["errors"], [{
            "file": path, "line": 18, "column": 9, "path": "spec.port",
            "message": "0 is below the minimum 1"}])
        self.assertEqual([(b["kind"], b["name"]) for b in output["bindings"]],
                         [("TargetGroupBinding", "web"), ("DNSRecordBinding", "names")])

    def test_json_output_parses_even_for_invalid_utf8_and_control_characters(self):
        with tempfile.TemporaryDirectory() as directory:
            path = os.path.join(directory, "bytes.yaml")
            with open(path, "wb") as f:
                f.write(b'apiVersion: "\xff\xfe\\u0001\\"quoted\\""\n')
            result = run("validate", "--output", "json", path)
        self.assertEqual(result.returncode, 1)
        output = json.loads(result.stdout)
        self.assertIs(output["valid"], False)
        self.assertTrue(output["errors"])

    def test_generations_are_stable_across_runs_and_paths(self):
        first = json.loads(run("validate", "-o", "json", EXAMPLES).stdout)
        second = json.loads(run("validate", "-o", "json",
                                os.path.join(SOURCE, EXAMPLES, "ec2-route53.yaml")).stdout)
        generations = {b["name"]: b["generation"] for b in first["bindings"]}
        self.assertEqual(second["bindings"][0]["generation"], generations["internal-names"])
        self.assertEqual(len(set(generations.values())), 5)

    def test_a_single_label_dns_hostname_is_valid_with_a_warning(self):
        # Issue 16 item 4: DNS sources never apply resolv.conf's search domains, so a short
        # name that resolves in a shell may resolve to nothing in the controller.
        manifest = ("apiVersion: endpointbinder.io/v1alpha1\n"
                    "kind: TargetGroupBinding\n"
                    "metadata:\n"
                    "  name: short\n"
                    "spec:\n"
                    "  targetGroupARN: arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:"
                    "targetgroup/short/0123456789abcdef\n"
                    "  source:\n"
                    "    dns:\n"
                    "      hostname: OpenSearch\n")
        with tempfile.TemporaryDirectory() as directory:
            path = os.path.join(directory, "short.yaml")
            with open(path, "w", encoding="utf-8") as f:
                f.write(manifest)
            text = run("validate", path)
            output = json.loads(run("validate", "-o", "json", path).stdout)
        self.assertEqual(text.returncode, 0, text.stderr)
        self.assertTrue(text.stdout.endswith("1 binding valid (1 file), 1 warning\n"), text.stdout)
        message = ('"opensearch" is a single-label name: it is looked up exactly as written, '
                   "never with the search domains of /etc/resolv.conf, so it resolves only if "
                   'DNS has that very name; write the fully qualified name (e.g. '
                   '"opensearch.example.internal")')
        self.assertEqual(text.stderr,
                         f"warning: {path}:1:1: spec.source.dns.hostname: {message}\n")
        self.assertIs(output["valid"], True)
        self.assertEqual(output["errors"], [])
        self.assertEqual(output["warnings"], [{
            "file": path, "line": 1, "column": 1, "path": "spec.source.dns.hostname",
            "message": message}])

    def test_a_missing_path_is_an_error_not_a_crash(self):
        result = run("validate", "no/such/dir")
        self.assertEqual(result.returncode, 1)
        self.assertEqual(result.stderr, "no/such/dir: cannot read: No such file or directory\n")


class Usage(unittest.TestCase):
    def test_usage_errors_exit_2(self):
        for args in [(), ("validate",), ("validate", "--output", "yaml", EXAMPLES),
                     ("validate", "--no-such-flag", EXAMPLES), ("no-such-command",)]:
            with self.subTest(args=args):
                result = run(*args)
                self.assertEqual(result.returncode, 2, result.stdout + result.stderr)
                self.assertNotEqual(result.stderr, "")

    def test_help_everywhere_exits_0(self):
        for args, needle in [(("--help",), "validate"), (("validate", "--help"), "--output"),
                             (("version", "--help"), "version"), (("-h",), "Subcommands")]:
            with self.subTest(args=args):
                result = run(*args)
                self.assertEqual(result.returncode, 0, result.stderr)
                self.assertIn(needle, result.stdout)

    def test_version_reports_the_project_version_and_commit(self):
        with open(os.path.join(SOURCE, "CMakeLists.txt"), encoding="utf-8") as f:
            version = re.search(r"project\(endpoint-binder VERSION ([0-9.]+)", f.read()).group(1)
        result = run("version")
        self.assertEqual(result.returncode, 0)
        self.assertRegex(result.stdout,
                         r"^endpoint-binder " + re.escape(version) + r" \(commit [0-9a-z]+\)\n$")
        flag = run("--version")
        self.assertEqual(flag.returncode, 0)
        self.assertIn(version, flag.stdout)


if __name__ == "__main__":
    if not os.access(BINARY, os.X_OK):
        sys.exit(f"cli_validate_test: {BINARY} not built")
    unittest.main(verbosity=2)
