// Table-driven tests for computePlan: each case states a source listing, the target group's
// contents, the tracker's history (as times before `now`) and a policy, and the exact plan.
#include "controller/core/planner.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace endpointbinder::core {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

const MonoTime kNow = MonoTime{} + hours(1000);

// "10.0.0.1" is port 443; "10.0.0.1#80" names another port.
Target target(const std::string& spec) {
  const auto hash = spec.find('#');
  if (hash == std::string::npos) return Target{spec, 443, std::nullopt};
  return Target{spec.substr(0, hash), std::stoi(spec.substr(hash + 1)), std::nullopt};
}
std::string keyOf(const std::string& spec) { return target(spec).key(); }

std::vector<api::Cidr> cidrs(std::initializer_list<const char*> texts) {
  std::vector<api::Cidr> out;
  for (const char* text : texts) out.push_back(*api::Cidr::parse(text));
  return out;
}

api::Policy defaultPolicy() {
  api::Policy policy;  // grace 3m, unhealthy grace off, prune, minTargets 1, cap 50%
  policy.allowedCidrs = api::defaultAllowedCidrs();
  return policy;
}

struct InGroup {
  std::string spec;
  TargetState state = TargetState::kHealthy;
  std::string reason = {};
};

struct Held {
  std::string spec;
  HoldReason reason;
};

