// DynamoDbLeaseStore: the leader-election lease as one item of a DynamoDB table, every write
// conditional (core::LeaseStore's contract).
//
// Table: partition key `leaseName` (S), nothing else (on-demand capacity suffices: a few
// calls a second at most). Item, one per lease name (the controller id by default):
//   leaseName (S)  holder (S, absent when released)  fence (N)  version (S)
//   leaseDurationMs (N)  renewedAt (N, unix ms)  acquiredAt (N, unix ms)
// Calls: read = GetItem ConsistentRead; acquire = PutItem if attribute_not_exists(leaseName)
// or version = the one seen; renew = UpdateItem SET version, renewedAt, leaseDurationMs if
// holder = me AND fence = my term; release = UpdateItem SET version, renewedAt REMOVE holder
// under the same condition (the fence stays, so the next acquisition still counts up).
// Thread-safety: as thread-safe as the DynamoDbApi given (DynamoDbClient is).
#pragma once

#include <string>

#include "controller/aws/dynamodb_client.h"
#include "controller/core/lease.h"

namespace endpointbinder::aws {

// The lease record of an item. kTerminal "MalformedLease" when fence, leaseDurationMs or a
// time is not an integer, or version is missing (someone else wrote that item).
core::Result<core::LeaseRecord> leaseFromItem(const Item& item);
// The item for `record` under `leaseName` (holder left out when empty).
Item itemFromLease(const std::string& leaseName, const core::LeaseRecord& record);

class DynamoDbLeaseStore final : public core::LeaseStore {
 public:
  DynamoDbLeaseStore(DynamoDbApi& api, std::string table, std::string leaseName);

  core::Result<std::optional<core::LeaseRecord>> read() override;
  core::Result<void> acquire(const core::LeaseRecord& next,
                             const std::optional<std::string>& expectedVersion) override;
  core::Result<void> renew(const core::LeaseRecord& next) override;
  core::Result<void> release(const std::string& holder, const core::LeaseRecord& freed) override;

  const std::string& table() const { return table_; }
  const std::string& leaseName() const { return leaseName_; }

 private:
  Item key() const;

  DynamoDbApi& api_;
  const std::string table_;
  const std::string leaseName_;
};

}  // namespace endpointbinder::aws
