// Tests for parseEventMessage and EventQueueReader: the EventBridge events endpoint-binder acts
// on, foreign and malformed messages, and that a message is deleted only once it was handled.
#include "controller/runtime/instance_events.h"

#include <cpprest/json.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <thread>

#include "controller/runtime/event_queue_reader.h"

namespace endpointbinder::runtime {
namespace {

constexpr const char* kStateChange = R"({"version":"0","id":"7bf73129-1428-4cd3-a780-95db273d1602",
"detail-type":"EC2 Instance State-change Notification","source":"aws.ec2","account":"123456789012",
"time":"2026-12-04T14:00:00Z","region":"ap-northeast-1",
"resources":["arn:aws:ec2:ap-northeast-1:123456789012:instance/i-0abcdef1234567890"],
"detail":{"instance-id":"i-0abcdef1234567890","state":"running"}})";

constexpr const char* kInterruption = R"({"version":"0","id":"1e5527d7","detail-type":
"EC2 Spot Instance Interruption Warning","source":"aws.ec2","account":"123456789012",
"time":"2026-12-04T14:00:00Z","region":"ap-northeast-1","resources":[],
"detail":{"instance-id":"i-0abcdef1234567890","instance-action":"terminate"}})";

constexpr const char* kLifecycle = R"({"version":"0","id":"x","detail-type":
"EC2 Instance-terminate Lifecycle Action","source":"aws.autoscaling","account":"123456789012",
"time":"2026-12-04T14:00:00Z","region":"ap-northeast-1","resources":[],
"detail":{"LifecycleActionToken":"t","AutoScalingGroupName":"web-asg","LifecycleHookName":"drain",
"EC2InstanceId":"i-0abcdef1234567890","LifecycleTransition":"autoscaling:EC2_INSTANCE_TERMINATING"}})";

TEST(ParseEventMessage, StateChange) {
  const auto parsed = parseEventMessage(kStateChange);
  ASSERT_EQ(parsed.kind, EventMessageKind::kInstanceEvent) << parsed.description;
  EXPECT_EQ(parsed.event.instanceIds, (std::vector<std::string>{"i-0abcdef1234567890"}));
  EXPECT_FALSE(parsed.event.spotInterruption);
  EXPECT_EQ(parsed.detailType, "EC2 Instance State-change Notification");
}

TEST(ParseEventMessage, SpotInterruptionAndRebalance) {
  auto parsed = parseEventMessage(kInterruption);
  ASSERT_EQ(parsed.kind, EventMessageKind::kInstanceEvent);
  EXPECT_TRUE(parsed.event.spotInterruption);
  parsed = parseEventMessage(
      R"({"source":"aws.ec2","detail-type":"EC2 Instance Rebalance Recommendation",
          "detail":{"instance-id":"i-0abcdef1234567890"}})");
  ASSERT_EQ(parsed.kind, EventMessageKind::kInstanceEvent);
  EXPECT_FALSE(parsed.event.spotInterruption) << "a recommendation only refreshes";
}

TEST(ParseEventMessage, AutoScalingEventsNameTheGroup) {
  auto parsed = parseEventMessage(kLifecycle);
  ASSERT_EQ(parsed.kind, EventMessageKind::kInstanceEvent) << parsed.description;
  EXPECT_EQ(parsed.event.autoScalingGroupName, "web-asg");
  parsed = parseEventMessage(
      R"({"source":"aws.autoscaling","detail-type":"EC2 Instance Launch Successful",
          "detail":{"StatusCode":"InProgress","AutoScalingGroupName":"web-asg",
                    "EC2InstanceId":"i-0123456789abcdef0"}})");
  ASSERT_EQ(parsed.kind, EventMessageKind::kInstanceEvent);
  EXPECT_EQ(parsed.event.instanceIds, (std::vector<std::string>{"i-0123456789abcdef0"}));
}

TEST(ParseEventMessage, SnsEnvelopeIsUnwrapped) {
  web::json::value envelope = web::json::value::object();
  envelope["Type"] = web::json::value::string("Notification");
  envelope["Message"] = web::json::value::string(kInterruption);
  const auto parsed = parseEventMessage(envelope.serialize());
  ASSERT_EQ(parsed.kind, EventMessageKind::kInstanceEvent) << parsed.description;
  EXPECT_TRUE(parsed.event.spotInterruption);
}

TEST(ParseEventMessage, ForeignMessages) {
  for (const char* body : {
           R"({"source":"aws.ec2","detail-type":"EBS Volume Notification","detail":{}})",
           R"({"source":"my.app","detail-type":"EC2 Instance State-change Notification",
               "detail":{"instance-id":"i-0abcdef1234567890"}})",
           R"({"hello":"world"})",
           R"({"Type":"Notification","Message":"plain text"})",
       }) {
    EXPECT_EQ(parseEventMessage(body).kind, EventMessageKind::kForeign) << body;
  }
}

TEST(ParseEventMessage, MalformedMessages) {
  const std::string deep = std::string(100, '[') + std::string(100, ']');
  for (const std::string& body : {
           std::string("not json"),
           std::string("[1, 2]"),
           std::string(""),
           deep,
           std::string(
               R"({"source":"aws.ec2","detail-type":"EC2 Spot Instance Interruption Warning",
                           "detail":{"instance-action":"terminate"}})"),
           std::string(
               R"({"source":"aws.ec2","detail-type":"EC2 Instance State-change Notification",
                           "detail":{"instance-id":"i-NOT-HEX"}})"),
           std::string(
               R"({"source":"aws.ec2","detail-type":"EC2 Instance State-change Notification",
                           "detail":"oops"})"),
           std::string(300 * 1024, ' '),
       }) {
    EXPECT_EQ(parseEventMessage(body).kind, EventMessageKind::kMalformed) << body.substr(0, 80);
  }
}

