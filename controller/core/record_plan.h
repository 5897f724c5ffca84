// Record planning for DNSRecordBinding: the pure rules that turn "these instances are listed"
// and "this is what the hosted zone holds" into the minimal Route 53 change batch, with every
// change held back and its reason. The runtime (runtime/record_reconciler) does the I/O.
//
// Names (api/REFERENCE.md "DNSRecordBinding"):
//  * sanitizeLabel: a tag value or instance id becomes one DNS label: ASCII letters lower-cased;
//    every run of other characters (space, '.', '_', non-ASCII bytes, ...) becomes one '-';
//    leading and trailing '-' dropped; cut to 63 characters (then trailing '-' dropped again).
//    Nothing left: no record for that instance (reported, never a guess).
//
// Ownership (like external-dns's TXT registry): every record set the binding manages has a
// companion TXT set at `_eb-<type>.<name>` (`_eb-a.web.corp.internal.`) whose one value names
// the controller id, the binding and the instance:
//   "heritage=endpoint-binder,endpoint-binder/owner=<controllerId>,endpoint-binder/binding=<ns/name>,endpoint-binder/instance=<id>"
// Sanitised labels never contain '_', so a companion never collides with a managed name.
// A set without a companion of ours is foreign: never changed or deleted, the name reported as
// a conflict; so is a name whose companion name holds anything else (a value that is not ours,
// a CNAME, an alias). A companion of ours naming another binding is adopted only where this
// binding wants the name and that binding is confirmed gone (`adoptableBindings`, the manifest
// store's rule); otherwise the records are left alone (a conflict where this binding wants the
// name).
//
// Rules:
//  * One name, several instances (two instances with one Name tag): the instance that holds
//    the record keeps it; when none holds it, the smallest instance id gets it. The others get
//    no record and are reported (kSharedName). Deterministic for a given zone.
//  * A name whose holder is no longer listed passes to another candidate only once the holder
//    has been gone for the grace period (or is leaving); meanwhile the old value stays.
//  * An owned set no longer wanted (its instance is gone, or its name changed) is deleted once
//    it has been unwanted for the grace period, counted from the earlier of when the source
//    first stopped listing its instance (`instanceGoneSince`) and when this binding first saw
//    it unwanted (RecordMemory); at once for a leaving instance. Never while the source is not
//    usable (failing, or no good listing yet: kSourceFailing), never with prune off
//    (kPruneDisabled), never below `minRecords` owned sets (kMinRecords), at most
//    `maxDeletions` per plan (kMaxDeletions; the longest unwanted first).
//  * Creation and value changes never wait. A new name is a CREATE (so a set someone else made
//    meanwhile fails the batch instead of being overwritten); a change of our own set is an
//    UPSERT; a deletion is a DELETE with the exact values the zone holds; the companion
//    travels in the same batch.
// Pure: no I/O, no clock. Thread-safety: free functions over values.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "controller/core/clock.h"

