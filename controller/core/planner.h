// computePlan: the pure heart of endpoint-binder. Given what the source lists, what the target
// group holds, the tracker's memory, the binding's policy and what we know of the group, return
// the minimal set of registrations and deregistrations to make now, and every change held back
// with its reason.
//
// Rules (api/REFERENCE.md "policy"):
//  * Register every listed target that is not registered (absent, or draining/unused:
//    re-registering a draining target cancels its deregistration; see
//    isRegistered(const ObservedTarget&)) — unless it is an IP outside policy.allowedCidrs
//    (held: kNotAllowed), an IP of the family the group does not take (kAddressFamily, never
//    sent to AWS), or a target AWS refused recently (kRejectedByAws, retried later; see
//    EndpointTracker::recordRejected). Instance ids are never subject to allowedCidrs or the
//    family; an empty allowedCidrs allows no IP at all (the decoder fills in the default
//    list). Registration never waits: the source failing or prune being false only ever
//    restrains removals.
//  * Deregister a registered target that the source no longer lists only when it has been
//    absent for policy.deregistrationGracePeriod, or (unhealthyGracePeriod > 0) absent AND
//    in state `unhealthy` for unhealthyGracePeriod (both for at least that long: the shorter
//    of the two durations counts); otherwise held kWithinGracePeriod. "Absent since" is the
//    tracker's lastSeen: when the controller first knew the current spec no longer lists it;
//    a target the tracker has never seen is absent since `now`.
//  * A target the source said is leaving (EndpointTracker::leavingReason: an Auto Scaling
//    instance Terminating, a Spot interruption warning) is due at once: no grace, and it does
//    not wait for replacements (it is going whatever we do). Prune, a failing source, the
//    floors and the rate cap still apply.
//  * Never deregister while the source is failing (kSourceFailing; failing if either
//    desired.sourceFailing or tracker.sourceFailing()), when prune is false (kPruneDisabled).
//  * Never deregister a SERVING target (isServing: healthy, or unavailable with health checks
//    disabled) while a listed target is registered — or being registered by this plan — but
//    not serving yet (kReplacementsNotReady; policy.requireHealthyReplacements, default on):
//    a replacement that never passes its health checks must not turn into an outage.
//  * Floors (kMinTargets): a removal never leaves fewer than policy.minTargets serving
//    targets (removing one that does not serve changes nothing there) nor fewer than
//    policy.minTargets registered targets. Registrations of this plan do not count.
//  * Rate (kMaxDeregistrationsPerSync): at most policy.maxDeregistrationsPerSync deregistrations
//    in any facts.deregistrationWindow (counting those the tracker recorded); a percentage is
//    of the targets registered at the window's start (registered now plus those removed
//    within it), so batches do not shrink the base they are taken from. When capped, leaving
//    targets go first, then those that do not serve, then unhealthy ones, then the longest
//    absent, then by key.
//  * An absent target is held for the first reason that applies, in this order: prune
//    disabled (permanent, no deadline), within grace, source failing, replacements not ready,
//    cap, minTargets.
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
  kMaxDeregistrationsPerSync,  // over the cap of the current window; goes in a later one
  kReplacementsNotReady,       // serving, and a listed target is not serving yet
  kRejectedByAws,              // AWS refused to register it (message kept); retried later
  kAddressFamily,              // an IP of the family the target group does not take
};

const char* holdReasonName(HoldReason reason);  // "NotAllowed", "WithinGracePeriod", ...

struct HeldTarget {
  Target target;
  HoldReason reason;
  // false for registrations held (kNotAllowed, kRejectedByAws, kAddressFamily). The reconciler
  // also holds deregistrations as kRejectedByAws when AWS refused every listed target.
  bool isDeregistration = true;
  // For status and events, e.g. "absent for 40s of 3m grace",
  // "source failing for 1m10s: SERVFAIL", "would leave 0 registered targets of minTargets 1".
  std::string message;

  bool operator==(const HeldTarget&) const = default;
};

struct Plan {
  std::vector<Target> toRegister;    // sorted by key
  std::vector<Target> toDeregister;  // sorted by key
  std::vector<HeldTarget> held;      // sorted by key
  // Earliest time at which a held change may become due (end of a grace period, the cap's
  // window freeing up); the reconciler requeues for it. A refused registration is tried again
  // by the first sync after its retry time (resyncs and events bring one).
  // Always later than `now`; nullopt when nothing is waiting on time. minTargets,
  // replacements, source-failing and prune holds wait for an event or a re-read instead.
  std::optional<MonoTime> nextDeadline;

  bool hasWrites() const { return !toRegister.empty() || !toDeregister.empty(); }
  bool operator==(const Plan&) const = default;
};

// What the planner knows about the target group beyond its targets.
struct GroupFacts {
  // The group's IpAddressType: "ipv4" or "ipv6" (see address_family.h).
  std::string ipAddressType = "ipv4";
  // maxDeregistrationsPerSync counts the deregistrations of this sliding window.
  std::chrono::nanoseconds deregistrationWindow = std::chrono::minutes(1);
  // How long a refused registration is held before it is tried again.
  std::chrono::nanoseconds rejectionRetry = std::chrono::minutes(5);
};

Plan computePlan(const DesiredTargets& desired, const std::vector<ObservedTarget>& observed,
                 const EndpointTracker& tracker, const api::Policy& policy, MonoTime now,
                 const GroupFacts& facts = {});

// allowedCIDRs as the planner applies it: an id that is not an IP (an instance id) is always
// allowed; an IP only inside one of `cidrs`. The reconciler uses it to tell an answer of
// nothing allowed (a failing source) from one it may act on.
bool targetAllowed(const std::string& id, const std::vector<api::Cidr>& cidrs);
// "10.0.0.0/8, 172.16.0.0/12" for messages.
std::string cidrListText(const std::vector<api::Cidr>& cidrs);

// The plan of the deleted binding `bindingKey` whose deletionPolicy is Deregister: deregister
// the registered targets whose latest good listing came from this binding's source (never
// ones others registered, an earlier owner's, or a failing source's stand-ins), at the rate
// of policy.maxDeregistrationsPerSync per window; no grace (the user removed the binding) and
// no floor (nothing is to stay). Empty when nothing of ours is left. A cap that resolves to
// zero holds them with no deadline: no window ever frees a zero cap.
Plan computeDeletionPlan(const std::vector<ObservedTarget>& observed,
                         const EndpointTracker& tracker, const std::string& bindingKey,
                         const api::Policy& policy, MonoTime now, const GroupFacts& facts = {});

// Short human text for a duration, as used in held messages: "0s", "250ms", "40s", "3m",
// "2m30s", "1h5m", "1.5s" (millisecond precision, truncated; negative durations print as 0s).
std::string formatDuration(std::chrono::nanoseconds duration);

}  // namespace endpointbinder::core
