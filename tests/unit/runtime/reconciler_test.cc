// Reconciler tests: the real reconciler against the local AWS emulator over HTTP (SigV4, AWS's
// target rules, tags, health) with a ManualClock deciding every grace period. One case per way
// the traffic path broke before (issue 10); each states how the old reconciler failed it.
#include "controller/runtime/reconciler.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "tests/support/reconciler_harness.h"

namespace endpointbinder::runtime {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;
using testing::ReconcilerHarness;

std::string manifest(const std::string& name, const std::string& arn, const std::string& source,
                     const std::string& policy = "deregistrationGracePeriod: 3m",
                     const std::string& ns = "ns", const std::string& extra = "") {
  return "apiVersion: endpointbinder.io/v1alpha1\nkind: TargetGroupBinding\nmetadata:\n  name: " +
         name + "\n  namespace: " + ns + "\nspec:\n  targetGroupARN: " + arn +
         "\n  targetType: ip\n" + extra + "  source:\n    " + source + "\n  policy: {" + policy +
         "}\n";
}
std::string staticSource(const std::string& list) { return "static: {addresses: [" + list + "]}"; }
std::string dnsSource(const std::string& host) { return "dns: {hostname: " + host + "}"; }

class ReconcilerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(h.ok()) << h.error();
    arn = h.createGroup("web");
  }
  // One reconcile that must succeed.
  ReconcileResult sync(const std::string& key) {
    h.expireAll();
    auto r = h.reconcile(key);
    EXPECT_TRUE(r.has_value()) << r.error().toString();
    return r.value_or(ReconcileResult{});
  }
  ReconcilerHarness h;
  std::string arn;
};

// ---- 1. spec edits start the grace period at the edit ------------------------------------------

TEST_F(ReconcilerTest, StaticListEditAfterAQuietHourWaitsOutTheGrace) {
  // Old: "last listed" moved only when a reconcile ran, so after a quiet hour the dropped
  // address looked absent for an hour and was deregistered at once.
  const auto key = h.apply(manifest("web", arn, staticSource("10.0.1.1, 10.0.1.2")));
  sync(key);
  ASSERT_EQ(h.registered(arn), (std::set<std::string>{"10.0.1.1:443", "10.0.1.2:443"}));
  h.clock.advance(hours(1));
  h.apply(manifest("web", arn, staticSource("10.0.1.1")));
  sync(key);
  EXPECT_TRUE(h.registered(arn).contains("10.0.1.2:443")) << "deregistered without grace";
  EXPECT_EQ(h.held(key, "WithinGracePeriod"), std::vector<std::string>{"10.0.1.2:443"});
  h.clock.advance(minutes(2) + seconds(59));
  sync(key);
  EXPECT_TRUE(h.registered(arn).contains("10.0.1.2:443"));
  h.clock.advance(seconds(1));
  sync(key);
  EXPECT_FALSE(h.registered(arn).contains("10.0.1.2:443")) << "due at the end of the grace";
}

TEST_F(ReconcilerTest, PortChangeKeepsTheOldPortForTheGrace) {
  const auto key = h.apply(manifest("web", arn, staticSource("10.0.1.1")));
  sync(key);
  h.clock.advance(hours(1));
  h.apply(manifest("web", arn, staticSource("10.0.1.1"), "deregistrationGracePeriod: 3m", "ns",
                   "  port: 8443\n"));
  sync(key);
  EXPECT_EQ(h.registered(arn), (std::set<std::string>{"10.0.1.1:443", "10.0.1.1:8443"}));
  h.clock.advance(minutes(3));
  sync(key);
  EXPECT_EQ(h.registered(arn), (std::set<std::string>{"10.0.1.1:8443"}));
}

TEST_F(ReconcilerTest, HostnameSwitchCountsFromTheSwitchNotTheOldAnswersHistory) {
  // Blue/green by name. The new name's own history (an address it dropped an hour ago) says
  // nothing about how long the old name's addresses have been gone.
  h.source.answer("blue.local", {"10.0.1.1"}, h.clock.now());
  h.source.answer("green.local", {"10.0.1.1", "10.0.2.2"}, h.clock.now());
  h.source.answer("green.local", {"10.0.2.2"}, h.clock.now());  // 10.0.1.1 departed now
  const auto key = h.apply(manifest("web", arn, dnsSource("blue.local")));
  sync(key);
  h.clock.advance(hours(1));
  h.apply(manifest("web", arn, dnsSource("green.local")));
  sync(key);
  EXPECT_EQ(h.registered(arn), (std::set<std::string>{"10.0.1.1:443", "10.0.2.2:443"}));
  h.clock.advance(minutes(3));
  sync(key);
  EXPECT_EQ(h.registered(arn), (std::set<std::string>{"10.0.2.2:443"}));
}

