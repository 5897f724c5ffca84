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
  // Tracker history: since when each absent target has been absent (the source dropped it
  // then), since when targets have been unhealthy, and since when the source has been failing
  // (nullopt: it is not).
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
  bool trackerObservesGroup = true;    // false: the planner sees targets the tracker never did
  bool failingOnlyInDesired = false;   // the reconciler says failing, the tracker does not know
  std::string ipAddressType = "ipv4";  // GroupFacts::ipAddressType
};

bool isRegistrationHold(HoldReason reason) {
  return reason == HoldReason::kNotAllowed || reason == HoldReason::kAddressFamily ||
         reason == HoldReason::kRejectedByAws;
}

// gtest prints parameters with PrintTo (its naming, not ours).
void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }  // NOLINT

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

  // Absence counts from when a listing dropped the target: one listing long ago holds the
  // listed and the absent targets, and the current listing drops each absent one with the
  // source's departure time (same lineage, so it is trusted).
  seconds oldest = seconds(1);
  for (const auto& item : c.lastSeenAgo) oldest = std::max(oldest, item.second);
  for (const auto& item : c.unhealthyAgo) oldest = std::max(oldest, item.second);
  if (c.failingFor) oldest = std::max(oldest, *c.failingFor);
  const MonoTime firstAt = kNow - oldest - seconds(2);
  SourceListing before{listed, firstAt, "ns/b@1", {}, "ns/b"};
  SourceListing current{listed, {}, "ns/b@1", {}, "ns/b"};
  for (const auto& [spec, ago] : c.lastSeenAgo) {
    before.targets.push_back(target(spec));
    current.departedAt[target(spec).key()] = kNow - ago;
  }
  if (!c.lastSeenAgo.empty()) tracker.recordListing(before, firstAt);

  std::multimap<MonoTime, std::function<void()>> events;
  const MonoTime listedAt = c.failingFor ? kNow - *c.failingFor - seconds(1) : kNow;
  current.confirmedAt = listedAt;
  events.emplace(listedAt,
                 [&tracker, current, listedAt] { tracker.recordListing(current, listedAt); });
  for (const auto& unhealthy : c.unhealthyAgo) {
    const seconds ago = unhealthy.second;
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

  GroupFacts facts;
  facts.ipAddressType = c.ipAddressType;
  const Plan plan = computePlan(desired, group, tracker, policy, kNow, facts);
  SCOPED_TRACE(describe(plan));

  EXPECT_EQ(keys(plan.toRegister), keys(c.wantRegister));
  EXPECT_EQ(keys(plan.toDeregister), keys(c.wantDeregister));
  std::vector<std::pair<std::string, std::string>> gotHeld;
  for (const auto& h : plan.held) {
    gotHeld.emplace_back(h.target.key(), holdReasonName(h.reason));
    EXPECT_EQ(h.isDeregistration, !isRegistrationHold(h.reason)) << h.target.key();
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
    const std::string key = keyOf(spec);
    const auto it = std::find_if(plan.held.begin(), plan.held.end(),
                                 [&](const HeldTarget& h) { return h.target.key() == key; });
    ASSERT_NE(it, plan.held.end()) << spec;
    EXPECT_NE(it->message.find(text), std::string::npos)
        << "message of " << spec << ": \"" << it->message << "\" lacks \"" << text << "\"";
  }
  EXPECT_EQ(plan.hasWrites(), !c.wantRegister.empty() || !c.wantDeregister.empty());
}

const std::string kA = "10.0.0.1", kB = "10.0.0.2", kC = "10.0.0.3", kD = "10.0.0.4",
                  kE = "10.0.0.5", kF = "10.0.0.6";
constexpr auto kHealthy = TargetState::kHealthy;
constexpr auto kUnhealthy = TargetState::kUnhealthy;

INSTANTIATE_TEST_SUITE_P(
    Registration, PlannerTable,
    testing::Values(
        Case{.name = "EmptyEverything", .listed = {}, .group = {}},
        Case{.name = "SteadyState", .listed = {kA, kB}, .group = {{kA}, {kB}}},
        Case{.name = "SteadyStateWhateverTheHealth",
             .listed = {kA, kB, kC, kD},
             .group = {{kA, TargetState::kInitial, "Elb.RegistrationInProgress"},
                       {kB, kUnhealthy, "Target.Timeout"},
                       {kC, TargetState::kUnavailable},
                       {kD, TargetState::kUnknown}},
             .unhealthyAgo = {{kB, hours(1)}},
             .tweak = [](api::Policy& p) { p.unhealthyGracePeriod = seconds(30); }},
        Case{.name = "RegistersWhatIsMissing",
             .listed = {kC, kA, kB},
             .group = {{kA}},
             .wantRegister = {kB, kC}},
        Case{
            .name = "RegistersIntoAnEmptyGroup", .listed = {kA}, .group = {}, .wantRegister = {kA}},
        Case{.name = "ReRegistersDraining",
             .listed = {kA, kB},
             .group = {{kA}, {kB, TargetState::kDraining, "Target.DeregistrationInProgress"}},
             .wantRegister = {kB}},
        Case{.name = "ReRegistersUnhealthyDraining",
             .listed = {kA},
             .group = {{kA, TargetState::kUnhealthyDraining}},
             .wantRegister = {kA}},
        Case{.name = "RegistersUnusedNotRegistered",
             .listed = {kA},
             .group = {{kA, TargetState::kUnused, "Target.NotRegistered"}},
             .wantRegister = {kA}},
        Case{.name = "UnusedNotInUseIsAlreadyRegistered",
             .listed = {kA, kB},
             .group = {{kA, TargetState::kUnused, "Target.NotInUse"},
                       {kB, TargetState::kUnused, "Target.NotInUse"}}},
        Case{.name = "DuplicateListingRegistersOnce",
             .listed = {kA, kA, kB, kA},
             .group = {{kB}},
             .wantRegister = {kA}},
        Case{.name = "PortIsPartOfTheIdentity",
             .listed = {kA + "#80"},
             .group = {{kA}},
             .lastSeenAgo = {{kA, seconds(60)}},
             .wantRegister = {kA + "#80"},
             .wantHeld = {{kA, HoldReason::kWithinGracePeriod}},
             .wantDeadlineIn = seconds(120)},
        Case{.name = "Ipv6SpellingDoesNotMatter",
             .listed = {"FD00:0:0::1"},
             .group = {{"fd00::1"}},
             .tweak = [](api::Policy& p) { p.allowedCidrs = cidrs({"fd00::/8"}); }},
        Case{.name = "RegistrationDoesNotWaitForAFailingSource",
             .listed = {kA, kB},
             .group = {{kA}},
             .failingFor = seconds(30),
             .wantRegister = {kB}},
        Case{.name = "RegistrationDoesNotWaitForPrune",
             .listed = {kA, kB},
             .group = {{kA}},
             .tweak = [](api::Policy& p) { p.prune = false; },
             .wantRegister = {kB}}),
    [](const auto& info) { return std::string(info.param.name); });

