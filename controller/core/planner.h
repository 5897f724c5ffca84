// computePlan: the pure heart of endpoint-binder. Given what the source lists, what the target
// group holds, the tracker's memory and the binding's policy, return the minimal set of
// registrations and deregistrations to make now, and every change held back with its reason.
//
// Rules (API.md "Semantics that matter"):
//  * Register every listed target that is not registered (absent, or draining/unused:
//    re-registering a draining target cancels its deregistration; see
//    isRegistered(const ObservedTarget&)) — unless it is an IP outside policy.allowedCidrs
//    (held: kNotAllowed). Instance ids (any id that does not parse as an IP address) are never
//    subject to allowedCidrs; an empty allowedCidrs allows no IP at all (the decoder fills in
//    the default list). Registration never waits: the source failing or prune being false
//    only ever restrains removals.
//  * Deregister a registered target that the source no longer lists only when it has been
//    absent for policy.deregistrationGracePeriod, or (unhealthyGracePeriod > 0) absent AND
//    in state `unhealthy` for unhealthyGracePeriod (both for at least that long: the shorter
//    of the two durations counts); otherwise held kWithinGracePeriod. "Absent since" is the
//    tracker's lastSeen; a target the tracker has never seen is absent since `now`.
//  * Never deregister while the source is failing (kSourceFailing; failing if either
//    desired.sourceFailing or tracker.sourceFailing()), when prune is false (kPruneDisabled),
//    below policy.minTargets registered targets (kMinTargets; only targets already in the
//    group count, registrations of this plan do not), or more than
//    policy.maxDeregistrationsPerSync of the registered targets in one plan
//    (kMaxDeregistrationsPerSync). When capped, unhealthy targets go first, then the longest
//    absent, then by key, so plans are deterministic.
//  * An absent target is held for the first reason that applies, in this order: prune
//    disabled (permanent, no deadline), within grace, source failing, minTargets, cap.
//  * A steady state (everything listed is registered, nothing absent past grace) is empty.
//  * The plan depends on the inputs' contents only, not their order; duplicate keys are
//    merged (desired: the copy with the smallest availability zone; observed: a registered
//    copy before an unregistered one).
// Pure: no I/O, no clock, no randomness. Thread-safety: a free function.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "api/manifest.h"
#include "controller/core/clock.h"
#include "controller/core/endpoint_tracker.h"
#include "controller/core/targets.h"

namespace endpointbinder::core {

struct DesiredTargets {
  std::vector<Target> targets;  // the source's latest good listing (kept while it fails)
  bool sourceFailing = false;   // the latest lookup failed; see EndpointTracker
};

enum class HoldReason {
  kNotAllowed,                 // IP outside policy.allowedCidrs: never registered
  kWithinGracePeriod,          // absent, grace not yet over
  kSourceFailing,              // absent, but the source cannot be trusted right now
  kPruneDisabled,              // absent, policy.prune is false: never deregistered
  kMinTargets,                 // deregistering would leave fewer than policy.minTargets
  kMaxDeregistrationsPerSync,  // over this sync's cap; goes in a later sync
};

const char* holdReasonName(HoldReason reason);  // "NotAllowed", "WithinGracePeriod", ...

struct HeldTarget {
  Target target;
  HoldReason reason;
  bool isDeregistration = true;  // false only for kNotAllowed (a registration held)
  // For status and events, e.g. "absent for 40s of 3m grace",
  // "source failing for 1m10s: SERVFAIL", "would leave 0 registered targets of minTargets 1".
  std::string message;

  bool operator==(const HeldTarget&) const = default;
};

struct Plan {
  std::vector<Target> toRegister;    // sorted by key
  std::vector<Target> toDeregister;  // sorted by key
  std::vector<HeldTarget> held;      // sorted by key
  // Earliest time at which a held deregistration may become due (end of a grace period);
  // the reconciler requeues for it. Always later than `now`; nullopt when nothing is waiting
  // on time. Targets held by the cap become eligible in the next sync (requeue after a plan
  // that wrote); minTargets, source-failing and prune holds wait for an event instead.
  std::optional<MonoTime> nextDeadline;

  bool hasWrites() const { return !toRegister.empty() || !toDeregister.empty(); }
  bool operator==(const Plan&) const = default;
};

Plan computePlan(const DesiredTargets& desired, const std::vector<ObservedTarget>& observed,
                 const EndpointTracker& tracker, const api::Policy& policy, MonoTime now);

// Short human text for a duration, as used in held messages: "0s", "250ms", "40s", "3m",
// "2m30s", "1h5m", "1.5s" (millisecond precision, truncated; negative durations print as 0s).
std::string formatDuration(std::chrono::nanoseconds duration);

}  // namespace endpointbinder::core
