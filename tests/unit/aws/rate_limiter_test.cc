#include "controller/aws/rate_limiter.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <thread>
#include <vector>

#include "controller/aws/ec2_client.h"
#include "controller/aws/route53_client.h"

namespace endpointbinder::aws {
namespace {

using std::chrono::milliseconds;
using std::chrono::nanoseconds;
using std::chrono::seconds;

TEST(TokenBucketTest, StartsFullAndRefillsAtRate) {
  core::ManualClock clock;
  TokenBucket bucket(4.0, 20.0, clock.now());
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(bucket.tryTake(clock.now())) << i;
  EXPECT_FALSE(bucket.tryTake(clock.now()));
  EXPECT_EQ(bucket.timeUntil(clock.now()), milliseconds(250));

  clock.advance(milliseconds(249));
  EXPECT_FALSE(bucket.tryTake(clock.now()));
  clock.advance(milliseconds(1));
  EXPECT_TRUE(bucket.tryTake(clock.now()));

  clock.advance(seconds(3600));
  bucket.refill(clock.now());
  EXPECT_DOUBLE_EQ(bucket.tokens(), 20.0);  // never above burst
}

TEST(TokenBucketTest, TimeGoingBackwardsAddsNothing) {
  core::ManualClock clock;
  clock.advance(seconds(10));
  TokenBucket bucket(1.0, 1.0, clock.now(), 0.0);
  bucket.refill(clock.now() - seconds(5));
  EXPECT_DOUBLE_EQ(bucket.tokens(), 0.0);
  EXPECT_EQ(bucket.timeUntil(clock.now()), seconds(1));
}

TEST(TokenBucketTest, SetRateRefillsAtOldRateThenClamps) {
  core::ManualClock clock;
  TokenBucket bucket(10.0, 10.0, clock.now(), 0.0);
  clock.advance(milliseconds(500));
  bucket.setRate(1.0, 2.0, clock.now());  // 5 tokens accrued at the old rate, clamped to 2
  EXPECT_DOUBLE_EQ(bucket.tokens(), 2.0);
  EXPECT_DOUBLE_EQ(bucket.rate(), 1.0);
  ASSERT_TRUE(bucket.tryTake(clock.now(), 2.0));
  EXPECT_EQ(bucket.timeUntil(clock.now()), seconds(1));
}

TEST(RateLimitSpecTest, DefaultsMatchTheDesign) {
  RateLimitOptions options;
  EXPECT_EQ(options.forAction("RegisterTargets"), (BucketSpec{4, 18}));
  EXPECT_EQ(options.forAction("DeregisterTargets"), (BucketSpec{4, 18}));
  EXPECT_EQ(options.forAction("DescribeTargetHealth"), (BucketSpec{10, 35}));
  EXPECT_EQ(options.forAction("DescribeTags"), (BucketSpec{10, 35}));
  EXPECT_EQ(options.forAction("AddTags"), (BucketSpec{10, 35}));
  EXPECT_FALSE(options.global.has_value());
  EXPECT_TRUE(isReadAction("DescribeTargetGroups"));
  EXPECT_TRUE(isReadAction("ListResourceRecordSets"));
  EXPECT_TRUE(isReadAction("GetCallerIdentity"));
  EXPECT_FALSE(isReadAction("RegisterTargets"));
  EXPECT_FALSE(isReadAction("ChangeResourceRecordSets"));
}

TEST(RateLimitSpecTest, SplitsByServicePrefixWithUnprefixedItemsForElbv2) {
  auto split = splitRateLimitSpecByService(
      "RegisterTargets=2:10, ec2:DescribeInstances=5:20,ec2:Describe*=8:30,route53:*=1:2");
  ASSERT_TRUE(split) << split.error().toString();
  EXPECT_EQ(split->at("elasticloadbalancing"), "RegisterTargets=2:10");
  EXPECT_EQ(split->at("ec2"), "DescribeInstances=5:20,Describe*=8:30");
  EXPECT_EQ(split->at("route53"), "*=1:2");
  EXPECT_EQ(split->at("autoscaling"), "");
  auto ec2 = parseRateLimitSpec(split->at("ec2"), ec2RateLimits());
  ASSERT_TRUE(ec2);
  EXPECT_EQ(ec2->forAction("DescribeInstances"), (BucketSpec{5.0, 20.0}));
  EXPECT_EQ(ec2->forAction("DescribeSpotFleetInstances"), (BucketSpec{8.0, 30.0}));
  auto route53 = parseRateLimitSpec(split->at("route53"), route53RateLimits());
  ASSERT_TRUE(route53);
  EXPECT_EQ(route53->forAction("ChangeResourceRecordSets"), (BucketSpec{1.0, 2.0}));

  auto bad = splitRateLimitSpecByService("ecs:Describe*=1:2");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("unknown service \"ecs\""), std::string::npos);
  EXPECT_TRUE(splitRateLimitSpecByService("RegisterTargets=4:20"));  // as before
}

TEST(RateLimitSpecTest, ParsesActionsWildcardsAndGlobal) {
  auto options = parseRateLimitSpec(
      " DescribeTargetHealth=20:80, RegisterTargets=2.5:5,Describe*=50:200,*=1:1,global=100:100,");
  ASSERT_TRUE(options.has_value()) << options.error().message;
  EXPECT_EQ(options->forAction("DescribeTargetHealth"), (BucketSpec{20, 80}));
  EXPECT_EQ(options->forAction("RegisterTargets"), (BucketSpec{2.5, 5}));
  EXPECT_EQ(options->forAction("DeregisterTargets"), (BucketSpec{4, 18}));  // default kept
  EXPECT_EQ(options->forAction("DescribeTags"), (BucketSpec{50, 200}));
  EXPECT_EQ(options->forAction("AddTags"), (BucketSpec{1, 1}));
  ASSERT_TRUE(options->global.has_value());
  EXPECT_EQ(*options->global, (BucketSpec{100, 100}));

  auto empty = parseRateLimitSpec("");
  ASSERT_TRUE(empty.has_value());
  EXPECT_EQ(empty->perAction.size(), 2u);
}

TEST(RateLimitSpecTest, RejectsBadItemsNamingThem) {
  for (const char* bad : {"RegisterTargets", "RegisterTargets=4", "RegisterTargets=:20",
                          "RegisterTargets=0:20", "RegisterTargets=-1:20", "RegisterTargets=4:0.5",
                          "RegisterTargets=4:x", "=4:20", "Register Targets=4:20",
                          "RegisterTargets=nan:20", "RegisterTargets=inf:20", "Describe**=1:1"}) {
    auto options = parseRateLimitSpec(bad);
    ASSERT_FALSE(options.has_value()) << bad;
    EXPECT_EQ(options.error().code, "InvalidRateLimitSpec") << bad;
    EXPECT_EQ(options.error().kind, core::ErrorKind::kTerminal);
    EXPECT_NE(options.error().message.find("spec item"), std::string::npos);
  }
}

// Single-threaded limiter tests: the sleep function advances the manual clock.
struct ManualLimiter {
  core::ManualClock clock;
  std::vector<nanoseconds> sleeps;
  RateLimiter limiter;