namespace endpointbinder::core {

// A Route 53 record set as the planner sees it (runtime converts from aws::ResourceRecordSet).
struct RecordSet {
  std::string name;  // absolute, lower case, trailing dot
  std::string type;  // A, AAAA, PTR, TXT, CNAME, ...
  std::int64_t ttl = 0;
  std::vector<std::string> values;
  bool special = false;  // alias or routing policy: never ours
  bool operator==(const RecordSet&) const = default;
};

enum class RecordAction { kCreate, kUpsert, kDelete };
const char* recordActionName(RecordAction action);  // "CREATE", "UPSERT", "DELETE"

struct RecordChange {
  RecordAction action = RecordAction::kUpsert;
  RecordSet set;
  bool operator==(const RecordChange&) const = default;
};

// "web-1" from "Web 1"; empty when nothing usable is left. See the rules above.
std::string sanitizeLabel(std::string_view raw);

// "4.3.2.10.in-addr.arpa." for 10.2.3.4; the nibble form under ip6.arpa. for IPv6. Empty for
// text that is not an address.
std::string reverseName(std::string_view address);

struct RecordOwner {
  std::string controllerId;
  std::string binding;     // "namespace/name"
  std::string instanceId;  // the instance the record is for
  bool operator==(const RecordOwner&) const = default;
};

// The companion's value, quoted as a TXT value is written.
std::string ownerTxtValue(const RecordOwner& owner);
// Parses a companion value; nullopt unless it is exactly ours: heritage first, then owner,
// binding and instance, each once, nothing else. Values longer than one TXT string (255
// characters) are written as several quoted strings and joined here.
std::optional<RecordOwner> parseOwnerTxt(std::string_view value);
// Whether `text` may appear in a companion value (controller ids, binding keys): printable
// ASCII without blanks, ',', '=', '"' or '\\'.
bool validOwnerText(std::string_view text);
// "_eb-a.web.corp.internal." for ("web.corp.internal.", "A").
std::string companionName(std::string_view recordName, std::string_view type);

// One instance's wish for a record: name, type, value.
struct RecordCandidate {
  std::string name;  // absolute, lower case, trailing dot
  std::string type;
  std::string value;
  std::string instanceId;
};

enum class RecordHold {
  kWithinGracePeriod,    // unwanted, grace not over
  kSourceFailing,        // unwanted, but the source cannot be trusted now
  kPruneDisabled,        // unwanted, policy.prune false
  kMinRecords,           // deleting would leave fewer than minRecords owned sets
  kMaxDeletions,         // over this plan's cap
  kInstanceStillListed,  // unwanted only because its listed instance gives no record now
};
const char* recordHoldName(RecordHold hold);

enum class RecordConflictReason {
  kForeignRecord,   // a set at the name this binding does not own (no companion of ours)
  kOwnedByBinding,  // our controller's companion naming another live binding
  kSharedName,      // another instance has (or gets) the name
};
const char* recordConflictReasonName(RecordConflictReason reason);

struct RecordConflict {
  std::string name;
  std::string instanceId;  // the instance that gets no record
  RecordConflictReason reason;
  std::string detail;  // "CNAME set without an ownership record", "held by i-0abc", ...
};

struct HeldRecord {
  std::string name;
  RecordHold hold;
  std::optional<MonoTime> until;  // when the grace ends (kWithinGracePeriod)
};

// What the binding remembers between plans: when each owned name was first seen unwanted.
struct RecordMemory {
  std::map<std::string, MonoTime> unwantedSince;
};

struct RecordPlanInput {
  std::string zoneName;  // "corp.internal."
  std::string type;      // A, AAAA or PTR: the sets this plan manages
  std::int64_t ttl = 60;
  std::string controllerId;
  std::string binding;
  std::vector<RecordCandidate> candidates;  // from the listed instances (any order)
  std::set<std::string> leaving;            // instance ids going now
  std::map<std::string, MonoTime> instanceGoneSince;
  // Listed instances that give no candidate (no usable name or address, a VPC the zone does
  // not serve): their names are never deleted (a disallowed picture is no departure); another
  // instance wanting the name still takes it over after the grace period.
  std::set<std::string> listedWithoutRecord;
  bool sourceUsable = false;  // a good listing, not failing
  bool prune = true;
  std::chrono::nanoseconds grace = std::chrono::minutes(3);
  int minRecords = 1;
  int maxDeletions = 1000000;
  std::set<std::string> adoptableBindings;  // our controller's bindings confirmed gone
  std::vector<RecordSet> zone;              // every set of the zone, as listed
  MonoTime now{};
};

struct RecordPlan {
  std::vector<RecordChange> changes;  // records with their companions, deterministic order
  std::vector<RecordConflict> conflicts;
  std::vector<HeldRecord> held;
  RecordMemory memory;  // to keep for the next plan
  // Counts of managed names (not companions).
  int desired = 0;                       // names this binding wants (one per name)
  int present = 0;                       // of those, held by us with the right value
  int missing = 0;                       // wanted, not (correctly) there
  int unexpected = 0;                    // owned sets no longer wanted
  std::optional<MonoTime> nextDeadline;  // the earliest grace end: plan again then
};

// Memory from the previous plan (empty the first time). See the rules above.
RecordPlan planRecords(const RecordPlanInput& input, const RecordMemory& memory);

// Route 53's limits on one ChangeResourceRecordSets call.
struct ChangeBatchLimits {
  int maxRecords = 1000;      // ResourceRecord elements; an UPSERT's count twice
  int maxCharacters = 32000;  // characters of values; an UPSERT's count twice
};

// `changes` as units: a set with its companion right after it is one unit, anything else a
// unit of its own. Batches never split a unit.
std::vector<std::vector<RecordChange>> changeUnits(const std::vector<RecordChange>& changes);

// Splits `changes` into as few batches as the limits allow, in order, never separating a set
// from its companion that follows it (each change is paired with the next when that next one
// is its companion).
std::vector<std::vector<RecordChange>> splitChangeBatches(const std::vector<RecordChange>& changes,
                                                          ChangeBatchLimits limits = {});

}  // namespace endpointbinder::core
