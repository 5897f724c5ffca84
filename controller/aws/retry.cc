#include "controller/aws/retry.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <memory>
#include <random>
#include <string>

#include "controller/core/text.h"

namespace endpointbinder::aws {
namespace {

// The union of throttling codes the SDKs know (botocore ThrottledRetryableChecker, plus the
// spellings ELBv2/EC2/Route 53 use). PriorRequestNotComplete is Route 53's "busy" answer.
constexpr std::array<std::string_view, 14> kThrottlingCodes = {
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "LimitExceededException",
    "RequestThrottled",
    "SlowDown",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
};

// botocore TransientRetryableChecker codes, plus STS's IDPCommunicationError (botocore's
// special-cased web-identity retry).
constexpr std::array<std::string_view, 4> kTransientCodes = {
    "RequestTimeout",
    "RequestTimeoutException",
    "PriorRequestNotComplete",
    "IDPCommunicationError",
};

// Leading blanks, and trailing blanks or line ends (a value read from a file keeps its
// newline). A leading line end stays: a config value continued onto the next line is not a
// number or a mode.
std::string_view trimmedValue(std::string_view text) {
  const size_t end = text.find_last_not_of(" \t\r\n");
  return end == std::string_view::npos ? std::string_view{}
                                       : core::trimmed(text.substr(0, end + 1));
}

}  // namespace

const char* retryModeName(RetryMode mode) {
  switch (mode) {
    case RetryMode::kStandard:
      return "standard";
    case RetryMode::kAdaptive:
      return "adaptive";
  }
  return "standard";
}

core::Result<RetryMode> parseRetryMode(std::string_view text) {
  const std::string_view mode = trimmedValue(text);
  if (mode == "standard" || mode == "legacy") return RetryMode::kStandard;
  if (mode == "adaptive") return RetryMode::kAdaptive;
  return core::makeError(core::ErrorKind::kTerminal,
                         "AWS_RETRY_MODE must be standard, legacy or adaptive, not \"" +
                             std::string(mode.substr(0, 40)) + "\"",
                         "InvalidRetryMode");
}

core::Result<int> parseMaxAttempts(std::string_view text) {
  const std::string_view digits = trimmedValue(text);
  int value = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() || value < 1) {
    return core::makeError(core::ErrorKind::kTerminal,
                           "AWS_MAX_ATTEMPTS must be an integer >= 1, not \"" +
                               std::string(digits.substr(0, 40)) + "\"",
                           "InvalidMaxAttempts");
  }
  return value;
}

RandomFn defaultRandom() {
  struct State {
    std::mutex mu;
    std::mt19937_64 engine{std::random_device{}()};
    std::uniform_real_distribution<double> dist{0.0, 1.0};
  };
  auto state = std::make_shared<State>();
  return [state] {
    std::lock_guard lock(state->mu);
    return state->dist(state->engine);
  };
}

bool isThrottlingCode(std::string_view code) {
  return std::find(kThrottlingCodes.begin(), kThrottlingCodes.end(), code) !=
         kThrottlingCodes.end();
}

bool isTransientCode(std::string_view code) {
  return std::find(kTransientCodes.begin(), kTransientCodes.end(), code) != kTransientCodes.end();
}

bool isTransientStatus(int httpStatus) {
  return httpStatus == 500 || httpStatus == 502 || httpStatus == 503 || httpStatus == 504;
}

bool isClockSkewError(const core::Error& error) {
  if (error.httpStatus == 0) return false;  // no answer from AWS
  if (error.code == "RequestExpired" || error.code == "RequestTimeTooSkewed" ||
      error.code == "RequestInTheFuture") {
    return true;
  }
  if (error.code != "SignatureDoesNotMatch" && error.code != "InvalidSignatureException" &&
      error.code != "AuthFailure") {
    return false;
  }
  const std::string message = core::asciiLower(error.message);
  return message.find("signature expired") != std::string::npos ||
         message.find("signature not yet current") != std::string::npos;
}

FailureClass classifyFailure(const core::Error& error) {
  if (error.httpStatus == 0) {
    // No response: the transport failed. botocore retries every ConnectionError and
    // HTTPClientError (connect failures, resets, TLS, read timeouts) and charges timeouts more.
    if (error.code == "ConnectTimeout" || error.code == "RequestTimeout") {
      return FailureClass::kTimeout;
    }
    if (error.code == "ConnectionError" || error.code == "TlsError") {
      return FailureClass::kTransient;
    }
    // Errors raised before anything was sent (credentials, signing, rate limiter) are not
    // attempts and are not retried here.
    return FailureClass::kNotRetryable;
  }
  // Throttling is checked first: PriorRequestNotComplete is both, and throttling wins so the
  // adaptive limiter sees it.
  if (isThrottlingCode(error.code) || error.httpStatus == 429) return FailureClass::kThrottling;
  if (isTransientCode(error.code) || isTransientStatus(error.httpStatus)) {
    return FailureClass::kTransient;
  }
  return FailureClass::kNotRetryable;
}

RetryQuota::RetryQuota(int capacity) : capacity_(capacity), available_(capacity) {}

bool RetryQuota::acquire(int amount) {
  std::lock_guard lock(mu_);
  if (amount > available_) return false;
  available_ -= amount;
  return true;
}

void RetryQuota::release(int amount) {
  std::lock_guard lock(mu_);
  available_ = std::min(capacity_, available_ + std::max(0, amount));
}

int RetryQuota::available() const {
  std::lock_guard lock(mu_);
  return available_;
}

RetryPolicy::RetryPolicy(RetryOptions options, RandomFn random)
    : options_(std::move(options)), random_(std::move(random)), quota_(options_.quotaCapacity) {
  options_.maxAttempts = std::max(1, options_.maxAttempts);
}

RetryPolicy::Decision RetryPolicy::onAttemptFailed(CallState& state, const core::Error& error) {
  Decision decision;
  decision.failure = classifyFailure(error);
  if (decision.failure == FailureClass::kNotRetryable) {
    decision.stop = Stop::kNotRetryable;
    return decision;
  }
  if (state.attempt >= options_.maxAttempts) {
    decision.stop = Stop::kMaxAttempts;
    return decision;
  }
  const int cost =
      decision.failure == FailureClass::kTimeout ? options_.timeoutRetryCost : options_.retryCost;
  if (!quota_.acquire(cost)) {
    decision.stop = Stop::kQuotaExhausted;
    return decision;
  }
  state.lastQuotaCost = cost;
  decision.retry = true;
  decision.delay = backoff(state.attempt, random_ ? random_() : 0.0);
  ++state.attempt;
  return decision;
}

void RetryPolicy::onCallSucceeded(const CallState& state) {
  quota_.release(state.lastQuotaCost > 0 ? state.lastQuotaCost : options_.noRetryRefund);
}

std::chrono::nanoseconds RetryPolicy::backoff(int failedAttempt, double r) const {
  using Seconds = std::chrono::duration<double>;
  const double cap = Seconds(options_.maxBackoff).count();
  // 2^(n-1) overflows nothing here: the exponent is clamped long before doubles lose range.
  const int exponent = std::clamp(failedAttempt - 1, 0, 62);
  const double ceiling = std::min(std::ldexp(Seconds(options_.baseDelay).count(), exponent), cap);
  const double draw = std::clamp(r, 0.0, 1.0);
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Seconds(draw * ceiling));
}

}  // namespace endpointbinder::aws
