"""Amazon SQS (standard queues): the Query protocol of 2012-11-05 with XML answers (what
Debian's boto3 1.26 speaks) and the AWS JSON 1.0 protocol (`X-Amz-Target: AmazonSQS.<Action>`)
that newer SDKs use, over the same queues.

Actions: ReceiveMessage (long polling that really waits, up to WaitTimeSeconds ≤ 20, and
returns as soon as a message is visible), DeleteMessage, DeleteMessageBatch,
ChangeMessageVisibility, GetQueueAttributes, GetQueueUrl, SendMessage, ListQueues, PurgeQueue.
A queue URL is `<emulator base URL>/<account>/<name>`; a call may name it in `QueueUrl` (any
host: only the path identifies the queue) or be sent to that path. Messages: every receive
issues a new receipt handle and hides the message for the visibility timeout; an undeleted
message reappears with ApproximateReceiveCount + 1; after `maxReceiveCount` receives a
message moves to the dead-letter queue of the queue's RedrivePolicy. Any receipt handle the
queue issued deletes its message (as AWS does for stale handles); one it never issued is
ReceiptHandleIsInvalid.
Thread-safety: ops run under the emulator lock; a long poll waits on Emulator.changed (which
releases the lock), so sends, deletes and control calls proceed meanwhile.
"""

import base64
import collections
import hashlib
import json
import re
import secrets
import time
import urllib.parse
import uuid

from .errors import AwsError
from .query import QueryService
from .xml import serialize_error

NAME = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
MAX_WAIT_SECONDS = 20
MAX_VISIBILITY_SECONDS = 43200
NON_EXISTENT = "The specified queue does not exist for this wsdl version."
MESSAGE_ATTRIBUTES = ("SenderId", "SentTimestamp", "ApproximateReceiveCount",
                      "ApproximateFirstReceiveTimestamp")
QUEUE_ATTRIBUTES = ("Policy", "VisibilityTimeout", "MaximumMessageSize",
                    "MessageRetentionPeriod", "ApproximateNumberOfMessages",
                    "ApproximateNumberOfMessagesNotVisible", "CreatedTimestamp",
                    "LastModifiedTimestamp", "QueueArn", "ApproximateNumberOfMessagesDelayed",
                    "DelaySeconds", "ReceiveMessageWaitTimeSeconds", "RedrivePolicy",
                    "SqsManagedSseEnabled")
# (name, low, high) of the settable numeric attributes, as CreateQueue documents them.
NUMERIC_ATTRIBUTES = {"VisibilityTimeout": (0, MAX_VISIBILITY_SECONDS),
                      "ReceiveMessageWaitTimeSeconds": (0, MAX_WAIT_SECONDS),
                      "DelaySeconds": (0, 900), "MessageRetentionPeriod": (60, 1209600),
                      "MaximumMessageSize": (1024, 262144)}


def _md5(text):
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def invalid_parameter(name, value, reason):
    return AwsError("InvalidParameterValue",
                    f"Value {value} for parameter {name} is invalid. Reason: {reason}", 400)


class Message:
    __slots__ = ("id", "body", "md5", "sent", "visible_at", "receive_count", "first_receive",
                 "sender", "handle")

    def __init__(self, body, sent, visible_at, sender):
        self.id = str(uuid.uuid4())
        self.body = body
        self.md5 = _md5(body)
        self.sent = sent
        self.visible_at = visible_at
        self.receive_count = 0
        self.first_receive = None
        self.sender = sender
        self.handle = None  # the latest receipt handle


