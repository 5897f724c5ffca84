#include "controller/core/planner.h"

#include <algorithm>
#include <limits>
#include <map>
#include <tuple>
#include <utility>

#include "api/net.h"
#include "controller/core/address_family.h"

namespace endpointbinder::core {

namespace {

using std::chrono::duration_cast;
using std::chrono::milliseconds;
using std::chrono::nanoseconds;

// `t + d`, saturating at MonoTime::max() instead of overflowing for absurd policy durations.
MonoTime addSaturating(MonoTime t, api::Duration d) {
  if (d <= api::Duration::zero()) return t;
  using Rep = MonoTime::rep;
  constexpr Rep kMax = std::numeric_limits<Rep>::max();
  const Rep perUnit = duration_cast<MonoTime::duration>(api::Duration(1)).count();
  if (d.count() > kMax / perUnit) return MonoTime::max();
  const Rep add = d.count() * perUnit;
  const Rep base = t.time_since_epoch().count();
  if (base > kMax - add) return MonoTime::max();
  return MonoTime(MonoTime::duration(base + add));
}

// `elapsed >= limit` without converting `limit` to nanoseconds (which could overflow). Exact:
// limit is a whole number of milliseconds and elapsed is not negative.
bool atLeast(MonoTime::duration elapsed, api::Duration limit) {
  return duration_cast<milliseconds>(elapsed) >= limit;
}

// formatDuration on a count of milliseconds.
std::string formatMillis(long long totalMs) {
  if (totalMs <= 0) return "0s";
  if (totalMs < 1000) return std::to_string(totalMs) + "ms";
  const long long hours = totalMs / 3'600'000;
  const long long minutes = totalMs / 60'000 % 60;
  const long long seconds = totalMs / 1000 % 60;
  const long long millis = totalMs % 1000;
  std::string text;
  if (hours > 0) text += std::to_string(hours) + "h";
  const bool anyBelowMinutes = seconds > 0 || millis > 0;
  if (minutes > 0 || (hours > 0 && anyBelowMinutes)) text += std::to_string(minutes) + "m";
  if (anyBelowMinutes) {
    text += std::to_string(seconds);
    if (millis > 0) {
      std::string fraction = std::to_string(1000 + millis).substr(1);  // three digits
      while (fraction.back() == '0') fraction.pop_back();
      text += "." + fraction;
    }
    text += "s";
  }
  return text;
}

// Policy durations are formatted from milliseconds: converting an absurd one to nanoseconds
// would overflow.
std::string durationText(api::Duration d) { return formatMillis(d.count()); }

// Deterministic choice between copies of one key, whatever their order in the input.
bool preferDesired(const Target& a, const Target& b) {
  return std::tie(a.availabilityZone, a.id) < std::tie(b.availabilityZone, b.id);
}

bool preferObserved(const ObservedTarget& a, const ObservedTarget& b) {
  const bool ra = isRegistered(a);
  const bool rb = isRegistered(b);
  if (ra != rb) return ra;
  return std::tie(a.state, a.reason, a.description, a.target.availabilityZone, a.target.id) <
         std::tie(b.state, b.reason, b.description, b.target.availabilityZone, b.target.id);
}

std::string notAllowedMessage(const std::string& id, const std::vector<api::Cidr>& cidrs) {
  if (cidrs.empty()) return id + ": allowedCIDRs is empty, so no IP target is registered";
  return id + " is outside allowedCIDRs [" + cidrListText(cidrs) + "]; never registered";
}

// A registered target that the source does not list, with what the tracker knows about it.
struct Absent {
  std::string key;
  const ObservedTarget* observed = nullptr;
  MonoTime absentSince;
  bool knownToTracker = false;  // false after a restart: grace starts now
  bool unhealthy = false;       // state `unhealthy` right now
  bool serving = false;         // isServing right now
  MonoTime unhealthySince;      // valid when unhealthy
  bool graceDue = false;
  bool unhealthyDue = false;
  bool leaving = false;  // the source said it is going: no grace, no waiting for replacements
  std::string dueText;   // why it is due, for messages of holds past grace
};

}  // namespace

bool targetAllowed(const std::string& id, const std::vector<api::Cidr>& cidrs) {
  const auto ip = api::IpAddress::parse(id);
  if (!ip) return true;  // an instance id: allowedCIDRs does not apply
  return std::any_of(cidrs.begin(), cidrs.end(),
                     [&](const api::Cidr& cidr) { return cidr.contains(*ip); });
}

std::string cidrListText(const std::vector<api::Cidr>& cidrs) {
  std::string list;
  for (const auto& cidr : cidrs) {
    if (!list.empty()) list += ", ";
    list += cidr.toString();
  }
  return list;
}

const char* holdReasonName(HoldReason reason) {
  switch (reason) {
    case HoldReason::kNotAllowed:
      return "NotAllowed";
    case HoldReason::kWithinGracePeriod:
      return "WithinGracePeriod";
    case HoldReason::kSourceFailing:
      return "SourceFailing";
    case HoldReason::kPruneDisabled:
      return "PruneDisabled";
    case HoldReason::kMinTargets:
      return "MinTargets";
    case HoldReason::kMaxDeregistrationsPerSync:
      return "MaxDeregistrationsPerSync";
    case HoldReason::kReplacementsNotReady:
      return "ReplacementsNotReady";
    case HoldReason::kRejectedByAws:
      return "RejectedByAWS";
    case HoldReason::kAddressFamily:
      return "AddressFamily";
  }
  return "Unknown";
}

std::string formatDuration(nanoseconds duration) {
  return formatMillis(duration_cast<milliseconds>(duration).count());
}

Plan computePlan(const DesiredTargets& desired, const std::vector<ObservedTarget>& observed,
                 const EndpointTracker& tracker, const api::Policy& policy, MonoTime now,
                 const GroupFacts& facts) {
  Plan plan;
  std::vector<std::pair<std::string, HeldTarget>> held;

  std::map<std::string, const Target*> wanted;
  for (const auto& target : desired.targets) {
    auto [it, inserted] = wanted.try_emplace(target.key(), &target);
    if (!inserted && preferDesired(target, *it->second)) it->second = &target;
  }
  std::map<std::string, const ObservedTarget*> inGroup;
  for (const auto& target : observed) {
    auto [it, inserted] = inGroup.try_emplace(target.target.key(), &target);
    if (!inserted && preferObserved(target, *it->second)) it->second = &target;
  }
  auto considerDeadline = [&](MonoTime at) {
    if (at > now && (!plan.nextDeadline || at < *plan.nextDeadline)) plan.nextDeadline = at;
  };

  // ---- registrations: never wait on time, the source or prune ----
  // Listed targets that are not serving yet: registered but still initial/unhealthy/..., or
  // registered by this very plan. While there are any, serving targets stay (below).
  int replacementsNotServing = 0;
  for (const auto& [key, target] : wanted) {
    const auto present = inGroup.find(key);
    if (present != inGroup.end() && isRegistered(*present->second)) {
      if (!isServing(*present->second)) ++replacementsNotServing;
      continue;
    }
    if (!targetAllowed(target->id, policy.allowedCidrs)) {
      held.emplace_back(key, HeldTarget{*target, HoldReason::kNotAllowed, false,
                                        notAllowedMessage(target->id, policy.allowedCidrs)});
      continue;
    }
    if (!addressFamilyAccepted(facts.ipAddressType, target->id)) {
      held.emplace_back(key, HeldTarget{*target, HoldReason::kAddressFamily, false,
                                        target->id +
                                            " is not an address of the target group's "
                                            "IpAddressType " +
                                            facts.ipAddressType + "; never registered"});
      continue;
    }
    if (auto refused = tracker.rejection(key, now)) {
      held.emplace_back(key, HeldTarget{*target, HoldReason::kRejectedByAws, false,
                                        "AWS refused to register it: " + *refused});
      continue;
    }
    plan.toRegister.push_back(*target);
    ++replacementsNotServing;
  }

  // ---- deregistrations ----
  const bool failing = desired.sourceFailing || tracker.sourceFailing();
  std::string failingText = "source failing";
  if (const auto since = tracker.sourceFailingSince()) {
    failingText += " for " + formatDuration(now - std::min(*since, now));
  }
  if (!tracker.sourceFailureReason().empty()) failingText += ": " + tracker.sourceFailureReason();

  const api::Duration grace = std::max(policy.deregistrationGracePeriod, api::Duration::zero());
  const api::Duration unhealthyGrace = policy.unhealthyGracePeriod;
  const bool actOnHealth = unhealthyGrace > api::Duration::zero();
  const bool waitForReplacements = policy.requireHealthyReplacements && replacementsNotServing > 0;

  int registeredCount = 0;
  int servingCount = 0;
  std::vector<Absent> due;
  auto hold = [&](const Absent& absent, HoldReason reason, std::string message) {
    held.emplace_back(absent.key,
                      HeldTarget{absent.observed->target, reason, true, std::move(message)});
  };

  for (const auto& [key, target] : inGroup) {
    if (!isRegistered(*target)) continue;
    ++registeredCount;
    if (isServing(*target)) ++servingCount;
    if (wanted.contains(key)) continue;

    Absent absent;
    absent.key = key;
    absent.observed = target;
    const auto lastSeen = tracker.lastSeen(key);
    absent.knownToTracker = lastSeen.has_value();
    absent.absentSince = lastSeen ? std::min(*lastSeen, now) : now;
    const auto absentFor = now - absent.absentSince;
    absent.unhealthy = target->state == TargetState::kUnhealthy;
    absent.serving = isServing(*target);
    if (absent.unhealthy) {
      absent.unhealthySince = std::min(tracker.unhealthySince(key).value_or(now), now);
    }

    std::string absentText = "absent for " + formatDuration(absentFor);
    if (!policy.prune) {
      hold(absent, HoldReason::kPruneDisabled,
           absentText + "; prune is false, so it is never deregistered");
      continue;
    }

    const auto leavingReason = tracker.leavingReason(key);
    absent.leaving = leavingReason.has_value();
    absent.graceDue = absent.leaving || atLeast(absentFor, grace);
    MonoTime unhealthyFrom = absent.absentSince;
    if (actOnHealth && absent.unhealthy) {
      unhealthyFrom = std::max(absent.absentSince, absent.unhealthySince);
      absent.unhealthyDue = atLeast(now - unhealthyFrom, unhealthyGrace);
    }

    if (!absent.graceDue && !absent.unhealthyDue) {
      std::string message = absentText + " of " + durationText(grace) + " grace";
      if (!absent.knownToTracker) {
        message += " (not seen before by this controller: grace starts now)";
      } else if (!tracker.everListed(key)) {
        message += " (not listed since this controller started: grace started when first seen)";
      }
      MonoTime deadline = addSaturating(absent.absentSince, grace);
      if (actOnHealth && absent.unhealthy) {
        message += "; absent and unhealthy for " + formatDuration(now - unhealthyFrom) + " of " +
                   durationText(unhealthyGrace) + " unhealthy grace";
        deadline = std::min(deadline, addSaturating(unhealthyFrom, unhealthyGrace));
      }
      if (failing) message += "; " + failingText;
      considerDeadline(deadline);
      hold(absent, HoldReason::kWithinGracePeriod, std::move(message));
      continue;
    }
    absent.dueText = absent.leaving ? absentText + " and leaving (" + *leavingReason + "): no grace"
                     : absent.graceDue
                         ? absentText + " (past " + durationText(grace) + " grace)"
                         : absentText + ", unhealthy for " + formatDuration(now - unhealthyFrom) +
                               " (past " + durationText(unhealthyGrace) + " unhealthy grace)";
    if (failing) {
      hold(absent, HoldReason::kSourceFailing,
           absent.dueText + " but " + failingText +
               "; nothing is deregistered until it answers again");
      continue;
    }
    if (absent.serving && waitForReplacements && !absent.leaving) {
      hold(absent, HoldReason::kReplacementsNotReady,
           absent.dueText + " but it serves, and " + std::to_string(replacementsNotServing) +
               " listed targets do not serve yet; kept until they pass health checks "
               "(policy.requireHealthyReplacements)");
      continue;
    }
    due.push_back(std::move(absent));
  }

  // Leaving targets first (they are going anyway), then those that do not serve (removing
  // them costs nothing), then unhealthy, then the longest absent, then by key (keys are unique).
  std::sort(due.begin(), due.end(), [](const Absent& a, const Absent& b) {
    if (a.leaving != b.leaving) return a.leaving;
    if (a.serving != b.serving) return !a.serving;
    if (a.unhealthy != b.unhealthy) return a.unhealthy;
    if (a.absentSince != b.absentSince) return a.absentSince < b.absentSince;
    return a.key < b.key;
  });

  // The window's budget: the cap of the registered count at the window's start, less what
  // the window already removed.
  const auto window = facts.deregistrationWindow;
  const int recent = static_cast<int>(tracker.deregisteredWithin(window, now));
  const int cap = std::max(0, policy.maxDeregistrationsPerSync.resolve(registeredCount + recent));
  const int budget = std::max(0, cap - recent);
  const int minTargets = std::max(0, policy.minTargets);
  int registeredLeft = registeredCount;
  int servingLeft = servingCount;
  int taken = 0;
  std::vector<const Absent*> takenTargets;
  for (const Absent& absent : due) {
    const std::string& why = absent.dueText;
    if (taken >= budget) {
      std::string message = why + "; over maxDeregistrationsPerSync " +
                            policy.maxDeregistrationsPerSync.toString() + " (" +
                            std::to_string(cap) + " per " + formatDuration(window) + " of " +
                            std::to_string(registeredCount + recent) + " registered targets";
      if (recent > 0) message += ", " + std::to_string(recent) + " already removed";
      hold(absent, HoldReason::kMaxDeregistrationsPerSync, message + ")");
      if (cap == 0) continue;  // a zero cap holds for good: no window ever frees it
      if (auto frees = tracker.windowFreesAt(window, now)) {
        considerDeadline(*frees);
      } else {
        considerDeadline(now + window);  // the batch taken now fills the window
      }
      continue;
    }
    if (registeredLeft - 1 < minTargets) {
      hold(absent, HoldReason::kMinTargets,
           why + "; would leave " + std::to_string(registeredLeft - 1) +
               " registered targets of minTargets " + std::to_string(policy.minTargets));
      continue;
    }
    if (absent.serving && servingLeft - 1 < minTargets) {
      hold(absent, HoldReason::kMinTargets,
           why + "; would leave " + std::to_string(servingLeft - 1) +
               " serving targets of minTargets " + std::to_string(policy.minTargets));
      continue;
    }
    --registeredLeft;
    if (absent.serving) --servingLeft;
    ++taken;
    takenTargets.push_back(&absent);
  }

  // toRegister was filled in key order (from `wanted`); toDeregister is sorted by key.
  std::sort(takenTargets.begin(), takenTargets.end(),
            [](const Absent* a, const Absent* b) { return a->key < b->key; });
  for (const Absent* absent : takenTargets) plan.toDeregister.push_back(absent->observed->target);
  std::sort(held.begin(), held.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  plan.held.reserve(held.size());
  for (auto& [key, target] : held) plan.held.push_back(std::move(target));
  return plan;
}

Plan computeDeletionPlan(const std::vector<ObservedTarget>& observed,
                         const EndpointTracker& tracker, const std::string& bindingKey,
                         const api::Policy& policy, MonoTime now, const GroupFacts& facts) {
  Plan plan;
  std::map<std::string, const ObservedTarget*> ours;
  int registeredCount = 0;
  for (const auto& target : observed) {
    if (!isRegistered(target)) continue;
    ++registeredCount;
    const auto key = target.target.key();
    if (tracker.lastListedBy(key, bindingKey)) ours.try_emplace(key, &target);
  }
  const auto window = facts.deregistrationWindow;
  const int recent = static_cast<int>(tracker.deregisteredWithin(window, now));
  const int cap = std::max(0, policy.maxDeregistrationsPerSync.resolve(registeredCount + recent));
  int budget = std::max(0, cap - recent);
  for (const auto& [key, target] : ours) {
    if (budget > 0) {
      plan.toDeregister.push_back(target->target);
      --budget;
      continue;
    }
    plan.held.push_back(HeldTarget{target->target, HoldReason::kMaxDeregistrationsPerSync, true,
                                   "binding deleted (deletionPolicy Deregister); over "
                                   "maxDeregistrationsPerSync " +
                                       policy.maxDeregistrationsPerSync.toString() + " per " +
                                       formatDuration(window)});
  }
  if (!plan.held.empty() && cap > 0) {
    const auto frees = tracker.windowFreesAt(window, now);
    plan.nextDeadline = frees && *frees > now ? *frees : now + window;
  }
  return plan;
}

}  // namespace endpointbinder::core
