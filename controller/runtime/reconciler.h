// Reconciler: makes one TargetGroupBinding's target group match its source, once per call.
//
// Level-triggered (controller-runtime style): reconcile(key) reads the desired spec, the
// source listing and the observed target group afresh (from caches) and computes the whole
// difference; why it was called does not matter. It reads as its steps:
//   1. desired    the spec; gone -> deletion (deletionPolicy, release the claim, forget), or,
//                 when another binding names the group now (a rename, a move), hand it over
//                 untouched: that binding adopts the claim and the group's memory
//   2. group      the target group's facts (type, port, IpAddressType), once per generation;
//                 moving to another targetGroupARN releases the old group's claim first
//   3. ownership  the owner tag: ours, or claim it (read back), or adopt it from a binding of
//                 this controller whose deletion is confirmed (renamed, moved), or Conflict
//   4. source     the listing (for instance sources of ip bindings, in the group's address
//                 family) -> the group's EndpointTracker (absence counted from when the
//                 controller knew; targets the source says are leaving skip the grace; an
//                 answer with no allowed address is a failing source)
//   5. observed   the group's targets (cached; re-read before any write)
//   6. plan       computePlan (pure)
//   7. apply      re-check the owner tag (a claim made in step 3 is read back here; a tag step 3
//                 found ours moments ago counts as read), then Register (refused targets held,
//                 the rest registered) and Deregister; record what was written. With leader
//                 election (Deps::writeGate) every write is fenced by the lease term the reconcile
//                 started in, and a standby plans and reports without writing (as --dry-run)
//   8. report     status conditions, events, metrics; when to look again
// Memory that belongs to a target group (when each target was last listed, refused targets,
// recent deregistrations) is keyed by the group's ARN, not the binding's name: a group is
// bound by at most one binding, so it survives a rename or a move between files.
// Other accounts: a binding with spec.assumeRoleARN makes every ELBv2 call on its group with
// that role (Deps::accounts). Its owner tag names this controller's account too,
// "<controllerId>/<account>/<namespace>/<name>", whenever the group is in another account:
// a controller of that account with the same --controller-id must never take this claim for
// its own, nor this controller its. A role that cannot be assumed (or an unknown own account)
// is a failed reconcile: nothing is written, nothing deregistered.
// Returns an Error for failures worth retrying with backoff, else an optional requeue delay
// (the next deadline), never both.
// Thread-safety: reconcile() may run concurrently for different keys, never for one key
// (the work queue guarantees it); work on one target group is serialised by a per-group lock
// (a renamed binding's old and new keys name the same group).
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "api/manifest.h"
#include "controller/aws/account_apis.h"
#include "controller/aws/elbv2.h"
#include "controller/core/clock.h"
#include "controller/core/endpoint_tracker.h"
#include "controller/core/error.h"
#include "controller/core/log.h"
#include "controller/core/planner.h"
#include "controller/runtime/binding_status.h"
#include "controller/runtime/observed_cache.h"
#include "controller/runtime/reconcile_observer.h"
#include "controller/runtime/source_provider.h"
#include "controller/runtime/write_gate.h"