INSTANTIATE_TEST_SUITE_P(
    AllowedCidrs, PlannerTable,
    testing::Values(
        Case{.name = "PublicIpIsHeld",
             .listed = {kA, "8.8.8.8"},
             .group = {{kA}},
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
             .listed = {kA},
             .group = {{kA}, {"8.8.8.8"}},
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
             .listed = {"i-0abc", "i-0def", kA},
             .group = {},
             .tweak = [](api::Policy& p) { p.allowedCidrs = {}; },
             .wantRegister = {"i-0abc", "i-0def"},
             .wantHeld = {{kA, HoldReason::kNotAllowed}},
             .wantMessageHas = {{kA, "allowedCIDRs is empty"}}},
        // An ipv6 group: an ipv4 group would hold fd00::5 for its family (AddressFamily below).
        Case{.name = "Ipv6NeedsAnIpv6Cidr",
             .listed = {"fd00::5", "2001:db8::1"},
             .group = {},
             .tweak =
                 [](api::Policy& p) { p.allowedCidrs.push_back(*api::Cidr::parse("fd00::/8")); },
             .wantRegister = {"fd00::5"},
             .wantHeld = {{"2001:db8::1", HoldReason::kNotAllowed}},
             .ipAddressType = "ipv6"},
        Case{.name = "MappedIpv4IsNotAnIpv4",
             .listed = {"::ffff:10.0.0.1"},
             .group = {},
             .wantHeld = {{"::ffff:10.0.0.1", HoldReason::kNotAllowed}}}),
    [](const auto& info) { return std::string(info.param.name); });

INSTANTIATE_TEST_SUITE_P(
    Grace, PlannerTable,
    testing::Values(
        Case{.name = "WithinGrace",
             .listed = {kA, kB},
             .group = {{kA}, {kB}, {kC}},
             .lastSeenAgo = {{kC, seconds(40)}},
             .wantHeld = {{kC, HoldReason::kWithinGracePeriod}},
             .wantDeadlineIn = seconds(140),
             .wantMessageHas = {{kC, "absent for 40s of 3m grace"}}},
        Case{.name = "OneSecondShortOfGrace",
             .listed = {kA},
             .group = {{kA}, {kC}},
             .lastSeenAgo = {{kC, seconds(179)}},
             .wantHeld = {{kC, HoldReason::kWithinGracePeriod}},
             .wantDeadlineIn = seconds(1)},
        Case{.name = "ExactlyAtGrace",
             .listed = {kA},
             .group = {{kA}, {kC}},
             .lastSeenAgo = {{kC, seconds(180)}},
             .wantDeregister = {kC}},
        Case{.name = "ZeroGraceDeregistersAtOnce",
             .listed = {kA},
             .group = {{kA}, {kC}},
             .tweak = [](api::Policy& p) { p.deregistrationGracePeriod = {}; },
             .wantDeregister = {kC}},
        Case{.name = "NeverSeenStartsGraceNow",
             .listed = {kA},
             .group = {{kA}, {kC}},
             .wantHeld = {{kC, HoldReason::kWithinGracePeriod}},
             .wantDeadlineIn = minutes(3),
             .wantMessageHas = {{kC,
                                 "absent for 0s of 3m grace (not listed since this "
                                 "controller started: grace started when first seen)"}}},
        Case{.name = "NeverSeenEvenByObservationStartsGraceNow",
             .listed = {kA},
             .group = {{kA}, {kC}},
             .wantHeld = {{kC, HoldReason::kWithinGracePeriod}},
             .wantDeadlineIn = minutes(3),
             .wantMessageHas = {{kC, "(not seen before by this controller: grace starts now)"}},
             .trackerObservesGroup = false},
        Case{.name = "EarliestDeadlineWins",
             .listed = {kA},
             .group = {{kA}, {kB}, {kC}, {kD}},
             .lastSeenAgo = {{kB, seconds(10)}, {kC, seconds(170)}, {kD, seconds(100)}},
             .wantHeld = {{kB, HoldReason::kWithinGracePeriod},
                          {kC, HoldReason::kWithinGracePeriod},
                          {kD, HoldReason::kWithinGracePeriod}},
             .wantDeadlineIn = seconds(10)},
        Case{.name = "DrainingAbsentNeedsNothing",
             .listed = {kA},
             .group = {{kA}, {kC, TargetState::kDraining}, {kD, TargetState::kUnhealthyDraining}},
             .lastSeenAgo = {{kC, hours(1)}, {kD, hours(1)}}},
        Case{.name = "ListedIsNeverDeregisteredEvenIfUnhealthyForever",
             .listed = {kA, kB},
             .group = {{kA, kUnhealthy}, {kB, kUnhealthy}},
             .unhealthyAgo = {{kA, hours(5)}, {kB, hours(5)}},
             .tweak = [](api::Policy& p) { p.unhealthyGracePeriod = seconds(1); }},
        Case{.name = "UnusedNotInUseAbsentIsDeregistered",
             .listed = {kA},
             .group = {{kA, TargetState::kUnused, "Target.NotInUse"},
                       {kC, TargetState::kUnused, "Target.NotInUse"}},
             .lastSeenAgo = {{kC, minutes(4)}},
             .wantDeregister = {kC}}),
    [](const auto& info) { return std::string(info.param.name); });

