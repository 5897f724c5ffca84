"""The AWS Query protocol, server side: request parameters in, XML out.

parse_input() turns flattened form parameters (`Targets.member.1.Id=...`) into the nested dict
that botocore's input shape describes, validating what the model states (required members,
lengths, ranges, enums, simple patterns) and reporting violations the way AWS Query services
do ("1 validation error detected: Value null at 'targets.1.member.id' ..."). The EC2 variant
of the protocol names parameters after `queryName` or the capitalized `locationName` and
numbers list items directly (`Filter.1.Value.2`, `InstanceId.1`); QUERY and EC2 are the two
naming styles. QueryService is the base of every Query service (ELBv2, STS, Auto Scaling,
SQS; EC2 overrides parsing and serializing): it owns the model, dispatches an action to its
`op_<Action>` method and serializes the result.
Thread-safety: parsing is pure; services guard their own state.
"""

import datetime
import re

from . import xml
from .errors import AwsError, coral_validation, model_error, throttling


def _lower_first(name):
    return name[:1].lower() + name[1:]


def _pattern(shape):
    """The member's pattern when Python's re can honour it, else None (Java-only classes)."""
    raw = shape.metadata.get("pattern")
    if not raw or "\\p" in raw or "\\u" in raw:
        return None
    try:
        return re.compile(raw)
    except re.error:
        return None


def _describe(value):
    if isinstance(value, list):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return str(value)


class Style:
    """How one protocol names parameters, and what it validates."""

    def __init__(self, ec2=False, enums=True):
        self.ec2 = ec2
        self.enums = enums  # SQS's old model lists attribute names it does not enumerate

    def member_key(self, member_name, member_shape):
        serialization = member_shape.serialization
        if self.ec2:
            if serialization.get("queryName"):
                return serialization["queryName"]
            if serialization.get("name"):
                name = serialization["name"]
                return name[:1].upper() + name[1:]
            return member_name
        return serialization.get("name", member_name)

    def list_base(self, key, shape):
        if self.ec2:
            return f"{key}."
        if shape.serialization.get("flattened"):
            # botocore replaces the list's own name by its member's (AttributeName.1).
            member_name = shape.member.serialization.get("name")
            if member_name:
                key = ".".join(key.split(".")[:-1] + [member_name])
            return f"{key}."
        return f"{key}.{shape.member.serialization.get('name', 'member')}."


QUERY = Style()
EC2 = Style(ec2=True)


class _Params:
    def __init__(self, params):
        self.values = params

    def list_indices(self, base):
        """Indices N of keys `<base>N` or `<base>N.<rest>`, sorted."""
        found = set()
        cut = len(base)
        for key in self.values:
            if key.startswith(base):
                head = key[cut:].split(".", 1)[0]
                if head.isdigit():
                    found.add(int(head))
        return sorted(found)


def _parse(shape, params, key, path, errors, style=QUERY):
    kind = shape.type_name
    if kind == "structure":
        out = {}
        missing = []
        for member_name, member_shape in shape.members.items():
            location = style.member_key(member_name, member_shape)
            member_key = f"{key}.{location}" if key else location
            member_path = f"{path}.{_lower_first(member_name)}" if path else _lower_first(
                member_name)
            value = _parse(member_shape, params, member_key, member_path, errors, style)
            if value is None:
                if member_name in shape.required_members:
                    missing.append(location if style.ec2 else member_path)
            else:
                out[member_name] = value
        if not out and key:
            return None
        for member_path in missing:
            if style.ec2:
                errors.append(MissingParameter(member_path))
            else:
                errors.append(f"Value null at '{member_path}' failed to satisfy constraint: "
                              "Member must not be null")
        return out
    if kind == "list":
        member = shape.member
        base = style.list_base(key, shape)
        indices = params.list_indices(base)
        if not indices:
            return [] if params.values.get(key) == "" else None
        items = []
        for index in indices:
            item = _parse(member, params, f"{base}{index}", f"{path}.{index}.member", errors,
                          style)
            if item is not None:
                items.append(item)
        _check_length(shape, items, len(items), path, errors)
        return items
    if kind == "map":
        key_name = shape.key.serialization.get("name", "key")
        value_name = shape.value.serialization.get("name", "value")
        base = f"{key}." if shape.serialization.get("flattened") else f"{key}.entry."
        indices = params.list_indices(base)
        if not indices:
            return None
        out = {}
        for index in indices:
            k = params.values.get(f"{base}{index}.{key_name}")
            v = _parse(shape.value, params, f"{base}{index}.{value_name}",
                       f"{path}.{index}.value", errors, style)
            if k is not None:
                out[k] = v
        return out
    raw = params.values.get(key)
    if raw is None:
        return None
    return _scalar(shape, raw, path, errors, style)


def _check_length(shape, value, length, path, errors):
    low = shape.metadata.get("min")
    high = shape.metadata.get("max")
    if low is not None and length < low:
        errors.append(f"Value '{_describe(value)}' at '{path}' failed to satisfy constraint: "
                      f"Member must have length greater than or equal to {low}")
    if high is not None and length > high:
        errors.append(f"Value '{_describe(value)}' at '{path}' failed to satisfy constraint: "
                      f"Member must have length less than or equal to {high}")


