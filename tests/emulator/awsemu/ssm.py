"""AWS Systems Manager Parameter Store, the part notifications use: GetParameter (and
GetParameters, PutParameter, DeleteParameter for tests and SDK clients) over the AWS JSON 1.1
protocol (`X-Amz-Target: AmazonSSM.<Action>`, SigV4 service "ssm").

Parameters are String, StringList or SecureString. A SecureString read without
WithDecryption answers an opaque ciphertext (base64), as AWS does; with it, the plaintext,
unless the control API has denied decryption for that parameter (the task role lacks
kms:Decrypt on the key): then AccessDeniedException, worded like KMS's refusal. Names are
"/a/b" paths or plain names; a call may also name a parameter by its ARN.
Errors are AWS JSON: {"__type": "ParameterNotFound", "message": ...}, HTTP 400.

Control API (under /_emulator/, see README.md):
  POST ssm/parameters {"name", "value", "type"?: SecureString, "denyDecrypt"?: false}
       creates or overwrites (the version goes up); answers the parameter
  GET  ssm/parameters  every parameter with its value and version
  POST ssm/parameters/delete {"name"}
Registration (server.py): `self.ssm = SsmService(self.session, self)`, add it to
`self.services`, call `self.ssm.reset()` in Emulator.reset(), and
`self.routes.update(emulator.ssm.control_routes())` in ControlApi.__init__.
Thread-safety: ops run under the emulator lock.
"""

import base64
import hashlib
import json
import re
import time

from .errors import AwsError

NAME = re.compile(r"^/?[A-Za-z0-9_.\-]+(/[A-Za-z0-9_.\-]+)*$")
TYPES = ("String", "StringList", "SecureString")
MAX_VALUE_BYTES = 8192  # advanced tier; standard parameters hold 4 KB


class Parameter:
    def __init__(self, name, type_, value, region, account, now):
        self.name = name
        self.type = type_
        self.value = value
        self.region = region
        self.account = account
        self.version = 1
        self.modified = now
        self.deny_decrypt = False

    @property
    def arn(self):
        return f"arn:aws:ssm:{self.region}:{self.account}:parameter/{self.name.lstrip('/')}"

    def ciphertext(self):
        digest = hashlib.sha256(f"{self.arn}:{self.version}:{self.value}".encode()).digest()
        return base64.b64encode(b"AQICAHh" + digest).decode()

    def describe(self, value=None):
        return {"Name": self.name, "Type": self.type,
                "Value": self.value if value is None else value, "Version": self.version,
                "LastModifiedDate": self.modified, "ARN": self.arn, "DataType": "text"}


