// Client-side rate limiting for AWS calls.
//
// TokenBucket is the pure math (rate, burst, refill) over an injected time point.
// RateLimiter keeps one bucket per API action (aws-load-balancer-controller style: ELBv2
// throttles per action and account) and blocks callers until a token is free or their deadline
// passes. Reads (Describe*/List*/Get*) and writes never share an action bucket, so a storm of
// reads cannot use up a write's budget. An optional global bucket caps the sum of all actions;
// when it is short, writes waiting for it go first and reads wait until no write is waiting.
// AdaptiveRateLimiter is AWS_RETRY_MODE=adaptive's send-rate limiter: off until the service
// throttles, then a token bucket whose rate follows CUBIC (botocore retries/adaptive.py and
// throttling.py: beta 0.7, scale 0.4, measured rate over half-second buckets).
//
// Thread-safety: TokenBucket and CubicRate are plain values (not thread-safe). RateLimiter and
// AdaptiveRateLimiter are safe to call from any number of threads. One RateLimiter serves one
// service (action names are per service).
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "controller/core/clock.h"
#include "controller/core/error.h"

namespace endpointbinder::aws {

class TokenBucket {
 public:
  // REQUIRES: ratePerSecond > 0, burst >= 1. Starts with `initialTokens` (default: full).
  TokenBucket(double ratePerSecond, double burst, core::MonoTime now,
              std::optional<double> initialTokens = std::nullopt);

  // Adds the tokens accrued up to `now` (times before the last refill add nothing).
  void refill(core::MonoTime now);
  // Refills, then takes `amount` tokens if that many are there.
  bool tryTake(core::MonoTime now, double amount = 1.0);
  // Refills, then returns how long until `amount` tokens are there (zero when they are).
  // REQUIRES: amount <= burst.
  std::chrono::nanoseconds timeUntil(core::MonoTime now, double amount = 1.0);
  // Refills at the old rate, then switches; tokens above the new burst are dropped.
  void setRate(double ratePerSecond, double burst, core::MonoTime now);

  double tokens() const { return tokens_; }
  double rate() const { return rate_; }
  double burst() const { return burst_; }

 private:
  double rate_;
  double burst_;
  double tokens_;
  core::MonoTime last_;
};

struct BucketSpec {
  double rate = 10.0;   // tokens per second, > 0
  double burst = 40.0;  // bucket size, >= 1
  bool operator==(const BucketSpec&) const = default;
};

// Describe*, List* and Get* actions are reads; every other action is a write.
bool isReadAction(std::string_view action);

// The defaults are ELBv2's documented quotas (Register/DeregisterTargets 4/s burst 20,
// Describe* 10/s burst 40) with half a second's worth of tokens taken off each burst. Requests
// reach AWS after a variable delay (the first ones also open the connection), so a client that
// spends exactly the server's burst and then sends at exactly its rate has its next request land
// early and throttled; a burst margin of m tokens absorbs m / rate seconds of such jitter. It
// costs half a second once, when a cold start drains the bucket (bench/scale measured 1
// throttle per 100-binding cold start without it, none with it).
struct RateLimitOptions {
  BucketSpec readDefault{10.0, 35.0};   // reads not listed in perAction
  BucketSpec writeDefault{10.0, 35.0};  // writes not listed in perAction
  std::map<std::string, BucketSpec, std::less<>> perAction{
      {"RegisterTargets", {4.0, 18.0}},
      {"DeregisterTargets", {4.0, 18.0}},
  };
  std::optional<BucketSpec> global;  // shared by all actions, writes first; none by default

