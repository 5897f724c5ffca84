"""Amazon SNS topics, the part notifications use, over the Query protocol (2010-03-31, XML
answers, SigV4 service "sns"): CreateTopic, DeleteTopic, ListTopics, GetTopicAttributes and
Publish. Nothing is delivered anywhere: every published message is kept per topic and read
back through the control API, with its subject and message attributes, so tests can check
exactly what subscribers (and AWS Chatbot) would receive.

Publish checks what AWS checks: the topic exists in the signed Region (NotFound "Topic does
not exist", HTTP 404; a topic of another Region is InvalidParameter), Message is present and
at most 256 KiB with its attributes, Subject is ASCII without line breaks and under 100
characters, at most 10 message attributes with a valid name (not "AWS."/"Amazon.") and
DataType String, String.Array (a JSON array), Number or Binary; FIFO topics (".fifo") need
MessageGroupId and, without ContentBasedDeduplication, MessageDeduplicationId (standard
topics refuse both). The control API can deny Publish on a topic (AuthorizationError, 403).

Control API (under /_emulator/, see README.md):
  POST   sns/topics {"name", "region"?, "attributes"?}  -> {"arn"}
  GET    sns/topics                                      every topic with its message count
  POST   sns/topics/deny {"arn", "deny": true|false}
  GET    sns/messages?topic=<arn>&since=<seq>            published messages, oldest first
  DELETE sns/messages                                    forget every published message
Registration (server.py): `self.sns = SnsService(self.session, self)`, add it to
`self.services`, call `self.sns.reset()` in Emulator.reset(), and
`self.routes.update(emulator.sns.control_routes())` in ControlApi.__init__.
Thread-safety: ops run under the emulator lock.
"""

import json
import re
import time
import uuid

from .errors import AwsError
from .query import QueryService

NAME = re.compile(r"^[A-Za-z0-9_-]{1,256}(\.fifo)?$")
ATTRIBUTE_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,256}$")
MAX_MESSAGE_BYTES = 262144
DATA_TYPES = ("String", "String.Array", "Number", "Binary")


def invalid(message):
    return AwsError("InvalidParameter", f"Invalid parameter: {message}", 400)


class Topic:
    def __init__(self, name, region, account, attributes=None):
        self.name = name
        self.region = region
        self.account = account
        self.attributes = dict(attributes or {})
        self.deny_publish = False

    @property
    def arn(self):
        return f"arn:aws:sns:{self.region}:{self.account}:{self.name}"

    @property
    def fifo(self):
        return self.name.endswith(".fifo")

    def describe_attributes(self, published):
        out = {"TopicArn": self.arn, "Owner": self.account, "DisplayName": "",
               "SubscriptionsConfirmed": "0", "SubscriptionsPending": "0",
               "SubscriptionsDeleted": "0", "EffectiveDeliveryPolicy": "{}",
               "Policy": "{}", "FifoTopic": "true" if self.fifo else "false"}
        out.update(self.attributes)
        out["MessagesPublished"] = str(published)  # emulator only: handy in tests
        return out


