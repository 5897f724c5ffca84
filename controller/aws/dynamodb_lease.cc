#include "controller/aws/dynamodb_lease.h"

#include <utility>

namespace endpointbinder::aws {
namespace {

constexpr const char* kKey = "leaseName";
constexpr const char* kHolder = "holder";
constexpr const char* kFence = "fence";
constexpr const char* kVersion = "version";
constexpr const char* kDuration = "leaseDurationMs";
constexpr const char* kRenewedAt = "renewedAt";
constexpr const char* kAcquiredAt = "acquiredAt";

std::unexpected<core::Error> malformedLease(const std::string& what) {
  return core::makeError(core::ErrorKind::kTerminal,
                         "the lease item is not one endpoint-binder wrote: " + what,
                         "MalformedLease");
}

// The condition of renewals and releases: the item still names `holder` at `fence`.
ConditionSpec heldBy(const std::string& holder, std::uint64_t fence) {
  ConditionSpec condition;
  condition.expression = "#h = :holder AND #f = :fence";
  condition.names = {{"#h", kHolder}, {"#f", kFence}};
  condition.values = {{":holder", AttributeValue::string(holder)},
                      {":fence", AttributeValue::number(static_cast<std::int64_t>(fence))}};
  return condition;
}

}  // namespace

core::Result<core::LeaseRecord> leaseFromItem(const Item& item) {
  core::LeaseRecord record;
  const auto integer = [&](const char* name) -> core::Result<std::int64_t> {
    const auto it = item.find(name);
    if (it == item.end()) return 0;
    const auto number = it->second.integer();
    if (!number || *number < 0) return malformedLease(std::string(name) + " is not a number");
    return *number;
  };
  if (auto it = item.find(kHolder); it != item.end()) record.holder = it->second.text;
  const auto version = item.find(kVersion);
  if (version == item.end() || version->second.text.empty()) return malformedLease("no version");
  record.version = version->second.text;
  auto fence = integer(kFence);
  auto duration = integer(kDuration);
  auto renewed = integer(kRenewedAt);
  auto acquired = integer(kAcquiredAt);
  for (const auto* field : {&fence, &duration, &renewed, &acquired}) {
    if (!*field) return std::unexpected(field->error());
  }
  record.fence = static_cast<std::uint64_t>(*fence);
  record.leaseDuration = std::chrono::milliseconds(*duration);
  record.renewedAtUnixMs = *renewed;
  record.acquiredAtUnixMs = *acquired;
  return record;
}

Item itemFromLease(const std::string& leaseName, const core::LeaseRecord& record) {
  Item item{
      {kKey, AttributeValue::string(leaseName)},
      {kFence, AttributeValue::number(static_cast<std::int64_t>(record.fence))},
      {kVersion, AttributeValue::string(record.version)},
      {kDuration, AttributeValue::number(record.leaseDuration.count())},
      {kRenewedAt, AttributeValue::number(record.renewedAtUnixMs)},
      {kAcquiredAt, AttributeValue::number(record.acquiredAtUnixMs)},
  };
  if (!record.holder.empty()) item[kHolder] = AttributeValue::string(record.holder);
  return item;
}

DynamoDbLeaseStore::DynamoDbLeaseStore(DynamoDbApi& api, std::string table, std::string leaseName)
    : api_(api), table_(std::move(table)), leaseName_(std::move(leaseName)) {}

Item DynamoDbLeaseStore::key() const { return {{kKey, AttributeValue::string(leaseName_)}}; }

core::Result<std::optional<core::LeaseRecord>> DynamoDbLeaseStore::read() {
  auto item = api_.getItem(table_, key());
  if (!item) return std::unexpected(std::move(item.error()));
  if (!*item) return std::optional<core::LeaseRecord>();
  auto record = leaseFromItem(**item);
  if (!record) return std::unexpected(std::move(record.error()));
  return std::optional<core::LeaseRecord>(std::move(*record));
}

core::Result<void> DynamoDbLeaseStore::acquire(const core::LeaseRecord& next,
                                               const std::optional<std::string>& expectedVersion) {
  ConditionSpec condition;
  if (expectedVersion) {
    condition.expression = "#v = :expected";
    condition.names = {{"#v", kVersion}};
    condition.values = {{":expected", AttributeValue::string(*expectedVersion)}};
  } else {
    condition.expression = "attribute_not_exists(#k)";
    condition.names = {{"#k", kKey}};
  }
  return api_.putItem(table_, itemFromLease(leaseName_, next), condition);
}

core::Result<void> DynamoDbLeaseStore::renew(const core::LeaseRecord& next) {
  auto condition = heldBy(next.holder, next.fence);
  condition.names.emplace("#v", kVersion);
  condition.names.emplace("#r", kRenewedAt);
  condition.names.emplace("#d", kDuration);
  condition.values.emplace(":v", AttributeValue::string(next.version));
  condition.values.emplace(":r", AttributeValue::number(next.renewedAtUnixMs));
  condition.values.emplace(":d", AttributeValue::number(next.leaseDuration.count()));
  return api_.updateItem(table_, key(), "SET #v = :v, #r = :r, #d = :d", condition);
}

core::Result<void> DynamoDbLeaseStore::release(const std::string& holder,
                                               const core::LeaseRecord& freed) {
  auto condition = heldBy(holder, freed.fence);
  condition.names.emplace("#v", kVersion);
  condition.names.emplace("#r", kRenewedAt);
  condition.values.emplace(":v", AttributeValue::string(freed.version));
  condition.values.emplace(":r", AttributeValue::number(freed.renewedAtUnixMs));
  return api_.updateItem(table_, key(), "SET #v = :v, #r = :r REMOVE #h", condition);
}

}  // namespace endpointbinder::aws
