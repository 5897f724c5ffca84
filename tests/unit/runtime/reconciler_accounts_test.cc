// Target groups of other accounts (spec.assumeRoleARN): the real reconciler and the real
// AssumeRoleApis against the local AWS emulator (STS AssumeRole, one ELBv2 per account, SigV4),
// with a ManualClock deciding every grace period. Each case says what the code before
// per-binding roles did with it.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <string>
#include <thread>

#include "controller/runtime/reconciler.h"
#include "tests/support/reconciler_harness.h"

namespace endpointbinder::runtime {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;
using testing::ReconcilerHarness;

constexpr const char* kTargetAccount = "222233334444";
constexpr const char* kRole = "arn:aws:iam::222233334444:role/eb-target";
constexpr const char* kHome = ReconcilerHarness::kHomeAccount;
// A deleted binding takes all its targets at once.
constexpr const char* kDeregisterAll =
    "deregistrationGracePeriod: 3m, deletionPolicy: Deregister, maxDeregistrationsPerSync: 100%";

std::string manifest(const std::string& name, const std::string& arn, const std::string& addresses,
                     const std::string& role = "", const std::string& externalId = "",
                     const std::string& policy = "deregistrationGracePeriod: 3m") {
  std::string yaml =
      "apiVersion: endpointbinder.io/v1alpha1\nkind: TargetGroupBinding\nmetadata:\n  name: " +
      name + "\n  namespace: ns\nspec:\n  targetGroupARN: " + arn + "\n  targetType: ip\n";
  if (!role.empty()) yaml += "  assumeRoleARN: " + role + "\n";
  if (!externalId.empty()) yaml += "  externalId: " + externalId + "\n";
  return yaml + "  source:\n    static: {addresses: [" + addresses + "]}\n  policy: {" + policy +
         "}\n";
}

class ReconcilerAccountsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(h.ok()) << h.error();
    h.putRole(kRole, "ext-7f3a");
    remote = h.createGroupIn(kTargetAccount, "shared-web");
  }
  core::Result<ReconcileResult> sync(const std::string& key) {
    h.expireAll();
    return h.reconcile(key);
  }
  void mustSync(const std::string& key) {
    auto r = sync(key);
    ASSERT_TRUE(r.has_value()) << r.error().toString();
  }
  // Short sessions (the emulator refuses them after that), then the trust policy drops
  // the controller and the session runs out: the role is refused from then on, as on AWS.
  void revokeRoleAfterShortSession(const std::string& key) {
    web::json::value settings = web::json::value::object();
    // 5 s: the first reconcile must finish inside the session even on a loaded machine.
    settings["stsDurationSeconds"] = web::json::value::number(5);
    ASSERT_TRUE(h.emulator().control("POST", "settings", settings).has_value());
    mustSync(key);  // a 5 s session
    h.deleteRole(kRole);
    std::this_thread::sleep_for(std::chrono::milliseconds(5600));
  }
  // ELBv2 calls of `action` the emulator saw, by the calling credential's account.
  std::map<std::string, int> callsByAccount(const std::string& action) {
    std::map<std::string, int> out;
    auto log = h.emulator().requests();
    EXPECT_TRUE(log.has_value());
    if (!log) return out;
    for (const auto& entry : log->at("requests").as_array()) {
      if (entry.at("action").as_string() != action) continue;
      const auto& account = entry.at("account");
      out[account.is_string() ? account.as_string() : "-"]++;
    }
    return out;
  }
  ReconcilerHarness h;
  std::string remote;
};

TEST_F(ReconcilerAccountsTest, ABindingWithARoleWritesThroughItAndItsClaimNamesTheHomeAccount) {
  // Before: the controller's own credentials asked for a group of another account and got
  // TargetGroupNotFound forever.
  const auto key = h.apply(manifest("web", remote, "10.0.1.1, 10.0.1.2", kRole, "ext-7f3a"));
  mustSync(key);
  EXPECT_EQ(h.registered(remote), (std::set<std::string>{"10.0.1.1:443", "10.0.1.2:443"}));
  EXPECT_EQ(h.owner(remote), std::string("endpoint-binder/") + kHome + "/ns/web");
  EXPECT_EQ(callsByAccount("RegisterTargets"), (std::map<std::string, int>{{kTargetAccount, 1}}));
  EXPECT_EQ(callsByAccount("AddTags"), (std::map<std::string, int>{{kTargetAccount, 1}}));
  EXPECT_EQ(h.condition(key, "Conflict"), std::string("False Owned"));
  // The role was assumed once, not once per call.
  EXPECT_EQ(callsByAccount("AssumeRole"), (std::map<std::string, int>{{kHome, 1}}));
  mustSync(key);
  EXPECT_EQ(callsByAccount("AssumeRole"), (std::map<std::string, int>{{kHome, 1}}));
  EXPECT_EQ(callsByAccount("GetCallerIdentity"), (std::map<std::string, int>{{kHome, 1}}));
}