  explicit ManualLimiter(RateLimitOptions options = {})
      : limiter(std::move(options), clock, [this](nanoseconds d) {
          sleeps.push_back(d);
          clock.advance(d);
        }) {}
};

TEST(RateLimiterTest, BurstThenWaitsForRefill) {
  ManualLimiter m;
  const core::MonoTime deadline = m.clock.now() + seconds(60);
  for (int i = 0; i < 18; ++i) {  // the default burst
    auto waited = m.limiter.acquire("RegisterTargets", deadline);
    ASSERT_TRUE(waited.has_value());
    EXPECT_EQ(*waited, nanoseconds(0));
  }
  EXPECT_TRUE(m.sleeps.empty());
  auto waited = m.limiter.acquire("RegisterTargets", deadline);
  ASSERT_TRUE(waited.has_value());
  EXPECT_EQ(*waited, milliseconds(250));
  ASSERT_EQ(m.sleeps.size(), 1u);
  EXPECT_EQ(m.sleeps[0], milliseconds(250));
}

TEST(RateLimiterTest, DeadlineTooCloseFailsAtOnceWithoutTakingAToken) {
  ManualLimiter m(parseRateLimitSpec("RegisterTargets=1:1").value());
  ASSERT_TRUE(m.limiter.acquire("RegisterTargets", m.clock.now()).has_value());
  auto refused = m.limiter.acquire("RegisterTargets", m.clock.now() + milliseconds(999));
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, "ClientRateLimited");
  EXPECT_EQ(refused.error().kind, core::ErrorKind::kRetryable);
  EXPECT_TRUE(m.sleeps.empty());
  m.clock.advance(seconds(1));
  EXPECT_NEAR(m.limiter.available("RegisterTargets"), 1.0, 1e-9);
}