INSTANTIATE_TEST_SUITE_P(
    UnhealthyGrace, PlannerTable,
    testing::Values(
        Case{.name = "AbsentAndUnhealthyGoesSooner",
             .listed = {kA},
             .group = {{kA}, {kC, kUnhealthy, "Target.Timeout"}},
             .lastSeenAgo = {{kC, seconds(60)}},
             .unhealthyAgo = {{kC, seconds(60)}},
             .tweak = [](api::Policy& p) { p.unhealthyGracePeriod = seconds(30); },
             .wantDeregister = {kC}},
        Case{.name = "DueByHealthButSourceFailing",
             .listed = {kA},
             .group = {{kA}, {kC, kUnhealthy, "Target.Timeout"}},
             .lastSeenAgo = {{kC, seconds(60)}},
             .unhealthyAgo = {{kC, seconds(50)}},
             .failingFor = seconds(5),
             .tweak = [](api::Policy& p) { p.unhealthyGracePeriod = seconds(30); },
             .wantHeld = {{kC, HoldReason::kSourceFailing}},
             .wantMessageHas = {{kC,
                                 "absent for 1m, unhealthy for 50s (past 30s unhealthy grace) "
                                 "but source failing for 5s: SERVFAIL"}}},
        Case{.name = "UnhealthyLongButAbsentBriefly",
             .listed = {kA},
             .group = {{kA}, {kC, kUnhealthy}},
             .lastSeenAgo = {{kC, seconds(10)}},
             .unhealthyAgo = {{kC, minutes(10)}},
             .tweak = [](api::Policy& p) { p.unhealthyGracePeriod = seconds(30); },
             .wantHeld = {{kC, HoldReason::kWithinGracePeriod}},
             .wantDeadlineIn = seconds(20),
             .wantMessageHas = {{kC, "absent and unhealthy for 10s of 30s unhealthy grace"}}},
        Case{.name = "AbsentLongButUnhealthyBriefly",
             .listed = {kA},
             .group = {{kA}, {kC, kUnhealthy}},
             .lastSeenAgo = {{kC, seconds(100)}},
             .unhealthyAgo = {{kC, seconds(10)}},
             .tweak = [](api::Policy& p) { p.unhealthyGracePeriod = seconds(30); },
             .wantHeld = {{kC, HoldReason::kWithinGracePeriod}},
             .wantDeadlineIn = seconds(20)},
        Case{.name = "UnhealthyGraceLongerThanGraceChangesNothing",
             .listed = {kA},
             .group = {{kA}, {kC, kUnhealthy}},
             .lastSeenAgo = {{kC, seconds(100)}},
             .unhealthyAgo = {{kC, seconds(100)}},
             .tweak = [](api::Policy& p) { p.unhealthyGracePeriod = minutes(10); },
             .wantHeld = {{kC, HoldReason::kWithinGracePeriod}},
             .wantDeadlineIn = seconds(80)},
        Case{.name = "ZeroUnhealthyGraceIgnoresHealth",
             .listed = {kA},
             .group = {{kA}, {kC, kUnhealthy}},
             .lastSeenAgo = {{kC, seconds(100)}},
             .unhealthyAgo = {{kC, hours(1)}},
             .wantHeld = {{kC, HoldReason::kWithinGracePeriod}},
             .wantDeadlineIn = seconds(80)},
        Case{.name = "HealthyAgainIsNotUnhealthy",
             .listed = {kA},
             .group = {{kA}, {kC, kHealthy}},
             .lastSeenAgo = {{kC, seconds(100)}},
             .unhealthyAgo = {{kC, hours(1)}},  // was unhealthy; healthy now
             .tweak = [](api::Policy& p) { p.unhealthyGracePeriod = seconds(30); },
             .wantHeld = {{kC, HoldReason::kWithinGracePeriod}},
             .wantDeadlineIn = seconds(80)},
        Case{.name = "UnhealthyUnknownToTrackerStartsNow",
             .listed = {kA},
             .group = {{kA}, {kC, kUnhealthy}},
             .lastSeenAgo = {{kC, seconds(100)}},
             .tweak = [](api::Policy& p) { p.unhealthyGracePeriod = seconds(30); },
             .wantHeld = {{kC, HoldReason::kWithinGracePeriod}},
             .wantDeadlineIn = seconds(30),
             .trackerObservesGroup = false}),
    [](const auto& info) { return std::string(info.param.name); });

INSTANTIATE_TEST_SUITE_P(
    SourceFailing, PlannerTable,
    testing::Values(
        Case{.name = "PastGraceHeld",
             .listed = {kA},
             .group = {{kA}, {kC}},
             .lastSeenAgo = {{kC, minutes(10)}},
             .failingFor = seconds(30),
             .wantHeld = {{kC, HoldReason::kSourceFailing}},
             .wantMessageHas = {{kC,
                                 "absent for 10m (past 3m grace) but source failing for 30s: "
                                 "SERVFAIL; nothing is deregistered until it answers again"}}},
        Case{.name = "KnownOnlyToTheReconciler",
             .listed = {kA},
             .group = {{kA}, {kC}},
             .lastSeenAgo = {{kC, minutes(10)}},
             .failingFor = seconds(30),
             .wantHeld = {{kC, HoldReason::kSourceFailing}},
             .wantMessageHas = {{kC, "source failing"}},
             .failingOnlyInDesired = true},
        Case{.name = "NoListingAtAllHoldsEverything",
             .listed = {},
             .group = {{kA}, {kB}, {kC, kUnhealthy}},
             .lastSeenAgo = {{kA, hours(2)}, {kB, hours(2)}, {kC, hours(2)}},
             .unhealthyAgo = {{kC, hours(1)}},
             .failingFor = hours(1),
             .tweak =
                 [](api::Policy& p) {
                   p.minTargets = 0;
                   p.maxDeregistrationsPerSync = {true, 100};
                   p.unhealthyGracePeriod = seconds(10);
                 },
             .wantHeld = {{kA, HoldReason::kSourceFailing},
                          {kB, HoldReason::kSourceFailing},
                          {kC, HoldReason::kSourceFailing}}},
        Case{.name = "WithinGraceSaysSo",
             .listed = {kA},
             .group = {{kA}, {kC}},
             .lastSeenAgo = {{kC, seconds(100)}},
             .failingFor = seconds(20),
             .wantHeld = {{kC, HoldReason::kWithinGracePeriod}},
             .wantDeadlineIn = seconds(80),
             .wantMessageHas = {{kC, "source failing for 20s"}}}),
    [](const auto& info) { return std::string(info.param.name); });

INSTANTIATE_TEST_SUITE_P(Prune, PlannerTable,
                         testing::Values(Case{.name = "DisabledKeepsEverything",
                                              .listed = {kA},
                                              .group = {{kA}, {kB}, {kC}},
                                              .lastSeenAgo = {{kB, hours(3)}, {kC, seconds(5)}},
                                              .tweak = [](api::Policy& p) { p.prune = false; },
                                              .wantHeld = {{kB, HoldReason::kPruneDisabled},
                                                           {kC, HoldReason::kPruneDisabled}},
                                              .wantMessageHas = {{kB, "prune is false"}}}),
                         [](const auto& info) { return std::string(info.param.name); });