TEST_F(ReconcilerAccountsTest, TheSameControllerIdInTheTargetAccountIsAnotherController) {
  // A controller running in the target account with the same --controller-id and a binding of
  // the same name claims its group as "endpoint-binder/ns/web". Before, that value was this
  // controller's own claim: it would have written into the other controller's group.
  const auto theirs =
      h.createGroupIn(kTargetAccount, "their-web", {{kOwnerTagKey, "endpoint-binder/ns/web"}});
  h.registerByHand(theirs, {"10.0.9.9"});
  const auto key = h.apply(manifest("web", theirs, "10.0.1.1", kRole, "ext-7f3a"));
  mustSync(key);
  EXPECT_EQ(h.condition(key, "Conflict"), "True OwnedByOther");
  EXPECT_EQ(h.owner(theirs), "endpoint-binder/ns/web");
  EXPECT_EQ(h.registered(theirs), std::set<std::string>{"10.0.9.9:443"});
  EXPECT_TRUE(callsByAccount("RegisterTargets").empty());
}

TEST_F(ReconcilerAccountsTest, ARoleThatCannotBeAssumedIsAFailureThatChangesNothing) {
  const auto key = h.apply(manifest("web", remote, "10.0.1.1, 10.0.1.2", kRole, "ext-7f3a"));
  mustSync(key);
  // The next generation names a wrong external id and drops an address: nothing may leave,
  // however long the role stays refused.
  h.apply(manifest("web", remote, "10.0.1.1", kRole, "wrong-id"));
  for (int i = 0; i < 3; ++i) {
    h.clock.advance(minutes(5));
    auto r = sync(key);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, "AccessDenied") << r.error().toString();
    EXPECT_NE(r.error().message.find(kRole), std::string::npos) << r.error().message;
  }
  EXPECT_EQ(h.registered(remote), (std::set<std::string>{"10.0.1.1:443", "10.0.1.2:443"}));
  EXPECT_EQ(h.condition(key, "Synced"), "False AccessDenied");
  EXPECT_TRUE(callsByAccount("DeregisterTargets").empty());
  // Fixed: the address leaves after the grace counted from the edit (15 minutes ago), and
  // not before the role works again.
  h.apply(manifest("web", remote, "10.0.1.1", kRole, "ext-7f3a"));
  mustSync(key);
  EXPECT_EQ(h.registered(remote), std::set<std::string>{"10.0.1.1:443"});
}

TEST_F(ReconcilerAccountsTest, AnUnknownRoleFailsTheBindingAndTouchesNothing) {
  h.deleteRole(kRole);
  const auto key = h.apply(manifest("web", remote, "10.0.1.1", kRole, "ext-7f3a"));
  auto r = sync(key);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, "AccessDenied");
  EXPECT_NE(h.status(key)->lastError.find("sts:AssumeRole " + std::string(kRole)),
            std::string::npos)
      << h.status(key)->lastError;
  EXPECT_TRUE(h.registered(remote).empty());
  EXPECT_FALSE(h.owner(remote).has_value());
}

TEST_F(ReconcilerAccountsTest, ARoleOfTheOwnAccountKeepsTheClaimOfTheOwnCredentials) {
  // Switching a binding of the controller's own account to a role of that account (or back)
  // names the same claim: no Conflict, nothing re-registered.
  const auto local = h.createGroup("local-web");
  const auto key = h.apply(manifest("web", local, "10.0.1.1"));
  mustSync(key);
  ASSERT_EQ(h.owner(local), "endpoint-binder/ns/web");
  const std::string ownRole = std::string("arn:aws:iam::") + kHome + ":role/eb-self";
  h.putRole(ownRole, "");
  h.apply(manifest("web", local, "10.0.1.1", ownRole));
  mustSync(key);
  EXPECT_EQ(h.condition(key, "Conflict"), "False Owned");
  EXPECT_EQ(h.owner(local), "endpoint-binder/ns/web");
  EXPECT_EQ(h.registered(local), std::set<std::string>{"10.0.1.1:443"});
  // After a restart the claim read through the role is still ours.
  h.restart();
  mustSync(key);
  EXPECT_EQ(h.condition(key, "Conflict"), "False Owned");
}

