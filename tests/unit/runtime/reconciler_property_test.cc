// Property test of the reconciler against the local AWS emulator: random sequences of spec
// edits (static lists, ports, DNS hostnames), renames and moves (at once, or through a
// pending deletion that a later read confirms), deletions for good (deletionPolicy Retain or
// Deregister) and a new binding of the group later, DNS
// answers and failures, answers of nothing registrable (outside allowedCIDRs, of the other
// address family, refused by AWS), AWS errors, dying and recovering targets, restarts and
// clock jumps. After every reconcile:
//  * no target that the current spec lists — or listed within its grace period — was
//    deregistered, and nothing was deregistered while the source was failing or listed
//    nothing registrable;
//  * our deregistrations never took the serving count below minTargets (nor removed a serving
//    target when it already was below);
//  * every deregistration batch fits maxDeregistrationsPerSync in its window;
//  * a deleted binding deregisters nothing with Retain, and with Deregister only targets
//    its spec listed (no grace, no floor: the user removed it);
//  * nothing is written (targets or tags) to a group someone else tagged before the reconcile
//    began, nor more than 5 s after someone else tagged it during the reconcile (while a slow
//    DescribeTargetHealth let the clock run).
// An independent model keeps, per target key, the last moment the spec in force listed it.
// The same properties hold for a group of another account reached through spec.assumeRoleARN,
// where the role is also refused now and then (a wrong externalId, the trust policy dropping
// the controller while a restart needs a new session): deregistrations are then read from the
// emulator's request log, since they never pass the harness's recording API.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "controller/runtime/reconciler.h"
#include "tests/support/reconciler_harness.h"

namespace endpointbinder::runtime {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;
using testing::ReconcilerHarness;

constexpr auto kGrace = minutes(3);
constexpr int kMinTargets = 2;
constexpr int kCap = 2;  // maxDeregistrationsPerSync per 1-minute window

const std::vector<std::string> kPool = {"10.0.1.1", "10.0.1.2", "10.0.1.3",
                                        "10.0.1.4", "10.0.1.5", "10.0.1.6"};
// Answers the group can never take: outside allowedCIDRs, IPv6 for an ipv4 group, and an
// address outside the VPC that AWS refuses without an availabilityZone.
const std::vector<std::vector<std::string>> kUnusable = {
    {"8.8.8.8"}, {"fd00::1", "fd00::2"}, {"192.168.50.1"}, {"8.8.8.8", "fd00::3"}};
bool unusable(const std::string& id) { return !id.starts_with("10.0."); }

struct Spec {
  std::string name = "web";
  std::string ns = "ns";
  int port = 443;
  bool dns = false;
  std::string hostname = "h1.local";
  std::vector<std::string> addresses = {"10.0.1.1", "10.0.1.2", "10.0.1.3"};
  bool requireHealthy = true;
  bool deregisterOnDelete = false;
  bool role = false;  // the group is in kOtherAccount, reached through kRole
  std::string externalId = "ext-ok";
};

constexpr const char* kOtherAccount = "222233334444";
constexpr const char* kRole = "arn:aws:iam::222233334444:role/eb-prop";

std::string yamlOf(const Spec& s, const std::string& arn) {
  std::string list;
  for (const auto& a : s.addresses) list += (list.empty() ? "" : ", ") + a;
  const std::string source =
      s.dns ? "dns: {hostname: " + s.hostname + "}" : "static: {addresses: [" + list + "]}";
  return "apiVersion: endpointbinder.io/v1alpha1\nkind: TargetGroupBinding\nmetadata:\n  name: " +
         s.name + "\n  namespace: " + s.ns + "\nspec:\n  targetGroupARN: " + arn +
         "\n  targetType: ip\n  port: " + std::to_string(s.port) +
         (s.role ? "\n  assumeRoleARN: " + std::string(kRole) + "\n  externalId: " + s.externalId
                 : "") +
         "\n  source:\n    " + source +
         "\n  policy: {deregistrationGracePeriod: 3m, minTargets: " + std::to_string(kMinTargets) +
         ", maxDeregistrationsPerSync: " + std::to_string(kCap) +
         ", requireHealthyReplacements: " + (s.requireHealthy ? "true" : "false") +
         ", deletionPolicy: " + (s.deregisterOnDelete ? "Deregister" : "Retain") +
         ", allowedCIDRs: [10.0.0.0/8, 192.168.0.0/16, \"fd00::/8\"]}\n";
}

class Sequence {
 public:
  Sequence(ReconcilerHarness& h, uint32_t seed, bool remote = false)
      : h_(h), rng_(seed), seed_(seed), remote_(remote) {}

