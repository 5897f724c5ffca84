// DynamoDbClient and DynamoDbLeaseStore over a scripted transport: the AWS JSON 1.0 request
// (target, content type, SigV4 scope, body), answers and errors (a failed condition is
// kConflict; throttling and 5xx are retried; a missing table is kNotFound), and the lease
// item and conditions the store writes. Against a real DynamoDB-compatible server:
// tests/integration/scenario_leader_election_test.py.
#include "controller/aws/dynamodb_client.h"

#include <cpprest/json.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "controller/aws/dynamodb_lease.h"
#include "tests/support/fake_http_transport.h"

namespace endpointbinder::aws {
namespace {

using namespace std::chrono_literals;
using testing::FakeCredentialsProvider;
using testing::FakeHttpTransport;
using ::testing::HasSubstr;
using web::json::value;

HttpResponse jsonAnswer(int status, std::string body) {
  HttpResponse response;
  response.status = status;
  response.headers = {{"Content-Type", "application/x-amz-json-1.0"},
                      {"x-amzn-RequestId", "ddb-req"}};
  response.body = std::move(body);
  return response;
}

HttpResponse errorAnswer(int status, const std::string& type, const std::string& message) {
  return jsonAnswer(status, R"({"__type":"com.amazonaws.dynamodb.v20120810#)" + type +
                                R"(","message":")" + message + R"("})");
}

struct Harness {
  core::ManualClock clock;
  FakeHttpTransport transport;
  FakeCredentialsProvider credentials;
  std::vector<std::chrono::nanoseconds> sleeps;

  DynamoDbClient client() {
    QueryClientHooks hooks;
    hooks.random = [] { return 0.5; };
    hooks.sleep = [this](std::chrono::nanoseconds d) {
      sleeps.push_back(d);
      clock.advance(d);
    };
    return DynamoDbClient(dynamoDbServiceOptions("ap-northeast-1"), transport, credentials, clock,
                          hooks);
  }

  value body(size_t request) const { return value::parse(transport.requests().at(request).body); }
};

TEST(DynamoDbClient, GetItemIsAStronglyConsistentJson10Call) {
  Harness h;
  h.transport.push(jsonAnswer(
      200, R"({"Item":{"leaseName":{"S":"eb"},"fence":{"N":"7"},"flag":{"BOOL":true}}})"));
  auto client = h.client();
  auto item = client.getItem("leases", {{"leaseName", AttributeValue::string("eb")}});
  ASSERT_TRUE(item) << item.error().toString();
  ASSERT_TRUE(*item);
  EXPECT_EQ((**item).at("leaseName"), AttributeValue::string("eb"));
  EXPECT_EQ((**item).at("fence").integer(), 7);
  EXPECT_FALSE((**item).contains("flag")) << "only S and N are read";

  const auto request = h.transport.requests().at(0);
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(request.url, "https://dynamodb.ap-northeast-1.amazonaws.com/");
  EXPECT_EQ(findHeader(request.headers, "X-Amz-Target"), "DynamoDB_20120810.GetItem");
  EXPECT_EQ(findHeader(request.headers, "Content-Type"), "application/x-amz-json-1.0");
  EXPECT_THAT(std::string(findHeader(request.headers, "Authorization")),
              HasSubstr("/ap-northeast-1/dynamodb/aws4_request"));
  const auto body = h.body(0);
  EXPECT_EQ(body.at("TableName").as_string(), "leases");
  EXPECT_TRUE(body.at("ConsistentRead").as_bool());
  EXPECT_EQ(body.at("Key").at("leaseName").at("S").as_string(), "eb");
}

TEST(DynamoDbClient, MissingItemIsNullopt) {
  Harness h;
  h.transport.push(jsonAnswer(200, "{}"));
  auto item = h.client().getItem("leases", {{"leaseName", AttributeValue::string("eb")}});
  ASSERT_TRUE(item);
  EXPECT_FALSE(*item);
}

TEST(DynamoDbClient, PutItemSendsTheConditionAndItsPlaceholders) {
  Harness h;
  h.transport.push(jsonAnswer(200, "{}"));
  ConditionSpec condition{
      "#v = :expected", {{"#v", "version"}}, {{":expected", AttributeValue::string("abc")}}};
  auto put = h.client().putItem(
      "leases", {{"leaseName", AttributeValue::string("eb")}, {"fence", AttributeValue::number(3)}},
      condition);
  ASSERT_TRUE(put) << put.error().toString();
  EXPECT_EQ(findHeader(h.transport.requests().at(0).headers, "X-Amz-Target"),
            "DynamoDB_20120810.PutItem");
  const auto body = h.body(0);
  EXPECT_EQ(body.at("Item").at("fence").at("N").as_string(), "3");
  EXPECT_EQ(body.at("ConditionExpression").as_string(), "#v = :expected");
  EXPECT_EQ(body.at("ExpressionAttributeNames").at("#v").as_string(), "version");
  EXPECT_EQ(body.at("ExpressionAttributeValues").at(":expected").at("S").as_string(), "abc");
}

TEST(DynamoDbClient, FailedConditionIsAConflictAndNotRetried) {
  Harness h;
  h.transport.push(
      errorAnswer(400, "ConditionalCheckFailedException", "The conditional request failed"));
  auto result = h.client().updateItem("leases", {{"leaseName", AttributeValue::string("eb")}},
                                      "SET #v = :v", {"#h = :me", {}, {}});
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, core::ErrorKind::kConflict);
  EXPECT_EQ(result.error().code, "ConditionalCheckFailedException");
  EXPECT_EQ(h.transport.requestCount(), 1u);
  EXPECT_EQ(findHeader(h.transport.requests().at(0).headers, "X-Amz-Target"),
            "DynamoDB_20120810.UpdateItem");
  EXPECT_EQ(h.body(0).at("UpdateExpression").as_string(), "SET #v = :v");
}

