// Value syntax of the manifest API: pure parsers and checks for the scalar formats a manifest
// uses (durations, counts or percentages, ARNs, hostnames, Kubernetes names and labels, AWS
// identifiers). Each returns the parsed value or, as the error, a reason in the user's terms
// ("unknown unit \"d\" ..."), which the decoder prefixes with file, line, column and path.
//
// The rules here are the single source of truth; api/schema/endpointbinder.schema.json and
// api/REFERENCE.md restate them and tests/unit/api/schema_test.py keeps the three in step.
// Thread-safety: free functions without state.
#pragma once

#include <expected>
#include <string>
#include <string_view>

#include "api/manifest.h"

namespace endpointbinder::api {

using Check = std::expected<void, std::string>;

// Go-style durations restricted to whole numbers of each unit, units at most once and largest
// first: "90s", "3m", "1h30m", "500ms", "0s". Units: h, m, s, ms. No sign, no fractions,
// no bare numbers (even "0").
std::expected<Duration, std::string> parseDuration(std::string_view text);
// The shortest text parseDuration maps back to the same value: "1h30m", "500ms", "0s".
std::string formatDuration(Duration duration);

// "50%": a whole percentage 0..100 without leading zeros or sign. (Counts are YAML integers
// and never reach this function.)
std::expected<CountOrPercent, std::string> parsePercent(std::string_view text);

// arn:<partition>:elasticloadbalancing:<region>:<account>:targetgroup/<name>/<id>, where
// partition is aws, aws-cn, aws-us-gov, aws-iso or aws-iso-<letter>; region like
// "ap-northeast-1"; account 12 digits; name 1..32 letters, digits and hyphens, not starting
// or ending with a hyphen; id 16 lowercase hex digits. The error names the bad part.
std::expected<TargetGroupArn, std::string> parseTargetGroupArn(std::string_view text);
// arn:<partition>:sns:<region>:<account>:<topic>, topic 1..256 of [A-Za-z0-9_-] with an
// optional ".fifo" suffix.
Check checkSnsTopicArn(std::string_view text);

// arn:<partition>:iam::<account>:role/[<path>/]<name>: an IAM role to assume. Path segments and
// the name are 1..64 of [A-Za-z0-9_+=,.@-] (name ≤ 64, whole ARN ≤ 2048, IAM's limits).
std::expected<RoleArn, std::string> parseRoleArn(std::string_view text);
// An sts:AssumeRole ExternalId: 2..1224 of [A-Za-z0-9_+=,.@:/-] (STS's pattern).
Check checkExternalId(std::string_view text);
// The characters of IAM names (roles, path segments, role session names): [A-Za-z0-9_+=,.@-].
bool isIamNameChar(char c);

// RFC 1123 host name: labels of letters, digits and hyphens (1..63, no leading or trailing
// hyphen), 253 characters at most, last label not all digits (so "10.0.0.1" is rejected, with
// a hint to use a static source). One trailing dot is allowed and stripped; the result is
// lowercased.
std::expected<std::string, std::string> normalizeHostname(std::string_view text);

// Kubernetes object names: DNS-1123 label, [a-z0-9]([-a-z0-9]*[a-z0-9])?, at most 63.
Check checkDns1123Label(std::string_view text);
// Label and annotation keys: [prefix/]name; prefix a DNS-1123 subdomain of at most 253
// characters, name at most 63 of [A-Za-z0-9_.-] starting and ending alphanumeric.
Check checkLabelKey(std::string_view text);
// Label values: empty, or at most 63 of [A-Za-z0-9_.-] starting and ending alphanumeric.
Check checkLabelValue(std::string_view text);

// "all", or an availability zone name such as "ap-northeast-1a" or a Local Zone such as
// "us-west-2-lax-1a".
Check checkAvailabilityZone(std::string_view text);
// Route 53 hosted zone id: "Z" followed by 1..32 uppercase letters and digits.
Check checkHostedZoneId(std::string_view text);
// sfr-<UUID in lowercase hex>.
Check checkSpotFleetRequestId(std::string_view text);
// Auto Scaling group name: 1..255 characters, no control characters.
Check checkAutoScalingGroupName(std::string_view text);
// SSM parameter name in hierarchy form: "/" then segments of [A-Za-z0-9_.-] separated by
// single "/", 1011 characters at most.
Check checkSsmParameterName(std::string_view text);
// DNSRecordBinding record.nameFrom: "instance-id" or "tag:<key>", key 1..128 characters
// without control characters.
Check checkRecordNameFrom(std::string_view text);

// `text` in double quotes for a message, with control characters, quotes and backslashes
// escaped and anything past 80 bytes cut (at a UTF-8 boundary) and marked "...".
std::string quoteForMessage(std::string_view text);

// Number of Unicode code points in UTF-8 text (invalid bytes count one each), so length limits
// agree with JSON Schema's minLength/maxLength.
size_t codePointCount(std::string_view text);

}  // namespace endpointbinder::api
