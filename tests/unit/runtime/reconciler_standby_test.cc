// The reconciler under leader election (Deps::writeGate), against the local AWS emulator: a
// standby plans and reports like --dry-run and writes nothing; a leader's writes are fenced by
// the term its reconcile started in; a deletion is left to the leader until the claim is gone.
#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "controller/runtime/reconciler.h"
#include "tests/support/reconciler_harness.h"

namespace endpointbinder::runtime {
namespace {

using testing::ReconcilerHarness;

// A gate the test sets: `term` is what a reconcile starting now gets, `live` the term writes
// are checked against (they differ when leadership changed during a reconcile).
class FakeGate final : public WriteGate {
 public:
  std::optional<std::uint64_t> term;
  std::optional<std::uint64_t> live;
  int checks = 0;

  std::optional<std::uint64_t> currentTerm() const override { return term; }
  core::Result<void> checkWrite(std::uint64_t t) const override {
    ++const_cast<FakeGate*>(this)->checks;
    if (live && *live == t) return {};
    return core::makeError(core::ErrorKind::kRetryable, "lease term changed", "NotLeader");
  }
  std::string describeLeader() const override { return "replica-b leads (term 7)"; }

  void lead(std::uint64_t t) { term = live = t; }
  void standby() { term.reset(); }
};

std::string manifest(const std::string& arn, const std::string& addresses,
                     const std::string& policy = "deletionPolicy: Deregister") {
  return "apiVersion: endpointbinder.io/v1alpha1\nkind: TargetGroupBinding\nmetadata:\n"
         "  name: web\n  namespace: ns\nspec:\n  targetGroupARN: " +
         arn + "\n  targetType: ip\n  source:\n    static: {addresses: [" + addresses +
         "]}\n  policy: {" + policy + "}\n";
}

class ReconcilerStandbyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(h.ok()) << h.error();
    h.writeGate = &gate;
    h.restart();
    arn = h.createGroup("web");
  }
  core::Result<ReconcileResult> sync(const std::string& key) {
    h.expireAll();
    return h.reconcile(key);
  }

  FakeGate gate;
  ReconcilerHarness h;
  std::string arn;
};

TEST_F(ReconcilerStandbyTest, StandbyPlansAndReportsButNeverWrites) {
  gate.standby();
  const auto key = h.apply(manifest(arn, "10.0.1.1, 10.0.1.2"));
  auto r = sync(key);
  ASSERT_TRUE(r) << r.error().toString();
  EXPECT_TRUE(h.api->writes.empty()) << "a standby wrote " << h.api->writes.front().action;
  EXPECT_EQ(gate.checks, 0) << "nothing even tried to write";
  EXPECT_EQ(h.owner(arn), std::nullopt) << "not even the claim";
  EXPECT_EQ(h.condition(key, "Synced"), "True Standby");
  const auto status = h.status(key);
  ASSERT_TRUE(status && status->lastPlan);
  EXPECT_EQ(status->lastPlan->toRegister.size(), 2u) << "the plan is there to see";
  EXPECT_FALSE(status->lastPlan->applied);
  const auto* synced = status->condition("Synced");
  ASSERT_NE(synced, nullptr);
  EXPECT_NE(synced->message.find("replica-b leads (term 7)"), std::string::npos);

  // Leadership: the next reconcile claims and registers, every write checked with term 3.
  gate.lead(3);
  r = sync(key);
  ASSERT_TRUE(r) << r.error().toString();
  EXPECT_EQ(h.registered(arn), (std::set<std::string>{"10.0.1.1:443", "10.0.1.2:443"}));
  EXPECT_EQ(h.owner(arn), "endpoint-binder/ns/web");
  EXPECT_EQ(gate.checks, 2) << "AddTags and RegisterTargets";
  EXPECT_EQ(h.condition(key, "Synced"), "True Synced");
}

TEST_F(ReconcilerStandbyTest, WritesOfAnOldTermAreRefused) {
  gate.lead(3);
  const auto key = h.apply(manifest(arn, "10.0.1.1"));
  ASSERT_TRUE(sync(key));
  h.api->writes.clear();
  // Leadership was lost and won back (term 4) while a reconcile planned under term 3.
  h.apply(manifest(arn, "10.0.1.1, 10.0.1.2"));
  gate.term = 3;
  gate.live = 4;
  auto r = sync(key);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "NotLeader");
  EXPECT_NE(r.error().message.find("RegisterTargets not sent"), std::string::npos)
      << r.error().message;
  EXPECT_TRUE(h.api->writes.empty());
  EXPECT_EQ(h.registered(arn), (std::set<std::string>{"10.0.1.1:443"}));
  EXPECT_EQ(h.condition(key, "Synced"), "False NotLeader");
  // The next reconcile runs in the new term and writes.
  gate.term = 4;
  ASSERT_TRUE(sync(key));
  EXPECT_EQ(h.registered(arn), (std::set<std::string>{"10.0.1.1:443", "10.0.1.2:443"}));
}

TEST_F(ReconcilerStandbyTest, DeletionWaitsForTheLeaderWhileTheClaimStands) {
  gate.lead(1);
  const auto key = h.apply(manifest(arn, "10.0.1.1"));
  ASSERT_TRUE(sync(key));
  ASSERT_EQ(h.owner(arn), "endpoint-binder/ns/web");
  h.api->writes.clear();

  // The leader went away; this replica is a standby when the manifest is removed.
  gate.standby();
  h.remove(key);
  auto r = sync(key);
  ASSERT_TRUE(r) << r.error().toString();
  EXPECT_TRUE(h.api->writes.empty());
  ASSERT_TRUE(r->requeueAfter);
  EXPECT_EQ(h.condition(key, "Ready"), "False Standby");
  EXPECT_TRUE(h.status(key).has_value()) << "remembered for when it leads";

  // Once it leads, the deletion runs: deregistered per deletionPolicy, claim released.
  gate.lead(2);
  r = sync(key);
  ASSERT_TRUE(r) << r.error().toString();
  EXPECT_EQ(h.owner(arn), std::nullopt);
  EXPECT_TRUE(h.registered(arn).empty());
  EXPECT_FALSE(h.status(key).has_value());
}

TEST_F(ReconcilerStandbyTest, StandbyForgetsADeletionTheLeaderFinished) {
  gate.lead(1);
  const auto key = h.apply(manifest(arn, "10.0.1.1", "deletionPolicy: Retain"));
  ASSERT_TRUE(sync(key));
  gate.standby();
  h.remove(key);
  h.tag(arn, "endpointbinder.io/owner", "someone/else/entirely");  // the leader released it
  auto r = sync(key);
  ASSERT_TRUE(r) << r.error().toString();
  EXPECT_FALSE(r->requeueAfter);
  EXPECT_FALSE(h.status(key).has_value());
  EXPECT_TRUE(h.api->writesOf("RemoveTags").empty());
}

}  // namespace
}  // namespace endpointbinder::runtime
