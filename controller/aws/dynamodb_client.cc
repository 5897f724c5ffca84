#include "controller/aws/dynamodb_client.h"

#include <cpprest/json.h>
#include <fmt/format.h>

#include <charconv>

namespace endpointbinder::aws {
namespace {

using web::json::value;

std::unexpected<core::Error> malformedGetItem(std::string what) {
  return core::makeError(core::ErrorKind::kRetryable, "GetItem response: " + what,
                         "MalformedResponse");
}

value attributeJson(const AttributeValue& attribute) {
  value out = value::object();
  out[attribute.type == AttributeValue::Type::kNumber ? "N" : "S"] = value::string(attribute.text);
  return out;
}

value itemJson(const Item& item) {
  value out = value::object();
  for (const auto& [name, attribute] : item) out[name] = attributeJson(attribute);
  return out;
}

void addCondition(value& input, const ConditionSpec& condition) {
  if (!condition.expression.empty()) {
    input["ConditionExpression"] = value::string(condition.expression);
  }
  if (!condition.names.empty()) {
    value names = value::object();
    for (const auto& [placeholder, name] : condition.names)
      names[placeholder] = value::string(name);
    input["ExpressionAttributeNames"] = names;
  }
  if (!condition.values.empty()) input["ExpressionAttributeValues"] = itemJson(condition.values);
}

}  // namespace

std::optional<std::int64_t> AttributeValue::integer() const {
  if (type != Type::kNumber) return std::nullopt;
  std::int64_t out = 0;
  const auto* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, out);
  if (ec != std::errc() || ptr != end) return std::nullopt;
  return out;
}

JsonServiceOptions dynamoDbServiceOptions(std::string region, std::string endpoint,
                                          RetryOptions retry) {
  JsonServiceOptions options;
  options.service = std::string(kDynamoDbSigningName);
  options.targetPrefix = std::string(kDynamoDbTargetPrefix);
  options.jsonVersion = "1.0";
  options.endpoint = endpoint.empty() ? fmt::format("https://dynamodb.{}.amazonaws.com", region)
                                      : std::move(endpoint);
  options.region = std::move(region);
  options.retry = retry;
  return options;
}

std::string getItemInput(const std::string& table, const Item& key) {
  value input = value::object();
  input["TableName"] = value::string(table);
  input["Key"] = itemJson(key);
  input["ConsistentRead"] = value::boolean(true);
  return input.serialize();
}

std::string putItemInput(const std::string& table, const Item& item,
                         const ConditionSpec& condition) {
  value input = value::object();
  input["TableName"] = value::string(table);
  input["Item"] = itemJson(item);
  addCondition(input, condition);
  return input.serialize();
}

std::string updateItemInput(const std::string& table, const Item& key,
                            const std::string& updateExpression, const ConditionSpec& condition) {
  value input = value::object();
  input["TableName"] = value::string(table);
  input["Key"] = itemJson(key);
  input["UpdateExpression"] = value::string(updateExpression);
  addCondition(input, condition);
  return input.serialize();
}

core::Result<std::optional<Item>> parseGetItemOutput(std::string_view json) {
  value doc;
  try {
    std::error_code error;
    doc = value::parse(std::string(json), error);
    if (error) return malformedGetItem("not JSON");
  } catch (const std::exception&) {
    return malformedGetItem("not JSON");
  }
  if (!doc.is_object()) return malformedGetItem("not a JSON object");
  if (!doc.has_field("Item")) return std::optional<Item>();
  const auto& itemJson = doc.at("Item");
  if (!itemJson.is_object()) return malformedGetItem("Item is not an object");
  Item item;
  for (const auto& [name, attribute] : itemJson.as_object()) {
    if (!attribute.is_object()) return malformedGetItem("attribute " + name + " is not an object");
    if (attribute.has_string_field("S")) {
      item[name] = AttributeValue::string(attribute.at("S").as_string());
    } else if (attribute.has_string_field("N")) {
      item[name] = AttributeValue{AttributeValue::Type::kNumber, attribute.at("N").as_string()};
    }
  }
  return std::optional<Item>(std::move(item));
}

DynamoDbClient::DynamoDbClient(JsonServiceOptions service, HttpTransport& transport,
                               CredentialsProvider& credentials, const core::Clock& clock,
                               QueryClientHooks hooks)
    : json_(std::move(service), transport, credentials, clock, std::move(hooks)) {}

core::Result<JsonResponse> DynamoDbClient::call(std::string_view operation,
                                                const std::string& input) {
  auto response = json_.call(operation, input);
  if (!response && response.error().code == "ConditionalCheckFailedException") {
    response.error().kind = core::ErrorKind::kConflict;
  }
  return response;
}

core::Result<std::optional<Item>> DynamoDbClient::getItem(const std::string& table,
                                                          const Item& key) {
  auto response = call("GetItem", getItemInput(table, key));
  if (!response) return std::unexpected(std::move(response.error()));
  auto parsed = parseGetItemOutput(response->body);
  if (!parsed) {
    parsed.error().requestId = response->requestId;
    parsed.error().httpStatus = response->httpStatus;
  }
  return parsed;
}

core::Result<void> DynamoDbClient::putItem(const std::string& table, const Item& item,
                                           const ConditionSpec& condition) {
  auto response = call("PutItem", putItemInput(table, item, condition));
  if (!response) return std::unexpected(std::move(response.error()));
  return {};
}

core::Result<void> DynamoDbClient::updateItem(const std::string& table, const Item& key,
                                              const std::string& updateExpression,
                                              const ConditionSpec& condition) {
  auto response = call("UpdateItem", updateItemInput(table, key, updateExpression, condition));
  if (!response) return std::unexpected(std::move(response.error()));
  return {};
}

}  // namespace endpointbinder::aws
