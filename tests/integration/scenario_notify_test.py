"""Notifications with the real binary (issue 13): a Slack-compatible webhook whose URL is a
SecureString in SSM (HTTPS with a test CA), and an SNS topic, both through the emulator.

- A DNS change produces exactly one Slack message and one SNS message, with the right content
  (Block Kit and fallback text; the AWS Chatbot shape, subject and message attributes).
- A webhook answering 500, then 429 with Retry-After, is retried, after Retry-After.
- A webhook that hangs does not delay the next reconcile (the figures are printed).
- The webhook URL appears in no output: logs, the status API, /metrics, doctor.

Run with /usr/bin/python3 (Debian's, with boto3/dnslib), like the other scenario tests.
"""
import json
import os
import re
import subprocess
import time
import unittest

from harness import ACCOUNT, BINARY, REGION, ScenarioTest, free_port, http_json, wait_for
from webhook import Webhook

TOKEN = "XyZsEcReTt0k3n4242"
HOOK_PATH = f"/services/T0EB/B0EB/{TOKEN}"
PARAMETER = "/endpoint-binder/slack-webhook"
NO_PROXY = {"NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}


def manifest(name, arn, hostname, topic, slack_on="[Registered, Deregistered, Blocked, Failing]"):
    return f"""apiVersion: endpointbinder.io/v1alpha1
kind: TargetGroupBinding
metadata:
  name: {name}
  namespace: default
spec:
  targetGroupARN: {arn}
  targetType: ip
  source:
    dns:
      hostname: {hostname}
      minRefreshInterval: 1s
      maxRefreshInterval: 2s
  policy:
    deregistrationGracePeriod: 0s
    requireHealthyReplacements: false
    minTargets: 0
    maxDeregistrationsPerSync: 10
  notifications:
    - slackWebhookSecretRef:
        ssmParameter: {PARAMETER}
      on: {slack_on}
    - snsTopicARN: {topic}
"""


class Notifications(ScenarioTest):
    def setup_world(self, hook, name="web", hostname="app.internal"):
        arn = self.emulator.create_target_group(f"{name}-tg")
        self.emulator.control("POST", "ssm/parameters",
                              {"name": PARAMETER, "value": hook.url(HOOK_PATH)})
        topic = self.emulator.control("POST", "sns/topics", {"name": "web-ops"})["arn"]
        self.dns.set(hostname, a=["10.0.1.5"], ttl=1)
        self.write_manifest(f"{name}.yaml", manifest(name, arn, hostname, topic))
        return arn, topic

    def start(self, hook, *extra):
        args = ["--notify-coalesce-window", "1s", "--notify-min-interval", "1s", *extra]
        if hook.ca_bundle:
            args += ["--notify-ca-bundle", hook.ca_bundle]
        return self.start_controller(*args, env_extra=NO_PROXY)

    def sns_messages(self, topic):
        return self.emulator.control("GET", f"sns/messages?topic={topic}")["messages"]

    def assert_no_secret(self, c):
        """Neither the token nor the URL's path in logs, status API, metrics."""
        status, listing = http_json(
            "GET", f"{c.base}/apis/endpointbinder.io/v1alpha1/targetgroupbindings")
        self.assertEqual(status, 200)
        outputs = {"logs": c.output(), "status API": json.dumps(listing), "metrics": c.metrics(),
                   "status table": c.cli("get").stdout + c.cli("describe", "web").stdout}
        for where, text in outputs.items():
            for secret in (TOKEN, HOOK_PATH, "T0EB/B0EB"):
                self.assertNotIn(secret, text, f"the webhook URL leaked into the {where}")

    def test_dns_change_sends_one_slack_and_one_sns_message(self):
        hook = Webhook(tls=True)
        self.addCleanup(hook.stop)
        arn, topic = self.setup_world(hook)
        c = self.start(hook)
        wait_for(lambda: self.emulator.registered(arn) == {"10.0.1.5"}, 20, what="first registration")
        wait_for(lambda: len(hook.delivered()) == 1 and len(self.sns_messages(topic)) == 1, 20,
                 what="the first Slack and SNS messages")
        first = hook.delivered()[0]
        self.assertEqual(first["path"], HOOK_PATH)
        self.assertIn("Registered 1 target (10.0.1.5:443)", first["body"]["text"])

        changed = time.monotonic()
        self.dns.set("app.internal", a=["10.0.1.6"], ttl=1)
        wait_for(lambda: self.emulator.registered(arn) == {"10.0.1.6"}, 20, what="the new address")
        registered_after = time.monotonic() - changed
        wait_for(lambda: len(hook.delivered()) >= 2 and len(self.sns_messages(topic)) >= 2, 20,
                 what="the messages about the change")
        time.sleep(3)  # nothing else follows: one message per destination for the change
        self.assertEqual(len(hook.delivered()), 2, [r["body"]["text"] for r in hook.delivered()])
        messages = self.sns_messages(topic)
        self.assertEqual(len(messages), 2, [m["subject"] for m in messages])
        print(f"\nDNS change -> registered in {registered_after:.2f}s; Slack message after "
              f"{hook.delivered()[1]['time'] - changed:.2f}s")

        # Slack: Block Kit and the plain-text fallback.
        slack = hook.delivered()[1]["body"]
        print("Slack payload:", json.dumps(slack, indent=1))
        # The counts are the group's as the latest report saw it (health moves on).
        self.assertRegex(slack["text"],
                         r"^default/web: Registered 1 target \(10\.0\.1\.6:443\); Deregistered 1 "
                         r"target \(10\.0\.1\.5:443\)\. Target group web-tg: 1 registered \(\d "
                         r"healthy, 0 unhealthy, \d initial\), \d draining; the source lists 1\.$")
        blocks = slack["blocks"]
        self.assertEqual(blocks[0]["type"], "header")
        self.assertEqual(blocks[0]["text"]["text"], ":arrows_counterclockwise: default/web: "
                         "Registered 1 target, Deregistered 1 target")
        self.assertEqual(blocks[1]["text"]["text"], "*Registered 1 target*: `10.0.1.6:443`\n"
                         "_Why:_ listed by the dns app.internal source")
        self.assertEqual(blocks[2]["text"]["text"], "*Deregistered 1 target*: `10.0.1.5:443`\n"
                         "_Why:_ no longer listed by the dns app.internal source (for at least "
                         "0s, policy.deregistrationGracePeriod)")
        self.assertEqual(blocks[3]["fields"][0]["text"], "*Target group*\nweb-tg")
        self.assertEqual(blocks[4]["type"], "context")

        # SNS: subject, the Chatbot custom-notification shape, filterable attributes.
        sns = messages[1]
        print("SNS message:", json.dumps(sns, indent=1))
        self.assertEqual(sns["subject"], "endpoint-binder: default/web Registered, Deregistered")
        body = json.loads(sns["message"])
        self.assertEqual((body["version"], body["source"]), ("1.0", "custom"))
        self.assertEqual(body["content"]["textType"], "client-markdown")
        self.assertIn("`10.0.1.6:443`", body["content"]["description"])
        self.assertIn("`10.0.1.5:443`", body["content"]["description"])
        self.assertEqual(body["metadata"]["threadId"], "endpoint-binder/default/web")
        self.assertEqual(body["metadata"]["relatedResources"], [arn])
        attributes = sns["messageAttributes"]
        self.assertEqual(attributes["binding"], {"DataType": "String", "StringValue": "default/web"})
        self.assertEqual(attributes["namespace"], {"DataType": "String", "StringValue": "default"})
        self.assertEqual(attributes["eventType"],
                         {"DataType": "String.Array", "StringValue": '["Registered","Deregistered"]'})

        self.assertEqual(c.metric("endpointbinder_notifications_sent_total", destination="slack"), 2)
        self.assertEqual(c.metric("endpointbinder_notifications_sent_total", destination="sns"), 2)
        self.assertEqual(c.metric("endpointbinder_notifications_failed_total", destination="slack"), 0)
        self.assertEqual(c.metric("endpointbinder_notification_queue_depth", destination="sns"), 0)
        self.assertEqual(len(self.emulator.requests("GetParameter")), 1, "the URL is cached")
        self.assert_no_secret(c)

    def test_a_429_is_retried_after_retry_after(self):
        hook = Webhook(tls=True)
        self.addCleanup(hook.stop)
        hook.script(["500", ("429", 2)])
        arn, topic = self.setup_world(hook)
        c = self.start(hook)
        wait_for(lambda: len(hook.delivered()) == 1, 30, what="the message after 500 and 429")
        received = hook.received()
        self.assertEqual([r["answer"] for r in received], ["500", ("429", 2), "200"])
        waited = received[2]["time"] - received[1]["time"]
        print(f"\n429 with Retry-After: 2 -> retried after {waited:.2f}s")
        self.assertGreaterEqual(waited, 2.0)
        self.assertEqual(received[0]["body"], received[2]["body"], "the same message, retried")
        self.assertEqual(c.metric("endpointbinder_notification_retries_total", destination="slack"), 2)
        self.assertEqual(c.metric("endpointbinder_notifications_sent_total", destination="slack"), 1)
        self.assert_no_secret(c)

    def test_a_hanging_webhook_does_not_delay_the_next_reconcile(self):
        hook = Webhook(tls=False)  # plain http to loopback is allowed
        self.addCleanup(hook.stop)
        arn, topic = self.setup_world(hook)
        c = self.start(hook, "--notify-timeout", "60s")
        wait_for(lambda: self.emulator.registered(arn) == {"10.0.1.5"}, 20)
        wait_for(lambda: len(hook.delivered()) == 1, 20)

        def change(address):
            started = time.monotonic()
            self.dns.set("app.internal", a=[address], ttl=1)
            wait_for(lambda: self.emulator.registered(arn) == {address}, 30,
                     what=f"{address} registered")
            return time.monotonic() - started

        def reconcile_totals():
            return (c.metric("endpointbinder_reconcile_duration_seconds_count"),
                    c.metric("endpointbinder_reconcile_duration_seconds_sum"))

        def mean_ms(before, after):
            return 1000 * (after[1] - before[1]) / max(after[0] - before[0], 1)

        start = reconcile_totals()
        normal = [change("10.0.1.6")]
        wait_for(lambda: len(hook.delivered()) == 2, 20)
        normal_mean = mean_ms(start, reconcile_totals())
        hook.script([], default="hang")
        normal.append(change("10.0.1.7"))  # its message goes out after the window, and hangs
        wait_for(lambda: len(hook.received()) == 3, 20, what="the hanging request")
        before = reconcile_totals()
        hanging = [change("10.0.1.8"), change("10.0.1.9")]
        after = reconcile_totals()
        self.assertEqual(len(hook.received()), 3, "still the one hanging request")
        self.assertEqual(hook.received()[2]["answer"], "hang")
        print(f"\nDNS change -> registered: {', '.join(f'{t:.2f}s' for t in normal)} with the "
              f"webhook answering (reconcile mean {normal_mean:.1f} ms); "
              f"{', '.join(f'{t:.2f}s' for t in hanging)} while it hangs (60s timeout; "
              f"{after[0] - before[0]:.0f} reconciles, mean {mean_ms(before, after):.1f} ms)")
        # A reconcile waiting for the webhook would take its 60 s timeout.
        for took in hanging:
            self.assertLess(took, 15)
        self.assertGreaterEqual(c.metric("endpointbinder_notification_queue_depth",
                                         destination="slack"), 1)
        self.assert_no_secret(c)

    def test_doctor_checks_each_destination_without_disclosing_the_url(self):
        hook = Webhook(tls=True)
        self.addCleanup(hook.stop)
        arn, topic = self.setup_world(hook)
        # A second binding whose parameter is missing and whose topic does not exist.
        self.dns.set("other.internal", a=["10.0.2.5"], ttl=1)
        other_arn = self.emulator.create_target_group("other-tg")
        self.write_manifest("other.yaml", manifest("other", other_arn, "other.internal",
                                                   f"arn:aws:sns:{REGION}:{ACCOUNT}:gone")
                            .replace(PARAMETER, "/endpoint-binder/missing"))
        env = dict(os.environ, AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test",
                   AWS_REGION=REGION, AWS_ENDPOINT_URL=self.emulator.url,
                   AWS_EC2_METADATA_DISABLED="true", AWS_CA_BUNDLE=hook.ca_bundle, **NO_PROXY)
        out = subprocess.run([BINARY, "doctor", "--manifests", self.manifests, "--dns-server",
                              self.dns.dns, "--timeout", "2"], capture_output=True, text=True,
                             env=env, timeout=60)
        print(out.stdout)
        self.assertEqual(out.returncode, 1)
        self.assertRegex(out.stdout, rf"\[ OK \] notifications: SSM parameter {PARAMETER} readable "
                                     r"\(SecureString, version 1\)")
        self.assertRegex(out.stdout, r"\[ OK \] notifications: Slack webhook host 127\.0\.0\.1:\d+ "
                                     r"reachable \(TLS ok, HTTP \d+, direct\)")
        self.assertIn(f"[ OK ] notifications: SNS topic {topic} reachable", out.stdout)
        self.assertRegex(out.stdout, r"\[FAIL\] notifications: SSM parameter "
                                     r"/endpoint-binder/missing: .*ParameterNotFound")
        self.assertRegex(out.stdout, rf"\[FAIL\] notifications: SNS topic arn:aws:sns:{REGION}:"
                                     rf"{ACCOUNT}:gone: .*NotFound")
        for secret in (TOKEN, HOOK_PATH):
            self.assertNotIn(secret, out.stdout + out.stderr)

        # Through HTTPS_PROXY (here one that refuses connections): the route is named, and the
        # hint is about the proxy. AWS calls (plain http to the emulator) do not use it.
        env.update(HTTPS_PROXY=f"http://127.0.0.1:{free_port()}", NO_PROXY="", no_proxy="")
        out = subprocess.run([BINARY, "doctor", "--manifests", self.manifests, "--dns-server",
                              self.dns.dns, "--timeout", "2"], capture_output=True, text=True,
                             env=env, timeout=60)
        print(out.stdout)
        self.assertRegex(out.stdout, r"\[FAIL\] notifications: Slack webhook host 127\.0\.0\.1:\d+ "
                                     r"unreachable \(via proxy 127\.0\.0\.1:\d+\)")
        self.assertIn("did not get through", out.stdout)
        for secret in (TOKEN, HOOK_PATH):
            self.assertNotIn(secret, out.stdout + out.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