TEST_F(ReconcilerAccountsTest, RetargetingToAnotherAccountReleasesTheOldGroupWithItsOwnAccess) {
  const auto local = h.createGroup("local-web");
  const auto key = h.apply(manifest("web", local, "10.0.1.1"));
  mustSync(key);
  h.apply(manifest("web", remote, "10.0.1.1", kRole, "ext-7f3a"));
  mustSync(key);
  // The old group: claim removed by the controller's own account, targets retained.
  EXPECT_FALSE(h.owner(local).has_value());
  EXPECT_EQ(h.registered(local), std::set<std::string>{"10.0.1.1:443"});
  EXPECT_EQ(callsByAccount("RemoveTags"), (std::map<std::string, int>{{kHome, 1}}));
  EXPECT_EQ(h.owner(remote), std::string("endpoint-binder/") + kHome + "/ns/web");
  EXPECT_EQ(h.registered(remote), std::set<std::string>{"10.0.1.1:443"});
  // And back: the remote group is released through the role.
  h.apply(manifest("web", local, "10.0.1.1"));
  mustSync(key);
  EXPECT_FALSE(h.owner(remote).has_value());
  EXPECT_EQ(callsByAccount("RemoveTags"),
            (std::map<std::string, int>{{kHome, 1}, {kTargetAccount, 1}}));
  EXPECT_EQ(h.owner(local), "endpoint-binder/ns/web");
}

TEST_F(ReconcilerAccountsTest, DeletionWithDeregisterGoesThroughTheRoleItWasClaimedWith) {
  const auto key =
      h.apply(manifest("web", remote, "10.0.1.1, 10.0.1.2", kRole, "ext-7f3a", kDeregisterAll));
  mustSync(key);
  h.remove(key);
  mustSync(key);
  EXPECT_TRUE(h.registered(remote).empty());
  EXPECT_FALSE(h.owner(remote).has_value());
  EXPECT_EQ(callsByAccount("DeregisterTargets"), (std::map<std::string, int>{{kTargetAccount, 1}}));
}

TEST_F(ReconcilerAccountsTest, AHomeBindingsClaimIsAdoptedByItsRenameInTheSameAccountOnly) {
  // A rename adopts the claim of the same controller in the same account; the claim of a
  // binding of this controller reached with a role carries the account, so the rename with
  // the same role adopts it too.
  const auto key = h.apply(manifest("web", remote, "10.0.1.1", kRole, "ext-7f3a"));
  mustSync(key);
  h.remove(key);
  const auto renamed = h.apply(manifest("web2", remote, "10.0.1.1", kRole, "ext-7f3a"));
  mustSync(key);  // the old name's confirmed deletion hands the group over untouched
  mustSync(renamed);
  EXPECT_EQ(h.owner(remote), std::string("endpoint-binder/") + kHome + "/ns/web2");
  EXPECT_EQ(h.registered(remote), std::set<std::string>{"10.0.1.1:443"});
  EXPECT_TRUE(callsByAccount("DeregisterTargets").empty());
}

TEST_F(ReconcilerAccountsTest, AnExpiredSessionOfARevokedRoleFailsTheNextReconcile) {
  // Before: between resyncs nothing called ELBv2 (facts, claim and targets all cached), so a
  // binding whose role stopped working reported Synced until the next resync. Now the session
  // is checked (from the cache) at every reconcile.
  const auto key = h.apply(manifest("web", remote, "10.0.1.1", kRole, "ext-7f3a"));
  revokeRoleAfterShortSession(key);
  auto r = h.reconcile(key);  // no resync: the cached picture is fresh
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, "AccessDenied");
  EXPECT_EQ(h.condition(key, "Synced"), "False AccessDenied");
  EXPECT_EQ(h.registered(remote), std::set<std::string>{"10.0.1.1:443"});
}

