#include "controller/aws/retry.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace endpointbinder::aws {
namespace {

using std::chrono::milliseconds;
using std::chrono::nanoseconds;

core::Error awsError(int status, std::string code) {
  core::Error e;
  e.kind = core::ErrorKind::kRetryable;
  e.httpStatus = status;
  e.code = std::move(code);
  return e;
}

core::Error transportError(std::string code) { return awsError(0, std::move(code)); }

TEST(RetryModeTest, ParsesTheSdkSpellings) {
  EXPECT_EQ(parseRetryMode("standard").value(), RetryMode::kStandard);
  EXPECT_EQ(parseRetryMode("legacy").value(), RetryMode::kStandard);
  EXPECT_EQ(parseRetryMode("adaptive").value(), RetryMode::kAdaptive);
  EXPECT_EQ(parseRetryMode("  adaptive\n").value(), RetryMode::kAdaptive);
  for (const char* bad : {"", "Standard", "fast", "standard,adaptive"}) {
    auto mode = parseRetryMode(bad);
    ASSERT_FALSE(mode.has_value()) << bad;
    EXPECT_EQ(mode.error().kind, core::ErrorKind::kTerminal);
    EXPECT_EQ(mode.error().code, "InvalidRetryMode");
  }
  EXPECT_STREQ(retryModeName(RetryMode::kAdaptive), "adaptive");
}

TEST(RetryModeTest, ParsesMaxAttempts) {
  EXPECT_EQ(parseMaxAttempts("3").value(), 3);
  EXPECT_EQ(parseMaxAttempts(" 10 ").value(), 10);
  EXPECT_EQ(parseMaxAttempts("1").value(), 1);
  for (const char* bad : {"", "0", "-1", "3x", "x", "2.5", "99999999999"}) {
    auto attempts = parseMaxAttempts(bad);
    ASSERT_FALSE(attempts.has_value()) << bad;
    EXPECT_EQ(attempts.error().code, "InvalidMaxAttempts");
  }
}

TEST(ClassifyFailureTest, MatchesStandardMode) {
  struct Case {
    int status;
    const char* code;
    FailureClass expected;
  };
  const Case cases[] = {
      {400, "Throttling", FailureClass::kThrottling},
      {400, "ThrottlingException", FailureClass::kThrottling},
      {503, "RequestLimitExceeded", FailureClass::kThrottling},
      {429, "TooManyRequestsException", FailureClass::kThrottling},
      {400, "PriorRequestNotComplete", FailureClass::kThrottling},
      {503, "SlowDown", FailureClass::kThrottling},
      {400, "RequestThrottled", FailureClass::kThrottling},
      {429, "", FailureClass::kThrottling},
      {500, "HealthUnavailable", FailureClass::kTransient},
      {500, "", FailureClass::kTransient},
      {502, "", FailureClass::kTransient},
      {503, "ServiceUnavailable", FailureClass::kTransient},
      {504, "", FailureClass::kTransient},
      {400, "RequestTimeout", FailureClass::kTransient},
      {400, "RequestTimeoutException", FailureClass::kTransient},
      {400, "IDPCommunicationError", FailureClass::kTransient},
      {0, "ConnectionError", FailureClass::kTransient},
      {0, "TlsError", FailureClass::kTransient},
      {0, "ConnectTimeout", FailureClass::kTimeout},
      {0, "RequestTimeout", FailureClass::kTimeout},
      {400, "ValidationError", FailureClass::kNotRetryable},
      {400, "TargetGroupNotFound", FailureClass::kNotRetryable},
      {403, "SignatureDoesNotMatch", FailureClass::kNotRetryable},
      {403, "AccessDenied", FailureClass::kNotRetryable},
      {501, "", FailureClass::kNotRetryable},
      {404, "", FailureClass::kNotRetryable},
      {0, "NoCredentials", FailureClass::kNotRetryable},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(classifyFailure(awsError(c.status, c.code)), c.expected) << c.status << " " << c.code;
  }
}

TEST(RetryPolicyTest, BackoffIsFullJitterCappedAtTwentySeconds) {
  RetryPolicy policy(RetryOptions{}, [] { return 0.5; });
  EXPECT_EQ(policy.backoff(1, 0.5), milliseconds(500));
  EXPECT_EQ(policy.backoff(2, 0.5), milliseconds(1'000));
  EXPECT_EQ(policy.backoff(3, 0.5), milliseconds(2'000));
  EXPECT_EQ(policy.backoff(5, 0.5), milliseconds(8'000));
  EXPECT_EQ(policy.backoff(6, 0.5), milliseconds(10'000));  // min(32 s, 20 s) * 0.5
  EXPECT_EQ(policy.backoff(60, 0.5), milliseconds(10'000));
  EXPECT_EQ(policy.backoff(1000, 0.5), milliseconds(10'000));
  EXPECT_EQ(policy.backoff(1, 0.0), nanoseconds(0));
  for (int attempt = 1; attempt < 12; ++attempt) {
    const nanoseconds ceiling =
        std::min<nanoseconds>(milliseconds(1'000) * (1LL << (attempt - 1)), milliseconds(20'000));
    EXPECT_LT(policy.backoff(attempt, 0.999999), ceiling + nanoseconds(1)) << attempt;
    EXPECT_GT(policy.backoff(attempt, 0.999999), ceiling * 0.99) << attempt;
  }
}

TEST(RetryPolicyTest, RetriesUpToMaxAttemptsWithInjectedJitter) {
  RetryPolicy policy(RetryOptions{}, [] { return 0.25; });
  RetryPolicy::CallState state;

  auto first = policy.onAttemptFailed(state, awsError(400, "Throttling"));
  EXPECT_TRUE(first.retry);
  EXPECT_EQ(first.failure, FailureClass::kThrottling);
  EXPECT_EQ(first.delay, milliseconds(250));
  EXPECT_EQ(state.attempt, 2);

  auto second = policy.onAttemptFailed(state, awsError(503, ""));
  EXPECT_TRUE(second.retry);
  EXPECT_EQ(second.delay, milliseconds(500));
  EXPECT_EQ(state.attempt, 3);

  auto third = policy.onAttemptFailed(state, awsError(400, "Throttling"));
  EXPECT_FALSE(third.retry);
  EXPECT_EQ(third.stop, RetryPolicy::Stop::kMaxAttempts);
  EXPECT_EQ(policy.quota().available(), 490);
}

TEST(RetryPolicyTest, MaxAttemptsOneNeverRetries) {
  RetryOptions options;
  options.maxAttempts = 1;
  RetryPolicy policy(options, [] { return 0.5; });
  RetryPolicy::CallState state;
  auto decision = policy.onAttemptFailed(state, awsError(503, ""));
  EXPECT_FALSE(decision.retry);
  EXPECT_EQ(decision.stop, RetryPolicy::Stop::kMaxAttempts);
  EXPECT_EQ(policy.quota().available(), 500);
}

TEST(RetryPolicyTest, TerminalErrorsAreNotRetriedAndCostNothing) {
  RetryPolicy policy(RetryOptions{}, [] { return 0.5; });
  for (const char* code : {"ValidationError", "SignatureDoesNotMatch", "TargetGroupNotFound",
                           "InvalidTarget", "AccessDenied"}) {
    RetryPolicy::CallState state;
    auto decision = policy.onAttemptFailed(state, awsError(400, code));
    EXPECT_FALSE(decision.retry) << code;
    EXPECT_EQ(decision.stop, RetryPolicy::Stop::kNotRetryable) << code;
    EXPECT_EQ(state.attempt, 1);
  }
  EXPECT_EQ(policy.quota().available(), 500);
}

TEST(RetryPolicyTest, QuotaCostsAndRefundsFollowBotocore) {
  RetryPolicy policy(RetryOptions{}, [] { return 0.5; });

  // A timeout costs 10; success after it refunds that 10.
  RetryPolicy::CallState timedOut;
  ASSERT_TRUE(policy.onAttemptFailed(timedOut, transportError("RequestTimeout")).retry);
  EXPECT_EQ(policy.quota().available(), 490);
  policy.onCallSucceeded(timedOut);
  EXPECT_EQ(policy.quota().available(), 500);

  // Two retries cost 5 each; success refunds the last retry's 5 only.
  RetryPolicy::CallState twice;
  ASSERT_TRUE(policy.onAttemptFailed(twice, transportError("ConnectionError")).retry);
  ASSERT_TRUE(policy.onAttemptFailed(twice, awsError(500, "")).retry);
  EXPECT_EQ(policy.quota().available(), 490);
  policy.onCallSucceeded(twice);
  EXPECT_EQ(policy.quota().available(), 495);

  // A first-try success refunds 1, never above capacity.
  RetryPolicy::CallState clean;
  policy.onCallSucceeded(clean);
  EXPECT_EQ(policy.quota().available(), 496);
  for (int i = 0; i < 10; ++i) policy.onCallSucceeded(clean);
  EXPECT_EQ(policy.quota().available(), 500);
}

TEST(RetryPolicyTest, ExhaustedQuotaStopsRetrying) {
  RetryOptions options;
  options.maxAttempts = 1'000;
  RetryPolicy policy(options, [] { return 0.0; });
  RetryPolicy::CallState state;
  int retries = 0;
  for (;;) {
    auto decision = policy.onAttemptFailed(state, awsError(503, ""));
    if (!decision.retry) {
      EXPECT_EQ(decision.stop, RetryPolicy::Stop::kQuotaExhausted);
      break;
    }
    ++retries;
  }
  EXPECT_EQ(retries, 100);  // 500 tokens / 5 per retry
  EXPECT_EQ(policy.quota().available(), 0);

  // A timeout needs 10: with 5 left it is refused while a plain retry is allowed.
  policy.onCallSucceeded(state);  // refunds 5
  RetryPolicy::CallState next;
  auto timeout = policy.onAttemptFailed(next, transportError("ConnectTimeout"));
  EXPECT_FALSE(timeout.retry);
  EXPECT_EQ(timeout.stop, RetryPolicy::Stop::kQuotaExhausted);
  EXPECT_TRUE(policy.onAttemptFailed(next, awsError(503, "")).retry);
}

TEST(RetryQuotaTest, ConcurrentAcquiresNeverOverdraw) {
  RetryQuota quota(500);
  std::atomic<int> granted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i) {
        if (quota.acquire(5)) granted.fetch_add(1);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(granted.load(), 100);
  EXPECT_EQ(quota.available(), 0);
  quota.release(1'000);
  EXPECT_EQ(quota.available(), 500);
}

TEST(DefaultRandomTest, StaysInUnitInterval) {
  RandomFn random = defaultRandom();
  double sum = 0;
  for (int i = 0; i < 10'000; ++i) {
    const double r = random();
    ASSERT_GE(r, 0.0);
    ASSERT_LT(r, 1.0);
    sum += r;
  }
  EXPECT_NEAR(sum / 10'000, 0.5, 0.05);
}

TEST(ClockSkewTest, RecognisesTheCodesAndMessagesOfAClockThatIsOff) {
  auto error = [](int status, std::string code, std::string message) {
    core::Error e;
    e.kind = core::ErrorKind::kAuth;
    e.code = std::move(code);
    e.message = std::move(message);
    e.httpStatus = status;
    return e;
  };
  EXPECT_TRUE(
      isClockSkewError(error(400, "RequestExpired", "RegisterTargets: Request has expired.")));
  EXPECT_TRUE(isClockSkewError(error(403, "RequestTimeTooSkewed", "")));
  EXPECT_TRUE(isClockSkewError(error(403, "RequestInTheFuture", "")));
  EXPECT_TRUE(isClockSkewError(error(403, "SignatureDoesNotMatch",
                                     "RegisterTargets: Signature expired: 20231114T221320Z is now "
                                     "earlier than 20231114T225820Z")));
  EXPECT_TRUE(isClockSkewError(error(403, "SignatureDoesNotMatch",
                                     "x: Signature not yet current: 20231114T221320Z is still "
                                     "later than 20231114T220820Z")));
  EXPECT_TRUE(isClockSkewError(error(400, "InvalidSignatureException", "Signature expired: ...")));
  EXPECT_TRUE(isClockSkewError(error(401, "AuthFailure",
                                     "AWS was not able to validate: signature "
                                     "expired")));

  EXPECT_FALSE(isClockSkewError(
      error(403, "SignatureDoesNotMatch", "The request signature we calculated does not match")));
  EXPECT_FALSE(isClockSkewError(error(403, "AccessDenied", "Signature expired")));
  EXPECT_FALSE(isClockSkewError(error(400, "ExpiredToken", "The security token expired")));
  EXPECT_FALSE(isClockSkewError(error(0, "RequestExpired", ""))) << "no HTTP answer: not from AWS";
}

}  // namespace
}  // namespace endpointbinder::aws
