// WorkQueue: the rate-limited, delaying work queue that feeds reconcile workers, with
// client-go semantics. A key ("namespace/name") in the queue means "look at this binding
// again"; the reconciler reads the state afresh, so merging duplicate keys loses nothing.
//
//   - add(key) merges duplicates: a key waiting to be processed is queued once.
//   - One worker per key: a key handed out by get() is not handed out again until done(key);
//     a key added while in flight is marked dirty and handed out again after done(key).
//   - addAfter(key, delay) keeps the earliest due time per key; an immediate add() wins over
//     (and cancels) a pending delayed add of the same key.
//   - addRateLimited(key) delays by per-key exponential backoff (base * 2^n, capped);
//     forget(key) resets it, numRequeues(key) reports it.
//   - Two priorities. Keys added for a reason (a DNS change, a manifest edit, a retry, a
//     timer) are handed out before keys added by the periodic resync, which only re-checks;
//     an event add of a key waiting as a resync moves it to the front lane; a resync add of a
//     key scheduled for later (a timer, a retry in backoff) is merged into that run. Within a
//     lane, first in, first out. Resync keys wait for as long as events keep every worker
//     busy: re-checking matters less than acting on a change; and they come out at most
//     resyncPerSecond, so that a backlog of them never takes the whole read quota. (client-go has
//     one lane; at thousands of bindings a resync round would otherwise stand between a DNS change
//     and its registration.) A delayed add may be a re-check too (addAfter with kResync: the
//     re-read of a group some seconds after writing to it): when due it joins the resync lane,
//     so after a cold start thousands of such re-reads wait behind DNS changes, not before them.
//     Merged with a timer of the same key, the run keeps the earlier time and kEvent.
//   - shutDown() makes get() return nullopt in every waiting and future caller; unlike
//     client-go, keys still queued are not handed out after shutdown (a stopping controller
//     starts no new reconcile). shutDownWithDrain() also waits for in-flight keys to be done.
//
// Two layers:
//   WorkQueueCore  pure and single-threaded: ordering, dedup, dirty/processing sets, the
//                  delayed set with earliest-time merge and the backoff arithmetic, driven by
//                  explicit `now` values. Thread-safety: none; tests drive it with a
//                  ManualClock's time points.
//   WorkQueue      thin thread-safe wrapper: one mutex around a WorkQueueCore, condition
//                  variables for blocking get() (one idle getter sleeps until the next
//                  delayed or resync key is due, the others until a key is ready) and for
//                  draining. Thread-safety: every method may be called from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <unordered_map>

#include "controller/core/clock.h"

namespace endpointbinder::runtime {

// Why a key is queued; decides which lane it waits in.
enum class Priority : std::uint8_t {
  kEvent,   // something changed, or a timer or retry fell due: handed out first
  kResync,  // periodic re-check: handed out when no event key is ready
};

struct WorkQueueOptions {
  // Per-key exponential backoff of addRateLimited(): the n-th consecutive retry of a key
  // (n counted from 0 since the last forget) waits backoffBase * 2^n, at most backoffCap.
  std::chrono::nanoseconds backoffBase = std::chrono::seconds(1);
  std::chrono::nanoseconds backoffCap = std::chrono::minutes(5);
  // Resync keys handed out per second at most (0: no limit). Spreading when resync keys are
  // queued is not enough: while events keep the workers busy they pile up, and would then come
  // out at the full read quota.
  double resyncPerSecond = 0;
};

// A snapshot for metrics (work-queue depth, adds, retries, latency), client-go's set.
struct WorkQueueStats {
  std::uint64_t adds = 0;            // keys that became pending (merged duplicates not counted)
  std::uint64_t merged = 0;          // add()/addAfter() calls merged into an existing pending key
  std::uint64_t retries = 0;         // addRateLimited() calls
  std::uint64_t gets = 0;            // keys handed out
  std::uint64_t dones = 0;           // keys finished
  std::size_t depth = 0;             // keys ready to be handed out (== len())
  std::size_t resyncDepth = 0;       // of those, keys in the resync lane
  std::size_t waiting = 0;           // keys scheduled for later (addAfter / addRateLimited)
  std::size_t processing = 0;        // keys handed out and not yet done
  double queueSecondsSum = 0;        // sum over gets of (handed out - became ready)
  double workSecondsSum = 0;         // sum over dones of (done - handed out)
  double longestRunningSeconds = 0;  // the oldest in-flight key's age
  double unfinishedWorkSeconds = 0;  // sum of every in-flight key's age
  std::uint64_t getterWakeUps = 0;   // times a blocked get() woke (WorkQueue only; for tests)
};

// Pure queue state. Every operation that can move time forward takes `now` (monotonic) and
// first promotes delayed keys that are due at `now`, so the ready order is the due order.
// `now` must not decrease between calls. Thread-safety: none.
class WorkQueueCore {
 public:
  explicit WorkQueueCore(WorkQueueOptions options = {});

