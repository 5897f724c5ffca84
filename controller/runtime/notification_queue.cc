#include "controller/runtime/notification_queue.h"

#include <algorithm>
#include <cmath>

namespace endpointbinder::runtime {
namespace {

using std::chrono::nanoseconds;

nanoseconds secondsAsDuration(double s) {
  return std::chrono::duration_cast<nanoseconds>(std::chrono::duration<double>(s));
}

}  // namespace

DeliveryQueue::DeliveryQueue(DeliveryOptions options, aws::RandomFn random, core::MonoTime now)
    : options_(options),
      random_(random ? std::move(random) : aws::defaultRandom()),
      tokens_(std::max(1.0, options.burst)),
      refilledAt_(now) {
  if (!(options_.ratePerSecond > 0)) options_.ratePerSecond = 1e9;  // no limit
}

double DeliveryQueue::tokensAt(core::MonoTime at) const {
  if (at <= refilledAt_) return tokens_;
  const double elapsed = std::chrono::duration<double>(at - refilledAt_).count();
  return std::min(std::max(1.0, options_.burst), tokens_ + elapsed * options_.ratePerSecond);
}

core::MonoTime DeliveryQueue::dueFor(const std::string& key, core::MonoTime firstEventAt) const {
  core::MonoTime due = firstEventAt + options_.coalesceWindow;
  if (auto it = lastSent_.find(key); it != lastSent_.end()) {
    due = std::max(due, it->second + options_.minInterval);
  }
  return due;
}

int DeliveryQueue::add(const NoticeContext& context, NoticeEvent event, core::MonoTime now) {
  if (auto it = pending_.find(context.key); it != pending_.end()) {
    it->second.delivery.notice.add(context, std::move(event));
    return 0;
  }
  int dropped = 0;
  if (pending_.size() >= std::max<size_t>(1, options_.capacity)) {
    auto oldest =
        std::min_element(pending_.begin(), pending_.end(), [](const auto& a, const auto& b) {
          return a.second.delivery.firstEventAt < b.second.delivery.firstEventAt;
        });
    pending_.erase(oldest);
    dropped = 1;
  }
  // Intervals that are over need no memory.
  std::erase_if(lastSent_,
                [&](const auto& item) { return item.second + options_.minInterval <= now; });
  Pending entry;
  entry.delivery.firstEventAt = now;
  entry.delivery.notice.sequence = nextSequence_++;
  entry.delivery.notice.add(context, std::move(event));
  entry.dueAt = expedited_ ? now : dueFor(context.key, now);
  pending_.emplace(context.key, std::move(entry));
  return dropped;
}

std::optional<core::MonoTime> DeliveryQueue::nextAttemptAt() const {
  if (pending_.empty() || inFlight_) return std::nullopt;
  core::MonoTime at = core::MonoTime::max();
  for (const auto& [key, entry] : pending_) at = std::min(at, entry.dueAt);
  at = std::max(at, pausedUntil_);
  if (!expedited_ && tokensAt(at) < 1.0) {
    at = refilledAt_ + secondsAsDuration((1.0 - tokens_) / options_.ratePerSecond);
  }
  return at;
}

std::optional<DeliveryQueue::Delivery> DeliveryQueue::take(core::MonoTime now) {
  if (inFlight_ || pending_.empty() || now < pausedUntil_) return std::nullopt;
  auto best = pending_.end();
  for (auto it = pending_.begin(); it != pending_.end(); ++it) {
    if (it->second.dueAt > now) continue;
    if (best == pending_.end() || it->second.dueAt < best->second.dueAt) best = it;
  }
  if (best == pending_.end()) return std::nullopt;
  if (!expedited_) {
    const double available = tokensAt(now);
    if (available < 1.0) return std::nullopt;
    tokens_ = available - 1.0;
    refilledAt_ = std::max(refilledAt_, now);
  }
  Delivery delivery = std::move(best->second.delivery);
  pending_.erase(best);
  inFlight_ = true;
  return delivery;
}

DeliveryQueue::Disposition DeliveryQueue::finish(Delivery delivery, const SendOutcome& outcome,
                                                 core::MonoTime now) {
  inFlight_ = false;
  const std::string key = delivery.notice.context.key;
  switch (outcome.kind) {
    case SendOutcome::Kind::kSent:
      lastSent_[key] = now;
      // Events that arrived while it was in flight wait out the interval from now on.
      if (auto it = pending_.find(key); it != pending_.end() && !expedited_) {
        it->second.dueAt = std::max(it->second.dueAt, now + options_.minInterval);
      }
      return Disposition::kSent;
    case SendOutcome::Kind::kFailed:
      return Disposition::kGivenUp;
    case SendOutcome::Kind::kRetry:
    case SendOutcome::Kind::kThrottled:
      break;
  }
  nanoseconds delay{0};
  if (outcome.kind == SendOutcome::Kind::kThrottled) {
    if (++delivery.throttles > options_.maxThrottles) return Disposition::kGivenUp;
    const int step = std::min(delivery.throttles, 30);
    delay = outcome.retryAfter.value_or(
        std::min<nanoseconds>(options_.maxBackoff, options_.baseBackoff * (1LL << (step - 1))));
    delay = std::clamp<nanoseconds>(delay, nanoseconds(0), options_.maxRetryAfter);
    pausedUntil_ = std::max(pausedUntil_, now + delay);
  } else {
    if (++delivery.attempts >= options_.maxAttempts) return Disposition::kGivenUp;
    const int step = std::min(delivery.attempts, 30);
    const auto cap =
        std::min<nanoseconds>(options_.maxBackoff, options_.baseBackoff * (1LL << (step - 1)));
    const double factor = 0.5 + 0.5 * std::clamp(random_(), 0.0, 1.0);
    delay = std::chrono::duration_cast<nanoseconds>(cap * factor);
  }
  Pending entry;
  entry.dueAt = now + delay;
  entry.delivery = std::move(delivery);
  if (auto it = pending_.find(key); it != pending_.end()) {
    // Newer events of the binding ride along with the retry.
    entry.delivery.notice.absorb(std::move(it->second.delivery.notice));
    pending_.erase(it);
  }
  pending_.emplace(key, std::move(entry));
  return Disposition::kRetrying;
}

void DeliveryQueue::expedite(core::MonoTime now) {
  expedited_ = true;
  for (auto& [key, entry] : pending_) entry.dueAt = std::min(entry.dueAt, now);
}

std::optional<core::MonoTime> DeliveryQueue::pausedUntil() const {
  if (pausedUntil_ == core::MonoTime{}) return std::nullopt;
  return pausedUntil_;
}

}  // namespace endpointbinder::runtime