TEST_F(ReconcilerTest, DnsDepartureCountsFromTheFirstAnswerWithoutIt) {
  h.source.answer("app.local", {"10.0.1.1", "10.0.1.2"}, h.clock.now());
  const auto key = h.apply(manifest("web", arn, dnsSource("app.local")));
  sync(key);
  h.clock.advance(minutes(10));
  h.source.answer("app.local", {"10.0.1.1"}, h.clock.now());  // nobody reconciled yet
  h.clock.advance(minutes(2));
  sync(key);
  EXPECT_TRUE(h.registered(arn).contains("10.0.1.2:443"));
  h.clock.advance(minutes(1));
  sync(key);
  EXPECT_FALSE(h.registered(arn).contains("10.0.1.2:443")) << "3m after the answer without it";
}

// ---- 2. renames, deletions and ARN changes
// -------------------------------------------------------

TEST_F(ReconcilerTest, RenamedBindingAdoptsItsGroup) {
  // Old: the group stayed tagged with the old name and the new binding was a Conflict forever.
  const auto old = h.apply(manifest("web", arn, staticSource("10.0.1.1")));
  sync(old);
  ASSERT_EQ(h.owner(arn), "endpoint-binder/ns/web");
  h.remove(old);
  const auto renamed = h.apply(manifest("web-v2", arn, staticSource("10.0.1.1"), "", "other"));
  sync(renamed);
  EXPECT_EQ(h.owner(arn), "endpoint-binder/other/web-v2");
  EXPECT_TRUE(h.hasEvent(renamed, "Adopted"));
  EXPECT_EQ(h.condition(renamed, "Conflict"), "False Owned");
  // The old key's deletion comes later and must not take the claim back.
  sync(old);
  EXPECT_EQ(h.owner(arn), "endpoint-binder/other/web-v2");
  EXPECT_TRUE(h.api->writesOf("DeregisterTargets").empty());
}

TEST_F(ReconcilerTest, RenameAdoptsWhileTheOldNameAwaitsConfirmedDeletion) {
  // The manifest store keeps a binding missing from one clean read until a second confirms
  // it; meanwhile its replacement adopts the group, and the confirmed deletion of the old name
  // (deletionPolicy Deregister) then neither deregisters nor releases anything.
  const auto old = h.apply(
      manifest("web", arn, staticSource("10.0.1.1, 10.0.1.2"), "deletionPolicy: Deregister"));
  sync(old);
  h.markPendingDeletion(old);
  const auto renamed = h.apply(
      manifest("web-v2", arn, staticSource("10.0.1.1, 10.0.1.2"), "deletionPolicy: Deregister"));
  sync(renamed);
  EXPECT_TRUE(h.hasEvent(renamed, "Adopted"));
  EXPECT_EQ(h.condition(renamed, "Conflict"), "False Owned");
  sync(old);  // still pending: reconciled, but the group is not its own any more
  h.remove(old);
  sync(old);  // confirmed deleted
  EXPECT_EQ(h.registered(arn), (std::set<std::string>{"10.0.1.1:443", "10.0.1.2:443"}));
  EXPECT_TRUE(h.api->writesOf("DeregisterTargets").empty());
  EXPECT_TRUE(h.api->writesOf("RemoveTags").empty());
  EXPECT_EQ(h.owner(arn), "endpoint-binder/ns/web-v2");
}

TEST_F(ReconcilerTest, TwoLiveBindingsOfOneGroupConflictUntilOneGoes) {
  const auto first = h.apply(manifest("a", arn, staticSource("10.0.1.1")));
  const auto second = h.apply(manifest("b", arn, staticSource("10.0.1.2")));
  sync(first);
  auto r = sync(second);
  EXPECT_EQ(h.condition(second, "Conflict"), "True ClaimedByBinding");
  ASSERT_TRUE(r.requeueAfter.has_value()) << "looks again soon for a release";
  EXPECT_FALSE(h.registered(arn).contains("10.0.1.2:443"));
  h.remove(first);
  sync(first);  // Retain: releases the claim
  EXPECT_EQ(h.owner(arn), std::nullopt);
  EXPECT_TRUE(h.hasEvent(first, "Released") || h.api->writesOf("RemoveTags").size() == 1);
  sync(second);
  EXPECT_EQ(h.owner(arn), "endpoint-binder/ns/b");
  EXPECT_TRUE(h.registered(arn).contains("10.0.1.2:443"));
}

