// DeliveryQueue: the pending messages of one notification destination and when each may go.
// Pure: time is a parameter, randomness injected, nothing sleeps or sends; the destination's
// worker thread (notifier.h) asks take() for the next message and reports back with finish().
//
//  - Coalescing: one pending Notice per binding. The first event of a quiet binding opens a
//    window (coalesceWindow); everything of that binding until the message goes folds into it.
//    After a message for a binding went out, its next waits at least minInterval: a flapping
//    binding sends one summary per interval, never one message per flap.
//  - Rate limit: a token bucket per destination (ratePerSecond, burst); a message waits for a
//    token.
//  - Bounded: at most `capacity` pending messages; adding one more drops the oldest pending
//    (by first event), counted.
//  - One message in flight at a time. Events for its binding arriving meanwhile start a new
//    pending message.
//  - Retries: a failed attempt is retried after min(base * 2^(n-1), maxBackoff), scaled by a
//    random factor in [0.5, 1), up to maxAttempts attempts; the message is then given up
//    (counted as failed). Events that arrived meanwhile travel with the retry.
//  - Throttling (HTTP 429): the whole destination pauses for Retry-After (capped at
//    maxRetryAfter; the backoff when absent), and the message is retried then. Throttles do
//    not use up attempts; at most maxThrottles per message.
// Thread-safety: none; the worker guards it with its mutex.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "controller/aws/retry.h"
#include "controller/core/clock.h"
#include "controller/runtime/notification.h"

namespace endpointbinder::runtime {

struct DeliveryOptions {
  std::chrono::nanoseconds coalesceWindow = std::chrono::seconds(10);
  std::chrono::nanoseconds minInterval = std::chrono::seconds(60);
  size_t capacity = 256;
  double ratePerSecond = 1.0;
  double burst = 3.0;
  int maxAttempts = 5;
  int maxThrottles = 10;
  std::chrono::nanoseconds baseBackoff = std::chrono::seconds(1);
  std::chrono::nanoseconds maxBackoff = std::chrono::seconds(60);
  std::chrono::nanoseconds maxRetryAfter = std::chrono::minutes(10);
};

// What one send came to.
struct SendOutcome {
  enum class Kind {
    kSent,
    kRetry,      // transient: 5xx, timeout, connection error, SSM unreadable for now
    kThrottled,  // 429: pause the destination for retryAfter (backoff when absent)
    kFailed,     // permanent: retrying cannot help (400, gone webhook, no such topic)
  };
  Kind kind = Kind::kSent;
  std::optional<std::chrono::nanoseconds> retryAfter;
  std::string error;  // for logs; never holds a secret
};

class DeliveryQueue {
 public:
  struct Delivery {
    Notice notice;
    int attempts = 0;   // failed attempts before this one
    int throttles = 0;  // 429s before this one
    core::MonoTime firstEventAt{};
  };
  // What finish() did with the message.
  enum class Disposition { kSent, kRetrying, kGivenUp };

  DeliveryQueue(DeliveryOptions options, aws::RandomFn random, core::MonoTime now);

  // Folds `event` of binding `context.key` into its pending message (or starts one). Returns
  // how many pending messages were dropped to make room (0 or 1).
  int add(const NoticeContext& context, NoticeEvent event, core::MonoTime now);

  // The earliest time take() may return a message; nullopt when nothing is pending (or the
  // one message in flight is all there is).
  std::optional<core::MonoTime> nextAttemptAt() const;

  // The most overdue message whose time has come, now in flight; nullopt when none may go.
  std::optional<Delivery> take(core::MonoTime now);

  // The in-flight message's attempt ended with `outcome`.
  Disposition finish(Delivery delivery, const SendOutcome& outcome, core::MonoTime now);

  // Makes every pending message due now, ignoring windows, intervals and the bucket (not a
  // Retry-After): for the last flush at shutdown.
  void expedite(core::MonoTime now);

  size_t pending() const { return pending_.size(); }
  bool inFlight() const { return inFlight_; }
  // Pending plus in flight: the queue-depth gauge.
  size_t depth() const { return pending_.size() + (inFlight_ ? 1 : 0); }
  std::optional<core::MonoTime> pausedUntil() const;

 private:
  struct Pending {
    Delivery delivery;
    core::MonoTime dueAt{};
  };
  double tokensAt(core::MonoTime at) const;  // the bucket's level at `at` (no later take)
  core::MonoTime dueFor(const std::string& key, core::MonoTime firstEventAt) const;

  DeliveryOptions options_;
  aws::RandomFn random_;
  std::map<std::string, Pending> pending_;          // by binding key
  std::map<std::string, core::MonoTime> lastSent_;  // by binding key, pruned after minInterval
  bool inFlight_ = false;
  bool expedited_ = false;
  core::MonoTime pausedUntil_{};
  double tokens_;
  core::MonoTime refilledAt_;
  std::uint64_t nextSequence_ = 1;
};

}  // namespace endpointbinder::runtime
