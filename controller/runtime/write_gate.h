// WriteGate: whether this replica may write to AWS now, and under which lease term — the
// fencing side of leader election (runtime/leader_election.h implements it).
//
// A reconcile takes the current term when it starts (currentTerm(): nullopt on a standby, which
// plans and reports but writes nothing, like --dry-run) and every write call it makes goes
// through FencedTargetGroupApi, which asks checkWrite(term) right before RegisterTargets,
// DeregisterTargets, AddTags and RemoveTags. A plan made under one term is never applied under
// another: a replica that lost the lease and won it back meanwhile re-plans from a fresh read.
// Thread-safety: implementations must be callable from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "controller/aws/elbv2.h"
#include "controller/core/error.h"

namespace endpointbinder::runtime {

class WriteGate {
 public:
  virtual ~WriteGate() = default;
  // The term (the lease's fencing counter) this replica leads in now; nullopt when it does not
  // lead.
  virtual std::optional<std::uint64_t> currentTerm() const = 0;
  // OK while this replica still leads in `term` and is within its renew deadline; otherwise a
  // kRetryable Error with code "NotLeader" that says why.
  virtual core::Result<void> checkWrite(std::uint64_t term) const = 0;
  // Who leads, for status messages: "replica-b leads (term 7)", "no replica leads".
  virtual std::string describeLeader() const = 0;
};

// The reconciler's view of the AWS API for one reconcile: reads pass through; each write is
// made only after gate->checkWrite(term) allows it (with no gate, every write passes; with a
// gate and no term, none does).
class FencedTargetGroupApi final : public aws::TargetGroupApi {
 public:
  FencedTargetGroupApi(aws::TargetGroupApi& inner, const WriteGate* gate,
                       std::optional<std::uint64_t> term)
      : inner_(inner), gate_(gate), term_(term) {}

  core::Result<std::vector<aws::TargetGroupInfo>> describeTargetGroups(
      const std::vector<std::string>& arns) override {
    return inner_.describeTargetGroups(arns);
  }
  core::Result<std::vector<core::ObservedTarget>> describeTargetHealth(
      const std::string& arn) override {
    return inner_.describeTargetHealth(arn);
  }
  core::Result<std::map<std::string, aws::Tags>> describeTags(
      const std::vector<std::string>& arns) override {
    return inner_.describeTags(arns);
  }
  core::Result<void> registerTargets(const std::string& arn,
                                     const std::vector<core::Target>& targets) override;
  core::Result<void> deregisterTargets(const std::string& arn,
                                       const std::vector<core::Target>& targets) override;
  core::Result<void> addTags(const std::string& arn, const aws::Tags& tags) override;
  core::Result<void> removeTags(const std::string& arn,
                                const std::vector<std::string>& keys) override;

 private:
  core::Result<void> check(const char* operation) const;

  aws::TargetGroupApi& inner_;
  const WriteGate* gate_;
  std::optional<std::uint64_t> term_;
};

}  // namespace endpointbinder::runtime