class SsmService:
    model_name = "ssm"
    signing_name = "ssm"
    host_prefix = "ssm"
    json_target_prefix = "AmazonSSM"
    unsigned_actions = frozenset()

    def __init__(self, session, emulator):
        self.model = session.get_service_model(self.model_name)
        self.emulator = emulator
        self.actions = {name for name in self.model.operation_names
                        if hasattr(self, f"op_{name}")}
        self.reset()

    def reset(self):
        self.parameters = {}  # name -> Parameter (names without a leading "/" are kept as given)

    # ------------------------------------------------------------------ protocol

    def knows_action(self, action):
        return action in self.model.operation_names

    def throttling_error(self):
        return AwsError("ThrottlingException", "Rate exceeded", 400)

    def fault_error(self, status, action):
        if status >= 500:
            return "InternalServerError", "An internal error occurred."
        return "ValidationException", "Injected client error"

    def error_response(self, error, request_id, protocol="json"):
        body = json.dumps({"__type": error.code, "message": error.message}).encode()
        return body, "application/x-amz-json-1.1", []

    def dispatch(self, ctx, action, params):
        raise AwsError("UnknownOperationException",
                       "SSM speaks AWS JSON 1.1 only (X-Amz-Target: AmazonSSM.<Action>)", 400)

    def dispatch_json(self, ctx, action, params):
        if action not in self.model.operation_names:
            raise AwsError("UnknownOperationException", f"Unknown operation {action}", 400)
        if action not in self.actions:
            raise AwsError("NotImplemented", f"The emulator does not implement {action}", 501,
                           sender=False)
        shape = self.model.operation_model(action).input_shape
        missing = [name for name in shape.required_members if params.get(name) is None]
        if missing:
            raise AwsError("ValidationException", f"1 validation error detected: Value null at "
                           f"'{missing[0][:1].lower() + missing[0][1:]}' failed to satisfy "
                           "constraint: Member must not be null", 400)
        result = getattr(self, f"op_{action}")(ctx, params) or {}
        return json.dumps(result, default=str).encode()

    # ------------------------------------------------------------------ parameters

    def _key(self, ctx, name):
        """The parameter name for `name`, which may be an ARN of this account and Region."""
        if not isinstance(name, str) or not name:
            raise AwsError("ValidationException", "Parameter name must not be empty", 400)
        if name.startswith("arn:"):
            parts = name.split(":", 5)
            if len(parts) != 6 or parts[2] != "ssm" or not parts[5].startswith("parameter/"):
                raise AwsError("ValidationException", f"Invalid parameter ARN {name}", 400)
            rest = parts[5][len("parameter"):]
            return rest if rest in self.parameters else rest.lstrip("/")
        return name

    def _find(self, ctx, name):
        key = self._key(ctx, name)
        parameter = self.parameters.get(key)
        if parameter is None or parameter.region != ctx.region:
            raise AwsError("ParameterNotFound", "", 400)
        return parameter

    def _read(self, parameter, decrypt):
        if parameter.type != "SecureString":
            return parameter.describe()
        if not decrypt:
            return parameter.describe(parameter.ciphertext())
        if parameter.deny_decrypt:
            raise AwsError("AccessDeniedException",
                           "User is not authorized to perform: kms:Decrypt on the key of "
                           f"parameter {parameter.name} (The ciphertext refers to a customer "
                           "master key that does not exist, does not exist in this region, or "
                           "you are not allowed to access.)", 400)
        return parameter.describe()

    def op_GetParameter(self, ctx, args):
        parameter = self._find(ctx, args["Name"])
        return {"Parameter": self._read(parameter, bool(args.get("WithDecryption")))}

    def op_GetParameters(self, ctx, args):
        names = args.get("Names") or []
        found, invalid = [], []
        for name in names:
            try:
                found.append(self._read(self._find(ctx, name), bool(args.get("WithDecryption"))))
            except AwsError as error:
                if error.code != "ParameterNotFound":
                    raise
                invalid.append(name)
        return {"Parameters": found, "InvalidParameters": invalid}

    def op_PutParameter(self, ctx, args):
        parameter = self.put(args["Name"], args["Value"], args.get("Type"),
                             bool(args.get("Overwrite")), ctx.region)
        return {"Version": parameter.version, "Tier": "Standard"}

    def op_DeleteParameter(self, ctx, args):
        parameter = self._find(ctx, args["Name"])
        del self.parameters[parameter.name]
        return {}

    def put(self, name, value, type_=None, overwrite=True, region=None):
        if not isinstance(name, str) or not NAME.match(name) or len(name) > 1011:
            raise AwsError("ValidationException", f"Parameter name: {name!r} is not valid", 400)
        if not isinstance(value, str) or len(value.encode()) > MAX_VALUE_BYTES:
            raise AwsError("ValidationException", "Parameter value must be a string of at most "
                           f"{MAX_VALUE_BYTES} bytes", 400)
        region = region or self.emulator.settings.region
        existing = self.parameters.get(name)
        if existing is not None:
            if not overwrite:
                raise AwsError("ParameterAlreadyExists", "The parameter already exists. To "
                               "overwrite this value, set the overwrite option in the request "
                               "to true.", 400)
            existing.value = value
            existing.type = type_ or existing.type
            existing.version += 1
            existing.modified = time.time()
            return existing
        type_ = type_ or "SecureString"
        if type_ not in TYPES:
            raise AwsError("ValidationException", f"Type {type_!r} is not one of {TYPES}", 400)
        parameter = Parameter(name, type_, value, region, self.emulator.settings.account,
                              time.time())
        self.parameters[name] = parameter
        return parameter

    # ------------------------------------------------------------------ control API

    def control_routes(self):
        return {
            ("GET", "ssm/parameters"): self.control_list,
            ("POST", "ssm/parameters"): self.control_put,
            ("POST", "ssm/parameters/delete"): self.control_delete,
        }

    def control_list(self, body, params):
        return {"parameters": [dict(p.describe(), denyDecrypt=p.deny_decrypt)
                               for p in self.parameters.values()]}

    def control_put(self, body, params):
        if "name" not in body or "value" not in body:
            raise ValueError("ssm/parameters needs 'name' and 'value'")
        parameter = self.put(body["name"], body["value"], body.get("type"), True,
                             body.get("region"))
        if "denyDecrypt" in body:
            parameter.deny_decrypt = bool(body["denyDecrypt"])
        return dict(parameter.describe(), denyDecrypt=parameter.deny_decrypt)

    def control_delete(self, body, params):
        name = body.get("name")
        if name not in self.parameters:
            raise ValueError(f"no parameter {name!r}")
        del self.parameters[name]
        return {"name": name}
