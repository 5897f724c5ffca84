#!/usr/bin/python3
"""The emulator's SigV4 verifier against the official AWS signing test suite.

Every signed request of the suite (header and presigned-query forms) must verify at the
suite's timestamp, and must fail once its signature, a signed header or its secret changes.
The suite lives in ../shared/testdata/aws-signing-test-suite/v4 (EB_SHARED_DIR overrides
../shared); where it is absent the tests report themselves skipped.
Run: /usr/bin/python3 tests/emulator/sigv4_test.py
"""

import datetime
import json
import os
import sys
import unittest
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from awsemu import credentials, sigv4  # noqa: E402
from awsemu.errors import AwsError  # noqa: E402

SHARED = os.environ.get("EB_SHARED_DIR") or os.path.join(HERE, "..", "..", "..", "shared")
CORPUS = os.path.join(SHARED, "testdata", "aws-signing-test-suite", "v4")

# Cases whose expectations belong to a signer, not to a verifier of AWS's behaviour.
SIGNER_ONLY = {
    # The token is appended to the query string after signing; whether AWS accepts such a
    # presigned URL is not established, and the emulator requires signed query parameters.
    ("post-sts-header-after", "query"),
}


def parse_request(text):
    head, _, body = text.partition("\n\n")
    lines = head.split("\n")
    first = lines[0]
    method = first.split(" ", 1)[0]
    target = first[len(method) + 1:first.rfind(" ")]
    headers = []
    for line in lines[1:]:
        if line[:1] in (" ", "\t") and headers:
            name, value = headers[-1]
            headers[-1] = (name, value + "\n" + line)
            continue
        name, _, value = line.partition(":")
        headers.append((name, value))
    path, _, query = target.partition("?")
    return method, path, urllib.parse.parse_qsl(query, keep_blank_values=True), headers, \
        body.encode()


def cases():
    for name in sorted(os.listdir(CORPUS)):
        with open(os.path.join(CORPUS, name, "context.json"), encoding="utf-8") as handle:
            context = json.load(handle)
        if not context.get("normalize", True):
            continue  # S3-style unnormalized paths: not how ELB/STS canonicalize
        for kind in ("header", "query"):
            path = os.path.join(CORPUS, name, f"{kind}-signed-request.txt")
            if os.path.exists(path) and (name, kind) not in SIGNER_ONLY:
                with open(path, encoding="utf-8") as handle:
                    yield name, kind, context, parse_request(handle.read())


def verifier_for(context, secret=None):
    store = credentials.CredentialStore()
    creds = context["credentials"]
    store.add(credentials.Credential(creds["access_key_id"],
                                     secret or creds["secret_access_key"], creds.get("token")))
    return sigv4.Verifier(store)


def suite_time(context):
    return datetime.datetime.fromisoformat(context["timestamp"].replace("Z", "+00:00")).timestamp()


@unittest.skipUnless(os.path.isdir(CORPUS), f"signing test suite not found at {CORPUS}")
class SigningSuiteTest(unittest.TestCase):
    def test_every_signed_request_verifies(self):
        count = 0
        for name, kind, context, (method, path, query, headers, body) in cases():
            with self.subTest(case=name, form=kind):
                result = verifier_for(context).verify(method, path, query, headers, body,
                                                      suite_time(context))
                self.assertEqual(result.region, context["region"])
                self.assertEqual(result.service, context["service"])
                count += 1
        self.assertGreater(count, 50)

    def test_changed_requests_fail(self):
        for name, kind, context, (method, path, query, headers, body) in cases():
            now = suite_time(context)
            with self.subTest(case=name, form=kind, change="secret"):
                with self.assertRaises(AwsError) as caught:
                    verifier_for(context, secret="not-the-secret").verify(
                        method, path, query, headers, body, now)
                self.assertEqual(caught.exception.code, "SignatureDoesNotMatch")
            with self.subTest(case=name, form=kind, change="signed header"):
                changed = [(n, v + "x" if n.lower() == "x-amz-date" and kind == "header"
                            else v) for n, v in headers]
                changed_query = [(k, v + "x" if k == "X-Amz-Date" else v) for k, v in query]
                with self.assertRaises(AwsError):
                    verifier_for(context).verify(method, path, changed_query, changed, body, now)
            with self.subTest(case=name, form=kind, change="path"):
                with self.assertRaises(AwsError) as caught:
                    verifier_for(context).verify(method, path + "x", query, headers, body, now)
                self.assertEqual(caught.exception.code, "SignatureDoesNotMatch")
            with self.subTest(case=name, form=kind, change="clock"):
                with self.assertRaises(AwsError) as caught:
                    verifier_for(context).verify(method, path, query, headers, body,
                                                 now + 16 * 60)
                self.assertIn("Signature expired", caught.exception.message)


class VerifierErrorsTest(unittest.TestCase):
    CONTEXT = {"credentials": {"access_key_id": "AKIDEXAMPLE", "secret_access_key": "secret"}}

    def verify(self, headers, query=()):
        return verifier_for(self.CONTEXT).verify("GET", "/", list(query), headers, b"",
                                                 1440938160.0)

    def test_unsigned_is_none(self):
        self.assertIsNone(self.verify([("Host", "example.amazonaws.com")]))

    def test_incomplete(self):
        for authorization, expected in (
                ("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/"
                 "aws4_request, SignedHeaders=host;x-amz-date", "'Signature' parameter"),
                ("AWS4-HMAC-SHA256 SignedHeaders=host, Signature=00", "'Credential'"),
                ("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/"
                 "aws4_request, SignedHeaders=x-amz-date, Signature=00", "'Host'"),
                ("AWS3 Credential=x", "Unsupported AWS 'algorithm'")):
            with self.subTest(authorization=authorization):
                with self.assertRaises(AwsError) as caught:
                    self.verify([("Host", "example.amazonaws.com"),
                                 ("X-Amz-Date", "20150830T123600Z"),
                                 ("Authorization", authorization)])
                self.assertEqual(caught.exception.code, "IncompleteSignature")
                self.assertEqual(caught.exception.status, 403)
                self.assertIn(expected, caught.exception.message)

    def test_missing_date_and_unknown_key(self):
        authorization = ("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/"
                         "aws4_request, SignedHeaders=host, Signature=00")
        with self.assertRaises(AwsError) as caught:
            self.verify([("Host", "example.amazonaws.com"), ("Authorization", authorization)])
        self.assertIn("'X-Amz-Date' or a 'Date' header", caught.exception.message)
        with self.assertRaises(AwsError) as caught:
            self.verify([("Host", "example.amazonaws.com"), ("X-Amz-Date", "20150830T123600Z"),
                         ("Authorization", authorization.replace("AKIDEXAMPLE", "AKIDOTHER"))])
        self.assertEqual((caught.exception.code, caught.exception.status),
                         ("InvalidClientTokenId", 403))
        with self.assertRaises(AwsError) as caught:
            self.verify([("Host", "example.amazonaws.com"), ("X-Amz-Date", "20150831T123600Z"),
                         ("Authorization", authorization)])
        self.assertEqual(caught.exception.code, "SignatureDoesNotMatch")
        self.assertIn("Date in Credential scope does not match", caught.exception.message)


if __name__ == "__main__":
    unittest.main(verbosity=2)
