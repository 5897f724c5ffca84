// DeliveryQueue on a manual clock: coalescing windows, the per-binding interval, the rate
// limit, the bounded queue, retries with backoff and Slack's 429 Retry-After.
#include "controller/runtime/notification_queue.h"

#include <gtest/gtest.h>

#include <set>

namespace endpointbinder::runtime {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

NoticeContext context(const std::string& key) {
  NoticeContext c;
  c.key = key;
  return c;
}

NoticeEvent registered(const std::string& target) {
  NoticeEvent e;
  e.kind = NoticeKind::kRegistered;
  e.targets = {target};
  e.count = 1;
  return e;
}

DeliveryOptions options() {
  DeliveryOptions o;
  o.coalesceWindow = seconds(10);
  o.minInterval = seconds(60);
  o.capacity = 3;
  o.ratePerSecond = 1;
  o.burst = 2;
  o.maxAttempts = 3;
  o.maxThrottles = 2;
  o.baseBackoff = seconds(1);
  o.maxBackoff = seconds(60);
  o.maxRetryAfter = seconds(300);
  return o;
}

struct Fixture {
  core::ManualClock clock;
  double random = 0.0;  // backoff factor 0.5 + 0.5 * random
  DeliveryQueue queue{options(), [this] { return random; }, clock.now()};