  void run(int steps) {
    h_.restart();
    if (remote_) {
      h_.putRole(kRole, "ext-ok");
      arn_ = h_.createGroupIn(kOtherAccount, "prop-r-" + std::to_string(seed_));
      spec_.role = true;
    } else {
      arn_ = h_.createGroup("prop-" + std::to_string(seed_));
    }
    spec_.requireHealthy = chance(0.7);
    spec_.deregisterOnDelete = chance(0.5);
    h_.source.answer("h1.local", pick(), h_.clock.now());
    h_.source.answer("h2.local", pick(), h_.clock.now());
    key_ = h_.apply(yamlOf(spec_, arn_));
    removed_.erase(key_);
    h_.api->beforeCall = [this](const std::string& action) {
      if (!foreignArmed_ || action != "DescribeTargetHealth") return;
      foreignArmed_ = false;
      h_.tag(arn_, kOwnerTagKey, kForeignOwner);
      foreignSince_ = h_.clock.now();
      trace_ += " foreign-tag-during-read+" + std::to_string(foreignDelay_.count()) + "s";
      h_.clock.advance(foreignDelay_);
    };
    reconcileAll();
    for (step_ = 0; step_ < steps && !::testing::Test::HasFailure(); ++step_) {
      touch();
      mutate();
      touch();
      reconcileAll();
      const auto advance = std::chrono::seconds(uniform(0, 100));
      touch();
      h_.clock.advance(advance);
    }
    h_.api->beforeCall = nullptr;
  }

  int deregistrations = 0;

 private:
  bool chance(double p) { return std::uniform_real_distribution<>(0, 1)(rng_) < p; }
  int uniform(int lo, int hi) { return std::uniform_int_distribution<>(lo, hi)(rng_); }
  std::vector<std::string> pick() {
    std::vector<std::string> out;
    for (const auto& a : kPool) {
      if (chance(0.5)) out.push_back(a);
    }
    if (out.empty()) out.push_back(kPool[static_cast<size_t>(uniform(0, 5))]);
    return out;
  }

  // The target keys the spec in force lists now (a failing DNS source keeps its last answer).
  std::set<std::string> listing() {
    std::set<std::string> keys;
    if (deleted_) return keys;
    const auto& ids = spec_.dns ? h_.source.answers[spec_.hostname].ids : spec_.addresses;
    for (const auto& id : ids) keys.insert(id + ":" + std::to_string(spec_.port));
    return keys;
  }
  bool sourceFailing() {
    if (deleted_ || !spec_.dns) return false;
    const auto& answer = h_.source.answers[spec_.hostname];
    return answer.failing || std::all_of(answer.ids.begin(), answer.ids.end(), unusable);
  }
  void touch() {
    for (const auto& k : listing()) lastListed_[k] = h_.clock.now();
  }

