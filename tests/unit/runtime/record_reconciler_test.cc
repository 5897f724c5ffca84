// RecordReconciler over a fake Route 53 and the real InstanceInventory (on FakeInstanceApis):
// the I/O rules around core::planRecords — zone checks, one zone read shared by bindings, a
// refused batch re-reading the zone, change tracking to INSYNC, deletion policies, standby.
#include "controller/runtime/record_reconciler.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "tests/support/fake_instance_apis.h"

namespace endpointbinder::runtime {
namespace {

using namespace std::chrono_literals;
using testing::fakeInstance;
using testing::FakeInstanceApis;

const char* kVpc = "vpc-0123456789abcdef0";

// An in-memory Route 53: zones with sets; a change batch is applied all or nothing with the
// checks that matter here (CREATE of an existing set, DELETE not matching exactly).
class FakeRoute53 final : public aws::Route53Api {
 public:
  void addZone(aws::HostedZoneInfo info) { zones_[info.id].info = std::move(info); }
  void putSet(const std::string& zone, aws::ResourceRecordSet set) {
    auto& sets = zones_.at(zone).sets;
    std::erase_if(sets, [&](const auto& s) { return s.name == set.name && s.type == set.type; });
    sets.push_back(std::move(set));
  }
  std::vector<aws::ResourceRecordSet> sets(const std::string& zone) const {
    return zones_.at(zone).sets;
  }
  std::optional<aws::ResourceRecordSet> find(const std::string& zone, const std::string& name,
                                             const std::string& type) const {
    for (const auto& s : zones_.at(zone).sets) {
      if (s.name == name && s.type == type) return s;
    }
    return std::nullopt;
  }
  int lists = 0;
  int changes = 0;
  int refuseNext = 0;
  std::set<std::string> refuseNames;   // a batch touching one of these is refused
  std::set<std::string> refuseWrites;  // a batch creating or upserting one of these is refused

  core::Result<aws::HostedZoneInfo> getHostedZone(const std::string& zoneId) override {
    auto it = zones_.find(zoneId);
    if (it == zones_.end()) {
      return core::makeError(core::ErrorKind::kNotFound, "No hosted zone", "NoSuchHostedZone");
    }
    return it->second.info;
  }
  core::Result<std::vector<aws::ResourceRecordSet>> listResourceRecordSets(
      const std::string& zoneId) override {
    ++lists;
    return zones_.at(zoneId).sets;
  }
  core::Result<aws::ChangeInfo> changeResourceRecordSets(
      const std::string& zoneId, const std::vector<aws::RecordChange>& batch,
      const std::string&) override {
    if (refuseNext > 0) {
      --refuseNext;
      return core::makeError(core::ErrorKind::kTerminal,
                             "Tried to create ... but it already exists", "InvalidChangeBatch");
    }
    for (const auto& change : batch) {
      if (refuseWrites.contains(change.set.name) && change.action != aws::ChangeAction::kDelete) {
        return core::makeError(core::ErrorKind::kTerminal, "refused write", "InvalidChangeBatch");
      }
      if (refuseNames.contains(change.set.name)) {
        return core::makeError(core::ErrorKind::kTerminal,
                               "RRSet with DNS name " + change.set.name + " is not permitted",
                               "InvalidChangeBatch");
      }
    }
    auto copy = zones_.at(zoneId).sets;
    for (const auto& change : batch) {
      auto it = std::find_if(copy.begin(), copy.end(), [&](const auto& s) {
        return s.name == change.set.name && s.type == change.set.type;
      });
      if (change.action == aws::ChangeAction::kCreate && it != copy.end()) {
        return core::makeError(core::ErrorKind::kTerminal, "exists", "InvalidChangeBatch");
      }
      if (change.action == aws::ChangeAction::kDelete) {
        if (it == copy.end() || it->values != change.set.values || it->ttl != change.set.ttl) {
          return core::makeError(core::ErrorKind::kTerminal, "not found", "InvalidChangeBatch");
        }
        copy.erase(it);
      } else if (it != copy.end()) {
        *it = change.set;
      } else {
        copy.push_back(change.set);
      }
    }
    zones_.at(zoneId).sets = std::move(copy);
    ++changes;
    const std::string id = "C" + std::to_string(changes);
    pending_.insert(id);
    return aws::ChangeInfo{id, "PENDING", ""};
  }
  core::Result<aws::ChangeInfo> getChange(const std::string& changeId) override {
    // PENDING on the first look, INSYNC after.
    if (pending_.erase(changeId)) return aws::ChangeInfo{changeId, "PENDING", ""};
    return aws::ChangeInfo{changeId, "INSYNC", ""};
  }