INSTANTIATE_TEST_SUITE_P(
    FloorsAndCaps, PlannerTable,
    testing::Values(
        Case{.name = "MinTargetsKeepsTheLastOne",
             .listed = {},
             .group = {{kA}},
             .lastSeenAgo = {{kA, minutes(10)}},
             .wantHeld = {{kA, HoldReason::kMinTargets}},
             .wantMessageHas = {{kA, "would leave 0 registered targets of minTargets 1"}}},
        // Replacements off: with them on, kA is held ReplacementsNotReady first (a rule of its
        // own).
        Case{.name = "RegistrationsDoNotCountTowardMinTargets",
             .listed = {kB},
             .group = {{kA}},
             .lastSeenAgo = {{kA, minutes(10)}},
             .tweak = [](api::Policy& p) { p.requireHealthyReplacements = false; },
             .wantRegister = {kB},
             .wantHeld = {{kA, HoldReason::kMinTargets}}},
        Case{.name = "DrainingDoesNotCountTowardMinTargets",
             .listed = {},
             .group = {{kA}, {kB, TargetState::kDraining}, {kC, TargetState::kDraining}},
             .lastSeenAgo = {{kA, minutes(10)}},
             .wantHeld = {{kA, HoldReason::kMinTargets}}},
        Case{.name = "MinTargetsZeroMayEmptyTheGroup",
             .listed = {},
             .group = {{kA}},
             .lastSeenAgo = {{kA, minutes(10)}},
             .tweak = [](api::Policy& p) { p.minTargets = 0; },
             .wantDeregister = {kA}},
        Case{.name = "MinTargetsTakesTheLongestAbsent",
             .listed = {kE},
             .group = {{kA}, {kB}, {kC}, {kD}, {kE}},
             .lastSeenAgo =
                 {{kA, minutes(10)}, {kB, minutes(20)}, {kC, minutes(15)}, {kD, minutes(5)}},
             .tweak =
                 [](api::Policy& p) {
                   p.minTargets = 3;
                   p.maxDeregistrationsPerSync = {true, 100};
                 },
             .wantDeregister = {kB, kC},
             .wantHeld = {{kA, HoldReason::kMinTargets}, {kD, HoldReason::kMinTargets}},
             // Each held target is judged against what the removals taken leave (3), not against
             // the other held ones.
             .wantMessageHas = {{kA, "would leave 2 registered targets of minTargets 3"},
                                {kD, "would leave 2 registered targets of minTargets 3"}}},
        Case{
            .name = "CapCount",
            .listed = {},
            .group = {{kA}, {kB}, {kC}},
            .lastSeenAgo = {{kA, minutes(4)}, {kB, minutes(6)}, {kC, minutes(5)}},
            .tweak =
                [](api::Policy& p) {
                  p.minTargets = 0;
                  p.maxDeregistrationsPerSync = {false, 1};
                },
            .wantDeregister = {kB},
            .wantHeld = {{kA, HoldReason::kMaxDeregistrationsPerSync},
                         {kC, HoldReason::kMaxDeregistrationsPerSync}},
            // The cap is a rate now: the held wait for the window to free.
            .wantDeadlineIn = minutes(1),
            .wantMessageHas = {{kA, "over maxDeregistrationsPerSync 1 (1 per 1m of 3 registered"}}},
        Case{
            .name = "CapPercent",
            .listed = {},
            .group = {{kA}, {kB}, {kC}, {kD}},
            .lastSeenAgo = {{kA, minutes(4)}, {kB, minutes(6)}, {kC, minutes(5)}, {kD, minutes(7)}},
            .tweak = [](api::Policy& p) { p.minTargets = 0; },
            .wantDeregister = {kB, kD},
            .wantHeld = {{kA, HoldReason::kMaxDeregistrationsPerSync},
                         {kC, HoldReason::kMaxDeregistrationsPerSync}},
            .wantDeadlineIn = minutes(1),  // when this sync's batch leaves the window
            .wantMessageHas = {{kA, "50% (2 per 1m of 4 registered"}}},
        Case{.name = "CapPercentOfTheWholeGroupNotOfTheAbsent",
             .listed = {kC, kD, kE, kF},
             .group = {{kA}, {kB}, {kC}, {kD}, {kE}, {kF}},
             .lastSeenAgo = {{kA, minutes(4)}, {kB, minutes(6)}},
             .tweak =
                 [](api::Policy& p) {
                   p.maxDeregistrationsPerSync = {true, 34};
                 },
             .wantDeregister = {kA, kB}},
        Case{.name = "SmallPercentStillAllowsOne",
             .listed = {},
             .group = {{kA}, {kB}, {kC}},
             .lastSeenAgo = {{kA, minutes(4)}, {kB, minutes(4)}, {kC, minutes(4)}},
             .tweak =
                 [](api::Policy& p) {
                   p.minTargets = 0;
                   p.maxDeregistrationsPerSync = {true, 10};
                 },
             .wantDeregister = {kA},
             .wantHeld = {{kB, HoldReason::kMaxDeregistrationsPerSync},
                          {kC, HoldReason::kMaxDeregistrationsPerSync}},
             .wantDeadlineIn = minutes(1)},
        Case{.name = "CapTakesUnhealthyFirst",
             .listed = {},
             .group = {{kA}, {kB, kUnhealthy}, {kC}},
             .lastSeenAgo = {{kA, minutes(20)}, {kB, minutes(5)}, {kC, minutes(30)}},
             .unhealthyAgo = {{kB, minutes(1)}},
             .tweak =
                 [](api::Policy& p) {
                   p.minTargets = 0;
                   p.maxDeregistrationsPerSync = {false, 2};
                 },
             .wantDeregister = {kB, kC},
             .wantHeld = {{kA, HoldReason::kMaxDeregistrationsPerSync}},
             .wantDeadlineIn = minutes(1)},
        Case{.name = "CapBreaksTiesByKey",
             .listed = {},
             .group = {{kC}, {kA}, {kB}},
             .lastSeenAgo = {{kA, minutes(5)}, {kB, minutes(5)}, {kC, minutes(5)}},
             .tweak =
                 [](api::Policy& p) {
                   p.minTargets = 0;
                   p.maxDeregistrationsPerSync = {false, 2};
                 },
             .wantDeregister = {kA, kB},
             .wantHeld = {{kC, HoldReason::kMaxDeregistrationsPerSync}},
             .wantDeadlineIn = minutes(1)},
        Case{
            .name = "CapThenFloor",
            .listed = {kE, kF},
            .group = {{kA}, {kB}, {kC}, {kD}, {kE}, {kF}},
            .lastSeenAgo = {{kA, minutes(9)}, {kB, minutes(8)}, {kC, minutes(7)}, {kD, minutes(6)}},
            .tweak =
                [](api::Policy& p) {
                  p.minTargets = 4;
                  p.maxDeregistrationsPerSync = {false, 1};
                },
            .wantDeregister = {kA},
            // Hold order is cap before minTargets: past the window's budget every due target
            // waits for the window (the floor is judged again then).
            .wantHeld = {{kB, HoldReason::kMaxDeregistrationsPerSync},
                         {kC, HoldReason::kMaxDeregistrationsPerSync},
                         {kD, HoldReason::kMaxDeregistrationsPerSync}},
            .wantDeadlineIn = minutes(1)},
        Case{.name = "ZeroCapHoldsAll",
             .listed = {},
             .group = {{kA}, {kB}},
             .lastSeenAgo = {{kA, minutes(9)}, {kB, minutes(8)}},
             .tweak =
                 [](api::Policy& p) {
                   p.minTargets = 0;
                   p.maxDeregistrationsPerSync = {false, 0};
                 },
             .wantHeld = {{kA, HoldReason::kMaxDeregistrationsPerSync},
                          {kB, HoldReason::kMaxDeregistrationsPerSync}}},
        Case{.name = "MixedPlanIsSortedByKey",
             .listed = {"10.0.0.9", "10.0.0.10", "i-b", "i-a", "8.8.4.4"},
             .group = {{"10.0.0.7"}, {"10.0.0.11"}, {"i-c"}, {"i-a"}},
             .lastSeenAgo = {{"10.0.0.7", minutes(4)},
                             {"10.0.0.11", minutes(4)},
                             {"i-c", seconds(1)}},
             // Replacements off: this case is about ordering, not about waiting for new targets.
             .tweak =
                 [](api::Policy& p) {
                   p.maxDeregistrationsPerSync = {true, 100};
                   p.requireHealthyReplacements = false;
                 },
             .wantRegister = {"10.0.0.10", "10.0.0.9", "i-b"},
             .wantDeregister = {"10.0.0.11", "10.0.0.7"},
             .wantHeld = {{"8.8.4.4", HoldReason::kNotAllowed},
                          {"i-c", HoldReason::kWithinGracePeriod}},
             .wantDeadlineIn = seconds(179)}),
    [](const auto& info) { return std::string(info.param.name); });

