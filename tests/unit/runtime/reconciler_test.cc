// Reconciler tests: the real reconciler against the local AWS emulator over HTTP (SigV4, AWS's
// target rules, tags, health) with a ManualClock deciding every grace period. One case per way
// the traffic path broke before (issue 10); each states how the old reconciler failed it.
#include "controller/runtime/reconciler.h"

#include <gmock/gmock.h>
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

TEST_F(ReconcilerTest, RenameWaitsForTheOldNamesConfirmedDeletionThenAdoptsWithoutAnOutage) {
  // The manifest store keeps a binding missing from one clean read until a second confirms
  // it. Old: the replacement adopted the group while the old name was only missing from one
  // read -- which a half-written file also produces -- so a duplicate could take a live
  // binding's group. Now it waits in Conflict (looking again soon); the confirmed deletion of
  // the old name (deletionPolicy Deregister) hands the group over untouched and wakes it.
  const auto old = h.apply(
      manifest("web", arn, staticSource("10.0.1.1, 10.0.1.2"), "deletionPolicy: Deregister"));
  sync(old);
  h.markPendingDeletion(old);
  const auto renamed = h.apply(
      manifest("web-v2", arn, staticSource("10.0.1.1, 10.0.1.2"), "deletionPolicy: Deregister"));
  auto waiting = sync(renamed);
  EXPECT_EQ(h.condition(renamed, "Conflict"), "True ClaimedByBinding");
  EXPECT_FALSE(h.hasEvent(renamed, "Adopted"));
  ASSERT_TRUE(waiting.requeueAfter.has_value()) << "the holder is going: look again soon";
  EXPECT_EQ(h.owner(arn), "endpoint-binder/ns/web");
  sync(old);  // still pending: reconciled as before, still the owner
  h.remove(old);
  auto deleted = sync(old);  // confirmed deleted
  EXPECT_EQ(deleted.wake, std::vector<std::string>{renamed});
  EXPECT_EQ(h.registered(arn), (std::set<std::string>{"10.0.1.1:443", "10.0.1.2:443"}));
  EXPECT_TRUE(h.api->writesOf("DeregisterTargets").empty());
  EXPECT_TRUE(h.api->writesOf("RemoveTags").empty()) << "the claim is left for the successor";
  sync(renamed);
  EXPECT_TRUE(h.hasEvent(renamed, "Adopted"));
  EXPECT_EQ(h.condition(renamed, "Conflict"), "False Owned");
  EXPECT_EQ(h.owner(arn), "endpoint-binder/ns/web-v2");
  EXPECT_EQ(h.registered(arn), (std::set<std::string>{"10.0.1.1:443", "10.0.1.2:443"}));
}

TEST_F(ReconcilerTest, MoveBetweenFilesNeverDeregistersWhileTheNewNameWaits) {
  // A move between files: the new file lands first (both names live: the new one is a
  // Conflict), then the old file drops the binding and its deletion is confirmed. Old: that
  // deletion (deletionPolicy Deregister) removed every target before the new name adopted.
  const auto old = h.apply(
      manifest("web", arn, staticSource("10.0.1.1, 10.0.1.2"), "deletionPolicy: Deregister"));
  sync(old);
  const auto moved = h.apply(manifest("web", arn, staticSource("10.0.1.1, 10.0.1.2"),
                                      "deletionPolicy: Deregister", "moved"));
  auto conflict = sync(moved);
  EXPECT_EQ(h.condition(moved, "Conflict"), "True ClaimedByBinding");
  EXPECT_FALSE(conflict.requeueAfter.has_value())
      << "a live holder changes only by an edit: no 10 s polling";
  h.remove(old);
  auto deleted = sync(old);
  EXPECT_EQ(h.registered(arn), (std::set<std::string>{"10.0.1.1:443", "10.0.1.2:443"}));
  EXPECT_TRUE(h.api->writesOf("DeregisterTargets").empty());
  EXPECT_EQ(deleted.wake, std::vector<std::string>{moved});
  sync(moved);
  EXPECT_EQ(h.owner(arn), "endpoint-binder/moved/web");
  EXPECT_TRUE(h.hasEvent(moved, "Adopted"));
  EXPECT_EQ(h.registered(arn), (std::set<std::string>{"10.0.1.1:443", "10.0.1.2:443"}));
}