 private:
  struct Zone {
    aws::HostedZoneInfo info;
    std::vector<aws::ResourceRecordSet> sets;
  };
  std::map<std::string, Zone> zones_;
  std::set<std::string> pending_;
};

class NoLeader final : public WriteGate {
 public:
  std::optional<std::uint64_t> currentTerm() const override { return std::nullopt; }
  core::Result<void> checkWrite(std::uint64_t) const override {
    return core::makeError(core::ErrorKind::kRetryable, "not leader", "NotLeader");
  }
  std::string describeLeader() const override { return "replica-b leads (term 3)"; }
};

api::DnsRecordBinding binding(const std::string& name, const std::string& zone = "ZCORP",
                              const std::string& tagValue = "true") {
  api::DnsRecordBinding b;
  b.metadata.name = name;
  b.metadata.ns = "default";
  b.spec.hostedZoneId = zone;
  b.spec.source = api::Ec2Source{{{"tag:dns", {tagValue}}}, {"running"}};
  b.spec.policy.deregistrationGracePeriod = 1min;
  b.spec.policy.minRecords = 0;
  b.generation = "g1";
  return b;
}

core::Instance named(const std::string& id, const std::string& ip, const std::string& name,
                     const std::string& dns = "true") {
  auto instance = fakeInstance(id, ip, {{"Name", name}, {"dns", dns}});
  instance.vpcId = kVpc;
  return instance;
}

class RecordReconcilerTest : public ::testing::Test {
 protected:
  RecordReconcilerTest()
      : inventory_(InstanceInventory::Deps{ec2_, ec2_, clock_, log_, [](const auto&) {}}) {
    route53_.addZone({"ZCORP", "corp.internal.", true, 2, {{"ap-northeast-1", kVpc}}});
    route53_.addZone({"ZPUBLIC", "example.com.", false, 2, {}});
  }

  RecordReconciler& reconciler(const WriteGate* gate = nullptr) {
    if (!reconciler_) {
      reconciler_ = std::make_unique<RecordReconciler>(
          RecordReconciler::Deps{
              [this](const std::string& key) -> std::optional<api::DnsRecordBinding> {
                auto it = specs_.find(key);
                if (it == specs_.end()) return std::nullopt;
                return it->second;
              },
              route53_, &inventory_, status_, clock_, log_,
              [this](const std::string& key) { return !specs_.contains(key); }, gate,
              [this](const std::string& zoneId) {
                std::vector<std::string> keys;
                for (const auto& [key, spec] : specs_) {
                  if (spec.spec.hostedZoneId == zoneId) keys.push_back(recordKey(key));
                }
                return keys;
              }},
          RecordReconciler::Options{});
    }
    return *reconciler_;
  }

  core::Result<ReconcileResult> run(const std::string& name) {
    const auto key = recordKey("default/" + name);
    inventory_.subscribe(key, specs_.at("default/" + name).spec.source);
    inventory_.refreshDue(true);
    return reconciler().reconcile(key);
  }

  const Condition* condition(const std::string& name, const std::string& type) {
    last_ = status_.get(recordKey("default/" + name));
    return last_ ? last_->condition(type) : nullptr;
  }

