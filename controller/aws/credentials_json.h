// Parsing of the credential documents the container endpoint (ECS/Fargate/EKS) and IMDS
// return, and of the ISO-8601 timestamps in them. Inputs are untrusted network data: every
// function is total (never throws, never crashes) and is fuzzed (tests/fuzz).
// Thread-safety: pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "controller/aws/credentials.h"
#include "controller/core/clock.h"
#include "controller/core/error.h"

namespace endpointbinder::aws {

// Parses "2024-05-01T12:34:56Z", with optional fractional seconds ("...56.789Z") and a numeric
// offset instead of Z ("+00:00", "-0700"). Lowercase 't'/'z' accepted; fields range-checked
// (leap seconds "60" accepted as 59 plus one second, like most SDKs). nullopt on anything else.
std::optional<core::WallTime> parseIso8601(std::string_view text);

// "2024-05-01T12:34:56Z" (UTC, whole seconds).
std::string formatIso8601(core::WallTime time);

// Parses {"AccessKeyId", "SecretAccessKey", "Token", "Expiration"} (all strings, all
// required; other members ignored). When a "Code" member is present it must be "Success"
// (IMDS reports failures that way). `providerName` is stored in the result and prefixes
// error messages.
// On failure a kRetryable Error with code "InvalidCredentialsResponse" that names the
// problem (malformed JSON, missing or non-string member, bad Expiration, error code) and
// never includes member values.
core::Result<Credentials> parseCredentialsJson(std::string_view body,
                                               std::string_view providerName);

}  // namespace endpointbinder::aws