constexpr auto kInitial = TargetState::kInitial;
constexpr auto kUnavailable = TargetState::kUnavailable;
const std::string kChecksOff(kReasonHealthCheckDisabled);

INSTANTIATE_TEST_SUITE_P(
    ServingFloor, PlannerTable,
    testing::Values(
        // The old floor counted registered targets only: it removed kC and kD, leaving two
        // unhealthy targets and nothing serving.
        Case{.name = "MinTargetsCountsServingTargets",
             .listed = {kA, kB},
             .group = {{kA, kUnhealthy}, {kB, kUnhealthy}, {kC}, {kD}, {kE, kUnhealthy}},
             .lastSeenAgo = {{kC, minutes(10)}, {kD, minutes(9)}, {kE, minutes(8)}},
             .tweak =
                 [](api::Policy& p) {
                   p.minTargets = 2;
                   p.maxDeregistrationsPerSync = {true, 100};
                   p.requireHealthyReplacements = false;
                 },
             .wantDeregister = {kE},
             .wantHeld = {{kC, HoldReason::kMinTargets}, {kD, HoldReason::kMinTargets}},
             .wantMessageHas = {{kC, "would leave 1 serving targets of minTargets 2"}}},
        Case{.name = "RemovingWhatDoesNotServeKeepsTheServingFloor",
             .listed = {kA},
             .group = {{kA}, {kC, kUnhealthy}, {kD, kInitial}},
             .lastSeenAgo = {{kC, minutes(10)}, {kD, minutes(10)}},
             .tweak =
                 [](api::Policy& p) {
                   p.maxDeregistrationsPerSync = {true, 100};
                 },
             .wantDeregister = {kC, kD}},
        Case{.name = "UnavailableWithChecksDisabledServes",
             .listed = {kA},
             .group = {{kA, kUnhealthy}, {kC, kUnavailable, kChecksOff}, {kD, kUnavailable}},
             .lastSeenAgo = {{kC, minutes(10)}, {kD, minutes(10)}},
             .tweak =
                 [](api::Policy& p) {
                   p.maxDeregistrationsPerSync = {true, 100};
                   p.requireHealthyReplacements = false;
                 },
             .wantDeregister = {kD},
             .wantHeld = {{kC, HoldReason::kMinTargets}}},
        Case{.name = "CapTakesWhatDoesNotServeFirst",
             .listed = {},
             .group = {{kA}, {kB, kUnhealthy}, {kC, kInitial}},
             .lastSeenAgo = {{kA, minutes(30)}, {kB, minutes(20)}, {kC, minutes(5)}},
             .tweak =
                 [](api::Policy& p) {
                   p.minTargets = 0;
                   p.maxDeregistrationsPerSync = {false, 2};
                 },
             .wantDeregister = {kB, kC},
             .wantHeld = {{kA, HoldReason::kMaxDeregistrationsPerSync}},
             .wantDeadlineIn = minutes(1)}),
    [](const auto& info) { return std::string(info.param.name); });

INSTANTIATE_TEST_SUITE_P(
    Replacements, PlannerTable,
    testing::Values(
        // The old planner removed kC as soon as its grace was over: if kB never passes its
        // health checks, that is an outage.
        Case{.name = "ServingTargetWaitsForARegisteredReplacement",
             .listed = {kA, kB},
             .group = {{kA}, {kB, kInitial, "Elb.InitialHealthChecking"}, {kC}},
             .lastSeenAgo = {{kC, minutes(10)}},
             .wantHeld = {{kC, HoldReason::kReplacementsNotReady}},
             .wantMessageHas = {{kC, "1 listed targets do not serve yet"}}},
        Case{.name = "ServingTargetWaitsForAReplacementThisPlanRegisters",
             .listed = {kA, kB},
             .group = {{kA}, {kC}},
             .lastSeenAgo = {{kC, minutes(10)}},
             .wantRegister = {kB},
             .wantHeld = {{kC, HoldReason::kReplacementsNotReady}}},
        Case{.name = "AnUnhealthyListedTargetIsNotReady",
             .listed = {kA, kB},
             .group = {{kA}, {kB, kUnhealthy}, {kC}, {kD, kUnhealthy}},
             .lastSeenAgo = {{kC, minutes(10)}, {kD, minutes(10)}},
             .tweak = [](api::Policy& p) { p.minTargets = 0; },
             // kD does not serve: removing it costs nothing, so it goes.
             .wantDeregister = {kD},
             .wantHeld = {{kC, HoldReason::kReplacementsNotReady}}},
        Case{.name = "PolicyOffRemovesAsBefore",
             .listed = {kA, kB},
             .group = {{kA}, {kB, kInitial}, {kC}},
             .lastSeenAgo = {{kC, minutes(10)}},
             .tweak = [](api::Policy& p) { p.requireHealthyReplacements = false; },
             .wantDeregister = {kC}},
        Case{.name = "ReadyReplacementsReleaseIt",
             .listed = {kA, kB},
             .group = {{kA}, {kB, kUnavailable, kChecksOff}, {kC}},
             .lastSeenAgo = {{kC, minutes(10)}},
             .wantDeregister = {kC}},
        Case{.name = "WithinGraceComesFirst",
             .listed = {kA, kB},
             .group = {{kA}, {kB, kInitial}, {kC}},
             .lastSeenAgo = {{kC, minutes(1)}},
             .wantHeld = {{kC, HoldReason::kWithinGracePeriod}},
             .wantDeadlineIn = minutes(2)},
        Case{.name = "SourceFailingComesFirst",
             .listed = {kA, kB},
             .group = {{kA}, {kB, kInitial}, {kC}},
             .lastSeenAgo = {{kC, minutes(10)}},
             .failingFor = seconds(10),
             .wantHeld = {{kC, HoldReason::kSourceFailing}}},
        Case{.name = "RefusedOrHeldRegistrationsAreNotReplacements",
             .listed = {kA, "8.8.8.8"},
             .group = {{kA}, {kC}},
             .lastSeenAgo = {{kC, minutes(10)}},
             .wantDeregister = {kC},
             .wantHeld = {{"8.8.8.8", HoldReason::kNotAllowed}}}),
    [](const auto& info) { return std::string(info.param.name); });