TEST(RateLimiterTest, ActionsHaveSeparateBuckets) {
  ManualLimiter m;
  const core::MonoTime deadline = m.clock.now();  // no waiting allowed
  int reads = 0;
  while (m.limiter.acquire("DescribeTargetHealth", deadline)) ++reads;
  EXPECT_EQ(reads, 35);
  // Reads exhausted their bucket; writes and other reads are untouched.
  for (int i = 0; i < 18; ++i) {
    ASSERT_TRUE(m.limiter.acquire("RegisterTargets", deadline).has_value()) << i;
  }
  EXPECT_TRUE(m.limiter.acquire("DescribeTags", deadline).has_value());
}

TEST(RateLimiterTest, GlobalBudgetCapsTheSum) {
  ManualLimiter m(parseRateLimitSpec("global=2:3").value());
  const core::MonoTime deadline = m.clock.now();
  EXPECT_TRUE(m.limiter.acquire("DescribeTargetHealth", deadline).has_value());
  EXPECT_TRUE(m.limiter.acquire("RegisterTargets", deadline).has_value());
  EXPECT_TRUE(m.limiter.acquire("DescribeTags", deadline).has_value());
  EXPECT_FALSE(m.limiter.acquire("AddTags", deadline).has_value());
  auto waited = m.limiter.acquire("AddTags", m.clock.now() + seconds(1));
  ASSERT_TRUE(waited.has_value());
  EXPECT_EQ(*waited, milliseconds(500));
}

// Real threads and the real clock: readers hammer the shared global budget while a writer must
// still get each token within about one refill interval. Without write priority the writer
// competes with eight readers for every token (expected wait ~0.9 s per write).
TEST(RateLimiterConcurrencyTest, WritesAreNotStarvedByReads) {
  core::RealClock clock;
  RateLimitOptions options = parseRateLimitSpec("Describe*=1000:1000,global=10:1").value();
  RateLimiter limiter(options, clock);
  std::atomic<bool> stop{false};
  std::atomic<int> reads{0};
  std::vector<std::thread> readers;
  for (int i = 0; i < 8; ++i) {
    readers.emplace_back([&] {
      while (!stop.load()) {
        if (limiter.acquire("DescribeTargetHealth", clock.now() + milliseconds(200))) {
          reads.fetch_add(1);
        }
      }
    });
  }
  std::this_thread::sleep_for(milliseconds(300));  // readers now own the budget

  std::vector<milliseconds> writeWaits;
  for (int i = 0; i < 5; ++i) {
    const auto start = clock.now();
    auto waited = limiter.acquire("RegisterTargets", clock.now() + seconds(10));
    ASSERT_TRUE(waited.has_value());
    writeWaits.push_back(std::chrono::duration_cast<milliseconds>(clock.now() - start));
  }
  const int readsDuringWrites = reads.load();
  std::this_thread::sleep_for(milliseconds(300));
  stop = true;
  for (auto& reader : readers) reader.join();

  for (milliseconds wait : writeWaits) EXPECT_LT(wait, milliseconds(400)) << wait.count();
  EXPECT_GT(readsDuringWrites, 0);
  EXPECT_GT(reads.load(), readsDuringWrites);  // reads resume once writes are served
}