struct Case {
  const char* name;
  std::vector<std::string> listed;
  std::vector<InGroup> group;
  // Tracker history: when the source last listed each absent target, since when targets have
  // been unhealthy, and since when the source has been failing (nullopt: it is not).
  std::vector<std::pair<std::string, seconds>> lastSeenAgo = {};
  std::vector<std::pair<std::string, seconds>> unhealthyAgo = {};
  std::optional<seconds> failingFor = std::nullopt;
  std::function<void(api::Policy&)> tweak = nullptr;
  // Expected plan.
  std::vector<std::string> wantRegister = {};
  std::vector<std::string> wantDeregister = {};
  std::vector<Held> wantHeld = {};
  std::optional<seconds> wantDeadlineIn = std::nullopt;
  std::vector<std::pair<std::string, std::string>> wantMessageHas = {};
  // Variations.
  bool trackerObservesGroup = true;   // false: the planner sees targets the tracker never did
  bool failingOnlyInDesired = false;  // the reconciler says failing, the tracker does not know
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

std::vector<ObservedTarget> groupOf(const Case& c) {
  std::vector<ObservedTarget> group;
  for (const auto& g : c.group) group.push_back({target(g.spec), g.state, g.reason, ""});
  return group;
}

// Replays the case's history into a tracker, oldest event first.
EndpointTracker trackerFor(const Case& c) {
  EndpointTracker tracker;
  std::vector<Target> listed;
  for (const auto& spec : c.listed) listed.push_back(target(spec));
  const auto group = groupOf(c);

  std::multimap<MonoTime, std::function<void()>> events;
  for (const auto& [spec, ago] : c.lastSeenAgo) {
    events.emplace(kNow - ago,
                   [&tracker, t = target(spec), ago] { tracker.recordListing({t}, kNow - ago); });
  }
  const MonoTime listedAt = c.failingFor ? kNow - *c.failingFor - seconds(1) : kNow;
  events.emplace(listedAt,
                 [&tracker, listed, listedAt] { tracker.recordListing(listed, listedAt); });
  for (const auto& [spec, ago] : c.unhealthyAgo) {
    const MonoTime at = kNow - ago;
    events.emplace(at, [&tracker, &c, group, at, ago] {
      auto snapshot = group;
      for (auto& o : snapshot) {
        if (!isRegistered(o)) continue;
        o.state = TargetState::kHealthy;
        for (const auto& [s, a] : c.unhealthyAgo) {
          if (target(s).key() == o.target.key() && a >= ago) o.state = TargetState::kUnhealthy;
        }
      }
      tracker.recordObserved(snapshot, at);
    });
  }
  if (c.failingFor && !c.failingOnlyInDesired) {
    events.emplace(kNow - *c.failingFor, [&tracker, at = kNow - *c.failingFor] {
      tracker.recordSourceFailure("SERVFAIL", at);
    });
  }
  if (c.trackerObservesGroup) {
    events.emplace(kNow, [&tracker, group] { tracker.recordObserved(group, kNow); });
  }
  for (auto& [at, event] : events) event();
  return tracker;
}

std::vector<std::string> keys(const std::vector<Target>& targets) {
  std::vector<std::string> out;
  for (const auto& t : targets) out.push_back(t.key());
  return out;
}

std::vector<std::string> keys(const std::vector<std::string>& specs) {
  std::vector<std::string> out;
  for (const auto& s : specs) out.push_back(keyOf(s));
  return out;
}

std::string describe(const Plan& plan) {
  std::string text = "register:";
  for (const auto& t : plan.toRegister) text += " " + t.key();
  text += "\nderegister:";
  for (const auto& t : plan.toDeregister) text += " " + t.key();
  text += "\nheld:";
  for (const auto& h : plan.held) {
    text += "\n  " + h.target.key() + " " + holdReasonName(h.reason) + ": " + h.message;
  }
  return text;
}

class PlannerTable : public testing::TestWithParam<Case> {};

TEST_P(PlannerTable, ComputesThePlan) {
  const Case& c = GetParam();
  api::Policy policy = defaultPolicy();
  if (c.tweak) c.tweak(policy);
  DesiredTargets desired;
  for (const auto& spec : c.listed) desired.targets.push_back(target(spec));
  desired.sourceFailing = c.failingFor.has_value();
  const auto tracker = trackerFor(c);
  const auto group = groupOf(c);

  const Plan plan = computePlan(desired, group, tracker, policy, kNow);
  SCOPED_TRACE(describe(plan));

  EXPECT_EQ(keys(plan.toRegister), keys(c.wantRegister));
  EXPECT_EQ(keys(plan.toDeregister), keys(c.wantDeregister));
  std::vector<std::pair<std::string, std::string>> gotHeld;
  for (const auto& h : plan.held) {
    gotHeld.emplace_back(h.target.key(), holdReasonName(h.reason));
    EXPECT_EQ(h.isDeregistration, h.reason != HoldReason::kNotAllowed) << h.target.key();
    EXPECT_FALSE(h.message.empty()) << h.target.key();
  }
  std::vector<std::pair<std::string, std::string>> wantHeld;
  for (const auto& h : c.wantHeld) wantHeld.emplace_back(keyOf(h.spec), holdReasonName(h.reason));
  EXPECT_EQ(gotHeld, wantHeld);
  if (c.wantDeadlineIn) {
    ASSERT_TRUE(plan.nextDeadline.has_value());
    EXPECT_EQ(*plan.nextDeadline - kNow, *c.wantDeadlineIn);
  } else {
    EXPECT_EQ(plan.nextDeadline, std::nullopt)
        << "deadline in " << (*plan.nextDeadline - kNow).count() << "ns";
  }
  for (const auto& [spec, text] : c.wantMessageHas) {
    const auto it = std::find_if(plan.held.begin(), plan.held.end(), [&](const HeldTarget& h) {
      return h.target.key() == keyOf(spec);
    });
    ASSERT_NE(it, plan.held.end()) << spec;
    EXPECT_NE(it->message.find(text), std::string::npos)
        << "message of " << spec << ": \"" << it->message << "\" lacks \"" << text << "\"";
  }
  EXPECT_EQ(plan.hasWrites(), !c.wantRegister.empty() || !c.wantDeregister.empty());
}

const std::string A = "10.0.0.1", B = "10.0.0.2", C = "10.0.0.3", D = "10.0.0.4", E = "10.0.0.5",
                  F = "10.0.0.6";
constexpr auto kHealthy = TargetState::kHealthy;
constexpr auto kUnhealthy = TargetState::kUnhealthy;

INSTANTIATE_TEST_SUITE_P(
    Registration, PlannerTable,
    testing::Values(
        Case{.name = "EmptyEverything", .listed = {}, .group = {}},
        Case{.name = "SteadyState", .listed = {A, B}, .group = {{A}, {B}}},
        Case{.name = "SteadyStateWhateverTheHealth",
             .listed = {A, B, C, D},
             .group = {{A, TargetState::kInitial, "Elb.RegistrationInProgress"},
                       {B, kUnhealthy, "Target.Timeout"},
                       {C, TargetState::kUnavailable},
                       {D, TargetState::kUnknown}},
             .unhealthyAgo = {{B, hours(1)}},
             .tweak = [](api::Policy& p) { p.unhealthyGracePeriod = seconds(30); }},
        Case{.name = "RegistersWhatIsMissing",
             .listed = {C, A, B},
             .group = {{A}},
             .wantRegister = {B, C}},
        Case{.name = "RegistersIntoAnEmptyGroup", .listed = {A}, .group = {}, .wantRegister = {A}},
        Case{.name = "ReRegistersDraining",
             .listed = {A, B},
             .group = {{A}, {B, TargetState::kDraining, "Target.DeregistrationInProgress"}},
             .wantRegister = {B}},
        Case{.name = "ReRegistersUnhealthyDraining",
             .listed = {A},
             .group = {{A, TargetState::kUnhealthyDraining}},
             .wantRegister = {A}},
        Case{.name = "RegistersUnusedNotRegistered",
             .listed = {A},
             .group = {{A, TargetState::kUnused, "Target.NotRegistered"}},
             .wantRegister = {A}},
        Case{.name = "UnusedNotInUseIsAlreadyRegistered",
             .listed = {A, B},
             .group = {{A, TargetState::kUnused, "Target.NotInUse"},
                       {B, TargetState::kUnused, "Target.NotInUse"}}},
        Case{.name = "DuplicateListingRegistersOnce",
             .listed = {A, A, B, A},
             .group = {{B}},
             .wantRegister = {A}},
        Case{.name = "PortIsPartOfTheIdentity",
             .listed = {A + "#80"},
             .group = {{A}},
             .lastSeenAgo = {{A, seconds(60)}},
             .wantRegister = {A + "#80"},
             .wantHeld = {{A, HoldReason::kWithinGracePeriod}},
             .wantDeadlineIn = seconds(120)},
        Case{.name = "Ipv6SpellingDoesNotMatter",
             .listed = {"FD00:0:0::1"},
             .group = {{"fd00::1"}},
             .tweak = [](api::Policy& p) { p.allowedCidrs = cidrs({"fd00::/8"}); }},
        Case{.name = "RegistrationDoesNotWaitForAFailingSource",
             .listed = {A, B},
             .group = {{A}},
             .failingFor = seconds(30),
             .wantRegister = {B}},
        Case{.name = "RegistrationDoesNotWaitForPrune",
             .listed = {A, B},
             .group = {{A}},
             .tweak = [](api::Policy& p) { p.prune = false; },
             .wantRegister = {B}}),
    [](const auto& info) { return std::string(info.param.name); });

INSTANTIATE_TEST_SUITE_P(
    AllowedCidrs, PlannerTable,
    testing::Values(
        Case{.name = "PublicIpIsHeld",
             .listed = {A, "8.8.8.8"},
             .group = {{A}},
             .wantHeld = {{"8.8.8.8", HoldReason::kNotAllowed}},
             .wantMessageHas = {{"8.8.8.8", "outside allowedCIDRs [10.0.0.0/8, 172.16.0.0/12"}}},
        Case{.name = "DrainingOutsideIsHeldNotReRegistered",
             .listed = {"8.8.8.8"},
             .group = {{"8.8.8.8", TargetState::kDraining}},
             .wantHeld = {{"8.8.8.8", HoldReason::kNotAllowed}}},
        Case{.name = "AlreadyRegisteredOutsideIsLeftAlone",
             .listed = {"8.8.8.8"},
             .group = {{"8.8.8.8"}}},
        Case{.name = "AbsentOutsideIsDeregisteredNormally",
             .listed = {A},
             .group = {{A}, {"8.8.8.8"}},
             .lastSeenAgo = {{"8.8.8.8", minutes(5)}},
             .wantDeregister = {"8.8.8.8"}},
        Case{.name = "BoundariesOfACidr",
             .listed = {"10.1.0.0", "10.1.255.255", "10.2.0.0", "10.0.255.255"},
             .group = {},
             .tweak = [](api::Policy& p) { p.allowedCidrs = cidrs({"10.1.0.0/16"}); },
             .wantRegister = {"10.1.0.0", "10.1.255.255"},
             .wantHeld = {{"10.0.255.255", HoldReason::kNotAllowed},
                          {"10.2.0.0", HoldReason::kNotAllowed}}},
        Case{.name = "InstanceIdsAreNeverSubjectToCidrs",
             .listed = {"i-0abc", "i-0def", A},
             .group = {},
             .tweak = [](api::Policy& p) { p.allowedCidrs = {}; },
             .wantRegister = {"i-0abc", "i-0def"},
             .wantHeld = {{A, HoldReason::kNotAllowed}},
             .wantMessageHas = {{A, "allowedCIDRs is empty"}}},
        Case{.name = "Ipv6NeedsAnIpv6Cidr",
             .listed = {"fd00::5", "2001:db8::1"},
             .group = {},
             .tweak =
                 [](api::Policy& p) { p.allowedCidrs.push_back(*api::Cidr::parse("fd00::/8")); },
             .wantRegister = {"fd00::5"},
             .wantHeld = {{"2001:db8::1", HoldReason::kNotAllowed}}},
        Case{.name = "MappedIpv4IsNotAnIpv4",
             .listed = {"::ffff:10.0.0.1"},
             .group = {},
             .wantHeld = {{"::ffff:10.0.0.1", HoldReason::kNotAllowed}}}),
    [](const auto& info) { return std::string(info.param.name); });

INSTANTIATE_TEST_SUITE_P(
    Grace, PlannerTable,
    testing::Values(
        Case{.name = "WithinGrace",
             .listed = {A, B},
             .group = {{A}, {B}, {C}},
             .lastSeenAgo = {{C, seconds(40)}},
             .wantHeld = {{C, HoldReason::kWithinGracePeriod}},
             .wantDeadlineIn = seconds(140),
             .wantMessageHas = {{C, "absent for 40s of 3m grace"}}},
        Case{.name = "OneSecondShortOfGrace",
             .listed = {A},
             .group = {{A}, {C}},
             .lastSeenAgo = {{C, seconds(179)}},
             .wantHeld = {{C, HoldReason::kWithinGracePeriod}},
             .wantDeadlineIn = seconds(1)},
        Case{.name = "ExactlyAtGrace",
             .listed = {A},
             .group = {{A}, {C}},
             .lastSeenAgo = {{C, seconds(180)}},
             .wantDeregister = {C}},
        Case{.name = "ZeroGraceDeregistersAtOnce",
             .listed = {A},
             .group = {{A}, {C}},
             .tweak = [](api::Policy& p) { p.deregistrationGracePeriod = {}; },
             .wantDeregister = {C}},
        Case{.name = "NeverSeenStartsGraceNow",
             .listed = {A},
             .group = {{A}, {C}},
             .wantHeld = {{C, HoldReason::kWithinGracePeriod}},
             .wantDeadlineIn = minutes(3),
             .wantMessageHas = {{C,
                                 "absent for 0s of 3m grace (not listed since this "
                                 "controller started: grace started when first seen)"}}},
        Case{.name = "NeverSeenEvenByObservationStartsGraceNow",
             .listed = {A},
             .group = {{A}, {C}},
             .wantHeld = {{C, HoldReason::kWithinGracePeriod}},
             .wantDeadlineIn = minutes(3),
             .wantMessageHas = {{C, "(not seen before by this controller: grace starts now)"}},
             .trackerObservesGroup = false},
        Case{.name = "EarliestDeadlineWins",
             .listed = {A},
             .group = {{A}, {B}, {C}, {D}},
             .lastSeenAgo = {{B, seconds(10)}, {C, seconds(170)}, {D, seconds(100)}},
             .wantHeld = {{B, HoldReason::kWithinGracePeriod},
                          {C, HoldReason::kWithinGracePeriod},
                          {D, HoldReason::kWithinGracePeriod}},
             .wantDeadlineIn = seconds(10)},
        Case{.name = "DrainingAbsentNeedsNothing",
             .listed = {A},
             .group = {{A}, {C, TargetState::kDraining}, {D, TargetState::kUnhealthyDraining}},
             .lastSeenAgo = {{C, hours(1)}, {D, hours(1)}}},
        Case{.name = "ListedIsNeverDeregisteredEvenIfUnhealthyForever",
             .listed = {A, B},
             .group = {{A, kUnhealthy}, {B, kUnhealthy}},
             .unhealthyAgo = {{A, hours(5)}, {B, hours(5)}},
             .tweak = [](api::Policy& p) { p.unhealthyGracePeriod = seconds(1); }},
        Case{.name = "UnusedNotInUseAbsentIsDeregistered",
             .listed = {A},
             .group = {{A, TargetState::kUnused, "Target.NotInUse"},
                       {C, TargetState::kUnused, "Target.NotInUse"}},
             .lastSeenAgo = {{C, minutes(4)}},
             .wantDeregister = {C}}),
    [](const auto& info) { return std::string(info.param.name); });

INSTANTIATE_TEST_SUITE_P(
    UnhealthyGrace, PlannerTable,
    testing::Values(
        Case{.name = "AbsentAndUnhealthyGoesSooner",
             .listed = {A},
             .group = {{A}, {C, kUnhealthy, "Target.Timeout"}},
             .lastSeenAgo = {{C, seconds(60)}},
             .unhealthyAgo = {{C, seconds(60)}},
             .tweak = [](api::Policy& p) { p.unhealthyGracePeriod = seconds(30); },
             .wantDeregister = {C}},
        Case{.name = "DueByHealthButSourceFailing",
             .listed = {A},
             .group = {{A}, {C, kUnhealthy, "Target.Timeout"}},
             .lastSeenAgo = {{C, seconds(60)}},
             .unhealthyAgo = {{C, seconds(50)}},
             .failingFor = seconds(5),
             .tweak = [](api::Policy& p) { p.unhealthyGracePeriod = seconds(30); },
             .wantHeld = {{C, HoldReason::kSourceFailing}},
             .wantMessageHas = {{C,
                                 "absent for 1m, unhealthy for 50s (past 30s unhealthy grace) "
                                 "but source failing for 5s: SERVFAIL"}}},
        Case{.name = "UnhealthyLongButAbsentBriefly",
             .listed = {A},
             .group = {{A}, {C, kUnhealthy}},
             .lastSeenAgo = {{C, seconds(10)}},
             .unhealthyAgo = {{C, minutes(10)}},
             .tweak = [](api::Policy& p) { p.unhealthyGracePeriod = seconds(30); },
             .wantHeld = {{C, HoldReason::kWithinGracePeriod}},
             .wantDeadlineIn = seconds(20),
             .wantMessageHas = {{C, "absent and unhealthy for 10s of 30s unhealthy grace"}}},
        Case{.name = "AbsentLongButUnhealthyBriefly",
             .listed = {A},
             .group = {{A}, {C, kUnhealthy}},
             .lastSeenAgo = {{C, seconds(100)}},
             .unhealthyAgo = {{C, seconds(10)}},
             .tweak = [](api::Policy& p) { p.unhealthyGracePeriod = seconds(30); },
             .wantHeld = {{C, HoldReason::kWithinGracePeriod}},
             .wantDeadlineIn = seconds(20)},
        Case{.name = "UnhealthyGraceLongerThanGraceChangesNothing",
             .listed = {A},
             .group = {{A}, {C, kUnhealthy}},
             .lastSeenAgo = {{C, seconds(100)}},
             .unhealthyAgo = {{C, seconds(100)}},
             .tweak = [](api::Policy& p) { p.unhealthyGracePeriod = minutes(10); },
             .wantHeld = {{C, HoldReason::kWithinGracePeriod}},
             .wantDeadlineIn = seconds(80)},
        Case{.name = "ZeroUnhealthyGraceIgnoresHealth",
             .listed = {A},
             .group = {{A}, {C, kUnhealthy}},
             .lastSeenAgo = {{C, seconds(100)}},
             .unhealthyAgo = {{C, hours(1)}},
             .wantHeld = {{C, HoldReason::kWithinGracePeriod}},
             .wantDeadlineIn = seconds(80)},
        Case{.name = "HealthyAgainIsNotUnhealthy",
             .listed = {A},
             .group = {{A}, {C, kHealthy}},
             .lastSeenAgo = {{C, seconds(100)}},
             .unhealthyAgo = {{C, hours(1)}},  // was unhealthy; healthy now
             .tweak = [](api::Policy& p) { p.unhealthyGracePeriod = seconds(30); },
             .wantHeld = {{C, HoldReason::kWithinGracePeriod}},
             .wantDeadlineIn = seconds(80)},
        Case{.name = "UnhealthyUnknownToTrackerStartsNow",
             .listed = {A},
             .group = {{A}, {C, kUnhealthy}},
             .lastSeenAgo = {{C, seconds(100)}},
             .tweak = [](api::Policy& p) { p.unhealthyGracePeriod = seconds(30); },
             .wantHeld = {{C, HoldReason::kWithinGracePeriod}},
             .wantDeadlineIn = seconds(30),
             .trackerObservesGroup = false}),
    [](const auto& info) { return std::string(info.param.name); });

INSTANTIATE_TEST_SUITE_P(
    SourceFailing, PlannerTable,
    testing::Values(
        Case{.name = "PastGraceHeld",
             .listed = {A},
             .group = {{A}, {C}},
             .lastSeenAgo = {{C, minutes(10)}},
             .failingFor = seconds(30),
             .wantHeld = {{C, HoldReason::kSourceFailing}},
             .wantMessageHas = {{C,
                                 "absent for 10m (past 3m grace) but source failing for 30s: "
                                 "SERVFAIL; nothing is deregistered until it answers again"}}},
        Case{.name = "KnownOnlyToTheReconciler",
             .listed = {A},
             .group = {{A}, {C}},
             .lastSeenAgo = {{C, minutes(10)}},
             .failingFor = seconds(30),
             .wantHeld = {{C, HoldReason::kSourceFailing}},
             .wantMessageHas = {{C, "source failing"}},
             .failingOnlyInDesired = true},
        Case{.name = "NoListingAtAllHoldsEverything",
             .listed = {},
             .group = {{A}, {B}, {C, kUnhealthy}},
             .lastSeenAgo = {{A, hours(2)}, {B, hours(2)}, {C, hours(2)}},
             .unhealthyAgo = {{C, hours(1)}},
             .failingFor = hours(1),
             .tweak =
                 [](api::Policy& p) {
                   p.minTargets = 0;
                   p.maxDeregistrationsPerSync = {true, 100};
                   p.unhealthyGracePeriod = seconds(10);
                 },
             .wantHeld = {{A, HoldReason::kSourceFailing},
                          {B, HoldReason::kSourceFailing},
                          {C, HoldReason::kSourceFailing}}},
        Case{.name = "WithinGraceSaysSo",
             .listed = {A},
             .group = {{A}, {C}},
             .lastSeenAgo = {{C, seconds(100)}},
             .failingFor = seconds(20),
             .wantHeld = {{C, HoldReason::kWithinGracePeriod}},
             .wantDeadlineIn = seconds(80),
             .wantMessageHas = {{C, "source failing for 20s"}}}),
    [](const auto& info) { return std::string(info.param.name); });

INSTANTIATE_TEST_SUITE_P(Prune, PlannerTable,
                         testing::Values(Case{.name = "DisabledKeepsEverything",
                                              .listed = {A},
                                              .group = {{A}, {B}, {C}},
                                              .lastSeenAgo = {{B, hours(3)}, {C, seconds(5)}},
                                              .tweak = [](api::Policy& p) { p.prune = false; },
                                              .wantHeld = {{B, HoldReason::kPruneDisabled},
                                                           {C, HoldReason::kPruneDisabled}},
                                              .wantMessageHas = {{B, "prune is false"}}}),
                         [](const auto& info) { return std::string(info.param.name); });

INSTANTIATE_TEST_SUITE_P(
    FloorsAndCaps, PlannerTable,
    testing::Values(
        Case{.name = "MinTargetsKeepsTheLastOne",
             .listed = {},
             .group = {{A}},
             .lastSeenAgo = {{A, minutes(10)}},
             .wantHeld = {{A, HoldReason::kMinTargets}},
             .wantMessageHas = {{A, "would leave 0 registered targets of minTargets 1"}}},
        Case{.name = "RegistrationsDoNotCountTowardMinTargets",
             .listed = {B},
             .group = {{A}},
             .lastSeenAgo = {{A, minutes(10)}},
             .wantRegister = {B},
             .wantHeld = {{A, HoldReason::kMinTargets}}},
        Case{.name = "DrainingDoesNotCountTowardMinTargets",
             .listed = {},
             .group = {{A}, {B, TargetState::kDraining}, {C, TargetState::kDraining}},
             .lastSeenAgo = {{A, minutes(10)}},
             .wantHeld = {{A, HoldReason::kMinTargets}}},
        Case{.name = "MinTargetsZeroMayEmptyTheGroup",
             .listed = {},
             .group = {{A}},
             .lastSeenAgo = {{A, minutes(10)}},
             .tweak = [](api::Policy& p) { p.minTargets = 0; },
             .wantDeregister = {A}},
        Case{.name = "MinTargetsTakesTheLongestAbsent",
             .listed = {E},
             .group = {{A}, {B}, {C}, {D}, {E}},
             .lastSeenAgo = {{A, minutes(10)}, {B, minutes(20)}, {C, minutes(15)}, {D, minutes(5)}},
             .tweak =
                 [](api::Policy& p) {
                   p.minTargets = 3;
                   p.maxDeregistrationsPerSync = {true, 100};
                 },
             .wantDeregister = {B, C},
             .wantHeld = {{A, HoldReason::kMinTargets}, {D, HoldReason::kMinTargets}},
             .wantMessageHas = {{A, "would leave 2 registered targets of minTargets 3"},
                                {D, "would leave 1 registered targets of minTargets 3"}}},
        Case{.name = "CapCount",
             .listed = {},
             .group = {{A}, {B}, {C}},
             .lastSeenAgo = {{A, minutes(4)}, {B, minutes(6)}, {C, minutes(5)}},
             .tweak =
                 [](api::Policy& p) {
                   p.minTargets = 0;
                   p.maxDeregistrationsPerSync = {false, 1};
                 },
             .wantDeregister = {B},
             .wantHeld = {{A, HoldReason::kMaxDeregistrationsPerSync},
                          {C, HoldReason::kMaxDeregistrationsPerSync}},
             .wantMessageHas = {{A, "over maxDeregistrationsPerSync 1 (1 of 3 registered"}}},
        Case{.name = "CapPercent",
             .listed = {},
             .group = {{A}, {B}, {C}, {D}},
             .lastSeenAgo = {{A, minutes(4)}, {B, minutes(6)}, {C, minutes(5)}, {D, minutes(7)}},
             .tweak = [](api::Policy& p) { p.minTargets = 0; },
             .wantDeregister = {B, D},
             .wantHeld = {{A, HoldReason::kMaxDeregistrationsPerSync},
                          {C, HoldReason::kMaxDeregistrationsPerSync}},
             .wantMessageHas = {{A, "50% (2 of 4 registered"}}},
        Case{.name = "CapPercentOfTheWholeGroupNotOfTheAbsent",
             .listed = {C, D, E, F},
             .group = {{A}, {B}, {C}, {D}, {E}, {F}},
             .lastSeenAgo = {{A, minutes(4)}, {B, minutes(6)}},
             .tweak =
                 [](api::Policy& p) {
                   p.maxDeregistrationsPerSync = {true, 34};
                 },
             .wantDeregister = {A, B}},
        Case{.name = "SmallPercentStillAllowsOne",
             .listed = {},
             .group = {{A}, {B}, {C}},
             .lastSeenAgo = {{A, minutes(4)}, {B, minutes(4)}, {C, minutes(4)}},
             .tweak =
                 [](api::Policy& p) {
                   p.minTargets = 0;
                   p.maxDeregistrationsPerSync = {true, 10};
                 },
             .wantDeregister = {A},
             .wantHeld = {{B, HoldReason::kMaxDeregistrationsPerSync},
                          {C, HoldReason::kMaxDeregistrationsPerSync}}},
        Case{.name = "CapTakesUnhealthyFirst",
             .listed = {},
             .group = {{A}, {B, kUnhealthy}, {C}},
             .lastSeenAgo = {{A, minutes(20)}, {B, minutes(5)}, {C, minutes(30)}},
             .unhealthyAgo = {{B, minutes(1)}},
             .tweak =
                 [](api::Policy& p) {
                   p.minTargets = 0;
                   p.maxDeregistrationsPerSync = {false, 2};
                 },
             .wantDeregister = {B, C},
             .wantHeld = {{A, HoldReason::kMaxDeregistrationsPerSync}}},
        Case{.name = "CapBreaksTiesByKey",
             .listed = {},
             .group = {{C}, {A}, {B}},
             .lastSeenAgo = {{A, minutes(5)}, {B, minutes(5)}, {C, minutes(5)}},
             .tweak =
                 [](api::Policy& p) {
                   p.minTargets = 0;
                   p.maxDeregistrationsPerSync = {false, 2};
                 },
             .wantDeregister = {A, B},
             .wantHeld = {{C, HoldReason::kMaxDeregistrationsPerSync}}},
        Case{.name = "CapThenFloor",
             .listed = {E, F},
             .group = {{A}, {B}, {C}, {D}, {E}, {F}},
             .lastSeenAgo = {{A, minutes(9)}, {B, minutes(8)}, {C, minutes(7)}, {D, minutes(6)}},
             .tweak =
                 [](api::Policy& p) {
                   p.minTargets = 4;
                   p.maxDeregistrationsPerSync = {false, 1};
                 },
             .wantDeregister = {A},
             .wantHeld = {{B, HoldReason::kMaxDeregistrationsPerSync},
                          {C, HoldReason::kMinTargets},
                          {D, HoldReason::kMinTargets}}},
        Case{.name = "ZeroCapHoldsAll",
             .listed = {},
             .group = {{A}, {B}},
             .lastSeenAgo = {{A, minutes(9)}, {B, minutes(8)}},
             .tweak =
                 [](api::Policy& p) {
                   p.minTargets = 0;
                   p.maxDeregistrationsPerSync = {false, 0};
                 },
             .wantHeld = {{A, HoldReason::kMaxDeregistrationsPerSync},
                          {B, HoldReason::kMaxDeregistrationsPerSync}}},
        Case{.name = "MixedPlanIsSortedByKey",
             .listed = {"10.0.0.9", "10.0.0.10", "i-b", "i-a", "8.8.4.4"},
             .group = {{"10.0.0.7"}, {"10.0.0.11"}, {"i-c"}, {"i-a"}},
             .lastSeenAgo = {{"10.0.0.7", minutes(4)},
                             {"10.0.0.11", minutes(4)},
                             {"i-c", seconds(1)}},
             .tweak =
                 [](api::Policy& p) {
                   p.maxDeregistrationsPerSync = {true, 100};
                 },
             .wantRegister = {"10.0.0.10", "10.0.0.9", "i-b"},
             .wantDeregister = {"10.0.0.11", "10.0.0.7"},
             .wantHeld = {{"8.8.4.4", HoldReason::kNotAllowed},
                          {"i-c", HoldReason::kWithinGracePeriod}},
             .wantDeadlineIn = seconds(179)}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(HoldReasonName, Names) {
  EXPECT_STREQ(holdReasonName(HoldReason::kNotAllowed), "NotAllowed");
  EXPECT_STREQ(holdReasonName(HoldReason::kWithinGracePeriod), "WithinGracePeriod");
  EXPECT_STREQ(holdReasonName(HoldReason::kSourceFailing), "SourceFailing");
  EXPECT_STREQ(holdReasonName(HoldReason::kPruneDisabled), "PruneDisabled");
  EXPECT_STREQ(holdReasonName(HoldReason::kMinTargets), "MinTargets");
  EXPECT_STREQ(holdReasonName(HoldReason::kMaxDeregistrationsPerSync), "MaxDeregistrationsPerSync");
}

TEST(FormatDuration, Table) {
  const std::vector<std::pair<std::chrono::nanoseconds, const char*>> cases = {
      {seconds(0), "0s"},
      {-seconds(5), "0s"},
      {std::chrono::microseconds(999), "0s"},
      {milliseconds(250), "250ms"},
      {seconds(40), "40s"},
      {minutes(3), "3m"},
      {seconds(150), "2m30s"},
      {hours(1) + minutes(5), "1h5m"},
      {milliseconds(1500), "1.5s"},
      {milliseconds(61'020), "1m1.02s"},
      {hours(2), "2h"},
      {hours(1) + seconds(5), "1h0m5s"},
      {hours(49), "49h"}};
  for (const auto& [duration, want] : cases) EXPECT_EQ(formatDuration(duration), want);
}

TEST(ComputePlan, SubMillisecondShortOfGraceIsStillWithinGrace) {
  EndpointTracker tracker;
  const auto c = target(C);
  tracker.recordListing({c}, kNow - minutes(3) + std::chrono::nanoseconds(1));
  tracker.recordListing({}, kNow - seconds(1));
  const std::vector<ObservedTarget> group = {{c, TargetState::kHealthy, "", ""},
                                             {target(A), TargetState::kHealthy, "", ""}};
  const auto plan = computePlan({{target(A)}, false}, group, tracker, defaultPolicy(), kNow);
  EXPECT_TRUE(plan.toDeregister.empty());
  ASSERT_TRUE(plan.nextDeadline.has_value());
  EXPECT_EQ(*plan.nextDeadline - kNow, std::chrono::nanoseconds(1)) << "strictly after now";
  const auto later =
      computePlan({{target(A)}, false}, group, tracker, defaultPolicy(), *plan.nextDeadline);
  EXPECT_EQ(keys(later.toDeregister), keys(std::vector<std::string>{C})) << "due at the deadline";
}

TEST(ComputePlan, AbsurdGraceSaturatesInsteadOfOverflowing) {
  EndpointTracker tracker;
  api::Policy policy = defaultPolicy();
  policy.deregistrationGracePeriod = api::Duration::max();
  policy.unhealthyGracePeriod = api::Duration::max();
  const std::vector<ObservedTarget> group = {{target(C), TargetState::kUnhealthy, "", ""},
                                             {target(A), TargetState::kHealthy, "", ""}};
  tracker.recordObserved(group, kNow);
  const auto plan = computePlan({{target(A)}, false}, group, tracker, policy, kNow);
  ASSERT_EQ(plan.held.size(), 1u);
  EXPECT_EQ(plan.held[0].reason, HoldReason::kWithinGracePeriod);
  EXPECT_EQ(plan.nextDeadline, MonoTime::max());
}

TEST(ComputePlan, DuplicateObservationsPreferTheRegisteredCopy) {
  EndpointTracker tracker;
  for (bool drainingFirst : {true, false}) {
    std::vector<ObservedTarget> group = {{target(A), TargetState::kDraining, "", ""},
                                         {target(A), TargetState::kHealthy, "", ""}};
    if (!drainingFirst) std::swap(group[0], group[1]);
    const auto plan = computePlan({{target(A)}, false}, group, tracker, defaultPolicy(), kNow);
    EXPECT_FALSE(plan.hasWrites()) << describe(plan);
  }
}

TEST(ComputePlan, DuplicateListingsChooseOneAvailabilityZoneWhateverTheOrder) {
  EndpointTracker tracker;
  std::vector<Target> listed = {
      {A, 443, "ap-northeast-1a"}, {A, 443, "all"}, {A, 443, std::nullopt}};
  std::optional<Plan> first;
  do {
    const auto plan = computePlan({listed, false}, {}, tracker, defaultPolicy(), kNow);
    ASSERT_EQ(plan.toRegister.size(), 1u);
    if (!first) first = plan;
    EXPECT_EQ(plan, *first);
  } while (std::next_permutation(
      listed.begin(), listed.end(),
      [](const Target& a, const Target& b) { return a.availabilityZone < b.availabilityZone; }));
  EXPECT_EQ(first->toRegister[0].availabilityZone, std::nullopt);
}

TEST(ComputePlan, KeepsTheListedAvailabilityZone) {
  EndpointTracker tracker;
  const auto plan = computePlan({{{A, 443, "all"}}, false}, {}, tracker, defaultPolicy(), kNow);
  ASSERT_EQ(plan.toRegister.size(), 1u);
  EXPECT_EQ(plan.toRegister[0], (Target{A, 443, "all"}));
}

}  // namespace
}  // namespace endpointbinder::core
