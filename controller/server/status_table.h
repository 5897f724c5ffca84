// Status rendering for humans: the `endpoint-binder get` table and the `describe` text, in the
// layout kubectl uses (columns padded like its tabwriter, ages like 5s/3m/2h/4d).
// Pure: output depends only on the arguments (`now` is passed in). Thread-safety: free
// functions over values.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "controller/core/clock.h"
#include "controller/runtime/binding_status.h"

namespace endpointbinder::server {

// kubectl's short age: "<invalid>" below -1s (clock skew tolerated), "0s" for -1s..0, then
// whole seconds (<60s), minutes (<60m), hours (<24h), days (<365d), years; always truncated.
std::string shortHumanDuration(std::chrono::nanoseconds duration);

// One line per binding, in the order given, under the header
//   NAMESPACE   NAME   READY   TARGETS   HEALTHY   DRIFT   LAST-SYNC   AGE
// READY is the Ready condition's status (True/False/Unknown), TARGETS registered/desired,
// DRIFT missing+unexpected or "-" when zero, LAST-SYNC the age of the last successful sync
// ("<none>" if never), AGE the age of creationTime. Columns are left-aligned, each at least 6
// wide and 3 spaces wider than its longest cell; the last column is not padded. An empty
// `statuses` gives "No resources found.\n".
// DNSRecordBindings (kind "DNSRecordBinding") get a table of their own after the target group
// bindings' (separated by an empty line; alone when there are only record bindings):
//   NAMESPACE   NAME   READY   NAMES   ZONE   DRIFT   INSYNC   CONFLICT   LAST-SYNC   AGE
// NAMES present/desired (counts of names), ZONE the hosted zone id, INSYNC the InSync
// condition's status ("-" before the binding's first write), CONFLICT the Conflict condition's.
std::string renderTable(const std::vector<runtime::BindingStatus>& statuses, core::WallTime now);

// kubectl-describe-style text: metadata, the spec (every field of specText(), keys turned into
// "Title Case" labels), status (observed generation, last sync, last error, a conditions table,
// target counts — for a DNSRecordBinding, record counts (desired, present, missing, unexpected)
// and its hostedZoneId when the spec is unknown — the last plan as "+ key"/"- key" lines plus
// held changes) and an events table.
// Values in one run of "Label:" lines are aligned 2 spaces after the longest label.
std::string renderDescribe(const runtime::BindingStatus& status, core::WallTime now);

}  // namespace endpointbinder::server
