// computePlan: the pure heart of endpoint-binder. Given what the source lists, what the target
// group holds, the tracker's memory and the binding's policy, return the minimal set of
// registrations and deregistrations to make now, and every change held back with its reason.
//
// Rules (API.md "Semantics that matter"):
//  * Register every listed target that is not registered (absent, or draining/unused:
//    re-registering a draining target cancels its deregistration) — unless it is an IP
//    outside policy.allowedCidrs (held: kNotAllowed). Registration never waits: the
//    source failing or prune being false only ever restrains removals.
//  * Deregister a registered target that the source no longer lists only when it has been
//    absent for policy.deregistrationGracePeriod, or (unhealthyGracePeriod > 0) absent AND
//    unhealthy for unhealthyGracePeriod; otherwise held kWithinGracePeriod.
//  * Never deregister while the source is failing (kSourceFailing), when prune is false
//    (kPruneDisabled), below policy.minTargets registered targets (kMinTargets; only targets
//    already in the group count), or more than policy.maxDeregistrationsPerSync of the
//    registered targets in one plan (kMaxDeregistrationsPerSync). When capped, unhealthy
//    targets go first, then the longest absent, then by key, so plans are deterministic.
//  * A steady state (everything listed is registered, nothing absent past grace) is empty.
// Pure: no I/O, no clock, no randomness. Thread-safety: a free function.
#pragma once

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
  kPruneDisabled,              // absent past grace, policy.prune is false
  kMinTargets,                 // deregistering would leave fewer than policy.minTargets
  kMaxDeregistrationsPerSync,  // over this sync's cap; goes in a later sync
};

const char* holdReasonName(HoldReason reason);  // "NotAllowed", "WithinGracePeriod", ...

struct HeldTarget {
  Target target;
  HoldReason reason;
  bool isDeregistration = true;  // false only for kNotAllowed (a registration held)
  std::string message;           // for status and events, e.g. "absent 40s of 3m grace"
};

struct Plan {
  std::vector<Target> toRegister;    // sorted by key
  std::vector<Target> toDeregister;  // sorted by key
  std::vector<HeldTarget> held;      // sorted by key
  // Earliest time at which a held deregistration may become due (end of a grace period);
  // the reconciler requeues for it. nullopt when nothing is waiting on time.
  std::optional<MonoTime> nextDeadline;

  bool hasWrites() const { return !toRegister.empty() || !toDeregister.empty(); }
};

Plan computePlan(const DesiredTargets& desired, const std::vector<ObservedTarget>& observed,
                 const EndpointTracker& tracker, const api::Policy& policy, MonoTime now);

}  // namespace endpointbinder::core
