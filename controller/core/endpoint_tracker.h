// EndpointTracker: per target group, the memory the planner needs beyond one snapshot —
// since when each target has been absent from the source, since when each target has been
// unhealthy, whether the source is failing right now, which registrations AWS refused, and
// which deregistrations we made recently (the rate cap).
//
// Absence is counted from when the controller KNEW a target was gone, never from when a
// reconcile last happened to look:
//  * A target leaves the listing at the first listing without it. Its absence starts then —
//    or, when the source itself says so (a DNS answer that dropped it, reported by the
//    source as "departed at"), at that earlier answer. Only departures reported by the same
//    lineage (the binding and spec generation that produced the previous listing) are
//    trusted: after a spec edit, a rename or a new hostname, the previous listing was in
//    force until the listing that replaced it, whatever the new source's history says.
//  * So a spec edit that drops an address, changes the port, or points at a new hostname
//    starts the old targets' grace at the edit, however quiet the source was before it.
//
// Memory is lost at restart and that is safe: a registered target the tracker has never
// heard of counts as "seen now" the first time it is observed, so its grace period starts
// again rather than being treated as long gone.
//
// A target the source says is LEAVING (an Auto Scaling instance Terminating, a Spot instance
// with an interruption warning: SourceListing::leaving) is absent and marked leaving until a
// listing lists it again; the planner deregisters it without waiting for the grace period.
// Leaving is a fact about the target, not about a lineage: a spec edit does not clear it.
//
// A failing source is "no information", never "the endpoints are gone": while it fails the
// last good listing stands (the caller keeps it and passes it to recordSourceFailure, which
// counts its targets as seen at every failing sync). When the source answers again, the
// targets it still lists are seen now and those it dropped are absent from the answer that
// dropped them (or from now), so an outage never ages a grace period.
//
// Memory is bounded: an entry is dropped once its target has been neither listed by the
// latest successful listing nor in the target group for longer than forgetAfter. Forgetting
// only ever makes the tracker more careful (a forgotten target that reappears in the group
// starts a fresh grace period), so any forgetAfter is safe.
//
// Keys are Target::key(). Times passed in should not go backwards; if they do, nothing
// breaks, but last-seen times never move back.
// Pure: no I/O, no clock; callers pass `now`. Thread-safety: none (one per target group,
// used by one reconcile at a time).
#pragma once

#include <chrono>
#include <deque>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "controller/core/clock.h"
#include "controller/core/targets.h"

namespace endpointbinder::core {

// One successful answer of a binding's source, as the reconciler hands it to the tracker.
struct SourceListing {
  std::vector<Target> targets;
  // When the source last confirmed this listing (its latest answer); not after `now`.
  MonoTime confirmedAt{};
  // Who produced it: the binding key and spec generation. Departure times are trusted only
  // from the lineage that produced the previous listing. Empty: one anonymous lineage.
  std::string lineage;
  // Target keys the source dropped, with its first answer without them (same lineage only).
  std::unordered_map<std::string, MonoTime> departedAt;
  // The binding whose source this is ("ns/name"; "" when anonymous). A deleted binding's
  // deletionPolicy Deregister removes only targets whose latest listing came from it.
  std::string bindingKey;
  // Target keys the source says are going now, with why ("Auto Scaling lifecycle state
  // Terminating:Wait", "Spot interruption warning 3s ago"). Never also in `targets`.
  std::unordered_map<std::string, std::string> leaving = {};
};

class EndpointTracker {
 public:
  static constexpr MonoTime::duration kDefaultForgetAfter = std::chrono::hours(1);

  EndpointTracker() = default;
  // REQUIRES: forgetAfter >= 0.
  explicit EndpointTracker(MonoTime::duration forgetAfter) : forgetAfter_(forgetAfter) {}

  // A successful source answer, learned at `now`: its targets are listed (seen at
  // listing.confirmedAt), the source is no longer failing, and every target the previous
  // listing had but this one lacks is absent from the moment described above. If the source
  // was failing, the targets of the last good listing are first marked seen now (the outage
  // gave no information about them). A new lineage also clears refused registrations (the
  // spec that caused them changed).
  void recordListing(const SourceListing& listing, MonoTime now);
  // Shorthand for a listing confirmed at `now`, of the anonymous lineage, with no departure
  // times (a target dropped by it is absent from `now`).
  void recordListing(const std::vector<Target>& listed, MonoTime now);