TEST_F(ReconcilerTest, AnotherControllersClaimStaysAConflict) {
  const auto theirs = h.createGroup("theirs", {{kOwnerTagKey, "other-cluster/ns/web"}});
  const auto key = h.apply(manifest("web", theirs, staticSource("10.0.1.1")));
  sync(key);
  EXPECT_EQ(h.condition(key, "Conflict"), "True OwnedByOther");
  EXPECT_EQ(h.owner(theirs), "other-cluster/ns/web");
  EXPECT_TRUE(h.api->writes.empty());
}

TEST_F(ReconcilerTest, DeletionWithRetainReleasesTheClaimAndKeepsTargets) {
  const auto key = h.apply(manifest("web", arn, staticSource("10.0.1.1")));
  sync(key);
  h.remove(key);
  sync(key);
  EXPECT_EQ(h.owner(arn), std::nullopt);
  EXPECT_EQ(h.registered(arn), (std::set<std::string>{"10.0.1.1:443"}));
  EXPECT_FALSE(h.source.tracked.contains(key));
  EXPECT_FALSE(h.status(key).has_value());
}

TEST_F(ReconcilerTest, TargetGroupArnChangeReleasesTheOldGroup) {
  const auto other = h.createGroup("web2");
  const auto key = h.apply(manifest("web", arn, staticSource("10.0.1.1")));
  sync(key);
  h.apply(manifest("web", other, staticSource("10.0.1.1")));
  sync(key);
  EXPECT_EQ(h.owner(arn), std::nullopt);
  EXPECT_EQ(h.owner(other), "endpoint-binder/ns/web");
  EXPECT_EQ(h.registered(other), (std::set<std::string>{"10.0.1.1:443"}));
}

// ---- 3. the claim is re-read before writes
// -------------------------------------------------------

TEST_F(ReconcilerTest, RetaggedGroupIsNotWritten) {
  // Old: ownership was checked once per spec generation; a group re-tagged afterwards was
  // still written.
  const auto key = h.apply(manifest("web", arn, staticSource("10.0.1.1")));
  sync(key);
  h.tag(arn, kOwnerTagKey, "someone-else/x/y");
  h.apply(manifest("web", arn, staticSource("10.0.1.1, 10.0.1.2")));
  sync(key);
  EXPECT_FALSE(h.registered(arn).contains("10.0.1.2:443"));
  EXPECT_EQ(h.condition(key, "Conflict"), "True OwnedByOther");
  EXPECT_EQ(h.owner(arn), "someone-else/x/y");
}

// ---- 4. an answer of disallowed addresses is a failing source -----------------------------------

TEST_F(ReconcilerTest, AnswerOfOnlyDisallowedAddressesFreezesDeregistration) {
  // Old: every old target counted as absent and was removed down to minTargets.
  h.source.answer("app.local", {"10.0.1.1", "10.0.1.2", "10.0.1.3"}, h.clock.now());
  const auto key = h.apply(
      manifest("web", arn, dnsSource("app.local"), "deregistrationGracePeriod: 1m, minTargets: 1"));
  sync(key);
  h.source.answer("app.local", {"8.8.8.8", "1.1.1.1"}, h.clock.now());
  h.clock.advance(minutes(10));
  sync(key);
  EXPECT_EQ(h.registered(arn).size(), 3u);
  EXPECT_EQ(h.condition(key, "SourceResolved"), "False NoAllowedAddresses");
  EXPECT_TRUE(h.api->writesOf("DeregisterTargets").empty());
  EXPECT_EQ(h.held(key, "NotAllowed").size(), 2u);
}

// ---- 5. refused targets are held; the rest goes ahead ------------------------------------------

