// ReconcilerHarness: a Reconciler wired to the local AWS emulator over real HTTP (Elbv2Client,
// SigV4, the emulator's target rules and health lifecycle) with a ManualClock for every
// decision the reconciler makes, a scripted source, an editable manifest set and a record of
// every write. Shared by the reconciler's example tests and its property test.
// Test-only. Thread-safety: none (one test thread).
#pragma once

#include <cpprest/base_uri.h>
#include <cpprest/json.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "api/decode.h"
#include "controller/aws/cpprest_transport.h"
#include "controller/aws/elbv2_client.h"
#include "controller/core/clock.h"
#include "controller/core/log.h"
#include "controller/runtime/binding_status.h"
#include "controller/runtime/observed_cache.h"
#include "controller/runtime/reconciler.h"
#include "tests/support/emulator_process.h"
#include "tests/support/fake_http_transport.h"

namespace endpointbinder::testing {

// A source whose answers the test scripts, per hostname; static sources list their addresses.
class ScriptedSource final : public runtime::SourceProvider {
 public:
  struct Answer {
    std::vector<std::string> ids;
    bool failing = false;
    std::string reason;
    std::vector<runtime::DepartedId> departed;
    core::MonoTime lastSuccess{};
    bool hasAnswer = true;
  };
  std::map<std::string, Answer> answers;  // by hostname
  std::set<std::string> tracked;          // binding keys

  void track(const api::TargetGroupBinding& binding) override {
    tracked.insert(binding.metadata.key());
  }
  void untrack(const std::string& key) override { tracked.erase(key); }
  runtime::SourceSnapshot snapshot(const api::TargetGroupBinding& binding) override;

  // Scripts a DNS answer at `now`: ids that left the previous answer depart at `now`.
  void answer(const std::string& hostname, std::vector<std::string> ids, core::MonoTime now);
  void fail(const std::string& hostname, std::string reason);
};

// TargetGroupApi decorator recording what was written, and injecting errors on demand.
class RecordingApi final : public aws::TargetGroupApi {
 public:
  RecordingApi(aws::TargetGroupApi& inner, const core::Clock& clock)
      : inner_(inner), clock_(clock) {}

  struct Write {
    std::string action;  // RegisterTargets, DeregisterTargets, AddTags, RemoveTags
    std::string arn;
    std::vector<std::string> keys;  // target keys or tag keys
    core::MonoTime at{};
  };
  std::vector<Write> writes;
  // The next call of this action fails with a retryable error (then the entry is erased).
  std::set<std::string> failNext;
  // Calls made, by action (reads too), and a hook run before each call goes out (a test may
  // advance the clock or change the emulator's state in it).
  std::map<std::string, int> calls;
  std::function<void(const std::string& action)> beforeCall;

  core::Result<std::vector<aws::TargetGroupInfo>> describeTargetGroups(
      const std::vector<std::string>& arns) override;
  core::Result<std::vector<core::ObservedTarget>> describeTargetHealth(
      const std::string& arn) override;
  core::Result<void> registerTargets(const std::string& arn,
                                     const std::vector<core::Target>& targets) override;
  core::Result<void> deregisterTargets(const std::string& arn,
                                       const std::vector<core::Target>& targets) override;
  core::Result<std::map<std::string, aws::Tags>> describeTags(
      const std::vector<std::string>& arns) override;
  core::Result<void> addTags(const std::string& arn, const aws::Tags& tags) override;
  core::Result<void> removeTags(const std::string& arn,
                                const std::vector<std::string>& keys) override;

  std::vector<Write> writesOf(const std::string& action) const;

 private:
  // Counts the call, runs beforeCall, and returns the failure failNext asks for, if any.
  std::optional<core::Error> beforeSending(const std::string& action);
  aws::TargetGroupApi& inner_;
  const core::Clock& clock_;
};

class ReconcilerHarness {
 public:
  // Starts the emulator (targets healthy at once, no throttling). Check ok() before use.
  explicit ReconcilerHarness(runtime::ReconcilerOptions options = {});
  ~ReconcilerHarness();
  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }

  // Creates an ip target group (port 443) and returns its ARN.
  std::string createGroup(const std::string& name, std::map<std::string, std::string> tags = {},
                          const std::string& ipAddressType = "ipv4");
  // The same in another account ("": the emulator's own, kHomeAccount).
  std::string createGroupIn(const std::string& account, const std::string& name,
                            std::map<std::string, std::string> tags = {},
                            const std::string& ipAddressType = "ipv4");
  // An IAM role the emulator lets `trusted` (account ids or ARNs) assume, with an external id
  // ("" none); replaces one of the same ARN.
  void putRole(const std::string& roleArn, const std::string& externalId,
               const std::vector<std::string>& trusted = {kHomeAccount});
  void deleteRole(const std::string& roleArn);
  // Successful DeregisterTargets on `arn` the emulator logged after sequence number `since`
  // (advanced past them), whichever credentials made them: writes through an assumed role
  // never pass `api`.
  std::vector<RecordingApi::Write> loggedDeregistrations(const std::string& arn, long long& since);
  static constexpr const char* kHomeAccount = "123456789012";
  // Puts a binding in the manifest set from YAML of one TargetGroupBinding (fails the test on
  // a decode error); returns its key.
  std::string apply(const std::string& yaml);
  void remove(const std::string& key) { desired_.erase(key); }
  // The binding is missing from the manifests, its deletion not confirmed yet.
  void markPendingDeletion(const std::string& key) { desired_.at(key).pendingDeletion = true; }

  core::Result<runtime::ReconcileResult> reconcile(const std::string& key);
  // A resync tick: every cached group read is stale.
  void expireAll();
  // A new controller process: the reconciler's memory is gone (the group keeps its targets).
  void restart();

  // Emulator state: "id:port" -> state ("healthy", "draining", ...), and the owner tag.
  std::map<std::string, std::string> targets(const std::string& arn);
  std::set<std::string> registered(const std::string& arn);  // not draining
  std::optional<std::string> owner(const std::string& arn);
  void setDead(const std::vector<std::string>& ids, bool dead);
  void registerByHand(const std::string& arn, const std::vector<std::string>& ids);
  void tag(const std::string& arn, const std::string& key, const std::string& value);
  void untag(const std::string& arn, const std::string& key);

  std::optional<runtime::BindingStatus> status(const std::string& key) { return status_->get(key); }
  bool hasEvent(const std::string& key, const std::string& reason);
  std::string condition(const std::string& key, const std::string& type);  // "True reason"
  std::vector<std::string> held(const std::string& key, const std::string& reason);

  core::ManualClock clock;
  ScriptedSource source;
  // ManifestStore::settled(): false models a process that started moments ago.
  bool manifestsSettled = true;
  // Told of every report (notification tests); takes effect at the next restart().
  runtime::ReconcileObserver* observer = nullptr;
  // Leader election's write fencing (standby tests); takes effect at the next restart().
  const runtime::WriteGate* writeGate = nullptr;
  std::unique_ptr<RecordingApi> api;
  EmulatorProcess& emulator() { return *emulator_; }
  const runtime::Reconciler& reconciler() const { return *reconciler_; }

 private:
  void build();

  runtime::ReconcilerOptions options_;
  std::string error_;
  std::unique_ptr<EmulatorProcess> emulator_;
  std::unique_ptr<aws::CpprestTransport> transport_;
  FakeCredentialsProvider credentials_;
  core::RealClock signingClock_;
  std::unique_ptr<aws::Elbv2Client> client_;
  // Other accounts (spec.assumeRoleARN): real STS AssumeRole against the emulator.
  std::unique_ptr<aws::AssumeRoleApis> accounts_;
  std::map<std::string, runtime::DesiredBinding> desired_;
  std::unique_ptr<runtime::StatusStore> status_ = std::make_unique<runtime::StatusStore>();
  core::NullLogger log_;
  std::unique_ptr<runtime::ObservedCache> observed_;
  std::unique_ptr<runtime::Reconciler> reconciler_;
  int fileCounter_ = 0;
};

}  // namespace endpointbinder::testing