namespace endpointbinder::runtime {

class ControllerMetrics;

// The desired state as the reconciler needs it: the spec, and whether it is a kept last-good
// spec because the manifest's current version is invalid.
struct DesiredBinding {
  // Shared with the manifest store (immutable): never null.
  std::shared_ptr<const api::TargetGroupBinding> binding;
  bool stale = false;
  std::string staleReason;
  // Missing from the latest clean read of the manifests, not yet confirmed deleted: it is
  // reconciled as before, but its claim may be adopted by the binding that replaced it.
  bool pendingDeletion = false;
};
using DesiredLookup = std::function<std::optional<DesiredBinding>(const std::string& key)>;
// Keys of the bindings in the manifests (pending deletions included) that name a target group.
using BindingsNamingGroup = std::function<std::vector<std::string>(const std::string& arn)>;

struct ReconcilerOptions {
  std::string controllerId = "endpoint-binder";  // owner tag: <controllerId>/<namespace>/<name>
  bool dryRun = false;                           // plan and report, never write
  std::chrono::nanoseconds resyncPeriod = std::chrono::minutes(5);
  // maxDeregistrationsPerSync counts the deregistrations of this sliding window.
  std::chrono::nanoseconds deregistrationWindow = std::chrono::minutes(1);
  // A registration AWS refused is tried again after this long (or after a spec change).
  std::chrono::nanoseconds rejectionRetry = std::chrono::minutes(5);
  // A group claimed by a binding of this controller that is missing from the manifests (its
  // deletion not yet confirmed) is looked at again this often: the confirmed deletion wakes
  // the waiting binding, and this is the safety net should that wake-up be lost (a restart).
  std::chrono::nanoseconds claimRecheck = std::chrono::seconds(30);
};

inline constexpr const char* kOwnerTagKey = "endpointbinder.io/owner";

// An owner tag value split into the controller id and the binding key ("ns/name"). The key
// is the last two '/'-separated parts (namespaces and names hold no '/'), so a controller id
// may contain '/' (and the claims on groups of other accounts read as
// "<controllerId>/<account>"). nullopt for a value of fewer than three parts.
struct OwnerClaim {
  std::string controllerId;
  std::string bindingKey;
};
std::optional<OwnerClaim> parseOwnerValue(const std::string& value);

// Why `id` cannot be a --controller-id ("" when it can): it must be valid owner text
// (core::validOwnerText: also written into Route 53 ownership records), at most 100
// characters (the longest owner tag value, with an account, namespace and name, stays within
// ELBv2's 256), and its last '/'-separated part must not be 12 digits: that place holds the
// account in claims on other accounts' groups ("<id>/<account>/<ns>/<name>"), so such an id
// would read as another controller's cross-account claim.
std::string controllerIdProblem(std::string_view id);

// How a binding reaches its group: the API (its role's, or the controller's own) and the
// owner tag prefix there ("<controllerId>", or "<controllerId>/<account>" for a group in
// another account than the controller's).
struct GroupAccess {
  aws::TargetGroupApi* api = nullptr;
  std::string ownerPrefix;
  std::string ownerValue(const std::string& key) const { return ownerPrefix + "/" + key; }
};

// The access for `spec`'s group: `home` without spec.assumeRoleARN, else the role's API from
// `accounts` (null: fails "AssumeRoleUnavailable"). Asks STS for the controller's account the
// first time a role is used (AccountApis remembers it). Used by the reconciler, `plan` and
// `doctor`, so all three read the same claim.
core::Result<GroupAccess> groupAccessFor(aws::TargetGroupApi& home, aws::AccountApis* accounts,
                                         const std::string& controllerId,
                                         const api::TargetGroupBindingSpec& spec);

struct ReconcileResult {
  // Reconcile again after this long: a timer (a grace period ending, a hold to look at again).
  std::optional<std::chrono::nanoseconds> requeueAfter;
  // Other bindings to reconcile now: a deleted binding hands its group to the binding that
  // names it next, which waits in Conflict until then.
  std::vector<std::string> wake;
  // Look at the binding again after this long only to re-check it (the group's re-read some
  // seconds after a write, so that health and counts catch up): queued as a resync is, behind
  // events and within the resync budget. Merged with requeueAfter, the earlier time wins and
  // the run is an event.
  std::optional<std::chrono::nanoseconds> recheckAfter{};
};

class Reconciler {
 public:
  struct Deps {
    DesiredLookup desired;
    SourceProvider& sources;
    aws::TargetGroupApi& api;
    ObservedCache& observed;
    StatusStore& status;
    const core::Clock& clock;
    core::Logger& log;
    ControllerMetrics* metrics = nullptr;  // optional
    // Optional: without it a deleted binding assumes no other binding names its group.
    BindingsNamingGroup bindingsNaming = nullptr;
    // Optional: whether a binding missing from the manifests is as good as confirmed deleted
    // even if this process never saw it (ManifestStore::settled). Null: always.
    std::function<bool()> manifestsSettled = nullptr;
    // Optional: told of every sync, conflict and failure (notifications); must not block.
    ReconcileObserver* observer = nullptr;
    // Optional: leader election. A reconcile takes the term when it starts (none: standby,
    // no writes) and asks the gate again right before each write (write_gate.h).
    const WriteGate* writeGate = nullptr;
    // Optional: the APIs of other accounts (spec.assumeRoleARN). Without it such bindings
    // fail with "AssumeRoleUnavailable".
    aws::AccountApis* accounts = nullptr;
  };