  // Makes `key` pending now. Merged into an existing pending key (queued, or in flight and
  // already dirty). A pending delayed add of `key` is cancelled: the earliest time wins.
  // If `key` is in flight it is marked dirty and queued again by done(). Ignored after
  // shutDown(). Returns true if `key` became pending, false if merged or ignored.
  // A kEvent add merged into a pending kResync one raises it to kEvent (and to the front lane
  // if it is queued); a kResync add never lowers a pending key, and a kResync add of a key
  // scheduled for later is merged into that scheduled run (the timer or backoff stands).
  bool add(const std::string& key, core::MonoTime now, Priority priority = Priority::kEvent);

  // Makes `key` pending at now + delay with `priority`; a delay <= 0 is add(key, now,
  // priority). If `key` is already pending now this is merged, except a kEvent timer for a key
  // pending as kResync: it is scheduled too, and whichever comes first (the resync run handed
  // out, or the timer falling due and raising that run to kEvent) serves both. If `key` is
  // already scheduled, the two merge into one run at the earlier time with the higher priority
  // (kEvent over kResync: a timer must not wait behind the resync budget because a re-check
  // was scheduled sooner). Ignored after shutDown(). Returns true if this call set the key's
  // time or changed its time or priority.
  bool addAfter(const std::string& key, std::chrono::nanoseconds delay, core::MonoTime now,
                Priority priority = Priority::kEvent);

  // addAfter(key, backoff) with the key's next backoff, and counts the failure. Returns the
  // delay used: backoffFor(numRequeues(key)) taken before the call.
  std::chrono::nanoseconds addRateLimited(const std::string& key, core::MonoTime now);

  // Resets `key`'s backoff (call after a successful reconcile). Does not unschedule it.
  void forget(const std::string& key);

  // Consecutive addRateLimited() calls for `key` since the last forget().
  int numRequeues(const std::string& key) const;

  // backoffBase * 2^failures, capped at backoffCap; never overflows.
  std::chrono::nanoseconds backoffFor(int failures) const;

  // Hands out the oldest ready kEvent key, else the oldest ready kResync key, and marks it in
  // flight; nullopt if none is ready or the queue is shut down.
  std::optional<std::string> get(core::MonoTime now);

  // Marks `key` finished. If it was re-added while in flight it is queued again (unless shut
  // down). Returns false (and does nothing) if `key` was not in flight.
  bool done(const std::string& key, core::MonoTime now);

  // Stops accepting adds and handing out keys. In-flight keys may still be done().
  void shutDown() { shuttingDown_ = true; }
  bool shuttingDown() const { return shuttingDown_; }

  // The earliest due time of a delayed key, or nullopt if none is scheduled.
  std::optional<core::MonoTime> nextDelayedTime() const;
  // When the resync budget next allows a resync key out, if any is queued.
  std::optional<core::MonoTime> nextResyncTime() const;

  std::size_t len() const { return readyCount_; }  // ready keys
  // Ready keys of the event lane (which has no stale entries).
  std::size_t readyEvents() const { return lanes_[static_cast<int>(Priority::kEvent)].size(); }
  // Whether get(now) would hand a ready key out (before promoting delayed keys due by now):
  // an event key, or a resync key the budget lets out at `now`.
  bool hasTakeable(core::MonoTime now) const {
    return readyEvents() > 0 || (readyCount_ > readyEvents() && now >= nextResyncAt_);
  }
  std::size_t processingCount() const { return processing_.size(); }
  bool isProcessing(const std::string& key) const { return processing_.contains(key); }
  bool isDirty(const std::string& key) const { return pending_.contains(key); }
  // Entries in a lane, stale ones included (tests check that they stay bounded).
  std::size_t laneEntries(Priority priority) const {
    return lanes_[static_cast<int>(priority)].size();
  }
  // The priority `key` is pending with (queued, or to run again after its current run).
  std::optional<Priority> pendingPriority(const std::string& key) const;
  // The due time of `key` if it is scheduled for later.
  std::optional<core::MonoTime> delayedUntil(const std::string& key) const;
  // The priority `key` is scheduled with, if it is scheduled for later.
  std::optional<Priority> delayedPriority(const std::string& key) const;

  WorkQueueStats stats(core::MonoTime now) const;

 private:
  struct Ready {
    std::string key;
    core::MonoTime since;  // when it became ready, for queue latency
    std::uint64_t ticket;  // valid while it equals the key's Pending::ticket
  };
  struct Pending {
    Priority priority;
    std::uint64_t ticket = 0;  // of the key's live lane entry; 0 while it is in flight
    core::MonoTime since{};
  };
  // (due time, insertion sequence, key): due order, FIFO among equal times.
  using DelayedEntry = std::tuple<core::MonoTime, std::uint64_t, std::string>;

