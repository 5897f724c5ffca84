#!/usr/bin/python3
"""Conformance of the emulator's S3 (ListObjectsV2 and GetObject, path-style), driven by boto3
so every answer and error is parsed by botocore as for real AWS: prefix filtering, UTF-8 key
order, paging by continuation token and max-keys (boto3's paginator), KeyCount, quoted MD5
ETags, encoding-type=url, GetObject bodies and ETag headers, NoSuchBucket / NoSuchKey /
AccessDenied in S3's <Error> form, x-amz-content-sha256 checked against the payload (and
UNSIGNED-PAYLOAD accepted), SlowDown on a throttle fault, the request log and the control API.
Run: /usr/bin/python3 tests/emulator/s3_conformance_test.py
"""

import hashlib
import os
import sys
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import botocore.exceptions  # noqa: E402
from botocore.auth import SigV4Auth  # noqa: E402
from botocore.awsrequest import AWSRequest  # noqa: E402
from botocore.config import Config  # noqa: E402
from botocore.credentials import Credentials  # noqa: E402

from awsemu.harness import EmulatorProcess  # noqa: E402


def setUpModule():
    global EMULATOR
    EMULATOR = EmulatorProcess("--no-throttle").start()


def tearDownModule():
    EMULATOR.stop()


class S3TestCase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.emu = EMULATOR
        import boto3
        cls.s3 = boto3.client(
            "s3", endpoint_url=cls.emu.url, region_name="eu-west-1", aws_access_key_id="test",
            aws_secret_access_key="test",
            config=Config(s3={"addressing_style": "path"},
                          retries={"total_max_attempts": 1, "mode": "standard"}))

    @classmethod
    def tearDownClass(cls):
        cls.s3.close()

    def setUp(self):
        self.emu.reset()
        self.emu.post("/_emulator/s3/buckets", {"name": "manifests"})

    def put(self, key, body, bucket="manifests"):
        return self.emu.post("/_emulator/s3/objects", {"bucket": bucket, "key": key,
                                                       "body": body})

    def code(self, ctx):
        return ctx.exception.response["Error"]["Code"]

    def status(self, ctx):
        return ctx.exception.response["ResponseMetadata"]["HTTPStatusCode"]

    def signed(self, url, payload_hash):
        """A SigV4-signed GET carrying `payload_hash` as x-amz-content-sha256."""
        request = AWSRequest(method="GET", url=url, headers={"x-amz-content-sha256": payload_hash})
        SigV4Auth(Credentials("test", "test"), "s3", "eu-west-1").add_auth(request)
        prepared = request.prepare()
        req = urllib.request.Request(url, headers=dict(prepared.headers), method="GET")
        try:
            with urllib.request.urlopen(req, timeout=10) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()


