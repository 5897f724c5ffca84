// registerReportingRejections: RegisterTargets that gets every acceptable target in even when
// AWS refuses some of them, and says which ones it refused and why.
//
// ELB applies a RegisterTargets call all or nothing: one invalid target (an address outside
// the VPC without availabilityZone, an IPv6 address in an ipv4 group, an instance that is not
// running or not in the group's VPC) fails the whole call and registers nothing. Sent as one
// batch, a single bad target would block every other target of the binding forever. Because a
// failed call applies nothing, sending a subset again is always safe.
//
// How a failed call is resolved:
// - isTargetRefusal(error) says whether the error is about the targets sent. If not
//   (throttling left after the client's own retries, credentials or permissions, network,
//   TargetGroupNotFound, TooManyTargets, a garbled answer, a ValidationError about the group)
//   the whole operation stops and returns that error, so the caller backs off.
// - If AWS's message names targets of the call (targetsNamedIn: ids and addresses, quoted or
//   not, IPv6 in any spelling), exactly those are rejected and the rest is sent again.
// - If it names none, a single target is rejected; a larger set is split in halves and each
//   half is sent on its own (bisection).
// Cost for a chunk of n targets of which k are refused: when AWS names them, one call per
// refusal message plus one; when it names none, at most 1 + 2·k·⌈log2 n⌉ calls (17 for one
// refused target among 200), instead of n calls one by one.
// AWS names ids, not ports: a named id rejects every port of that id in the set.
//
// At most `targetsPerCall` targets go in one call (so each call is exactly one AWS request:
// keep it ≤ the client's own chunk size, 200 for Elbv2Client), and at most `maxCalls` calls are
// made; targets still unsettled when the budget is spent come back in `deferred`, neither
// registered nor rejected, for a later attempt.
//
// A rejection says what AWS refused *now*; whether and when to try that target again (an
// instance that was `pending` will run soon) is the caller's policy.
// Thread-safety: a pure function of its arguments except for the calls made through `api`.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "controller/aws/elbv2.h"
#include "controller/core/error.h"
#include "controller/core/targets.h"

namespace endpointbinder::runtime {

struct RejectedTarget {
  core::Target target;
  std::string code;       // AWS error code: "ValidationError", "InvalidTarget", ...
  std::string message;    // AWS's message, without the "RegisterTargets: " prefix
  std::string requestId;  // of the refusing call, for support cases
};

struct RegistrationReport {
  // Every input target is in exactly one of the three lists, in input order.
  std::vector<core::Target> registered;  // AWS accepted them (a successful call held them)
  std::vector<RejectedTarget> rejected;  // AWS refused them
  std::vector<core::Target> deferred;    // not settled within maxCalls; try again later
  int calls = 0;                         // RegisterTargets calls made through the api
};

struct RegistrationOptions {
  // Targets per RegisterTargets call. Must not exceed the api's own chunk size, so that one
  // api call is one AWS request (AWS applies nothing of a failed request).
  int targetsPerCall = 200;
  // Calls per registerReportingRejections. 40 covers 1,000 targets (5 chunks of 200) with two
  // refused targets whose messages name nothing in one chunk (≤ 33 calls for that chunk).
  int maxCalls = 40;
};

// Registers `targets` with the group `arn`, finding and leaving out the ones AWS refuses (see
// the header comment). An empty `targets` makes no call. On success the report accounts for
// every target. On an error that is not a refusal of targets the error is returned as the API
// gave it; calls that succeeded before it stay applied (registration is idempotent, so the next
// attempt simply repeats them).
core::Result<RegistrationReport> registerReportingRejections(
    aws::TargetGroupApi& api, const std::string& arn, const std::vector<core::Target>& targets,
    RegistrationOptions options = {});

// True when a failed RegisterTargets blames the targets it was sent, not the group, the caller
// or the service: codes InvalidTarget and TooManyRegistrationsForTargetId, and ValidationError
// unless its message is about the target group (it names `arn`, "targetGroupArn" or "target
// group ARN"). Decided by code, never by kind alone. TooManyTargets is not a refusal: the group
// is full, and which targets would fit is not the targets' fault; it is returned as an error.
bool isTargetRefusal(const core::Error& error, std::string_view arn);

// Indexes (ascending) of the `targets` whose id AWS's `message` names. The message is cut into
// tokens at every character no target id contains (quotes, spaces, commas, brackets), so ids
// are found whether AWS quotes them or not and never by a prefix ("10.0.1.5" is not named by
// "10.0.1.50"); tokens and ids that parse as IP addresses are compared in canonical form, so
// "FD00:0::1" names "fd00::1". A message of `truncatedAt` characters or more is taken as cut
// short (QueryClient keeps at most 1024 characters of AWS's message), and a last token that
// runs to its end is not trusted.
std::vector<size_t> targetsNamedIn(std::string_view message,
                                   const std::vector<core::Target>& targets,
                                   size_t truncatedAt = 1024);

}  // namespace endpointbinder::runtime
