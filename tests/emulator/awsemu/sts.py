"""AWS Security Token Service (Query protocol, 2011-06-15): GetCallerIdentity, AssumeRole and
AssumeRoleWithWebIdentity.

AssumeRole is signed, like every other call, and authorised from a table of roles (config key
`roles`, control API /_emulator/roles): {"arn", "externalId" (optional), "trusted": [account
ids and/or IAM ARNs]}, the emulator's model of a role's trust policy. The caller is trusted
when its credential's account is listed, or its ARN is (an assumed-role session matches its
role's IAM ARN, as IAM evaluates a trust policy's role principal). A role with an externalId
requires exactly that ExternalId; a role without one accepts any (a trust policy without an
sts:ExternalId condition ignores it). Anything else answers AccessDenied as IAM does. The
credentials it issues belong to the role's account, so ELBv2 calls made with them act there.

AssumeRoleWithWebIdentity is accepted unsigned, as on AWS. It issues temporary credentials
that the emulator then accepts until Expiration = now + DurationSeconds (or the
stsDurationSeconds setting, which may be shorter than AWS's 900 s minimum for refresh tests).
A JWT token's claims (sub, aud, iss, exp) are read without verifying its signature; the
webIdentityTokens setting restricts which tokens are accepted.
Thread-safety: ops run under the emulator lock; the CredentialStore has its own.
"""

import base64
import datetime
import hashlib
import json
import re

from . import xml
from .errors import AwsError, validation_error
from .query import QueryService

ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}):role/(?:[\w+=,.@-]+/)*([\w+=,.@-]{1,64})$")
ACCOUNT_ID = re.compile(r"^\d{12}$")
# Principals a role may trust by ARN: the account root, an IAM user or role, an STS session.
PRINCIPAL_ARN = re.compile(r"^arn:aws[a-z-]*:(?:iam::(\d{12}):(?:root|user/.+|role/.+)|"
                           r"sts::(\d{12}):assumed-role/.+)$")
ASSUMED_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:sts::(\d{12}):assumed-role/([^/]+)/[^/]+$")
EXTERNAL_ID = re.compile(r"^[\w+=,./@:-]{2,1224}$", re.ASCII)
ROLE_FIELDS = {"arn", "externalId", "trusted"}


class Role:
    """One assumable role: its ARN, the ExternalId it requires (or None), whom it trusts."""

    def __init__(self, spec):
        if not isinstance(spec, dict):
            raise ValueError("a role must be a JSON object")
        unknown = set(spec) - ROLE_FIELDS
        if unknown:
            raise ValueError(f"unknown role fields: {sorted(unknown)}")
        self.arn = spec.get("arn")
        match = ROLE_ARN.match(self.arn) if isinstance(self.arn, str) else None
        if match is None:
            raise ValueError(f"role 'arn' must be an IAM role ARN "
                             f"(arn:aws:iam::<12 digits>:role/NAME): {self.arn!r}")
        self.account, self.name = match.groups()
        self.external_id = spec.get("externalId")
        if self.external_id is not None and (not isinstance(self.external_id, str) or
                                             not EXTERNAL_ID.match(self.external_id)):
            raise ValueError(f"role {self.arn}: 'externalId' must be 2-1224 characters of "
                             f"[\\w+=,./@:-]: {self.external_id!r}")
        trusted = spec.get("trusted")
        if not isinstance(trusted, list) or not trusted:
            raise ValueError(f"role {self.arn}: 'trusted' must be a non-empty list of account "
                             "ids and/or IAM ARNs")
        for item in trusted:
            if not isinstance(item, str) or not (ACCOUNT_ID.match(item) or
                                                 PRINCIPAL_ARN.match(item)):
                raise ValueError(f"role {self.arn}: trusted entry {item!r} is neither a "
                                 "12-digit account id nor an IAM principal ARN")
        self.trusted = list(trusted)

    def trusts(self, credential):
        """True when the caller may assume this role (its account or its ARN is listed)."""
        session = ASSUMED_ROLE_ARN.match(credential.arn or "")
        for item in self.trusted:
            if item in (credential.account, credential.arn):
                return True
            principal = PRINCIPAL_ARN.match(item)
            if principal is not None and item.endswith(":root") and \
                    principal.group(1) == credential.account:
                return True  # arn:aws:iam::A:root names the whole account
            role = ROLE_ARN.match(item)
            if role is not None and session is not None and role.groups() == session.groups():
                return True  # a role session acts as its role
        return False

    def describe(self):
        return {"arn": self.arn, "externalId": self.external_id, "trusted": list(self.trusted)}


def _jwt_claims(token):
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        payload = parts[1] + "=" * (-len(parts[1]) % 4)
        claims = json.loads(base64.urlsafe_b64decode(payload.encode()))
    except (ValueError, UnicodeDecodeError):
        return None
    return claims if isinstance(claims, dict) else None


