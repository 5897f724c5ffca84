// Standard-mode retries as the AWS SDKs implement them (botocore/retries/standard.py, quota.py):
// which failures are retried, how long to back off, and the per-client retry quota that stops
// retry storms when a service is unhealthy. Pure decision logic: randomness is injected and
// nothing here sleeps; the query client does the waiting.
//
// Behaviour (AWS_RETRY_MODE=standard, the default; "legacy" is treated as standard):
//  - at most `maxAttempts` attempts per call (AWS_MAX_ATTEMPTS, default 3, first try included);
//  - retried: throttling error codes, transient codes (RequestTimeout, PriorRequestNotComplete,
//    ...), HTTP 500/502/503/504 (and 429, as the Java SDK does), and transport failures (connect
//    error, timeout, reset, TLS);
//  - backoff before attempt n+1 = rand[0,1) * min(2^(n-1) * base, maxBackoff): full jitter,
//    base 1 s, cap 20 s;
//  - retry quota: 500 tokens per client; a retry costs 5 (10 after a timeout); a call that
//    succeeds without retrying refunds 1, one that succeeds after retrying refunds the cost of
//    its last retry. With too few tokens the error is returned instead of retrying.
// "adaptive" mode adds a client-side send-rate limiter (AdaptiveRateLimiter in rate_limiter.h);
// its retry decisions are those of standard mode.
// Thread-safety: RetryQuota and RetryPolicy are safe to share between threads (the injected
// random function must be too; defaultRandom() is). RetryPolicy::CallState belongs to one call.
#pragma once

#include <chrono>
#include <functional>
#include <mutex>
#include <string_view>

#include "controller/core/error.h"

namespace endpointbinder::aws {

enum class RetryMode { kStandard, kAdaptive };

// "standard" or "adaptive".
const char* retryModeName(RetryMode mode);

// AWS_RETRY_MODE: "standard", "legacy" (accepted, behaves as standard) or "adaptive";
// surrounding blanks ignored, case-sensitive like the SDKs. Anything else is a kTerminal error.
core::Result<RetryMode> parseRetryMode(std::string_view text);

// AWS_MAX_ATTEMPTS: a decimal integer >= 1 (1 disables retries). Anything else is a kTerminal
// error.
core::Result<int> parseMaxAttempts(std::string_view text);

// Returns uniformly distributed values in [0, 1). Must be safe to call from several threads.
using RandomFn = std::function<double()>;

// A thread-safe RandomFn seeded from std::random_device.
RandomFn defaultRandom();

struct RetryOptions {
  int maxAttempts = 3;
  RetryMode mode = RetryMode::kStandard;
  std::chrono::milliseconds baseDelay{1'000};
  std::chrono::milliseconds maxBackoff{20'000};
  int quotaCapacity = 500;
  int retryCost = 5;
  int timeoutRetryCost = 10;
  int noRetryRefund = 1;
};

// How a failed attempt counts for retrying.
enum class FailureClass {
  kThrottling,    // service-side rate limiting
  kTransient,     // 5xx, RequestTimeout codes, connection errors and resets
  kTimeout,       // no response before the deadline (transient; costs more retry quota)
  kNotRetryable,  // validation, auth, not found, ...: retrying cannot help
};

// True for the error codes the SDKs treat as throttling (Throttling, ThrottlingException,
// RequestLimitExceeded, TooManyRequestsException, PriorRequestNotComplete, SlowDown, ...).
bool isThrottlingCode(std::string_view code);
// True for error codes the SDKs retry as transient (RequestTimeout, RequestTimeoutException,
// PriorRequestNotComplete, IDPCommunicationError).
bool isTransientCode(std::string_view code);
// True for the HTTP statuses retried whatever the body says: 500, 502, 503, 504.
bool isTransientStatus(int httpStatus);

// True when AWS refused the request because its signing time is too far from the server's
// clock: RequestExpired, RequestTimeTooSkewed, RequestInTheFuture, or SignatureDoesNotMatch /
// InvalidSignatureException / AuthFailure whose message says "Signature expired" or
// "Signature not yet current" (the codes the Java and C++ SDKs treat as clock skew). Such an
// error is not retried as such; the query client corrects its clock offset from the response's
// Date header and then retries once (query_client.h).
bool isClockSkewError(const core::Error& error);

// Classifies one failed attempt. `error.httpStatus == 0` means the transport failed (codes
// "ConnectTimeout" and "RequestTimeout" are timeouts, any other is a connection error).
FailureClass classifyFailure(const core::Error& error);

// The per-client token pool that bounds retries (botocore RetryQuota). Thread-safe.
class RetryQuota {
 public:
  explicit RetryQuota(int capacity);
  // Takes `amount` tokens when that many are available; false (and nothing taken) otherwise.
  bool acquire(int amount);
  // Gives back up to `amount` tokens, never above capacity.
  void release(int amount);
  int available() const;
  int capacity() const { return capacity_; }

 private:
  const int capacity_;
  mutable std::mutex mu_;
  int available_;
};

class RetryPolicy {
 public:
  // Per-call state: create one per API call, pass it to every decision of that call.
  struct CallState {
    int attempt = 1;        // the attempt currently being made, 1-based
    int lastQuotaCost = 0;  // quota taken for the latest retry; 0 when never retried
  };

  enum class Stop {
    kNone,  // retry (Decision::retry is true)
    kNotRetryable,
    kMaxAttempts,
    kQuotaExhausted,
  };

  struct Decision {
    bool retry = false;
    std::chrono::nanoseconds delay{0};  // wait this long before the next attempt
    FailureClass failure = FailureClass::kNotRetryable;
    Stop stop = Stop::kNone;
  };

  // REQUIRES: options.maxAttempts >= 1; random returns values in [0, 1).
  RetryPolicy(RetryOptions options, RandomFn random);

  // Attempt `state.attempt` failed with `error`. When the decision is to retry, quota has been
  // taken and state.attempt has moved to the next attempt.
  Decision onAttemptFailed(CallState& state, const core::Error& error);

  // The call succeeded (2xx): refunds quota as botocore does.
  void onCallSucceeded(const CallState& state);

  // Backoff before the attempt after `failedAttempt` (1-based), for a random draw `r` in [0,1):
  // r * min(2^(failedAttempt-1) * base, maxBackoff). Pure.
  std::chrono::nanoseconds backoff(int failedAttempt, double r) const;

  const RetryOptions& options() const { return options_; }
  const RetryQuota& quota() const { return quota_; }

 private:
  RetryOptions options_;
  RandomFn random_;
  RetryQuota quota_;
};

}  // namespace endpointbinder::aws