  Reconciler(Deps deps, ReconcilerOptions options);

  core::Result<ReconcileResult> reconcile(const std::string& key);

  // Keys of every binding this reconciler remembers, deletions in progress included (a new
  // leader looks at all of them).
  std::vector<std::string> knownKeys() const;

  // When a reconcile of `key` last read group `arn` from AWS (not from the cache), if it did
  // and still names that group: the resync skips a binding read within half a round
  // (resync_pacer.h). Only the binding's own reads count: a binding in Conflict never reads
  // the group, and the owner's reads must not stand in for its look at the owner tag.
  std::optional<core::MonoTime> groupReadAt(const std::string& key, const std::string& arn) const;

 private:
  // What this controller remembers of one target group, whichever binding names it.
  struct GroupMemory {
    std::mutex mu;  // held by the reconcile working on the group
    core::EndpointTracker tracker;
    std::optional<core::MonoTime> refreshDueAt;  // re-read the group (after writes, for health)
    // refreshDueAt only re-checks (after a write): requeued as ReconcileResult::recheckAfter.
    // False when a hold waits for it (replacements not ready yet): then it is a timer.
    bool refreshIsRecheck = false;
    core::MonoTime lastUsed{};
  };
  // A claim tagged and not read back yet. Step 7 reads it back just before the writes, so
  // that one DescribeTags both confirms it and checks the owner before writing. Kept in the
  // binding's state until then: an AWS error before step 7 leaves our tag on the group, which
  // a retarget or a deletion must take off like an owned claim, and the claim's event is owed.
  struct PendingClaim {
    std::string arn;
    GroupAccess access;       // the way it was tagged (the way to take it off)
    std::string eventReason;  // Claimed or Adopted
    std::string eventMessage;
    std::string previousOwner;
  };
  // What this controller remembers of one binding.
  struct BindingState {
    // The binding as last reconciled: for deletionPolicy after the manifest is gone, and
    // shared with the status store, which renders its spec on request.
    std::shared_ptr<const api::TargetGroupBinding> lastSpec;
    std::string checkedGeneration;  // group facts read for this generation
    std::string checkedArn;
    int targetGroupPort = 0;
    std::string ipAddressType = "ipv4";
    std::string ownedArn;  // the group whose owner tag names this binding ("" none)
    // A group this binding was in Conflict over since it last owned it: its listings were not
    // recorded in the group's memory meanwhile, so a claim back must not trust that memory's
    // absences ("" none).
    std::string unrecordedArn;
    std::optional<PendingClaim> pendingClaim;
    // How ownedArn was claimed: releasing it after a retarget, or deleting the binding, goes
    // the same way (the spec may name another role or group by then).
    GroupAccess ownedAccess;
    GroupAccess access;  // for lastSpec's group, set by every reconcile of a desired binding
    bool deleting = false;
    // Bindings to wake after this reconcile: those naming a group this binding let go of.
    std::vector<std::string> wakeAfter;
    // The lease term the current reconcile writes under; standby: it may not write at all.
    std::optional<std::uint64_t> term;
    bool standby = false;
  };
  enum class Ownership { kOwned, kConflict };
  struct SourceView;  // step 4's result

  core::Result<ReconcileResult> reconcileDesired(const std::string& key,
                                                 const DesiredBinding& desired);
  core::Result<ReconcileResult> reconcileDeleted(const std::string& key);

