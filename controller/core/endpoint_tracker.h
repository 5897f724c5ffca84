// EndpointTracker: per binding, the memory the planner needs beyond one snapshot —
// when the source last listed each target, since when each target has been unhealthy,
// and whether the source is failing right now.
//
// Memory is lost at restart and that is safe: a registered target the tracker has never
// heard of counts as "seen now" the first time it is observed, so its grace period starts
// again rather than being treated as long gone.
//
// A failing source is "no information", never "the endpoints are gone": while it fails the
// last good listing stands (DesiredTargets keeps it), and when the source answers again the
// targets of that listing count as seen until then, so an outage never ages a grace period.
//
// Memory is bounded: an entry is dropped once its target has been neither listed by the
// latest successful listing nor in the target group for longer than forgetAfter. Forgetting
// only ever makes the tracker more careful (a forgotten target that reappears in the group
// starts a fresh grace period), so any forgetAfter is safe; it bounds the tracker to the
// targets listed or observed within that window.
//
// Keys are Target::key(). Times passed in should not go backwards; if they do, nothing
// breaks, but last-seen times never move back.
// Pure: no I/O, no clock; callers pass `now`. Thread-safety: none (one per binding,
// used by one reconcile at a time).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "controller/core/clock.h"
#include "controller/core/targets.h"

namespace endpointbinder::core {

class EndpointTracker {
 public:
  static constexpr MonoTime::duration kDefaultForgetAfter = std::chrono::hours(1);

  EndpointTracker() = default;
  // REQUIRES: forgetAfter >= 0.
  explicit EndpointTracker(MonoTime::duration forgetAfter) : forgetAfter_(forgetAfter) {}

  // A successful source answer at `now` listing `listed`: each listed target is seen now,
  // and the source is no longer failing. If it was failing, the targets of the last good
  // listing are first marked seen now (the outage gave no information about them).
  void recordListing(const std::vector<Target>& listed, MonoTime now);

  // The source, which no longer lists `target`, counts as having listed it until `until`: the
  // first answer without it, which may be later than the last recordListing (answers that did
  // not change reach no reconcile). Moves the target's last-seen time forward to then; a
  // target the tracker does not know is left alone (if it is in the group, observing it starts
  // its grace period now, which is later still).
  void recordListedUntil(const Target& target, MonoTime until);

  // The source could not be read (SERVFAIL, timeout, NXDOMAIN, empty answer, API error).
  // Keeps every last-seen time and the last listing; marks the source failing since the first
  // such failure, with the latest reason.
  void recordSourceFailure(std::string reason, MonoTime now);

  // The target group's current contents at `now`: registered targets never seen before start
  // their grace now (see isRegistered(const ObservedTarget&)); unhealthy-since times start
  // with the first observation in state `unhealthy` and clear with any other state or when
  // the target leaves the group; then entries past forgetAfter are dropped.
  void recordObserved(const std::vector<ObservedTarget>& observed, MonoTime now);

  bool sourceFailing() const { return failingSince_.has_value(); }
  std::optional<MonoTime> sourceFailingSince() const { return failingSince_; }
  const std::string& sourceFailureReason() const { return failureReason_; }

  // When the source last listed (or the tracker first observed) the target; nullopt if never.
  std::optional<MonoTime> lastSeen(const std::string& targetKey) const;
  // Since when the target has been continuously unhealthy; nullopt if it is not.
  std::optional<MonoTime> unhealthySince(const std::string& targetKey) const;
  // Keys listed by the most recent successful listing.
  bool listedNow(const std::string& targetKey) const;
  // Whether any successful listing has listed the target since this tracker first heard of
  // it; false for a target known only from observing the group (e.g. after a restart).
  bool everListed(const std::string& targetKey) const;

  // Number of remembered targets (bounded, see above).
  size_t size() const { return entries_.size(); }
  MonoTime::duration forgetAfter() const { return forgetAfter_; }

 private:
  struct Entry {
    std::optional<MonoTime> lastSeen;
    std::optional<MonoTime> unhealthySince;
    bool listed = false;      // in the latest successful listing
    bool everListed = false;  // in any successful listing
    bool inGroup = false;     // in the latest observation of the target group
    MonoTime lastPresent{};   // last time it was listed or observed; drives forgetting
  };

  void forget(MonoTime now);
  const Entry* find(const std::string& targetKey) const;

  MonoTime::duration forgetAfter_ = kDefaultForgetAfter;
  std::unordered_map<std::string, Entry> entries_;
  std::optional<MonoTime> failingSince_;
  std::string failureReason_;
};

}  // namespace endpointbinder::core