TEST_F(ReconcilerTest, RefusedTargetIsHeldAndTheRestIsWritten) {
  // Old: the whole RegisterTargets failed, the reconcile failed before deregistering anything,
  // and retried forever.
  h.source.answer("app.local", {"10.0.1.1", "10.0.1.9"}, h.clock.now());
  const auto key = h.apply(manifest("web", arn, dnsSource("app.local"),
                                    "deregistrationGracePeriod: 1m, "
                                    "requireHealthyReplacements: false"));
  sync(key);
  // 192.168.50.1 is outside the VPC: AWS needs an availabilityZone for it.
  h.source.answer("app.local", {"10.0.1.1", "10.0.1.5", "192.168.50.1"}, h.clock.now());
  h.clock.advance(minutes(2));
  auto r = h.reconcile(key);
  ASSERT_TRUE(r.has_value()) << r.error().toString();
  EXPECT_EQ(h.registered(arn), (std::set<std::string>{"10.0.1.1:443", "10.0.1.5:443"}));
  EXPECT_EQ(h.held(key, "RejectedByAWS"), std::vector<std::string>{"192.168.50.1:443"});
  EXPECT_TRUE(h.hasEvent(key, "Blocked"));
  // Held, not retried on every sync.
  const auto calls = h.api->writesOf("RegisterTargets").size();
  sync(key);
  EXPECT_EQ(h.api->writesOf("RegisterTargets").size(), calls);
}

TEST_F(ReconcilerTest, AddressOfTheOtherFamilyIsHeldWithoutCallingAws) {
  h.source.answer("app.local", {"10.0.1.1", "fd00::1"}, h.clock.now());
  const auto key = h.apply(manifest("web", arn, dnsSource("app.local"),
                                    "allowedCIDRs: [10.0.0.0/8, \"fd00::/8\"]", "ns", ""));
  sync(key);
  EXPECT_EQ(h.registered(arn), (std::set<std::string>{"10.0.1.1:443"}));
  EXPECT_EQ(h.held(key, "AddressFamily"), std::vector<std::string>{"fd00::1:443"});
  for (const auto& w : h.api->writesOf("RegisterTargets")) {
    for (const auto& k : w.keys) EXPECT_EQ(k.find("fd00"), std::string::npos);
  }
}

// ---- 6. health-aware removal
// ----------------------------------------------------------------------

TEST_F(ReconcilerTest, HealthyTargetsStayWhileReplacementsAreUnhealthy) {
  // Old: after the grace the old healthy targets went although no replacement ever passed its
  // health checks: an outage.
  h.source.answer("app.local", {"10.0.1.1", "10.0.1.2"}, h.clock.now());
  const auto key = h.apply(manifest("web", arn, dnsSource("app.local")));
  sync(key);
  h.setDead({"10.0.2.1", "10.0.2.2"}, true);
  h.source.answer("app.local", {"10.0.2.1", "10.0.2.2"}, h.clock.now());
  sync(key);
  h.clock.advance(minutes(5));
  sync(key);
  EXPECT_TRUE(h.registered(arn).contains("10.0.1.1:443"));
  EXPECT_TRUE(h.registered(arn).contains("10.0.1.2:443"));
  EXPECT_EQ(h.held(key, "ReplacementsNotReady").size(), 2u);
  h.setDead({"10.0.2.1", "10.0.2.2"}, false);
  h.clock.advance(seconds(10));
  sync(key);
  EXPECT_EQ(h.registered(arn), (std::set<std::string>{"10.0.2.1:443", "10.0.2.2:443"}));
}

TEST_F(ReconcilerTest, ReplacementWaitCanBeTurnedOff) {
  h.source.answer("app.local", {"10.0.1.1"}, h.clock.now());
  const auto key = h.apply(manifest("web", arn, dnsSource("app.local"),
                                    "deregistrationGracePeriod: 3m, "
                                    "requireHealthyReplacements: false, minTargets: 0"));
  sync(key);
  h.setDead({"10.0.2.1"}, true);
  h.source.answer("app.local", {"10.0.2.1"}, h.clock.now());
  sync(key);
  h.clock.advance(minutes(3));
  sync(key);
  EXPECT_EQ(h.registered(arn), (std::set<std::string>{"10.0.2.1:443"}));
}

TEST_F(ReconcilerTest, MinTargetsCountsServingTargets) {
  // Old: minTargets counted registered targets, so two healthy leavers went next to two
  // unhealthy stayers, leaving nothing that serves.
  h.source.answer("app.local", {"10.0.1.1", "10.0.1.2", "10.0.2.1", "10.0.2.2"}, h.clock.now());
  const auto key = h.apply(manifest("web", arn, dnsSource("app.local"),
                                    "deregistrationGracePeriod: 1m, minTargets: 2, "
                                    "maxDeregistrationsPerSync: 100%, "
                                    "requireHealthyReplacements: false"));
  sync(key);
  h.setDead({"10.0.2.1", "10.0.2.2"}, true);
  h.source.answer("app.local", {"10.0.2.1", "10.0.2.2"}, h.clock.now());
  h.clock.advance(minutes(2));
  sync(key);
  EXPECT_EQ(h.registered(arn).size(), 4u);
  EXPECT_EQ(h.held(key, "MinTargets").size(), 2u);
}

