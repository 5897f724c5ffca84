"""AWS Security Token Service (Query protocol, 2011-06-15): GetCallerIdentity and
AssumeRoleWithWebIdentity.

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

    def reset(self):
        pass  # issued credentials stay valid across a reset (clients may hold them)

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
        expires_at = ctx.now + duration
        session_name = args["RoleSessionName"]
        role_id = "AROA" + hashlib.sha256(args["RoleArn"].encode()).hexdigest()[:17].upper()
        assumed_arn = f"arn:aws:sts::{account}:assumed-role/{role_name}/{session_name}"
        credential = self.emulator.credentials.issue(
            account, expires_at, assumed_arn, f"{role_id}:{session_name}")
        issuer = str(claims.get("iss", "https://emulator.invalid"))
        audience = claims.get("aud", "sts.amazonaws.com")
        if isinstance(audience, list):
            audience = audience[0] if audience else ""
        subject = str(claims.get("sub", "system:serviceaccount:emulator:" +
                                 hashlib.sha256(token.encode()).hexdigest()[:12]))
        return {
            "Credentials": {
                "AccessKeyId": credential.access_key,
                "SecretAccessKey": credential.secret_key,
                "SessionToken": credential.session_token,
                "Expiration": datetime.datetime.fromtimestamp(int(expires_at),
                                                              tz=datetime.timezone.utc),
            },
            "SubjectFromWebIdentityToken": subject,
            "AssumedRoleUser": {"AssumedRoleId": f"{role_id}:{session_name}",
                                "Arn": assumed_arn},
            "Provider": re.sub(r"^https://", "", issuer),
            "Audience": str(audience),
        }
