#include "controller/core/lease.h"

#include <algorithm>
#include <utility>

namespace endpointbinder::core {

namespace {

using std::chrono::nanoseconds;

std::string seconds(nanoseconds d) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
  std::string text = std::to_string(ms / 1000);
  if (ms % 1000 != 0) {
    std::string frac = std::to_string(1000 + ms % 1000).substr(1);
    while (frac.back() == '0') frac.pop_back();
    text += "." + frac;
  }
  return text + "s";
}

}  // namespace

std::optional<std::string> leaseTimingProblem(const LeaseTiming& timing) {
  if (timing.leaseDuration <= nanoseconds(0) || timing.renewDeadline <= nanoseconds(0) ||
      timing.retryPeriod <= nanoseconds(0)) {
    return "lease duration, renew deadline and retry period must all be positive";
  }
  if (timing.renewDeadline >= timing.leaseDuration) {
    return "the renew deadline (" + seconds(timing.renewDeadline) +
           ") must be shorter than the lease duration (" + seconds(timing.leaseDuration) +
           "): a leader must stop writing before anyone may take over";
  }
  if (timing.retryPeriod >= timing.renewDeadline) {
    return "the retry period (" + seconds(timing.retryPeriod) +
           ") must be shorter than the renew deadline (" + seconds(timing.renewDeadline) +
           "): a leader must get to renew before its deadline";
  }
  return std::nullopt;
}

LeaseElector::LeaseElector(std::string identity, LeaseTiming timing)
    : identity_(std::move(identity)), timing_(timing) {}

nanoseconds LeaseElector::observedLeaseDuration() const {
  nanoseconds theirs = observed_ ? nanoseconds(observed_->leaseDuration) : nanoseconds(0);
  return std::max(theirs, timing_.leaseDuration);
}

MonoTime LeaseElector::expiresAt() const { return observedSince_ + observedLeaseDuration(); }

void LeaseElector::observe(const LeaseRecord& record, MonoTime at) {
  const bool changed = !observed_ || observed_->version != record.version ||
                       observed_->holder != record.holder || observed_->fence != record.fence;
  if (changed) observedSince_ = at;
  observed_ = record;
  known_ = true;
}

std::optional<LeaseElector::Step> LeaseElector::acquisitionDue(MonoTime now) const {
  if (!known_) return std::nullopt;
  Step step;
  step.kind = StepKind::kAcquire;
  if (!observed_) {
    step.write.fence = 1;
    return step;  // expectedVersion nullopt: only if there is still no record
  }
  const auto& record = *observed_;
  const bool free = record.holder.empty();
  // Still ours at our last term: nobody took over while we could not renew.
  const bool ownLast = record.holder == identity_ && term_ != 0 && record.fence == term_;
  if (!free && !ownLast && now < expiresAt()) return std::nullopt;
  step.write.fence = record.fence + 1;
  step.expectedVersion = record.version;
  return step;
}

LeaseElector::Step LeaseElector::nextStep(MonoTime now, std::string freshVersion,
                                          std::int64_t wallNowMs) {
  stepped_ = true;
  lastStepAt_ = now;
  Step step;
  if (leading()) {
    step.kind = StepKind::kRenew;
    step.write = *observed_;  // what we wrote last
    step.write.version = std::move(freshVersion);
    step.write.renewedAtUnixMs = wallNowMs;
    step.write.leaseDuration =
        std::chrono::duration_cast<std::chrono::milliseconds>(timing_.leaseDuration);
    return step;
  }
  if (auto due = acquisitionDue(now)) {
    step = std::move(*due);
    if (!observed_) {
      takeoverReason_ = "created the lease";
    } else if (observed_->holder.empty()) {
      takeoverReason_ = "took the free lease (released by its last holder)";
    } else if (observed_->holder == identity_) {
      takeoverReason_ = "took back its own lease (nobody took over)";
    } else {
      takeoverReason_ = "took over from " + observed_->holder + ": its lease (term " +
                        std::to_string(observed_->fence) + ") was not renewed for " +
                        seconds(now - observedSince_);
    }
    step.write.holder = identity_;
    step.write.version = std::move(freshVersion);
    step.write.leaseDuration =
        std::chrono::duration_cast<std::chrono::milliseconds>(timing_.leaseDuration);
    step.write.renewedAtUnixMs = wallNowMs;
    step.write.acquiredAtUnixMs = wallNowMs;
    return step;
  }
  step.kind = StepKind::kRead;
  return step;
}