TEST(DynamoDbClient, ThrottlingAndServerErrorsAreRetried) {
  Harness h;
  h.transport.push(errorAnswer(400, "ProvisionedThroughputExceededException", "slow down"));
  h.transport.push(jsonAnswer(500, R"({"__type":"InternalServerError","message":"oops"})"));
  h.transport.push(jsonAnswer(200, "{}"));
  auto result = h.client().getItem("leases", {{"leaseName", AttributeValue::string("eb")}});
  ASSERT_TRUE(result) << result.error().toString();
  EXPECT_EQ(h.transport.requestCount(), 3u);
  EXPECT_EQ(h.sleeps.size(), 2u);
}

TEST(DynamoDbClient, MissingTableIsNotFound) {
  Harness h;
  h.transport.push(errorAnswer(400, "ResourceNotFoundException",
                               "Requested resource not found: Table: leases not found"));
  auto result = h.client().getItem("leases", {{"leaseName", AttributeValue::string("eb")}});
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, core::ErrorKind::kNotFound);
  EXPECT_THAT(result.error().message, HasSubstr("Table: leases not found"));
}

TEST(DynamoDbClient, MalformedAnswersAreErrors) {
  EXPECT_FALSE(parseGetItemOutput("not json"));
  EXPECT_FALSE(parseGetItemOutput("[]"));
  EXPECT_FALSE(parseGetItemOutput(R"({"Item":[]})"));
  EXPECT_FALSE(parseGetItemOutput(R"({"Item":{"a":"b"}})"));
  AttributeValue notInteger{AttributeValue::Type::kNumber, "1.5"};
  EXPECT_EQ(notInteger.integer(), std::nullopt);
  EXPECT_EQ(AttributeValue::string("7").integer(), std::nullopt);
}

// ---- the lease store ------------------------------------------------------------------------

core::LeaseRecord record(std::string holder, std::uint64_t fence, std::string version) {
  core::LeaseRecord r;
  r.holder = std::move(holder);
  r.fence = fence;
  r.version = std::move(version);
  r.leaseDuration = 15s;
  r.renewedAtUnixMs = 1'700'000'000'000;
  r.acquiredAtUnixMs = 1'699'999'990'000;
  return r;
}

