#include "controller/runtime/write_gate.h"

namespace endpointbinder::runtime {

core::Result<void> FencedTargetGroupApi::check(const char* operation) const {
  if (gate_ == nullptr) return {};
  if (!term_) {
    return core::makeError(core::ErrorKind::kRetryable,
                           std::string(operation) + " not sent: this replica is a standby (" +
                               gate_->describeLeader() + ")",
                           "NotLeader");
  }
  auto allowed = gate_->checkWrite(*term_);
  if (!allowed) {
    allowed.error().message = std::string(operation) + " not sent: " + allowed.error().message;
  }
  return allowed;
}

core::Result<void> FencedTargetGroupApi::registerTargets(const std::string& arn,
                                                         const std::vector<core::Target>& targets) {
  if (auto ok = check("RegisterTargets"); !ok) return ok;
  return inner_.registerTargets(arn, targets);
}

core::Result<void> FencedTargetGroupApi::deregisterTargets(
    const std::string& arn, const std::vector<core::Target>& targets) {
  if (auto ok = check("DeregisterTargets"); !ok) return ok;
  return inner_.deregisterTargets(arn, targets);
}

core::Result<void> FencedTargetGroupApi::addTags(const std::string& arn, const aws::Tags& tags) {
  if (auto ok = check("AddTags"); !ok) return ok;
  return inner_.addTags(arn, tags);
}

core::Result<void> FencedTargetGroupApi::removeTags(const std::string& arn,
                                                    const std::vector<std::string>& keys) {
  if (auto ok = check("RemoveTags"); !ok) return ok;
  return inner_.removeTags(arn, keys);
}

}  // namespace endpointbinder::runtime
