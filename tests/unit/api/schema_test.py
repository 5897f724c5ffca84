#!/usr/bin/python3
"""The JSON schema and the decoder agree.

1. Every example manifest (manifests/examples) and every valid corpus file is valid for both.
2. Every invalid corpus case is rejected by the decoder, and by the schema too unless it is
   listed in DECODER_ONLY (rules a JSON schema cannot express). A DECODER_ONLY case must be
   accepted by the schema, so the list stays exact.
3. Differential check of the value syntax: many candidate values per field, one document
   each, judged by both; the verdicts must match document by document.

YAML is loaded with the 1.2 core schema, as the decoder does (`on`, `yes` are strings).
Environment: EB_SOURCE_DIR (repo root), EB_BIN_DIR (directory of endpoint-binder).
"""
import json
import os
import re
import subprocess
import sys
import tempfile
import unittest

import jsonschema
import yaml

SOURCE = os.environ.get("EB_SOURCE_DIR", os.getcwd())
BINARY = os.path.join(os.environ.get("EB_BIN_DIR", os.path.join(SOURCE, "build", "bin")),
                      "endpoint-binder")
CORPUS = os.path.join(SOURCE, "tests", "testdata", "manifests")
EXAMPLES = os.path.join(SOURCE, "manifests", "examples")
SCHEMA_PATH = os.path.join(SOURCE, "api", "schema", "endpointbinder.schema.json")

# Invalid cases only the decoder can reject, and why a JSON schema cannot.
DECODER_ONLY = {
    "duplicate-key": "a YAML-level error: loaders keep one of the values, the schema sees one key",
    "duplicate-name-same-file": "cross-object: namespace/name is unique per kind",
    "duplicate-name-across-files": "cross-object, across files",
    "same-target-group": "cross-object: one binding per target group",
    "duration-grace-too-long": "duration arithmetic: grace periods are 0s..24h",
    "duration-refresh-too-short": "duration arithmetic: refresh intervals are 1s..1h",
    "duration-refresh-too-long": "duration arithmetic: refresh intervals are 1s..1h",
    "refresh-min-exceeds-max": "compares two fields' durations",
    "refresh-min-exceeds-default-max": "compares a field with another field's default",
    "cidr-host-bits": "bit arithmetic on the address and prefix",
    "static-outside-allowed-cidrs": "containment of one field's addresses in another's CIDRs",
    "availability-zone-other-region": "compares the zone with the region inside the ARN",
    "assume-role-other-account": "compares the account inside two ARNs",
}


