#include "controller/core/record_plan.h"

#include <gtest/gtest.h>

#include <random>

namespace endpointbinder::core {
namespace {

using namespace std::chrono_literals;

const MonoTime kT0 = MonoTime(std::chrono::hours(1));

RecordPlanInput baseInput() {
  RecordPlanInput in;
  in.zoneName = "corp.internal.";
  in.type = "A";
  in.ttl = 60;
  in.controllerId = "eb-1";
  in.binding = "platform/names";
  in.sourceUsable = true;
  in.grace = 3min;
  in.minRecords = 0;
  in.now = kT0;
  return in;
}

RecordCandidate candidate(const std::string& label, const std::string& ip, const std::string& id) {
  return {label + ".corp.internal.", "A", ip, id};
}

// The zone sets a managed record and its companion for `id`, owned by `binding`.
void addOwned(RecordPlanInput& in, const std::string& label, const std::string& ip,
              const std::string& id, const std::string& binding = "platform/names",
              const std::string& controller = "eb-1") {
  const std::string name = label + ".corp.internal.";
  in.zone.push_back({name, "A", 60, {ip}, false});
  in.zone.push_back(
      {companionName(name, "A"), "TXT", 60, {ownerTxtValue({controller, binding, id})}, false});
}

std::vector<std::string> describe(const std::vector<RecordChange>& changes) {
  std::vector<std::string> out;
  for (const auto& c : changes) {
    std::string values;
    for (const auto& v : c.set.values) values += (values.empty() ? "" : ",") + v;
    out.push_back(std::string(recordActionName(c.action)) + " " + c.set.name + " " + c.set.type +
                  " " + (c.set.type == "TXT" ? "txt" : values));
  }
  return out;
}

TEST(SanitizeLabel, FollowsTheDocumentedRules) {
  EXPECT_EQ(sanitizeLabel("Web-1"), "web-1");
  EXPECT_EQ(sanitizeLabel("web server 01"), "web-server-01");
  EXPECT_EQ(sanitizeLabel("api.prod_blue"), "api-prod-blue");
  EXPECT_EQ(sanitizeLabel("--edge--"), "edge");
  EXPECT_EQ(sanitizeLabel("a  --  b"), "a-b");
  EXPECT_EQ(sanitizeLabel("工場-gw"), "gw");
  EXPECT_EQ(sanitizeLabel("工場"), "");
  EXPECT_EQ(sanitizeLabel(""), "");
  EXPECT_EQ(sanitizeLabel("i-0123456789abcdef0"), "i-0123456789abcdef0");
  const std::string longName(62, 'a');
  EXPECT_EQ(sanitizeLabel(longName + "-b"), longName);  // cut at 63, trailing '-' dropped
  EXPECT_EQ(sanitizeLabel(std::string(100, 'x')).size(), 63u);
}

TEST(ReverseName, IPv4AndIPv6) {
  EXPECT_EQ(reverseName("10.2.3.4"), "4.3.2.10.in-addr.arpa.");
  EXPECT_EQ(reverseName("2001:db8::1"),
            "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.");
  EXPECT_EQ(reverseName("not-an-ip"), "");
}

TEST(OwnerTxt, RoundTripsAndRejectsOthers) {
  const RecordOwner owner{"eb-1", "platform/names", "i-0abc"};
  const auto value = ownerTxtValue(owner);
  EXPECT_EQ(value,
            "\"heritage=endpoint-binder,endpoint-binder/owner=eb-1,endpoint-binder/"
            "binding=platform/names,endpoint-binder/instance=i-0abc\"");
  EXPECT_EQ(parseOwnerTxt(value), owner);
  EXPECT_FALSE(parseOwnerTxt("\"heritage=external-dns,external-dns/owner=default\""));
  EXPECT_FALSE(parseOwnerTxt("\"heritage=endpoint-binder\""));
  EXPECT_FALSE(parseOwnerTxt("\"v=spf1 -all\""));
  EXPECT_EQ(companionName("web.corp.internal.", "AAAA"), "_eb-aaaa.web.corp.internal.");
}

TEST(PlanRecords, NewInstanceGetsARecordAndItsCompanion) {
  auto in = baseInput();
  in.candidates = {candidate("web-1", "10.0.1.5", "i-1")};
  const auto plan = planRecords(in, {});
  EXPECT_EQ(describe(plan.changes),
            (std::vector<std::string>{"CREATE web-1.corp.internal. A 10.0.1.5",
                                      "CREATE _eb-a.web-1.corp.internal. TXT txt"}));
  EXPECT_EQ(plan.changes[1].set.values[0], ownerTxtValue({"eb-1", "platform/names", "i-1"}));
  EXPECT_EQ(plan.desired, 1);
  EXPECT_EQ(plan.missing, 1);
}

TEST(PlanRecords, RestartAdoptsOwnRecordsWithoutRewriting) {
  auto in = baseInput();
  in.candidates = {candidate("web-1", "10.0.1.5", "i-1"), candidate("web-2", "10.0.1.6", "i-2")};
  addOwned(in, "web-1", "10.0.1.5", "i-1");
  addOwned(in, "web-2", "10.0.1.6", "i-2");
  const auto plan = planRecords(in, {});
  EXPECT_TRUE(plan.changes.empty());
  EXPECT_EQ(plan.present, 2);
  EXPECT_EQ(plan.missing, 0);
}

TEST(PlanRecords, ForeignRecordIsNeverTouchedAndReported) {
  auto in = baseInput();
  in.candidates = {candidate("db", "10.0.1.9", "i-9")};
  in.zone.push_back({"db.corp.internal.", "A", 300, {"10.9.9.9"}, false});
  const auto plan = planRecords(in, {});
  EXPECT_TRUE(plan.changes.empty());
  ASSERT_EQ(plan.conflicts.size(), 1u);
  EXPECT_EQ(plan.conflicts[0].reason, RecordConflictReason::kForeignRecord);
  EXPECT_EQ(plan.conflicts[0].name, "db.corp.internal.");
  EXPECT_EQ(plan.conflicts[0].instanceId, "i-9");
}

TEST(PlanRecords, ForeignSetIsNeverDeletedEvenWhenNothingListsIt) {
  auto in = baseInput();
  in.zone.push_back({"old.corp.internal.", "A", 300, {"10.9.9.9"}, false});
  in.zone.push_back({"_eb-a.old.corp.internal.", "TXT", 300, {"\"someone else\""}, false});
  in.now = kT0 + 24h;
  EXPECT_TRUE(planRecords(in, {}).changes.empty());
}

TEST(PlanRecords, CnameOrAliasAtTheNameIsAConflict) {
  auto in = baseInput();
  in.candidates = {candidate("api", "10.0.1.9", "i-9"), candidate("lb", "10.0.1.8", "i-8")};
  in.zone.push_back({"api.corp.internal.", "CNAME", 300, {"x.example."}, false});
  in.zone.push_back({"lb.corp.internal.", "A", 0, {}, true});
  const auto plan = planRecords(in, {});
  EXPECT_TRUE(plan.changes.empty());
  ASSERT_EQ(plan.conflicts.size(), 2u);
  EXPECT_EQ(plan.conflicts[0].reason, RecordConflictReason::kForeignRecord);
  EXPECT_EQ(plan.conflicts[1].reason, RecordConflictReason::kForeignRecord);
}

TEST(PlanRecords, AnotherControllersCompanionIsForeign) {
  auto in = baseInput();
  in.candidates = {candidate("web", "10.0.1.5", "i-1")};
  addOwned(in, "web", "10.0.1.5", "i-1", "platform/names", "other-controller");
  const auto plan = planRecords(in, {});
  EXPECT_TRUE(plan.changes.empty());
  ASSERT_EQ(plan.conflicts.size(), 1u);
  EXPECT_EQ(plan.conflicts[0].reason, RecordConflictReason::kForeignRecord);
}

TEST(PlanRecords, ALiveBindingsRecordIsItsOwnAdoptedOnlyOnceItIsGone) {
  auto in = baseInput();
  in.candidates = {candidate("web", "10.0.1.5", "i-1")};
  addOwned(in, "web", "10.0.1.5", "i-1", "platform/old-names");
  auto plan = planRecords(in, {});
  EXPECT_TRUE(plan.changes.empty());
  ASSERT_EQ(plan.conflicts.size(), 1u);
  EXPECT_EQ(plan.conflicts[0].reason, RecordConflictReason::kOwnedByBinding);

  in.adoptableBindings = {"platform/old-names"};
  plan = planRecords(in, {});
  EXPECT_EQ(describe(plan.changes),
            (std::vector<std::string>{"UPSERT _eb-a.web.corp.internal. TXT txt"}));
  EXPECT_EQ(plan.present, 1);
  EXPECT_TRUE(plan.conflicts.empty());
}

TEST(PlanRecords, TwoInstancesOneNameSmallestIdWinsAndTheHolderKeepsIt) {
  auto in = baseInput();
  in.candidates = {candidate("web", "10.0.1.6", "i-2"), candidate("web", "10.0.1.5", "i-1")};
  auto plan = planRecords(in, {});
  EXPECT_EQ(describe(plan.changes)[0], "CREATE web.corp.internal. A 10.0.1.5");
  ASSERT_EQ(plan.conflicts.size(), 1u);
  EXPECT_EQ(plan.conflicts[0].instanceId, "i-2");
  EXPECT_EQ(plan.conflicts[0].reason, RecordConflictReason::kSharedName);

  // i-2 already holds it: it keeps it although i-1 is smaller.
  auto held = baseInput();
  held.candidates = in.candidates;
  addOwned(held, "web", "10.0.1.6", "i-2");
  plan = planRecords(held, {});
  EXPECT_TRUE(plan.changes.empty());
  ASSERT_EQ(plan.conflicts.size(), 1u);
  EXPECT_EQ(plan.conflicts[0].instanceId, "i-1");
}

TEST(PlanRecords, GoneInstanceKeepsItsRecordForTheGracePeriodThenGoesWithItsCompanion) {
  auto in = baseInput();
  addOwned(in, "web", "10.0.1.5", "i-1");
  in.instanceGoneSince = {{"i-1", kT0 - 1min}};
  auto plan = planRecords(in, {});
  EXPECT_TRUE(plan.changes.empty());
  ASSERT_EQ(plan.held.size(), 1u);
  EXPECT_EQ(plan.held[0].hold, RecordHold::kWithinGracePeriod);
  EXPECT_EQ(plan.held[0].until, kT0 + 2min);  // from when the source stopped listing it
  EXPECT_EQ(plan.nextDeadline, kT0 + 2min);
  EXPECT_EQ(plan.unexpected, 1);

  in.now = kT0 + 2min;
  plan = planRecords(in, plan.memory);
  EXPECT_EQ(describe(plan.changes),
            (std::vector<std::string>{"DELETE web.corp.internal. A 10.0.1.5",
                                      "DELETE _eb-a.web.corp.internal. TXT txt"}));
  EXPECT_EQ(plan.changes[0].set, in.zone[0]);  // the exact values the zone holds
  EXPECT_EQ(plan.changes[1].set, in.zone[1]);
}

TEST(PlanRecords, GraceCountsFromWhenTheBindingFirstKnewAfterARestart) {
  auto in = baseInput();
  addOwned(in, "web", "10.0.1.5", "i-1");  // no departure known: a fresh process
  auto plan = planRecords(in, {});
  ASSERT_EQ(plan.held.size(), 1u);
  EXPECT_EQ(plan.held[0].until, kT0 + 3min);
  in.now = kT0 + 2min;
  plan = planRecords(in, plan.memory);
  EXPECT_TRUE(plan.changes.empty()) << "the memory keeps the first time";
  in.now = kT0 + 3min;
  plan = planRecords(in, plan.memory);
  EXPECT_EQ(plan.changes.size(), 2u);
}

TEST(PlanRecords, FailingSourceNeverDeletes) {
  auto in = baseInput();
  addOwned(in, "web", "10.0.1.5", "i-1");
  in.instanceGoneSince = {{"i-1", kT0 - 1h}};
  in.sourceUsable = false;
  const auto plan = planRecords(in, {});
  EXPECT_TRUE(plan.changes.empty());
  ASSERT_EQ(plan.held.size(), 1u);
  EXPECT_EQ(plan.held[0].hold, RecordHold::kSourceFailing);
}

TEST(PlanRecords, PruneOffNeverDeletes) {
  auto in = baseInput();
  addOwned(in, "web", "10.0.1.5", "i-1");
  in.instanceGoneSince = {{"i-1", kT0 - 1h}};
  in.prune = false;
  const auto plan = planRecords(in, {});
  EXPECT_TRUE(plan.changes.empty());
  EXPECT_EQ(plan.held.at(0).hold, RecordHold::kPruneDisabled);
}

TEST(PlanRecords, FloorAndCapLimitDeletionsLongestGoneFirst) {
  auto in = baseInput();
  for (int i = 1; i <= 4; ++i) {
    addOwned(in, "web-" + std::to_string(i), "10.0.1." + std::to_string(i),
             "i-" + std::to_string(i));
    in.instanceGoneSince["i-" + std::to_string(i)] = kT0 - std::chrono::hours(10 - i);
  }
  in.minRecords = 1;
  in.maxDeletions = 2;
  auto plan = planRecords(in, {});
  EXPECT_EQ(
      describe(plan.changes),
      (std::vector<std::string>{
          "DELETE web-1.corp.internal. A 10.0.1.1", "DELETE _eb-a.web-1.corp.internal. TXT txt",
          "DELETE web-2.corp.internal. A 10.0.1.2", "DELETE _eb-a.web-2.corp.internal. TXT txt"}));
  in.maxDeletions = 10;
  plan = planRecords(in, {});
  EXPECT_EQ(plan.changes.size(), 6u) << "the floor keeps one owned set";
  EXPECT_EQ(plan.held.at(0).hold, RecordHold::kMinRecords);
}

TEST(PlanRecords, LeavingInstanceGoesAtOnce) {
  auto in = baseInput();
  addOwned(in, "web", "10.0.1.5", "i-1");
  in.leaving = {"i-1"};
  EXPECT_EQ(planRecords(in, {}).changes.size(), 2u);
}

TEST(PlanRecords, NamePassesToAReplacementOnlyAfterTheHoldersGrace) {
  auto in = baseInput();
  addOwned(in, "web", "10.0.1.5", "i-old");
  in.candidates = {candidate("web", "10.0.1.7", "i-new")};
  in.instanceGoneSince = {{"i-old", kT0 - 1min}};
  auto plan = planRecords(in, {});
  EXPECT_TRUE(plan.changes.empty());
  ASSERT_EQ(plan.conflicts.size(), 1u);
  EXPECT_EQ(plan.conflicts[0].instanceId, "i-new");
  in.now = kT0 + 2min;
  plan = planRecords(in, plan.memory);
  EXPECT_EQ(describe(plan.changes),
            (std::vector<std::string>{"UPSERT web.corp.internal. A 10.0.1.7",
                                      "UPSERT _eb-a.web.corp.internal. TXT txt"}));
  EXPECT_EQ(plan.changes[1].set.values[0], ownerTxtValue({"eb-1", "platform/names", "i-new"}));
}

TEST(PlanRecords, ValueOrTtlChangeIsAnUpsertOfOurOwnSet) {
  auto in = baseInput();
  addOwned(in, "web", "10.0.1.5", "i-1");
  in.candidates = {candidate("web", "10.0.1.5", "i-1")};
  in.ttl = 30;
  EXPECT_EQ(describe(planRecords(in, {}).changes),
            (std::vector<std::string>{"UPSERT web.corp.internal. A 10.0.1.5",
                                      "UPSERT _eb-a.web.corp.internal. TXT txt"}));
}

TEST(PlanRecords, OrphanCompanionIsReusedOrCleanedUp) {
  auto in = baseInput();
  in.zone.push_back({"_eb-a.web.corp.internal.",
                     "TXT",
                     60,
                     {ownerTxtValue({"eb-1", "platform/names", "i-1"})},
                     false});
  in.candidates = {candidate("web", "10.0.1.5", "i-1")};
  EXPECT_EQ(describe(planRecords(in, {}).changes),
            (std::vector<std::string>{"CREATE web.corp.internal. A 10.0.1.5",
                                      "UPSERT _eb-a.web.corp.internal. TXT txt"}));
  in.candidates.clear();
  in.leaving = {"i-1"};
  EXPECT_EQ(describe(planRecords(in, {}).changes),
            (std::vector<std::string>{"DELETE _eb-a.web.corp.internal. TXT txt"}));
}

// Review findings (each failed on the first version of the planner).

TEST(PlanRecords, AnotherBindingsRecordsAreAdoptedOnlyWhereThisBindingWantsTheName) {
  auto in = baseInput();
  addOwned(in, "web-1", "10.0.1.1", "i-1", "platform/old");
  addOwned(in, "web-9", "10.0.1.9", "i-9", "platform/old");
  in.adoptableBindings = {"platform/old"};
  in.candidates = {candidate("web-1", "10.0.1.1", "i-1")};
  in.now = kT0 + 24h;
  const auto plan = planRecords(in, {});
  EXPECT_EQ(describe(plan.changes),
            (std::vector<std::string>{"UPSERT _eb-a.web-1.corp.internal. TXT txt"}))
      << "web-9 is the gone binding's retained record: not this binding's to delete";
  EXPECT_EQ(plan.unexpected, 0);
}

TEST(PlanRecords, CompanionNameHoldingAnythingElseMakesTheNameForeign) {
  auto in = baseInput();
  addOwned(in, "web", "10.0.1.5", "i-1");
  in.zone[1].values.push_back("\"v=spf1 -all\"");  // someone else's value beside ours
  in.leaving = {"i-1"};
  auto plan = planRecords(in, {});
  EXPECT_TRUE(plan.changes.empty()) << "deleting the TXT set would delete their value too";

  auto other = baseInput();
  other.candidates = {candidate("web", "10.0.1.5", "i-1")};
  other.zone.push_back({"_eb-a.web.corp.internal.", "TXT", 60, {"\"someone\""}, false});
  plan = planRecords(other, {});
  EXPECT_TRUE(plan.changes.empty()) << "a CREATE of our companion would fail the batch";
  ASSERT_EQ(plan.conflicts.size(), 1u);
  EXPECT_EQ(plan.conflicts[0].reason, RecordConflictReason::kForeignRecord);

  auto cname = baseInput();
  cname.candidates = {candidate("web", "10.0.1.5", "i-1")};
  cname.zone.push_back({"_eb-a.web.corp.internal.", "CNAME", 60, {"x.example."}, false});
  EXPECT_TRUE(planRecords(cname, {}).changes.empty());
}

TEST(OwnerTxt, LookalikesAndForgedFieldsAreNotOurs) {
  EXPECT_FALSE(
      parseOwnerTxt("\"heritage=endpoint-binder-fork,endpoint-binder/owner=eb-1,endpoint-binder/"
                    "binding=a/b,endpoint-binder/instance=i-1\""));
  // A controller id "eb-1,x" would have produced this; it must not parse as owner eb-1.
  EXPECT_FALSE(
      parseOwnerTxt("\"heritage=endpoint-binder,endpoint-binder/owner=eb-1,x,endpoint-binder/"
                    "binding=a/b,endpoint-binder/instance=i-1\""));
  EXPECT_FALSE(parseOwnerTxt(
      "\"heritage=endpoint-binder,endpoint-binder/owner=eb-1,endpoint-binder/owner=eb-2,"
      "endpoint-binder/binding=a/b,endpoint-binder/instance=i-1\""));
  EXPECT_FALSE(validOwnerText("eb-1,x"));
  EXPECT_FALSE(validOwnerText("a b"));
  EXPECT_FALSE(validOwnerText("a=b"));
  EXPECT_TRUE(validOwnerText("prod/eb-1"));
}

TEST(OwnerTxt, LongValuesAreSplitIntoTxtStringsAndJoined) {
  const RecordOwner owner{"endpoint-binder", std::string(63, 'n') + "/" + std::string(63, 'm'),
                          "i-0123456789abcdef0"};
  const auto value = ownerTxtValue(owner);
  size_t pos = 0;
  int strings = 0;
  while ((pos = value.find('"', pos)) != std::string::npos) {
    const auto close = value.find('"', pos + 1);
    ASSERT_NE(close, std::string::npos);
    EXPECT_LE(close - pos - 1, 255u) << "one TXT string holds at most 255 characters";
    ++strings;
    pos = close + 1;
  }
  EXPECT_EQ(strings, 2);
  EXPECT_EQ(parseOwnerTxt(value), owner);
}

TEST(PlanRecords, ListedInstanceWithoutARecordNowKeepsItsName) {
  auto in = baseInput();
  addOwned(in, "web", "10.0.1.5", "i-1");
  in.listedWithoutRecord = {"i-1"};  // e.g. the zone lost its VPC association
  in.now = kT0 + 24h;
  auto plan = planRecords(in, {});
  EXPECT_TRUE(plan.changes.empty());
  ASSERT_EQ(plan.held.size(), 1u);
  EXPECT_EQ(plan.held[0].hold, RecordHold::kInstanceStillListed);
  // Nor does another instance take the name over.
  in.candidates = {candidate("web", "10.0.1.7", "i-2")};
  plan = planRecords(in, {});
  EXPECT_TRUE(plan.changes.empty());
}

TEST(SplitChangeBatches, KeepsPairsAndCountsUpsertsTwice) {
  std::vector<RecordChange> changes;
  for (int i = 0; i < 700; ++i) {
    const std::string name = "h" + std::to_string(i) + ".corp.internal.";
    changes.push_back({RecordAction::kUpsert, {name, "A", 60, {"10.0.0.1"}, false}});
    changes.push_back(
        {RecordAction::kUpsert, {companionName(name, "A"), "TXT", 60, {"\"x\""}, false}});
  }
  const auto batches = splitChangeBatches(changes);
  // 4 records per pair (UPSERT counts twice): 250 pairs per batch.
  ASSERT_EQ(batches.size(), 3u);
  EXPECT_EQ(batches[0].size(), 500u);
  EXPECT_EQ(batches[2].size(), 400u);
  for (const auto& b : batches) EXPECT_EQ(b.back().set.type, "TXT");

  std::vector<RecordChange> big;
  for (int i = 0; i < 10; ++i) {
    big.push_back({RecordAction::kCreate,
                   {"t" + std::to_string(i) + ".corp.internal.",
                    "TXT",
                    60,
                    {std::string(4000, 'x')},
                    false}});
  }
  EXPECT_EQ(splitChangeBatches(big).size(), 2u) << "32,000 characters per batch";
}

// Property: over random histories, a set is never deleted while its instance is listed, while
// the source is not usable, before it has been unwanted for the grace period (since the
// earlier of the departure and the first plan that saw it unwanted), and a foreign set is
// never changed.
TEST(PlanRecordsProperty, NeverDeletesEarlyOrOnABadPictureOrForeignSets) {
  for (int seed = 1; seed <= 40; ++seed) {
    std::mt19937 rng(seed);
    auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
    std::vector<RecordSet> zone = {{"foreign.corp.internal.", "A", 60, {"10.9.9.9"}, false},
                                   {"web-0.corp.internal.", "A", 60, {"10.8.8.8"}, false}};
    RecordMemory memory;
    std::map<std::string, MonoTime> goneSince;
    std::set<std::string> listed;
    std::map<std::string, MonoTime> firstUnlisted;  // per instance, as the checker sees it
    MonoTime now = kT0;
    for (int step = 0; step < 80; ++step) {
      now += std::chrono::seconds(5 + pick(60));
      // Instances come and go (ids i-0..i-5; names web-<n%4>: shared names happen).
      const std::string id = "i-" + std::to_string(pick(6));
      if (listed.contains(id) && pick(2) == 0) {
        listed.erase(id);
        goneSince[id] = now - std::chrono::seconds(pick(5));
      } else if (!listed.contains(id)) {
        listed.insert(id);
        goneSince.erase(id);
        firstUnlisted.erase(id);
      }
      auto in = baseInput();
      in.now = now;
      in.grace = 2min;
      in.minRecords = pick(2);
      in.maxDeletions = 1 + pick(3);
      in.sourceUsable = pick(5) != 0;
      in.zone = zone;
      in.instanceGoneSince = goneSince;
      for (const auto& i : listed) {
        const int n = std::stoi(i.substr(2));
        in.candidates.push_back(
            candidate("web-" + std::to_string(n % 4), "10.0.0." + std::to_string(n), i));
      }
      const auto plan = planRecords(in, memory);
      memory = plan.memory;
      for (const auto& change : plan.changes) {
        ASSERT_NE(change.set.name, "foreign.corp.internal.") << "seed " << seed;
        ASSERT_NE(change.set.name, "web-0.corp.internal.")
            << "seed " << seed << ": a set without a companion is foreign";
        if (change.action != RecordAction::kDelete || change.set.type != "A") continue;
        ASSERT_TRUE(in.sourceUsable) << "seed " << seed << " deleted on a bad picture";
        // Whose record was it?
        std::optional<RecordOwner> owner;
        for (const auto& s : zone) {
          if (s.name == companionName(change.set.name, "A")) owner = parseOwnerTxt(s.values[0]);
        }
        ASSERT_TRUE(owner) << "seed " << seed;
        ASSERT_FALSE(listed.contains(owner->instanceId) &&
                     change.set.name ==
                         "web-" + std::to_string(std::stoi(owner->instanceId.substr(2)) % 4) +
                             ".corp.internal.")
            << "seed " << seed << " deleted a listed instance's record";
        const auto since =
            goneSince.contains(owner->instanceId) ? goneSince.at(owner->instanceId) : now;
        ASSERT_GE(now - since, in.grace) << "seed " << seed << " deleted within grace";
      }
      // Apply the changes as Route 53 would (all or nothing is not needed here: the planner's
      // own changes always match what it read).
      for (const auto& change : plan.changes) {
        auto it = std::find_if(zone.begin(), zone.end(), [&](const RecordSet& s) {
          return s.name == change.set.name && s.type == change.set.type;
        });
        if (change.action == RecordAction::kDelete) {
          ASSERT_NE(it, zone.end());
          ASSERT_EQ(*it, change.set) << "seed " << seed << ": DELETE with exact values";
          zone.erase(it);
        } else if (change.action == RecordAction::kCreate) {
          ASSERT_EQ(it, zone.end()) << "seed " << seed << ": CREATE of an existing set";
          zone.push_back(change.set);
        } else if (it == zone.end()) {
          zone.push_back(change.set);
        } else {
          *it = change.set;
        }
      }
    }
  }
}

}  // namespace
}  // namespace endpointbinder::core
