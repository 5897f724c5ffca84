"""XML for the AWS Query protocol, generated from botocore's output shapes.

serialize_result() walks an operation's output shape, so element names, nesting and `<member>`
lists are exactly those of the service model (flattened lists and maps too, as SQS uses); a
value the model does not know is a bug and raises. serialize_ec2_result() and
serialize_ec2_error() are the EC2 variant: no result wrapper, `<requestId>` first, `<item>`
lists, and `<Response><Errors><Error>` errors. Pure functions, thread-safe.
"""

import datetime
from xml.sax.saxutils import escape

# How a service formats timestamps: ELBv2 answers with milliseconds, STS without.
ISO8601_MS = "iso8601_ms"
ISO8601 = "iso8601"


def format_timestamp(value, style=ISO8601_MS):
    if isinstance(value, (int, float)):
        value = datetime.datetime.fromtimestamp(value, tz=datetime.timezone.utc)
    value = value.astimezone(datetime.timezone.utc)
    if style == ISO8601:
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def _scalar(shape, value, ts_style):
    kind = shape.type_name
    if kind == "boolean":
        return "true" if value else "false"
    if kind in ("integer", "long"):
        return str(int(value))
    if kind in ("float", "double"):
        return repr(float(value))
    if kind == "timestamp":
        return format_timestamp(value, ts_style)
    return escape(str(value))


def _write(parts, shape, value, name, ts_style):
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            raise TypeError(f"{shape.name}: expected a dict, got {type(value).__name__}")
        unknown = set(value) - set(shape.members)
        if unknown:
            raise KeyError(f"{shape.name} has no members {sorted(unknown)}")
        inner = []
        for member_name, member_shape in shape.members.items():
            member_value = value.get(member_name)
            if member_value is None:
                continue
            _write(inner, member_shape, member_value,
                   member_shape.serialization.get("name", member_name), ts_style)
        parts.append(f"<{name}>" + "".join(inner) + f"</{name}>" if inner else f"<{name}/>")
    elif kind == "list":
        member = shape.member
        if shape.serialization.get("flattened"):
            item_name = member.serialization.get("name", name)
            for item in value:
                _write(parts, member, item, item_name, ts_style)
            return
        item_name = member.serialization.get("name", "member")
        inner = []
        for item in value:
            _write(inner, member, item, item_name, ts_style)
        parts.append(f"<{name}>" + "".join(inner) + f"</{name}>" if inner else f"<{name}/>")
    elif kind == "map":
        inner = []
        key_name = shape.key.serialization.get("name", "key")
        value_name = shape.value.serialization.get("name", "value")
        flattened = shape.serialization.get("flattened")
        for key, item in value.items():
            entry = []
            _write(entry, shape.key, key, key_name, ts_style)
            _write(entry, shape.value, item, value_name, ts_style)
            wrapper = name if flattened else "entry"
            inner.append(f"<{wrapper}>" + "".join(entry) + f"</{wrapper}>")
        if flattened:
            parts.extend(inner)
        else:
            parts.append(f"<{name}>" + "".join(inner) + f"</{name}>")
    else:
        parts.append(f"<{name}>{_scalar(shape, value, ts_style)}</{name}>")


def serialize_result(operation_model, namespace, result, request_id, ts_style=ISO8601_MS):
    """The complete `<XResponse>` document for a successful call, as bytes."""
    name = operation_model.name
    output = operation_model.output_shape
    wrapper = f"{name}Result"
    if output is not None:
        wrapper = output.serialization.get("resultWrapper", wrapper)
    parts = [f'<{name}Response xmlns="{namespace}">']
    if output is not None and result:
        body = []
        _write(body, output, result, wrapper, ts_style)
        parts.extend(body)
    else:
        parts.append(f"<{wrapper}/>")
    parts.append(f"<ResponseMetadata><RequestId>{escape(request_id)}</RequestId>"
                 f"</ResponseMetadata></{name}Response>")
    return "".join(parts).encode("utf-8")


def serialize_error(namespace, code, message, request_id, sender=True):
    """The Query protocol's `<ErrorResponse>` document, as bytes."""
    kind = "Sender" if sender else "Receiver"
    return (f'<ErrorResponse xmlns="{namespace}"><Error><Type>{kind}</Type>'
            f"<Code>{escape(code)}</Code><Message>{escape(message)}</Message></Error>"
            f"<RequestId>{escape(request_id)}</RequestId></ErrorResponse>").encode("utf-8")


def serialize_ec2_result(operation_model, namespace, result, request_id, ts_style=ISO8601_MS):
    """The EC2 protocol's `<XResponse>` document: `<requestId>` then the output members."""
    name = operation_model.name
    parts = [f'<{name}Response xmlns="{namespace}/">',
             f"<requestId>{escape(request_id)}</requestId>"]
    output = operation_model.output_shape
    if output is not None and result:
        unknown = set(result) - set(output.members)
        if unknown:
            raise KeyError(f"{output.name} has no members {sorted(unknown)}")
        for member_name, member_shape in output.members.items():
            value = result.get(member_name)
            if value is not None:
                _write(parts, member_shape, value,
                       member_shape.serialization.get("name", member_name), ts_style)
    elif output is not None and output.members.get("Return") is not None:
        parts.append("<return>true</return>")
    parts.append(f"</{name}Response>")
    return "".join(parts).encode("utf-8")


def serialize_ec2_error(code, message, request_id):
    """EC2's error document (no namespace, `RequestID` spelled so)."""
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Response><Errors><Error><Code>{escape(code)}</Code>"
            f"<Message>{escape(message)}</Message></Error></Errors>"
            f"<RequestID>{escape(request_id)}</RequestID></Response>").encode("utf-8")
