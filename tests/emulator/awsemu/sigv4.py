"""Verification of AWS Signature Version 4 on incoming requests.

The expected signature is recomputed with botocore's own signer (botocore.auth.SigV4Auth:
canonical request, string to sign, signing key), restricted to exactly the headers the client
listed in SignedHeaders, over the body actually received, and compared in constant time.
Both the Authorization header and presigned query parameters (X-Amz-Signature) are accepted.

Errors are those AWS answers with: MissingAuthenticationToken, IncompleteSignature,
InvalidClientTokenId, ExpiredToken, SignatureDoesNotMatch (also "Signature expired" when
X-Amz-Date is more than 15 minutes off). A mismatch message carries the canonical request and
string to sign AWS expected, as AWS does, so client authors can see what differs.
Thread-safety: Verifier is immutable apart from the CredentialStore it reads.
"""

import datetime
import email.utils
import hashlib
import hmac

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.compat import HTTPHeaders
from botocore.credentials import Credentials

from .errors import AwsError

ALGORITHM = "AWS4-HMAC-SHA256"
SIGV4_TIMESTAMP = "%Y%m%dT%H%M%SZ"
MAX_SKEW_SECONDS = 15 * 60

_MISMATCH = ("The request signature we calculated does not match the signature you provided. "
             "Check your AWS Secret Access Key and signing method. Consult the service "
             "documentation for details.")


def _incomplete(message):
    return AwsError("IncompleteSignature", message, 403)


def _mismatch(message=_MISMATCH):
    return AwsError("SignatureDoesNotMatch", message, 403)


class SignedRequest:
    """The signature claims of one request, before they are checked."""

    def __init__(self, access_key, scope_date, region, service, terminator, signed_headers,
                 signature, amz_date, token, presigned, expires=None):
        self.access_key = access_key
        self.scope_date = scope_date
        self.region = region
        self.service = service
        self.terminator = terminator
        self.signed_headers = signed_headers
        self.signature = signature
        self.amz_date = amz_date
        self.token = token
        self.presigned = presigned
        self.expires = expires


class _HeaderView:
    """Case-insensitive, multi-valued view of request headers given as (name, value) pairs."""

    def __init__(self, pairs):
        self.pairs = [(name.lower(), value) for name, value in pairs]

    def get(self, name):
        name = name.lower()
        for key, value in self.pairs:
            if key == name:
                return value
        return None

    def get_all(self, name):
        name = name.lower()
        return [value for key, value in self.pairs if key == name]


def _split_credential(credential):
    parts = credential.split("/")
    if len(parts) != 5:
        raise _incomplete(f"Credential should have exactly 5 parts (access key, date, region, "
                          f"service, terminator), not '{credential}'.")
    return parts


def _date_from_headers(headers):
    amz_date = headers.get("x-amz-date")
    if amz_date is not None:
        return amz_date.strip()
    http_date = headers.get("date")
    if http_date is None:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(http_date)
    except (TypeError, ValueError):
        return http_date.strip()
    return parsed.astimezone(datetime.timezone.utc).strftime(SIGV4_TIMESTAMP)


def parse_signature(headers_pairs, query_pairs):
    """The request's SigV4 claims, or None when it carries no signature at all."""
    headers = _HeaderView(headers_pairs)
    authorization = headers.get("authorization")
    query = dict(query_pairs)
    if authorization is None:
        if "X-Amz-Signature" not in query and "X-Amz-Algorithm" not in query:
            return None
        missing = [name for name in ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date",
                                     "X-Amz-SignedHeaders", "X-Amz-Signature")
                   if name not in query]
        if missing:
            raise _incomplete("AWS query-string parameters must include "
                              + ", ".join(f"'{name}'" for name in missing)
                              + ". Re-examine the query-string parameters.")
        if query["X-Amz-Algorithm"] != ALGORITHM:
            raise _incomplete(f"Unsupported AWS 'algorithm': '{query['X-Amz-Algorithm']}'")
        access_key, scope_date, region, service, terminator = _split_credential(
            query["X-Amz-Credential"])
        expires = query.get("X-Amz-Expires")
        return SignedRequest(access_key, scope_date, region, service, terminator,
                             query["X-Amz-SignedHeaders"].split(";"),
                             query["X-Amz-Signature"], query["X-Amz-Date"],
                             query.get("X-Amz-Security-Token"), True,
                             int(expires) if expires and expires.isdigit() else None)
    authorization = authorization.strip()
    algorithm, _, rest = authorization.partition(" ")
    if algorithm != ALGORITHM:
        raise _incomplete(f"Unsupported AWS 'algorithm': '{algorithm}'. "
                          f"Authorization={authorization[:40]}")
    fields = {}
    for item in rest.split(","):
        name, sep, value = item.strip().partition("=")
        if sep:
            fields[name.strip()] = value.strip()
    amz_date = _date_from_headers(headers)
    problems = [f"Authorization header requires '{name}' parameter."
                for name in ("Credential", "Signature", "SignedHeaders") if name not in fields]
    if amz_date is None:
        problems.append("Authorization header requires existence of either a 'X-Amz-Date' or "
                        "a 'Date' header.")
    if problems:
        raise _incomplete(" ".join(problems) + f" Authorization={algorithm} "
                          + rest.split("Signature=")[0].strip().rstrip(","))
    access_key, scope_date, region, service, terminator = _split_credential(
        fields["Credential"])
    return SignedRequest(access_key, scope_date, region, service, terminator,
                         fields["SignedHeaders"].split(";"), fields["Signature"], amz_date,
                         headers.get("x-amz-security-token"), False)


