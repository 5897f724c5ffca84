"""Amazon S3, the two reads `--manifests s3://bucket/prefix/` makes, over S3's REST protocol.

Path-style addressing only (`<endpoint>/<bucket>/<key>`, as clients use on a custom endpoint);
calls are signed with SigV4 for service "s3" and must carry x-amz-content-sha256, checked
against the payload (sigv4.Verifier); "UNSIGNED-PAYLOAD" is accepted for S3, as S3 accepts it.
Operations (named by method and path):
- ListObjectsV2: GET /<bucket>?list-type=2 with prefix, continuation-token (opaque),
  start-after, max-keys (0-1000, default 1000) and encoding-type=url (keys percent-encoded, as
  boto3 asks by default); answers keys in UTF-8 binary order with quoted-MD5 ETags, Size,
  KeyCount and IsTruncated/NextContinuationToken. A delimiter is not supported (501).
- GetObject: GET /<bucket>/<key>, the body with its ETag, Content-Length and Last-Modified.
Errors are S3's `<Error><Code/><Message/><RequestId/></Error>` with x-amz-request-id:
NoSuchBucket (404), NoSuchKey (404), AccessDenied (403, for buckets created with
"denyAccessKeys" naming the caller's access key id), InvalidArgument (400). Throttling is
SlowDown (503). Fault rules use the operation names.

Control API (under /_emulator/s3/, see README.md): create and list buckets, put, delete and
list objects, without signing, log or quotas.
Thread-safety: ops and control calls run under the emulator lock.
"""

import base64
import datetime
import email.utils
import hashlib
import time
import urllib.parse
from xml.sax.saxutils import escape

from .errors import AwsError

NAMESPACE = "http://s3.amazonaws.com/doc/2006-03-01/"
MAX_KEYS = 1000


