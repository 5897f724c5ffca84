// FakeLeaseTable / FakeLeaseStore: the leader-election lease in memory, with DynamoDB's
// conditional-write semantics (core::LeaseStore's contract), for elector and runtime tests.
// Several stores (one per replica) share one table; each can be cut off (partitioned: calls
// time out and change nothing) or lose the answer to its next write (it lands, the caller
// sees a timeout), which is what a network does to a real replica.
// Test-only. Thread-safety: the table has a lock; a store's switches belong to the test thread.
#pragma once

#include <mutex>
#include <optional>
#include <string>

#include "controller/core/lease.h"

namespace endpointbinder::testing {

class FakeLeaseTable {
 public:
  std::optional<core::LeaseRecord> get() const;
  void set(std::optional<core::LeaseRecord> record);
  int writes() const;

 private:
  friend class FakeLeaseStore;
  mutable std::mutex mu_;
  std::optional<core::LeaseRecord> record_;
  int writes_ = 0;
};

class FakeLeaseStore final : public core::LeaseStore {
 public:
  explicit FakeLeaseStore(FakeLeaseTable& table) : table_(table) {}

  bool partitioned = false;     // every call fails (kRetryable, "RequestTimeout"), no effect
  bool loseNextAnswer = false;  // the next write lands but reports a timeout
  int calls = 0;

  core::Result<std::optional<core::LeaseRecord>> read() override;
  core::Result<void> acquire(const core::LeaseRecord& next,
                             const std::optional<std::string>& expectedVersion) override;
  core::Result<void> renew(const core::LeaseRecord& next) override;
  core::Result<void> release(const std::string& holder, const core::LeaseRecord& freed) override;

 private:
  // Applies `next` when `holds` (under the table's lock); the Result the caller sees.
  template <typename Condition>
  core::Result<void> write(const core::LeaseRecord& next, Condition holds);

  FakeLeaseTable& table_;
};

}  // namespace endpointbinder::testing
