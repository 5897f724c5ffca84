"""The AWS Query protocol, server side: request parameters in, XML out.

parse_input() turns flattened form parameters (`Targets.member.1.Id=...`) into the nested dict
that botocore's input shape describes, validating what the model states (required members,
lengths, ranges, enums, simple patterns) and reporting violations the way AWS Query services
do ("1 validation error detected: Value null at 'targets.1.member.id' ..."). QueryService is
the base of every Query service (ELBv2, STS; later EC2, Auto Scaling): it owns the model,
dispatches an action to its `op_<Action>` method and serializes the result.
Thread-safety: parsing is pure; services guard their own state.
"""

import datetime
import re

from . import xml
from .errors import AwsError, coral_validation, model_error


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


def _parse(shape, params, key, path, errors):
    kind = shape.type_name
    if kind == "structure":
        out = {}
        missing = []
        for member_name, member_shape in shape.members.items():
            location = member_shape.serialization.get("name", member_name)
            member_key = f"{key}.{location}" if key else location
            member_path = f"{path}.{_lower_first(member_name)}" if path else _lower_first(
                member_name)
            value = _parse(member_shape, params, member_key, member_path, errors)
            if value is None:
                if member_name in shape.required_members:
                    missing.append(member_path)
            else:
                out[member_name] = value
        if not out and key:
            return None
        for member_path in missing:
            errors.append(f"Value null at '{member_path}' failed to satisfy constraint: "
                          "Member must not be null")
        return out
    if kind == "list":
        member = shape.member
        if shape.serialization.get("flattened"):
            base = f"{key}."
        else:
            base = f"{key}.{member.serialization.get('name', 'member')}."
        indices = params.list_indices(base)
        if not indices:
            return [] if params.values.get(key) == "" else None
        items = []
        for index in indices:
            item = _parse(member, params, f"{base}{index}", f"{path}.{index}.member", errors)
            if item is not None:
                items.append(item)
        _check_length(shape, items, len(items), path, errors)
        return items
    if kind == "map":
        base = f"{key}.entry."
        indices = params.list_indices(base)
        if not indices:
            return None
        out = {}
        for index in indices:
            k = params.values.get(f"{base}{index}.key")
            v = _parse(shape.value, params, f"{base}{index}.value", f"{path}.{index}.value",
                       errors)
            if k is not None:
                out[k] = v
        return out
    raw = params.values.get(key)
    if raw is None:
        return None
    return _scalar(shape, raw, path, errors)


def _check_length(shape, value, length, path, errors):
    low = shape.metadata.get("min")
    high = shape.metadata.get("max")
    if low is not None and length < low:
        errors.append(f"Value '{_describe(value)}' at '{path}' failed to satisfy constraint: "
                      f"Member must have length greater than or equal to {low}")
    if high is not None and length > high:
        errors.append(f"Value '{_describe(value)}' at '{path}' failed to satisfy constraint: "
                      f"Member must have length less than or equal to {high}")


def _scalar(shape, raw, path, errors):
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
    enum = shape.metadata.get("enum")
    if enum and raw not in enum:
        errors.append(f"Value '{raw}' at '{path}' failed to satisfy constraint: "
                      f"Member must satisfy enum value set: [{', '.join(enum)}]")
    pattern = _pattern(shape)
    if pattern is not None and not pattern.fullmatch(raw):
        errors.append(f"Value '{raw}' at '{path}' failed to satisfy constraint: "
                      f"Member must satisfy regular expression pattern: "
                      f"{shape.metadata['pattern']}")
    return raw


def parse_input(input_shape, params):
    """The operation's input as a nested dict; raises ValidationError as AWS words it."""
    if input_shape is None:
        return {}
    errors = []
    value = _parse(input_shape, _Params(params), "", "", errors)
    if errors:
        raise coral_validation(errors)
    return value or {}


class RequestContext:
    """What a handler knows about the call it serves."""

    def __init__(self, request_id, region, account, now, credential=None, service=None):
        self.request_id = request_id
        self.region = region
        self.account = account
        self.now = now
        self.credential = credential
        self.service = service


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
        args = parse_input(operation.input_shape, params)
        result = getattr(self, f"op_{action}")(ctx, args)
        return xml.serialize_result(operation, self.namespace, result, ctx.request_id,
                                    self.timestamp_style)