TEST_F(ReconcilerTest, MaxDeregistrationsPerSyncIsARate) {
  // Old: a capped plan requeued after 1 s and took the cap again, of the shrinking set.
  h.source.answer("app.local", {"10.0.1.1", "10.0.1.2", "10.0.1.3", "10.0.1.4", "10.0.1.5"},
                  h.clock.now());
  const auto key = h.apply(manifest("web", arn, dnsSource("app.local"),
                                    "deregistrationGracePeriod: 1m, minTargets: 1, "
                                    "maxDeregistrationsPerSync: 2"));
  sync(key);
  h.source.answer("app.local", {"10.0.1.1"}, h.clock.now());
  h.clock.advance(minutes(1));
  auto r = sync(key);
  EXPECT_EQ(h.registered(arn).size(), 3u);
  ASSERT_TRUE(r.requeueAfter.has_value());
  EXPECT_GT(*r.requeueAfter, seconds(1)) << "no 1 s batch loop";
  h.clock.advance(seconds(1));
  sync(key);
  EXPECT_EQ(h.registered(arn).size(), 3u);
  h.clock.advance(minutes(1));
  sync(key);
  EXPECT_EQ(h.registered(arn).size(), 1u);
}

// ---- 7. deletion
// ---------------------------------------------------------------------------------

TEST_F(ReconcilerTest, DeregisterPolicyRemovesOnlyWhatItsSourceListedAtTheCappedRate) {
  // Old: every registered target went in one call, including ones others registered.
  h.registerByHand(arn, {"10.0.9.9"});
  const auto key = h.apply(manifest("web", arn, staticSource("10.0.1.1, 10.0.1.2, 10.0.1.3"),
                                    "deletionPolicy: Deregister, maxDeregistrationsPerSync: 2"));
  sync(key);
  h.remove(key);
  auto r = sync(key);
  EXPECT_EQ(h.registered(arn).size(), 2u) << "two of ours in the first window";
  ASSERT_TRUE(r.requeueAfter.has_value());
  EXPECT_TRUE(h.source.tracked.contains(key)) << "still deleting: still tracked";
  h.clock.advance(minutes(1));
  sync(key);
  EXPECT_EQ(h.registered(arn), (std::set<std::string>{"10.0.9.9:443"}));
  EXPECT_EQ(h.owner(arn), std::nullopt);
  EXPECT_FALSE(h.source.tracked.contains(key));
}

TEST_F(ReconcilerTest, ManifestBackDuringDeletionKeepsTheBinding) {
  const auto key = h.apply(manifest("web", arn, staticSource("10.0.1.1, 10.0.1.2, 10.0.1.3"),
                                    "deletionPolicy: Deregister, maxDeregistrationsPerSync: 1"));
  sync(key);
  h.remove(key);
  sync(key);
  h.apply(manifest("web", arn, staticSource("10.0.1.1, 10.0.1.2, 10.0.1.3"),
                   "deletionPolicy: Deregister, maxDeregistrationsPerSync: 1"));
  sync(key);
  EXPECT_EQ(h.registered(arn).size(), 3u) << "re-registered the one removed";
  EXPECT_TRUE(h.source.tracked.contains(key));
  EXPECT_TRUE(h.status(key).has_value());
  EXPECT_EQ(h.owner(arn), "endpoint-binder/ns/web");
}

// ---- restarts
// ------------------------------------------------------------------------------------

TEST_F(ReconcilerTest, RestartStartsGraceAfreshAndAdoptsItsOwnClaim) {
  const auto key = h.apply(manifest("web", arn, staticSource("10.0.1.1, 10.0.1.2")));
  sync(key);
  h.restart();
  h.clock.advance(hours(1));
  h.apply(manifest("web", arn, staticSource("10.0.1.1")));
  sync(key);
  EXPECT_TRUE(h.registered(arn).contains("10.0.1.2:443"));
  EXPECT_EQ(h.condition(key, "Conflict"), "False Owned");
}

}  // namespace
}  // namespace endpointbinder::runtime
