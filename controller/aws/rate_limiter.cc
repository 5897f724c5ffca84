#include "controller/aws/rate_limiter.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>

#include "controller/core/text.h"

namespace endpointbinder::aws {
namespace {

using std::chrono::nanoseconds;

nanoseconds secondsToNanos(double seconds) {
  // Rounded up so that after waiting this long the tokens are really there.
  return nanoseconds(static_cast<nanoseconds::rep>(std::ceil(seconds * 1e9)));
}

std::optional<double> parseNumber(std::string_view text) {
  double value = 0.0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() ||
      !std::isfinite(value)) {
    return std::nullopt;
  }
  return value;
}

std::unexpected<core::Error> specError(std::string_view item, std::string_view why) {
  return core::makeError(core::ErrorKind::kTerminal,
                         fmt::format("rate limit spec item \"{}\": {}", item.substr(0, 80), why),
                         "InvalidRateLimitSpec");
}

std::unexpected<core::Error> rateLimitedError(std::string_view what) {
  return core::makeError(
      core::ErrorKind::kRetryable,
      fmt::format("client-side rate limit: no {} token before the deadline", what),
      "ClientRateLimited");
}

}  // namespace

core::Result<std::map<std::string, std::string, std::less<>>> splitRateLimitSpecByService(
    std::string_view spec) {
  std::map<std::string, std::string, std::less<>> out;
  for (const auto service : kRateLimitedServices) out.emplace(std::string(service), "");
  while (!spec.empty()) {
    const size_t comma = spec.find(',');
    const std::string_view item = core::trimmed(spec.substr(0, comma));
    spec = comma == std::string_view::npos ? std::string_view{} : spec.substr(comma + 1);
    if (item.empty()) continue;
    std::string_view service = "elasticloadbalancing";
    std::string_view rest = item;
    const size_t eq = item.find('=');
    const size_t colon = item.find(':');
    if (colon != std::string_view::npos && (eq == std::string_view::npos || colon < eq)) {
      service = core::trimmed(item.substr(0, colon));
      rest = core::trimmed(item.substr(colon + 1));
      if (!out.contains(service)) {
        std::string known;
        for (const auto s : kRateLimitedServices)
          known += (known.empty() ? "" : ", ") + std::string(s);
        return specError(item,
                         "unknown service \"" + std::string(service) + "\" (one of " + known + ")");
      }
    }
    auto& target = out.find(service)->second;
    if (!target.empty()) target += ',';
    target += rest;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// TokenBucket

TokenBucket::TokenBucket(double ratePerSecond, double burst, core::MonoTime now,
                         std::optional<double> initialTokens)
    : rate_(ratePerSecond),
      burst_(burst),
      tokens_(std::clamp(initialTokens.value_or(burst), 0.0, burst)),
      last_(now) {}

void TokenBucket::refill(core::MonoTime now) {
  if (now <= last_) return;
  const double elapsed = std::chrono::duration<double>(now - last_).count();
  tokens_ = std::min(burst_, tokens_ + elapsed * rate_);
  last_ = now;
}

bool TokenBucket::tryTake(core::MonoTime now, double amount) {
  refill(now);
  if (tokens_ < amount) return false;
  tokens_ -= amount;
  return true;
}

nanoseconds TokenBucket::timeUntil(core::MonoTime now, double amount) {
  refill(now);
  if (tokens_ >= amount) return nanoseconds(0);
  return secondsToNanos((amount - tokens_) / rate_);
}

void TokenBucket::setRate(double ratePerSecond, double burst, core::MonoTime now) {
  refill(now);
  rate_ = ratePerSecond;
  burst_ = burst;
  tokens_ = std::min(tokens_, burst_);
}

// ---------------------------------------------------------------------------------------------
// Options

bool isReadAction(std::string_view action) {
  return action.starts_with("Describe") || action.starts_with("List") || action.starts_with("Get");
}

BucketSpec RateLimitOptions::forAction(std::string_view action) const {
  if (const auto it = perAction.find(action); it != perAction.end()) return it->second;
  return isReadAction(action) ? readDefault : writeDefault;
}

core::Result<RateLimitOptions> parseRateLimitSpec(std::string_view spec, RateLimitOptions base) {
  RateLimitOptions options = std::move(base);
  while (!spec.empty()) {
    const size_t comma = spec.find(',');
    const std::string_view item = core::trimmed(spec.substr(0, comma));
    spec = comma == std::string_view::npos ? std::string_view{} : spec.substr(comma + 1);
    if (item.empty()) continue;

    const size_t eq = item.find('=');
    if (eq == std::string_view::npos) return specError(item, "expected KEY=RATE:BURST");
    const std::string_view key = core::trimmed(item.substr(0, eq));
    const std::string_view value = core::trimmed(item.substr(eq + 1));
    const size_t colon = value.find(':');
    if (key.empty()) return specError(item, "empty action name");
    if (colon == std::string_view::npos) return specError(item, "expected RATE:BURST after '='");
    const std::optional<double> rate = parseNumber(core::trimmed(value.substr(0, colon)));
    const std::optional<double> burst = parseNumber(core::trimmed(value.substr(colon + 1)));
    if (!rate || *rate <= 0.0) return specError(item, "rate must be a number > 0");
    if (!burst || *burst < 1.0) return specError(item, "burst must be a number >= 1");
    const bool validKey =
        key == "*" || key == "Describe*" || key == "global" ||
        std::all_of(key.begin(), key.end(), [](char c) {
          return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        });
    if (!validKey) return specError(item, "action names are letters and digits only");

    const BucketSpec bucket{*rate, *burst};
    if (key == "*") {
      options.writeDefault = bucket;
    } else if (key == "Describe*") {
      options.readDefault = bucket;
    } else if (key == "global") {
      options.global = bucket;
    } else {
      options.perAction.insert_or_assign(std::string(key), bucket);
    }
  }
  return options;
}

// ---------------------------------------------------------------------------------------------
// RateLimiter

RateLimiter::RateLimiter(RateLimitOptions options, const core::Clock& clock, SleepFn sleep)
    : options_(std::move(options)), clock_(clock), sleep_(std::move(sleep)) {
  if (options_.global) {
    global_.emplace(options_.global->rate, options_.global->burst, clock_.now());
  }
}

TokenBucket& RateLimiter::bucketLocked(std::string_view action, core::MonoTime now) {
  auto it = buckets_.find(action);
  if (it == buckets_.end()) {
    const BucketSpec spec = options_.forAction(action);
    it = buckets_.emplace(std::string(action), TokenBucket(spec.rate, spec.burst, now)).first;
  }
  return it->second;
}

void RateLimiter::waitLocked(std::unique_lock<std::mutex>& lock, nanoseconds duration) {
  if (sleep_) {
    lock.unlock();
    sleep_(duration);
    lock.lock();
  } else {
    changed_.wait_for(lock, duration);
  }
}

core::Result<nanoseconds> RateLimiter::acquire(std::string_view action, core::MonoTime deadline) {
  std::unique_lock lock(mu_);
  const core::MonoTime start = clock_.now();
  const bool write = !isReadAction(action);
  // A write counts as "waiting for the global budget" only while its own bucket is ready: a
  // write still waiting for its action bucket must not hold reads back.
  bool markedWaiting = false;
  const auto setMarked = [&](bool waiting) {
    if (waiting == markedWaiting) return;
    writersWaitingForGlobal_ += waiting ? 1 : -1;
    markedWaiting = waiting;
    if (!waiting) changed_.notify_all();
  };

  for (;;) {
    const core::MonoTime now = clock_.now();
    TokenBucket& bucket = bucketLocked(action, now);
    nanoseconds wait = bucket.timeUntil(now);
    bool yieldToWrites = false;
    if (global_) {
      const nanoseconds globalWait = global_->timeUntil(now);
      if (write) {
        setMarked(wait == nanoseconds(0) && globalWait > nanoseconds(0));
      } else {
        yieldToWrites = writersWaitingForGlobal_ > 0;
      }
      wait = std::max(wait, globalWait);
    }
    if (wait == nanoseconds(0) && !yieldToWrites) {
      bucket.tryTake(now);
      if (global_) global_->tryTake(now);
      setMarked(false);
      return std::chrono::duration_cast<nanoseconds>(now - start);
    }
    // While yielding, a read cannot know how long writes will take; it waits up to the
    // deadline. Otherwise a wait that ends after the deadline fails at once.
    if (now >= deadline || (!yieldToWrites && now + wait > deadline)) {
      setMarked(false);
      return rateLimitedError(action);
    }
    if (yieldToWrites) {
      // Woken early by the write taking its token; the poll bounds a missed wake-up.
      const nanoseconds poll = secondsToNanos(1.0 / global_->rate());
      wait = std::max(wait, poll);
    }
    waitLocked(lock, std::min(wait, std::chrono::duration_cast<nanoseconds>(deadline - now)));
  }
}

double RateLimiter::available(std::string_view action) {
  std::lock_guard lock(mu_);
  const core::MonoTime now = clock_.now();
  TokenBucket& bucket = bucketLocked(action, now);
  bucket.refill(now);
  return bucket.tokens();
}

// ---------------------------------------------------------------------------------------------
// CUBIC

CubicRate::CubicRate(double startTime, double startMaxRate)
    : wMax_(startMaxRate), lastThrottle_(startTime) {
  recomputeK();
}

void CubicRate::recomputeK() { k_ = std::cbrt(wMax_ * (1.0 - kBeta) / kScale); }

double CubicRate::onSuccess(double time) const {
  const double dt = time - lastThrottle_;
  return kScale * std::pow(dt - k_, 3.0) + wMax_;
}

double CubicRate::onThrottle(double currentRate, double time) {
  wMax_ = currentRate;
  recomputeK();
  lastThrottle_ = time;
  return currentRate * kBeta;
}

// ---------------------------------------------------------------------------------------------
// AdaptiveRateLimiter

AdaptiveRateLimiter::AdaptiveRateLimiter(const core::Clock& clock, SleepFn sleep)
    : clock_(clock),
      sleep_(std::move(sleep)),
      bucket_(kMinRate, 1.0, clock.now(), 0.0),
      cubic_(std::chrono::duration<double>(clock.now().time_since_epoch()).count()),
      lastMeasureBucket_(
          std::floor(std::chrono::duration<double>(clock.now().time_since_epoch()).count() /
                     kMeasureBucketSeconds) *
          kMeasureBucketSeconds) {}

double AdaptiveRateLimiter::secondsNow() const {
  return std::chrono::duration<double>(clock_.now().time_since_epoch()).count();
}

core::Result<nanoseconds> AdaptiveRateLimiter::beforeSend(core::MonoTime deadline) {
  std::unique_lock lock(mu_);
  const core::MonoTime start = clock_.now();
  for (;;) {
    const core::MonoTime now = clock_.now();
    if (!enabled_) return std::chrono::duration_cast<nanoseconds>(now - start);
    const nanoseconds wait = bucket_.timeUntil(now);
    if (wait == nanoseconds(0)) {
      bucket_.tryTake(now);
      return std::chrono::duration_cast<nanoseconds>(now - start);
    }
    if (now + wait > deadline) return rateLimitedError("adaptive send");
    if (sleep_) {
      lock.unlock();
      sleep_(wait);
      lock.lock();
    } else {
      changed_.wait_for(lock, wait);
    }
  }
}

void AdaptiveRateLimiter::updateMeasuredRateLocked(double t) {
  const double bucket = std::floor(t / kMeasureBucketSeconds) * kMeasureBucketSeconds;
  ++countInBucket_;
  if (bucket > lastMeasureBucket_) {
    const double current = countInBucket_ / (bucket - lastMeasureBucket_);
    measuredRate_ = current * kSmoothing + measuredRate_ * (1.0 - kSmoothing);
    countInBucket_ = 0;
    lastMeasureBucket_ = bucket;
  }
}

void AdaptiveRateLimiter::setRateLocked(double rate, core::MonoTime now) {
  bucket_.setRate(std::max(rate, kMinRate), std::max(rate, 1.0), now);
  changed_.notify_all();
}

void AdaptiveRateLimiter::onResponse(bool throttled) {
  std::lock_guard lock(mu_);
  const core::MonoTime now = clock_.now();
  const double t = secondsNow();
  updateMeasuredRateLocked(t);
  double newRate = 0.0;
  if (!throttled) {
    newRate = cubic_.onSuccess(t);
  } else {
    // The rate we were really sending at: what we measured, or less if the bucket held us back.
    const double sendingAt = enabled_ ? std::min(measuredRate_, bucket_.rate()) : measuredRate_;
    newRate = cubic_.onThrottle(sendingAt, t);
    enabled_ = true;
  }
  // Never jump above twice what we have actually been able to send.
  setRateLocked(std::min(newRate, 2.0 * measuredRate_), now);
}

bool AdaptiveRateLimiter::enabled() const {
  std::lock_guard lock(mu_);
  return enabled_;
}

double AdaptiveRateLimiter::sendRate() const {
  std::lock_guard lock(mu_);
  return bucket_.rate();
}

double AdaptiveRateLimiter::measuredRate() const {
  std::lock_guard lock(mu_);
  return measuredRate_;
}

}  // namespace endpointbinder::aws
