// FakeResolver: a scripted dns::Resolver for unit tests of anything that looks names up.
//
// Each hostname has a queue of scripted outcomes (consumed one per resolve call) and a
// standing outcome used when the queue is empty; unknown names answer NXDOMAIN. A hostname
// can be made to block until the caller's stop_token fires, to test cancellation. Every call
// is recorded.
// Thread-safety: all methods are safe to call from any thread.
#pragma once

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <ostream>
#include <string>
#include <vector>

#include "controller/dns/random.h"
#include "controller/dns/resolver.h"

namespace endpointbinder::dns {
// Lets GoogleTest print statuses by name in failure messages.
inline void PrintTo(ResolveStatus status, std::ostream* os) { *os << resolveStatusName(status); }
}  // namespace endpointbinder::dns

namespace endpointbinder::dns::testing {

// Builds a kOk outcome from address texts ("10.0.0.1", "fd00::1"); aborts on a bad address.
ResolveOutcome answerOf(const std::vector<std::string>& addresses, int ttlSeconds = 30,
                        std::vector<std::string> cnameChain = {});
ResolveOutcome failureOf(ResolveStatus status, std::string message = {});

// A Random that returns scripted values: queued ones first, then the standing value
// (default 0, i.e. no jitter).
class FakeRandom final : public Random {
 public:
  explicit FakeRandom(double value = 0.0) : value_(value) {}
  void setValue(double value) {
    std::lock_guard lock(mutex_);
    value_ = value;
  }
  void queue(double value) {
    std::lock_guard lock(mutex_);
    queued_.push_back(value);
  }
  double uniform() override {
    std::lock_guard lock(mutex_);
    if (queued_.empty()) return value_;
    const double value = queued_.front();
    queued_.pop_front();
    return value;
  }

 private:
  std::mutex mutex_;
  double value_;
  std::deque<double> queued_;
};

class FakeResolver final : public Resolver {
 public:
  struct Call {
    std::string hostname;
    AddressFamilies families;
  };

  // The outcome for every call without a queued one.
  void setOutcome(const std::string& hostname, ResolveOutcome outcome);
  // Queues outcomes consumed in order before the standing one.
  void queueOutcome(const std::string& hostname, ResolveOutcome outcome);
  // While set, resolve() of `hostname` waits until the caller's stop_token is requested (or
  // setBlocking(hostname, false)), then answers kTimeout "cancelled".
  void setBlocking(const std::string& hostname, bool blocking);

  ResolveOutcome resolve(std::string_view hostname, AddressFamilies families,
                         std::stop_token stop) override;

  std::vector<Call> calls() const;
  int callCount(const std::string& hostname) const;
  // The most resolve() calls that were in progress at the same time.
  int maxConcurrent() const;
  int inProgress() const;

 private:
  mutable std::mutex mutex_;
  std::condition_variable_any changed_;
  std::map<std::string, ResolveOutcome> standing_;
  std::map<std::string, std::deque<ResolveOutcome>> queued_;
  std::map<std::string, bool> blocking_;
  std::vector<Call> calls_;
  int inProgress_ = 0;
  int maxConcurrent_ = 0;
};

}  // namespace endpointbinder::dns::testing