class Yaml12Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 core schema resolution and no merge keys or timestamps."""


Yaml12Loader.yaml_implicit_resolvers = {}
for tag, pattern, first in [
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("tag:yaml.org,2002:int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", "-+0123456789"),
    ("tag:yaml.org,2002:float",
     r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
     r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$", "-+.0123456789"),
    ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
]:
    Yaml12Loader.add_implicit_resolver(tag, re.compile(pattern), list(first))


def _int12(loader, node):
    text = loader.construct_scalar(node)
    if text.startswith("0o"):
        return int(text[2:], 8)
    if text.startswith("0x"):
        return int(text[2:], 16)
    return int(text, 10)


def _float12(loader, node):
    text = loader.construct_scalar(node).lower()
    if text.endswith(".inf"):
        return float("-inf") if text.startswith("-") else float("inf")
    if text == ".nan":
        return float("nan")
    return float(text)


Yaml12Loader.add_constructor("tag:yaml.org,2002:int", _int12)
Yaml12Loader.add_constructor("tag:yaml.org,2002:float", _float12)
Yaml12Loader.add_constructor(
    "tag:yaml.org,2002:bool", lambda loader, node: loader.construct_scalar(node).lower() == "true")


def load_schema():
    with open(SCHEMA_PATH, encoding="utf-8") as f:
        schema = json.load(f)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


VALIDATOR = load_schema()


def yaml_files(path):
    if os.path.isfile(path):
        return [path]
    found = []
    for root, dirs, files in os.walk(path):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found += [os.path.join(root, f) for f in sorted(files)
                  if f.endswith((".yaml", ".yml")) and not f.startswith(".")]
    return found


def schema_errors(path):
    """Every schema (or YAML) problem of a file or directory, as text; empty when valid."""
    problems = []
    for file in yaml_files(path):
        try:
            with open(file, encoding="utf-8") as f:
                documents = list(yaml.load_all(f, Loader=Yaml12Loader))
        except yaml.YAMLError as e:
            problems.append(f"{file}: YAML: {str(e).splitlines()[0]}")
            continue
        for index, document in enumerate(documents):
            if document is None:
                continue
            for error in VALIDATOR.iter_errors(document):
                where = "/".join(str(p) for p in error.absolute_path)
                problems.append(f"{file} doc {index}: {where}: {error.message[:200]}")
    return problems


def decoder(path):
    result = subprocess.run([BINARY, "validate", "--output", "json", path],
                            capture_output=True, text=True, timeout=60)
    output = json.loads(result.stdout)
    if output["valid"] != (result.returncode == 0):
        raise AssertionError(f"{path}: exit code {result.returncode} disagrees with {output}")
    return output


def invalid_cases():
    directory = os.path.join(CORPUS, "invalid")
    cases = {}
    for entry in sorted(os.listdir(directory)):
        if entry.endswith(".expected"):
            continue
        name = entry[:-5] if entry.endswith(".yaml") else entry
        cases[name] = os.path.join(directory, entry)
    return cases


class CorpusAgreement(unittest.TestCase):
    def test_examples_are_valid_for_schema_and_decoder(self):
        files = yaml_files(EXAMPLES)
        self.assertEqual(len(files), 5)
        for file in files:
            with self.subTest(file=file):
                self.assertEqual(schema_errors(file), [])
                self.assertTrue(decoder(file)["valid"])

    def test_valid_corpus_is_valid_for_both(self):
        directory = os.path.join(CORPUS, "valid")
        for entry in sorted(os.listdir(directory)):
            path = os.path.join(directory, entry)
            with self.subTest(case=entry):
                self.assertEqual(schema_errors(path), [])
                result = decoder(path)
                self.assertTrue(result["valid"], result["errors"])
                self.assertGreater(len(result["bindings"]), 0)

    def test_invalid_corpus_is_rejected_by_both_except_decoder_only_rules(self):
        cases = invalid_cases()
        self.assertGreaterEqual(len(cases), 45)
        self.assertLessEqual(set(DECODER_ONLY), set(cases), "DECODER_ONLY names a missing case")
        for name, path in cases.items():
            with self.subTest(case=name):
                self.assertFalse(decoder(path)["valid"], "the decoder accepted it")
                problems = schema_errors(path)
                if name in DECODER_ONLY:
                    self.assertEqual(problems, [],
                                     "listed as decoder-only, but the schema rejects it too")
                else:
                    self.assertNotEqual(problems, [], "the schema accepted it")


class Raw(str):
    """A candidate written into YAML as is (a plain scalar), not as a quoted string."""


# Each field: a document template with {} where the candidate goes, and candidates that
# exercise the value syntax. Templates avoid the DECODER_ONLY rules (allowedCIDRs admits
# every address, durations stay inside their ranges unless malformed).
HEAD = """apiVersion: endpointbinder.io/v1alpha1
kind: TargetGroupBinding
metadata: {{name: "n{index}"}}
spec:
  targetGroupARN: arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup/t{index}/0123456789abcdef