def _scalar(shape, raw, path, errors, style=QUERY):
    kind = shape.type_name
    if kind in ("integer", "long"):
        try:
            value = int(raw.strip())
        except ValueError:
            errors.append(f"Value '{raw}' at '{path}' failed to satisfy constraint: "
                          "Member must be a number")
            return None
        low = shape.metadata.get("min")
        high = shape.metadata.get("max")
        if low is not None and value < low:
            errors.append(f"Value '{value}' at '{path}' failed to satisfy constraint: "
                          f"Member must have value greater than or equal to {low}")
        if high is not None and value > high:
            errors.append(f"Value '{value}' at '{path}' failed to satisfy constraint: "
                          f"Member must have value less than or equal to {high}")
        return value
    if kind in ("float", "double"):
        try:
            return float(raw)
        except ValueError:
            errors.append(f"Value '{raw}' at '{path}' failed to satisfy constraint: "
                          "Member must be a number")
            return None
    if kind == "boolean":
        lowered = raw.strip().lower()
        if lowered not in ("true", "false"):
            errors.append(f"Value '{raw}' at '{path}' failed to satisfy constraint: "
                          "Member must be a boolean")
            return None
        return lowered == "true"
    if kind == "timestamp":
        try:
            if re.fullmatch(r"\d+(\.\d+)?", raw):
                return datetime.datetime.fromtimestamp(float(raw), tz=datetime.timezone.utc)
            return datetime.datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            errors.append(f"Value '{raw}' at '{path}' failed to satisfy constraint: "
                          "Member must be a timestamp")
            return None
    _check_length(shape, raw, len(raw), path, errors)
    enum = shape.metadata.get("enum") if style.enums else None
    if enum and raw not in enum:
        errors.append(f"Value '{raw}' at '{path}' failed to satisfy constraint: "
                      f"Member must satisfy enum value set: [{', '.join(enum)}]")
    pattern = _pattern(shape)
    if pattern is not None and not pattern.fullmatch(raw):
        errors.append(f"Value '{raw}' at '{path}' failed to satisfy constraint: "
                      f"Member must satisfy regular expression pattern: "
                      f"{shape.metadata['pattern']}")
    return raw


class MissingParameter(str):
    """A required EC2 parameter that is absent (EC2 answers MissingParameter for it)."""


def parse_input(input_shape, params, style=QUERY):
    """The operation's input as a nested dict; raises ValidationError as AWS words it (EC2:
    MissingParameter / InvalidParameterValue)."""
    if input_shape is None:
        return {}
    errors = []
    value = _parse(input_shape, _Params(params), "", "", errors, style)
    if errors:
        if style.ec2:
            for error in errors:
                if isinstance(error, MissingParameter):
                    raise AwsError("MissingParameter",
                                   f"The request must contain the parameter {error}", 400)
            raise AwsError("InvalidParameterValue", errors[0], 400)
        raise coral_validation(errors)
    return value or {}


class RequestContext:
    """What a handler knows about the call it serves."""

    def __init__(self, request_id, region, account, now, credential=None, service=None,
                 path="/"):
        self.request_id = request_id
        self.region = region
        self.account = account
        self.now = now
        self.credential = credential
        self.service = service
        self.path = path  # the request path (SQS calls may address the queue URL itself)


class QueryService:
    """Base of a Query-protocol service. Subclasses define `op_<Action>(ctx, args) -> dict`.

    Class attributes: `model_name` (botocore service name), `signing_name` (SigV4 scope name),
    `host_prefix` (the endpoint prefix of its regional host), `unsigned_actions` (actions AWS
    accepts without a signature), `timestamp_style` (how its XML formats dates).
    """

    model_name = ""
    signing_name = ""
    host_prefix = ""
    unsigned_actions = frozenset()
    timestamp_style = xml.ISO8601_MS
    parse_style = QUERY
    json_target_prefix = None  # e.g. "AmazonSQS": the service also speaks AWS JSON 1.0

    def __init__(self, session):
        self.model = session.get_service_model(self.model_name)
        self.namespace = self.model.metadata["xmlNamespace"]
        self.api_version = self.model.metadata["apiVersion"]
        self.actions = {name for name in self.model.operation_names
                        if hasattr(self, f"op_{name}")}

    def error(self, code, message):
        return model_error(self.model, code, message)

    def knows_action(self, action):
        return action in self.model.operation_names

    # Protocol hooks: how this service words throttles and injected faults, and its error body.

    def throttling_error(self):
        return throttling()

    def fault_error(self, status, action):
        """(code, message) of an injected HTTP `status` error."""
        if status == 503:
            return "ServiceUnavailable", "Service is unavailable. Please retry."
        if status >= 500:
            return "InternalFailure", "The request processing has failed because of an " \
                "unknown error, exception or failure."
        return "InvalidParameterValue", "Injected client error"

    def dispatch_json(self, ctx, action, params):
        """AWS JSON 1.0 calls; only services with a `json_target_prefix` accept them."""
        raise AwsError("UnknownOperationException",
                       f"{self.signing_name} does not accept JSON-protocol calls", 400)

    def error_response(self, error, request_id, protocol="query"):
        """(body bytes, content type, extra headers) of an AwsError."""
        body = xml.serialize_error(self.namespace, error.code, error.message, request_id,
                                   error.sender)
        return body, "text/xml", []

    def dispatch(self, ctx, action, params):
        """Runs one call; returns the response body (bytes) or raises AwsError."""
        if not action:
            raise AwsError("MissingAction", "Missing Action", 400)
        version = params.get("Version")
        if version is None:
            raise AwsError("MissingParameter",
                           "The request must contain the parameter Version", 400)
        if action not in self.model.operation_names or version != self.api_version:
            raise AwsError("InvalidAction",
                           f"Could not find operation {action} for version {version}", 400)
        if action not in self.actions:
            raise AwsError("NotImplemented",
                           f"The emulator does not implement {action}", 501, sender=False)
        operation = self.model.operation_model(action)
        args = parse_input(operation.input_shape, params, self.parse_style)
        result = getattr(self, f"op_{action}")(ctx, args)
        return xml.serialize_result(operation, self.namespace, result, ctx.request_id,
                                    self.timestamp_style)