  void mutate() {
    if (!pendingKey_.empty()) {  // this read confirms the deletion
      h_.remove(pendingKey_);
      removed_.insert(pendingKey_);
      pendingKey_.clear();
    }
    if (deleted_) {
      if (chance(0.5)) return;  // still gone
      trace_ += " [" + std::to_string(step_) + " recreate]";
      deleted_ = false;
      spec_.name = "web" + std::to_string(++generationOfNames_);
      spec_.deregisterOnDelete = chance(0.5);
      key_ = h_.apply(yamlOf(spec_, arn_));
      removed_.erase(key_);
      return;
    }
    if (pendingKey_.empty() && chance(0.05)) {
      trace_ += " [" + std::to_string(step_) + " delete]";
      oldKeys_.push_back(key_);
      h_.remove(key_);
      removed_.insert(key_);
      deleted_ = true;
      return;
    }
    const int op = uniform(0, 9);
    trace_ += " [" + std::to_string(step_) + " t=" +
              std::to_string(
                  std::chrono::duration_cast<seconds>(h_.clock.now().time_since_epoch()).count() %
                  100000) +
              " op" + std::to_string(op) + "]";
    switch (op) {
      case 0:  // static list edit
        spec_.dns = false;
        spec_.addresses = pick();
        break;
      case 1:  // switch source kind or hostname
        spec_.dns = !spec_.dns || chance(0.5);
        spec_.hostname = chance(0.5) ? "h1.local" : "h2.local";
        break;
      case 2:
      case 3: {  // DNS answers change or fail
        const std::string host = chance(0.5) ? "h1.local" : "h2.local";
        if (chance(0.3)) {
          h_.source.fail(host, "SERVFAIL");
        } else if (chance(0.2)) {
          h_.source.answer(host, kUnusable[static_cast<size_t>(uniform(0, 3))], h_.clock.now());
        } else {
          h_.source.answer(host, pick(), h_.clock.now());
        }
        break;
      }
      case 4: {  // rename or move to another namespace
        if (!pendingKey_.empty()) break;
        oldKeys_.push_back(key_);
        if (chance(0.5)) {
          // Missing from one read: reconciled as before until a later read confirms it.
          trace_ += " rename-pending";
          h_.markPendingDeletion(key_);
          pendingKey_ = key_;
        } else {
          trace_ += " rename";
          h_.remove(key_);
          removed_.insert(key_);
        }
        spec_.name = spec_.name == "web" ? "web2" : "web";
        if (chance(0.5)) spec_.ns = spec_.ns == "ns" ? "ns2" : "ns";
        break;
      }
      case 5:  // port change
        spec_.port = spec_.port == 443 ? 8443 : 443;
        break;
      case 6: {         // an AWS call fails
        if (remote_) {  // the role is refused: a wrong external id, or a right one again
          spec_.externalId = chance(0.5) ? "ext-wrong" : "ext-ok";
          trace_ += " externalId=" + spec_.externalId;
          break;
        }
        static const std::vector<std::string> actions = {
            "DescribeTargetHealth", "RegisterTargets", "DeregisterTargets",
            "DescribeTags",         "AddTags",         "RemoveTags",
            "DescribeTargetGroups"};
        h_.api->failNext.insert(actions[static_cast<size_t>(uniform(0, 6))]);
        break;
      }
      case 7: {  // targets die or recover
        h_.setDead({kPool[static_cast<size_t>(uniform(0, 5))]}, chance(0.6));
        break;
      }
      case 8:
        h_.restart();
        windowed_.clear();  // the rate cap is memory of this process, like grace periods
        break;
      case 9:
        if (remote_ && chance(0.3)) {  // the trust policy drops us (sessions held stay valid)
          roleTrusted_ = !roleTrusted_;
          trace_ += roleTrusted_ ? " trust" : " distrust";
          if (roleTrusted_) {
            h_.putRole(kRole, "ext-ok");
          } else {
            h_.deleteRole(kRole);
          }
        } else if (!remote_) {  // someone else tags the group, now or during the next read
          if (foreignArmed_) {
            foreignArmed_ = false;
          } else if (foreignSince_) {
            trace_ += " foreign-untag";
            h_.untag(arn_, kOwnerTagKey);  // the binding may claim it again
            foreignSince_.reset();
          } else if (chance(0.5)) {
            trace_ += " foreign-tag";
            h_.tag(arn_, kOwnerTagKey, kForeignOwner);
            foreignSince_ = h_.clock.now();
          } else {
            foreignArmed_ = true;
            foreignDelay_ = seconds(uniform(0, 10));
          }
        }
        break;
      default:
        break;  // time passes
    }
    key_ = h_.apply(yamlOf(spec_, arn_));
    removed_.erase(key_);
  }