  // Steps (see the header comment).
  core::Result<void> readGroupFacts(const DesiredBinding& desired, BindingState& state);
  // `ownerReadAt`: when the tag was read as ours, if this call read it (a cached claim is not
  // read). A claim it tags is left in state.pendingClaim (ownedArn is not set yet).
  core::Result<Ownership> establishOwnership(const std::string& key, const DesiredBinding& desired,
                                             BindingState& state, std::string& conflictHolder,
                                             std::optional<core::MonoTime>& ownerReadAt);
  // Step 7's owner check: reads the tag; true when it is ours (a pending claim is then
  // confirmed: ownedArn set, logged, event), false when someone else holds it (Conflict
  // reported, ownedArn and the pending claim cleared).
  core::Result<bool> confirmOwnerBeforeWriting(const std::string& key,
                                               const api::TargetGroupBinding& binding,
                                               BindingState& state, core::MonoTime& readAt);
  // The claim is ours: ownedArn set; a pending claim's log line and event.
  void takeOwnership(const std::string& key, BindingState& state, const std::string& arn);
  // Someone else's tag stands on `arn`: ownership and a pending claim dropped, Conflict
  // reported, and the group's memory marked as missing this binding's listings.
  void loseOwnership(const std::string& key, const api::TargetGroupBinding& binding,
                     BindingState& state, const std::string& holder);
  SourceView readSource(const std::string& key, const api::TargetGroupBinding& binding,
                        const BindingState& state, GroupMemory& group, core::MonoTime now);
  core::Result<std::optional<std::string>> readOwner(const GroupAccess& access,
                                                     const std::string& arn);
  // Removes this binding's owner tag from `arn`, reached through `access`.
  core::Result<void> releaseClaim(const std::string& key, const std::string& arn,
                                  const GroupAccess& access);
  // `listedRegistered`: some target the source lists is registered already; when none is and
  // AWS refuses every registration, the plan's deregistrations are held (they would empty
  // the group of everything the source stands for).
  // `ownerReadAt`: when the owner tag was last read as ours; older than
  // kOwnerReadCountsForWritesFor by the deregistrations (a refusal search can take a while),
  // it is read again first, and a changed tag stops them.
  // `tagChangedTo`: set (with error OwnerTagChanged) when that read found someone else's.
  core::Result<void> applyPlan(const std::string& key, const std::string& arn,
                               const GroupAccess& access, core::Plan& plan, GroupMemory& group,
                               core::MonoTime now, core::MonoTime ownerReadAt,
                               std::optional<std::string>& tagChangedTo,
                               bool listedRegistered = true);
  // Live bindings (not pending deletion) other than `key` that name `arn`.
  std::vector<std::string> successorsOf(const std::string& key, const std::string& arn) const;

  void reportConflict(const std::string& key, const api::TargetGroupBinding& binding,
                      const GroupAccess& access, const std::string& holder);
  void recordFailure(const std::string& key, const std::string& generation,
                     const core::Error& error);
  void addEvent(const std::string& key, EventType type, std::string reason, std::string message);

  BindingState& stateFor(const std::string& key);
  // Takes the write term for the reconcile starting now (leader election).
  void beginTerm(BindingState& state) const;
  // No AWS writes in this reconcile: --dry-run, or a standby.
  bool writesOff(const BindingState& state) const { return options_.dryRun || state.standby; }
  // The API for this reconcile's writes through `access`, fenced by its term.
  FencedTargetGroupApi writerFor(const BindingState& state, const GroupAccess& access) const {
    return FencedTargetGroupApi(*access.api, deps_.writeGate, state.term);
  }
  std::shared_ptr<GroupMemory> groupFor(const std::string& arn);
  // Records `snapshot` as `key`'s read of `arn` if it came from AWS (groupReadAt).
  void noteGroupRead(const std::string& key, const std::string& arn,
                     const ObservedCache::Snapshot& snapshot);
  core::GroupFacts factsFor(const BindingState& state) const;

  Deps deps_;
  ReconcilerOptions options_;
  mutable std::mutex mu_;                                        // guards the maps, not the entries
  std::map<std::string, std::unique_ptr<BindingState>> states_;  // by binding key
  std::map<std::string, std::shared_ptr<GroupMemory>> groups_;   // by target group ARN
  struct GroupRead {
    std::string arn;
    core::MonoTime at;
  };
  std::map<std::string, GroupRead> groupReads_;  // by binding key; guarded by mu_
  core::MonoTime lastGroupSweep_{};              // guarded by mu_
};

}  // namespace endpointbinder::runtime