"""
DNS_SOURCE = "  source: {{dns: {{hostname: web.example.com}}}}\n"
ANY_CIDR = "  policy: {{allowedCIDRs: [0.0.0.0/0, '::/0']}}\n"
FIELDS = {
    "hostname": (HEAD + "  source: {{dns: {{hostname: {value}}}}}\n", [
        "web.example.com", "WEB.Example.COM.", "localhost", "a", "1password.com", "a-b.c-d",
        "x" * 63 + ".com", "x" * 64 + ".com", ("a" * 63 + ".") * 3 + "b" * 61,
        ("a" * 63 + ".") * 3 + "b" * 62, ("a" * 63 + ".") * 3 + "b" * 61 + ".", "",
        "10.0.0.1", "10.0.0.1.", "1.2.3", "a.123", "a.1b", "fd00::1", "a_b.com", "a b.com",
        "-a.com", "a-.com", "a..com", ".a.com", "a.com..", "caf\u00e9.com", "a.com/x",
        "*.example.com", Raw("123"), Raw("true")]),
    "targetGroupARN": (HEAD.replace(
        "  targetGroupARN: arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup/t{index}/0123456789abcdef\n",
        "  targetGroupARN: {value}\n") + DNS_SOURCE, [
        "arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup/web/0123456789abcdef",
        "arn:aws-cn:elasticloadbalancing:cn-north-1:123456789012:targetgroup/W-1/0123456789abcdef",
        "arn:aws-us-gov:elasticloadbalancing:us-gov-west-1:123456789012:targetgroup/a/0123456789abcdef",
        "arn:aws-iso-f:elasticloadbalancing:us-isof-south-1:123456789012:targetgroup/a/0123456789abcdef",
        "arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup/" + "a" * 32 + "/0123456789abcdef",
        "arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup/" + "a" * 33 + "/0123456789abcdef",
        "arn:aws-iso-bb:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup/a/0123456789abcdef",
        "arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup//0123456789abcdef",
        "arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup/-a/0123456789abcdef",
        "arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup/a-/0123456789abcdef",
        "arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup/a_b/0123456789abcdef",
        "arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup/a/0123456789ABCDEF",
        "arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup/a/0123456789abcde",
        "arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup/a/0123456789abcdef/x",
        "arn:aws:elasticloadbalancing:ap-northeast-1:12345678901:targetgroup/a/0123456789abcdef",
        "arn:aws:elasticloadbalancing:ap-northeast:123456789012:targetgroup/a/0123456789abcdef",
        "arn:aws:elasticloadbalancing:AP-northeast-1:123456789012:targetgroup/a/0123456789abcdef",
        "arn:aws:elasticloadbalancing:a-b-1:123456789012:targetgroup/a/0123456789abcdef",
        "arn:aws:elb:ap-northeast-1:123456789012:targetgroup/a/0123456789abcdef",
        "arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:loadbalancer/app/a/0123456789abcdef",
        "arn:aws:elasticloadbalancing:ap-northeast-1:123456789012",
        "targetgroup/a/0123456789abcdef", ""]),
    "availabilityZone": (HEAD + "  availabilityZone: {value}\n" + DNS_SOURCE, [
        "all", "ap-northeast-1a", "ap-northeast-1d", "ap-northeast-1-tpe-1a", "ap-northeast-1-lax-1",
        "ALL", "ap-northeast-1", "apne1-az1", "tokyo", "ap-northeast-1A", "ap-northeast-1ab", ""]),
    "label key": (HEAD.replace("metadata: {{name: \"n{index}\"}}",
                               "metadata: {{name: \"n{index}\", labels: {{{value}: v}}}}") + DNS_SOURCE, [
        "team", "app.kubernetes.io/name", "A_b.c-D", "a", "x" * 63, "x" * 64,
        "p" * 63 + "." + "p" * 63 + "/n", "-team", "team-", "Example.com/x", "/x", "a/b/c",
        "example.com/", "a..b/c", "a b", "p" * 64 + "/n", ("p" * 62 + ".") * 4 + "p/n"]),
    "label value": (HEAD.replace("metadata: {{name: \"n{index}\"}}",
                                 "metadata: {{name: \"n{index}\", labels: {{k: {value}}}}}") + DNS_SOURCE, [
        "", "v", "1.2.3", "a_B-c", "x" * 63, "x" * 64, "a b", "-v", "v.", "a/b", Raw("7"), Raw("null")]),
    "name": (HEAD.replace("metadata: {{name: \"n{index}\"}}",
                          "metadata: {{name: {value}, namespace: \"ns{index}\"}}") + DNS_SOURCE, [
        "web", "a", "0", "web-1", "x" * 63, "x" * 64, "Web", "web_1", "-web", "web-", "web.1", ""]),
    "duration": (HEAD + DNS_SOURCE + "  policy: {{deregistrationGracePeriod: {value}}}\n", [
        "0s", "0ms", "500ms", "90s", "3m", "1h30m", "24h", "1h2m3s4ms", "05s", "", "90", "0",
        "5d", "5M", "1.5h", ".5s", "-30s", "+30s", "30m1h", "1s1s", "5ms5s", "3 m", "s", "m5",
        Raw("180"), Raw("1.5")]),
    "percent": (HEAD + DNS_SOURCE + "  policy: {{maxDeregistrationsPerSync: {value}}}\n", [
        "0%", "1%", "50%", "100%", "101%", "150%", "050%", "-5%", "5.5%", "50 %", "%", "5", "half",
        Raw("0"), Raw("5"), Raw("-1"), Raw("2147483647"), Raw("2147483648"), Raw("1.5"), Raw("true")]),
    "port": (HEAD + "  port: {value}\n" + DNS_SOURCE, [
        Raw("1"), Raw("443"), Raw("65535"), Raw("0"), Raw("65536"), Raw("-1"), Raw("0x1BB"),
        Raw("0o777"), Raw("99999999999999999999999"), Raw("44.5"), "443", Raw("null"), Raw("[443]")]),
    "static address": (HEAD + "  source: {{static: {{addresses: [{value}]}}}}\n" + ANY_CIDR, [
        "10.0.0.1", "0.0.0.0", "255.255.255.255", "fd00::1", "::", "::ffff:10.0.0.1",
        "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:1.2.3.4", "1::", "::1.2.3.4", "10.0.0.256", "10.0.0.01",
        "10.1", "1:2:3:4:5:6:7:8:9", "1::2::3", "fe80::1%eth0", "12345::", "::1.2.3.04", "",
        "example.com", Raw("10.1")]),
    "cidr": (HEAD + DNS_SOURCE + "  policy: {{allowedCIDRs: [{value}]}}\n", [
        "10.0.0.0/8", "0.0.0.0/0", "10.1.2.3/32", "fd00::/8", "::/0", "fd00::1/128",
        "10.0.0.0/33", "10.0.0.0/08", "10.0.0.0", "10.0.0.0/", "tokyo/8", "fd00::/129",
        "fd00::/-1", "10.0.0.0/8/8", ""]),
    "hostedZoneId": ("""apiVersion: endpointbinder.io/v1alpha1
