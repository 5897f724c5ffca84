// RecordReconciler: one reconcile of one DNSRecordBinding — the binding's instances (from the
// shared InstanceInventory) in, the minimal Route 53 change batches out (core::planRecords has
// the rules; this file does the I/O and the reporting).
//
// Steps:
//  1. The spec (ManifestStore, via `desired`). Gone (a confirmed deletion): deletionPolicy
//     Retain leaves the records and their ownership records for a successor to adopt; Delete
//     deletes this binding's own records (never another's). Its memory is dropped.
//  2. The hosted zone (GetHostedZone, cached for the resync period): it must be private
//     (a public zone is Synced=False ZoneNotPrivate and nothing is written) and associated with
//     the VPC of every instance named (an instance in another VPC gets no record: its name would
//     not resolve there; Synced=False ZoneNotAssociated names the VPCs).
//  3. The listing (InstanceInventory::instances): names from record.nameFrom (sanitised,
//     core::sanitizeLabel), values from the private IPv4 address (A) or first IPv6 address
//     (AAAA). Instances without a usable name or address are reported, never guessed.
//  4. The zone's record sets (ZoneRecordCache: ListResourceRecordSets once per zone per resync
//     period, shared by every binding of the zone, updated in place by our own writes).
//  5. core::planRecords, then ChangeResourceRecordSets in as few batches as Route 53's limits
//     allow (core::splitChangeBatches). A batch Route 53 refuses (InvalidChangeBatch: someone
//     changed the zone meanwhile) expires the cached zone and the binding tries again with a
//     fresh read. Writes wait for the write gate (leader election) and --dry-run writes nothing.
//  6. Every accepted batch's change id is followed with GetChange until INSYNC (polled on
//     later reconciles, 2 s apart): the InSync condition says when the names resolve.
//  7. The optional reverse zone gets PTR records (<reversed address> -> <name>.<zone>) the same
//     way, with the same ownership, grace and safety.
// Status (StatusStore, key "records:<ns>/<name>", kind DNSRecordBinding): conditions Ready,
// Synced, SourceResolved, Conflict (foreign records and shared names, with the names), InSync;
// counts desired/present(registered)/missing/unexpected; events for records written.
// Thread-safety: reconcile() may run concurrently for different keys (the work queue never
// runs one key twice at once); per-binding state is guarded by mu_.
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "api/manifest.h"
#include "controller/aws/route53.h"
#include "controller/core/clock.h"
#include "controller/core/log.h"
#include "controller/core/record_plan.h"
#include "controller/runtime/binding_status.h"
#include "controller/runtime/instance_inventory.h"
#include "controller/runtime/reconciler.h"
#include "controller/runtime/write_gate.h"

namespace endpointbinder::runtime {

// Work-queue and status keys of DNSRecordBindings: "records:<ns>/<name>", so they never meet a
// TargetGroupBinding's "<ns>/<name>".
inline constexpr std::string_view kRecordKeyPrefix = "records:";
inline bool isRecordKey(std::string_view key) { return key.starts_with(kRecordKeyPrefix); }
inline std::string recordKey(const std::string& bindingKey) {
  return std::string(kRecordKeyPrefix) + bindingKey;
}
inline std::string bindingKeyOfRecordKey(std::string_view key) {
  return std::string(key.substr(kRecordKeyPrefix.size()));
}

// What a binding's listed instances ask of a zone (step 3): one candidate per instance with a
// usable name and address in a VPC the zone serves, and the instances left out, by reason.
struct RecordCandidates {
  std::vector<core::RecordCandidate> candidates;
  std::vector<std::string> unnamed;    // no usable name from record.nameFrom
  std::vector<std::string> noAddress;  // no private IPv4 (A) / IPv6 (AAAA) address
  std::map<std::string, std::vector<std::string>> otherVpc;  // VPC the zone lacks -> instances
};
RecordCandidates recordCandidates(const api::DnsRecordBinding& binding,
                                  const aws::HostedZoneInfo& zone,
                                  const std::vector<core::Instance>& instances);
// PTR candidates for the `forward` names their instances hold (an instance named in
// `forwardConflicts` gets none: its name is someone else's) within the reverse zone.
std::vector<core::RecordCandidate> reverseCandidates(
    const std::vector<core::RecordCandidate>& forward,
    const std::vector<core::RecordConflict>& forwardConflicts, const std::string& reverseZoneName);
// "A" or "AAAA".
std::string recordTypeName(const api::DnsRecordBinding& binding);

// Every zone's record sets, read once per `maxAge` and shared by the bindings of the zone.
// Thread-safety: all methods are thread-safe; a zone's read happens under its own lock so
// bindings of one zone wait for one read instead of making several.
class ZoneRecordCache {
 public:
  ZoneRecordCache(aws::Route53Api& api, const core::Clock& clock) : api_(api), clock_(clock) {}
  // The zone's sets, from a read younger than `maxAge` or a fresh one.
  core::Result<std::vector<core::RecordSet>> get(const std::string& zoneId,
                                                 std::chrono::nanoseconds maxAge);
  // Applies changes Route 53 accepted to the cached copy (no re-read needed).
  void apply(const std::string& zoneId, const std::vector<core::RecordChange>& changes);
  // Forgets the zone: the next get() reads it.
  void expire(const std::string& zoneId);
  // Held by a binding from its read of the zone to its last write: one plan-and-write per
  // zone at a time. Never waits (a worker must not sit behind another binding's Route 53
  // calls): a lock not owned means "busy, come back shortly".
  std::unique_lock<std::mutex> tryLockWrites(const std::string& zoneId);
  // ListResourceRecordSets reads made (for tests and metrics).
  int reads() const;