  core::ManualClock clock_;
  core::NullLogger log_;
  FakeInstanceApis ec2_;
  FakeRoute53 route53_;
  InstanceInventory inventory_;
  StatusStore status_;
  std::map<std::string, api::DnsRecordBinding> specs_;
  std::unique_ptr<RecordReconciler> reconciler_;
  std::optional<BindingStatus> last_;
};

TEST_F(RecordReconcilerTest, WritesRecordsInOneBatchAndFollowsTheChangeToInSync) {
  ec2_.putInstance(named("i-1", "10.0.1.1", "web-1"));
  ec2_.putInstance(named("i-2", "10.0.1.2", "Web 2"));
  specs_["default/names"] = binding("names");
  auto result = run("names");
  ASSERT_TRUE(result) << result.error().toString();
  EXPECT_EQ(route53_.changes, 1);
  ASSERT_TRUE(route53_.find("ZCORP", "web-2.corp.internal.", "A"));
  EXPECT_EQ(route53_.find("ZCORP", "web-2.corp.internal.", "A")->values,
            std::vector<std::string>{"10.0.1.2"});
  EXPECT_EQ(condition("names", "InSync")->status, ConditionStatus::kFalse);
  ASSERT_TRUE(result->requeueAfter);
  EXPECT_LE(*result->requeueAfter, 2s) << "polls the change";

  result = run("names");
  ASSERT_TRUE(result);
  EXPECT_EQ(condition("names", "InSync")->status, ConditionStatus::kTrue);
  EXPECT_EQ(condition("names", "Ready")->status, ConditionStatus::kTrue);
  EXPECT_EQ(route53_.changes, 1) << "steady state writes nothing";
  EXPECT_EQ(last_->counts.desired, 2);
  EXPECT_EQ(last_->counts.registered, 2);
}

TEST_F(RecordReconcilerTest, OneZoneReadServesEveryBindingOfTheZone) {
  ec2_.putInstance(named("i-1", "10.0.1.1", "web-1"));
  ec2_.putInstance(named("i-2", "10.0.1.2", "db-1", "db"));
  specs_["default/web"] = binding("web");
  specs_["default/db"] = binding("db", "ZCORP", "db");
  ASSERT_TRUE(run("web"));
  ASSERT_TRUE(run("db"));
  EXPECT_EQ(route53_.lists, 1) << "the second binding used the cached zone (updated by our write)";
  EXPECT_TRUE(route53_.find("ZCORP", "db-1.corp.internal.", "A"));
}

TEST_F(RecordReconcilerTest, ARefusedBatchReadsTheZoneAgainBeforeTheNextPlan) {
  ec2_.putInstance(named("i-1", "10.0.1.1", "web-1"));
  specs_["default/names"] = binding("names");
  route53_.refuseNext = 1;
  auto result = run("names");
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, "InvalidChangeBatch");
  EXPECT_EQ(condition("names", "Synced")->reason, "ChangeRefused");
  ASSERT_TRUE(run("names"));
  EXPECT_EQ(route53_.lists, 2) << "the refused batch expired the cached zone";
  EXPECT_TRUE(route53_.find("ZCORP", "web-1.corp.internal.", "A"));
}

TEST_F(RecordReconcilerTest, PublicZoneIsAnErrorAndNothingIsWritten) {
  ec2_.putInstance(named("i-1", "10.0.1.1", "web-1"));
  specs_["default/names"] = binding("names", "ZPUBLIC");
  ASSERT_TRUE(run("names"));
  EXPECT_EQ(condition("names", "Synced")->reason, "ZoneNotPrivate");
  EXPECT_EQ(route53_.changes, 0);
}

TEST_F(RecordReconcilerTest, InstanceInAVpcTheZoneDoesNotServeGetsNoRecord) {
  ec2_.putInstance(named("i-1", "10.0.1.1", "web-1"));
  auto other = named("i-2", "10.0.1.2", "web-2");
  other.vpcId = "vpc-0000000000000ffff";
  ec2_.putInstance(other);
  specs_["default/names"] = binding("names");
  ASSERT_TRUE(run("names"));
  EXPECT_TRUE(route53_.find("ZCORP", "web-1.corp.internal.", "A"));
  EXPECT_FALSE(route53_.find("ZCORP", "web-2.corp.internal.", "A"));
  const auto* synced = condition("names", "Synced");
  EXPECT_EQ(synced->reason, "ZoneNotAssociated");
  EXPECT_NE(synced->message.find("vpc-0000000000000ffff"), std::string::npos);
}

TEST_F(RecordReconcilerTest, DescribeFailureDeletesNothingPastTheGrace) {
  ec2_.putInstance(named("i-1", "10.0.1.1", "web-1"));
  specs_["default/names"] = binding("names");
  ASSERT_TRUE(run("names"));
  ec2_.removeInstance("i-1");
  ASSERT_TRUE(run("names"));  // a good listing without i-1: its grace starts
  EXPECT_TRUE(route53_.find("ZCORP", "web-1.corp.internal.", "A")) << "within the grace";
  ec2_.failNext("DescribeInstances",
                core::Error{core::ErrorKind::kRetryable, "Request limit exceeded.",
                            "RequestLimitExceeded", "", 503},
                100);
  clock_.advance(10min);
  ASSERT_TRUE(run("names"));
  EXPECT_TRUE(route53_.find("ZCORP", "web-1.corp.internal.", "A"))
      << "a failing source deletes nothing";
  EXPECT_EQ(condition("names", "SourceResolved")->status, ConditionStatus::kFalse);
}

TEST_F(RecordReconcilerTest, DeletionRetainsByDefaultAndDeleteRemovesOnlyItsOwn) {
  ec2_.putInstance(named("i-1", "10.0.1.1", "web-1"));
  ec2_.putInstance(named("i-2", "10.0.1.2", "db-1", "db"));
  specs_["default/web"] = binding("web");
  specs_["default/db"] = binding("db", "ZCORP", "db");
  specs_["default/db"].spec.policy.deletionPolicy = api::DeletionPolicy::kDeregister;
  ASSERT_TRUE(run("web"));
  ASSERT_TRUE(run("db"));

  specs_.erase("default/web");
  ASSERT_TRUE(reconciler().reconcile(recordKey("default/web")));
  EXPECT_TRUE(route53_.find("ZCORP", "web-1.corp.internal.", "A")) << "Retain";
  EXPECT_FALSE(status_.get(recordKey("default/web")));

  specs_.erase("default/db");
  ASSERT_TRUE(reconciler().reconcile(recordKey("default/db")));
  EXPECT_FALSE(route53_.find("ZCORP", "db-1.corp.internal.", "A")) << "Delete";
  EXPECT_FALSE(route53_.find("ZCORP", "_eb-a.db-1.corp.internal.", "TXT"));
  EXPECT_TRUE(route53_.find("ZCORP", "web-1.corp.internal.", "A")) << "another binding's record";
}

TEST_F(RecordReconcilerTest, RenamedBindingAdoptsTheRetainedRecordsWithoutAnOutage) {
  ec2_.putInstance(named("i-1", "10.0.1.1", "web-1"));
  specs_["default/old"] = binding("old");
  ASSERT_TRUE(run("old"));
  specs_.erase("default/old");
  ASSERT_TRUE(reconciler().reconcile(recordKey("default/old")));
  specs_["default/new"] = binding("new");
  ASSERT_TRUE(run("new"));
  const auto companion = route53_.find("ZCORP", "_eb-a.web-1.corp.internal.", "TXT");
  ASSERT_TRUE(companion);
  EXPECT_NE(companion->values[0].find("binding=default/new"), std::string::npos);
  EXPECT_TRUE(route53_.find("ZCORP", "web-1.corp.internal.", "A")) << "never deleted";
}

// Review findings (each failed on the first version).

TEST_F(RecordReconcilerTest, ASiblingNeverDeletesARetainedBindingsRecords) {
  ec2_.putInstance(named("i-1", "10.0.1.1", "web-1"));
  ec2_.putInstance(named("i-2", "10.0.1.2", "db-1", "db"));
  specs_["default/web"] = binding("web");
  specs_["default/db"] = binding("db", "ZCORP", "db");
  ASSERT_TRUE(run("web"));
  ASSERT_TRUE(run("db"));
  specs_.erase("default/web");  // Retain (the default)
  ASSERT_TRUE(reconciler().reconcile(recordKey("default/web")));
  for (int i = 0; i < 3; ++i) {
    clock_.advance(2min);
    ASSERT_TRUE(run("db"));
  }
  EXPECT_TRUE(route53_.find("ZCORP", "web-1.corp.internal.", "A"))
      << "db does not want web-1: the retained record is not db's to delete";
}

TEST_F(RecordReconcilerTest, DeleteWithASuccessorHandsTheZoneOverAndWakesIt) {
  ec2_.putInstance(named("i-1", "10.0.1.1", "web-1"));
  specs_["default/old"] = binding("old");
  specs_["default/old"].spec.policy.deletionPolicy = api::DeletionPolicy::kDeregister;
  ASSERT_TRUE(run("old"));
  specs_.erase("default/old");
  specs_["default/new"] = binding("new");  // the rename
  auto result = reconciler().reconcile(recordKey("default/old"));
  ASSERT_TRUE(result);
  EXPECT_TRUE(route53_.find("ZCORP", "web-1.corp.internal.", "A")) << "never deleted";
  EXPECT_EQ(result->wake, std::vector<std::string>{recordKey("default/new")});
  ASSERT_TRUE(run("new"));
  EXPECT_NE(route53_.find("ZCORP", "_eb-a.web-1.corp.internal.", "TXT")
                ->values[0]
                .find("binding=default/new"),
            std::string::npos);
}

TEST_F(RecordReconcilerTest, DeletionCapCountsAWindowNotAReconcile) {
  for (int i = 1; i <= 5; ++i) {
    ec2_.putInstance(
        named("i-" + std::to_string(i), "10.0.1." + std::to_string(i), "web-" + std::to_string(i)));
  }
  specs_["default/names"] = binding("names");
  specs_["default/names"].spec.policy.maxDeletionsPerSync = api::CountOrPercent{false, 1};
  ASSERT_TRUE(run("names"));
  for (int i = 1; i <= 5; ++i) ec2_.removeInstance("i-" + std::to_string(i));
  ASSERT_TRUE(run("names"));
  clock_.advance(2min);  // past the grace
  for (int i = 0; i < 6; ++i) {
    ASSERT_TRUE(run("names"));
    clock_.advance(2s);  // the change poll
  }
  int left = 0;
  for (int i = 1; i <= 5; ++i) {
    if (route53_.find("ZCORP", "web-" + std::to_string(i) + ".corp.internal.", "A")) ++left;
  }
  EXPECT_EQ(left, 4) << "one deletion per minute, however often the binding is reconciled";
  clock_.advance(1min);
  ASSERT_TRUE(run("names"));
  left = 0;
  for (int i = 1; i <= 5; ++i) {
    if (route53_.find("ZCORP", "web-" + std::to_string(i) + ".corp.internal.", "A")) ++left;
  }
  EXPECT_EQ(left, 3);
}

TEST_F(RecordReconcilerTest, ZoneLosingTheVpcAssociationDeletesNothing) {
  ec2_.putInstance(named("i-1", "10.0.1.1", "web-1"));
  specs_["default/names"] = binding("names");
  ASSERT_TRUE(run("names"));
  route53_.addZone({"ZCORP", "corp.internal.", true, 2, {}});  // disassociated
  clock_.advance(10min);  // past the grace and the cached zone info
  ASSERT_TRUE(run("names"));
  clock_.advance(10min);
  ASSERT_TRUE(run("names"));
  EXPECT_TRUE(route53_.find("ZCORP", "web-1.corp.internal.", "A"))
      << "a listed instance the zone cannot serve now keeps its name";
  EXPECT_EQ(condition("names", "Synced")->reason, "ZoneNotAssociated");
}

TEST_F(RecordReconcilerTest, ARefusedNameDoesNotBlockTheOthers) {
  for (int i = 1; i <= 4; ++i) {
    ec2_.putInstance(
        named("i-" + std::to_string(i), "10.0.1." + std::to_string(i), "web-" + std::to_string(i)));
  }
  route53_.refuseNames = {"web-3.corp.internal."};
  specs_["default/names"] = binding("names");
  auto result = run("names");
  ASSERT_TRUE(result);
  for (int i : {1, 2, 4}) {
    EXPECT_TRUE(route53_.find("ZCORP", "web-" + std::to_string(i) + ".corp.internal.", "A"));
  }
  EXPECT_FALSE(run("names")) << "refused again, after a fresh read of the zone: retried later";
  EXPECT_EQ(condition("names", "Synced")->reason, "ChangeRefused");
  const int calls = route53_.changes;
  ASSERT_TRUE(run("names"));
  EXPECT_EQ(route53_.changes, calls) << "a name refused twice is not sent again for a while";
  const auto* synced = condition("names", "Synced");
  EXPECT_EQ(synced->reason, "RejectedByRoute53");
  EXPECT_NE(synced->message.find("web-3.corp.internal."), std::string::npos);
  EXPECT_EQ(condition("names", "Ready")->status, ConditionStatus::kFalse);
}

// Second review (each failed on the version after the first review's fixes).

TEST_F(RecordReconcilerTest, DeleteInAZoneShardWithAnUnrelatedBindingStillDeletesItsNames) {
  ec2_.putInstance(named("i-1", "10.0.1.1", "web-1"));
  ec2_.putInstance(named("i-2", "10.0.1.2", "db-1", "db"));
  specs_["default/web"] = binding("web");
  specs_["default/web"].spec.policy.deletionPolicy = api::DeletionPolicy::kDeregister;
  specs_["default/db"] = binding("db", "ZCORP", "db");
  ASSERT_TRUE(run("web"));
  ASSERT_TRUE(run("db"));
  specs_.erase("default/web");
  auto result = reconciler().reconcile(recordKey("default/web"));
  ASSERT_TRUE(result);
  EXPECT_EQ(result->wake, std::vector<std::string>{recordKey("default/db")});
  EXPECT_TRUE(route53_.find("ZCORP", "web-1.corp.internal.", "A")) << "waits for db first";
  clock_.advance(2s);
  ASSERT_TRUE(run("db"));  // db does not want web-1: it adopts nothing
  result = reconciler().reconcile(recordKey("default/web"));
  ASSERT_TRUE(result);
  EXPECT_FALSE(route53_.find("ZCORP", "web-1.corp.internal.", "A")) << "Delete deletes it";
  EXPECT_TRUE(route53_.find("ZCORP", "db-1.corp.internal.", "A"));
}

TEST_F(RecordReconcilerTest, APartlyRefusedDeletionIsRetriedNotForgotten) {
  ec2_.putInstance(named("i-1", "10.0.1.1", "web-1"));
  ec2_.putInstance(named("i-2", "10.0.1.2", "web-2"));
  specs_["default/web"] = binding("web");
  specs_["default/web"].spec.policy.deletionPolicy = api::DeletionPolicy::kDeregister;
  specs_["default/web"].spec.policy.maxDeletionsPerSync = api::CountOrPercent{false, 100};
  ASSERT_TRUE(run("web"));
  specs_.erase("default/web");
  route53_.refuseNames = {"web-2.corp.internal."};
  auto result = reconciler().reconcile(recordKey("default/web"));
  ASSERT_TRUE(result);
  EXPECT_TRUE(result->requeueAfter) << "comes back for web-2";
  route53_.refuseNames.clear();
  result = reconciler().reconcile(recordKey("default/web"));
  ASSERT_TRUE(result);
  EXPECT_FALSE(route53_.find("ZCORP", "web-2.corp.internal.", "A"));
  EXPECT_TRUE(reconciler().knownKeys().empty()) << "done once everything is gone";
}

TEST_F(RecordReconcilerTest, ATwiceRefusedUpsertNeverDeletesAListedInstancesName) {
  ec2_.putInstance(named("i-1", "10.0.1.1", "web-1"));
  ec2_.putInstance(named("i-2", "10.0.1.2", "web-2"));
  specs_["default/web"] = binding("web");
  ASSERT_TRUE(run("web"));
  specs_["default/web"].spec.record.ttl = 300;  // UPSERTs of both
  route53_.refuseWrites = {"web-2.corp.internal."};
  for (int i = 0; i < 6; ++i) {
    (void)run("web");
    clock_.advance(30s);
  }
  EXPECT_TRUE(route53_.find("ZCORP", "web-2.corp.internal.", "A"))
      << "i-2 is listed and running: a refused change must not turn into a deletion";
}

TEST_F(RecordReconcilerTest, AnUnnamedHolderLetsTheNameGoToTheNewHolderAfterTheGrace) {
  ec2_.putInstance(named("i-1", "10.0.1.1", "web"));
  specs_["default/web"] = binding("web");
  ASSERT_TRUE(run("web"));
  ec2_.putInstance(named("i-1", "10.0.1.1", ""));  // the tag moved to i-2
  ec2_.putInstance(named("i-2", "10.0.1.2", "web"));
  for (int i = 0; i < 3; ++i) {
    clock_.advance(1min);
    ASSERT_TRUE(run("web"));
  }
  EXPECT_EQ(route53_.find("ZCORP", "web.corp.internal.", "A")->values,
            std::vector<std::string>{"10.0.1.2"});
}

TEST_F(RecordReconcilerTest, StandbyPlansButNeverWrites) {
  ec2_.putInstance(named("i-1", "10.0.1.1", "web-1"));
  specs_["default/names"] = binding("names");
  NoLeader gate;
  reconciler(&gate);
  ASSERT_TRUE(run("names"));
  EXPECT_EQ(route53_.changes, 0);
  EXPECT_EQ(condition("names", "Synced")->reason, "Standby");
}

}  // namespace
}  // namespace endpointbinder::runtime
