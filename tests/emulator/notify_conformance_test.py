#!/usr/bin/python3
"""Conformance of the emulator's SSM Parameter Store (AWS JSON 1.1) and SNS (Query) APIs, the
two AWS services notifications use, driven by boto3 so every answer and error is parsed by
botocore as for real AWS: GetParameter with and without decryption, a denied kms:Decrypt,
ParameterNotFound, ARNs as names; CreateTopic, GetTopicAttributes, Publish with a subject and
message attributes (String, String.Array), FIFO rules, the Subject and attribute checks,
NotFound, a topic of another Region, a denied Publish; faults and SigV4 scope checks; and the
control API that reads back what was published.
Run: /usr/bin/python3 tests/emulator/notify_conformance_test.py
"""

import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import botocore.exceptions  # noqa: E402

from awsemu.harness import EmulatorProcess  # noqa: E402

REGION = "ap-northeast-1"
ACCOUNT = "123456789012"
WEBHOOK = "https://hooks.slack.com/services/T0000/B0000/XXXXXXXXXXXXXXXXXXXXXXXX"


def setUpModule():
    global EMULATOR
    EMULATOR = EmulatorProcess("--region", REGION).start()


def tearDownModule():
    EMULATOR.stop()


class NotifyTestCase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.emu = EMULATOR
        cls.ssm = cls.emu.client("ssm", region=REGION)
        cls.sns = cls.emu.client("sns", region=REGION)

    def setUp(self):
        self.emu.reset()

    def code(self, ctx):
        return ctx.exception.response["Error"]["Code"]