  void reconcileAll() {
    std::vector<std::string> keys = oldKeys_;
    if (!deleted_) keys.push_back(key_);
    std::shuffle(keys.begin(), keys.end(), rng_);
    for (const auto& k : keys) {
      h_.expireAll();
      const auto before = h_.targets(arn_);
      const size_t writesBefore = h_.api->writes.size();
      const bool foreignBefore = foreignSince_.has_value();
      auto result = h_.reconcile(k);  // errors are allowed: injected failures, refused roles
      if (!result) trace_ += " E(" + k + ": " + result.error().code + ")";
      if (auto s = h_.status(k); s && s->lastPlan && !s->lastPlan->toDeregister.empty()) {
        trace_ += " D(" + k + ")";
      }
      checkForeignClaim(writesBefore, foreignBefore);
      check(before, writesBefore, k);
    }
    std::erase_if(oldKeys_, [&](const std::string& k) { return !h_.status(k).has_value(); });
  }

  // The deregistrations the last reconcile made, through whichever account.
  std::vector<testing::RecordingApi::Write> deregistrationsSince(size_t writesBefore) {
    if (remote_) return h_.loggedDeregistrations(arn_, logSeq_);
    std::vector<testing::RecordingApi::Write> out;
    for (size_t i = writesBefore; i < h_.api->writes.size(); ++i) {
      if (h_.api->writes[i].action == "DeregisterTargets") out.push_back(h_.api->writes[i]);
    }
    return out;
  }

  // No write on a group someone else has claimed: tagged before this reconcile began, or more
  // than the seconds an owner read counts for before the write.
  void checkForeignClaim(size_t writesBefore, bool foreignBefore) {
    if (!foreignSince_) return;
    for (size_t i = writesBefore; i < h_.api->writes.size(); ++i) {
      const auto& w = h_.api->writes[i];
      if (w.arn != arn_) continue;
      EXPECT_FALSE(foreignBefore) << where() << " " << w.action
                                  << " on a group someone else tagged before the reconcile";
      EXPECT_LE(w.at - *foreignSince_, seconds(5))
          << where() << " " << w.action << " "
          << std::chrono::duration_cast<seconds>(w.at - *foreignSince_).count()
          << "s after someone else tagged the group";
    }
  }

  void check(const std::map<std::string, std::string>& before, size_t writesBefore,
             const std::string& key) {
    const auto now = h_.clock.now();
    const auto deregistered = deregistrationsSince(writesBefore);
    // The deleted binding's own deletion: Deregister takes what its spec listed, at once.
    // (Every name of it is gone: a rename's old name pending until this step included.)
    const bool deletion = deleted_ && removed_.contains(key);
    if (deletion) {
      for (const auto& w : deregistered) {
        EXPECT_TRUE(spec_.deregisterOnDelete) << where() << " deleted with Retain, deregistered";
        EXPECT_LE(static_cast<int>(w.keys.size()), kCap) << where();
        windowed_.push_back({now, static_cast<int>(w.keys.size())});
        for (const auto& k : w.keys) {
          ++deregistrations;
          EXPECT_TRUE(lastListed_.contains(k)) << where() << " deletion took unlisted " << k;
        }
      }
      return;
    }
    const auto listed = listing();
    int servingBefore = 0;
    for (const auto& [k, state] : before) servingBefore += state == "healthy" ? 1 : 0;
    int servingRemoved = 0;
    for (const auto& w : deregistered) {
      EXPECT_LE(static_cast<int>(w.keys.size()), kCap) << where();
      windowed_.push_back({now, static_cast<int>(w.keys.size())});
      for (const auto& k : w.keys) {
        ++deregistrations;
        EXPECT_FALSE(listed.contains(k)) << where() << " deregistered listed " << k;
        EXPECT_FALSE(sourceFailing()) << where() << " deregistered " << k << " while failing";
        const auto last = lastListed_.find(k);
        if (last != lastListed_.end()) {
          EXPECT_GE(now - last->second, kGrace)
              << where() << " deregistered " << k << " "
              << std::chrono::duration_cast<seconds>(now - last->second).count()
              << "s after the spec last listed it";
        }
        const auto it = before.find(k);
        if (it != before.end() && it->second == "healthy") ++servingRemoved;
      }
    }
    if (servingRemoved > 0) {
      EXPECT_GE(servingBefore - servingRemoved, kMinTargets)
          << where() << " serving " << servingBefore << " -> " << servingBefore - servingRemoved;
    }
    int inWindow = 0;
    for (const auto& [at, n] : windowed_) inWindow += now - at < minutes(1) ? n : 0;
    // The percentage base is not involved: the cap is a count.
    EXPECT_LE(inWindow, kCap) << where() << " deregistrations in the last minute";
  }