kind: DNSRecordBinding
metadata: {{name: "n{index}"}}
spec:
  hostedZoneId: {value}
  source: {{autoScalingGroup: {{name: web}}}}
""", ["Z1", "Z0123456789ABCDEFGHIJ", "Z" + "A" * 32, "Z" + "A" * 33, "Z", "z1", "Z1a",
      "/hostedzone/Z1", ""]),
    "reverseHostedZoneId": ("""apiVersion: endpointbinder.io/v1alpha1
kind: DNSRecordBinding
metadata: {{name: "n{index}"}}
spec:
  hostedZoneId: Z1
  reverseHostedZoneId: {value}
  source: {{autoScalingGroup: {{name: web}}}}
""", ["Z1", "Z0REVERSE10IN", "Z" + "A" * 32, "Z" + "A" * 33, "Z", "z1", "/hostedzone/Z1", "",
      Raw("null"), Raw("1")]),
    "record policy": ("""apiVersion: endpointbinder.io/v1alpha1
kind: DNSRecordBinding
metadata: {{name: "n{index}"}}
spec:
  hostedZoneId: Z1
  source: {{autoScalingGroup: {{name: web}}}}
  policy: {value}
""", [Raw("{minRecords: 0}"), Raw("{minRecords: 2147483647}"), Raw("{minRecords: 2147483648}"),
      Raw("{minRecords: -1}"), Raw("{minRecords: '1'}"), Raw("{minRecords: 1.5}"),
      Raw("{maxDeletionsPerSync: 0}"), Raw("{maxDeletionsPerSync: 7}"),
      Raw("{maxDeletionsPerSync: '0%'}"), Raw("{maxDeletionsPerSync: '100%'}"),
      Raw("{maxDeletionsPerSync: '101%'}"), Raw("{maxDeletionsPerSync: '5'}"),
      Raw("{maxDeletionsPerSync: -1}"), Raw("{deletionPolicy: Retain}"),
      Raw("{deletionPolicy: Delete}"), Raw("{deletionPolicy: Deregister}"),
      Raw("{deletionPolicy: delete}"), Raw("{minTargets: 1}"),
      Raw("{maxDeregistrationsPerSync: 1}")]),
    "nameFrom": ("""apiVersion: endpointbinder.io/v1alpha1
kind: DNSRecordBinding
metadata: {{name: "n{index}"}}
spec:
  hostedZoneId: Z1
  source: {{autoScalingGroup: {{name: web}}}}
  record: {{nameFrom: {value}}}
