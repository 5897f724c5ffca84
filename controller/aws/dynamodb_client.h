// DynamoDB, the item calls leader election needs: GetItem (strongly consistent), PutItem and
// UpdateItem with a ConditionExpression. AWS JSON 1.0 protocol (`X-Amz-Target:
// DynamoDB_20120810.<Operation>`, `Content-Type: application/x-amz-json-1.0`), SigV4 service
// "dynamodb", through JsonClient: throttling (ProvisionedThroughputExceededException,
// ThrottlingException, RequestLimitExceeded) and 5xx are retried in standard mode.
// A failed condition (ConditionalCheckFailedException) is an Error of kind kConflict: someone
// else changed the item; a missing table (ResourceNotFoundException) is kNotFound.
//
// No DeleteItem: the lease item is never deleted, because its fencing counter must only grow.
// Items hold string (S) and number (N) attributes only; anything else in an answer is skipped.
// Thread-safety: DynamoDbClient may be used concurrently; the input builders and parsers are
// pure.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "controller/aws/json_client.h"

namespace endpointbinder::aws {

inline constexpr std::string_view kDynamoDbSigningName = "dynamodb";
inline constexpr std::string_view kDynamoDbTargetPrefix = "DynamoDB_20120810";

struct AttributeValue {
  enum class Type { kString, kNumber };
  Type type = Type::kString;
  std::string text;  // the string, or the number as DynamoDB writes it ("42")

  static AttributeValue string(std::string value) { return {Type::kString, std::move(value)}; }
  static AttributeValue number(std::int64_t value) {
    return {Type::kNumber, std::to_string(value)};
  }
  // The number as an integer; nullopt for a string or a number that is not a 64-bit integer.
  std::optional<std::int64_t> integer() const;
  bool operator==(const AttributeValue&) const = default;
};

using Item = std::map<std::string, AttributeValue>;

// A ConditionExpression ("#h = :me AND #f = :fence") with its placeholder maps. Empty
// expression: unconditional.
struct ConditionSpec {
  std::string expression;
  std::map<std::string, std::string> names;  // "#h" -> "holder"
  Item values;                               // ":me" -> {S: "replica-a"}
};

// The interface the lease store uses; tests substitute a fake.
class DynamoDbApi {
 public:
  virtual ~DynamoDbApi() = default;
  // The item with `key`, read strongly consistently; nullopt when there is none.
  virtual core::Result<std::optional<Item>> getItem(const std::string& table, const Item& key) = 0;
  // Writes `item` whole if `condition` holds (kConflict when it does not).
  virtual core::Result<void> putItem(const std::string& table, const Item& item,
                                     const ConditionSpec& condition) = 0;
  // Applies `updateExpression` ("SET #v = :v REMOVE #h") to the item with `key` if
  // `condition` holds; `condition`'s names and values also serve the update expression.
  virtual core::Result<void> updateItem(const std::string& table, const Item& key,
                                        const std::string& updateExpression,
                                        const ConditionSpec& condition) = 0;
};

// Options for DynamoDB in `region`; an empty `endpoint` means
// https://dynamodb.<region>.amazonaws.com.
JsonServiceOptions dynamoDbServiceOptions(std::string region, std::string endpoint = {},
                                          RetryOptions retry = {});

// The JSON inputs, pure. Attribute values are written as {"S": "..."} or {"N": "..."}.
std::string getItemInput(const std::string& table, const Item& key);
std::string putItemInput(const std::string& table, const Item& item,
                         const ConditionSpec& condition);
std::string updateItemInput(const std::string& table, const Item& key,
                            const std::string& updateExpression, const ConditionSpec& condition);

// Parses a GetItem answer: {"Item": {...}} or {} (no item). kRetryable "MalformedResponse"
// when it is not such JSON.
core::Result<std::optional<Item>> parseGetItemOutput(std::string_view json);

class DynamoDbClient final : public DynamoDbApi {
 public:
  DynamoDbClient(JsonServiceOptions service, HttpTransport& transport,
                 CredentialsProvider& credentials, const core::Clock& clock,
                 QueryClientHooks hooks = {});

  core::Result<std::optional<Item>> getItem(const std::string& table, const Item& key) override;
  core::Result<void> putItem(const std::string& table, const Item& item,
                             const ConditionSpec& condition) override;
  core::Result<void> updateItem(const std::string& table, const Item& key,
                                const std::string& updateExpression,
                                const ConditionSpec& condition) override;

 private:
  core::Result<JsonResponse> call(std::string_view operation, const std::string& input);

  JsonClient json_;
};

}  // namespace endpointbinder::aws