class ListObjectsV2Test(S3TestCase):
    def test_prefix_order_etags_and_key_count(self):
        self.put("prod/b.yaml", "b: 1\n")
        self.put("prod/a.yaml", "a: 1\n")
        self.put("prod/Z.yaml", "z\n")
        self.put("staging/a.yaml", "other\n")
        answer = self.s3.list_objects_v2(Bucket="manifests", Prefix="prod/")
        self.assertEqual([o["Key"] for o in answer["Contents"]],
                         ["prod/Z.yaml", "prod/a.yaml", "prod/b.yaml"])  # UTF-8 binary order
        self.assertEqual(answer["KeyCount"], 3)
        self.assertFalse(answer["IsTruncated"])
        self.assertEqual(answer["Prefix"], "prod/")
        first = answer["Contents"][1]
        self.assertEqual(first["ETag"], '"' + hashlib.md5(b"a: 1\n").hexdigest() + '"')
        self.assertEqual(first["Size"], 5)
        self.assertEqual(first["StorageClass"], "STANDARD")

    def test_empty_prefix_lists_nothing_without_contents(self):
        answer = self.s3.list_objects_v2(Bucket="manifests", Prefix="nothing/")
        self.assertEqual(answer["KeyCount"], 0)
        self.assertNotIn("Contents", answer)

    def test_paging_by_continuation_token(self):
        for i in range(25):
            self.put(f"p/{i:03d}.yaml", str(i))
        first = self.s3.list_objects_v2(Bucket="manifests", Prefix="p/", MaxKeys=10)
        self.assertTrue(first["IsTruncated"])
        self.assertEqual(first["KeyCount"], 10)
        self.assertEqual(first["MaxKeys"], 10)
        second = self.s3.list_objects_v2(Bucket="manifests", Prefix="p/", MaxKeys=10,
                                         ContinuationToken=first["NextContinuationToken"])
        self.assertEqual(second["ContinuationToken"], first["NextContinuationToken"])
        self.assertEqual(second["Contents"][0]["Key"], "p/010.yaml")
        pages = self.s3.get_paginator("list_objects_v2").paginate(
            Bucket="manifests", Prefix="p/", PaginationConfig={"PageSize": 7})
        keys = [o["Key"] for page in pages for o in page.get("Contents", [])]
        self.assertEqual(keys, [f"p/{i:03d}.yaml" for i in range(25)])

    def test_max_keys_is_capped_at_1000_and_validated(self):
        self.put("a.yaml", "a")
        self.assertEqual(self.s3.list_objects_v2(Bucket="manifests", MaxKeys=5000)["MaxKeys"],
                         1000)
        status, body = self.signed(self.emu.url + "/manifests?list-type=2&max-keys=x",
                                   hashlib.sha256(b"").hexdigest())
        self.assertEqual(status, 400)
        self.assertIn(b"<Code>InvalidArgument</Code>", body)

    def test_encoding_type_url_round_trips_odd_keys(self):
        self.put("dir/a b+c.yaml", "x")
        answer = self.s3.list_objects_v2(Bucket="manifests", Prefix="dir/")  # boto3 asks url
        self.assertEqual([o["Key"] for o in answer["Contents"]], ["dir/a b+c.yaml"])
        status, body = self.signed(self.emu.url + "/manifests?encoding-type=url&list-type=2",
                                   hashlib.sha256(b"").hexdigest())
        self.assertEqual(status, 200)
        self.assertIn(b"<Key>dir/a%20b%2Bc.yaml</Key>", body)

    def test_no_such_bucket(self):
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            self.s3.list_objects_v2(Bucket="missing-bucket")
        self.assertEqual(self.code(ctx), "NoSuchBucket")
        self.assertEqual(self.status(ctx), 404)
        self.assertTrue(ctx.exception.response["ResponseMetadata"]["RequestId"])


class GetObjectTest(S3TestCase):
    def test_body_and_etag(self):
        put = self.put("prod/web.yaml", "kind: TargetGroupBinding\n")
        answer = self.s3.get_object(Bucket="manifests", Key="prod/web.yaml")
        self.assertEqual(answer["Body"].read(), b"kind: TargetGroupBinding\n")
        self.assertEqual(answer["ETag"], put["etag"])
        self.assertEqual(answer["ContentLength"], 25)
        self.assertIsNotNone(answer["LastModified"])

    def test_etag_changes_with_the_content_only(self):
        first = self.put("a.yaml", "one")["etag"]
        self.assertEqual(self.put("a.yaml", "one")["etag"], first)
        self.assertNotEqual(self.put("a.yaml", "two")["etag"], first)

    def test_no_such_key_and_deleted_object(self):
        self.put("a.yaml", "x")
        self.emu.post("/_emulator/s3/objects/delete", {"bucket": "manifests", "key": "a.yaml"})
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            self.s3.get_object(Bucket="manifests", Key="a.yaml")
        self.assertEqual(self.code(ctx), "NoSuchKey")
        self.assertEqual(self.status(ctx), 404)

    def test_access_denied_for_a_denied_key(self):
        self.emu.post("/_emulator/s3/buckets", {"name": "locked", "denyAccessKeys": ["test"]})
        self.put("a.yaml", "x", bucket="locked")
        for call in (lambda: self.s3.get_object(Bucket="locked", Key="a.yaml"),
                     lambda: self.s3.list_objects_v2(Bucket="locked")):
            with self.assertRaises(botocore.exceptions.ClientError) as ctx:
                call()
            self.assertEqual(self.code(ctx), "AccessDenied")
            self.assertEqual(self.status(ctx), 403)