""", ["instance-id", "tag:Name", "tag:a b", "tag:" + "k" * 128, "tag:" + "k" * 129,
      "tag:" + "\u00e9" * 128, "tag:", "Name", "instance", "tag:a\tb", ""]),
    "requestId": (HEAD + "  targetType: instance\n  source: {{spotFleet: {{requestId: {value}}}}}\n", [
        "sfr-0d4b0a3e-5c1f-4c9e-9a7b-2f6e8d1c3b5a", "sfr-123",
        "sfr-0D4B0A3E-5C1F-4C9E-9A7B-2F6E8D1C3B5A", "0d4b0a3e-5c1f-4c9e-9a7b-2f6e8d1c3b5a", ""]),
    "auto scaling group": (HEAD + "  targetType: instance\n  source: {{autoScalingGroup: {{name: {value}}}}}\n", [
        "web", "web asg #1", "g" * 255, "g" * 256, "\u00e9" * 255, "\u00e9" * 256, "", "a\tb"]),
    "ssmParameter": (HEAD + DNS_SOURCE +
                     "  notifications: [{{slackWebhookSecretRef: {{ssmParameter: {value}}}}}]\n", [
        "/endpoint-binder/slack", "/a", "/a.b_c-d/e", "/" + "a" * 1010, "/" + "a" * 1011,
        "", "/", "slack", "/a//b", "/a/", "/a b"]),
    "snsTopicARN": (HEAD + DNS_SOURCE + "  notifications: [{{snsTopicARN: {value}}}]\n", [
        "arn:aws:sns:ap-northeast-1:123456789012:ops", "arn:aws:sns:ap-northeast-1:123456789012:o_p-s.fifo",
        "arn:aws:sns:ap-northeast-1:123456789012:" + "t" * 256,
        "arn:aws:sns:ap-northeast-1:123456789012:" + "t" * 257, "arn:aws:sns:ap-northeast-1:123456789012:a.b",
        "arn:aws:sns:ap-northeast-1:123456789012:.fifo", "arn:aws:sqs:ap-northeast-1:123456789012:ops",
        "arn:aws:sns:ap-northeast-1:1234:ops", "ops", ""]),
    # Candidates stay in the template's account and partition (that rule is decoder-only).
    "assumeRoleARN": (HEAD + DNS_SOURCE + "  assumeRoleARN: {value}\n", [
        "arn:aws:iam::123456789012:role/eb", "arn:aws:iam::123456789012:role/a/b/c-d_e+f=g,h.i@j",
        "arn:aws:iam::123456789012:role/" + "r" * 64, "arn:aws:iam::123456789012:role/" + "r" * 65,
        "arn:aws:iam::123456789012:role/", "arn:aws:iam::123456789012:role//eb",
        "arn:aws:iam::123456789012:user/eb", "arn:aws:iam:ap-northeast-1:123456789012:role/eb",
        "arn:aws:sts::123456789012:role/eb", "arn:aws:iam::1234:role/eb",
        "arn:aws:iam::123456789012:role/e b", "arn:aws:iam::123456789012:role/eb/",
        "arn:aws:iam::123456789012:role/" + "p/" * 1010 + "eb", "eb", ""]),
    "externalId": (HEAD + DNS_SOURCE +
                   "  assumeRoleARN: arn:aws:iam::123456789012:role/eb\n  externalId: {value}\n", [
        "ab", "prod-7f3a", "a_b+c=d,e.f@g:h/i-j", "x" * 1224, "x" * 1225, "a", "",
        "with space", "tab\tin", "ümlaut"]),
}


class ValueSyntaxAgreement(unittest.TestCase):
    def test_schema_and_decoder_agree_on_every_candidate(self):
        for field, (template, candidates) in FIELDS.items():
            with self.subTest(field=field):
                self.check_field(template, candidates)

    def check_field(self, template, candidates):
        documents, starts, line = [], [], 1
        for index, candidate in enumerate(candidates):
            value = candidate if isinstance(candidate, Raw) else json.dumps(candidate)
            document = template.format(index=index, value=value)
            starts.append(line)
            documents.append(document)
            line += document.count("\n") + 1
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", encoding="utf-8",
                                         delete=False) as f:
            f.write("---\n".join(documents))
            path = f.name
        try:
            result = decoder(path)
            with open(path, encoding="utf-8") as f:
                parsed = list(yaml.load_all(f, Loader=Yaml12Loader))
        finally:
            os.unlink(path)
        self.assertEqual(len(parsed), len(candidates))
        rejected_by_decoder = set()
        for error in result["errors"]:
            document = max(i for i, start in enumerate(starts) if start <= error["line"])
            rejected_by_decoder.add(document)
        for index, candidate in enumerate(candidates):
            schema_ok = not list(VALIDATOR.iter_errors(parsed[index]))
            decoder_ok = index not in rejected_by_decoder
            self.assertEqual(schema_ok, decoder_ok,
                             f"candidate {candidate!r}: schema {'accepts' if schema_ok else 'rejects'},"
                             f" decoder {'accepts' if decoder_ok else 'rejects'}")
        # Both verdicts occur, so the check is not vacuous.
        self.assertTrue(0 < len(rejected_by_decoder) < len(candidates))


if __name__ == "__main__":
    if not os.access(BINARY, os.X_OK):
        sys.exit(f"schema_test: {BINARY} not built")
    unittest.main(verbosity=2)