  void promoteDue(core::MonoTime now);
  bool makePending(const std::string& key, core::MonoTime since, Priority priority);
  void enqueue(const std::string& key, Pending& pending);
  bool isStale(const Ready& ready) const;
  void compactResyncLaneIfMostlyStale();
  void cancelDelayed(const std::string& key);

  WorkQueueOptions options_;
  // One lane per Priority. Raising a queued key's priority appends a new entry and leaves
  // the old one behind as stale (its ticket no longer matches); get() skips stale entries.
  std::deque<Ready> lanes_[2];
  std::size_t readyCount_ = 0;                        // live lane entries
  std::size_t staleResyncEntries_ = 0;                // raised away, not yet dropped
  std::chrono::nanoseconds resyncInterval_{0};        // 1 / resyncPerSecond
  core::MonoTime nextResyncAt_{};                     // a resync key may go out from then on
  std::unordered_map<std::string, Pending> pending_;  // queued, or re-run after done

  std::unordered_map<std::string, core::MonoTime> processing_;  // in flight, since
  struct Delayed {
    std::set<DelayedEntry>::iterator entry;
    Priority priority;
  };
  std::set<DelayedEntry> delayed_;
  std::unordered_map<std::string, Delayed> delayedByKey_;
  std::unordered_map<std::string, int> failures_;
  std::uint64_t sequence_ = 0;
  bool shuttingDown_ = false;
  WorkQueueStats counters_;  // cumulative fields only; gauges computed in stats()
};

// Thread-safe wrapper. Time comes from the injected Clock; blocking waits are real
// (steady_clock) waits for the remaining time to the next delayed key, so with a ManualClock
// a blocked get() only sees a delayed key after the clock is advanced and wake() is called.
//
// Of the getters blocked with nothing ready, one (the timer waiter) sleeps until the next
// delayed or resync key is due; the others sleep until a key becomes ready or the timer
// waiter leaves with a key and hands the timer over. With every idle getter on that timer,
// each resync key (one every 300 ms at 1,000 bindings and a 5-minute resync) woke all eight
// workers for one of them to take it (bench/README.md).
class WorkQueue {
 public:
  // `clock` must outlive the queue.
  explicit WorkQueue(const core::Clock& clock, WorkQueueOptions options = {});
  // Shuts down (waking every getter). REQUIRES: no thread is still inside a method.
  ~WorkQueue();

  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  // See WorkQueueCore for the semantics of each.
  void add(const std::string& key, Priority priority = Priority::kEvent);
  void addAfter(const std::string& key, std::chrono::nanoseconds delay,
                Priority priority = Priority::kEvent);
  void addRateLimited(const std::string& key);
  void forget(const std::string& key);
  int numRequeues(const std::string& key) const;

  // Blocks until a key is ready and hands it out (the caller must call done(key) when
  // finished), or returns nullopt once the queue is shut down.
  std::optional<std::string> get();
  // Non-blocking get().
  std::optional<std::string> tryGet();
  // Finishes a key handed out by get(); a key re-added meanwhile becomes ready again.
  void done(const std::string& key);

  // Wakes every blocked get(), which will return nullopt; later adds are ignored.
  void shutDown();
  // shutDown(), then waits until every in-flight key is done or `timeout` (real time) passes.
  // Returns true if nothing is in flight any more.
  bool shutDownWithDrain(std::chrono::nanoseconds timeout);
  bool shuttingDown() const;

  // Makes blocked getters re-read the clock (for tests driving a ManualClock).
  void wake();

  std::size_t len() const;
  WorkQueueStats stats() const;

 private:
  // When the next delayed or resync key is due, if any.
  std::optional<core::MonoTime> nextDueLocked() const;
  // Wakes one blocked getter: an untimed one if any, else the timer waiter.
  void wakeOneLocked();
  // After a change: a getter for a key that became ready to take (every getter for several),
  // and the timer waiter when the next due time now comes before its alarm (or a getter to
  // take the timer when nobody holds it). `readyBefore`, `eventsBefore`: len() and
  // readyEvents() before the change (a resync key raised to an event one leaves len() as it
  // was).
  void notifyLocked(std::size_t readyBefore, std::size_t eventsBefore);
  void wakeAllLocked();

  const core::Clock& clock_;
  mutable std::mutex mu_;
  std::condition_variable readyCv_;    // getters other than the timer waiter wait here
  std::condition_variable timerCv_;    // the timer waiter waits here
  std::condition_variable drainedCv_;  // shutDownWithDrain waits here
  bool timerWaiter_ = false;           // a getter waits on timerCv_ until timerAlarm_
  core::MonoTime timerAlarm_{};
  std::size_t untimedGetters_ = 0;  // getters waiting on readyCv_
  std::uint64_t getterWakeUps_ = 0;
  WorkQueueCore core_;
};

}  // namespace endpointbinder::runtime
