// What is worth a notification (NotificationTracker), how events of one binding fold into one
// message (Notice), and how a message reads in Slack (Block Kit) and SNS (AWS Chatbot shape).
#include "controller/runtime/notification.h"

#include <cpprest/json.h>
#include <gtest/gtest.h>

#include "api/decode.h"
#include "controller/runtime/notification_render.h"

namespace endpointbinder::runtime {
namespace {

using web::json::value;

constexpr const char* kArn =
    "arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup/web-tg/0123456789abcdef";

api::TargetGroupBinding binding(const std::string& notifications = "") {
  const std::string yaml = std::string(R"(apiVersion: endpointbinder.io/v1alpha1
kind: TargetGroupBinding
metadata: {name: web, namespace: prod}
spec:
  targetGroupARN: )") + kArn +
                           R"(
  targetType: ip
  port: 443
  source:
    dns: {hostname: app.internal}
)" + notifications;
  auto decoded = api::decodeManifests(yaml, "test.yaml");
  EXPECT_TRUE(decoded.errors.empty())
      << (decoded.errors.empty() ? "" : decoded.errors[0].toString());
  EXPECT_EQ(decoded.targetGroupBindings.size(), 1u);
  return decoded.targetGroupBindings.at(0);
}

core::WallTime at(int seconds) {
  return core::WallTime{std::chrono::seconds(1'700'000'000 + seconds)};
}

core::Target target(const std::string& ip) { return core::Target{ip, 443, std::nullopt}; }

struct Synced {
  std::vector<core::Target> registered, deregistered, listed;
  std::vector<core::HeldTarget> held;
  TargetCounts counts{2, 2, 2, 0, 0, 0, 0, 0};
  ReconcileReport report(const api::TargetGroupBinding& b, int time) const {
    ReconcileReport r;
    r.kind = ReconcileReport::Kind::kSynced;
    r.binding = &b;
    r.time = at(time);
    r.applied = true;
    r.registered = registered;
    r.deregistered = deregistered;
    r.listed = listed;
    r.held = held;
    r.counts = counts;
    return r;
  }
};

ReconcileReport failed(const api::TargetGroupBinding& b, const core::Error& error, int time) {
  ReconcileReport r;
  r.kind = ReconcileReport::Kind::kFailed;
  r.binding = &b;
  r.time = at(time);
  r.error = &error;
  return r;
}

ReconcileReport conflict(const api::TargetGroupBinding& b, std::string_view message, int time) {
  ReconcileReport r;
  r.kind = ReconcileReport::Kind::kConflict;
  r.binding = &b;
  r.time = at(time);
  r.message = message;
  return r;
}

std::vector<std::string> kinds(const std::vector<NoticeEvent>& events) {
  std::vector<std::string> out;
  for (const auto& e : events) out.emplace_back(noticeKindName(e.kind));
  return out;
}

TEST(NotificationTracker, WritesBecomeRegisteredAndDeregisteredWithWhy) {
  const auto b = binding();
  NotificationTracker tracker;
  Synced s;
  s.registered = {target("10.0.1.6")};
  s.deregistered = {target("10.0.1.5")};
  s.listed = {target("10.0.1.6")};
  const auto result = tracker.onReport(s.report(b, 0));
  ASSERT_EQ(kinds(result.events), (std::vector<std::string>{"Registered", "Deregistered"}));
  EXPECT_EQ(result.events[0].targets, std::vector<std::string>{"10.0.1.6:443"});
  EXPECT_EQ(result.events[0].detail, "listed by the dns app.internal source");
  EXPECT_EQ(result.events[1].targets, std::vector<std::string>{"10.0.1.5:443"});
  EXPECT_EQ(result.events[1].detail,
            "no longer listed by the dns app.internal source (for at least 3m, "
            "policy.deregistrationGracePeriod)");
  EXPECT_EQ(result.context.key, "prod/web");
  EXPECT_EQ(result.context.targetGroupName, "web-tg");
  ASSERT_TRUE(result.context.counts.has_value());
  EXPECT_EQ(result.context.counts->registered, 2);
  // Nothing written, nothing to say.
  EXPECT_TRUE(tracker.onReport(Synced{}.report(b, 1)).events.empty());
}

TEST(NotificationTracker, BlockedOnceWhenARuleStartsHoldingNeverForGrace) {
  const auto b = binding();
  NotificationTracker tracker;
  Synced s;
  s.held = {{target("10.0.1.5"), core::HoldReason::kWithinGracePeriod, true, "absent for 40s"},
            {target("10.0.1.7"), core::HoldReason::kMinTargets, true,
             "would leave 0 registered targets of minTargets 1"}};
  auto first = tracker.onReport(s.report(b, 0));
  ASSERT_EQ(kinds(first.events), std::vector<std::string>{"Blocked"});
  EXPECT_EQ(first.events[0].reason, "MinTargets");
  EXPECT_EQ(first.events[0].detail,
            "1 change held by MinTargets (10.0.1.7:443: would leave 0 registered targets of "
            "minTargets 1)");
  EXPECT_TRUE(tracker.onReport(s.report(b, 1)).events.empty()) << "still held: not news";
  s.held.pop_back();
  EXPECT_TRUE(tracker.onReport(s.report(b, 2)).events.empty()) << "grace alone is routine";
  s.held.push_back({target("10.0.1.7"), core::HoldReason::kMinTargets, true, "again"});
  EXPECT_EQ(kinds(tracker.onReport(s.report(b, 3)).events), std::vector<std::string>{"Blocked"});
}

TEST(NotificationTracker, FailingAfterAStreakThenRecovered) {
  const auto b = binding();
  NotificationTracker tracker(TrackerOptions{.failingAfter = 3});
  core::Error error{core::ErrorKind::kRetryable, "DescribeTargetHealth: Rate exceeded",
                    "Throttling", "req-9", 400};
  EXPECT_TRUE(tracker.onReport(failed(b, error, 0)).events.empty());
  EXPECT_TRUE(tracker.onReport(failed(b, error, 1)).events.empty());
  auto third = tracker.onReport(failed(b, error, 2));
  ASSERT_EQ(kinds(third.events), std::vector<std::string>{"Failing"});
  EXPECT_EQ(third.events[0].reason, "Throttling");
  EXPECT_NE(third.events[0].detail.find("3 reconciles in a row failed"), std::string::npos);
  EXPECT_NE(third.events[0].detail.find("Rate exceeded (request id req-9"), std::string::npos);
  EXPECT_TRUE(tracker.onReport(failed(b, error, 3)).events.empty()) << "once per streak";
  auto back = tracker.onReport(Synced{}.report(b, 4));
  ASSERT_EQ(kinds(back.events), std::vector<std::string>{"Recovered"});
  EXPECT_EQ(back.events[0].recovers, NoticeKind::kFailing);
  EXPECT_EQ(back.events[0].detail, "synced again after 4 failed reconciles");
  EXPECT_TRUE(tracker.onReport(Synced{}.report(b, 5)).events.empty());
  // Two failures then a success: no Failing, no Recovered.
  tracker.onReport(failed(b, error, 6));
  tracker.onReport(failed(b, error, 7));
  EXPECT_TRUE(tracker.onReport(Synced{}.report(b, 8)).events.empty());
}

TEST(NotificationTracker, ConflictWhenItStartsOrTheHolderChanges) {
  const auto b = binding();
  NotificationTracker tracker;
  EXPECT_EQ(kinds(tracker.onReport(conflict(b, "tagged owner=other/a/b", 0)).events),
            std::vector<std::string>{"Conflict"});
  EXPECT_TRUE(tracker.onReport(conflict(b, "tagged owner=other/a/b", 1)).events.empty());
  EXPECT_EQ(kinds(tracker.onReport(conflict(b, "tagged owner=third/c/d", 2)).events),
            std::vector<std::string>{"Conflict"});
  auto resolved = tracker.onReport(Synced{}.report(b, 3));
  ASSERT_EQ(kinds(resolved.events), std::vector<std::string>{"Recovered"});
  EXPECT_EQ(resolved.events[0].recovers, NoticeKind::kConflict);
}

TEST(NotificationFilter, OnListDecidesAndRecoveredFollowsWhatItEnds) {
  const auto b = binding(R"(  notifications:
    - snsTopicARN: arn:aws:sns:ap-northeast-1:123456789012:ops
      on: [Failing]
    - snsTopicARN: arn:aws:sns:ap-northeast-1:123456789012:changes
      on: [Registered, Conflict]
)");
  const auto& failingOnly = b.spec.notifications.at(0);
  const auto& changes = b.spec.notifications.at(1);
  NoticeEvent registered{.kind = NoticeKind::kRegistered};
  NoticeEvent recoveredFromFailing{.kind = NoticeKind::kRecovered,
                                   .recovers = NoticeKind::kFailing};
  NoticeEvent recoveredFromConflict{.kind = NoticeKind::kRecovered,
                                    .recovers = NoticeKind::kConflict};
  EXPECT_FALSE(entryWants(failingOnly, registered));
  EXPECT_TRUE(entryWants(changes, registered));
  EXPECT_TRUE(entryWants(failingOnly, recoveredFromFailing));
  EXPECT_FALSE(entryWants(changes, recoveredFromFailing));
  EXPECT_TRUE(entryWants(changes, recoveredFromConflict));
  // No `on:` means all five.
  const auto all = binding(R"(  notifications:
    - snsTopicARN: arn:aws:sns:ap-northeast-1:123456789012:ops
)");
  EXPECT_TRUE(entryWants(all.spec.notifications.at(0), recoveredFromConflict));
}

TEST(Notice, EventsOfABurstFoldIntoOneMessage) {
  NoticeContext context{.key = "prod/web", .ns = "prod", .name = "web"};
  Notice notice;
  notice.add(context, {.kind = NoticeKind::kRegistered, .targets = {"a:1"}, .count = 1});
  notice.add(context, {.kind = NoticeKind::kBlocked, .count = 1, .reason = "MinTargets"});
  notice.add(context, {.kind = NoticeKind::kRegistered, .targets = {"b:1", "a:1"}, .count = 2});
  notice.add(context,
             {.kind = NoticeKind::kBlocked, .count = 2, .reason = "MinTargets", .detail = "newer"});
  notice.add(context, {.kind = NoticeKind::kBlocked, .count = 1, .reason = "SourceFailing"});
  ASSERT_EQ(notice.events.size(), 3u);
  EXPECT_EQ(notice.events[0].targets, (std::vector<std::string>{"a:1", "b:1"}));
  EXPECT_EQ(notice.events[0].count, 3);
  EXPECT_EQ(notice.events[1].detail, "newer");
  EXPECT_EQ(notice.events[2].reason, "SourceFailing");
  // Many targets: at most kMaxNamedTargets named, all counted.
  Notice big;
  for (int i = 0; i < 50; ++i) {
    big.add(context,
            {.kind = NoticeKind::kDeregistered, .targets = {std::to_string(i)}, .count = 1});
  }
  EXPECT_EQ(big.events[0].targets.size(), kMaxNamedTargets);
  EXPECT_EQ(big.events[0].count, 50);
}

Notice sampleNotice() {
  Notice notice;
  notice.sequence = 7;
  NoticeContext context;
  context.key = "prod/web";
  context.ns = "prod";
  context.name = "web";
  context.targetGroupArn = kArn;
  context.targetGroupName = "web-tg";
  context.source = "dns app.internal";
  context.counts = TargetCounts{1, 1, 0, 0, 1, 1, 0, 0};
  context.time = at(0);
  notice.add(context, {.kind = NoticeKind::kRegistered,
                       .targets = {"10.0.1.6:443"},
                       .count = 1,
                       .detail = "listed by the dns app.internal source"});
  notice.add(context, {.kind = NoticeKind::kDeregistered,
                       .targets = {"10.0.1.5:443"},
                       .count = 1,
                       .detail = "no longer listed by the dns app.internal source (for at least "
                                 "3m, policy.deregistrationGracePeriod)"});
  return notice;
}

TEST(RenderSlack, BlockKitWithAPlainTextFallback) {
  const auto payload = value::parse(renderSlack(sampleNotice(), {"prod-controller"}));
  EXPECT_EQ(payload.at("text").as_string(),
            "prod/web: Registered 1 target (10.0.1.6:443); Deregistered 1 target (10.0.1.5:443). "
            "Target group web-tg: 1 registered (0 healthy, 0 unhealthy, 1 initial), 1 draining; "
            "the source lists 1.");
  const auto& blocks = payload.at("blocks").as_array();
  ASSERT_EQ(blocks.size(), 5u);
  EXPECT_EQ(blocks.at(0).at("type").as_string(), "header");
  EXPECT_EQ(blocks.at(0).at("text").at("type").as_string(), "plain_text");
  EXPECT_EQ(blocks.at(0).at("text").at("text").as_string(),
            ":arrows_counterclockwise: prod/web: Registered 1 target, Deregistered 1 target");
  EXPECT_EQ(blocks.at(1).at("text").at("type").as_string(), "mrkdwn");
  EXPECT_EQ(blocks.at(1).at("text").at("text").as_string(),
            "*Registered 1 target*: `10.0.1.6:443`\n_Why:_ listed by the dns app.internal source");
  EXPECT_EQ(blocks.at(3).at("fields").as_array().size(), 3u);
  EXPECT_EQ(blocks.at(3).at("fields").as_array().at(0).at("text").as_string(),
            "*Target group*\nweb-tg");
  EXPECT_EQ(blocks.at(4).at("type").as_string(), "context");
  EXPECT_NE(
      blocks.at(4).at("elements").as_array().at(0).at("text").as_string().find("`prod-controller`"),
      std::string::npos);
}

TEST(RenderSlack, UserTextIsEscapedAndLimitsKept) {
  Notice notice = sampleNotice();
  notice.add(notice.context,
             {.kind = NoticeKind::kFailing,
              .reason = "X",
              .detail = "<!channel> & <https://evil|click> " + std::string(5000, 'x')});
  const auto payload = value::parse(renderSlack(notice));
  const std::string failing =
      payload.at("blocks").as_array().at(3).at("text").at("text").as_string();
  EXPECT_EQ(failing.find("<!channel>"), std::string::npos);
  EXPECT_NE(failing.find("&lt;!channel&gt; &amp; &lt;https://evil|click&gt;"), std::string::npos);
  EXPECT_LE(failing.size(), 3000u);
  EXPECT_LE(payload.at("blocks").as_array().at(0).at("text").at("text").as_string().size(), 150u);
  EXPECT_EQ(payload.at("blocks").as_array().at(0).at("text").at("text").as_string().substr(0, 16),
            ":rotating_light:");
}

TEST(RenderSns, ChatbotCustomNotificationWithFilterableAttributes) {
  const auto request =
      renderSns(sampleNotice(), "arn:aws:sns:ap-northeast-1:123456789012:ops", {"prod-controller"});
  EXPECT_EQ(request.subject, "endpoint-binder: prod/web Registered, Deregistered");
  const auto message = value::parse(request.message);
  EXPECT_EQ(message.at("version").as_string(), "1.0");
  EXPECT_EQ(message.at("source").as_string(), "custom");
  EXPECT_EQ(message.at("id").as_string(), "prod.web-7");
  const auto& content = message.at("content");
  EXPECT_EQ(content.at("textType").as_string(), "client-markdown");
  EXPECT_EQ(content.at("title").as_string(),
            ":arrows_counterclockwise: prod/web: Registered 1 target, Deregistered 1 target");
  EXPECT_NE(content.at("description").as_string().find("*Registered 1 target*: `10.0.1.6:443`"),
            std::string::npos);
  EXPECT_NE(content.at("description").as_string().find("*Target group:* web-tg"),
            std::string::npos);
  EXPECT_FALSE(content.has_field("nextSteps"));
  const auto& metadata = message.at("metadata");
  EXPECT_EQ(metadata.at("threadId").as_string(), "endpoint-binder/prod/web");
  EXPECT_EQ(metadata.at("eventType").as_string(), "Registered, Deregistered");
  EXPECT_EQ(metadata.at("relatedResources").as_array().at(0).as_string(), kArn);
  EXPECT_EQ(metadata.at("additionalContext").at("binding").as_string(), "prod/web");

  ASSERT_EQ(request.attributes.size(), 4u);
  EXPECT_EQ(request.attributes[0].name, "binding");
  EXPECT_EQ(request.attributes[0].value, "prod/web");
  EXPECT_EQ(request.attributes[1].name, "namespace");
  EXPECT_EQ(request.attributes[1].value, "prod");
  EXPECT_EQ(request.attributes[2].name, "eventType");
  EXPECT_EQ(request.attributes[2].dataType, "String.Array");
  EXPECT_EQ(request.attributes[2].value, R"(["Registered","Deregistered"])");
  EXPECT_TRUE(request.messageGroupId.empty());

  const auto fifo = renderSns(sampleNotice(), "arn:aws:sns:ap-northeast-1:123456789012:ops.fifo");
  EXPECT_EQ(fifo.messageGroupId, "prod/web");
  EXPECT_EQ(fifo.deduplicationId, "prod.web-7");
}

TEST(RenderSns, SubjectIsAsciiOneLineUnder100) {
  Notice notice = sampleNotice();
  notice.context.key = "prod/" + std::string(120, 'n') + "ü";
  const auto request = renderSns(notice, "arn:aws:sns:ap-northeast-1:123456789012:ops");
  EXPECT_LT(request.subject.size(), 100u);
  for (char c : request.subject) {
    EXPECT_TRUE(c >= 0x20 && c < 0x7f) << static_cast<int>(c);
  }
  Notice failing = sampleNotice();
  failing.add(failing.context, {.kind = NoticeKind::kConflict, .detail = "owned by x"});
  const auto steps = value::parse(renderSns(failing, "arn:aws:sns:a:1:b").message)
                         .at("content")
                         .at("nextSteps")
                         .as_array();
  EXPECT_EQ(steps.at(0).as_string(),
            "Run `endpoint-binder describe prod/web` for conditions, the last plan and events");
}

}  // namespace
}  // namespace endpointbinder::runtime