 private:
  struct Zone {
    std::mutex writeMu;
    std::mutex readMu;
    std::optional<std::vector<core::RecordSet>> sets;  // guarded by mu_
    core::MonoTime readAt{};
  };
  Zone& zone(const std::string& zoneId);

  aws::Route53Api& api_;
  const core::Clock& clock_;
  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<Zone>> zones_;
  int reads_ = 0;
};

class RecordReconciler {
 public:
  using DesiredRecordBinding =
      std::function<std::optional<api::DnsRecordBinding>(const std::string&)>;

  struct Deps {
    DesiredRecordBinding desired;  // by binding key "ns/name"; nullopt = confirmed deleted
    aws::Route53Api& route53;
    InstanceInventory* inventory;  // null: no EC2 access (a failing source)
    StatusStore& status;
    const core::Clock& clock;
    core::Logger& log;
    // Whether a binding of this controller that the manifests lack is confirmed gone (its
    // records may be adopted). Null: never adopt.
    std::function<bool(const std::string& bindingKey)> bindingGone = nullptr;
    const WriteGate* writeGate = nullptr;  // optional (leader election)
    // Record keys of the live bindings (pending deletions included) naming a hosted zone. A
    // deleted binding with deletionPolicy Delete hands a zone another binding names over
    // untouched (its records retained for adoption) and wakes those bindings. Null: none.
    std::function<std::vector<std::string>(const std::string& zoneId)> bindingsNamingZone = nullptr;
  };

  struct Options {
    std::string controllerId = "endpoint-binder";
    bool dryRun = false;
    std::chrono::nanoseconds resyncPeriod = std::chrono::minutes(5);
    std::chrono::nanoseconds changePoll = std::chrono::seconds(2);
    // policy.maxDeletionsPerSync counts the deletions of this sliding window.
    std::chrono::nanoseconds deletionWindow = std::chrono::minutes(1);
    // A name Route 53 refused twice in a row (the second time after a fresh read of the zone)
    // is left out of the plans this long, then tried again.
    std::chrono::nanoseconds refusalRetry = std::chrono::minutes(5);
    core::ChangeBatchLimits limits;
  };

  RecordReconciler(Deps deps, Options options);

  // `key` is a record key ("records:ns/name").
  core::Result<ReconcileResult> reconcile(const std::string& key);

  // Record keys this reconciler remembers (deletions in progress included).
  std::vector<std::string> knownKeys() const;

  const ZoneRecordCache& zones() const { return zones_; }

 private:
  struct Refusal {
    core::MonoTime at{};
    std::string message;
    int times = 0;  // refused this often in a row; left out of plans from the second time
  };
  struct ZoneState {
    std::string type;  // A, AAAA or PTR: what this binding manages in the zone
    core::RecordMemory memory;
    std::deque<core::MonoTime> deletions;     // within the deletion window, oldest first
    std::map<std::string, Refusal> refused;   // names Route 53 refused, by name
    std::vector<std::string> pendingChanges;  // change ids not yet INSYNC
    std::optional<core::WallTime> inSyncSince;
    bool everWritten = false;
  };
  struct BindingState {
    api::DnsRecordBinding lastSpec;
    // Deleted with deletionPolicy Delete in a zone other bindings name: when they were woken
    // to adopt what they want.
    std::optional<core::WallTime> handoverSince;
    ZoneState forward;
    ZoneState reverse;
  };
  struct ZoneOutcome;  // one zone's plan and writes

  core::Result<ReconcileResult> reconcileDeleted(const std::string& key);
  core::Result<aws::HostedZoneInfo> zoneInfo(const std::string& zoneId);
  core::Result<ZoneOutcome> syncZone(const std::string& key, const api::DnsRecordBinding& binding,
                                     const aws::HostedZoneInfo& zone, const std::string& type,
                                     std::vector<core::RecordCandidate> candidates,
                                     const InventoryInstances& listing,
                                     const std::set<std::string>& listedWithoutRecord,
                                     ZoneState& state, bool deleting);
  // One ChangeResourceRecordSets (halved on refusal to find the refused change, within
  // `callsLeft` calls).
  core::Result<void> sendBatch(const aws::HostedZoneInfo& zone, const std::string& bindingKey,
                               const std::vector<core::RecordChange>& batch,
                               std::optional<std::uint64_t> term, ZoneState& state,
                               ZoneOutcome& out, int& callsLeft);
  static constexpr int kRefusalSearchCalls = 12;
  bool followChanges(ZoneState& state);  // true when every change is INSYNC

  Deps deps_;
  Options options_;
  ZoneRecordCache zones_;
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<BindingState>> bindings_;  // by record key
  std::map<std::string, std::pair<aws::HostedZoneInfo, core::MonoTime>> zoneInfo_;
};

}  // namespace endpointbinder::runtime
