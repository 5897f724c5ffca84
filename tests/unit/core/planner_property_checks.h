// Shared machinery of the planner's randomized property tests (planner_property_test.cc,
// planner_convergence_property_test.cc): seeded case loops, random inputs, and the checks
// every plan must pass, written from the rules in planner.h rather than from its code.
// Test-only. Thread-safety: none.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <optional>
#include <ostream>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "controller/core/address_family.h"
#include "controller/core/planner.h"

namespace endpointbinder::core {

// Readable failure output for plans (found by argument-dependent lookup).
inline void PrintTo(const Plan& plan, std::ostream* os) {  // NOLINT: gtest's name
  *os << "register:";
  for (const auto& t : plan.toRegister) *os << " " << t.key();
  *os << " deregister:";
  for (const auto& t : plan.toDeregister) *os << " " << t.key();
  *os << " held:";
  for (const auto& h : plan.held) *os << " " << h.target.key() << "/" << holdReasonName(h.reason);
  if (plan.nextDeadline) *os << " deadline:" << plan.nextDeadline->time_since_epoch().count();
}

namespace testing {

using Rng = std::mt19937_64;
using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

inline const MonoTime kEpoch = MonoTime{} + hours(10'000);

// ---------------------------------------------------------------- case selection

inline std::optional<uint64_t> onlySeed() {
  const char* text = std::getenv("EB_PROPERTY_SEED");
  if (text == nullptr || *text == '\0') return std::nullopt;
  return std::strtoull(text, nullptr, 0);
}

inline int scaled(int cases) {
  const char* text = std::getenv("EB_PROPERTY_SCALE");
  const int scale = text != nullptr ? std::atoi(text) : 1;
  return cases * std::max(1, scale);
}

// Runs body(seed) for every case of a family; stops at the first failing case and says how to
// rerun it. Returns how many cases ran.
template <typename Body>
inline int forEachSeed(uint64_t base, int cases, Body body) {
  if (const auto seed = onlySeed()) {
    if (*seed < base || *seed >= base + static_cast<uint64_t>(scaled(cases))) return 0;
    body(*seed);
    return 1;
  }
  int ran = 0;
  for (int i = 0; i < scaled(cases); ++i) {
    const uint64_t seed = base + static_cast<uint64_t>(i);
    body(seed);
    ++ran;
    if (::testing::Test::HasFailure()) {
      ADD_FAILURE() << "property failed for seed " << seed
                    << "; rerun with EB_PROPERTY_SEED=" << seed;
      break;
    }
  }
  return ran;
}

// ---------------------------------------------------------------- random inputs

inline int uniform(Rng& rng, int lo, int hi) {
  return std::uniform_int_distribution<int>(lo, hi)(rng);
}
inline bool chance(Rng& rng, double p) { return std::bernoulli_distribution(p)(rng); }
template <typename T>
inline const T& pick(Rng& rng, const std::vector<T>& items) {
  return items[static_cast<size_t>(uniform(rng, 0, static_cast<int>(items.size()) - 1))];
}

inline std::string randomId(Rng& rng) {
  const auto n = [&](int lo, int hi) { return std::to_string(uniform(rng, lo, hi)); };
  switch (uniform(rng, 0, 9)) {
    case 0:
    case 1:
    case 2:
      return "10." + n(0, 1) + "." + n(0, 3) + "." + n(1, 20);
    case 3:
      return "172.16.0." + n(1, 20);
    case 4:
      return "192.168.1." + n(1, 20);
    case 5:
      return "100.64.0." + n(1, 9);
    case 6:
      return "8.8." + n(4, 8) + "." + n(4, 8);  // public: never allowed
    case 7: {
      std::ostringstream text;
      text << (chance(rng, 0.7) ? "fd00::" : "2001:db8::") << std::hex << uniform(rng, 1, 40);
      return text.str();
    }
    default: {
      std::ostringstream text;
      text << "i-0" << std::hex << uniform(rng, 0x100, 0x140);
      return text.str();
    }
  }
}

inline Target randomTarget(Rng& rng) {
  Target t{randomId(rng), chance(rng, 0.8) ? 443 : 80, std::nullopt};
  if (chance(rng, 0.1)) t.availabilityZone = "all";
  return t;
}

// `count` distinct targets (by key).
inline std::vector<Target> randomPool(Rng& rng, int count) {
  std::map<std::string, Target> byKey;
  for (int tries = 0; static_cast<int>(byKey.size()) < count && tries < count * 20; ++tries) {
    auto t = randomTarget(rng);
    byKey.emplace(t.key(), t);
  }
  std::vector<Target> pool;
  for (auto& [key, t] : byKey) pool.push_back(t);
  return pool;
}

inline std::vector<Target> randomSubset(Rng& rng, const std::vector<Target>& pool, double p) {
  std::vector<Target> out;
  for (const auto& t : pool) {
    if (chance(rng, p)) out.push_back(t);
  }
  return out;
}

inline ObservedTarget randomObserved(Rng& rng, const Target& target) {
  ObservedTarget o{target, TargetState::kHealthy, "", ""};
  const int roll = uniform(rng, 0, 99);
  if (roll < 40) {
    o.state = TargetState::kHealthy;
  } else if (roll < 55) {
    o.state = TargetState::kUnhealthy;
    o.reason = "Target.Timeout";
  } else if (roll < 65) {
    o.state = TargetState::kInitial;
  } else if (roll < 73) {
    o.state = TargetState::kDraining;
  } else if (roll < 77) {
    o.state = TargetState::kUnhealthyDraining;
  } else if (roll < 87) {
    o.state = TargetState::kUnused;
    o.reason = pick(rng, std::vector<std::string>{"Target.NotRegistered", "Target.NotInUse",
                                                  "Target.InvalidState", ""});
  } else if (roll < 94) {
    // Unavailable serves only when the group's health checks are disabled.
    o.state = TargetState::kUnavailable;
    if (chance(rng, 0.6)) o.reason = std::string(kReasonHealthCheckDisabled);
  } else {
    o.state = TargetState::kUnknown;
  }
  return o;
}

inline api::Policy randomPolicy(Rng& rng, bool forSimulation) {
  api::Policy p;
  const std::vector<api::Duration> graces = {api::Duration::zero(),
                                             seconds(1),
                                             seconds(10),
                                             seconds(30),
                                             minutes(1),
                                             minutes(3),
                                             minutes(5),
                                             minutes(10),
                                             milliseconds(uniform(rng, 1, 900'000))};
  p.deregistrationGracePeriod = pick(rng, graces);
  p.unhealthyGracePeriod = chance(rng, 0.5) ? api::Duration::zero() : pick(rng, graces);
  p.prune = chance(rng, forSimulation ? 0.9 : 0.85);
  p.minTargets = uniform(rng, 0, forSimulation ? 3 : 5);
  p.requireHealthyReplacements = chance(rng, 0.5);
  if (chance(rng, 0.5)) {
    p.maxDeregistrationsPerSync = {false, uniform(rng, forSimulation ? 1 : 0, 5)};
  } else {
    p.maxDeregistrationsPerSync = {true, pick(rng, std::vector<int>{1, 10, 25, 34, 50, 75, 100})};
  }
  const std::vector<const char*> cidrTexts = {"10.0.0.0/8",     "172.16.0.0/12", "192.168.0.0/16",
                                              "100.64.0.0/10",  "fd00::/8",      "10.0.0.0/16",
                                              "192.168.1.0/28", "10.1.2.0/24"};
  switch (uniform(rng, 0, 3)) {
    case 0:
      p.allowedCidrs = api::defaultAllowedCidrs();
      break;
    case 1:
      p.allowedCidrs = api::defaultAllowedCidrs();
      p.allowedCidrs.push_back(*api::Cidr::parse("fd00::/8"));
      break;
    case 2:
      for (const char* text : cidrTexts) {
        if (chance(rng, 0.4)) p.allowedCidrs.push_back(*api::Cidr::parse(text));
      }
      break;
    default:
      break;  // empty: no IP allowed
  }
  return p;
}

// What the planner is told of the group: mostly an ipv4 group, a deregistration window from
// none (the cap is then per sync) to five minutes.
inline GroupFacts randomFacts(Rng& rng) {
  GroupFacts facts;
  facts.ipAddressType = pick(rng, std::vector<std::string>{"ipv4", "ipv4", "ipv4", "ipv6", ""});
  facts.deregistrationWindow =
      pick(rng, std::vector<std::chrono::nanoseconds>{seconds(0), seconds(10), minutes(1),
                                                      minutes(1), minutes(5)});
  return facts;
}

// ---------------------------------------------------------------- spec-level helpers

inline bool ipAllowed(const Target& t, const api::Policy& policy) {
  const auto ip = api::IpAddress::parse(t.id);
  if (!ip) return true;  // instance ids are never subject to allowedCIDRs
  return std::any_of(policy.allowedCidrs.begin(), policy.allowedCidrs.end(),
                     [&](const api::Cidr& c) { return c.contains(*ip); });
}

inline std::string describe(const Plan& plan) {
  std::ostringstream text;
  text << "register:";
  for (const auto& t : plan.toRegister) text << " " << t.key();
  text << "\nderegister:";
  for (const auto& t : plan.toDeregister) text << " " << t.key();
  text << "\nheld:";
  for (const auto& h : plan.held) {
    text << "\n  " << h.target.key() << " " << holdReasonName(h.reason) << ": " << h.message;
  }
  return text.str();
}

inline std::string describePolicy(const api::Policy& p) {
  std::ostringstream text;
  text << "grace=" << p.deregistrationGracePeriod.count()
       << "ms unhealthyGrace=" << p.unhealthyGracePeriod.count() << "ms prune=" << p.prune
       << " minTargets=" << p.minTargets << " cap=" << p.maxDeregistrationsPerSync.toString()
       << " requireHealthyReplacements=" << p.requireHealthyReplacements << " allowed=[";
  for (const auto& c : p.allowedCidrs) text << c.toString() << " ";
  text << "]";
  return text.str();
}

inline bool sortedUniqueByKey(const std::vector<std::string>& keys) {
  return std::adjacent_find(keys.begin(), keys.end(),
                            [](const auto& a, const auto& b) { return a >= b; }) == keys.end();
}

inline std::vector<std::string> keyList(const std::vector<Target>& targets) {
  std::vector<std::string> keys;
  for (const auto& t : targets) keys.push_back(t.key());
  return keys;
}

// The checks every plan must pass, whatever produced its inputs. `failing` is what the
// planner was told (desired flag or tracker); `facts` is what it was told of the group.
inline void checkPlanInvariants(const Plan& plan, const DesiredTargets& desired,
                                const std::vector<ObservedTarget>& observed,
                                const EndpointTracker& tracker, const api::Policy& policy,
                                MonoTime now, const GroupFacts& facts = {}) {
  std::set<std::string> listed;
  for (const auto& t : desired.targets) listed.insert(t.key());
  std::set<std::string> registered;
  std::set<std::string> present;
  std::map<std::string, const ObservedTarget*> byKey;  // the registered copy of each key
  for (const auto& o : observed) {
    present.insert(o.target.key());
    if (isRegistered(o)) {
      registered.insert(o.target.key());
      byKey[o.target.key()] = &o;  // duplicates of one key share a state in these generators
    }
  }
  const auto serving = [&](const std::string& k) { return isServing(*byKey.at(k)); };
  const auto reg = keyList(plan.toRegister);
  const auto dereg = keyList(plan.toDeregister);
  std::vector<std::string> heldKeys;
  for (const auto& h : plan.held) heldKeys.push_back(h.target.key());

  EXPECT_TRUE(sortedUniqueByKey(reg)) << "toRegister sorted by key, no duplicates";
  EXPECT_TRUE(sortedUniqueByKey(dereg)) << "toDeregister sorted by key, no duplicates";
  EXPECT_TRUE(sortedUniqueByKey(heldKeys)) << "held sorted by key, no duplicates";

  const std::set<std::string> regSet(reg.begin(), reg.end());
  const std::set<std::string> deregSet(dereg.begin(), dereg.end());
  for (const auto& k : reg) EXPECT_FALSE(deregSet.contains(k)) << "register ∩ deregister: " << k;
  for (const auto& k : heldKeys) {
    EXPECT_FALSE(regSet.contains(k) || deregSet.contains(k)) << "held and planned: " << k;
  }

  // Why a listed, unregistered target may not be registered now, in the documented order.
  const auto registrationHold = [&](const Target& t) -> std::optional<HoldReason> {
    if (!ipAllowed(t, policy)) return HoldReason::kNotAllowed;
    if (!addressFamilyAccepted(facts.ipAddressType, t.id)) return HoldReason::kAddressFamily;
    if (tracker.rejection(t.key(), now)) return HoldReason::kRejectedByAws;
    return std::nullopt;
  };

  // Minimal.
  for (const auto& t : plan.toRegister) {
    EXPECT_TRUE(listed.contains(t.key())) << "registers what is not listed: " << t.key();
    EXPECT_FALSE(registered.contains(t.key())) << "registers a registered target: " << t.key();
    EXPECT_EQ(registrationHold(t), std::nullopt) << "registers a held target: " << t.key();
  }
  for (const auto& t : plan.toDeregister) {
    EXPECT_FALSE(listed.contains(t.key())) << "deregisters a listed target: " << t.key();
    EXPECT_TRUE(registered.contains(t.key())) << "deregisters an unregistered target: " << t.key();
  }
  // Complete: every difference is either planned or held, with the right kind of hold.
  for (const auto& k : listed) {
    if (registered.contains(k)) continue;
    const auto h = std::find(heldKeys.begin(), heldKeys.end(), k);
    EXPECT_TRUE(regSet.contains(k) || h != heldKeys.end())
        << "listed, unregistered, ignored: " << k;
  }
  for (const auto& k : registered) {
    if (listed.contains(k)) continue;
    const auto h = std::find(heldKeys.begin(), heldKeys.end(), k);
    EXPECT_TRUE(deregSet.contains(k) || h != heldKeys.end()) << "absent, ignored: " << k;
  }
  for (const auto& h : plan.held) {
    const auto k = h.target.key();
    EXPECT_FALSE(h.message.empty()) << k;
    const bool registrationReason = h.reason == HoldReason::kNotAllowed ||
                                    h.reason == HoldReason::kAddressFamily ||
                                    h.reason == HoldReason::kRejectedByAws;
    EXPECT_EQ(h.isDeregistration, !registrationReason) << k << " " << holdReasonName(h.reason);
    if (registrationReason) {
      EXPECT_TRUE(listed.contains(k) && !registered.contains(k)) << k;
      EXPECT_EQ(registrationHold(h.target), h.reason) << "registration hold: " << k;
      if (h.reason != HoldReason::kRejectedByAws) {
        EXPECT_TRUE(api::IpAddress::parse(h.target.id).has_value()) << "instance held: " << k;
      }
    } else {
      EXPECT_TRUE(registered.contains(k) && !listed.contains(k)) << k;
    }
  }
  // A listed target is registered now unless one of the registration holds applies.
  for (const auto& t : desired.targets) {
    const auto k = t.key();
    if (registered.contains(k) || regSet.contains(k)) continue;
    EXPECT_NE(registrationHold(t), std::nullopt) << "listed, registrable, not registered: " << k;
  }
  // Replacements that do not serve yet: listed and registered but not serving, or registered
  // by this very plan.
  int notServingReplacements = 0;
  for (const auto& k : listed) {
    if (registered.contains(k) && !serving(k)) ++notServingReplacements;
  }
  notServingReplacements += static_cast<int>(reg.size());
  const bool waitForReplacements = policy.requireHealthyReplacements && notServingReplacements > 0;

  // Safety of removals.
  const bool failing = desired.sourceFailing || tracker.sourceFailing();
  if (failing) {
    EXPECT_TRUE(dereg.empty()) << "deregisters while the source fails";
  }
  if (!policy.prune) {
    EXPECT_TRUE(dereg.empty()) << "deregisters with prune: false";
  }
  const int registeredCount = static_cast<int>(registered.size());
  int servingCount = 0;
  for (const auto& k : registered) servingCount += serving(k) ? 1 : 0;
  int servingRemoved = 0;
  for (const auto& k : dereg) servingRemoved += serving(k) ? 1 : 0;
  if (!dereg.empty()) {
    EXPECT_GE(registeredCount - static_cast<int>(dereg.size()), policy.minTargets)
        << "registered floor";
  }
  if (servingRemoved > 0) {
    EXPECT_GE(servingCount - servingRemoved, policy.minTargets) << "serving floor";
    EXPECT_FALSE(waitForReplacements) << "removed a serving target while " << notServingReplacements
                                      << " listed targets do not serve yet";
  }
  // The rate: this plan and the window's earlier removals stay within the cap of the targets
  // registered at the window's start.
  const auto window = facts.deregistrationWindow;
  const int recent = static_cast<int>(tracker.deregisteredWithin(window, now));
  const int cap = std::max(0, policy.maxDeregistrationsPerSync.resolve(registeredCount + recent));
  const int budget = std::max(0, cap - recent);
  EXPECT_LE(static_cast<int>(dereg.size()), budget)
      << "cap " << cap << " per window with " << recent << " already removed";

  // Grace, from the tracker's memory: which absent targets are due, and since when.
  struct Due {
    std::string key;
    bool serving;
    bool unhealthy;
    MonoTime since;
  };
  std::vector<Due> due;
  std::optional<MonoTime> wantDeadline;
  const auto deadlineAt = [&](MonoTime at) {
    if (at > now && (!wantDeadline || at < *wantDeadline)) wantDeadline = at;
  };
  const bool actOnHealth = policy.unhealthyGracePeriod > api::Duration::zero();
  for (const auto& k : registered) {
    if (listed.contains(k)) continue;
    const MonoTime since = std::min(tracker.lastSeen(k).value_or(now), now);
    const bool unhealthy = byKey[k]->state == TargetState::kUnhealthy;
    const MonoTime unhealthyFrom =
        std::max(since, std::min(tracker.unhealthySince(k).value_or(now), now));
    const bool graceDue = now - since >= policy.deregistrationGracePeriod;
    const bool healthDue =
        actOnHealth && unhealthy && now - unhealthyFrom >= policy.unhealthyGracePeriod;
    if (graceDue || healthDue) {
      due.push_back({k, serving(k), unhealthy, since});
      continue;
    }
    EXPECT_FALSE(deregSet.contains(k)) << "deregistered within grace: " << k;
    if (policy.prune) {
      MonoTime at = since + policy.deregistrationGracePeriod;
      if (actOnHealth && unhealthy) at = std::min(at, unhealthyFrom + policy.unhealthyGracePeriod);
      deadlineAt(at);
    }
  }

  // Liveness and order: the due targets that may go (not held by the source or by their
  // replacements) go in the documented order — not serving, unhealthy, longest absent, key —
  // as many as the window's budget and both floors allow.
  std::vector<Due> eligible;
  if (!failing && policy.prune) {
    for (const auto& d : due) {
      if (!(d.serving && waitForReplacements)) eligible.push_back(d);
    }
  }
  std::sort(eligible.begin(), eligible.end(), [](const Due& a, const Due& b) {
    if (a.serving != b.serving) return !a.serving;
    if (a.unhealthy != b.unhealthy) return a.unhealthy;
    if (a.since != b.since) return a.since < b.since;
    return a.key < b.key;
  });
  const int minTargets = std::max(0, policy.minTargets);
  const int eligibleNotServing = static_cast<int>(
      std::count_if(eligible.begin(), eligible.end(), [](const Due& d) { return !d.serving; }));
  const int eligibleServing = static_cast<int>(eligible.size()) - eligibleNotServing;
  const int take = std::max(
      0, std::min({budget, registeredCount - minTargets,
                   eligibleNotServing +
                       std::min(eligibleServing, std::max(0, servingCount - minTargets))}));
  std::set<std::string> wantDereg;
  for (int i = 0; i < take; ++i) wantDereg.insert(eligible[static_cast<size_t>(i)].key);
  EXPECT_EQ(deregSet, wantDereg) << "the due targets, capped and floored, in order";
  // Past the budget every other eligible target waits for the window; short of it, a floor.
  const HoldReason restReason =
      take >= budget ? HoldReason::kMaxDeregistrationsPerSync : HoldReason::kMinTargets;
  if (static_cast<int>(eligible.size()) > take &&
      restReason == HoldReason::kMaxDeregistrationsPerSync && cap > 0) {
    deadlineAt(tracker.windowFreesAt(window, now).value_or(now + window));
  }
  EXPECT_EQ(plan.nextDeadline, wantDeadline) << "nextDeadline";
  if (plan.nextDeadline) {
    EXPECT_GT(*plan.nextDeadline, now);
  }

  // Hold reasons of what is held back: the first that applies, in the documented order.
  for (const auto& h : plan.held) {
    if (!h.isDeregistration) continue;
    const auto k = h.target.key();
    const auto d = std::find_if(due.begin(), due.end(), [&](const Due& x) { return x.key == k; });
    if (!policy.prune) {
      EXPECT_EQ(h.reason, HoldReason::kPruneDisabled) << k;
    } else if (d == due.end()) {
      EXPECT_EQ(h.reason, HoldReason::kWithinGracePeriod) << k;
    } else if (failing) {
      EXPECT_EQ(h.reason, HoldReason::kSourceFailing) << k;
    } else if (d->serving && waitForReplacements) {
      EXPECT_EQ(h.reason, HoldReason::kReplacementsNotReady) << k;
    } else {
      EXPECT_EQ(h.reason, restReason) << k << " " << holdReasonName(h.reason);
    }
  }
}

// Same contents, another order, exact duplicates added: the same plan.
inline void checkOrderIndependence(const Plan& plan, const DesiredTargets& desired,
                                   const std::vector<ObservedTarget>& observed,
                                   const EndpointTracker& tracker, const api::Policy& policy,
                                   MonoTime now, Rng& rng, const GroupFacts& facts = {}) {
  DesiredTargets shuffledDesired = desired;
  auto shuffledObserved = observed;
  if (!desired.targets.empty() && chance(rng, 0.5)) {
    shuffledDesired.targets.push_back(pick(rng, desired.targets));
  }
  if (!observed.empty() && chance(rng, 0.5)) shuffledObserved.push_back(pick(rng, observed));
  std::shuffle(shuffledDesired.targets.begin(), shuffledDesired.targets.end(), rng);
  std::shuffle(shuffledObserved.begin(), shuffledObserved.end(), rng);
  const Plan again = computePlan(shuffledDesired, shuffledObserved, tracker, policy, now, facts);
  EXPECT_EQ(again, plan) << "order/duplicates changed the plan:\n"
                         << describe(plan) << "\nvs\n"
                         << describe(again);
  EXPECT_EQ(computePlan(desired, observed, tracker, policy, now, facts), plan) << "not repeatable";
}

}  // namespace testing
}  // namespace endpointbinder::core