TEST_F(ReconcilerTest, BindingInConflictLeavesTheOwnersGraceAlone) {
  // Old: a binding in Conflict recorded its own listing into the group's memory, marking the
  // owner's targets absent from then; after a quiet spell the owner's DNS dropped one and it
  // was deregistered at once, as if it had been gone since the Conflict's reconcile.
  h.source.answer("app.local", {"10.0.1.1", "10.0.1.2"}, h.clock.now());
  const auto owner = h.apply(manifest("web", arn, dnsSource("app.local")));
  sync(owner);
  h.clock.advance(hours(1));
  const auto other = h.apply(manifest("intruder", arn, staticSource("10.0.9.9")));
  sync(other);
  sync(other);
  ASSERT_EQ(h.condition(other, "Conflict"), "True ClaimedByBinding");
  h.clock.advance(minutes(10));
  h.source.answer("app.local", {"10.0.1.1"}, h.clock.now());
  sync(owner);
  EXPECT_TRUE(h.registered(arn).contains("10.0.1.2:443")) << "deregistered without grace";
  EXPECT_EQ(h.held(owner, "WithinGracePeriod"), std::vector<std::string>{"10.0.1.2:443"});
  h.clock.advance(minutes(3));
  sync(owner);
  EXPECT_FALSE(h.registered(arn).contains("10.0.1.2:443"));
}

// The resync skips a binding whose group it read within half a round (resync_pacer.h). Found
// by review: counting any read of the group (the observed cache's) let the owner's reads stand
// in for the round re-check of a binding in Conflict, which never reads the group itself and
// looks at the owner tag again only when the round comes.
TEST_F(ReconcilerTest, OnlyABindingsOwnAwsReadsOfItsGroupCountForTheResync) {
  const auto owner = h.apply(manifest("a", arn, staticSource("10.0.1.1")));
  const auto other = h.apply(manifest("b", arn, staticSource("10.0.1.2")));
  EXPECT_FALSE(h.reconciler().groupReadAt(owner, arn).has_value());
  sync(owner);
  ASSERT_TRUE(h.reconciler().groupReadAt(owner, arn).has_value());
  sync(other);
  ASSERT_EQ(h.condition(other, "Conflict"), "True ClaimedByBinding");
  EXPECT_FALSE(h.reconciler().groupReadAt(other, arn).has_value()) << "the owner's read counted";

  // Read from AWS: the re-check after the registration is due (and sync(other) expired it).
  h.clock.advance(seconds(30));
  ASSERT_TRUE(h.reconcile(owner).has_value());
  EXPECT_EQ(h.reconciler().groupReadAt(owner, arn), h.clock.now());
  const auto reCheck = h.clock.now();
  h.clock.advance(seconds(30));  // answered from the cache: not a read
  ASSERT_TRUE(h.reconcile(owner).has_value());
  EXPECT_EQ(h.reconciler().groupReadAt(owner, arn), reCheck);

  const auto second = h.createGroup("second");
  h.apply(manifest("a", second, staticSource("10.0.1.1")));
  EXPECT_FALSE(h.reconciler().groupReadAt(owner, second).has_value()) << "another group's read";
  sync(owner);
  EXPECT_TRUE(h.reconciler().groupReadAt(owner, second).has_value());
  EXPECT_FALSE(h.reconciler().groupReadAt(owner, arn).has_value());

  h.remove(owner);
  sync(owner);
  EXPECT_FALSE(h.reconciler().groupReadAt(owner, second).has_value()) << "kept after deletion";
}

