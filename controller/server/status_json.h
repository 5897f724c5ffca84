// Status JSON: BindingStatus as the Kubernetes-like objects the status API serves, and back.
//
// One object:
//   {apiVersion: "endpointbinder.io/v1alpha1", kind: "TargetGroupBinding",
//    metadata: {name, namespace, generation, creationTimestamp},
//    spec: <BindingStatus::specText(), parsed>,
//    status: {observedGeneration, conditions: [{type, status, reason, message,
//             lastTransitionTime}], targets: {desired, registered, healthy, unhealthy, draining,
//             initial, missing, unexpected}, lastPlan: {toRegister, toDeregister, held, applied,
//             time}, lastError, lastSyncTime, lastAttemptTime, events: [{type, reason, message,
//             count, lastTimestamp}]}}
// A DNSRecordBinding (kind "DNSRecordBinding") has records: {desired, present, missing,
// unexpected} (counts of names) instead of targets, and its spec names the zone as
// hostedZoneId (from BindingStatus.targetGroupArn "hostedzone/<id>") instead of targetGroupARN.
// A list: {apiVersion, kind: "<Kind>List", metadata: {}, items: [...]}.
// Errors: a Kubernetes `Status` object {kind: "Status", apiVersion: "v1", status: "Failure",
// message, reason, code}.
//
// Times are RFC 3339 in UTC with whole seconds ("2023-11-14T22:13:20Z"), as metav1.Time; a
// round trip through JSON therefore drops sub-second precision. Optional values that are unset
// (lastPlan, lastSyncTime, lastAttemptTime) are left out; an empty lastError is "".
//
// Pure: no I/O, no clock. Thread-safety: free functions over values.
#pragma once

#include <cpprest/json.h>

#include <string>
#include <string_view>
#include <vector>

#include "controller/core/clock.h"
#include "controller/core/error.h"
#include "controller/runtime/binding_status.h"

namespace endpointbinder::server {

inline constexpr const char* kApiGroup = "endpointbinder.io";
inline constexpr const char* kApiVersion = "endpointbinder.io/v1alpha1";
inline constexpr const char* kRecordBindingKind = "DNSRecordBinding";
inline constexpr std::string_view kHostedZonePrefix = "hostedzone/";

inline bool isRecordBinding(const runtime::BindingStatus& status) {
  return status.kind == kRecordBindingKind;
}
// The hosted zone id of a record binding ("Z..." from targetGroupArn "hostedzone/Z..."); the
// text as it is when it lacks the prefix.
inline std::string hostedZoneIdOf(const runtime::BindingStatus& status) {
  const std::string_view text = status.targetGroupArn;
  return std::string(text.starts_with(kHostedZonePrefix) ? text.substr(kHostedZonePrefix.size())
                                                         : text);
}

// "2023-11-14T22:13:20Z" (seconds truncated toward the past).
std::string formatRfc3339(core::WallTime time);
// Accepts "YYYY-MM-DDTHH:MM:SS[.fraction](Z|+hh:mm|-hh:mm)" ('t'/'z' too). The fraction is
// kept to microseconds. On failure: kTerminal with the offending text.
core::Result<core::WallTime> parseRfc3339(std::string_view text);

// The binding's spec (BindingStatus::specText()) as a JSON object; {} when it is empty or not
// an object. Shared by the API object and `describe`.
web::json::value specObject(const runtime::BindingStatus& status);

// One binding as an API object. A specText() that is empty or does not parse is served as {};
// spec.targetGroupARN (a record binding: spec.hostedZoneId) is filled from
// BindingStatus.targetGroupArn when the spec lacks it.
web::json::value bindingToJson(const runtime::BindingStatus& status);
// A list object of kind `listKind` ("TargetGroupBindingList") holding `statuses` in order.
web::json::value bindingListToJson(const std::vector<runtime::BindingStatus>& statuses,
                                   std::string_view listKind);
// A Kubernetes Status object for a failed request: code 404 -> reason "NotFound", 405 ->
// "MethodNotAllowed", 400/411/505 -> "BadRequest", 408 -> "Timeout", 413/431 ->
// "RequestEntityTooLarge", else "InternalError".
web::json::value errorStatusJson(int code, std::string_view message);

// The inverse of bindingToJson: specJson becomes the compact serialisation of `spec` and
// targetGroupArn its targetGroupARN (a record binding: "hostedzone/" + its hostedZoneId). Missing
// optional fields take their defaults. On failure (not an object, no metadata.name, a field of
// the wrong type, a bad time): kTerminal naming the field.
core::Result<runtime::BindingStatus> bindingFromJson(const web::json::value& json);
// The inverse of bindingListToJson (any list kind); fails on the first bad item.
core::Result<std::vector<runtime::BindingStatus>> bindingListFromJson(const web::json::value& json);

}  // namespace endpointbinder::server