INSTANTIATE_TEST_SUITE_P(
    AddressFamily, PlannerTable,
    testing::Values(
        // An IPv6 address sent to an ipv4 group fails the whole RegisterTargets call.
        Case{.name = "Ipv6IntoAnIpv4GroupIsHeld",
             .listed = {kA, "fd00::5"},
             .group = {},
             .tweak =
                 [](api::Policy& p) { p.allowedCidrs.push_back(*api::Cidr::parse("fd00::/8")); },
             .wantRegister = {kA},
             .wantHeld = {{"fd00::5", HoldReason::kAddressFamily}},
             .wantMessageHas = {{"fd00::5", "IpAddressType ipv4"}}},
        Case{.name = "Ipv4IntoAnIpv6GroupIsHeld",
             .listed = {kA, "fd00::5", "i-0abc"},
             .group = {},
             .tweak =
                 [](api::Policy& p) { p.allowedCidrs.push_back(*api::Cidr::parse("fd00::/8")); },
             .wantRegister = {"fd00::5", "i-0abc"},
             .wantHeld = {{kA, HoldReason::kAddressFamily}},
             .ipAddressType = "ipv6"},
        Case{.name = "NotAllowedIsSaidFirst",
             .listed = {"2001:db8::1"},
             .group = {},
             .wantHeld = {{"2001:db8::1", HoldReason::kNotAllowed}}},
        Case{.name = "AHeldRegistrationRestrainsNoRemoval",
             .listed = {"fd00::5"},
             .group = {{kA}, {kB}},
             .lastSeenAgo = {{kA, minutes(10)}, {kB, minutes(10)}},
             .tweak =
                 [](api::Policy& p) {
                   p.allowedCidrs.push_back(*api::Cidr::parse("fd00::/8"));
                   p.maxDeregistrationsPerSync = {true, 100};
                 },
             .wantDeregister = {kA},
             .wantHeld = {{kB, HoldReason::kMinTargets}, {"fd00::5", HoldReason::kAddressFamily}}}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(HoldReasonName, Names) {
  EXPECT_STREQ(holdReasonName(HoldReason::kNotAllowed), "NotAllowed");
  EXPECT_STREQ(holdReasonName(HoldReason::kWithinGracePeriod), "WithinGracePeriod");
  EXPECT_STREQ(holdReasonName(HoldReason::kSourceFailing), "SourceFailing");
  EXPECT_STREQ(holdReasonName(HoldReason::kPruneDisabled), "PruneDisabled");
  EXPECT_STREQ(holdReasonName(HoldReason::kMinTargets), "MinTargets");
  EXPECT_STREQ(holdReasonName(HoldReason::kMaxDeregistrationsPerSync), "MaxDeregistrationsPerSync");
  EXPECT_STREQ(holdReasonName(HoldReason::kReplacementsNotReady), "ReplacementsNotReady");
  EXPECT_STREQ(holdReasonName(HoldReason::kRejectedByAws), "RejectedByAWS");
  EXPECT_STREQ(holdReasonName(HoldReason::kAddressFamily), "AddressFamily");
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
  const auto c = target(kC);
  tracker.recordListing({c}, kNow - minutes(4));
  tracker.recordListing(std::vector<Target>{}, kNow - minutes(3) + std::chrono::nanoseconds(1));
  const std::vector<ObservedTarget> group = {{c, TargetState::kHealthy, "", ""},
                                             {target(kA), TargetState::kHealthy, "", ""}};
  const auto plan = computePlan({{target(kA)}, false}, group, tracker, defaultPolicy(), kNow);
  EXPECT_TRUE(plan.toDeregister.empty());
  ASSERT_TRUE(plan.nextDeadline.has_value());
  EXPECT_EQ(*plan.nextDeadline - kNow, std::chrono::nanoseconds(1)) << "strictly after now";
  const auto later =
      computePlan({{target(kA)}, false}, group, tracker, defaultPolicy(), *plan.nextDeadline);
  EXPECT_EQ(keys(later.toDeregister), keys(std::vector<std::string>{kC})) << "due at the deadline";
}

TEST(ComputePlan, AbsurdGraceSaturatesInsteadOfOverflowing) {
  EndpointTracker tracker;
  api::Policy policy = defaultPolicy();
  policy.deregistrationGracePeriod = api::Duration::max();
  policy.unhealthyGracePeriod = api::Duration::max();
  const std::vector<ObservedTarget> group = {{target(kC), TargetState::kUnhealthy, "", ""},
                                             {target(kA), TargetState::kHealthy, "", ""}};
  tracker.recordObserved(group, kNow);
  const auto plan = computePlan({{target(kA)}, false}, group, tracker, policy, kNow);
  ASSERT_EQ(plan.held.size(), 1u);
  EXPECT_EQ(plan.held[0].reason, HoldReason::kWithinGracePeriod);
  EXPECT_EQ(plan.nextDeadline, MonoTime::max());
}

TEST(ComputePlan, DuplicateObservationsPreferTheRegisteredCopy) {
  EndpointTracker tracker;
  for (bool drainingFirst : {true, false}) {
    std::vector<ObservedTarget> group = {{target(kA), TargetState::kDraining, "", ""},
                                         {target(kA), TargetState::kHealthy, "", ""}};
    if (!drainingFirst) std::swap(group[0], group[1]);
    const auto plan = computePlan({{target(kA)}, false}, group, tracker, defaultPolicy(), kNow);
    EXPECT_FALSE(plan.hasWrites()) << describe(plan);
  }
}

TEST(ComputePlan, DuplicateListingsChooseOneAvailabilityZoneWhateverTheOrder) {
  EndpointTracker tracker;
  std::vector<Target> listed = {
      {kA, 443, "ap-northeast-1a"}, {kA, 443, "all"}, {kA, 443, std::nullopt}};
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
  const auto plan = computePlan({{{kA, 443, "all"}}, false}, {}, tracker, defaultPolicy(), kNow);
  ASSERT_EQ(plan.toRegister.size(), 1u);
  EXPECT_EQ(plan.toRegister[0], (Target{kA, 443, "all"}));
}

// ---- refused registrations, the cap's window, deletion and spec edits ----

std::vector<ObservedTarget> healthy(std::initializer_list<std::string> specs) {
  std::vector<ObservedTarget> group;
  for (const auto& spec : specs) group.push_back({target(spec), TargetState::kHealthy, "", ""});
  return group;
}

std::vector<ObservedTarget> without(std::vector<ObservedTarget> group, const Plan& plan) {
  std::erase_if(group, [&](const ObservedTarget& o) {
    return std::any_of(plan.toDeregister.begin(), plan.toDeregister.end(),
                       [&](const Target& t) { return t.key() == o.target.key(); });
  });
  return group;
}

TEST(ComputePlan, RefusedRegistrationIsHeldUntilItsRetry) {
  EndpointTracker tracker;
  tracker.recordListing(SourceListing{{target(kA), target(kB)}, kNow, "ns/web@1", {}, "ns/web"},
                        kNow);
  tracker.recordRejected(target(kB), "InvalidTarget: not in the VPC", kNow + minutes(5));
  const DesiredTargets desired{{target(kA), target(kB)}, false};
  const auto plan = computePlan(desired, healthy({kA}), tracker, defaultPolicy(), kNow);
  EXPECT_TRUE(plan.toRegister.empty()) << describe(plan);
  ASSERT_EQ(plan.held.size(), 1u);
  EXPECT_EQ(plan.held[0].reason, HoldReason::kRejectedByAws);
  EXPECT_FALSE(plan.held[0].isDeregistration);
  EXPECT_NE(plan.held[0].message.find("InvalidTarget: not in the VPC"), std::string::npos);
  // At the retry it is sent again.
  const auto retry =
      computePlan(desired, healthy({kA}), tracker, defaultPolicy(), kNow + minutes(5));
  EXPECT_EQ(keys(retry.toRegister), keys(std::vector<std::string>{kB}));
  // A spec edit (new lineage) forgets the refusal at once.
  tracker.recordListing(
      SourceListing{{target(kA), target(kB)}, kNow + seconds(1), "ns/web@2", {}, "ns/web"},
      kNow + seconds(1));
  const auto edited =
      computePlan(desired, healthy({kA}), tracker, defaultPolicy(), kNow + seconds(1));
  EXPECT_EQ(keys(edited.toRegister), keys(std::vector<std::string>{kB}));
}

// Five targets absent past grace, minTargets 0: the tracker of a group whose listing dropped
// them 10 minutes ago.
EndpointTracker droppedTenMinutesAgo(const std::vector<std::string>& specs) {
  EndpointTracker tracker;
  std::vector<Target> all;
  for (const auto& spec : specs) all.push_back(target(spec));
  tracker.recordListing(all, kNow - minutes(11));
  tracker.recordListing(std::vector<Target>{}, kNow - minutes(10));
  return tracker;
}

TEST(ComputePlan, CountCapIsPerWindowAcrossSuccessivePlans) {
  api::Policy policy = defaultPolicy();
  policy.minTargets = 0;
  policy.maxDeregistrationsPerSync = {false, 2};
  auto tracker = droppedTenMinutesAgo({kA, kB, kC, kD, kE});
  auto group = healthy({kA, kB, kC, kD, kE});

  const auto first = computePlan({{}, false}, group, tracker, policy, kNow);
  EXPECT_EQ(keys(first.toDeregister), keys(std::vector<std::string>{kA, kB}));
  tracker.recordDeregistered(first.toDeregister.size(), kNow);
  group = without(group, first);

  // The old planner capped each plan alone: 30 s later it removed two more.
  const auto soon = computePlan({{}, false}, group, tracker, policy, kNow + seconds(30));
  EXPECT_TRUE(soon.toDeregister.empty()) << describe(soon);
  EXPECT_EQ(soon.held.size(), 3u);
  for (const auto& h : soon.held) EXPECT_EQ(h.reason, HoldReason::kMaxDeregistrationsPerSync);
  EXPECT_EQ(soon.nextDeadline, kNow + minutes(1)) << "when the window frees";
  EXPECT_NE(soon.held[0].message.find("2 already removed"), std::string::npos)
      << soon.held[0].message;

  const auto next = computePlan({{}, false}, group, tracker, policy, kNow + minutes(1));
  EXPECT_EQ(keys(next.toDeregister), keys(std::vector<std::string>{kC, kD}));
}

TEST(ComputePlan, WindowFreesOneRemovalAtATime) {
  api::Policy policy = defaultPolicy();
  policy.minTargets = 0;
  policy.maxDeregistrationsPerSync = {false, 2};
  auto tracker = droppedTenMinutesAgo({kA, kB, kC});
  tracker.recordDeregistered(1, kNow - seconds(50));
  tracker.recordDeregistered(1, kNow - seconds(20));
  const auto plan = computePlan({{}, false}, healthy({kA, kB, kC}), tracker, policy, kNow);
  EXPECT_TRUE(plan.toDeregister.empty());
  EXPECT_EQ(plan.nextDeadline, kNow + seconds(10)) << "the oldest removal leaves the window";
  const auto later =
      computePlan({{}, false}, healthy({kA, kB, kC}), tracker, policy, kNow + seconds(10));
  EXPECT_EQ(keys(later.toDeregister), keys(std::vector<std::string>{kA}));
  EXPECT_EQ(later.nextDeadline, kNow + seconds(40));
}

TEST(ComputePlan, PercentageIsOfTheGroupAtTheWindowsStart) {
  api::Policy policy = defaultPolicy();
  policy.minTargets = 0;  // cap 50%
  auto tracker = droppedTenMinutesAgo({kA, kB, kC, kD});
  auto group = healthy({kA, kB, kC, kD});
  const auto first = computePlan({{}, false}, group, tracker, policy, kNow);
  EXPECT_EQ(keys(first.toDeregister), keys(std::vector<std::string>{kA, kB}));
  tracker.recordDeregistered(first.toDeregister.size(), kNow);
  group = without(group, first);
  // Of the 4 registered at the window's start, not of the 2 left (which would allow one more).
  const auto soon = computePlan({{}, false}, group, tracker, policy, kNow + seconds(30));
  EXPECT_TRUE(soon.toDeregister.empty()) << describe(soon);
  ASSERT_FALSE(soon.held.empty());
  EXPECT_NE(soon.held[0].message.find("50% (2 per 1m of 4 registered targets, 2 already removed)"),
            std::string::npos)
      << soon.held[0].message;
  const auto next = computePlan({{}, false}, group, tracker, policy, kNow + minutes(1));
  EXPECT_EQ(keys(next.toDeregister), keys(std::vector<std::string>{kC}));
}

TEST(ComputePlan, ZeroCapWaitsOnNoDeadline) {
  api::Policy policy = defaultPolicy();
  policy.minTargets = 0;
  policy.maxDeregistrationsPerSync = {false, 0};
  const auto tracker = droppedTenMinutesAgo({kA});
  const auto plan = computePlan({{}, false}, healthy({kA}), tracker, policy, kNow);
  ASSERT_EQ(plan.held.size(), 1u);
  EXPECT_EQ(plan.held[0].reason, HoldReason::kMaxDeregistrationsPerSync);
  EXPECT_EQ(plan.nextDeadline, std::nullopt) << "no window ever frees a zero cap";
}

TEST(ComputeDeletionPlan, RemovesOnlyWhatItsListingsListedAtTheCappedRate) {
  api::Policy policy = defaultPolicy();
  policy.maxDeregistrationsPerSync = {false, 2};
  EndpointTracker tracker;
  // kA..kC were listed (kC until now: no grace on deletion); kE was registered by someone else.
  tracker.recordListing({target(kA), target(kB), target(kC)}, kNow - minutes(1));
  tracker.recordListing({target(kC)}, kNow);
  std::vector<ObservedTarget> group = healthy({kA, kB, kC, kE});
  group.push_back({target(kD), TargetState::kDraining, "", ""});
  tracker.recordObserved(group, kNow);

  const auto first = computeDeletionPlan(group, tracker, "", policy, kNow);
  EXPECT_TRUE(first.toRegister.empty());
  EXPECT_EQ(keys(first.toDeregister), keys(std::vector<std::string>{kA, kB}));
  ASSERT_EQ(first.held.size(), 1u);
  EXPECT_EQ(first.held[0].target.key(), keyOf(kC));
  EXPECT_EQ(first.held[0].reason, HoldReason::kMaxDeregistrationsPerSync);
  EXPECT_EQ(first.nextDeadline, kNow + minutes(1));
  tracker.recordDeregistered(first.toDeregister.size(), kNow);
  group = without(group, first);

  const auto soon = computeDeletionPlan(group, tracker, "", policy, kNow + seconds(30));
  EXPECT_TRUE(soon.toDeregister.empty());
  EXPECT_EQ(soon.nextDeadline, kNow + minutes(1));
  const auto next = computeDeletionPlan(group, tracker, "", policy, kNow + minutes(1));
  EXPECT_EQ(keys(next.toDeregister), keys(std::vector<std::string>{kC}));
  EXPECT_TRUE(next.held.empty());
  EXPECT_EQ(next.nextDeadline, std::nullopt);

  group = without(group, next);
  EXPECT_EQ(computeDeletionPlan(group, tracker, "", policy, kNow + minutes(2)), Plan{})
      << "kE is not ours: nothing is left to do";
}

TEST(ComputeDeletionPlan, RemovesOnlyWhatThisBindingsGoodListingsListed) {
  // Old: any target the group's memory had ever listed was removed: an earlier owner's
  // targets (its binding deleted with Retain) and a failing source's stand-ins too.
  api::Policy policy = defaultPolicy();
  EndpointTracker tracker;
  SourceListing earlier;
  earlier.targets = {target(kA)};
  earlier.confirmedAt = kNow - minutes(10);
  earlier.lineage = "ns/old@1";
  earlier.bindingKey = "ns/old";
  tracker.recordListing(earlier, kNow - minutes(10));
  SourceListing mine = earlier;
  mine.targets = {target(kB)};
  mine.confirmedAt = kNow - minutes(5);
  mine.lineage = "ns/new@1";
  mine.bindingKey = "ns/new";
  tracker.recordListing(mine, kNow - minutes(5));
  tracker.recordSourceFailure("timeout", kNow - minutes(1), {target(kB), target(kC)});
  const auto group = healthy({kA, kB, kC});
  tracker.recordObserved(group, kNow);

  const auto plan = computeDeletionPlan(group, tracker, "ns/new", policy, kNow);
  EXPECT_EQ(keys(plan.toDeregister), keys(std::vector<std::string>{kB}));
  EXPECT_TRUE(plan.held.empty());
  EXPECT_EQ(keys(computeDeletionPlan(group, tracker, "ns/old", policy, kNow).toDeregister),
            keys(std::vector<std::string>{kA}));
}

TEST(ComputeDeletionPlan, ZeroCapHoldsWithNoDeadline) {
  // Old: a zero cap asked to be looked at again every window, for ever.
  api::Policy policy = defaultPolicy();
  policy.maxDeregistrationsPerSync = {false, 0};
  EndpointTracker tracker;
  tracker.recordListing({target(kA)}, kNow);
  const auto group = healthy({kA});
  tracker.recordObserved(group, kNow);
  const auto plan = computeDeletionPlan(group, tracker, "", policy, kNow);
  EXPECT_TRUE(plan.toDeregister.empty());
  ASSERT_EQ(plan.held.size(), 1u);
  EXPECT_EQ(plan.nextDeadline, std::nullopt);
}

TEST(ComputePlan, SpecEditAfterAQuietHourStartsTheGraceAtTheEdit) {
  // The source listed kA and kB for an hour without a change (no reconcile re-listed it). The
  // user edits the spec to a hostname that lists only kA; the new source's history says kB
  // left it 50 minutes ago — but kB was in force under the old spec until now. The old
  // planner counted kB absent from the last listing that had it and removed it at once.
  EndpointTracker tracker;
  tracker.recordListing(
      SourceListing{{target(kA), target(kB)}, kNow - hours(1), "ns/web@1", {}, "ns/web"},
      kNow - hours(1));
  const auto group = healthy({kA, kB});
  tracker.recordObserved(group, kNow - hours(1));
  tracker.recordListing(
      SourceListing{
          {target(kA)}, kNow - seconds(5), "ns/web@2", {{keyOf(kB), kNow - minutes(50)}}, "ns/web"},
      kNow);
  tracker.recordObserved(group, kNow);
  const auto plan = computePlan({{target(kA)}, false}, group, tracker, defaultPolicy(), kNow);
  EXPECT_TRUE(plan.toDeregister.empty()) << describe(plan);
  ASSERT_EQ(plan.held.size(), 1u);
  EXPECT_EQ(plan.held[0].reason, HoldReason::kWithinGracePeriod);
  EXPECT_EQ(plan.nextDeadline, kNow + minutes(3));

  // The same lineage's departure time is the source's own word, and is trusted.
  EndpointTracker same;
  same.recordListing(
      SourceListing{{target(kA), target(kB)}, kNow - hours(1), "ns/web@1", {}, "ns/web"},
      kNow - hours(1));
  same.recordObserved(group, kNow - hours(1));
  same.recordListing(
      SourceListing{
          {target(kA)}, kNow - seconds(5), "ns/web@1", {{keyOf(kB), kNow - minutes(50)}}, "ns/web"},
      kNow);
  const auto due = computePlan({{target(kA)}, false}, group, same, defaultPolicy(), kNow);
  EXPECT_EQ(keys(due.toDeregister), keys(std::vector<std::string>{kB}));
}

}  // namespace
}  // namespace endpointbinder::core