  std::string where() const {
    return "seed " + std::to_string(seed_) + " step " + std::to_string(step_) + " (" + trace_ +
           "):";
  }

  ReconcilerHarness& h_;
  std::mt19937 rng_;
  uint32_t seed_;
  bool remote_ = false;
  bool roleTrusted_ = true;
  long long logSeq_ = 0;  // the emulator's request log read up to here (remote)
  int step_ = 0;
  Spec spec_;
  std::string arn_;
  std::string key_;
  std::vector<std::string> oldKeys_;
  std::string pendingKey_;         // missing from the last read, deletion not yet confirmed
  bool deleted_ = false;           // the binding is gone for good (until recreated)
  std::set<std::string> removed_;  // keys removed from the manifests
  int generationOfNames_ = 0;
  std::map<std::string, core::MonoTime> lastListed_;
  std::vector<std::pair<core::MonoTime, int>> windowed_;
  std::string trace_;  // the operations so far, for a failure's message
  // Someone else's claim: since when it stands, or armed to be made during the next
  // DescribeTargetHealth, which then takes foreignDelay_.
  static constexpr const char* kForeignOwner = "someone-else/x/y";
  std::optional<core::MonoTime> foreignSince_;
  bool foreignArmed_ = false;
  seconds foreignDelay_{0};
};

// Runs `seeds` sequences (EB_RECONCILER_PROPERTY_SEEDS overrides, EB_SEED picks the first) of
// 30 steps each; returns the deregistrations they made.
int runSequences(bool remote, uint32_t seeds) {
  ReconcilerHarness h;
  EXPECT_TRUE(h.ok()) << h.error();
  if (!h.ok()) return 0;
  if (const char* wanted = std::getenv("EB_RECONCILER_PROPERTY_SEEDS")) {
    seeds = static_cast<uint32_t>(std::max(1, std::atoi(wanted)));
  }
  const uint32_t first =
      std::getenv("EB_SEED") ? static_cast<uint32_t>(std::atoi(std::getenv("EB_SEED"))) : 1;
  int deregistrations = 0;
  for (uint32_t seed = first; seed < first + seeds && !::testing::Test::HasFailure(); ++seed) {
    Sequence sequence(h, seed, remote);
    sequence.run(30);
    deregistrations += sequence.deregistrations;
  }
  return deregistrations;
}

TEST(ReconcilerProperty, RandomEditsRenamesAnswersAndErrorsNeverRemoveWhatTheSpecListed) {
  // 16 sequences, about 6 s. The sequences did exercise removals (a property over nothing
  // would prove nothing).
  EXPECT_GT(runSequences(/*remote=*/false, 16), 16);
}

TEST(ReconcilerProperty, TheSameHoldsForAGroupOfAnotherAccountReachedThroughARole) {
  EXPECT_GT(runSequences(/*remote=*/true, 8), 8);
}

}  // namespace
}  // namespace endpointbinder::runtime