// A scripted queue: batches to return, and what was deleted.
class FakeQueue final : public aws::QueueApi {
 public:
  std::vector<core::Result<std::vector<aws::QueueMessage>>> batches;
  std::vector<std::string> deleted;
  int receives = 0;

  core::Result<std::vector<aws::QueueMessage>> receiveMessages(const std::string&, int,
                                                               std::chrono::seconds) override {
    std::lock_guard lock(mu_);
    if (static_cast<size_t>(receives) >= batches.size()) {
      ++receives;
      return std::vector<aws::QueueMessage>{};
    }
    return batches[static_cast<size_t>(receives++)];
  }
  core::Result<void> deleteMessage(const std::string&, const std::string& handle) override {
    std::lock_guard lock(mu_);
    deleted.push_back(handle);
    return {};
  }
  core::Result<std::map<std::string, std::string>> getQueueAttributes(
      const std::string&, const std::vector<std::string>&) override {
    return std::map<std::string, std::string>{};
  }

 private:
  std::mutex mu_;
};

aws::QueueMessage message(std::string id, std::string body) {
  return aws::QueueMessage{id, "handle-" + id, std::move(body), 1};
}

TEST(EventQueueReader, DeletesHandledForeignAndMalformedMessages) {
  FakeQueue queue;
  queue.batches.push_back(std::vector<aws::QueueMessage>{
      message("event", kStateChange), message("warning", kInterruption),
      message("foreign", R"({"source":"my.app","detail-type":"x"})"), message("bad", "{")});
  core::NullLogger log;
  std::vector<InstanceEvent> seen;
  EventQueueReader reader({queue,
                           [&](const std::vector<InstanceEvent>& events) -> core::Result<void> {
                             seen = events;
                             return {};
                           },
                           log, nullptr},
                          EventReaderOptions{"https://q", 10, std::chrono::seconds(0)});
  ASSERT_TRUE(reader.pollOnce());
  ASSERT_EQ(seen.size(), 2u) << "the batch's events are handled together";
  EXPECT_TRUE(seen[1].spotInterruption);
  std::sort(queue.deleted.begin(), queue.deleted.end());
  EXPECT_EQ(queue.deleted, (std::vector<std::string>{"handle-bad", "handle-event", "handle-foreign",
                                                     "handle-warning"}));
  const auto stats = reader.stats();
  EXPECT_EQ(stats.received, 4u);
  EXPECT_EQ(stats.handled, 2u);
  EXPECT_EQ(stats.foreign, 1u);
  EXPECT_EQ(stats.malformed, 1u);
  EXPECT_EQ(stats.deleted, 4u);
}

TEST(EventQueueReader, EventsThatCannotBeHandledStayInTheQueue) {
  FakeQueue queue;
  queue.batches.push_back(
      std::vector<aws::QueueMessage>{message("event", kStateChange), message("bad", "nope")});
  core::NullLogger log;
  EventQueueReader reader({queue,
                           [](const std::vector<InstanceEvent>&) -> core::Result<void> {
                             return core::makeError(core::ErrorKind::kRetryable, "throttled",
                                                    "RequestLimitExceeded");
                           },
                           log, nullptr},
                          EventReaderOptions{"https://q", 10, std::chrono::seconds(0)});
  ASSERT_TRUE(reader.pollOnce());
  EXPECT_EQ(queue.deleted, (std::vector<std::string>{"handle-bad"}));
  EXPECT_EQ(reader.stats().failed, 1u);
}

TEST(EventQueueReader, ReceiveErrorsAreCountedNotFatal) {
  FakeQueue queue;
  queue.batches.push_back(core::makeError(core::ErrorKind::kAuth, "denied", "AccessDenied"));
  core::NullLogger log;
  int handled = 0;
  EventQueueReader reader({queue,
                           [&](const std::vector<InstanceEvent>&) -> core::Result<void> {
                             ++handled;
                             return {};
                           },
                           log, nullptr},
                          EventReaderOptions{"https://q", 10, std::chrono::seconds(0)});
  EXPECT_FALSE(reader.pollOnce());
  EXPECT_TRUE(reader.pollOnce()) << "the next receive works";
  EXPECT_EQ(reader.stats().receiveErrors, 1u);
  EXPECT_EQ(handled, 0);
}

TEST(EventQueueReader, ThreadStartsAndStops) {
  FakeQueue queue;
  queue.batches.push_back(std::vector<aws::QueueMessage>{message("event", kStateChange)});
  core::NullLogger log;
  std::atomic<int> handled{0};
  bool interrupted = false;
  EventQueueReader reader({queue,
                           [&](const std::vector<InstanceEvent>&) -> core::Result<void> {
                             ++handled;
                             return {};
                           },
                           log, [&] { interrupted = true; }},
                          EventReaderOptions{"https://q", 10, std::chrono::seconds(0)});
  reader.start();
  for (int i = 0; i < 2000 && handled.load() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  reader.stop();
  EXPECT_EQ(handled.load(), 1);
  EXPECT_TRUE(interrupted) << "stop cuts a long poll short";
}

}  // namespace
}  // namespace endpointbinder::runtime
