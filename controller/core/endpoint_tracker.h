// EndpointTracker: per binding, the memory the planner needs beyond one snapshot —
// when the source last listed each target, since when each target has been unhealthy,
// and whether the source is failing right now.
//
// Memory is lost at restart and that is safe: a registered target the tracker has never
// heard of counts as "seen now" the first time it is observed, so its grace period starts
// again rather than being treated as long gone.
// Pure: no I/O, no clock; callers pass `now`. Thread-safety: none (one per binding,
// used by one reconcile at a time).
#pragma once

#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "controller/core/clock.h"
#include "controller/core/targets.h"

namespace endpointbinder::core {

class EndpointTracker {
 public:
  // A successful source answer at `now` listing `listed`: each listed target is seen now,
  // and the source is no longer failing.
  void recordListing(const std::vector<Target>& listed, MonoTime now);

  // The source could not be read (SERVFAIL, timeout, NXDOMAIN, empty answer, API error).
  // Keeps every last-seen time; marks the source failing since the first such failure.
  void recordSourceFailure(std::string reason, MonoTime now);

  // The target group's current contents at `now`: targets never seen before start their
  // grace now; unhealthy-since times start/clear with each target's state; targets that are
  // neither in the group nor listed by the source for longer than `forgetAfter` are dropped.
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

  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    std::optional<MonoTime> lastSeen;
    std::optional<MonoTime> unhealthySince;
    bool listed = false;
  };
  std::unordered_map<std::string, Entry> entries_;
  std::optional<MonoTime> failingSince_;
  std::string failureReason_;
};

}  // namespace endpointbinder::core