TEST_F(ReconcilerTest, TwoLiveBindingsOfOneGroupConflictUntilOneGoes) {
  const auto first = h.apply(manifest("a", arn, staticSource("10.0.1.1")));
  const auto second = h.apply(manifest("b", arn, staticSource("10.0.1.2")));
  sync(first);
  auto r = sync(second);
  EXPECT_EQ(h.condition(second, "Conflict"), "True ClaimedByBinding");
  EXPECT_FALSE(r.requeueAfter.has_value()) << "woken by the holder's deletion, not polling";
  EXPECT_FALSE(h.registered(arn).contains("10.0.1.2:443"));
  const auto eventsBefore = h.status(second)->events.size();
  sync(second);
  EXPECT_EQ(h.status(second)->events.size(), eventsBefore) << "one Conflict event, counted";
  h.remove(first);
  auto deleted = sync(first);  // hands the group over: the claim stays for b to adopt
  EXPECT_EQ(deleted.wake, std::vector<std::string>{second});
  EXPECT_EQ(h.registered(arn), (std::set<std::string>{"10.0.1.1:443"}));
  sync(second);
  EXPECT_EQ(h.owner(arn), "endpoint-binder/ns/b");
  EXPECT_TRUE(h.hasEvent(second, "Adopted"));
  EXPECT_TRUE(h.registered(arn).contains("10.0.1.2:443"));
}

TEST_F(ReconcilerTest, AfterARestartAnUnknownHolderIsAdoptedOnlyOnceTheManifestsSettle) {
  // A process that starts while the holder's file is half written has never seen the holder.
  // Old: the binding naming the group adopted it at once; when the file was whole again the
  // holder was the one in Conflict, and the adopter's plan drained its targets.
  const auto holder = h.apply(manifest("a", arn, staticSource("10.0.1.1")));
  sync(holder);
  h.restart();
  h.manifestsSettled = false;
  h.remove(holder);  // the first read missed it
  const auto other = h.apply(manifest("b", arn, staticSource("10.0.1.2")));
  auto waiting = sync(other);
  EXPECT_EQ(h.condition(other, "Conflict"), "True ClaimedByBinding");
  EXPECT_TRUE(waiting.requeueAfter.has_value());
  EXPECT_EQ(h.owner(arn), "endpoint-binder/ns/a");
  h.manifestsSettled = true;  // a settled read still lacks it: gone for certain
  sync(other);
  EXPECT_EQ(h.owner(arn), "endpoint-binder/ns/b");
  EXPECT_TRUE(h.hasEvent(other, "Adopted"));
}

TEST_F(ReconcilerTest, AHolderRetargetedWhileNoControllerRanIsAdoptedFrom) {
  // Old: its release never happened (no process saw the edit), so the tag named a live
  // binding for ever and the binding naming the group now was a Conflict for ever.
  const auto other = h.createGroup("other");
  const auto holder = h.apply(manifest("a", arn, staticSource("10.0.1.1")));
  sync(holder);
  h.restart();
  h.apply(manifest("a", other, staticSource("10.0.1.1")));
  const auto next = h.apply(manifest("b", arn, staticSource("10.0.1.1")));
  sync(next);
  EXPECT_EQ(h.owner(arn), "endpoint-binder/ns/b");
  EXPECT_TRUE(h.hasEvent(next, "Adopted"));
}

TEST_F(ReconcilerTest, RetargetingWakesTheBindingWaitingForTheOldGroup) {
  const auto other = h.createGroup("other");
  const auto holder = h.apply(manifest("a", arn, staticSource("10.0.1.1")));
  sync(holder);
  const auto waiting = h.apply(manifest("b", arn, staticSource("10.0.1.1")));
  sync(waiting);
  ASSERT_EQ(h.condition(waiting, "Conflict"), "True ClaimedByBinding");
  h.apply(manifest("a", other, staticSource("10.0.1.1")));
  auto moved = sync(holder);
  EXPECT_EQ(moved.wake, std::vector<std::string>{waiting});
  sync(waiting);
  EXPECT_EQ(h.owner(arn), "endpoint-binder/ns/b");
}

TEST_F(ReconcilerTest, ACleanSyncAddsNoBlockedEvent) {
  const auto key = h.apply(manifest("web", arn, staticSource("10.0.1.1")));
  sync(key);
  sync(key);
  EXPECT_FALSE(h.hasEvent(key, "Blocked"));
  EXPECT_EQ(h.condition(key, "Synced"), "True Synced");
}

