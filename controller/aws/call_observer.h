// AwsCallObserver: the hook through which every AWS call is counted and timed. The query client
// reports each HTTP attempt (onAttempt) and each finished call (onCall, once, after the last
// attempt); the metrics layer implements the interface. CountingObserver is an in-memory
// implementation for tests and debugging.
// Thread-safety: observers are called concurrently from every thread that makes AWS calls and
// must be thread-safe; CountingObserver is.
#pragma once

#include <chrono>
#include <mutex>
#include <string>
#include <vector>

#include "controller/core/error.h"

namespace endpointbinder::aws {

// What a call (or one attempt) came to. Kept small and fixed so it can be a metrics label.
enum class CallOutcome {
  kSuccess,
  kThrottled,    // the service said slow down (Throttling, RequestLimitExceeded, HTTP 429, ...)
  kTransient,    // 5xx, timeout, connection reset: retryable but not throttling
  kTerminal,     // validation and other errors that will fail again until the input changes
  kAuth,         // signature, credentials or permission errors
  kNotFound,     // the named resource does not exist
  kConflict,     // owned by someone else
  kRateLimited,  // our own client-side token bucket gave no token before the deadline
};

// Stable lowercase spelling for labels: "success", "throttled", "transient", "terminal", "auth",
// "not_found", "conflict", "rate_limited".
const char* callOutcomeName(CallOutcome outcome);

struct AttemptRecord {
  std::string service;    // "elasticloadbalancing", "sts", "ec2", ...
  std::string operation;  // "RegisterTargets"
  int attempt = 1;        // 1-based
  CallOutcome outcome = CallOutcome::kSuccess;
  int httpStatus = 0;                   // 0 when no response arrived (timeout, reset)
  std::string errorCode;                // AWS or transport error code; empty on success
  std::chrono::nanoseconds latency{0};  // this attempt's HTTP round trip only
};

struct CallRecord {
  std::string service;
  std::string operation;
  CallOutcome outcome = CallOutcome::kSuccess;
  int attempts = 0;  // HTTP attempts made (0 when the call failed before sending)
  int httpStatus = 0;
  std::string errorCode;
  std::string requestId;
  std::chrono::nanoseconds latency{0};        // whole call: rate-limit waits, backoff, retries
  std::chrono::nanoseconds rateLimitWait{0};  // part of latency spent waiting for tokens
  int retries() const { return attempts > 1 ? attempts - 1 : 0; }
};

class AwsCallObserver {
 public:
  virtual ~AwsCallObserver() = default;
  // One HTTP attempt finished (any outcome). Called before the retry decision.
  virtual void onAttempt(const AttemptRecord& attempt) = 0;
  // The call finished: success, or the error returned to the caller.
  virtual void onCall(const CallRecord& call) = 0;
};

// Thread-safe in-memory counters keyed by (service, operation, outcome).
class CountingObserver final : public AwsCallObserver {
 public:
  struct Totals {
    int calls = 0;
    int attempts = 0;
    int retries = 0;
    std::chrono::nanoseconds latency{0};
  };

  void onAttempt(const AttemptRecord& attempt) override;
  void onCall(const CallRecord& call) override;

  // Calls that ended with `outcome` for `operation` (any service).
  int calls(const std::string& operation, CallOutcome outcome) const;
  // Calls of `operation`, every outcome.
  int calls(const std::string& operation) const;
  // HTTP attempts of `operation` that ended with `outcome`.
  int attempts(const std::string& operation, CallOutcome outcome) const;
  // Totals over every call of `operation`.
  Totals totals(const std::string& operation) const;
  std::vector<CallRecord> callLog() const;
  std::vector<AttemptRecord> attemptLog() const;

 private:
  mutable std::mutex mu_;
  std::vector<AttemptRecord> attempts_;
  std::vector<CallRecord> calls_;
};

}  // namespace endpointbinder::aws