class SnsService(QueryService):
    model_name = "sns"
    signing_name = "sns"
    host_prefix = "sns"

    def __init__(self, session, emulator):
        super().__init__(session)
        self.emulator = emulator
        self.reset()

    def reset(self):
        self.topics = {}    # arn -> Topic
        self.messages = []  # every published message, in order
        self.sequence = 0

    def throttling_error(self):
        return AwsError("Throttling", "Rate exceeded", 400)

    # ------------------------------------------------------------------ topics

    def create(self, name, region, attributes=None):
        if not isinstance(name, str) or not NAME.match(name):
            raise invalid("Topic Name")
        if name.endswith(".fifo") and (attributes or {}).get("FifoTopic") == "false":
            raise invalid("Topic Name")
        topic = Topic(name, region, self.emulator.settings.account, attributes)
        return self.topics.setdefault(topic.arn, topic)

    def topic(self, ctx, arn):
        if not isinstance(arn, str) or not arn.startswith("arn:"):
            raise invalid("TopicArn")
        topic = self.topics.get(arn)
        if topic is None:
            parts = arn.split(":")
            if len(parts) == 6 and parts[3] != ctx.region:
                raise invalid("TopicArn")
            raise AwsError("NotFound", "Topic does not exist", 404)
        if topic.region != ctx.region:
            raise invalid("TopicArn")
        return topic

    def op_CreateTopic(self, ctx, args):
        topic = self.create(args["Name"], ctx.region, args.get("Attributes"))
        return {"TopicArn": topic.arn}

    def op_DeleteTopic(self, ctx, args):
        topic = self.topic(ctx, args["TopicArn"])
        del self.topics[topic.arn]
        return {}

    def op_ListTopics(self, ctx, args):
        return {"Topics": [{"TopicArn": t.arn} for t in self.topics.values()
                           if t.region == ctx.region]}

    def op_GetTopicAttributes(self, ctx, args):
        topic = self.topic(ctx, args["TopicArn"])
        published = sum(1 for m in self.messages if m["topicArn"] == topic.arn)
        return {"Attributes": topic.describe_attributes(published)}

    # ------------------------------------------------------------------ publish

    def op_Publish(self, ctx, args):
        if args.get("TargetArn") or args.get("PhoneNumber"):
            raise invalid("the emulator publishes to topics only (TopicArn)")
        if not args.get("TopicArn"):
            raise invalid("TopicArn or TargetArn Reason: no value for required parameter")
        topic = self.topic(ctx, args["TopicArn"])
        if topic.deny_publish:
            raise AwsError("AuthorizationError", f"User: {ctx.credential.arn if ctx.credential else 'anonymous'} "
                           f"is not authorized to perform: SNS:Publish on resource: {topic.arn}",
                           403)
        message = args.get("Message")
        if message is None or message == "":
            raise invalid("Message")
        subject = args.get("Subject")
        if subject is not None:
            if (subject == "" or len(subject) >= 100 or
                    any(ord(c) < 0x20 or ord(c) > 0x7e for c in subject)):
                raise invalid("Subject")
        attributes = {}
        size = len(message.encode("utf-8"))
        raw_attributes = args.get("MessageAttributes") or {}
        if len(raw_attributes) > 10:
            raise invalid("Too many message attributes")
        for name, value in raw_attributes.items():
            if (not ATTRIBUTE_NAME.match(name) or name.startswith(("AWS.", "Amazon.")) or
                    ".." in name or name.startswith(".") or name.endswith(".")):
                raise AwsError("InvalidParameterValue", f"The message attribute '{name}' has "
                               "an invalid message attribute name.", 400)
            data_type = (value or {}).get("DataType")
            base = (data_type or "").split(".", 1)[0] if data_type != "String.Array" else data_type
            if base not in DATA_TYPES:
                raise AwsError("InvalidParameterValue", f"The message attribute '{name}' has "
                               f"an invalid message attribute type, the set of supported type "
                               f"prefixes is Binary, Number, and String.", 400)
            string_value = value.get("StringValue")
            if base in ("String", "Number", "String.Array") and string_value is None:
                raise AwsError("InvalidParameterValue", f"The message attribute '{name}' must "
                               "contain non-empty message attribute value for message attribute "
                               f"type '{data_type}'.", 400)
            if data_type == "String.Array":
                try:
                    parsed = json.loads(string_value)
                except ValueError:
                    parsed = None
                if not isinstance(parsed, list):
                    raise AwsError("InvalidParameterValue", f"The message attribute '{name}' "
                                   "with type 'String.Array' must use a JSON array.", 400)
            attributes[name] = {"DataType": data_type, "StringValue": string_value}
            size += len(name.encode()) + len(data_type.encode()) + len(
                (string_value or "").encode())
        if size > MAX_MESSAGE_BYTES:
            raise invalid("Message too long")
        group = args.get("MessageGroupId")
        dedup = args.get("MessageDeduplicationId")
        if topic.fifo:
            if not group:
                raise invalid("The MessageGroupId parameter is required for FIFO topics")
            if not dedup and topic.attributes.get("ContentBasedDeduplication") != "true":
                raise invalid("The topic should either have ContentBasedDeduplication enabled "
                              "or MessageDeduplicationId provided explicitly")
        elif group or dedup:
            raise invalid("MessageGroupId/MessageDeduplicationId are for FIFO topics only")
        self.sequence += 1
        message_id = str(uuid.uuid4())
        self.messages.append({
            "seq": self.sequence, "messageId": message_id, "topicArn": topic.arn,
            "subject": subject, "message": message, "messageAttributes": attributes,
            "messageGroupId": group, "messageDeduplicationId": dedup, "time": time.time(),
            "region": ctx.region,
        })
        out = {"MessageId": message_id}
        if topic.fifo:
            out["SequenceNumber"] = str(10000000000000000000 + self.sequence)
        return out

    # ------------------------------------------------------------------ control API

    def control_routes(self):
        return {
            ("GET", "sns/topics"): self.control_topics,
            ("POST", "sns/topics"): self.control_create,
            ("POST", "sns/topics/deny"): self.control_deny,
            ("GET", "sns/messages"): self.control_messages,
            ("DELETE", "sns/messages"): self.control_clear,
        }

    def control_topics(self, body, params):
        return {"topics": [{"arn": t.arn, "name": t.name, "region": t.region,
                            "denyPublish": t.deny_publish, "attributes": t.attributes,
                            "messages": sum(1 for m in self.messages if m["topicArn"] == t.arn)}
                           for t in self.topics.values()]}

    def control_create(self, body, params):
        if "name" not in body:
            raise ValueError("sns/topics needs 'name'")
        region = body.get("region") or self.emulator.settings.region
        try:
            topic = self.create(body["name"], region, body.get("attributes"))
        except AwsError as error:
            raise ValueError(error.message) from None
        return {"arn": topic.arn}

    def control_deny(self, body, params):
        topic = self.topics.get(body.get("arn"))
        if topic is None:
            raise ValueError(f"no topic {body.get('arn')!r}")
        topic.deny_publish = bool(body.get("deny", True))
        return {"arn": topic.arn, "denyPublish": topic.deny_publish}

    def control_messages(self, body, params):
        since = int(params.get("since") or 0)
        topic = params.get("topic")
        return {"messages": [m for m in self.messages
                             if m["seq"] > since and (not topic or m["topicArn"] == topic)]}

    def control_clear(self, body, params):
        self.messages = []
        return {"ok": True}
