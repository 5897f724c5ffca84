#include "tests/support/fake_lease_store.h"

namespace endpointbinder::testing {

namespace {

std::unexpected<core::Error> timeout() {
  return core::makeError(core::ErrorKind::kRetryable, "lease call timed out", "RequestTimeout");
}

std::unexpected<core::Error> conditionFailed() {
  return core::makeError(core::ErrorKind::kConflict, "The conditional request failed",
                         "ConditionalCheckFailedException");
}

}  // namespace

std::optional<core::LeaseRecord> FakeLeaseTable::get() const {
  std::lock_guard lock(mu_);
  return record_;
}

void FakeLeaseTable::set(std::optional<core::LeaseRecord> record) {
  std::lock_guard lock(mu_);
  record_ = std::move(record);
}

int FakeLeaseTable::writes() const {
  std::lock_guard lock(mu_);
  return writes_;
}

core::Result<std::optional<core::LeaseRecord>> FakeLeaseStore::read() {
  ++calls;
  if (partitioned) return timeout();
  return table_.get();
}

template <typename Condition>
core::Result<void> FakeLeaseStore::write(const core::LeaseRecord& next, Condition holds) {
  ++calls;
  if (partitioned) return timeout();
  std::lock_guard lock(table_.mu_);
  if (!holds(table_.record_)) return conditionFailed();
  table_.record_ = next;
  ++table_.writes_;
  if (loseNextAnswer) {
    loseNextAnswer = false;
    return timeout();
  }
  return {};
}

core::Result<void> FakeLeaseStore::acquire(const core::LeaseRecord& next,
                                           const std::optional<std::string>& expectedVersion) {
  return write(next, [&](const std::optional<core::LeaseRecord>& stored) {
    return expectedVersion ? stored && stored->version == *expectedVersion : !stored;
  });
}

core::Result<void> FakeLeaseStore::renew(const core::LeaseRecord& next) {
  return write(next, [&](const std::optional<core::LeaseRecord>& stored) {
    return stored && stored->holder == next.holder && stored->fence == next.fence;
  });
}

core::Result<void> FakeLeaseStore::release(const std::string& holder,
                                           const core::LeaseRecord& freed) {
  return write(freed, [&](const std::optional<core::LeaseRecord>& stored) {
    return stored && stored->holder == holder && stored->fence == freed.fence;
  });
}

}  // namespace endpointbinder::testing
