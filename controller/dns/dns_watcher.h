// DnsWatcher: keeps every DNS-sourced hostname resolved, in the background, and tells the
// controller which bindings to look at again when an answer changes.
//
// A thin threaded shell around WatchSchedule (watch_schedule.h, where the rules live): worker
// threads each take the earliest due refresh, run its lookups on the Resolver (sequentially,
// without the lock, as many as wantsAnotherLookup() asks: lookupsPerRefresh, plus a bounded
// few to complete 8-address answers, and none after a failure while nothing has answered),
// report the outcomes to the schedule, and otherwise sleep until the next refresh is due or a
// subscription changes.
//
// With an asynchronous() resolver (AresResolver) one worker does it all: it takes every due
// refresh (up to maxConcurrentRefreshes in flight) and starts its first lookup with
// resolveAsync(); the resolver's thread calls back, starts the refresh's next lookup or folds
// the refresh into the schedule and calls the ChangeCallback. Nothing waits for a lookup, so no
// refresh waits behind another's, and refreshes due within timerSlack of each other start from
// one wake-up. (With one thread per refresh in flight, 1,000 names at a 5 s TTL kept 64
// workers alive and paid thread hand-overs on every lookup; bench/README.md.) stop() cancels
// the lookups in flight and waits for their callbacks.
//
// With a blocking resolver (FakeResolver in tests) a refresh holds its worker until its
// lookups end, and a lookup of a dead name takes the resolver's whole deadline. So that no name's
// refresh waits behind another's, a worker that takes a refresh while no other is idle starts
// another worker first; at most maxConcurrentRefreshes run (so at most that many refreshes, and
// lookups, are in flight), and those beyond idleWorkers end after idleWorkerLinger without work. A
// hostname has at most one refresh in flight, so k dead names hold at most k workers (issue 16 item
// 3).
//
// The controller's side: subscribe() a binding when its manifest names a dns source (again
// whenever the source changes), unsubscribe() it when the binding goes, read snapshot() while
// reconciling, and enqueue the bindings named by the ChangeCallback. Subscribing to a
// hostname that already has an answer does not call the callback: the controller reconciles
// a binding whose manifest changed anyway.
//
// Thread-safety: every public method is safe to call from any thread, including from the
// ChangeCallback. The ChangeCallback and the observer are called on worker threads (or the
// asynchronous resolver's thread) with no lock held, possibly concurrently for different hostnames;
// they must be quick (enqueue, count) and must not call stop().
#pragma once

#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "api/manifest.h"
#include "controller/core/clock.h"
#include "controller/core/log.h"
#include "controller/dns/random.h"
#include "controller/dns/resolver.h"
#include "controller/dns/watch_schedule.h"

namespace endpointbinder::dns {

struct DnsWatcherOptions {
  WatchScheduleOptions schedule;
  // The most refreshes in flight at once (with a blocking resolver, worker threads). At least 1.
  int maxConcurrentRefreshes = 64;
  // Worker threads started by start() and kept while idle (at most maxConcurrentRefreshes,
  // at least 1); the others end after idleWorkerLinger without work. Blocking resolvers only.
  int idleWorkers = 4;
  std::chrono::milliseconds idleWorkerLinger{std::chrono::seconds(30)};
  // With an asynchronous resolver: the worker wakes this long after the next due time, so the
  // refreshes due meanwhile start together. At most this late; never early. A quarter second
  // is small beside any TTL and the jitter a refresh gets anyway (10 % of its interval), and
  // at 1,000 names with a 5 s TTL it starts ~50 refreshes per wake-up instead of ~4 (issue 15).
  std::chrono::milliseconds timerSlack{250};
};

// Per-lookup and per-refresh events for the metrics layer (a histogram of lookup latency,
// counters by outcome). Called on worker threads without the watcher's lock.
class WatcherObserver {
 public:
  virtual ~WatcherObserver() = default;
  // One lookup of `hostname` finished with `status` after `latency`.
  virtual void onLookup(const std::string& hostname, ResolveStatus status,
                        std::chrono::nanoseconds latency) = 0;
  // One refresh of `hostname` was folded into the schedule (update.applied is true).
  virtual void onRefresh(const std::string& hostname, const RefreshUpdate& update) = 0;
};

class DnsWatcher {
 public:
  // Called with the hostname and the bindings subscribed to it that ask for an address
  // family whose address set changed, which started/stopped failing, or which kept failing
  // for another reason (WatchSchedule's rules).
  using ChangeCallback =
      std::function<void(const std::string& hostname, const std::vector<std::string>& bindingKeys)>;

