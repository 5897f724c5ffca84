// Route53Client against the local AWS emulator over real HTTP: CpprestTransport, SigV4 for
// us-east-1/route53 (the emulator verifies every signature with botocore), the REST paths and
// the change batch document as the emulator validates them against the botocore model,
// paging across pages, InvalidChangeBatch messages, PriorRequestNotComplete retries, and
// route53RateLimits() keeping a run of calls under the emulator's 5 requests per second. Each
// test starts its own emulator on an ephemeral loopback port and stops it at the end.
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "controller/aws/cpprest_transport.h"
#include "controller/aws/route53_client.h"
#include "tests/support/emulator_process.h"
#include "tests/support/fake_http_transport.h"

namespace endpointbinder::aws {
namespace {

using std::chrono::milliseconds;
using testing::EmulatorOptions;
using testing::EmulatorProcess;
using testing::FakeCredentialsProvider;
using ::testing::HasSubstr;
using web::json::value;

class Route53EmulatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto emulator = EmulatorProcess::start(EmulatorOptions{});
    ASSERT_TRUE(emulator.has_value()) << emulator.error().toString();
    emulator_ = std::move(*emulator);
    auto transport = CpprestTransport::create(CpprestTransportOptions{});
    ASSERT_TRUE(transport.has_value()) << transport.error().toString();
    transport_ = std::move(*transport);
    Credentials credentials;
    credentials.accessKeyId = "test";
    credentials.secretAccessKey = "test";
    credentials.providerName = "static";
    credentials_.set(credentials);
  }

  std::unique_ptr<Route53Client> makeClient(int maxItems = 300) {
    RetryOptions retry;
    retry.maxAttempts = 5;
    retry.baseDelay = milliseconds(20);
    retry.maxBackoff = milliseconds(100);
    auto options = route53ServiceOptions(emulator_->url(), "", retry);
    options.maxItems = maxItems;
    QueryClientHooks hooks;
    hooks.rateLimiter = &limiter_;  // as AwsSetup::route53() wires it: under the emulator's 5/s
    hooks.observer = &observer_;
    hooks.random = [] { return 0.5; };
    return std::make_unique<Route53Client>(std::move(options), *transport_, credentials_, clock_,
                                           std::move(hooks));
  }

  std::string createZone(const std::string& name) {
    value spec = value::object();
    spec["name"] = value::string(name);
    value vpc = value::object();
    vpc["region"] = value::string("eu-west-1");
    vpc["vpcId"] = value::string("vpc-0a1b2c3d");
    spec["vpcs"] = value::array({vpc});
    auto zone = emulator_->control("POST", "route53/zones", spec);
    EXPECT_TRUE(zone.has_value()) << zone.error().toString();
    return zone ? zone->at("id").as_string() : "";
  }

  core::RealClock clock_;
  RateLimiter limiter_{route53RateLimits(), clock_};
  std::unique_ptr<EmulatorProcess> emulator_;
  std::unique_ptr<CpprestTransport> transport_;
  FakeCredentialsProvider credentials_;
  CountingObserver observer_;
};

ResourceRecordSet aSet(std::string name, std::vector<std::string> values, std::int64_t ttl = 60) {
  return ResourceRecordSet{std::move(name), "A", ttl, std::move(values), "", false};
}