  BucketSpec forAction(std::string_view action) const;
};

// Parses a --aws-rate-limits style spec onto `base`: comma-separated `KEY=RATE:BURST`, where KEY
// is an action name ("RegisterTargets"), "Describe*" (reads not otherwise listed), "*" (writes
// not otherwise listed) or "global" (the shared budget). RATE is a positive decimal number,
// BURST a number >= 1. Blanks around items are ignored; an empty spec returns `base`.
// On error (kTerminal, code "InvalidRateLimitSpec") the message names the offending item.
core::Result<RateLimitOptions> parseRateLimitSpec(std::string_view spec,
                                                  RateLimitOptions base = {});

// The services whose client-side limits --aws-rate-limits may tune, by SigV4 signing name.
inline constexpr std::string_view kRateLimitedServices[] = {"elasticloadbalancing", "ec2",
                                                            "autoscaling", "sqs", "route53"};

// Splits a --aws-rate-limits spec by service: an item "SERVICE:KEY=RATE:BURST" (SERVICE one of
// kRateLimitedServices, e.g. "ec2:DescribeInstances=20:100", "route53:*=2:5") belongs to that
// service; an item without a prefix to ELBv2 ("elasticloadbalancing"), as before services
// were added. Returns each service's items (prefix removed) as a spec for
// parseRateLimitSpec, "" for a service not mentioned. Only the prefixes are checked here.
core::Result<std::map<std::string, std::string, std::less<>>> splitRateLimitSpecByService(
    std::string_view spec);

// How a limiter waits. The default waits on a condition variable in real time (so other
// threads can wake it); tests with a ManualClock pass a function that advances the clock.
using SleepFn = std::function<void(std::chrono::nanoseconds)>;

class RateLimiter {
 public:
  // `clock` must outlive the limiter. With `sleep` set, waiting calls it with the limiter's lock
  // released instead of waiting on the condition variable.
  RateLimiter(RateLimitOptions options, const core::Clock& clock, SleepFn sleep = {});

  // Blocks until `action` may send one request, takes the token(s) and returns how long it
  // waited. Fails (kRetryable, code "ClientRateLimited") without taking anything when no token
  // can be had by `deadline`; it returns at once when the wait is known to exceed the deadline.
  core::Result<std::chrono::nanoseconds> acquire(std::string_view action, core::MonoTime deadline);

  // Tokens now in `action`'s bucket (after refill); for tests and debugging.
  double available(std::string_view action);

  const RateLimitOptions& options() const { return options_; }

 private:
  TokenBucket& bucketLocked(std::string_view action, core::MonoTime now);
  void waitLocked(std::unique_lock<std::mutex>& lock, std::chrono::nanoseconds duration);

  const RateLimitOptions options_;
  const core::Clock& clock_;
  SleepFn sleep_;
  std::mutex mu_;
  std::condition_variable changed_;
  std::map<std::string, TokenBucket, std::less<>> buckets_;
  std::optional<TokenBucket> global_;
  int writersWaitingForGlobal_ = 0;
};

// CUBIC rate calculation (RFC 8312 applied to request rates, as the SDKs' adaptive mode does).
// Times are seconds on any monotonic scale.
class CubicRate {
 public:
  explicit CubicRate(double startTime, double startMaxRate = 0.0);
  // Rate to use after a successful response at `time`.
  double onSuccess(double time) const;
  // Rate to use after a throttled response at `time`, when sending at `currentRate`.
  double onThrottle(double currentRate, double time);

  double lastMaxRate() const { return wMax_; }

 private:
  static constexpr double kScale = 0.4;
  static constexpr double kBeta = 0.7;
  void recomputeK();

  double wMax_;
  double k_ = 0.0;
  double lastThrottle_;
};

class AdaptiveRateLimiter {
 public:
  // `clock` must outlive the limiter.
  explicit AdaptiveRateLimiter(const core::Clock& clock, SleepFn sleep = {});

  // Before every attempt. Until the first throttle it returns at once; afterwards it waits for a
  // token of the adaptive bucket. Fails (kRetryable, "ClientRateLimited") when the token would
  // come after `deadline`, without taking it. Returns the time waited.
  core::Result<std::chrono::nanoseconds> beforeSend(core::MonoTime deadline);

  // After every attempt (any outcome): updates the measured send rate and, through CUBIC, the
  // allowed rate (cut by 30% on a throttle, growing back on successes).
  void onResponse(bool throttled);

  bool enabled() const;
  double sendRate() const;      // tokens per second of the adaptive bucket
  double measuredRate() const;  // smoothed rate of responses per second

 private:
  static constexpr double kMinRate = 0.5;
  static constexpr double kSmoothing = 0.8;
  static constexpr double kMeasureBucketSeconds = 0.5;
  double secondsNow() const;
  void updateMeasuredRateLocked(double t);
  void setRateLocked(double rate, core::MonoTime now);

  const core::Clock& clock_;
  SleepFn sleep_;
  mutable std::mutex mu_;
  std::condition_variable changed_;
  bool enabled_ = false;
  TokenBucket bucket_;
  CubicRate cubic_;
  double measuredRate_ = 0.0;
  double lastMeasureBucket_;
  int countInBucket_ = 0;
};

}  // namespace endpointbinder::aws