class StsService(QueryService):
    model_name = "sts"
    signing_name = "sts"
    host_prefix = "sts"
    unsigned_actions = frozenset({"AssumeRoleWithWebIdentity"})
    timestamp_style = xml.ISO8601

    def __init__(self, session, emulator):
        super().__init__(session)
        self.emulator = emulator
        self.roles = {}  # role ARN -> Role

    def reset(self):
        # Issued credentials stay valid across a reset (clients may hold them); the role
        # table goes back to the config file's (the emulator re-seeds it).
        self.roles = {}

    def put_role(self, spec):
        """Adds or replaces (by ARN) a role; ValueError when the spec is malformed."""
        role = Role(spec)
        self.roles[role.arn] = role
        return role

    def _issue(self, ctx, account, role_name, role_arn, session_name, duration):
        """Temporary credentials of an assumed-role session and the AssumedRoleUser."""
        expires_at = ctx.now + duration
        role_id = "AROA" + hashlib.sha256(role_arn.encode()).hexdigest()[:17].upper()
        assumed_arn = f"arn:aws:sts::{account}:assumed-role/{role_name}/{session_name}"
        credential = self.emulator.credentials.issue(
            account, expires_at, assumed_arn, f"{role_id}:{session_name}")
        return {
            "Credentials": {
                "AccessKeyId": credential.access_key,
                "SecretAccessKey": credential.secret_key,
                "SessionToken": credential.session_token,
                "Expiration": datetime.datetime.fromtimestamp(int(expires_at),
                                                              tz=datetime.timezone.utc),
            },
            "AssumedRoleUser": {"AssumedRoleId": f"{role_id}:{session_name}",
                                "Arn": assumed_arn},
        }

    def op_AssumeRole(self, ctx, args):
        # Lengths, patterns and the DurationSeconds range were checked against the model.
        role_arn = args["RoleArn"]
        if ROLE_ARN.match(role_arn) is None:
            raise validation_error("Request ARN is invalid")
        caller = ctx.credential
        role = self.roles.get(role_arn)
        external_id = args.get("ExternalId")
        if role is None or not role.trusts(caller) or (
                role.external_id is not None and external_id != role.external_id):
            raise AwsError("AccessDenied", f"User: {caller.arn} is not authorized to perform: "
                           f"sts:AssumeRole on resource: {role_arn}", 403)
        duration = self.emulator.settings.sts_duration
        if duration is None:
            duration = args.get("DurationSeconds", 3600)
        return self._issue(ctx, role.account, role.name, role.arn, args["RoleSessionName"],
                           duration)

    def op_GetCallerIdentity(self, ctx, args):
        credential = ctx.credential
        return {"UserId": credential.user_id, "Account": credential.account,
                "Arn": credential.arn}

    def op_AssumeRoleWithWebIdentity(self, ctx, args):
        settings = self.emulator.settings
        match = ROLE_ARN.match(args["RoleArn"])
        if match is None:
            raise validation_error("Request ARN is invalid")
        account, role_name = match.groups()
        if account != ctx.account:
            raise AwsError("AccessDenied",
                           "Not authorized to perform sts:AssumeRoleWithWebIdentity", 403)
        token = args["WebIdentityToken"]
        if settings.web_identity_tokens and token not in settings.web_identity_tokens:
            raise self.error("InvalidIdentityToken",
                             "The web identity token that was passed could not be validated "
                             "by AWS. Get a new identity token from the identity provider and "
                             "then retry the request.")
        claims = _jwt_claims(token) or {}
        exp = claims.get("exp")
        if isinstance(exp, (int, float)) and exp <= ctx.now:
            now_text = xml.format_timestamp(ctx.now, xml.ISO8601)
            raise self.error("ExpiredTokenException",
                             f"Token expired: current date/time {now_text} must be before the "
                             f"expiration date/time {xml.format_timestamp(exp, xml.ISO8601)}")
        duration = settings.sts_duration
        if duration is None:
            duration = args.get("DurationSeconds", 3600)
        out = self._issue(ctx, account, role_name, args["RoleArn"], args["RoleSessionName"],
                          duration)
        issuer = str(claims.get("iss", "https://emulator.invalid"))
        audience = claims.get("aud", "sts.amazonaws.com")
        if isinstance(audience, list):
            audience = audience[0] if audience else ""
        subject = str(claims.get("sub", "system:serviceaccount:emulator:" +
                                 hashlib.sha256(token.encode()).hexdigest()[:12]))
        out.update({"SubjectFromWebIdentityToken": subject,
                    "Provider": re.sub(r"^https://", "", issuer),
                    "Audience": str(audience)})
        return out