// A write still waiting for its own action bucket must not hold reads back from the global
// budget.
TEST(RateLimiterConcurrencyTest, WriteWaitingForItsOwnBucketDoesNotBlockReads) {
  core::RealClock clock;
  RateLimiter limiter(parseRateLimitSpec("RegisterTargets=0.5:1,global=50:1").value(), clock);
  ASSERT_TRUE(limiter.acquire("RegisterTargets", clock.now()).has_value());
  std::thread writer([&] {
    EXPECT_TRUE(limiter.acquire("RegisterTargets", clock.now() + seconds(5)).has_value());
  });
  std::this_thread::sleep_for(milliseconds(50));
  const auto start = clock.now();
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(limiter.acquire("DescribeTargetHealth", clock.now() + seconds(5)).has_value());
  }
  const auto readTime = clock.now() - start;
  writer.join();
  EXPECT_LT(readTime, milliseconds(1'000));  // ~200 ms at 50/s; the writer waits ~2 s
}

TEST(CubicRateTest, CutsByBetaAndRecoversToTheOldMaximumAfterK) {
  CubicRate cubic(0.0);
  EXPECT_DOUBLE_EQ(cubic.onThrottle(10.0, 100.0), 7.0);
  EXPECT_DOUBLE_EQ(cubic.lastMaxRate(), 10.0);
  const double k = std::cbrt(10.0 * 0.3 / 0.4);
  EXPECT_NEAR(cubic.onSuccess(100.0), 7.0, 1e-9);  // the curve starts at beta * wMax
  EXPECT_NEAR(cubic.onSuccess(100.0 + k), 10.0, 1e-9);
  EXPECT_GT(cubic.onSuccess(100.0 + k + 1.0), 10.0);  // then probes above it
  EXPECT_LT(cubic.onSuccess(100.0 + k / 2), 10.0);
}

TEST(AdaptiveRateLimiterTest, OffUntilThrottledThenLimitsAndRecovers) {
  core::ManualClock clock;
  std::vector<nanoseconds> sleeps;
  AdaptiveRateLimiter adaptive(clock, [&](nanoseconds d) {
    sleeps.push_back(d);
    clock.advance(d);
  });
  // 10 requests per second for 5 s, all successful: nothing waits.
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(adaptive.beforeSend(clock.now()).has_value());
    adaptive.onResponse(false);
    clock.advance(milliseconds(100));
  }
  EXPECT_FALSE(adaptive.enabled());
  EXPECT_TRUE(sleeps.empty());
  EXPECT_NEAR(adaptive.measuredRate(), 10.0, 0.5);

  adaptive.onResponse(true);
  EXPECT_TRUE(adaptive.enabled());
  const double cut = adaptive.sendRate();
  EXPECT_NEAR(cut, 0.7 * adaptive.measuredRate(), 0.5);

  // Sending as fast as allowed now waits for tokens; the rate grows back on successes.
  for (int i = 0; i < 60; ++i) {
    auto waited = adaptive.beforeSend(clock.now() + seconds(10));
    ASSERT_TRUE(waited.has_value());
    adaptive.onResponse(false);
  }
  EXPECT_FALSE(sleeps.empty());
  EXPECT_GT(adaptive.sendRate(), cut);

  // A deadline before the next token fails without waiting.
  adaptive.onResponse(true);
  const size_t sleepsBefore = sleeps.size();
  while (adaptive.beforeSend(clock.now())) {
  }
  auto refused = adaptive.beforeSend(clock.now());
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, "ClientRateLimited");
  EXPECT_EQ(sleeps.size(), sleepsBefore);
}

}  // namespace
}  // namespace endpointbinder::aws