class SigningTest(S3TestCase):
    def test_payload_hash_must_match_and_be_present(self):
        self.put("a.yaml", "x")
        url = self.emu.url + "/manifests/a.yaml"
        status, body = self.signed(url, hashlib.sha256(b"").hexdigest())
        self.assertEqual((status, body), (200, b"x"))
        status, body = self.signed(url, hashlib.sha256(b"other").hexdigest())
        self.assertEqual(status, 403)
        self.assertIn(b"<Code>SignatureDoesNotMatch</Code>", body)
        self.assertIn(b"x-amz-content-sha256", body)
        # S3 accepts an unsigned payload.
        self.assertEqual(self.signed(url, "UNSIGNED-PAYLOAD"), (200, b"x"))

    def test_missing_payload_hash_is_refused(self):
        self.put("a.yaml", "x")
        url = self.emu.url + "/manifests/a.yaml"
        request = AWSRequest(method="GET", url=url)
        SigV4Auth(Credentials("test", "test"), "s3", "eu-west-1").add_auth(request)
        headers = {k: v for k, v in request.prepare().headers.items()
                   if k.lower() != "x-amz-content-sha256"}
        with self.assertRaises(urllib.error.HTTPError) as ctx:
            urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10)
        self.assertEqual(ctx.exception.code, 400)
        self.assertIn(b"Missing required header", ctx.exception.read())

    def test_wrong_secret_is_signature_does_not_match(self):
        import boto3
        bad = boto3.client("s3", endpoint_url=self.emu.url, region_name="eu-west-1",
                           aws_access_key_id="test", aws_secret_access_key="wrong",
                           config=Config(s3={"addressing_style": "path"},
                                         retries={"total_max_attempts": 1}))
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            bad.list_objects_v2(Bucket="manifests")
        bad.close()
        self.assertEqual(self.code(ctx), "SignatureDoesNotMatch")


class FaultsAndLogTest(S3TestCase):
    def test_fault_rule_and_request_log(self):
        self.put("a.yaml", "x")
        self.emu.post("/_emulator/faults", {"service": "s3", "action": "ListObjectsV2",
                                            "errorRate": 1.0, "errorStatus": 503,
                                            "remaining": 1})
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            self.s3.list_objects_v2(Bucket="manifests")
        self.assertEqual(self.code(ctx), "ServiceUnavailable")
        self.s3.list_objects_v2(Bucket="manifests")  # the rule was for one call
        self.emu.post("/_emulator/faults", {"service": "s3", "action": "GetObject",
                                            "throttleRate": 1.0, "remaining": 1})
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            self.s3.get_object(Bucket="manifests", Key="a.yaml")
        self.assertEqual(self.code(ctx), "SlowDown")
        self.assertEqual(self.status(ctx), 503)
        log = self.emu.get("/_emulator/requests")
        calls = [(r["service"], r["action"], r["status"]) for r in log["requests"]]
        self.assertEqual(calls, [("s3", "ListObjectsV2", 503), ("s3", "ListObjectsV2", 200),
                                 ("s3", "GetObject", 503)])
        self.assertEqual(log["requests"][1]["params"]["Bucket"], "manifests")

    def test_control_api(self):
        self.put("b.yaml", "bb")
        self.assertEqual(self.emu.get("/_emulator/s3/objects?bucket=manifests")["objects"],
                         [{"key": "b.yaml", "etag": '"' + hashlib.md5(b"bb").hexdigest() + '"',
                           "size": 2}])
        self.assertEqual(self.emu.get("/_emulator/s3/buckets")["buckets"][0]["name"],
                         "manifests")
        status, answer = self.emu.call("POST", "/_emulator/s3/objects",
                                       {"bucket": "nope", "key": "a", "body": "x"})
        self.assertEqual(status, 400)
        self.assertIn("no bucket", answer["error"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
