// Notifier: sends notifications about bindings (Slack webhooks, SNS topics) off the reconcile
// path.
//
//   reconcile workers ──onReconciled()──▶ inbox ──▶ notifier thread ──▶ per-destination workers
//   (copy and return)                  (bounded)    NotificationTracker    DeliveryQueue + send()
//                                                   + each entry's `on:`   (own thread each)
//
// onReconciled() only copies the report of a binding that has notifications into a bounded
// inbox (the oldest report is dropped and counted when it is full) and returns: no lock it
// takes is ever held across I/O, so a destination that hangs costs the control loop nothing.
// The notifier thread turns reports into events (notification.h) and hands each to the
// destinations of the binding's `notifications` entries that want it. Every distinct destination
// (an SSM parameter, a topic ARN) gets its own worker thread with a DeliveryQueue
// (notification_queue.h: coalescing, rate limit, bounded queue, retries, Retry-After), created
// on first use by the injected factory; a hanging webhook stalls only its own worker, whose
// attempts its timeout bounds.
// Thread-safety: onReconciled() from any thread; start() and stop() from one thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "controller/aws/retry.h"
#include "controller/core/clock.h"
#include "controller/core/log.h"
#include "controller/runtime/notification.h"
#include "controller/runtime/notification_destinations.h"
#include "controller/runtime/notification_metrics.h"
#include "controller/runtime/notification_queue.h"
#include "controller/runtime/reconcile_observer.h"

namespace endpointbinder::runtime {

// One destination named by a manifest entry.
struct DestinationRef {
  enum class Kind { kSlack, kSns };
  Kind kind = Kind::kSlack;
  std::string target;  // the SSM parameter name, or the topic ARN
  auto operator<=>(const DestinationRef&) const = default;

  static DestinationRef of(const api::Notification& entry);
};

using DestinationFactory = std::function<core::Result<std::unique_ptr<NotificationDestination>>(
    const DestinationRef& ref)>;

struct NotifierOptions {
  TrackerOptions tracker;
  DeliveryOptions slack = [] {
    DeliveryOptions o;
    o.ratePerSecond = 1;  // Slack: about one message per second per webhook
    o.burst = 3;
    return o;
  }();
  DeliveryOptions sns = [] {
    DeliveryOptions o;
    o.ratePerSecond = 5;
    o.burst = 10;
    return o;
  }();
  size_t inboxCapacity = 4096;
};

class Notifier final : public ReconcileObserver {
 public:
  struct Deps {
    const core::Clock& clock;
    core::Logger& log;
    DestinationFactory makeDestination;
    NotificationMetrics* metrics = nullptr;  // optional
    aws::RandomFn random = nullptr;          // backoff jitter; default: defaultRandom()
    // Optional: with leader election, whether this replica leads. A standby's reports are
    // dropped (the leader, which writes, is the one that tells): two replicas never announce
    // one event twice.
    std::function<bool()> leading = nullptr;
  };

  Notifier(Deps deps, NotifierOptions options);
  ~Notifier() override;
  Notifier(const Notifier&) = delete;
  Notifier& operator=(const Notifier&) = delete;

  // Starts the notifier thread (destination workers start on first use). Idempotent.
  void start();

  // ReconcileObserver: copies the report when its binding has notifications (and this replica
  // leads); never blocks on delivery.
  void onReconciled(const ReconcileReport& report) override;

  // Stops taking reports, turns the ones received into events, sends every pending message
  // (windows, intervals and rate limits no longer waited for) for up to `flush`, then calls
  // `cancel`, which must make sends still hanging return (shut the notification transport
  // down), and joins every thread. Messages still unsent are given up. Idempotent.
  void stop(std::chrono::nanoseconds flush, const std::function<void()>& cancel = {});

  struct Stats {
    size_t inbox = 0;         // reports not yet turned into events
    size_t pending = 0;       // messages waiting, all destinations
    size_t inFlight = 0;      // sends in progress
    size_t destinations = 0;  // workers started
  };
  Stats stats() const;
  // Waits until no report, message or send is left, or `timeout` passes; true when idle. Tests.
  bool waitIdle(std::chrono::milliseconds timeout) const;

 private:
  struct OwnedReport;
  class Worker;

  void run();
  void route(const OwnedReport& report);
  Worker* workerFor(const DestinationRef& ref);

  Deps deps_;
  NotifierOptions options_;
  NotificationTracker tracker_;  // notifier thread only

  mutable std::mutex inboxMu_;
  std::condition_variable inboxCv_;
  std::deque<std::unique_ptr<OwnedReport>> inbox_;  // guarded by inboxMu_
  bool stopping_ = false;                           // guarded by inboxMu_
  bool busy_ = false;  // the notifier thread is routing (guarded by inboxMu_)
  bool started_ = false;
  bool stopped_ = false;
  std::thread thread_;

  mutable std::mutex workersMu_;
  std::map<DestinationRef, std::unique_ptr<Worker>> workers_;  // guarded by workersMu_
  std::map<DestinationRef, std::string> brokenDestinations_;   // notifier thread only
};

}  // namespace endpointbinder::runtime