class SsmTest(NotifyTestCase):
    def test_secure_string_decrypted_only_when_asked(self):
        self.emu.post("/_emulator/ssm/parameters", {"name": "/eb/slack", "value": WEBHOOK})
        plain = self.ssm.get_parameter(Name="/eb/slack", WithDecryption=True)["Parameter"]
        self.assertEqual(plain["Value"], WEBHOOK)
        self.assertEqual(plain["Type"], "SecureString")
        self.assertEqual(plain["Version"], 1)
        self.assertEqual(plain["ARN"], f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/eb/slack")
        cipher = self.ssm.get_parameter(Name="/eb/slack")["Parameter"]
        self.assertNotEqual(cipher["Value"], WEBHOOK)
        self.assertNotIn("hooks.slack.com", cipher["Value"])
        # By ARN, and a new version after an overwrite.
        self.emu.post("/_emulator/ssm/parameters", {"name": "/eb/slack", "value": WEBHOOK + "2"})
        by_arn = self.ssm.get_parameter(Name=plain["ARN"], WithDecryption=True)["Parameter"]
        self.assertEqual((by_arn["Value"], by_arn["Version"]), (WEBHOOK + "2", 2))

    def test_missing_parameter_and_denied_decrypt(self):
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            self.ssm.get_parameter(Name="/eb/nothing", WithDecryption=True)
        self.assertEqual(self.code(ctx), "ParameterNotFound")
        self.assertEqual(ctx.exception.response["ResponseMetadata"]["HTTPStatusCode"], 400)
        self.emu.post("/_emulator/ssm/parameters",
                      {"name": "/eb/locked", "value": WEBHOOK, "denyDecrypt": True})
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            self.ssm.get_parameter(Name="/eb/locked", WithDecryption=True)
        self.assertEqual(self.code(ctx), "AccessDeniedException")
        self.assertNotIn(WEBHOOK, str(ctx.exception))
        # Without decryption the ciphertext is still readable.
        self.ssm.get_parameter(Name="/eb/locked")
        # A parameter of another Region is not found here.
        other = self.emu.client("ssm", region="us-west-2")
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            other.get_parameter(Name="/eb/locked", WithDecryption=True)
        self.assertEqual(self.code(ctx), "ParameterNotFound")

    def test_put_get_parameters_and_faults(self):
        self.ssm.put_parameter(Name="/eb/a", Value="one", Type="String")
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            self.ssm.put_parameter(Name="/eb/a", Value="two", Type="String")
        self.assertEqual(self.code(ctx), "ParameterAlreadyExists")
        got = self.ssm.get_parameters(Names=["/eb/a", "/eb/b"])
        self.assertEqual([p["Value"] for p in got["Parameters"]], ["one"])
        self.assertEqual(got["InvalidParameters"], ["/eb/b"])
        self.emu.post("/_emulator/faults", {"service": "ssm", "action": "GetParameter",
                                            "errorRate": 1.0, "errorStatus": 500})
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            self.ssm.get_parameter(Name="/eb/a")
        self.assertEqual(self.code(ctx), "InternalServerError")
        log = self.emu.get("/_emulator/requests?action=GetParameter")["requests"]
        self.assertTrue(log and all(r["service"] == "ssm" for r in log))


class SnsTest(NotifyTestCase):
    def test_publish_is_kept_with_subject_and_attributes(self):
        arn = self.sns.create_topic(Name="ops")["TopicArn"]
        self.assertEqual(arn, f"arn:aws:sns:{REGION}:{ACCOUNT}:ops")
        attrs = self.sns.get_topic_attributes(TopicArn=arn)["Attributes"]
        self.assertEqual(attrs["TopicArn"], arn)
        message = json.dumps({"version": "1.0", "source": "custom",
                              "content": {"description": "hello"}})
        result = self.sns.publish(
            TopicArn=arn, Subject="endpoint-binder: prod/web Registered", Message=message,
            MessageAttributes={
                "binding": {"DataType": "String", "StringValue": "prod/web"},
                "eventType": {"DataType": "String.Array", "StringValue": '["Registered"]'}})
        self.assertTrue(result["MessageId"])
        published = self.emu.get(f"/_emulator/sns/messages?topic={arn}")["messages"]
        self.assertEqual(len(published), 1)
        self.assertEqual(published[0]["messageId"], result["MessageId"])
        self.assertEqual(published[0]["subject"], "endpoint-binder: prod/web Registered")
        self.assertEqual(json.loads(published[0]["message"])["source"], "custom")
        self.assertEqual(published[0]["messageAttributes"]["eventType"],
                         {"DataType": "String.Array", "StringValue": '["Registered"]'})
        since = published[0]["seq"]
        self.assertEqual(self.emu.get(f"/_emulator/sns/messages?since={since}")["messages"], [])

    def test_publish_checks(self):
        arn = self.sns.create_topic(Name="ops")["TopicArn"]
        cases = [
            (dict(Subject="x" * 100), "InvalidParameter"),
            (dict(Subject="two\nlines"), "InvalidParameter"),
            (dict(MessageAttributes={"AWS.x": {"DataType": "String", "StringValue": "v"}}),
             "InvalidParameterValue"),
            (dict(MessageAttributes={"e": {"DataType": "String.Array", "StringValue": "nope"}}),
             "InvalidParameterValue"),
            (dict(MessageGroupId="g"), "InvalidParameter"),
        ]
        for extra, code in cases:
            with self.subTest(extra=extra):
                with self.assertRaises(botocore.exceptions.ClientError) as ctx:
                    self.sns.publish(TopicArn=arn, Message="m", **extra)
                self.assertEqual(self.code(ctx), code)
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            self.sns.publish(TopicArn=arn + "-gone", Message="m")
        self.assertEqual(self.code(ctx), "NotFound")
        self.assertEqual(ctx.exception.response["ResponseMetadata"]["HTTPStatusCode"], 404)
        west = f"arn:aws:sns:us-west-2:{ACCOUNT}:ops"
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            self.sns.publish(TopicArn=west, Message="m")
        self.assertEqual(self.code(ctx), "InvalidParameter")
        self.emu.post("/_emulator/sns/topics/deny", {"arn": arn})
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            self.sns.publish(TopicArn=arn, Message="m")
        self.assertEqual(self.code(ctx), "AuthorizationError")
        self.assertEqual(self.emu.get("/_emulator/sns/messages")["messages"], [])

    def test_fifo_topics_need_a_group_and_deduplication(self):
        arn = self.sns.create_topic(Name="ops.fifo", Attributes={"FifoTopic": "true"})["TopicArn"]
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            self.sns.publish(TopicArn=arn, Message="m")
        self.assertEqual(self.code(ctx), "InvalidParameter")
        result = self.sns.publish(TopicArn=arn, Message="m", MessageGroupId="prod/web",
                                  MessageDeduplicationId="prod.web-1")
        self.assertIn("SequenceNumber", result)

    def test_control_topics_in_another_region(self):
        created = self.emu.post("/_emulator/sns/topics", {"name": "west", "region": "us-west-2"})
        self.assertEqual(created["arn"], f"arn:aws:sns:us-west-2:{ACCOUNT}:west")
        west = self.emu.client("sns", region="us-west-2")
        west.publish(TopicArn=created["arn"], Message="m")
        topics = {t["name"]: t for t in self.emu.get("/_emulator/sns/topics")["topics"]}
        self.assertEqual(topics["west"]["messages"], 1)
        self.emu.delete("/_emulator/sns/messages")
        self.assertEqual(self.emu.get("/_emulator/sns/messages")["messages"], [])


if __name__ == "__main__":
    unittest.main(verbosity=2)