TEST_F(ReconcilerAccountsTest, RetargetingAwayFromARevokedRoleLeavesItsClaimAndMovesOn) {
  // Before: the old group's claim could only be released through the revoked role, so every
  // reconcile failed there and the binding never reached its new group.
  const auto local = h.createGroup("local-web");
  const auto key = h.apply(manifest("web", remote, "10.0.1.1", kRole, "ext-7f3a"));
  revokeRoleAfterShortSession(key);
  h.apply(manifest("web", local, "10.0.1.1"));
  mustSync(key);
  EXPECT_EQ(h.owner(local), "endpoint-binder/ns/web");
  EXPECT_EQ(h.registered(local), std::set<std::string>{"10.0.1.1:443"});
  EXPECT_TRUE(h.hasEvent(key, "ClaimLeft"));
  // The old group keeps its targets and the (adoptable) claim.
  EXPECT_EQ(h.registered(remote), std::set<std::string>{"10.0.1.1:443"});
  EXPECT_EQ(h.owner(remote), std::string("endpoint-binder/") + kHome + "/ns/web");
}

TEST_F(ReconcilerAccountsTest, DeletingARetainBindingWhoseRoleWasRevokedCompletes) {
  const auto key = h.apply(manifest("web", remote, "10.0.1.1", kRole, "ext-7f3a"));
  revokeRoleAfterShortSession(key);
  h.remove(key);
  mustSync(key);
  EXPECT_FALSE(h.status(key).has_value());
  EXPECT_EQ(h.registered(remote), std::set<std::string>{"10.0.1.1:443"});  // Retain
}

TEST_F(ReconcilerAccountsTest, DeletingADeregisterBindingWaitsForItsRoleInsteadOfSkipping) {
  // Deregister must deregister: a refused role fails the deletion (retried), never skips it.
  const auto key = h.apply(manifest("web", remote, "10.0.1.1", kRole, "ext-7f3a", kDeregisterAll));
  revokeRoleAfterShortSession(key);
  h.remove(key);
  EXPECT_FALSE(sync(key).has_value());
  EXPECT_TRUE(h.status(key).has_value());
  EXPECT_EQ(h.registered(remote), std::set<std::string>{"10.0.1.1:443"});
  h.putRole(kRole, "ext-7f3a");
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));  // the refusal's back-off
  mustSync(key);
  EXPECT_TRUE(h.registered(remote).empty());
  EXPECT_FALSE(h.status(key).has_value());
}

TEST_F(ReconcilerAccountsTest, DeletionAfterTheRoleWasDroppedFromTheSpecUsesTheClaimingRole) {
  // The home credentials would see TargetGroupNotFound, which reads as "group gone".
  const auto key =
      h.apply(manifest("web", remote, "10.0.1.1, 10.0.1.2", kRole, "ext-7f3a", kDeregisterAll));
  mustSync(key);
  h.apply(manifest("web", remote, "10.0.1.1, 10.0.1.2", "", "", kDeregisterAll));
  EXPECT_FALSE(sync(key).has_value());
  h.remove(key);
  mustSync(key);
  EXPECT_TRUE(h.registered(remote).empty());
  EXPECT_FALSE(h.owner(remote).has_value());
  EXPECT_EQ(callsByAccount("DeregisterTargets"), (std::map<std::string, int>{{kTargetAccount, 1}}));
}

TEST_F(ReconcilerAccountsTest, AControllerOfAThirdAccountWithTheSameIdKeepsItsClaim) {
  const auto theirs = h.createGroupIn(kTargetAccount, "third-web",
                                      {{kOwnerTagKey, "endpoint-binder/999988887777/ns/web"}});
  h.registerByHand(theirs, {"10.0.9.9"});
  const auto key = h.apply(manifest("web", theirs, "10.0.1.1", kRole, "ext-7f3a"));
  mustSync(key);
  EXPECT_EQ(h.condition(key, "Conflict"), "True OwnedByOther");
  EXPECT_EQ(h.registered(theirs), std::set<std::string>{"10.0.9.9:443"});
}

TEST(ControllerId, AnIdEndingInAnAccountIsRefusedSoClaimsStayUnambiguous) {
  // "endpoint-binder/123456789012" in the target account would write
  // "endpoint-binder/123456789012/ns/web": exactly this controller's cross-account claim.
  EXPECT_EQ(controllerIdProblem("endpoint-binder"), "");
  EXPECT_EQ(controllerIdProblem("prod/eu-west-1"), "");
  EXPECT_EQ(controllerIdProblem("team/1234567890123"), "");  // 13 digits: no account
  EXPECT_NE(controllerIdProblem("endpoint-binder/123456789012"), "");
  EXPECT_NE(controllerIdProblem("123456789012"), "");
  EXPECT_NE(controllerIdProblem("has space"), "");
  EXPECT_NE(controllerIdProblem(std::string(101, 'x')), "");
  EXPECT_EQ(controllerIdProblem(std::string(100, 'x')), "");
}

}  // namespace
}  // namespace endpointbinder::runtime