// The status serves the spec being reconciled, shared with the reconciler rather than kept as
// text: the new one after an edit, and the last one while a deletion is under way.
TEST_F(ReconcilerTest, TheStatusServesTheSpecBeingReconciled) {
  const auto key = h.apply(manifest("web", arn, staticSource("10.0.1.1")));
  sync(key);
  ASSERT_TRUE(h.status(key).has_value());
  EXPECT_THAT(h.status(key)->specText(), ::testing::HasSubstr("10.0.1.1"));
  EXPECT_TRUE(h.status(key)->specJson.empty()) << "rendered on request, not kept as text";
  h.apply(manifest("web", arn, staticSource("10.0.1.2")));
  sync(key);
  EXPECT_THAT(h.status(key)->specText(), ::testing::HasSubstr("10.0.1.2"));
  EXPECT_THAT(h.status(key)->specText(), ::testing::Not(::testing::HasSubstr("10.0.1.1")));
  // Deleted, with the group unreadable: the deletion cannot finish, and the status still
  // shows the last spec.
  h.remove(key);
  h.api->failNext = {"DescribeTags", "RemoveTags"};
  ASSERT_FALSE(h.reconcile(key).has_value());
  ASSERT_TRUE(h.status(key).has_value());
  EXPECT_THAT(h.status(key)->specText(), ::testing::HasSubstr("10.0.1.2"));
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

TEST_F(ReconcilerTest, AConflictIsNotCountedAsAbsenceWhenTheGroupComesBack) {
  // Old (found by the property test): while someone else's tag stood, the binding's listings
  // were not recorded, so when the tag went and the binding claimed the group back, a target
  // its spec had listed again until a moment before looked absent since before the Conflict
  // and was deregistered at once.
  const auto key = h.apply(manifest("web", arn, staticSource("10.0.1.1, 10.0.1.2")));
  sync(key);
  h.tag(arn, kOwnerTagKey, "someone-else/x/y");
  // 10.0.1.2 dropped (its absence recorded now); registering 10.0.1.3 finds the tag.
  h.apply(manifest("web", arn, staticSource("10.0.1.1, 10.0.1.3")));
  sync(key);
  ASSERT_EQ(h.condition(key, "Conflict"), "True OwnedByOther");
  h.apply(manifest("web", arn, staticSource("10.0.1.1, 10.0.1.2, 10.0.1.3")));  // back
  for (int i = 0; i < 4; ++i) {
    h.clock.advance(minutes(3));
    sync(key);
    ASSERT_EQ(h.condition(key, "Conflict"), "True OwnedByOther");
  }
  h.apply(manifest("web", arn, staticSource("10.0.1.1, 10.0.1.3")));  // 10.0.1.2 listed until now
  h.untag(arn, kOwnerTagKey);
  sync(key);
  EXPECT_EQ(h.owner(arn), "endpoint-binder/ns/web");
  EXPECT_TRUE(h.registered(arn).contains("10.0.1.2:443")) << "deregistered without grace";
  EXPECT_EQ(h.held(key, "WithinGracePeriod"), std::vector<std::string>{"10.0.1.2:443"});
  h.clock.advance(minutes(3));
  sync(key);
  EXPECT_EQ(h.registered(arn), (std::set<std::string>{"10.0.1.1:443", "10.0.1.3:443"}));
}

TEST_F(ReconcilerTest, AClaimIsReadBackOnceJustBeforeTheFirstWrites) {
  // Old: the claim read, its read-back right after tagging, and the owner re-read before
  // writing: at 5,000 bindings and AWS's 10/s the third DescribeTags made the cold start 20 %
  // longer. The read-back now happens just before the writes and is that re-read.
  const auto key = h.apply(manifest("web", arn, staticSource("10.0.1.1")));
  sync(key);
  EXPECT_EQ(h.registered(arn), std::set<std::string>{"10.0.1.1:443"});
  EXPECT_EQ(h.owner(arn), "endpoint-binder/ns/web");
  EXPECT_TRUE(h.hasEvent(key, "Claimed"));
  EXPECT_EQ(h.condition(key, "Conflict"), "False Owned");
  EXPECT_EQ(h.api->calls["DescribeTags"], 2);  // is it claimed? then, before writing: ours?
  EXPECT_EQ(h.api->calls["AddTags"], 1);
  // A later batch of writes reads the tag again first.
  h.apply(manifest("web", arn, staticSource("10.0.1.1, 10.0.1.2")));
  sync(key);
  EXPECT_EQ(h.api->calls["DescribeTags"], 3);
  EXPECT_TRUE(h.registered(arn).contains("10.0.1.2:443"));
}

TEST_F(ReconcilerTest, AClaimWithNothingToWriteIsStillReadBack) {
  const auto key = h.apply(manifest("web", arn, staticSource("10.0.1.1")));
  h.registerByHand(arn, {"10.0.1.1"});
  sync(key);
  EXPECT_TRUE(h.api->writesOf("RegisterTargets").empty());
  EXPECT_EQ(h.api->calls["DescribeTags"], 2);
  EXPECT_TRUE(h.hasEvent(key, "Claimed"));
  EXPECT_EQ(h.condition(key, "Conflict"), "False Owned");
}

TEST_F(ReconcilerTest, AnotherClaimLandingBeforeOurReadBackIsNeverWrittenInto) {
  // Found by review of the first version, which took a read-back made right after tagging as
  // the check before writing: two controllers tag a new group at once; the other's tag lands
  // after our read-back, while we read the group's targets, and both wrote.
  const auto key = h.apply(manifest("web", arn, staticSource("10.0.1.1")));
  h.api->beforeCall = [&](const std::string& action) {
    if (action == "DescribeTargetHealth" && h.owner(arn) == "endpoint-binder/ns/web") {
      h.tag(arn, kOwnerTagKey, "other-controller/ns/web");
    }
  };
  sync(key);
  h.api->beforeCall = nullptr;
  EXPECT_TRUE(h.registered(arn).empty()) << "registered into a group another controller claimed";
  EXPECT_EQ(h.condition(key, "Conflict"), "True OwnedByOther");
  EXPECT_FALSE(h.hasEvent(key, "Claimed"));
  EXPECT_EQ(h.owner(arn), "other-controller/ns/web");
}

// A claim is tagged in step 3 and read back in step 7; an AWS error between them (here the
// group's read) leaves the tag with the claim unconfirmed. Found by review: the tag then stayed
// for good on a group the binding was deleted or retargeted from, and the claim's event was
// never said.
TEST_F(ReconcilerTest, DeletionWhileAClaimIsUnconfirmedTakesItsTagOff) {
  const auto key = h.apply(manifest("web", arn, staticSource("10.0.1.1")));
  h.api->failNext.insert("DescribeTargetHealth");
  h.expireAll();
  ASSERT_FALSE(h.reconcile(key).has_value());
  ASSERT_EQ(h.owner(arn), "endpoint-binder/ns/web");
  h.remove(key);
  sync(key);
  EXPECT_EQ(h.owner(arn), std::nullopt) << "the tag of an unconfirmed claim left behind";
  EXPECT_TRUE(h.registered(arn).empty());
}

TEST_F(ReconcilerTest, RetargetWhileAClaimIsUnconfirmedTakesItsTagOff) {
  const auto key = h.apply(manifest("web", arn, staticSource("10.0.1.1")));
  h.api->failNext.insert("DescribeTargetHealth");
  h.expireAll();
  ASSERT_FALSE(h.reconcile(key).has_value());
  ASSERT_EQ(h.owner(arn), "endpoint-binder/ns/web");
  const auto other = h.createGroup("web2");
  h.apply(manifest("web", other, staticSource("10.0.1.1")));
  sync(key);
  EXPECT_EQ(h.owner(other), "endpoint-binder/ns/web");
  EXPECT_EQ(h.owner(arn), std::nullopt) << "the old group keeps a claim nobody holds";
}

TEST_F(ReconcilerTest, AClaimConfirmedByTheNextReconcileStillSaysClaimed) {
  const auto key = h.apply(manifest("web", arn, staticSource("10.0.1.1")));
  h.api->failNext.insert("DescribeTargetHealth");
  h.expireAll();
  ASSERT_FALSE(h.reconcile(key).has_value());
  EXPECT_FALSE(h.hasEvent(key, "Claimed"));
  sync(key);
  EXPECT_EQ(h.registered(arn), std::set<std::string>{"10.0.1.1:443"});
  EXPECT_TRUE(h.hasEvent(key, "Claimed"));
  EXPECT_EQ(h.condition(key, "Conflict"), "False Owned");
}

TEST_F(ReconcilerTest, AfterARestartTheClaimFoundOnTheFirstLookIsTheOwnerCheck) {
  const auto key = h.apply(manifest("web", arn, staticSource("10.0.1.1")));
  sync(key);
  h.restart();
  h.api->calls.clear();
  h.apply(manifest("web", arn, staticSource("10.0.1.1, 10.0.1.2")));
  sync(key);
  EXPECT_EQ(h.api->calls["DescribeTags"], 1);  // old: 2
  EXPECT_TRUE(h.registered(arn).contains("10.0.1.2:443"));
}

TEST_F(ReconcilerTest, AClaimFoundBeforeASlowReadIsReadAgainBeforeWriting) {
  // The group's read took longer than a first look counts for (a throttled, retried
  // DescribeTargetHealth), and meanwhile someone re-tagged the group: nothing is written.
  const auto key = h.apply(manifest("web", arn, staticSource("10.0.1.1")));
  sync(key);
  h.restart();
  h.apply(manifest("web", arn, staticSource("10.0.1.1, 10.0.1.2")));
  h.api->beforeCall = [&](const std::string& action) {
    if (action != "DescribeTargetHealth" || h.owner(arn) != "endpoint-binder/ns/web") return;
    h.clock.advance(seconds(6));
    h.tag(arn, kOwnerTagKey, "someone-else/x/y");
  };
  h.expireAll();
  ASSERT_TRUE(h.reconcile(key).has_value());
  h.api->beforeCall = nullptr;
  EXPECT_FALSE(h.registered(arn).contains("10.0.1.2:443")) << "written after the claim changed";
  EXPECT_EQ(h.condition(key, "Conflict"), "True OwnedByOther");
  EXPECT_EQ(h.owner(arn), "someone-else/x/y");
}

TEST_F(ReconcilerTest, DeregistrationsAfterSlowRegistrationsWaitForAFreshLookAtTheTag) {
  // Found by review: the owner check before the writes covered the registrations; a refusal
  // search or throttling can make them take long enough for the tag to change before the
  // deregistrations, the writes that take serving targets out.
  const std::string policy = "deregistrationGracePeriod: 3m, requireHealthyReplacements: false";
  const auto key = h.apply(manifest("web", arn, staticSource("10.0.1.1, 10.0.1.2"), policy));
  sync(key);
  h.apply(manifest("web", arn, staticSource("10.0.1.1"), policy));
  sync(key);
  h.clock.advance(minutes(3));  // 10.0.1.2's grace is over
  h.apply(manifest("web", arn, staticSource("10.0.1.1, 10.0.1.3"), policy));
  h.api->beforeCall = [&](const std::string& action) {
    if (action != "RegisterTargets") return;
    h.clock.advance(seconds(6));
    h.tag(arn, kOwnerTagKey, "someone-else/x/y");
  };
  h.expireAll();
  auto r = h.reconcile(key);
  h.api->beforeCall = nullptr;
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, "OwnerTagChanged");
  EXPECT_TRUE(h.registered(arn).contains("10.0.1.3:443"));
  EXPECT_TRUE(h.registered(arn).contains("10.0.1.2:443")) << "deregistered after the tag changed";
  EXPECT_TRUE(h.api->writesOf("DeregisterTargets").empty());
  // Reported as the Conflict it is, and the next reconcile (nothing to write) knows it too.
  EXPECT_EQ(h.condition(key, "Conflict"), "True OwnedByOther");
  h.apply(manifest("web", arn, staticSource("10.0.1.1, 10.0.1.2, 10.0.1.3"), policy));
  sync(key);
  EXPECT_EQ(h.condition(key, "Conflict"), "True OwnedByOther");
  EXPECT_NE(h.condition(key, "Synced"), "True Synced");
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

TEST_F(ReconcilerTest, AnswerOfOnlyTheOtherFamilyFreezesDeregistration) {
  // Old: an AAAA-only answer for an ipv4 group held the IPv6 addresses, counted every old
  // target absent and drained the group down to minTargets after the grace.
  h.source.answer("app.local", {"10.0.1.1", "10.0.1.2", "10.0.1.3"}, h.clock.now());
  const auto key = h.apply(manifest("web", arn, dnsSource("app.local"),
                                    "deregistrationGracePeriod: 1m, allowedCIDRs: [10.0.0.0/8, "
                                    "\"fd00::/8\"], requireHealthyReplacements: false, "
                                    "maxDeregistrationsPerSync: 100%"));
  sync(key);
  h.source.answer("app.local", {"fd00::1", "fd00::2"}, h.clock.now());
  h.clock.advance(minutes(10));
  sync(key);
  EXPECT_EQ(h.registered(arn).size(), 3u);
  EXPECT_EQ(h.condition(key, "SourceResolved"), "False NoAllowedAddresses");
  EXPECT_TRUE(h.api->writesOf("DeregisterTargets").empty());
  // Back to a usable answer: the departures count from then, not from the bad answer.
  h.source.answer("app.local", {"10.0.1.1"}, h.clock.now());
  sync(key);
  EXPECT_EQ(h.registered(arn).size(), 3u);
  h.clock.advance(minutes(1));
  sync(key);
  EXPECT_EQ(h.registered(arn), (std::set<std::string>{"10.0.1.1:443"}));
}

TEST_F(ReconcilerTest, AnswerOfOnlyRefusedAddressesNeverDrainsTheGroup) {
  // Old: the refused registration was held, the deregistrations went ahead, and the group
  // lost every target the source had stood for (requireHealthyReplacements off).
  h.source.answer("app.local", {"10.0.1.1", "10.0.1.2"}, h.clock.now());
  const auto key = h.apply(manifest("web", arn, dnsSource("app.local"),
                                    "deregistrationGracePeriod: 1m, minTargets: 0, "
                                    "requireHealthyReplacements: false"));
  sync(key);
  // 192.168.50.1 is outside the VPC: AWS refuses it without an availabilityZone.
  h.source.answer("app.local", {"192.168.50.1"}, h.clock.now());
  h.clock.advance(minutes(2));
  sync(key);
  EXPECT_EQ(h.registered(arn), (std::set<std::string>{"10.0.1.1:443", "10.0.1.2:443"}));
  EXPECT_EQ(h.condition(key, "Synced"), "False RejectedByAWS");
  h.clock.advance(minutes(2));
  sync(key);
  EXPECT_EQ(h.registered(arn), (std::set<std::string>{"10.0.1.1:443", "10.0.1.2:443"}));
  EXPECT_EQ(h.condition(key, "SourceResolved"), "False NoAllowedAddresses");
  EXPECT_TRUE(h.api->writesOf("DeregisterTargets").empty());
}

TEST_F(ReconcilerTest, ManyRefusedAddressesNeverDrainTheGroupEvenPastTheCallBudget) {
  // Finding the refused targets costs calls; past the budget the rest is deferred. Old: the
  // hold applied only when nothing was deferred, so the old targets went anyway.
  h.source.answer("app.local", {"10.0.1.1", "10.0.1.2"}, h.clock.now());
  const auto key = h.apply(manifest("web", arn, dnsSource("app.local"),
                                    "deregistrationGracePeriod: 1m, minTargets: 0, "
                                    "requireHealthyReplacements: false"));
  sync(key);
  std::vector<std::string> outside;
  for (int i = 1; i <= 60; ++i) outside.push_back("192.168.50." + std::to_string(i));
  h.source.answer("app.local", outside, h.clock.now());
  h.clock.advance(minutes(2));
  sync(key);
  EXPECT_EQ(h.registered(arn), (std::set<std::string>{"10.0.1.1:443", "10.0.1.2:443"}));
  EXPECT_TRUE(h.api->writesOf("DeregisterTargets").empty());
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

// Issue 15: the re-read some seconds after a write only lets status catch up, so it comes
// back as a re-check (queued like a resync, behind events and within the resync budget);
// while replacements wait for health, the re-read is what the hold waits for: a timer.
TEST_F(ReconcilerTest, TheReReadAfterAWriteIsARecheckUnlessAHoldWaitsForIt) {
  h.source.answer("app.local", {"10.0.1.1", "10.0.1.2"}, h.clock.now());
  const auto key = h.apply(manifest("web", arn, dnsSource("app.local")));
  auto r = sync(key);
  ASSERT_EQ(h.registered(arn).size(), 2u);
  ASSERT_TRUE(r.recheckAfter.has_value());
  EXPECT_EQ(*r.recheckAfter, seconds(10));
  EXPECT_FALSE(r.requeueAfter.has_value()) << "nothing waits on it: not a timer";

  h.setDead({"10.0.2.1", "10.0.2.2"}, true);
  h.source.answer("app.local", {"10.0.2.1", "10.0.2.2"}, h.clock.now());
  sync(key);  // registers the replacements
  h.clock.advance(minutes(5));
  r = sync(key);
  ASSERT_EQ(h.held(key, "ReplacementsNotReady").size(), 2u);
  ASSERT_TRUE(r.requeueAfter.has_value()) << "the hold waits for the next health read";
  EXPECT_LE(*r.requeueAfter, seconds(10));
  EXPECT_FALSE(r.recheckAfter.has_value());
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

TEST_F(ReconcilerTest, DeregisterPolicyLeavesAnEarlierOwnersTargets) {
  // Old: the deletion removed every target the group's memory had ever listed, including
  // those of an earlier binding that was deleted with deletionPolicy Retain.
  const auto first = h.apply(manifest("first", arn, staticSource("10.0.1.1")));
  sync(first);
  h.remove(first);
  sync(first);  // Retain: 10.0.1.1 stays, the claim is released
  const auto second = h.apply(manifest("second", arn, staticSource("10.0.2.2"),
                                       "deletionPolicy: Deregister, prune: false"));
  sync(second);
  ASSERT_EQ(h.registered(arn), (std::set<std::string>{"10.0.1.1:443", "10.0.2.2:443"}));
  h.remove(second);
  sync(second);
  EXPECT_EQ(h.registered(arn), (std::set<std::string>{"10.0.1.1:443"}));
}

TEST_F(ReconcilerTest, DeletionOfABindingWhoseGroupIsGoneFinishes) {
  // Old: the forced re-read failed with TargetGroupNotFound and the deletion retried for ever.
  const auto key =
      h.apply(manifest("web", arn, staticSource("10.0.1.1"), "deletionPolicy: Deregister"));
  sync(key);
  web::json::value fault = web::json::value::object();
  fault["action"] = web::json::value::string("Describe*");
  fault["errorRate"] = web::json::value::number(1);
  fault["errorStatus"] = web::json::value::number(400);
  fault["errorCode"] = web::json::value::string("TargetGroupNotFound");
  fault["errorMessage"] = web::json::value::string("One or more target groups not found");
  ASSERT_TRUE(h.emulator().addFault(fault).has_value());
  h.remove(key);
  auto r = h.reconcile(key);
  ASSERT_TRUE(r.has_value()) << r.error().toString();
  EXPECT_FALSE(r->requeueAfter.has_value());
  EXPECT_FALSE(h.status(key).has_value()) << "forgotten";
}

TEST_F(ReconcilerTest, ZeroCapDeletionRetainsTargetsAndFinishes) {
  // Old: maxDeregistrationsPerSync 0 held every target and requeued every window for ever.
  const auto key = h.apply(manifest("web", arn, staticSource("10.0.1.1"),
                                    "deletionPolicy: Deregister, maxDeregistrationsPerSync: 0"));
  sync(key);
  h.remove(key);
  auto r = sync(key);
  EXPECT_FALSE(r.requeueAfter.has_value());
  EXPECT_EQ(h.registered(arn), (std::set<std::string>{"10.0.1.1:443"}));
  EXPECT_EQ(h.owner(arn), std::nullopt);
  EXPECT_FALSE(h.status(key).has_value());
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