def _iso(ts):
    return datetime.datetime.fromtimestamp(ts, tz=datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%S.000Z")


class _Object:
    def __init__(self, body, now, content_type):
        self.body = body
        self.etag = '"' + hashlib.md5(body).hexdigest() + '"'
        self.modified = now
        self.content_type = content_type


class S3Service:
    signing_name = "s3"
    host_prefix = "s3"
    rest_protocol = True
    json_target_prefix = None
    unsigned_actions = frozenset()

    def __init__(self, session, emulator):
        self.emulator = emulator
        self.reset()

    def reset(self):
        self.buckets = {}  # name -> {"objects": {key: _Object}, "deny": set of access keys}

    # ------------------------------------------------------------------ protocol

    def knows_action(self, action):
        return False  # routed by its signing name, never by `Action`

    def throttling_error(self):
        return AwsError("SlowDown", "Please reduce your request rate.", 503, sender=False)

    def fault_error(self, status, action):
        if status == 503:
            return "ServiceUnavailable", "Please reduce your request rate."
        if status >= 500:
            return "InternalError", "We encountered an internal error. Please try again."
        if status == 403:
            return "AccessDenied", "Access Denied"
        return "InvalidRequest", "Injected client error"

    def error_response(self, error, request_id, protocol="rest-xml"):
        body = ('<?xml version="1.0" encoding="UTF-8"?>\n'
                f"<Error><Code>{escape(error.code)}</Code><Message>{escape(error.message)}"
                f"</Message><RequestId>{escape(request_id)}</RequestId></Error>")
        return body.encode("utf-8"), "application/xml", [("x-amz-request-id", request_id)]

    def dispatch_json(self, ctx, action, params):
        raise AwsError("NotImplemented", "S3 speaks REST-XML only", 501, sender=False)

    def route(self, method, path, query_pairs):
        """(operation name, log params) of a REST call; AwsError when none matches."""
        parts = path.lstrip("/").split("/", 1)
        bucket = urllib.parse.unquote(parts[0])
        key = urllib.parse.unquote(parts[1]) if len(parts) > 1 else ""
        params = {"Bucket": bucket}
        for name, value in query_pairs:
            params.setdefault(name, value)
        if method != "GET" or not bucket:
            raise AwsError("NotImplemented", f"The emulator implements GET on objects and "
                           f"buckets only, not {method} {path}", 501, sender=False)
        if key:
            params["Key"] = key
            return "GetObject", params
        if params.get("list-type") != "2":
            raise AwsError("NotImplemented", "The emulator implements ListObjectsV2 "
                           "(list-type=2) only", 501, sender=False)
        return "ListObjectsV2", params

    def dispatch(self, ctx, action, params):
        """Runs one call; returns (status, body bytes, extra headers) or raises AwsError."""
        bucket = self._bucket(params["Bucket"], ctx)
        if action == "GetObject":
            return self._get_object(ctx, bucket, params)
        return self._list_objects_v2(ctx, bucket, params)

    # ------------------------------------------------------------------ operations

    def _bucket(self, name, ctx):
        bucket = self.buckets.get(name)
        if bucket is None:
            raise AwsError("NoSuchBucket", "The specified bucket does not exist", 404)
        if ctx.credential is not None and ctx.credential.access_key in bucket["deny"]:
            raise AwsError("AccessDenied", "Access Denied", 403)
        return bucket

    def _get_object(self, ctx, bucket, params):
        obj = bucket["objects"].get(params["Key"])
        if obj is None:
            raise AwsError("NoSuchKey", "The specified key does not exist.", 404)
        headers = [("ETag", obj.etag),
                   ("Last-Modified", email.utils.formatdate(obj.modified, usegmt=True)),
                   ("x-amz-request-id", ctx.request_id)]
        return 200, obj.body, headers

    def _list_objects_v2(self, ctx, bucket, params):
        if "delimiter" in params:
            raise AwsError("NotImplemented", "The emulator does not implement delimiter", 501,
                           sender=False)
        prefix = params.get("prefix", "")
        encode = params.get("encoding-type")
        if encode not in (None, "url"):
            raise AwsError("InvalidArgument", "Invalid Encoding Method specified in Request",
                           400)
        try:
            max_keys = int(params.get("max-keys", MAX_KEYS))
        except ValueError:
            raise AwsError("InvalidArgument", "Provided max-keys not an integer or within "
                           "integer range", 400) from None
        if max_keys < 0:
            raise AwsError("InvalidArgument", "Argument maxKeys must be an integer between 0 "
                           "and 2147483647", 400)
        max_keys = min(max_keys, MAX_KEYS)
        after = params.get("start-after", "")
        token = params.get("continuation-token")
        if token is not None:
            try:
                after = base64.urlsafe_b64decode(token.encode()).decode("utf-8")
            except (ValueError, UnicodeDecodeError):
                raise AwsError("InvalidArgument", "The continuation token provided is "
                               "incorrect", 400) from None
        keys = sorted((k for k in bucket["objects"] if k.startswith(prefix) and k > after),
                      key=lambda k: k.encode("utf-8"))
        page, rest = keys[:max_keys], keys[max_keys:]

        def shown(text):
            return urllib.parse.quote(text, safe="/") if encode == "url" else text

        out = ['<?xml version="1.0" encoding="UTF-8"?>\n', f'<ListBucketResult xmlns="{NAMESPACE}">',
               f"<Name>{escape(params['Bucket'])}</Name><Prefix>{escape(shown(prefix))}</Prefix>"]
        if token is not None:
            out.append(f"<ContinuationToken>{escape(token)}</ContinuationToken>")
        if "start-after" in params:
            out.append(f"<StartAfter>{escape(shown(params['start-after']))}</StartAfter>")
        out.append(f"<KeyCount>{len(page)}</KeyCount><MaxKeys>{max_keys}</MaxKeys>")
        if encode:
            out.append("<EncodingType>url</EncodingType>")
        out.append(f"<IsTruncated>{'true' if rest else 'false'}</IsTruncated>")
        if rest and page:
            next_token = base64.urlsafe_b64encode(page[-1].encode("utf-8")).decode()
            out.append(f"<NextContinuationToken>{next_token}</NextContinuationToken>")
        for key in page:
            obj = bucket["objects"][key]
            etag = escape(obj.etag, {'"': "&quot;"})
            out.append(f"<Contents><Key>{escape(shown(key))}</Key><LastModified>"
                       f"{_iso(obj.modified)}</LastModified><ETag>"
                       f"{etag}</ETag><Size>{len(obj.body)}</Size>"
                       "<StorageClass>STANDARD</StorageClass></Contents>")
        out.append("</ListBucketResult>")
        return 200, "".join(out).encode("utf-8"), [("x-amz-request-id", ctx.request_id)]

    # ------------------------------------------------------------------ control API

    def control_routes(self):
        return {
            ("GET", "s3/buckets"): self.control_buckets,
            ("POST", "s3/buckets"): self.control_create_bucket,
            ("GET", "s3/objects"): self.control_objects,
            ("POST", "s3/objects"): self.control_put_object,
            ("POST", "s3/objects/delete"): self.control_delete_object,
        }

    def control_buckets(self, body, params):
        return {"buckets": [{"name": name, "objects": len(b["objects"]),
                             "denyAccessKeys": sorted(b["deny"])}
                            for name, b in sorted(self.buckets.items())]}

    def control_create_bucket(self, body, params):
        unknown = set(body) - {"name", "denyAccessKeys"}
        if unknown:
            raise ValueError(f"unknown bucket fields: {sorted(unknown)}")
        name = body.get("name")
        if not isinstance(name, str) or not name:
            raise ValueError("s3/buckets needs 'name'")
        deny = body.get("denyAccessKeys") or []
        if not isinstance(deny, list) or any(not isinstance(k, str) for k in deny):
            raise ValueError("'denyAccessKeys' must be a list of access key ids")
        bucket = self.buckets.setdefault(name, {"objects": {}, "deny": set()})
        bucket["deny"] = set(deny)
        return {"name": name}

    def _control_bucket(self, name):
        if name not in self.buckets:
            raise ValueError(f"no bucket {name!r}")
        return self.buckets[name]

    def control_objects(self, body, params):
        bucket = self._control_bucket(params.get("bucket"))
        return {"objects": [{"key": k, "etag": o.etag, "size": len(o.body)}
                            for k, o in sorted(bucket["objects"].items())]}

    def control_put_object(self, body, params):
        unknown = set(body) - {"bucket", "key", "body", "contentType"}
        if unknown:
            raise ValueError(f"unknown object fields: {sorted(unknown)}")
        bucket = self._control_bucket(body.get("bucket"))
        key, text = body.get("key"), body.get("body")
        if not isinstance(key, str) or not key or not isinstance(text, str):
            raise ValueError("s3/objects needs 'key' and 'body' (text)")
        obj = _Object(text.encode("utf-8"), time.time(),
                      body.get("contentType") or "application/octet-stream")
        bucket["objects"][key] = obj
        return {"key": key, "etag": obj.etag}

    def control_delete_object(self, body, params):
        bucket = self._control_bucket(body.get("bucket"))
        removed = bucket["objects"].pop(str(body.get("key")), None)
        return {"deleted": removed is not None}
