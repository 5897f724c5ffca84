// Status JSON: RFC 3339 times, the exact object shape, and the round trip back to BindingStatus.
#include "controller/server/status_json.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <memory>

#include "api/spec_json.h"

namespace endpointbinder::server {
namespace {

using runtime::BindingStatus;
using runtime::ConditionStatus;
using runtime::EventType;
using ::testing::HasSubstr;

core::WallTime at(long long unixSeconds) {
  return core::WallTime(std::chrono::seconds(unixSeconds));
}

BindingStatus fullStatus() {
  BindingStatus s;
  s.ns = "factory-iot";
  s.name = "opensearch-dashboards";
  s.generation = "0123456789abcdef";
  s.observedGeneration = "fedcba9876543210";
  s.specJson = R"({"targetGroupARN":"arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:)"
               R"(targetgroup/tg/1","port":443,"source":{"dns":{"hostname":"vpc.example"}}})";
  s.targetGroupArn = "arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup/tg/1";
  s.conditions = {
      {"Ready", ConditionStatus::kFalse, "Converging", "1 listed targets not registered",
       at(1'700'000'000)},
      {"SourceResolved", ConditionStatus::kTrue, "Resolved", "dns source lists 3 targets",
       at(1'699'990'000)},
  };
  s.counts = {3, 2, 2, 0, 1, 0, 1, 0};
  runtime::PlanSummary plan;
  plan.toRegister = {"10.0.0.3:443"};
  plan.toDeregister = {};
  plan.held = {"10.0.0.9:443: WithinGracePeriod: absent 40s of 3m grace"};
  plan.applied = true;
  plan.time = at(1'700'000'060);
  s.lastPlan = plan;
  s.lastError = "Throttling: Rate exceeded (request id r-1, HTTP 400)";
  s.lastSyncTime = at(1'700'000'060);
  s.lastAttemptTime = at(1'700'000'120);
  s.creationTime = at(1'699'900'000);
  s.events = {
      {at(1'700'000'060), EventType::kNormal, "Registered", "registered 1 targets: 10.0.0.3:443",
       1},
      {at(1'700'000'120), EventType::kWarning, "SyncFailed", "Throttling: Rate exceeded", 3},
  };
  return s;
}

TEST(Rfc3339Test, FormatsUtcWithWholeSeconds) {
  EXPECT_EQ(formatRfc3339(at(1'700'000'000)), "2023-11-14T22:13:20Z");
  EXPECT_EQ(formatRfc3339(at(0)), "1970-01-01T00:00:00Z");
  EXPECT_EQ(formatRfc3339(at(1'700'000'000) + std::chrono::milliseconds(999)),
            "2023-11-14T22:13:20Z");
  EXPECT_EQ(formatRfc3339(at(-1)), "1969-12-31T23:59:59Z");
  EXPECT_EQ(formatRfc3339(at(951'782'400)), "2000-02-29T00:00:00Z");
}

TEST(Rfc3339Test, ParsesZoneOffsetsAndFractions) {
  EXPECT_EQ(parseRfc3339("2023-11-14T22:13:20Z"), at(1'700'000'000));
  EXPECT_EQ(parseRfc3339("2023-11-14t22:13:20z"), at(1'700'000'000));
  EXPECT_EQ(parseRfc3339("2023-11-14T23:43:20+01:30"), at(1'700'000'000));
  EXPECT_EQ(parseRfc3339("2023-11-14T17:13:20-05:00"), at(1'700'000'000));
  EXPECT_EQ(parseRfc3339("2023-11-14T22:13:20.25Z"),
            at(1'700'000'000) + std::chrono::milliseconds(250));
  EXPECT_EQ(parseRfc3339("2023-11-14T22:13:20.123456789Z"),
            at(1'700'000'000) + std::chrono::microseconds(123456));
  EXPECT_EQ(parseRfc3339("2000-02-29T00:00:00Z"), at(951'782'400));
}

TEST(Rfc3339Test, RejectsMalformedTimes) {
  for (const char* text :
       {"", "2023-11-14", "2023-11-14 22:13:20Z", "2023-11-14T22:13:20", "2023-11-14T22:13:20Zx",
        "2023-13-01T00:00:00Z", "2023-02-29T00:00:00Z", "2023-11-14T24:00:00Z",
        "2023-11-14T22:60:00Z", "2023-11-14T22:13:20.Z", "2023-11-14T22:13:20+0100",
        "2023-11-14T22:13:20+01:00:00", "2O23-11-14T22:13:20Z"}) {
    auto parsed = parseRfc3339(text);
    ASSERT_FALSE(parsed) << text;
    EXPECT_EQ(parsed.error().kind, core::ErrorKind::kTerminal);
    EXPECT_THAT(parsed.error().message, HasSubstr(text));
  }
}

TEST(StatusJsonTest, RendersTheKubernetesLikeObject) {
  EXPECT_EQ(
      bindingToJson(fullStatus()).serialize(),
      R"({"apiVersion":"endpointbinder.io/v1alpha1","kind":"TargetGroupBinding",)"
      R"("metadata":{"name":"opensearch-dashboards","namespace":"factory-iot",)"
      R"("generation":"0123456789abcdef","creationTimestamp":"2023-11-13T18:26:40Z"},)"
      R"("spec":{"port":443,"source":{"dns":{"hostname":"vpc.example"}},)"
      R"("targetGroupARN":"arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:)"
      R"(targetgroup/tg/1"},)"
      R"("status":{"observedGeneration":"fedcba9876543210","conditions":[)"
      R"({"type":"Ready","status":"False","reason":"Converging",)"
      R"("message":"1 listed targets not registered","lastTransitionTime":"2023-11-14T22:13:20Z"},)"
      R"({"type":"SourceResolved","status":"True","reason":"Resolved",)"
      R"("message":"dns source lists 3 targets","lastTransitionTime":"2023-11-14T19:26:40Z"}],)"
      R"("targets":{"desired":3,"registered":2,"healthy":2,"unhealthy":0,"draining":1,)"
      R"("initial":0,"missing":1,"unexpected":0},)"
      R"("lastPlan":{"toRegister":["10.0.0.3:443"],"toDeregister":[],)"
      R"("held":["10.0.0.9:443: WithinGracePeriod: absent 40s of 3m grace"],"applied":true,)"
      R"("time":"2023-11-14T22:14:20Z"},)"
      R"x("lastError":"Throttling: Rate exceeded (request id r-1, HTTP 400)",)x"
      R"("lastSyncTime":"2023-11-14T22:14:20Z","lastAttemptTime":"2023-11-14T22:15:20Z",)"
      R"("events":[{"type":"Normal","reason":"Registered",)"
      R"("message":"registered 1 targets: 10.0.0.3:443","count":1,)"
      R"("lastTimestamp":"2023-11-14T22:14:20Z"},)"
      R"({"type":"Warning","reason":"SyncFailed","message":"Throttling: Rate exceeded",)"
      R"("count":3,"lastTimestamp":"2023-11-14T22:15:20Z"}]}})");
}

TEST(StatusJsonTest, LeavesOutUnsetOptionalsAndFallsBackForTheSpec) {
  BindingStatus s;
  s.ns = "default";
  s.name = "web";
  s.targetGroupArn = "arn:tg";
  auto json = bindingToJson(s);
  const auto& status = json.at("status");
  EXPECT_FALSE(status.has_field("lastPlan"));
  EXPECT_FALSE(status.has_field("lastSyncTime"));
  EXPECT_FALSE(status.has_field("lastAttemptTime"));
  EXPECT_EQ(status.at("lastError").as_string(), "");
  EXPECT_EQ(status.at("conditions").size(), 0u);
  EXPECT_EQ(json.at("spec").serialize(), R"({"targetGroupARN":"arn:tg"})");

  s.targetGroupArn.clear();
  s.specJson = "{not json";
  EXPECT_EQ(bindingToJson(s).at("spec").serialize(), "{}");
  s.specJson = "[1,2]";
  EXPECT_EQ(bindingToJson(s).at("spec").serialize(), "{}");
}

// The controller's own statuses share the reconciler's spec and render it when asked (no
// JSON text kept per binding): the API serves the same object as for the spec's JSON text.
TEST(StatusJsonTest, ASharedSpecIsRenderedOnRequest) {
  auto spec = std::make_shared<api::TargetGroupBindingSpec>();
  spec->targetGroupArn.text =
      "arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:"
      "targetgroup/tg/1";
  spec->port = 443;
  BindingStatus shared;
  shared.name = "web";
  shared.spec = spec;
  BindingStatus text = shared;
  text.spec.reset();
  text.specJson = api::specToJson(*spec);
  EXPECT_EQ(shared.specText(), text.specJson);
  EXPECT_EQ(bindingToJson(shared).at("spec").serialize(),
            bindingToJson(text).at("spec").serialize());
  EXPECT_EQ(bindingToJson(shared).at("spec").at("port").as_integer(), 443);
  // Text, when present (a status read back from the API), is what is served.
  shared.specJson = R"({"targetGroupARN":"arn:other"})";
  EXPECT_EQ(bindingToJson(shared).at("spec").at("targetGroupARN").as_string(), "arn:other");
}

TEST(StatusJsonTest, RoundTripsThroughJson) {
  const auto original = fullStatus();
  auto parsed = bindingFromJson(bindingToJson(original));
  ASSERT_TRUE(parsed) << parsed.error().message;
  const auto& s = *parsed;
  EXPECT_EQ(s.kind, original.kind);
  EXPECT_EQ(s.ns, original.ns);
  EXPECT_EQ(s.name, original.name);
  EXPECT_EQ(s.generation, original.generation);
  EXPECT_EQ(s.observedGeneration, original.observedGeneration);
  EXPECT_EQ(s.targetGroupArn, original.targetGroupArn);
  EXPECT_EQ(web::json::value::parse(s.specJson), web::json::value::parse(original.specJson));
  ASSERT_EQ(s.conditions.size(), 2u);
  EXPECT_EQ(s.conditions[0].type, "Ready");
  EXPECT_EQ(s.conditions[0].status, ConditionStatus::kFalse);
  EXPECT_EQ(s.conditions[0].reason, "Converging");
  EXPECT_EQ(s.conditions[0].message, "1 listed targets not registered");
  EXPECT_EQ(s.conditions[0].lastTransitionTime, at(1'700'000'000));
  EXPECT_EQ(s.conditions[1].status, ConditionStatus::kTrue);
  EXPECT_EQ(s.counts.desired, 3);
  EXPECT_EQ(s.counts.registered, 2);
  EXPECT_EQ(s.counts.draining, 1);
  EXPECT_EQ(s.counts.missing, 1);
  ASSERT_TRUE(s.lastPlan);
  EXPECT_EQ(s.lastPlan->toRegister, original.lastPlan->toRegister);
  EXPECT_EQ(s.lastPlan->held, original.lastPlan->held);
  EXPECT_TRUE(s.lastPlan->applied);
  EXPECT_EQ(s.lastPlan->time, at(1'700'000'060));
  EXPECT_EQ(s.lastError, original.lastError);
  EXPECT_EQ(s.lastSyncTime, original.lastSyncTime);
  EXPECT_EQ(s.lastAttemptTime, original.lastAttemptTime);
  EXPECT_EQ(s.creationTime, original.creationTime);
  ASSERT_EQ(s.events.size(), 2u);
  EXPECT_EQ(s.events[1].type, EventType::kWarning);
  EXPECT_EQ(s.events[1].reason, "SyncFailed");
  EXPECT_EQ(s.events[1].count, 3);
  EXPECT_EQ(s.events[1].time, at(1'700'000'120));
  // And the JSON is a fixed point.
  EXPECT_EQ(bindingToJson(s).serialize(), bindingToJson(original).serialize());
}

TEST(StatusJsonTest, MinimalObjectParsesWithDefaults) {
  auto parsed = bindingFromJson(web::json::value::parse(
      R"({"kind":"TargetGroupBinding","metadata":{"name":"web","namespace":"default"}})"));
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(parsed->name, "web");
  EXPECT_FALSE(parsed->lastPlan);
  EXPECT_FALSE(parsed->lastSyncTime);
  EXPECT_TRUE(parsed->conditions.empty());
  EXPECT_EQ(parsed->specJson, "");
}

TEST(StatusJsonTest, ListRoundTrips) {
  auto second = fullStatus();
  second.name = "second";
  const auto json = bindingListToJson({fullStatus(), second}, "TargetGroupBindingList");
  EXPECT_EQ(json.at("apiVersion").as_string(), "endpointbinder.io/v1alpha1");
  EXPECT_EQ(json.at("kind").as_string(), "TargetGroupBindingList");
  ASSERT_EQ(json.at("items").size(), 2u);
  auto parsed = bindingListFromJson(json);
  ASSERT_TRUE(parsed) << parsed.error().message;
  ASSERT_EQ(parsed->size(), 2u);
  EXPECT_EQ((*parsed)[0].name, "opensearch-dashboards");
  EXPECT_EQ((*parsed)[1].name, "second");

  auto empty = bindingListFromJson(bindingListToJson({}, "DNSRecordBindingList"));
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->empty());
}

TEST(StatusJsonTest, BadJsonNamesTheField) {
  struct Case {
    const char* json;
    const char* expected;
  };
  const Case cases[] = {
      {R"([1])", "(root): not an object"},
      {R"({"kind":"TargetGroupBinding"})", "metadata: required object is missing"},
      {R"({"kind":"TargetGroupBinding","metadata":{}})", "metadata.name: required string"},
      {R"({"metadata":{"name":"a"}})", "kind: required string"},
      {R"({"kind":"X","metadata":{"name":"a","creationTimestamp":"yesterday"}})",
       "metadata.creationTimestamp: not an RFC 3339 time"},
      {R"({"kind":"X","metadata":{"name":"a"},"spec":[]})", "spec: not an object"},
      {R"({"kind":"X","metadata":{"name":"a"},"status":{"targets":{"desired":"3"}}})",
       "status.targets.desired: not an integer"},
      {R"({"kind":"X","metadata":{"name":"a"},"status":{"conditions":[{"status":"True"}]}})",
       "status.conditions[].type: required string"},
      {R"({"kind":"X","metadata":{"name":"a"},"status":{"lastPlan":{"toRegister":[1]}}})",
       "status.lastPlan.toRegister: array item is not a string"},
      {R"({"kind":"X","metadata":{"name":"a"},"status":{"events":[7]}})",
       "status.events: item is not an object"},
      {R"({"kind":"X","metadata":{"name":"a"},"status":{"lastSyncTime":5}})",
       "status.lastSyncTime: not an RFC 3339 time string"},
  };
  for (const auto& c : cases) {
    auto parsed = bindingFromJson(web::json::value::parse(c.json));
    ASSERT_FALSE(parsed) << c.json;
    EXPECT_EQ(parsed.error().kind, core::ErrorKind::kTerminal);
    EXPECT_THAT(parsed.error().message, HasSubstr(c.expected)) << c.json;
  }

  auto list = bindingListFromJson(web::json::value::parse(
      R"({"items":[{"kind":"X","metadata":{"name":"a"}},{"kind":"X","metadata":{}}]})"));
  ASSERT_FALSE(list);
  EXPECT_THAT(list.error().message, HasSubstr("items[1]: status JSON: metadata.name"));
}

TEST(StatusJsonTest, RecordBindingHasRecordCountsAndItsZoneAndRoundTrips) {
  BindingStatus s;
  s.kind = "DNSRecordBinding";
  s.ns = "platform";
  s.name = "internal-names";
  s.generation = "0123456789abcdef";
  s.targetGroupArn = "hostedzone/Z04517273P2QJMRVBE6KD";
  s.creationTime = at(1'700'000'000);
  s.conditions = {{"InSync", ConditionStatus::kFalse, "PENDING",
                   "Route 53 is propagating the last change", at(1'700'000'000)}};
  s.counts.desired = 4;
  s.counts.registered = 3;
  s.counts.missing = 1;
  s.counts.unexpected = 2;
  const auto json = bindingToJson(s);
  EXPECT_EQ(json.at("kind").as_string(), "DNSRecordBinding");
  EXPECT_EQ(json.at("spec").serialize(), R"({"hostedZoneId":"Z04517273P2QJMRVBE6KD"})");
  EXPECT_EQ(json.at("status").at("records").serialize(),
            R"({"desired":4,"present":3,"missing":1,"unexpected":2})");
  EXPECT_FALSE(json.at("status").has_field("targets")) << "no target counts for records";

  auto back = bindingFromJson(json);
  ASSERT_TRUE(back.has_value()) << back.error().message;
  EXPECT_EQ(back->kind, "DNSRecordBinding");
  EXPECT_EQ(back->targetGroupArn, s.targetGroupArn);
  EXPECT_EQ(back->counts.desired, 4);
  EXPECT_EQ(back->counts.registered, 3);
  EXPECT_EQ(back->counts.missing, 1);
  EXPECT_EQ(back->counts.unexpected, 2);
  ASSERT_EQ(back->conditions.size(), 1u);
  EXPECT_EQ(back->conditions[0].type, "InSync");

  // A spec the controller knows is served as it is, with its own hostedZoneId.
  s.specJson = R"({"hostedZoneId":"ZOTHER","reverseHostedZoneId":"ZREV"})";
  EXPECT_EQ(bindingToJson(s).at("spec").at("hostedZoneId").as_string(), "ZOTHER");
  EXPECT_EQ(bindingFromJson(bindingToJson(s))->targetGroupArn, "hostedzone/ZOTHER");

  auto bad = bindingToJson(s);
  bad["status"]["records"]["present"] = web::json::value::string("3");
  auto error = bindingFromJson(bad);
  ASSERT_FALSE(error.has_value());
  EXPECT_THAT(error.error().message, HasSubstr("status.records.present"));
}

TEST(StatusJsonTest, ErrorStatusObjects) {
  EXPECT_EQ(
      errorStatusJson(404, "targetgroupbindings.endpointbinder.io \"a/b\" not found").serialize(),
      R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",)"
      R"("message":"targetgroupbindings.endpointbinder.io \"a/b\" not found",)"
      R"("reason":"NotFound","code":404})");
  EXPECT_EQ(errorStatusJson(405, "x").at("reason").as_string(), "MethodNotAllowed");
  EXPECT_EQ(errorStatusJson(400, "x").at("reason").as_string(), "BadRequest");
  EXPECT_EQ(errorStatusJson(500, "x").at("reason").as_string(), "InternalError");
}

}  // namespace
}  // namespace endpointbinder::server