  core::MonoTime now() const { return clock.now(); }
  void advance(std::chrono::nanoseconds by) { clock.advance(by); }
  // Takes what is due now and reports `outcome`; returns the message (nullopt when none).
  std::optional<Notice> send(SendOutcome outcome = {}) {
    auto delivery = queue.take(now());
    if (!delivery) return std::nullopt;
    Notice notice = delivery->notice;
    last = queue.finish(std::move(*delivery), outcome, now());
    return notice;
  }
  DeliveryQueue::Disposition last = DeliveryQueue::Disposition::kSent;
};

TEST(DeliveryQueue, ABurstWithinTheWindowIsOneMessage) {
  Fixture f;
  f.queue.add(context("prod/web"), registered("a:1"), f.now());
  EXPECT_EQ(f.queue.nextAttemptAt(), f.now() + seconds(10));
  f.advance(seconds(4));
  f.queue.add(context("prod/web"), registered("b:1"), f.now());
  f.advance(seconds(5));
  EXPECT_FALSE(f.send()) << "the window is not over";
  f.advance(seconds(1));
  auto sent = f.send();
  ASSERT_TRUE(sent);
  ASSERT_EQ(sent->events.size(), 1u);
  EXPECT_EQ(sent->events[0].targets, (std::vector<std::string>{"a:1", "b:1"}));
  EXPECT_EQ(f.queue.depth(), 0u);
  EXPECT_FALSE(f.queue.nextAttemptAt());
}

TEST(DeliveryQueue, AFlappingBindingSendsOneSummaryPerInterval) {
  Fixture f;
  int sent = 0;
  // A flap every 5 s for 10 minutes: 120 events.
  for (int i = 0; i < 120; ++i) {
    f.queue.add(context("prod/web"), registered("t" + std::to_string(i % 2) + ":1"), f.now());
    for (int step = 0; step < 5; ++step) {
      if (f.send()) ++sent;
      f.advance(seconds(1));
    }
  }
  while (auto at = f.queue.nextAttemptAt()) {
    f.advance(*at - f.now());
    if (f.send()) ++sent;
  }
  // The first after its 10 s window, then one per 60 s interval: 11 for 600 s, not 120.
  EXPECT_EQ(sent, 11);
}

TEST(DeliveryQueue, TheRateLimitSpacesBindingsOut) {
  Fixture f;  // 1 per second, burst 2
  for (const char* key : {"a/1", "a/2", "a/3"}) {
    f.queue.add(context(key), registered("x:1"), f.now());
  }
  f.advance(seconds(10));
  EXPECT_TRUE(f.send());
  EXPECT_TRUE(f.send());
  EXPECT_FALSE(f.send()) << "bucket empty";
  EXPECT_EQ(f.queue.nextAttemptAt(), f.now() + seconds(1));
  f.advance(seconds(1));
  EXPECT_TRUE(f.send());
}

TEST(DeliveryQueue, AFullQueueDropsTheOldestMessage) {
  Fixture f;  // capacity 3
  for (const char* key : {"a/1", "a/2", "a/3"}) {
    EXPECT_EQ(f.queue.add(context(key), registered("x:1"), f.now()), 0);
    f.advance(milliseconds(10));
  }
  EXPECT_EQ(f.queue.add(context("a/2"), registered("y:1"), f.now()), 0) << "merges, no room needed";
  EXPECT_EQ(f.queue.add(context("a/4"), registered("x:1"), f.now()), 1);
  EXPECT_EQ(f.queue.pending(), 3u);
  f.advance(seconds(20));
  std::vector<std::string> keys;
  while (auto sent = f.send()) {
    keys.push_back(sent->context.key);
    f.advance(seconds(1));
  }
  EXPECT_EQ(keys, (std::vector<std::string>{"a/2", "a/3", "a/4"}));
}

TEST(DeliveryQueue, ErrorsAreRetriedWithBackoffThenGivenUp) {
  Fixture f;  // maxAttempts 3, base 1 s, factor 0.5 at random 0
  f.queue.add(context("prod/web"), registered("a:1"), f.now());
  f.advance(seconds(10));
  const SendOutcome error{SendOutcome::Kind::kRetry, std::nullopt, "HTTP 503"};
  ASSERT_TRUE(f.send(error));
  EXPECT_EQ(f.last, DeliveryQueue::Disposition::kRetrying);
  EXPECT_EQ(f.queue.nextAttemptAt(), f.now() + milliseconds(500));
  // Events arriving meanwhile travel with the retry.
  f.queue.add(context("prod/web"), registered("b:1"), f.now());
  f.advance(milliseconds(500));
  auto second = f.send(error);
  ASSERT_TRUE(second);
  EXPECT_EQ(second->events[0].targets, (std::vector<std::string>{"a:1", "b:1"}));
  EXPECT_EQ(f.queue.nextAttemptAt(), f.now() + seconds(1)) << "2 s cap, factor 0.5";
  f.advance(seconds(1));
  auto third = f.send(error);
  ASSERT_TRUE(third);
  EXPECT_EQ(third->events[0].targets, (std::vector<std::string>{"a:1", "b:1"}));
  EXPECT_EQ(f.last, DeliveryQueue::Disposition::kGivenUp);
  EXPECT_EQ(f.queue.depth(), 0u);
  // A permanent failure is given up at once.
  f.queue.add(context("prod/api"), registered("a:1"), f.now());
  f.advance(seconds(10));
  ASSERT_TRUE(f.send({SendOutcome::Kind::kFailed, std::nullopt, "HTTP 400 invalid_payload"}));
  EXPECT_EQ(f.last, DeliveryQueue::Disposition::kGivenUp);
}

TEST(DeliveryQueue, A429PausesTheDestinationForRetryAfter) {
  Fixture f;
  f.queue.add(context("prod/web"), registered("a:1"), f.now());
  f.queue.add(context("prod/api"), registered("a:1"), f.now());
  f.advance(seconds(10));
  const SendOutcome throttled{SendOutcome::Kind::kThrottled, seconds(30), "HTTP 429"};
  auto first = f.send(throttled);
  ASSERT_TRUE(first);
  EXPECT_EQ(f.last, DeliveryQueue::Disposition::kRetrying);
  EXPECT_EQ(f.queue.pausedUntil(), f.now() + seconds(30));
  EXPECT_EQ(f.queue.nextAttemptAt(), f.now() + seconds(30));
  f.advance(seconds(29));
  EXPECT_FALSE(f.send()) << "the whole webhook waits, other bindings too";
  f.advance(seconds(1));
  std::set<std::string> sent;
  for (int i = 0; i < 2; ++i) {
    auto next = f.send();
    ASSERT_TRUE(next);
    sent.insert(next->context.key);
  }
  EXPECT_EQ(sent, (std::set<std::string>{"prod/web", "prod/api"}));
}

TEST(DeliveryQueue, ThrottlesDoNotUseUpAttempts) {
  Fixture f;  // maxAttempts 3, maxThrottles 2
  f.queue.add(context("prod/db"), registered("a:1"), f.now());
  f.advance(seconds(10));
  const SendOutcome error{SendOutcome::Kind::kRetry, std::nullopt, "HTTP 500"};
  const SendOutcome throttled{SendOutcome::Kind::kThrottled, seconds(1), "HTTP 429"};
  for (const auto& outcome : {error, throttled, throttled, error}) {
    ASSERT_TRUE(f.send(outcome));
    EXPECT_EQ(f.last, DeliveryQueue::Disposition::kRetrying);
    f.advance(seconds(5));
  }
  ASSERT_TRUE(f.send());
  EXPECT_EQ(f.last, DeliveryQueue::Disposition::kSent);
}

TEST(DeliveryQueue, RetryAfterIsCappedAndBackoffWithoutIt) {
  Fixture f;  // maxRetryAfter 300 s
  f.queue.add(context("prod/web"), registered("a:1"), f.now());
  f.advance(seconds(10));
  ASSERT_TRUE(f.send({SendOutcome::Kind::kThrottled, std::chrono::hours(2), "429"}));
  EXPECT_EQ(f.queue.nextAttemptAt(), f.now() + seconds(300));
  f.advance(seconds(300));
  ASSERT_TRUE(f.send({SendOutcome::Kind::kThrottled, std::nullopt, "429"}));
  EXPECT_EQ(f.queue.nextAttemptAt(), f.now() + seconds(2)) << "second throttle: 2 s backoff";
  f.advance(seconds(2));
  ASSERT_TRUE(f.send({SendOutcome::Kind::kThrottled, seconds(1), "429"}));
  EXPECT_EQ(f.last, DeliveryQueue::Disposition::kGivenUp) << "maxThrottles 2";
}

TEST(DeliveryQueue, ExpediteSendsEverythingNowForShutdown) {
  Fixture f;
  for (const char* key : {"a/1", "a/2", "a/3"})
    f.queue.add(context(key), registered("x:1"), f.now());
  f.queue.expedite(f.now());
  int sent = 0;
  while (f.send()) ++sent;
  EXPECT_EQ(sent, 3) << "no window, no bucket";
}

}  // namespace
}  // namespace endpointbinder::runtime