MonoTime LeaseElector::nextStepAt() const {
  if (!stepped_) return MonoTime{};
  // A failed renewal is tried again a retry period after the last try, not at once.
  if (leading()) {
    return std::min(lastStepAt_ + timing_.retryPeriod, renewSentAt_ + timing_.renewDeadline);
  }
  const auto nextRead = lastStepAt_ + timing_.retryPeriod;
  if (!known_) return nextRead;
  if (acquisitionDue(lastStepAt_)) return lastStepAt_;
  if (observed_) return std::min(nextRead, expiresAt());
  return nextRead;
}

std::optional<LeaseTransition> LeaseElector::becomeLeader(const LeaseRecord& written,
                                                          MonoTime sentAt, std::string reason) {
  role_ = LeaseRole::kLeader;
  term_ = written.fence;
  renewSentAt_ = sentAt;
  observed_ = written;
  observedSince_ = sentAt;
  known_ = true;
  pending_.reset();
  return LeaseTransition{LeaseRole::kLeader, term_, std::move(reason)};
}

LeaseTransition LeaseElector::stepDown(std::string reason) {
  role_ = LeaseRole::kStandby;
  known_ = false;  // read before deciding anything
  return LeaseTransition{LeaseRole::kStandby, term_, std::move(reason)};
}

std::optional<LeaseTransition> LeaseElector::onRead(
    const Result<std::optional<LeaseRecord>>& result, MonoTime sentAt, MonoTime returnedAt) {
  (void)sentAt;
  if (!result) return std::nullopt;    // nothing learnt; an expiry keeps counting from before
  if (leading()) return std::nullopt;  // a leader does not read; ignore a stray answer
  const auto& record = *result;
  if (record && pending_ && record->holder == identity_ && record->version == pending_->version) {
    // An acquisition whose answer was lost did land.
    return becomeLeader(*record, pending_->sentAt,
                        takeoverReason_.empty() ? "acquired the lease" : takeoverReason_);
  }
  pending_.reset();
  if (record) {
    observe(*record, returnedAt);
  } else {
    observed_.reset();
    known_ = true;
  }
  return std::nullopt;
}

std::optional<LeaseTransition> LeaseElector::onAcquire(const Step& step, const Result<void>& result,
                                                       MonoTime sentAt, MonoTime returnedAt) {
  (void)returnedAt;
  if (result) return becomeLeader(step.write, sentAt, takeoverReason_);
  // Someone else wrote first (kConflict), or the outcome is unknown: read before anything else.
  known_ = false;
  if (result.error().kind != ErrorKind::kConflict) {
    pending_ = PendingAcquire{step.write.version, sentAt};
  } else {
    pending_.reset();
  }
  return std::nullopt;
}

std::optional<LeaseTransition> LeaseElector::onRenew(const Step& step, const Result<void>& result,
                                                     MonoTime sentAt, MonoTime returnedAt) {
  if (!leading() || step.write.fence != term_) return std::nullopt;  // stepped down meanwhile
  if (result) {
    renewSentAt_ = sentAt;
    observed_ = step.write;
    observedSince_ = sentAt;
    return std::nullopt;
  }
  if (result.error().kind == ErrorKind::kConflict) {
    return stepDown("lost the lease (term " + std::to_string(term_) +
                    "): the record no longer names this replica; stopped writing");
  }
  return checkDeadline(returnedAt);  // a failed renewal: keep trying until the deadline
}

std::optional<LeaseTransition> LeaseElector::checkDeadline(MonoTime now) {
  if (!leading() || now < renewSentAt_ + timing_.renewDeadline) return std::nullopt;
  return stepDown("could not renew the lease (term " + std::to_string(term_) + ") within the " +
                  seconds(timing_.renewDeadline) +
                  " renew deadline; stopped writing before any other replica may take over "
                  "(after the " +
                  seconds(timing_.leaseDuration) + " lease duration)");
}

std::optional<LeaseRecord> LeaseElector::stepDownToRelease(std::string freshVersion,
                                                           std::int64_t wallNowMs) {
  if (!leading()) return std::nullopt;
  LeaseRecord freed = *observed_;
  freed.holder.clear();
  freed.version = std::move(freshVersion);
  freed.renewedAtUnixMs = wallNowMs;
  stepDown("released the lease (term " + std::to_string(term_) + ")");
  return freed;
}

bool LeaseElector::mayWrite(std::uint64_t term, MonoTime now,
                            std::chrono::nanoseconds allowance) const {
  return leading() && term == term_ && now < renewSentAt_ + timing_.renewDeadline &&
         now + allowance <= renewSentAt_ + timing_.leaseDuration;
}

}  // namespace endpointbinder::core