  // `resolver`, `clock`, `random`, `logger` and `observer` (optional) must outlive the
  // watcher. Nothing runs until start().
  DnsWatcher(Resolver& resolver, const core::Clock& clock, Random& random, ChangeCallback onChange,
             DnsWatcherOptions options = {}, core::Logger* logger = nullptr,
             WatcherObserver* observer = nullptr);
  // Stops and joins (see stop()).
  ~DnsWatcher();
  DnsWatcher(const DnsWatcher&) = delete;
  DnsWatcher& operator=(const DnsWatcher&) = delete;

  // Starts the idle workers. Subscriptions made before start() are looked up at once.
  // Calling it again (or after stop()) does nothing.
  void start();

  // Cancels lookups in flight (through their stop_token) and joins every worker; the results
  // of cancelled refreshes are discarded, so stopping never marks a source failing.
  // Idempotent. Returns within about one poll of the resolver, not a whole DNS timeout.
  void stop();

  // See WatchSchedule::subscribe. Wakes a worker when a lookup became due.
  // Returns true when the hostname was new.
  bool subscribe(const std::string& bindingKey, const api::DnsSource& source);
  // See WatchSchedule::unsubscribe.
  bool unsubscribe(const std::string& bindingKey);

  std::optional<HostSnapshot> snapshot(std::string_view hostname) const;
  // The snapshot of the hostname `bindingKey` is subscribed to; nullopt when not subscribed.
  std::optional<HostSnapshot> snapshotForBinding(const std::string& bindingKey) const;
  WatcherStats stats() const;
  // Worker threads running now (for tests and diagnostics); 1 with an asynchronous resolver.
  size_t workerCount() const;
  // Refreshes in flight on an asynchronous resolver (for tests).
  size_t asyncRefreshesInFlight() const;

 private:
  struct AsyncRefresh;  // one refresh's ticket and lookups so far, on an asynchronous resolver

  // options_.maxConcurrentRefreshes (at least 1): workers, or refreshes in flight with an
  // asynchronous resolver.
  size_t refreshLimit() const;
  // options_.idleWorkers within 1..refreshLimit(): the workers kept waiting.
  size_t workersKept() const;

  void work(std::stop_token stop, uint64_t id);
  // The one worker with an asynchronous resolver: starts due refreshes, sleeps until the next.
  void dispatch(std::stop_token stop);
  void startLookup(std::shared_ptr<AsyncRefresh> refresh);
  void onAsyncLookup(const std::shared_ptr<AsyncRefresh>& refresh, ResolveOutcome outcome);
  // Folds one refresh's lookups into the schedule and tells the observer, the log and the
  // ChangeCallback. REQUIRES: mutex_ not held.
  void fold(const RefreshTicket& ticket, const std::vector<LookupResult>& lookups);
  // Starts a worker unless stopping or at maxConcurrentRefreshes. REQUIRES: mutex_ held.
  void spawnWorkerLocked();
  // Logs what `update` changed for each family of `hostname` (`after` is its new state).
  void logUpdate(const std::string& hostname, const RefreshUpdate& update,
                 const HostSnapshot& after);

  Resolver& resolver_;
  const core::Clock& clock_;
  ChangeCallback onChange_;
  DnsWatcherOptions options_;
  core::NullLogger nullLogger_;
  core::Logger& logger_;
  WatcherObserver* observer_;

  mutable std::mutex mutex_;
  std::condition_variable_any timer_;  // the timer waiter sleeps on it until the next due time
  std::condition_variable_any idle_;   // the other idle workers, until the timer is handed over
  WatchSchedule schedule_;             // guarded by mutex_
  uint64_t changeSequence_ = 0;        // guarded by mutex_; bumped by every subscription change
  bool started_ = false;               // guarded by mutex_
  bool stopping_ = false;              // guarded by mutex_; no worker starts once set
  bool timerWaiter_ = false;      // guarded by mutex_; an idle worker sleeps until the next due
  core::MonoTime timerWakeAt_{};  // guarded by mutex_; when the timer waiter means to wake
  uint64_t timerSequence_ = 0;    // guarded by mutex_; bumped to wake the timer waiter early
  size_t idleWorkers_ = 0;        // guarded by mutex_; workers waiting for work (timer too)
  uint64_t nextWorkerId_ = 0;     // guarded by mutex_
  std::map<uint64_t, std::jthread> workers_;  // guarded by mutex_; running, by id
  std::vector<std::jthread> finished_;        // guarded by mutex_; ended workers, to join
  const bool async_;                          // resolver_.asynchronous()
  std::stop_source asyncStop_;                // cancels the asynchronous lookups in flight
  size_t asyncInFlight_ = 0;                  // guarded by mutex_; refreshes started, not ended
  std::condition_variable_any asyncDrained_;  // asyncInFlight_ reached 0
};

}  // namespace endpointbinder::dns