TEST(DynamoDbLeaseStore, ItemRoundTrips) {
  const auto item = itemFromLease("eb", record("replica-a", 4, "v1"));
  EXPECT_EQ(item.at("leaseName"), AttributeValue::string("eb"));
  EXPECT_EQ(item.at("fence"), AttributeValue::number(4));
  EXPECT_EQ(item.at("leaseDurationMs"), AttributeValue::number(15000));
  auto back = leaseFromItem(item);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->holder, "replica-a");
  EXPECT_EQ(back->fence, 4u);
  EXPECT_EQ(back->version, "v1");
  EXPECT_EQ(back->leaseDuration, 15s);
  EXPECT_EQ(back->renewedAtUnixMs, 1'700'000'000'000);
  // Released: no holder attribute at all.
  EXPECT_FALSE(itemFromLease("eb", record("", 4, "v2")).contains("holder"));
  // Someone else's item.
  auto foreign = item;
  foreign["fence"] = AttributeValue::string("four");
  EXPECT_EQ(leaseFromItem(foreign).error().code, "MalformedLease");
  foreign = item;
  foreign.erase("version");
  EXPECT_EQ(leaseFromItem(foreign).error().code, "MalformedLease");
}

TEST(DynamoDbLeaseStore, WritesAreConditional) {
  Harness h;
  for (int i = 0; i < 4; ++i) h.transport.push(jsonAnswer(200, "{}"));
  auto client = h.client();
  DynamoDbLeaseStore store(client, "leases", "eb");

  ASSERT_TRUE(store.acquire(record("a", 1, "v1"), std::nullopt));
  auto body = h.body(0);
  EXPECT_EQ(body.at("ConditionExpression").as_string(), "attribute_not_exists(#k)");
  EXPECT_EQ(body.at("ExpressionAttributeNames").at("#k").as_string(), "leaseName");
  EXPECT_EQ(body.at("Item").at("holder").at("S").as_string(), "a");

  ASSERT_TRUE(store.acquire(record("b", 2, "v2"), std::string("v1")));
  body = h.body(1);
  EXPECT_EQ(body.at("ConditionExpression").as_string(), "#v = :expected");
  EXPECT_EQ(body.at("ExpressionAttributeValues").at(":expected").at("S").as_string(), "v1");

  ASSERT_TRUE(store.renew(record("b", 2, "v3")));
  body = h.body(2);
  EXPECT_EQ(findHeader(h.transport.requests().at(2).headers, "X-Amz-Target"),
            "DynamoDB_20120810.UpdateItem");
  EXPECT_EQ(body.at("ConditionExpression").as_string(), "#h = :holder AND #f = :fence");
  EXPECT_EQ(body.at("ExpressionAttributeValues").at(":holder").at("S").as_string(), "b");
  EXPECT_EQ(body.at("ExpressionAttributeValues").at(":fence").at("N").as_string(), "2");
  EXPECT_EQ(body.at("UpdateExpression").as_string(), "SET #v = :v, #r = :r, #d = :d");

  ASSERT_TRUE(store.release("b", record("", 2, "v4")));
  body = h.body(3);
  EXPECT_EQ(body.at("UpdateExpression").as_string(), "SET #v = :v, #r = :r REMOVE #h");
  EXPECT_EQ(body.at("ExpressionAttributeValues").at(":fence").at("N").as_string(), "2");
}

TEST(DynamoDbLeaseStore, ReadsTheRecord) {
  Harness h;
  h.transport.push(jsonAnswer(200, "{}"));
  h.transport.push(jsonAnswer(
      200, R"({"Item":{"leaseName":{"S":"eb"},"fence":{"N":"2"},"version":{"S":"v9"},)"
           R"("leaseDurationMs":{"N":"15000"},"renewedAt":{"N":"5"},"acquiredAt":{"N":"4"}}})"));
  auto client = h.client();
  DynamoDbLeaseStore store(client, "leases", "eb");
  auto none = store.read();
  ASSERT_TRUE(none);
  EXPECT_FALSE(*none);
  auto freed = store.read();
  ASSERT_TRUE(freed && *freed);
  EXPECT_EQ((*freed)->holder, "") << "released";
  EXPECT_EQ((*freed)->fence, 2u);
  EXPECT_EQ((*freed)->version, "v9");
}

}  // namespace
}  // namespace endpointbinder::aws