  // The source could not be read (SERVFAIL, timeout, NXDOMAIN, empty answer, an answer with
  // no allowed address, API error). Keeps every last-seen time and the last listing; marks
  // the source failing since the first such failure, with the latest reason.
  // `lastGood` is the answer that stands in for the source meanwhile (what the planner still
  // registers toward): each of its targets counts as listed now, so that a spec switched to a
  // source that is failing, then switched away, starts their absence at the switch.
  void recordSourceFailure(std::string reason, MonoTime now,
                           const std::vector<Target>& lastGood = {});

  // The target group's current contents at `now`: registered targets never seen before start
  // their grace now (see isRegistered(const ObservedTarget&)); unhealthy-since times start
  // with the first observation in state `unhealthy` and clear with any other state or when
  // the target leaves the group; then entries past forgetAfter are dropped.
  void recordObserved(const std::vector<ObservedTarget>& observed, MonoTime now);

  // AWS refused to register `target` (its message); the planner holds it until `retryAt`
  // (or a new lineage) instead of failing every sync on it.
  void recordRejected(const Target& target, std::string message, MonoTime retryAt);
  // The refusal in force for the target at `now`, if any.
  std::optional<std::string> rejection(const std::string& targetKey, MonoTime now) const;

  // The caller's listings went unrecorded for a while (its binding was in Conflict over the
  // group, so it could not write the group's memory): every remembered target counts as seen
  // at `now`, so that no grace period counts across that gap. Only ever more careful.
  void markAllSeen(MonoTime now);

  // Deregistrations we just made, for maxDeregistrationsPerSync's sliding window.
  void recordDeregistered(size_t count, MonoTime now);
  // How many deregistrations were made in (now - window, now], and when the oldest of them
  // leaves the window (nullopt when none).
  size_t deregisteredWithin(MonoTime::duration window, MonoTime now) const;
  std::optional<MonoTime> windowFreesAt(MonoTime::duration window, MonoTime now) const;

  bool sourceFailing() const { return failingSince_.has_value(); }
  std::optional<MonoTime> sourceFailingSince() const { return failingSince_; }
  const std::string& sourceFailureReason() const { return failureReason_; }

  // Since when the target counts as absent: the last moment it was known to be listed (or,
  // for a target only ever observed in the group, its first observation); nullopt if never
  // heard of. For a target listed right now, the last confirmation.
  std::optional<MonoTime> lastSeen(const std::string& targetKey) const;
  // Since when the target has been continuously unhealthy; nullopt if it is not.
  std::optional<MonoTime> unhealthySince(const std::string& targetKey) const;
  // Keys listed by the most recent successful listing.
  bool listedNow(const std::string& targetKey) const;
  // Whether any successful listing has listed the target since this tracker first heard of
  // it; false for a target known only from observing the group (e.g. after a restart).
  bool everListed(const std::string& targetKey) const;
  // Whether the latest successful listing that listed the target came from `bindingKey`.
  // Stand-ins for a failing source (recordSourceFailure's lastGood) do not count: they are
  // what the planner kept, not what the binding's source said.
  bool lastListedBy(const std::string& targetKey, const std::string& bindingKey) const;
  // Why the source said the target is leaving (see the header comment); nullopt when it did
  // not, or when a listing has listed the target since.
  std::optional<std::string> leavingReason(const std::string& targetKey) const;
  // The lineage of the most recent successful listing ("" before any).
  const std::string& lineage() const { return lineage_; }

  // Number of remembered targets (bounded, see above).
  size_t size() const { return entries_.size(); }
  MonoTime::duration forgetAfter() const { return forgetAfter_; }

 private:
  struct Entry {
    std::optional<MonoTime> lastSeen;
    std::optional<MonoTime> unhealthySince;
    bool listed = false;      // in the latest successful listing
    bool everListed = false;  // in any successful listing
    // Binding key of the latest successful listing that listed it; nullopt before any.
    std::optional<std::string> listedBy;
    bool inGroup = false;                // in the latest observation of the target group
    std::optional<std::string> leaving;  // the source said it is going (why); see above
    MonoTime lastPresent{};              // last time it was listed or observed; drives forgetting
  };
  struct Rejection {
    std::string message;
    MonoTime retryAt{};
  };

  void forget(MonoTime now);
  const Entry* find(const std::string& targetKey) const;

  MonoTime::duration forgetAfter_ = kDefaultForgetAfter;
  std::unordered_map<std::string, Entry> entries_;
  std::unordered_map<std::string, Rejection> rejections_;
  std::deque<MonoTime> deregistrations_;  // one entry per target deregistered, oldest first
  std::optional<MonoTime> failingSince_;
  std::string failureReason_;
  std::string lineage_;
  bool anyListing_ = false;
};

}  // namespace endpointbinder::core