TEST_F(Route53EmulatorTest, ReadsAZoneWritesABatchAndFollowsTheChange) {
  const std::string zoneId = createZone("corp.internal");
  auto client = makeClient();

  auto zone = client->getHostedZone("/hostedzone/" + zoneId);
  ASSERT_TRUE(zone) << zone.error().toString();
  EXPECT_EQ(zone->id, zoneId);
  EXPECT_EQ(zone->name, "corp.internal.");
  EXPECT_TRUE(zone->privateZone);
  ASSERT_EQ(zone->vpcs.size(), 1u);
  EXPECT_EQ(zone->vpcs[0].vpcId, "vpc-0a1b2c3d");

  const std::string txt = "\"heritage=endpoint-binder,owner=\\\"ns/web\\\" & <more>\"";
  auto change = client->changeResourceRecordSets(
      zoneId,
      {{ChangeAction::kCreate, aSet("web.corp.internal.", {"10.0.0.1", "10.0.0.2"})},
       {ChangeAction::kUpsert, {"web.corp.internal.", "TXT", 60, {txt}, "", false}},
       {ChangeAction::kCreate, aSet("*.corp.internal.", {"10.0.0.3"})}},
      "endpoint-binder: ns/web");
  ASSERT_TRUE(change) << change.error().toString();
  EXPECT_EQ(change->status, "PENDING");
  EXPECT_FALSE(change->id.starts_with("/change/"));

  auto followed = client->getChange(change->id);
  ASSERT_TRUE(followed) << followed.error().toString();
  EXPECT_EQ(followed->id, change->id);

  auto sets = client->listResourceRecordSets(zoneId);
  ASSERT_TRUE(sets) << sets.error().toString();
  std::map<std::string, ResourceRecordSet> byKey;
  for (const auto& set : *sets) byKey[set.name + " " + set.type] = set;
  ASSERT_TRUE(byKey.contains("web.corp.internal. TXT"));
  EXPECT_EQ(byKey["web.corp.internal. TXT"].values, std::vector<std::string>{txt});
  EXPECT_EQ(byKey["web.corp.internal. A"].values,
            (std::vector<std::string>{"10.0.0.1", "10.0.0.2"}));
  EXPECT_TRUE(byKey.contains("\\052.corp.internal. A"));
  EXPECT_TRUE(byKey.contains("corp.internal. SOA"));

  // A DELETE that does not match is refused with Route 53's message, and nothing changes.
  auto refused = client->changeResourceRecordSets(
      zoneId, {{ChangeAction::kDelete, aSet("web.corp.internal.", {"10.0.0.9"})}}, "");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, "InvalidChangeBatch");
  EXPECT_EQ(refused.error().kind, core::ErrorKind::kTerminal);
  EXPECT_THAT(refused.error().message,
              HasSubstr("Tried to delete resource record set [name='web.corp.internal.', "
                        "type='A'] but the values provided do not match the current values"));

  for (const char* operation :
       {"GetHostedZone", "ChangeResourceRecordSets", "GetChange", "ListResourceRecordSets"}) {
    EXPECT_EQ(observer_.attempts(operation, CallOutcome::kThrottled), 0) << operation;
  }

  auto missing = client->getHostedZone("Z0NOSUCHZONE");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().kind, core::ErrorKind::kNotFound) << missing.error().toString();
}

TEST_F(Route53EmulatorTest, ListsAcrossPagesIncludingRoutingSets) {
  const std::string zoneId = createZone("pages.internal");
  // Foreign sets through the control API: simple, weighted (same name and type twice) and
  // an alias.
  value sets = value::array();
  for (int i = 0; i < 5; ++i) {
    value set = value::object();
    set["name"] = value::string(fmt::format("h{}.pages.internal", i));
    set["type"] = value::string("A");
    set["ttl"] = value::number(60);
    set["values"] = value::array({value::string(fmt::format("10.0.1.{}", i + 1))});
    sets[sets.size()] = set;
  }
  for (const char* id : {"blue", "green"}) {
    value set = value::object();
    set["name"] = value::string("w.pages.internal");
    set["type"] = value::string("A");
    set["ttl"] = value::number(60);
    set["values"] = value::array({value::string("10.0.2.1")});
    set["setIdentifier"] = value::string(id);
    set["weight"] = value::number(10);
    sets[sets.size()] = set;
  }
  value body = value::object();
  body["zoneId"] = value::string(zoneId);
  body["recordSets"] = sets;
  auto put = emulator_->control("POST", "route53/record-sets", body);
  ASSERT_TRUE(put.has_value()) << put.error().toString();

  auto client = makeClient(2);
  auto listed = client->listResourceRecordSets(zoneId);
  ASSERT_TRUE(listed) << listed.error().toString();
  EXPECT_EQ(listed->size(), 9u);  // NS, SOA, 5 simple, 2 weighted
  int special = 0;
  for (const auto& set : *listed) {
    if (set.special) {
      ++special;
      EXPECT_EQ(set.name, "w.pages.internal.");
      EXPECT_FALSE(set.setIdentifier.empty());
    }
  }
  EXPECT_EQ(special, 2);
  EXPECT_EQ(observer_.calls("ListResourceRecordSets", CallOutcome::kSuccess), 5);  // 2 a page
}

TEST_F(Route53EmulatorTest, RetriesPriorRequestNotComplete) {
  const std::string zoneId = createZone("busy.internal");
  value fault = value::object();
  fault["service"] = value::string("route53");
  fault["action"] = value::string("ChangeResourceRecordSets");
  fault["errorRate"] = value::number(1);
  fault["errorStatus"] = value::number(400);
  fault["remaining"] = value::number(2);
  ASSERT_TRUE(emulator_->addFault(fault).has_value());

  auto client = makeClient();
  auto change = client->changeResourceRecordSets(
      zoneId, {{ChangeAction::kUpsert, aSet("a.busy.internal.", {"10.0.0.1"})}}, "");
  ASSERT_TRUE(change) << change.error().toString();
  EXPECT_EQ(observer_.totals("ChangeResourceRecordSets").attempts, 3);
  auto sets = client->listResourceRecordSets(zoneId);
  ASSERT_TRUE(sets) << sets.error().toString();
  EXPECT_EQ(sets->size(), 3u);  // NS, SOA and the one set: applied once
}

}  // namespace
}  // namespace endpointbinder::aws
