// Randomized property tests for computePlan and EndpointTracker.
//
// Two families, each case driven by its own fixed seed (kSnapshotSeedBase + i, ...):
//  * Snapshot cases: a random tracker history, listing, group and policy; one plan, checked
//    against the rules of planner.h (minimal, complete, grace, failing source, prune, floor,
//    cap and its order, allowedCIDRs, deadline, order independence).
//  * Simulation cases: a binding synced over time against a simulated target group that
//    applies every plan, with a churning source, failures, restarts and sick targets; every
//    plan is checked against an oracle of when each target was last evidenced, then the source
//    settles and the group must converge to a steady state that makes no write.
// On failure the seed is printed; EB_PROPERTY_SEED=<seed> reruns just that case and
// EB_PROPERTY_SCALE=<n> multiplies the number of cases.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <map>
#include <optional>
#include <ostream>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "controller/core/planner.h"
#include "tests/unit/core/simulated_target_group.h"

namespace endpointbinder::core {

// Readable failure output for plans (found by argument-dependent lookup).
void PrintTo(const Plan& plan, std::ostream* os) {
  *os << "register:";
  for (const auto& t : plan.toRegister) *os << " " << t.key();
  *os << " deregister:";
  for (const auto& t : plan.toDeregister) *os << " " << t.key();
  *os << " held:";
  for (const auto& h : plan.held) *os << " " << h.target.key() << "/" << holdReasonName(h.reason);
  if (plan.nextDeadline) *os << " deadline:" << plan.nextDeadline->time_since_epoch().count();
}

namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;
using Rng = std::mt19937_64;

constexpr uint64_t kSnapshotSeedBase = 0x5eed'0000;
constexpr uint64_t kSimulationSeedBase = 0x51f0'0000;
constexpr int kSnapshotCases = 6000;
constexpr int kSimulationCases = 4000;

const MonoTime kEpoch = MonoTime{} + hours(10'000);

// ---------------------------------------------------------------- case selection

std::optional<uint64_t> onlySeed() {
  const char* text = std::getenv("EB_PROPERTY_SEED");
  if (text == nullptr || *text == '\0') return std::nullopt;
  return std::strtoull(text, nullptr, 0);
}

int scaled(int cases) {
  const char* text = std::getenv("EB_PROPERTY_SCALE");
  const int scale = text != nullptr ? std::atoi(text) : 1;
  return cases * std::max(1, scale);
}

// Runs body(seed) for every case of a family; stops at the first failing case and says how to
// rerun it. Returns how many cases ran.
template <typename Body>
int forEachSeed(uint64_t base, int cases, Body body) {
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

int uniform(Rng& rng, int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); }
bool chance(Rng& rng, double p) { return std::bernoulli_distribution(p)(rng); }
template <typename T>
const T& pick(Rng& rng, const std::vector<T>& items) {
  return items[static_cast<size_t>(uniform(rng, 0, static_cast<int>(items.size()) - 1))];
}

std::string randomId(Rng& rng) {
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

Target randomTarget(Rng& rng) {
  Target t{randomId(rng), chance(rng, 0.8) ? 443 : 80, std::nullopt};
  if (chance(rng, 0.1)) t.availabilityZone = "all";
  return t;
}

// `count` distinct targets (by key).
std::vector<Target> randomPool(Rng& rng, int count) {
  std::map<std::string, Target> byKey;
  for (int tries = 0; static_cast<int>(byKey.size()) < count && tries < count * 20; ++tries) {
    auto t = randomTarget(rng);
    byKey.emplace(t.key(), t);
  }
  std::vector<Target> pool;
  for (auto& [key, t] : byKey) pool.push_back(t);
  return pool;
}

std::vector<Target> randomSubset(Rng& rng, const std::vector<Target>& pool, double p) {
  std::vector<Target> out;
  for (const auto& t : pool) {
    if (chance(rng, p)) out.push_back(t);
  }
  return out;
}

ObservedTarget randomObserved(Rng& rng, const Target& target) {
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
    o.state = TargetState::kUnavailable;
  } else {
    o.state = TargetState::kUnknown;
  }
  return o;
}

api::Policy randomPolicy(Rng& rng, bool forSimulation) {
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

// ---------------------------------------------------------------- spec-level helpers

bool ipAllowed(const Target& t, const api::Policy& policy) {
  const auto ip = api::IpAddress::parse(t.id);
  if (!ip) return true;  // instance ids are never subject to allowedCIDRs
  return std::any_of(policy.allowedCidrs.begin(), policy.allowedCidrs.end(),
                     [&](const api::Cidr& c) { return c.contains(*ip); });
}

std::string describe(const Plan& plan) {
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

std::string describePolicy(const api::Policy& p) {
  std::ostringstream text;
  text << "grace=" << p.deregistrationGracePeriod.count()
       << "ms unhealthyGrace=" << p.unhealthyGracePeriod.count() << "ms prune=" << p.prune
       << " minTargets=" << p.minTargets << " cap=" << p.maxDeregistrationsPerSync.toString()
       << " allowed=[";
  for (const auto& c : p.allowedCidrs) text << c.toString() << " ";
  text << "]";
  return text.str();
}

bool sortedUniqueByKey(const std::vector<std::string>& keys) {
  return std::adjacent_find(keys.begin(), keys.end(),
                            [](const auto& a, const auto& b) { return a >= b; }) == keys.end();
}

std::vector<std::string> keysOf(const std::vector<Target>& targets) {
  std::vector<std::string> keys;
  for (const auto& t : targets) keys.push_back(t.key());
  return keys;
}

// The checks every plan must pass, whatever produced its inputs. `failing` is what the
// planner was told (desired flag or tracker).
void checkPlanInvariants(const Plan& plan, const DesiredTargets& desired,
                         const std::vector<ObservedTarget>& observed,
                         const EndpointTracker& tracker, const api::Policy& policy, MonoTime now) {
  std::set<std::string> listed;
  for (const auto& t : desired.targets) listed.insert(t.key());
  std::set<std::string> registered;
  std::set<std::string> present;
  for (const auto& o : observed) {
    present.insert(o.target.key());
    if (isRegistered(o)) registered.insert(o.target.key());
  }
  const auto reg = keysOf(plan.toRegister);
  const auto dereg = keysOf(plan.toDeregister);
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

  // Minimal.
  for (const auto& t : plan.toRegister) {
    EXPECT_TRUE(listed.contains(t.key())) << "registers what is not listed: " << t.key();
    EXPECT_FALSE(registered.contains(t.key())) << "registers a registered target: " << t.key();
    EXPECT_TRUE(ipAllowed(t, policy)) << "registers outside allowedCIDRs: " << t.key();
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
    if (h.reason == HoldReason::kNotAllowed) {
      EXPECT_FALSE(h.isDeregistration);
      EXPECT_TRUE(listed.contains(k) && !registered.contains(k)) << k;
      EXPECT_FALSE(ipAllowed(h.target, policy)) << "held NotAllowed but allowed: " << k;
      EXPECT_TRUE(api::IpAddress::parse(h.target.id).has_value()) << "instance held: " << k;
    } else {
      EXPECT_TRUE(h.isDeregistration);
      EXPECT_TRUE(registered.contains(k) && !listed.contains(k)) << k;
    }
  }
  for (const auto& k : listed) {
    if (registered.contains(k) || regSet.contains(k)) continue;
    const auto& h = plan.held[static_cast<size_t>(std::find(heldKeys.begin(), heldKeys.end(), k) -
                                                  heldKeys.begin())];
    EXPECT_EQ(h.reason, HoldReason::kNotAllowed) << k;
  }

  // Safety of removals.
  const bool failing = desired.sourceFailing || tracker.sourceFailing();
  if (failing) {
    EXPECT_TRUE(dereg.empty()) << "deregisters while the source fails";
  }
  if (!policy.prune) {
    EXPECT_TRUE(dereg.empty()) << "deregisters with prune: false";
  }
  const int registeredCount = static_cast<int>(registered.size());
  if (!dereg.empty()) {
    EXPECT_GE(registeredCount - static_cast<int>(dereg.size()), policy.minTargets) << "floor";
  }
  EXPECT_LE(static_cast<int>(dereg.size()),
            std::max(0, policy.maxDeregistrationsPerSync.resolve(registeredCount)))
      << "cap";

  // Grace, from the tracker's memory: which absent targets are due, and since when.
  struct Due {
    std::string key;
    bool unhealthy;
    MonoTime since;
  };
  std::vector<Due> due;
  std::optional<MonoTime> wantDeadline;
  std::map<std::string, const ObservedTarget*> byKey;
  for (const auto& o : observed) {
    if (isRegistered(o)) byKey[o.target.key()] = &o;
  }
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
      due.push_back({k, unhealthy, since});
      continue;
    }
    EXPECT_FALSE(deregSet.contains(k)) << "deregistered within grace: " << k;
    if (policy.prune) {
      MonoTime at = since + policy.deregistrationGracePeriod;
      if (actOnHealth && unhealthy) at = std::min(at, unhealthyFrom + policy.unhealthyGracePeriod);
      if (!wantDeadline || at < *wantDeadline) wantDeadline = at;
    }
  }
  EXPECT_EQ(plan.nextDeadline, wantDeadline) << "nextDeadline";
  if (plan.nextDeadline) {
    EXPECT_GT(*plan.nextDeadline, now);
  }

  // Liveness and order: exactly the first `take` due targets go, in the documented order.
  std::sort(due.begin(), due.end(), [](const Due& a, const Due& b) {
    if (a.unhealthy != b.unhealthy) return a.unhealthy;
    if (a.since != b.since) return a.since < b.since;
    return a.key < b.key;
  });
  size_t take = 0;
  if (!failing && policy.prune) {
    const int allowance = std::max(0, registeredCount - std::max(0, policy.minTargets));
    const int cap = std::max(0, policy.maxDeregistrationsPerSync.resolve(registeredCount));
    take = static_cast<size_t>(std::min({allowance, cap, static_cast<int>(due.size())}));
  }
  std::set<std::string> wantDereg;
  for (size_t i = 0; i < take; ++i) wantDereg.insert(due[i].key);
  EXPECT_EQ(deregSet, wantDereg) << "the due targets, capped and floored, in order";

  // Hold reasons of what is held back.
  for (const auto& h : plan.held) {
    if (!h.isDeregistration) continue;
    const auto k = h.target.key();
    const bool isDue =
        std::any_of(due.begin(), due.end(), [&](const Due& d) { return d.key == k; });
    if (!policy.prune) {
      EXPECT_EQ(h.reason, HoldReason::kPruneDisabled) << k;
    } else if (!isDue) {
      EXPECT_EQ(h.reason, HoldReason::kWithinGracePeriod) << k;
    } else if (failing) {
      EXPECT_EQ(h.reason, HoldReason::kSourceFailing) << k;
    } else {
      EXPECT_TRUE(h.reason == HoldReason::kMinTargets ||
                  h.reason == HoldReason::kMaxDeregistrationsPerSync)
          << k << " " << holdReasonName(h.reason);
    }
  }
}

// Same contents, another order, exact duplicates added: the same plan.
void checkOrderIndependence(const Plan& plan, const DesiredTargets& desired,
                            const std::vector<ObservedTarget>& observed,
                            const EndpointTracker& tracker, const api::Policy& policy, MonoTime now,
                            Rng& rng) {
  DesiredTargets shuffledDesired = desired;
  auto shuffledObserved = observed;
  if (!desired.targets.empty() && chance(rng, 0.5)) {
    shuffledDesired.targets.push_back(pick(rng, desired.targets));
  }
  if (!observed.empty() && chance(rng, 0.5)) shuffledObserved.push_back(pick(rng, observed));
  std::shuffle(shuffledDesired.targets.begin(), shuffledDesired.targets.end(), rng);
  std::shuffle(shuffledObserved.begin(), shuffledObserved.end(), rng);
  const Plan again = computePlan(shuffledDesired, shuffledObserved, tracker, policy, now);
  EXPECT_EQ(again, plan) << "order/duplicates changed the plan:\n"
                         << describe(plan) << "\nvs\n"
                         << describe(again);
  EXPECT_EQ(computePlan(desired, observed, tracker, policy, now), plan) << "not repeatable";
}

// ---------------------------------------------------------------- snapshot cases

TEST(PlannerProperty, RandomSnapshots) {
  int steadyStates = 0;
  int withDeregistrations = 0;
  int capped = 0;
  const int ran = forEachSeed(kSnapshotSeedBase, kSnapshotCases, [&](uint64_t seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    Rng rng(seed);
    const auto pool = randomPool(rng, uniform(rng, 0, 24));
    const api::Policy policy = randomPolicy(rng, false);
    const MonoTime now = kEpoch + milliseconds(uniform(rng, 0, 1'000'000));

    // Tracker history over the last hour, oldest first.
    EndpointTracker tracker(chance(rng, 0.5) ? EndpointTracker::kDefaultForgetAfter
                                             : milliseconds(uniform(rng, 0, 1'800'000)));
    std::vector<MonoTime> times;
    for (int i = uniform(rng, 0, 12); i > 0; --i) {
      times.push_back(now - milliseconds(uniform(rng, 1, 3'600'000)));
    }
    std::sort(times.begin(), times.end());
    std::vector<Target> lastListing;
    for (const MonoTime t : times) {
      switch (uniform(rng, 0, 3)) {
        case 0:
        case 1:
          lastListing = randomSubset(rng, pool, 0.6);
          tracker.recordListing(lastListing, t);
          break;
        case 2:
          tracker.recordSourceFailure(pick(rng, std::vector<std::string>{"SERVFAIL", "timeout"}),
                                      t);
          break;
        default: {
          std::vector<ObservedTarget> seen;
          for (const auto& target : randomSubset(rng, pool, 0.5)) {
            seen.push_back(randomObserved(rng, target));
          }
          tracker.recordObserved(seen, t);
        }
      }
    }
    DesiredTargets desired;
    desired.targets = chance(rng, 0.6) ? lastListing : randomSubset(rng, pool, 0.5);
    desired.sourceFailing = chance(rng, 0.8) ? tracker.sourceFailing() : chance(rng, 0.3);
    std::vector<ObservedTarget> observed;
    for (const auto& target : randomSubset(rng, pool, 0.6)) {
      observed.push_back(randomObserved(rng, target));
    }
    // Usually the tracker has seen this group (as the reconciler does before planning).
    const bool trackerObservedGroup = chance(rng, 0.8);
    if (trackerObservedGroup) tracker.recordObserved(observed, now);
    SCOPED_TRACE(describePolicy(policy));

    const Plan plan = computePlan(desired, observed, tracker, policy, now);
    SCOPED_TRACE(describe(plan));
    checkPlanInvariants(plan, desired, observed, tracker, policy, now);
    checkOrderIndependence(plan, desired, observed, tracker, policy, now, rng);

    // At the deadline something held within grace is due. Only when the tracker knows the group:
    // a target it has never been told about is "absent since now" at every call.
    if (trackerObservedGroup && plan.nextDeadline && *plan.nextDeadline < MonoTime::max()) {
      const Plan later = computePlan(desired, observed, tracker, policy, *plan.nextDeadline);
      const auto withinGrace = [](const Plan& p) {
        return std::count_if(p.held.begin(), p.held.end(), [](const HeldTarget& h) {
          return h.reason == HoldReason::kWithinGracePeriod;
        });
      };
      EXPECT_LT(withinGrace(later), withinGrace(plan)) << "nothing became due at nextDeadline";
      checkPlanInvariants(later, desired, observed, tracker, policy, *plan.nextDeadline);
    }
    if (!plan.hasWrites() && plan.held.empty()) ++steadyStates;
    if (!plan.toDeregister.empty()) ++withDeregistrations;
    if (std::any_of(plan.held.begin(), plan.held.end(), [](const HeldTarget& h) {
          return h.reason == HoldReason::kMaxDeregistrationsPerSync;
        })) {
      ++capped;
    }
  });
  std::printf("[ property ] %d snapshot cases: %d steady, %d with deregistrations, %d capped\n",
              ran, steadyStates, withDeregistrations, capped);
  if (!onlySeed()) {
    // The generator must reach the interesting regions, or the checks above prove little.
    EXPECT_GT(withDeregistrations, ran / 10);
    EXPECT_GT(capped, ran / 50);
    EXPECT_GT(steadyStates, ran / 50);
  }
}

TEST(PlannerProperty, SteadyStateYieldsAnEmptyPlan) {
  // Everything listed is registered and nothing else is: the plan is empty whatever the
  // health, the policy or the tracker's memory.
  const int ran = forEachSeed(kSnapshotSeedBase, 500, [&](uint64_t seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    Rng rng(seed ^ 0xabcdef);
    api::Policy policy = randomPolicy(rng, false);
    std::vector<Target> listed;
    for (const auto& t : randomPool(rng, uniform(rng, 0, 20))) {
      if (ipAllowed(t, policy)) listed.push_back(t);
    }
    std::vector<ObservedTarget> observed;
    for (const auto& t : listed) {
      auto o = randomObserved(rng, t);
      if (!isRegistered(o)) o.state = TargetState::kHealthy;
      observed.push_back(o);
    }
    EndpointTracker tracker;
    const MonoTime now = kEpoch + minutes(uniform(rng, 0, 600));
    if (chance(rng, 0.5)) tracker.recordListing(listed, now - minutes(uniform(rng, 0, 60)));
    if (chance(rng, 0.5)) tracker.recordObserved(observed, now);
    const Plan plan = computePlan({listed, chance(rng, 0.2)}, observed, tracker, policy, now);
    EXPECT_EQ(plan, Plan{}) << describe(plan);
  });
  EXPECT_GT(ran, 0);
}

// ---------------------------------------------------------------- simulation cases

struct SimulationStats {
  int cases = 0;
  int syncs = 0;
  int deregistrations = 0;
  int failedSyncs = 0;
  int restarts = 0;
};

void runSimulation(uint64_t seed, SimulationStats& stats) {
  SCOPED_TRACE("seed " + std::to_string(seed));
  Rng rng(seed);
  const api::Policy policy = randomPolicy(rng, true);
  SCOPED_TRACE(describePolicy(policy));
  testing::SimulatedTargetGroup::Options groupOptions;
  groupOptions.healthCheckDelay = seconds(pick(rng, std::vector<int>{0, 10, 30}));
  groupOptions.drainFor = seconds(pick(rng, std::vector<int>{0, 30, 300}));
  testing::SimulatedTargetGroup group(groupOptions);
  testing::SimulatedBinding binding(policy);
  const std::vector<seconds> steps = {seconds(5), seconds(10), seconds(15), seconds(30),
                                      seconds(60)};
  const double failRate = pick(rng, std::vector<double>{0.0, 0.1, 0.3, 0.6});
  const double churnRate = pick(rng, std::vector<double>{0.05, 0.2, 0.5});

  MonoTime now = kEpoch;
  auto pool = randomPool(rng, uniform(rng, 2, 16));
  std::vector<Target> live = randomSubset(rng, pool, 0.6);
  for (const auto& t : randomSubset(rng, pool, 0.4)) group.addRegistered(t, now, chance(rng, 0.7));
  ++stats.cases;

  // Oracle: the latest time each key was evidenced — listed by a good answer, standing in the
  // last good listing through an outage, or first observed in the group after a restart.
  std::map<std::string, MonoTime> evidence;
  std::set<std::string> lastGood;
  bool outage = false;
  bool restarted = true;  // the binding starts with no memory

  auto syncOnce = [&](bool allowTrouble) {
    testing::SourceAnswer answer;
    const bool fail = allowTrouble && chance(rng, failRate);
    if (fail) {
      answer = testing::SourceAnswer::failed(
          pick(rng, std::vector<std::string>{"SERVFAIL", "timeout", "NXDOMAIN", "empty answer"}));
      outage = true;
      ++stats.failedSyncs;
    } else {
      answer = testing::SourceAnswer::of(live);
      std::shuffle(answer.targets.begin(), answer.targets.end(), rng);
      if (outage) {
        for (const auto& k : lastGood) evidence[k] = now;
      }
      outage = false;
      lastGood.clear();
      for (const auto& t : live) {
        evidence[t.key()] = now;
        lastGood.insert(t.key());
      }
    }
    const bool hadAnswer = !restarted || !fail;
    const Plan plan = binding.sync(answer, group, now);
    ++stats.syncs;
    if (restarted) {
      for (const auto& o : binding.lastObserved()) {
        if (isRegistered(o) && !evidence.contains(o.target.key())) evidence[o.target.key()] = now;
      }
      if (!fail) restarted = false;
    }
    checkPlanInvariants(plan, binding.lastDesired(), binding.lastObserved(), binding.tracker(),
                        policy, now);
    checkOrderIndependence(plan, binding.lastDesired(), binding.lastObserved(), binding.tracker(),
                           policy, now, rng);
    if (fail || !hadAnswer) {
      EXPECT_TRUE(plan.toDeregister.empty()) << "removed while failing";
    }
    // Nothing seen within grace is removed (the oracle knows nothing of the tracker).
    for (const auto& t : plan.toDeregister) {
      const auto k = t.key();
      if (!evidence.contains(k)) {
        ADD_FAILURE() << "removed a target never evidenced: " << k;
        continue;
      }
      api::Duration threshold = policy.deregistrationGracePeriod;
      const auto o = std::find_if(binding.lastObserved().begin(), binding.lastObserved().end(),
                                  [&](const ObservedTarget& x) { return x.target.key() == k; });
      if (policy.unhealthyGracePeriod > api::Duration::zero() &&
          o->state == TargetState::kUnhealthy) {
        threshold = std::min(threshold, policy.unhealthyGracePeriod);
      }
      EXPECT_GE(now - evidence[k], threshold) << "removed within grace: " << k;
    }
    stats.deregistrations += static_cast<int>(plan.toDeregister.size());
    return plan;
  };

  // Phase 1: churn, failures, restarts, sickness.
  for (int i = uniform(rng, 10, 40); i > 0 && !::testing::Test::HasFailure(); --i) {
    now += pick(rng, steps);
    if (chance(rng, churnRate)) {
      if (chance(rng, 0.5) || live.empty()) {
        if (chance(rng, 0.3)) pool.push_back(randomTarget(rng));
        const auto& t = pick(rng, pool);
        if (std::none_of(live.begin(), live.end(),
                         [&](const Target& x) { return x.key() == t.key(); })) {
          live.push_back(t);
        }
      } else {
        live.erase(live.begin() + uniform(rng, 0, static_cast<int>(live.size()) - 1));
      }
    }
    if (chance(rng, 0.1)) group.setSick(pick(rng, pool).key(), chance(rng, 0.6));
    if (chance(rng, 0.02)) group.setAttached(chance(rng, 0.5));
    if (chance(rng, 0.03)) {
      binding.restart();
      evidence.clear();
      lastGood.clear();
      outage = false;
      restarted = true;
      ++stats.restarts;
    }
    syncOnce(true);
  }
  if (::testing::Test::HasFailure()) return;

  // Phase 2: the source settles and answers every time. Syncs come as the reconciler
  // schedules them: soon after a plan that wrote, at nextDeadline, else at the resync period.
  // The group must converge within the grace periods plus a bounded number of syncs.
  const auto resync = pick(rng, std::vector<seconds>{seconds(60), seconds(300)});
  const auto afterWrite = pick(rng, steps);
  const MonoTime settleFrom = now;
  const auto settleBy = std::max(policy.deregistrationGracePeriod, policy.unhealthyGracePeriod) +
                        groupOptions.healthCheckDelay + resync;
  Plan plan;
  int settleSyncs = 0;
  for (; settleSyncs < 60 && !::testing::Test::HasFailure(); ++settleSyncs) {
    if (settleSyncs == 0 || plan.hasWrites()) {
      now += afterWrite;
    } else if (plan.nextDeadline && *plan.nextDeadline < now + resync) {
      now = *plan.nextDeadline;
    } else {
      now += resync;
    }
    plan = syncOnce(false);
    if (!plan.hasWrites() && !plan.nextDeadline) break;
  }
  if (::testing::Test::HasFailure()) return;
  EXPECT_LE(now - settleFrom, settleBy + afterWrite * (settleSyncs + 1))
      << "converged too late: " << settleSyncs << " syncs";
  if (::testing::Test::HasFailure()) return;
  EXPECT_FALSE(plan.hasWrites()) << "not converged:\n" << describe(plan);
  std::set<std::string> wanted;
  for (const auto& t : live) {
    if (ipAllowed(t, policy)) wanted.insert(t.key());
  }
  const auto registered = group.registeredKeys();
  for (const auto& k : wanted) EXPECT_TRUE(registered.contains(k)) << "not registered: " << k;
  if (policy.prune) {
    // Listed targets stay even outside allowedCIDRs if already registered: extras are the
    // registered targets the source does not list.
    std::set<std::string> listedKeys;
    for (const auto& t : live) listedKeys.insert(t.key());
    size_t extras = 0;
    for (const auto& k : registered) extras += listedKeys.contains(k) ? 0 : 1;
    EXPECT_TRUE(extras == 0 || registered.size() <= static_cast<size_t>(policy.minTargets))
        << extras << " extra targets left with " << registered.size() << " registered";
  }
  // A steady state makes no write call, waits on no deadline, and holds only what it must.
  const int calls = group.registerCalls() + group.deregisterCalls();
  for (int i = 0; i < 3; ++i) {
    now += resync;
    const Plan steady = syncOnce(false);
    EXPECT_FALSE(steady.hasWrites());
    EXPECT_EQ(steady.nextDeadline, std::nullopt);
    for (const auto& h : steady.held) {
      EXPECT_TRUE(h.reason == HoldReason::kNotAllowed ||
                  (h.reason == HoldReason::kPruneDisabled && !policy.prune) ||
                  (h.reason == HoldReason::kMinTargets && policy.prune))
          << h.target.key() << " " << holdReasonName(h.reason);
    }
    if (policy.prune && std::all_of(registered.begin(), registered.end(), [&](const auto& k) {
          return std::any_of(live.begin(), live.end(),
                             [&](const Target& t) { return t.key() == k; });
        })) {
      for (const auto& h : steady.held) EXPECT_EQ(h.reason, HoldReason::kNotAllowed);
    }
  }
  EXPECT_EQ(group.registerCalls() + group.deregisterCalls(), calls);
}

TEST(PlannerProperty, SimulatedSyncsConvergeSafely) {
  SimulationStats stats;
  const int ran = forEachSeed(kSimulationSeedBase, kSimulationCases,
                              [&](uint64_t seed) { runSimulation(seed, stats); });
  std::printf(
      "[ property ] %d simulation cases: %d syncs, %d deregistrations, %d failed syncs, "
      "%d restarts\n",
      ran, stats.syncs, stats.deregistrations, stats.failedSyncs, stats.restarts);
  if (!onlySeed()) {
    EXPECT_GT(stats.deregistrations, ran);
    EXPECT_GT(stats.failedSyncs, ran);
    EXPECT_GT(stats.restarts, ran / 4);
  }
}

}  // namespace
}  // namespace endpointbinder::core
