// AWS Signature Version 4 (header signing). Pure: the signing time is a parameter.
// Behaviour follows botocore's SigV4Auth and the official aws-c-auth test corpus:
//  - canonical URI: the request path (as sent), dot segments and duplicate slashes removed when
//    normalizePath, then URI-encoded with only A-Za-z0-9-_.~ and '/' left as is. An already
//    percent-encoded path is therefore encoded a second time ("%20" -> "%2520"), which is what
//    AWS expects from every service except S3;
//  - canonical query: each key and value percent-decoded then strictly re-encoded (uppercase hex,
//    "%20" for space, '+' is a literal plus), pairs sorted by encoded key then encoded value;
//  - canonical headers: names lowercased, values trimmed with inner whitespace runs (spaces,
//    tabs, folded line breaks) collapsed to one space, repeated headers joined with ",", in
//    their original order; "user-agent", "expect" and "x-amzn-trace-id" are never signed
//    (proxies rewrite them);
//  - payload hash: hex SHA-256 of the body.
// Thread-safety: free functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "controller/aws/credentials.h"
#include "controller/aws/http.h"
#include "controller/core/clock.h"

namespace endpointbinder::aws {

struct SigningParams {
  std::string region;   // "ap-northeast-1"; "us-east-1" for Route 53
  std::string service;  // "elasticloadbalancing", "sts", "route53", "ec2", "autoscaling"
  core::WallTime time;
  bool normalizePath = true;  // RFC 3986 dot-segment removal (false only for S3)
  bool signBody = false;      // add x-amz-content-sha256 (S3 style); ELBv2/STS/EC2 do not
  // Add X-Amz-Security-Token after signing instead of signing it (a few services, e.g. IoT,
  // want that; corpus flag "omit_session_token"). Every service endpoint-binder calls wants the
  // token signed: leave false.
  bool omitSessionTokenFromSignature = false;
};

struct SigningResult {
  std::string canonicalRequest;
  std::string stringToSign;
  std::string signature;      // lowercase hex
  std::string authorization;  // the Authorization header value
};

// Adds X-Amz-Date, X-Amz-Security-Token (when credentials carry one), Host (when absent) and
// Authorization to `request`, and returns the intermediate strings for tests and debugging.
// Earlier Authorization, X-Amz-Date, X-Amz-Security-Token (and X-Amz-Content-SHA256 when
// signBody) headers are replaced, so signing a retried request again is safe.
// REQUIRES: request.url is an absolute http(s) URL (parseUrl succeeds); otherwise the request
// is left without Authorization and the result's fields are empty.
// The result holds no secret, but `signature`/`authorization` must not be logged either.
SigningResult signRequest(HttpRequest& request, const Credentials& credentials,
                          const SigningParams& params);

// ---- Building blocks, exposed for the query/REST clients, tests and fuzzing. ----

// Percent-encodes every byte except A-Za-z0-9 - _ . ~ (and '/' when keepSlash), with
// uppercase hex. This is also the encoding AWS Query bodies use for names and values.
std::string uriEncode(std::string_view text, bool keepSlash = false);

// Decodes %XX escapes (either hex case); a '%' not followed by two hex digits stays literal.
// '+' is not treated as a space.
std::string percentDecode(std::string_view text);

// RFC 3986 5.2.4 dot-segment removal plus collapsing of empty segments, as botocore does:
// "//a/./b/../c/" -> "/a/c/", "" -> "/". Idempotent.
std::string normalizeUriPath(std::string_view path);

// The canonical URI for a raw request path (see above).
std::string canonicalUri(std::string_view path, bool normalizePath);

// The canonical query string for a raw query (the part after '?', without it).
std::string canonicalQueryString(std::string_view rawQuery);

// Trims and collapses whitespace (space, tab, CR, LF) in one header value.
std::string canonicalHeaderValue(std::string_view value);

struct CanonicalHeaders {
  std::string canonical;      // "name:value\n" lines, sorted by name
  std::string signedHeaders;  // "host;x-amz-date"
};
// Canonicalizes the headers that are signed (all but the never-signed ones above).
CanonicalHeaders canonicalizeHeaders(const Headers& headers);

// Lowercase hex SHA-256 of `data`.
std::string sha256Hex(std::string_view data);

// "20150830T123600Z" for the given time (UTC, seconds truncated).
std::string formatAmzDate(core::WallTime time);

}  // namespace endpointbinder::aws
