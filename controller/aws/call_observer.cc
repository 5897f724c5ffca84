#include "controller/aws/call_observer.h"

namespace endpointbinder::aws {

const char* callOutcomeName(CallOutcome outcome) {
  switch (outcome) {
    case CallOutcome::kSuccess:
      return "success";
    case CallOutcome::kThrottled:
      return "throttled";
    case CallOutcome::kTransient:
      return "transient";
    case CallOutcome::kTerminal:
      return "terminal";
    case CallOutcome::kAuth:
      return "auth";
    case CallOutcome::kNotFound:
      return "not_found";
    case CallOutcome::kConflict:
      return "conflict";
    case CallOutcome::kRateLimited:
      return "rate_limited";
  }
  return "unknown";
}

void CountingObserver::onAttempt(const AttemptRecord& attempt) {
  std::lock_guard lock(mu_);
  attempts_.push_back(attempt);
}

void CountingObserver::onCall(const CallRecord& call) {
  std::lock_guard lock(mu_);
  calls_.push_back(call);
}

int CountingObserver::calls(const std::string& operation, CallOutcome outcome) const {
  std::lock_guard lock(mu_);
  int n = 0;
  for (const CallRecord& c : calls_) {
    n += (c.operation == operation && c.outcome == outcome) ? 1 : 0;
  }
  return n;
}

int CountingObserver::calls(const std::string& operation) const {
  std::lock_guard lock(mu_);
  int n = 0;
  for (const CallRecord& c : calls_) {
    n += c.operation == operation ? 1 : 0;
  }
  return n;
}

int CountingObserver::attempts(const std::string& operation, CallOutcome outcome) const {
  std::lock_guard lock(mu_);
  int n = 0;
  for (const AttemptRecord& a : attempts_) {
    n += (a.operation == operation && a.outcome == outcome) ? 1 : 0;
  }
  return n;
}

CountingObserver::Totals CountingObserver::totals(const std::string& operation) const {
  std::lock_guard lock(mu_);
  Totals t;
  for (const CallRecord& c : calls_) {
    if (c.operation != operation) continue;
    ++t.calls;
    t.attempts += c.attempts;
    t.retries += c.retries();
    t.latency += c.latency;
  }
  return t;
}

std::vector<CallRecord> CountingObserver::callLog() const {
  std::lock_guard lock(mu_);
  return calls_;
}

std::vector<AttemptRecord> CountingObserver::attemptLog() const {
  std::lock_guard lock(mu_);
  return attempts_;
}

}  // namespace endpointbinder::aws