class Queue:
    def __init__(self, name, region, account, url, now, attributes=None):
        self.name = name
        self.region = region
        self.account = account
        self.url = url
        self.created = now
        self.modified = now
        self.attributes = {"VisibilityTimeout": "30", "ReceiveMessageWaitTimeSeconds": "0",
                           "DelaySeconds": "0", "MessageRetentionPeriod": "345600",
                           "MaximumMessageSize": "262144", "SqsManagedSseEnabled": "true"}
        self.messages = collections.OrderedDict()  # id -> Message, in send order
        self.handles = {}  # every receipt handle issued -> message id
        self.event_rule = None  # events.EventRule when EventBridge delivers here
        self.dead_letter = None  # (queue name, maxReceiveCount)
        self.received = 0
        self.deleted = 0
        if attributes:
            self.set_attributes(attributes, now)

    @property
    def arn(self):
        return f"arn:aws:sqs:{self.region}:{self.account}:{self.name}"

    def set_attributes(self, attributes, now):
        for name, value in attributes.items():
            if name in NUMERIC_ATTRIBUTES:
                low, high = NUMERIC_ATTRIBUTES[name]
                try:
                    number = int(str(value))
                except ValueError:
                    number = None
                if number is None or not low <= number <= high:
                    raise AwsError("InvalidAttributeValue", f"Invalid value for the parameter "
                                   f"{name}.", 400)
                self.attributes[name] = str(number)
            elif name in ("Policy", "RedrivePolicy", "SqsManagedSseEnabled"):
                self.attributes[name] = str(value)
            else:
                raise AwsError("InvalidAttributeName", f"Unknown Attribute {name}.", 400)
        self.modified = now

    def number(self, name):
        return int(self.attributes[name])

    def send(self, body, now, delay=None, sender="AIDAEMULATOR"):
        if delay is None:
            delay = self.number("DelaySeconds")
        message = Message(body, now, now + delay, sender)
        self.messages[message.id] = message
        return message

    def expire(self, now):
        cutoff = now - self.number("MessageRetentionPeriod")
        for message_id in [m.id for m in self.messages.values() if m.sent < cutoff]:
            del self.messages[message_id]

    def counts(self, now):
        visible = in_flight = delayed = 0
        for message in self.messages.values():
            if message.visible_at <= now:
                visible += 1
            elif message.receive_count:
                in_flight += 1
            else:
                delayed += 1
        return visible, in_flight, delayed

    def next_visible(self, now):
        """When the next hidden message becomes visible, or None."""
        future = [m.visible_at for m in self.messages.values() if m.visible_at > now]
        return min(future) if future else None

    def issue_handle(self, message):
        handle = base64.b64encode(f"{self.name}/{message.id}/".encode() +
                                  secrets.token_bytes(24)).decode()
        self.handles[handle] = message.id
        message.handle = handle
        return handle

    def message_for(self, handle):
        """(message or None) for a handle this queue issued; raises for others."""
        if handle not in self.handles:
            raise AwsError("ReceiptHandleIsInvalid",
                           f'The input receipt handle "{handle}" is not a valid receipt '
                           "handle.", 400)
        return self.messages.get(self.handles[handle])

    def describe(self, now):
        visible, in_flight, delayed = self.counts(now)
        return {"name": self.name, "url": self.url, "arn": self.arn, "region": self.region,
                "visible": visible, "inFlight": in_flight, "delayed": delayed,
                "received": self.received, "deleted": self.deleted,
                "attributes": dict(self.attributes),
                "events": self.event_rule.describe() if self.event_rule else None,
                "deadLetter": {"queue": self.dead_letter[0],
                               "maxReceiveCount": self.dead_letter[1]}
                if self.dead_letter else None}