class _ExactHeadersSigner(SigV4Auth):
    """botocore's SigV4 signer, canonicalizing exactly the headers the client signed."""

    def __init__(self, credentials, service, region, signed_headers):
        super().__init__(credentials, service, region)
        self._signed_headers = signed_headers

    def headers_to_sign(self, request):
        selected = HTTPHeaders()
        for name in self._signed_headers:
            for value in request.headers.get_all(name) or []:
                selected[name] = value
        return selected

    def _should_sha256_sign_payload(self, request):
        return True


def expected_signature(method, path, query_pairs, headers_pairs, body, signed, secret_key,
                       token=None):
    """(canonical request, string to sign, signature) botocore computes for these inputs."""
    request = AWSRequest(method=method, url="http://emulator" + path, data=body)
    request.headers = HTTPHeaders()
    wanted = {name.lower() for name in signed.signed_headers}
    for name, value in headers_pairs:
        if name.lower() in wanted:
            request.headers[name.lower()] = value
    request.params = [(k, v) for k, v in query_pairs
                      if not (signed.presigned and k == "X-Amz-Signature")]
    request.context["timestamp"] = signed.amz_date
    signer = _ExactHeadersSigner(Credentials("unused", secret_key, token), signed.service,
                                 signed.region, [name.lower() for name in signed.signed_headers])
    canonical = signer.canonical_request(request)
    string_to_sign = signer.string_to_sign(request, canonical)
    return canonical, string_to_sign, signer.signature(string_to_sign, request)


class AuthResult:
    def __init__(self, credential, region, service, signed):
        self.credential = credential
        self.region = region
        self.service = service
        self.signed = signed


class Verifier:
    """Checks signatures against a CredentialStore."""

    def __init__(self, store, max_skew=MAX_SKEW_SECONDS):
        self.store = store
        self.max_skew = max_skew

    def verify(self, method, path, query_pairs, headers_pairs, body, now, signed=None):
        """AuthResult for a signed request, None for an unsigned one; AwsError when invalid."""
        if signed is None:
            signed = parse_signature(headers_pairs, query_pairs)
        if signed is None:
            return None
        try:
            when = datetime.datetime.strptime(signed.amz_date, SIGV4_TIMESTAMP).replace(
                tzinfo=datetime.timezone.utc)
        except ValueError:
            raise _incomplete(f"Date must be in ISO-8601 'basic format'. Got "
                              f"'{signed.amz_date}'. See http://en.wikipedia.org/wiki/ISO_8601")
        if signed.terminator != "aws4_request":
            raise _mismatch(f"Credential should be scoped with a valid terminator: "
                            f"'aws4_request', not '{signed.terminator}'.")
        if signed.scope_date != signed.amz_date[:8]:
            raise _mismatch(f"Date in Credential scope does not match YYYYMMDD from ISO-8601 "
                            f"version of date from HTTP: '{signed.scope_date}' != "
                            f"'{signed.amz_date[:8]}', from '{signed.amz_date}'.")
        if "host" not in [name.lower() for name in signed.signed_headers]:
            raise _incomplete("'Host' or ':authority' must be a 'SignedHeader' in the AWS "
                              "Authorization.")
        credential = self.store.get(signed.access_key)
        if credential is None:
            raise AwsError("InvalidClientTokenId",
                           "The security token included in the request is invalid.", 403)
        if (signed.token or None) != credential.session_token:
            raise AwsError("InvalidClientTokenId",
                           "The security token included in the request is invalid.", 403)
        if credential.expires_at is not None and now >= credential.expires_at:
            raise AwsError("ExpiredToken", "The security token included in the request is "
                           "expired", 400)
        now_dt = datetime.datetime.fromtimestamp(now, tz=datetime.timezone.utc)
        skew = (when - now_dt).total_seconds()
        fmt = SIGV4_TIMESTAMP
        if skew < -self.max_skew:
            earliest = now_dt - datetime.timedelta(seconds=self.max_skew)
            raise _mismatch(f"Signature expired: {signed.amz_date} is now earlier than "
                            f"{earliest.strftime(fmt)} ({now_dt.strftime(fmt)} - 15 min.)")
        if skew > self.max_skew:
            latest = now_dt + datetime.timedelta(seconds=self.max_skew)
            raise _mismatch(f"Signature not yet current: {signed.amz_date} is still later than "
                            f"{latest.strftime(fmt)} ({now_dt.strftime(fmt)} + 15 min.)")
        if signed.presigned and signed.expires is not None and \
                now_dt > when + datetime.timedelta(seconds=signed.expires):
            raise _mismatch(f"Signature expired: {signed.amz_date} is now earlier than "
                            f"{(now_dt - datetime.timedelta(seconds=signed.expires)).strftime(fmt)}"
                            f" ({now_dt.strftime(fmt)} - {signed.expires} sec.)")
        headers = _HeaderView(headers_pairs)
        declared = headers.get("x-amz-content-sha256")
        if signed.service == "s3" and not signed.presigned:
            # S3 requires the header on header-signed calls, and accepts an unsigned payload.
            if declared is None:
                raise AwsError("InvalidRequest", "Missing required header for this request: "
                               "x-amz-content-sha256", 400)
            if declared == "UNSIGNED-PAYLOAD":
                declared = None
        if declared is not None and declared != hashlib.sha256(body or b"").hexdigest():
            raise _mismatch("The provided 'x-amz-content-sha256' header does not match what "
                            "was computed.")
        canonical, string_to_sign, signature = expected_signature(
            method, path, query_pairs, headers_pairs, body, signed, credential.secret_key)
        if not hmac.compare_digest(signature, signed.signature):
            raise _mismatch(_MISMATCH + "\n\nThe Canonical String for this request should have "
                            f"been\n'{canonical}'\n\nThe String-to-Sign should have been\n"
                            f"'{string_to_sign}'\n")
        return AuthResult(credential, signed.region, signed.service, signed)