class SqsService(QueryService):
    model_name = "sqs"
    signing_name = "sqs"
    host_prefix = "sqs"
    json_target_prefix = "AmazonSQS"

    def __init__(self, session, emulator):
        super().__init__(session)
        self.emulator = emulator
        from .query import Style
        self.parse_style = Style(enums=False)  # AttributeName.N takes message attributes too
        self.reset()

    def reset(self):
        self.queues = {}  # name -> Queue

    # ------------------------------------------------------------------ protocol

    def throttling_error(self):
        return AwsError("RequestThrottled", "Rate exceeded", 400)

    def error_response(self, error, request_id, protocol="query"):
        if protocol == "json":
            kind = self._json_type(error.code)
            body = json.dumps({"__type": f"com.amazonaws.sqs#{kind}",
                               "message": error.message}).encode()
            side = "Sender" if error.sender else "Receiver"
            return body, "application/x-amz-json-1.0", [
                ("x-amzn-query-error", f"{error.code};{side}")]
        body = serialize_error(self.namespace, error.code, error.message, request_id,
                               error.sender)
        body = body.replace(b"</Message></Error>", b"</Message><Detail/></Error>")
        return body, "text/xml", []

    def _json_type(self, code):
        for shape in self.model.error_shapes:
            if shape.metadata.get("error", {}).get("code", shape.name) == code:
                return shape.name
        return code

    def dispatch(self, ctx, action, params):
        if ctx.path not in ("", "/") and "QueueUrl" not in params:
            params = dict(params, QueueUrl=ctx.path)  # sent to the queue URL itself
        return super().dispatch(ctx, action, params)

    def dispatch_json(self, ctx, action, params):
        if action not in self.model.operation_names:
            raise AwsError("UnknownOperationException", f"Unknown operation {action}", 400)
        if action not in self.actions:
            raise AwsError("NotImplemented", f"The emulator does not implement {action}", 501,
                           sender=False)
        if ctx.path not in ("", "/") and "QueueUrl" not in params:
            params = dict(params, QueueUrl=ctx.path)
        operation = self.model.operation_model(action)
        args = self._json_args(operation.input_shape, params)
        result = getattr(self, f"op_{action}")(ctx, args) or {}
        return json.dumps(result, default=str).encode()

    @staticmethod
    def _json_args(shape, params):
        missing = [name for name in shape.required_members if params.get(name) is None]
        if missing:
            raise AwsError("MissingParameter", "The request must contain the parameter "
                           f"{missing[0]}.", 400)
        args = {}
        for name, value in params.items():
            if name == "MessageSystemAttributeNames":  # newer SDKs' spelling
                args.setdefault("AttributeNames", []).extend(value or [])
            elif name in shape.members:
                member = shape.members[name]
                if member.type_name in ("integer", "long") and value is not None:
                    if isinstance(value, bool) or not isinstance(value, int):
                        raise AwsError("InvalidParameterValue", f"Value {value} for parameter "
                                       f"{name} is invalid. Reason: must be a number.", 400)
                args[name] = value
        return args

    # ------------------------------------------------------------------ queues

    def url_for(self, name):
        return f"{self.emulator.base_url}/{self.emulator.settings.account}/{name}"

    def create_queue(self, name, region, attributes=None, now=None):
        if not isinstance(name, str) or not NAME.match(name):
            raise ValueError("queue names are 1-80 characters of A-Z a-z 0-9 _ -: "
                             f"{name!r}")
        if name in self.queues:
            raise KeyError(name)
        queue = Queue(name, region, self.emulator.settings.account, self.url_for(name),
                      now or time.time(), attributes)
        self.queues[name] = queue
        return queue

    def queue_by_name(self, name):
        return self.queues.get(name)

    def queue_by_url(self, url):
        """The queue a URL (or `/<account>/<name>` path) names, or None."""
        path = urllib.parse.urlsplit(url or "").path
        parts = [p for p in path.split("/") if p]
        if len(parts) != 2 or parts[0] != self.emulator.settings.account:
            return None
        return self.queues.get(parts[1])

    def queues_for_event(self, event):
        return [q for q in self.queues.values()
                if q.event_rule is not None and q.event_rule.matches(event)]

    def _queue(self, ctx, args):
        url = args.get("QueueUrl")
        queue = self.queue_by_url(url if url else ctx.path)
        if queue is None:
            raise AwsError("AWS.SimpleQueueService.NonExistentQueue", NON_EXISTENT, 400)
        queue.expire(ctx.now)
        return queue

    # ------------------------------------------------------------------ actions

    def op_GetQueueUrl(self, ctx, args):
        owner = args.get("QueueOwnerAWSAccountId")
        queue = self.queues.get(args["QueueName"])
        if queue is None or (owner and owner != ctx.account):
            raise AwsError("AWS.SimpleQueueService.NonExistentQueue", NON_EXISTENT, 400)
        return {"QueueUrl": queue.url}

    def op_ListQueues(self, ctx, args):
        prefix = args.get("QueueNamePrefix") or ""
        urls = [q.url for name, q in sorted(self.queues.items()) if name.startswith(prefix)]
        return {"QueueUrls": urls[:1000]} if urls else {}

    def op_SendMessage(self, ctx, args):
        queue = self._queue(ctx, args)
        body = args["MessageBody"]
        if not body:
            raise AwsError("MissingParameter", "The request must contain the parameter "
                           "MessageBody.", 400)
        if len(body.encode("utf-8")) > queue.number("MaximumMessageSize"):
            raise invalid_parameter("MessageBody", "", "Message must be shorter than "
                                    f"{queue.number('MaximumMessageSize')} bytes.")
        delay = args.get("DelaySeconds")
        if delay is not None and not 0 <= delay <= 900:
            raise invalid_parameter("DelaySeconds", delay, "Must be >= 0 and <= 900, if "
                                    "provided.")
        sender = ctx.credential.access_key if ctx.credential else "AIDAEMULATOR"
        message = queue.send(body, ctx.now, delay=delay, sender=sender)
        self.emulator.changed.notify_all()
        return {"MD5OfMessageBody": message.md5, "MessageId": message.id}

    def op_ReceiveMessage(self, ctx, args):
        queue = self._queue(ctx, args)
        count = args.get("MaxNumberOfMessages")
        if count is not None and not 1 <= count <= 10:
            raise invalid_parameter("MaxNumberOfMessages", count,
                                    "Must be between 1 and 10, if provided.")
        wait = args.get("WaitTimeSeconds")
        if wait is not None and not 0 <= wait <= MAX_WAIT_SECONDS:
            raise invalid_parameter("WaitTimeSeconds", wait,
                                    "Must be >= 0 and <= 20, if provided.")
        if wait is None:
            wait = queue.number("ReceiveMessageWaitTimeSeconds")
        visibility = args.get("VisibilityTimeout")
        if visibility is not None and not 0 <= visibility <= MAX_VISIBILITY_SECONDS:
            raise invalid_parameter("VisibilityTimeout", visibility,
                                    "Must be >= 0 and <= 43200, if provided.")
        if visibility is None:
            visibility = queue.number("VisibilityTimeout")
        wanted = set(args.get("AttributeNames") or [])
        deadline = time.time() + wait
        while True:
            now = time.time()
            taken = self._take(queue, count or 1, visibility, now)
            if taken or now >= deadline or self.queues.get(queue.name) is not queue:
                break
            wake = queue.next_visible(now)
            timeout = deadline - now if wake is None else min(deadline, wake) - now
            self.emulator.changed.wait(max(0.001, timeout))
        messages = [self._describe_message(m, handle, wanted) for m, handle in taken]
        return {"Messages": messages} if messages else {}

    def _take(self, queue, count, visibility, now):
        taken = []
        for message in list(queue.messages.values()):
            if len(taken) >= count:
                break
            if message.visible_at > now:
                continue
            if queue.dead_letter is not None and message.receive_count >= queue.dead_letter[1]:
                target = self.queues.get(queue.dead_letter[0])
                del queue.messages[message.id]
                if target is not None:
                    moved = target.send(message.body, now, delay=0, sender=message.sender)
                    moved.sent = message.sent
                    self.emulator.changed.notify_all()
                continue
            message.receive_count += 1
            if message.first_receive is None:
                message.first_receive = now
            message.visible_at = now + visibility
            queue.received += 1
            taken.append((message, queue.issue_handle(message)))
        return taken

    @staticmethod
    def _describe_message(message, handle, wanted):
        out = {"MessageId": message.id, "ReceiptHandle": handle, "MD5OfBody": message.md5,
               "Body": message.body}
        names = MESSAGE_ATTRIBUTES if "All" in wanted else [n for n in MESSAGE_ATTRIBUTES
                                                             if n in wanted]
        values = {"SenderId": message.sender,
                  "SentTimestamp": str(int(message.sent * 1000)),
                  "ApproximateReceiveCount": str(message.receive_count),
                  "ApproximateFirstReceiveTimestamp": str(int(message.first_receive * 1000))}
        if names:
            out["Attributes"] = {name: values[name] for name in names}
        return out

    def _delete(self, queue, handle):
        message = queue.message_for(handle)
        if message is not None:
            del queue.messages[message.id]
            queue.deleted += 1

    def op_DeleteMessage(self, ctx, args):
        queue = self._queue(ctx, args)
        self._delete(queue, args["ReceiptHandle"])
        return {}

    def op_DeleteMessageBatch(self, ctx, args):
        queue = self._queue(ctx, args)
        entries = args.get("Entries") or []
        if not entries:
            raise AwsError("AWS.SimpleQueueService.EmptyBatchRequest",
                           "There should be at least one DeleteMessageBatchRequestEntry in the "
                           "request.", 400)
        if len(entries) > 10:
            raise AwsError("AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
                           f"Maximum number of entries per request are 10. You have sent "
                           f"{len(entries)}.", 400)
        ids = [entry.get("Id") for entry in entries]
        for entry_id in ids:
            if not entry_id or not re.fullmatch(r"[A-Za-z0-9_-]{1,80}", entry_id):
                raise AwsError("AWS.SimpleQueueService.InvalidBatchEntryId",
                               "A batch entry id can only contain alphanumeric characters, "
                               "hyphens and underscores. It can be at most 80 letters long.",
                               400)
        if len(set(ids)) != len(ids):
            duplicate = next(i for i in ids if ids.count(i) > 1)
            raise AwsError("AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
                           f"Id {duplicate} repeated.", 400)
        successful, failed = [], []
        for entry in entries:
            try:
                self._delete(queue, entry.get("ReceiptHandle") or "")
                successful.append({"Id": entry["Id"]})
            except AwsError as error:
                failed.append({"Id": entry["Id"], "SenderFault": True, "Code": error.code,
                               "Message": error.message})
        return {"Successful": successful, "Failed": failed}

    def op_ChangeMessageVisibility(self, ctx, args):
        queue = self._queue(ctx, args)
        timeout = args["VisibilityTimeout"]
        if not 0 <= timeout <= MAX_VISIBILITY_SECONDS:
            raise invalid_parameter("VisibilityTimeout", timeout,
                                    "Must be >= 0 and <= 43200, if provided.")
        handle = args["ReceiptHandle"]
        message = queue.message_for(handle)
        if message is None or message.visible_at <= ctx.now:
            raise invalid_parameter("ReceiptHandle", handle, "Message does not exist or is not "
                                    "available for visibility timeout change.")
        message.visible_at = ctx.now + timeout
        self.emulator.changed.notify_all()
        return {}

    def op_GetQueueAttributes(self, ctx, args):
        queue = self._queue(ctx, args)
        wanted = args.get("AttributeNames") or []
        names = QUEUE_ATTRIBUTES if "All" in wanted else wanted
        unknown = [n for n in names if n not in QUEUE_ATTRIBUTES]
        if unknown:
            raise AwsError("InvalidAttributeName", f"Unknown Attribute {unknown[0]}.", 400)
        visible, in_flight, delayed = queue.counts(ctx.now)
        values = dict(queue.attributes)
        values.update({"ApproximateNumberOfMessages": str(visible),
                       "ApproximateNumberOfMessagesNotVisible": str(in_flight),
                       "ApproximateNumberOfMessagesDelayed": str(delayed),
                       "CreatedTimestamp": str(int(queue.created)),
                       "LastModifiedTimestamp": str(int(queue.modified)),
                       "QueueArn": queue.arn})
        if queue.dead_letter is not None:
            dlq = self.queues.get(queue.dead_letter[0])
            target = dlq.arn if dlq else f"arn:aws:sqs:{queue.region}:{queue.account}:" \
                f"{queue.dead_letter[0]}"
            values["RedrivePolicy"] = json.dumps(
                {"deadLetterTargetArn": target, "maxReceiveCount": queue.dead_letter[1]},
                separators=(",", ":"))
        out = {name: values[name] for name in names if name in values}
        return {"Attributes": out} if out else {}

    def op_PurgeQueue(self, ctx, args):
        queue = self._queue(ctx, args)
        queue.messages.clear()
        return {}
