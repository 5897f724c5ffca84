#include "controller/runtime/work_queue.h"

#include <algorithm>
#include <utility>

namespace endpointbinder::runtime {

namespace {

double inSeconds(std::chrono::nanoseconds d) { return std::chrono::duration<double>(d).count(); }

}  // namespace

WorkQueueCore::WorkQueueCore(WorkQueueOptions options) : options_(options) {
  if (options_.backoffBase <= std::chrono::nanoseconds::zero()) {
    options_.backoffBase = std::chrono::nanoseconds(1);
  }
  options_.backoffCap = std::max(options_.backoffCap, options_.backoffBase);
  if (options_.resyncPerSecond > 0) {
    resyncInterval_ = std::chrono::duration_cast<std::chrono::nanoseconds>(
        std::chrono::duration<double>(1.0 / std::max(options_.resyncPerSecond, 1e-6)));
  }
}

bool WorkQueueCore::makePending(const std::string& key, core::MonoTime since, Priority priority) {
  if (auto it = pending_.find(key); it != pending_.end()) {
    ++counters_.merged;
    Pending& pending = it->second;
    if (priority == Priority::kEvent && pending.priority == Priority::kResync) {
      pending.priority = Priority::kEvent;
      if (pending.ticket != 0) {  // queued in the resync lane: move it to the front lane
        --readyCount_;
        ++staleResyncEntries_;
        enqueue(key, pending);
        compactResyncLaneIfMostlyStale();
      }
    }
    return false;
  }
  ++counters_.adds;
  Pending& pending = pending_[key];
  pending.priority = priority;
  pending.since = since;
  if (!processing_.contains(key)) enqueue(key, pending);
  return true;
}

void WorkQueueCore::enqueue(const std::string& key, Pending& pending) {
  pending.ticket = ++sequence_;
  lanes_[static_cast<int>(pending.priority)].push_back(Ready{key, pending.since, pending.ticket});
  ++readyCount_;
}

void WorkQueueCore::compactResyncLaneIfMostlyStale() {
  // get() drops stale entries only when it reaches the resync lane, which a steady stream of
  // events can keep it from doing; bound the lane at twice its live entries.
  auto& lane = lanes_[static_cast<int>(Priority::kResync)];
  if (staleResyncEntries_ < 64 || staleResyncEntries_ * 2 < lane.size()) return;
  std::erase_if(lane, [&](const Ready& ready) { return isStale(ready); });
  staleResyncEntries_ = 0;
}

bool WorkQueueCore::isStale(const Ready& ready) const {
  auto it = pending_.find(ready.key);
  return it == pending_.end() || it->second.ticket != ready.ticket;
}

std::optional<Priority> WorkQueueCore::pendingPriority(const std::string& key) const {
  auto it = pending_.find(key);
  if (it == pending_.end()) return std::nullopt;
  return it->second.priority;
}

void WorkQueueCore::cancelDelayed(const std::string& key) {
  auto it = delayedByKey_.find(key);
  if (it == delayedByKey_.end()) return;
  delayed_.erase(it->second.entry);
  delayedByKey_.erase(it);
}

void WorkQueueCore::promoteDue(core::MonoTime now) {
  while (!delayed_.empty() && std::get<0>(*delayed_.begin()) <= now) {
    auto node = delayed_.extract(delayed_.begin());
    auto& [due, seq, key] = node.value();
    const auto scheduled = delayedByKey_.find(key);
    const Priority priority = scheduled->second.priority;
    delayedByKey_.erase(scheduled);
    if (!shuttingDown_) makePending(key, due, priority);
  }
}

bool WorkQueueCore::add(const std::string& key, core::MonoTime now, Priority priority) {
  promoteDue(now);
  if (shuttingDown_) return false;
  bool wasDelayed = delayedByKey_.contains(key);
  if (wasDelayed && priority == Priority::kResync) {
    // Its scheduled run (a timer, a retry in backoff) re-checks it anyway; running it now
    // would defeat the backoff.
    ++counters_.merged;
    return false;
  }
  cancelDelayed(key);
  bool pending = makePending(key, now, priority);
  // Replacing a scheduled add with an immediate one merges two requests into one.
  if (pending && wasDelayed) ++counters_.merged;
  return pending;
}

bool WorkQueueCore::addAfter(const std::string& key, std::chrono::nanoseconds delay,
                             core::MonoTime now, Priority priority) {
  if (delay <= std::chrono::nanoseconds::zero()) return add(key, now, priority);
  promoteDue(now);
  if (shuttingDown_) return false;
  if (auto it = pending_.find(key);
      it != pending_.end() &&
      (priority == Priority::kResync || it->second.priority == Priority::kEvent)) {
    ++counters_.merged;  // already to run now, which re-checks whatever this add was for
    return false;
  }
  // A timer for a key pending as a resync is scheduled all the same: that run may wait behind
  // the resync budget (the periodic resync adds a key while it is in flight, then its
  // reconcile asks for a timer). Whichever comes first serves both: get() drops the timer of
  // the key it hands out, and the timer falling due raises the pending run to an event.
  core::MonoTime due = now + delay;
  if (auto it = delayedByKey_.find(key); it != delayedByKey_.end()) {
    ++counters_.merged;
    const core::MonoTime scheduled = std::get<0>(*it->second.entry);
    const Priority merged = priority == Priority::kEvent || it->second.priority == Priority::kEvent
                                ? Priority::kEvent
                                : Priority::kResync;
    if (scheduled <= due && merged == it->second.priority) return false;
    due = std::min(due, scheduled);
    priority = merged;
    delayed_.erase(it->second.entry);
    delayedByKey_.erase(it);
  }
  auto [pos, inserted] = delayed_.emplace(due, sequence_++, key);
  delayedByKey_[key] = Delayed{pos, priority};
  return inserted;
}

std::chrono::nanoseconds WorkQueueCore::backoffFor(int failures) const {
  const auto base = options_.backoffBase.count();
  const auto cap = options_.backoffCap.count();
  if (failures <= 0) return options_.backoffBase;
  if (failures >= 62 || base > (cap >> failures)) return options_.backoffCap;
  return std::chrono::nanoseconds(base << failures);
}

std::chrono::nanoseconds WorkQueueCore::addRateLimited(const std::string& key, core::MonoTime now) {
  int& failures = failures_[key];
  auto delay = backoffFor(failures);
  if (failures < 1'000'000) ++failures;
  ++counters_.retries;
  addAfter(key, delay, now);
  return delay;
}

void WorkQueueCore::forget(const std::string& key) { failures_.erase(key); }

int WorkQueueCore::numRequeues(const std::string& key) const {
  auto it = failures_.find(key);
  return it == failures_.end() ? 0 : it->second;
}

std::optional<std::string> WorkQueueCore::get(core::MonoTime now) {
  promoteDue(now);
  if (shuttingDown_) return std::nullopt;
  for (auto priority : {Priority::kEvent, Priority::kResync}) {
    if (priority == Priority::kResync && now < nextResyncAt_) break;  // over the resync budget
    auto& lane = lanes_[static_cast<int>(priority)];
    while (!lane.empty()) {
      Ready ready = std::move(lane.front());
      lane.pop_front();
      if (isStale(ready)) {
        if (staleResyncEntries_ > 0) --staleResyncEntries_;  // only resync entries go stale
        continue;
      }
      pending_.erase(ready.key);
      cancelDelayed(ready.key);  // a timer that waited beside a pending resync: served now
      --readyCount_;
      processing_.emplace(ready.key, now);
      ++counters_.gets;
      counters_.queueSecondsSum += inSeconds(now - ready.since);
      if (priority == Priority::kResync && options_.resyncPerSecond > 0) {
        // No credit for idle time: a backlog comes out at the rate, not in a burst.
        nextResyncAt_ = std::max(now, nextResyncAt_) + resyncInterval_;
      }
      return std::move(ready.key);
    }
  }
  return std::nullopt;
}

std::optional<core::MonoTime> WorkQueueCore::nextResyncTime() const {
  if (lanes_[static_cast<int>(Priority::kResync)].empty()) return std::nullopt;
  return nextResyncAt_;
}

bool WorkQueueCore::done(const std::string& key, core::MonoTime now) {
  // Promote first: a due delayed add of `key` itself then only marks it dirty (it is still
  // in flight) and is queued once below.
  promoteDue(now);
  auto it = processing_.find(key);
  if (it == processing_.end()) return false;
  ++counters_.dones;
  counters_.workSecondsSum += inSeconds(now - it->second);
  processing_.erase(it);
  if (auto again = pending_.find(key); again != pending_.end()) {
    if (shuttingDown_) {
      pending_.erase(again);
    } else {
      again->second.since = now;
      enqueue(key, again->second);
    }
  }
  return true;
}

std::optional<core::MonoTime> WorkQueueCore::nextDelayedTime() const {
  if (delayed_.empty()) return std::nullopt;
  return std::get<0>(*delayed_.begin());
}

std::optional<core::MonoTime> WorkQueueCore::delayedUntil(const std::string& key) const {
  auto it = delayedByKey_.find(key);
  if (it == delayedByKey_.end()) return std::nullopt;
  return std::get<0>(*it->second.entry);
}

std::optional<Priority> WorkQueueCore::delayedPriority(const std::string& key) const {
  auto it = delayedByKey_.find(key);
  if (it == delayedByKey_.end()) return std::nullopt;
  return it->second.priority;
}

WorkQueueStats WorkQueueCore::stats(core::MonoTime now) const {
  WorkQueueStats s = counters_;
  s.depth = readyCount_;
  s.resyncDepth = lanes_[static_cast<int>(Priority::kResync)].size() - staleResyncEntries_;
  s.waiting = delayed_.size();
  s.processing = processing_.size();
  s.longestRunningSeconds = 0;
  s.unfinishedWorkSeconds = 0;
  for (const auto& [key, since] : processing_) {
    double age = std::max(0.0, inSeconds(now - since));
    s.unfinishedWorkSeconds += age;
    s.longestRunningSeconds = std::max(s.longestRunningSeconds, age);
  }
  return s;
}

// ---- WorkQueue ----

WorkQueue::WorkQueue(const core::Clock& clock, WorkQueueOptions options)
    : clock_(clock), core_(options) {}

WorkQueue::~WorkQueue() { shutDown(); }

std::optional<core::MonoTime> WorkQueue::nextDueLocked() const {
  auto next = core_.nextDelayedTime();
  if (auto resync = core_.nextResyncTime()) next = next ? std::min(*next, *resync) : *resync;
  return next;
}

void WorkQueue::wakeOneLocked() {
  if (untimedGetters_ > 0) {
    readyCv_.notify_one();
  } else if (timerWaiter_) {
    timerCv_.notify_one();
  }
}

void WorkQueue::wakeAllLocked() {
  readyCv_.notify_all();
  timerCv_.notify_all();
}

void WorkQueue::notifyLocked(std::size_t readyBefore, std::size_t eventsBefore) {
  const std::size_t ready = core_.len();
  const std::size_t events = core_.readyEvents();
  if (ready > readyBefore + 1 || events > eventsBefore + 1) {
    wakeAllLocked();
    return;
  }
  // A resync key the budget holds is left to the timer below.
  if (events > eventsBefore || (ready > readyBefore && core_.hasTakeable(clock_.now()))) {
    wakeOneLocked();
  }
  const auto due = nextDueLocked();
  if (!due) return;
  if (timerWaiter_) {
    if (*due < timerAlarm_) timerCv_.notify_one();  // it sleeps past the new due time
  } else if (untimedGetters_ > 0) {
    readyCv_.notify_one();  // nobody holds the timer: one of them takes it
  }
}

void WorkQueue::add(const std::string& key, Priority priority) {
  std::lock_guard lock(mu_);
  const auto before = core_.len();
  const auto eventsBefore = core_.readyEvents();
  core_.add(key, clock_.now(), priority);
  notifyLocked(before, eventsBefore);
}

void WorkQueue::addAfter(const std::string& key, std::chrono::nanoseconds delay,
                         Priority priority) {
  std::lock_guard lock(mu_);
  const auto before = core_.len();
  const auto eventsBefore = core_.readyEvents();
  core_.addAfter(key, delay, clock_.now(), priority);
  notifyLocked(before, eventsBefore);
}

void WorkQueue::addRateLimited(const std::string& key) {
  std::lock_guard lock(mu_);
  const auto before = core_.len();
  const auto eventsBefore = core_.readyEvents();
  core_.addRateLimited(key, clock_.now());
  notifyLocked(before, eventsBefore);
}

void WorkQueue::forget(const std::string& key) {
  std::lock_guard lock(mu_);
  core_.forget(key);
}

int WorkQueue::numRequeues(const std::string& key) const {
  std::lock_guard lock(mu_);
  return core_.numRequeues(key);
}

std::optional<std::string> WorkQueue::get() {
  std::unique_lock lock(mu_);
  for (;;) {
    if (core_.shuttingDown()) return std::nullopt;
    const auto now = clock_.now();
    if (auto key = core_.get(now)) {
      // More may be ready (several delayed keys due at once): pass the baton. And a key due
      // later needs a getter on the timer: when this one held it, another takes it over.
      if (core_.hasTakeable(now) || (!timerWaiter_ && nextDueLocked())) wakeOneLocked();
      return key;
    }
    const auto next = nextDueLocked();
    if (next && !timerWaiter_) {
      timerWaiter_ = true;
      timerAlarm_ = *next;
      const auto remaining =
          std::max<std::chrono::nanoseconds>(*next - now, std::chrono::microseconds(100));
      timerCv_.wait_for(lock, remaining);
      timerWaiter_ = false;
    } else {
      ++untimedGetters_;
      readyCv_.wait(lock);
      --untimedGetters_;
    }
    ++getterWakeUps_;
  }
}

std::optional<std::string> WorkQueue::tryGet() {
  std::lock_guard lock(mu_);
  return core_.get(clock_.now());
}

void WorkQueue::done(const std::string& key) {
  std::lock_guard lock(mu_);
  const auto before = core_.len();
  const auto eventsBefore = core_.readyEvents();
  core_.done(key, clock_.now());
  notifyLocked(before, eventsBefore);
  if (core_.processingCount() == 0) drainedCv_.notify_all();
}

void WorkQueue::shutDown() {
  std::lock_guard lock(mu_);
  core_.shutDown();
  wakeAllLocked();
}

bool WorkQueue::shutDownWithDrain(std::chrono::nanoseconds timeout) {
  std::unique_lock lock(mu_);
  core_.shutDown();
  wakeAllLocked();
  return drainedCv_.wait_for(lock, timeout, [this] { return core_.processingCount() == 0; });
}

bool WorkQueue::shuttingDown() const {
  std::lock_guard lock(mu_);
  return core_.shuttingDown();
}

void WorkQueue::wake() {
  std::lock_guard lock(mu_);
  wakeAllLocked();
}

std::size_t WorkQueue::len() const {
  std::lock_guard lock(mu_);
  return core_.len();
}

WorkQueueStats WorkQueue::stats() const {
  std::lock_guard lock(mu_);
  WorkQueueStats stats = core_.stats(clock_.now());
  stats.getterWakeUps = getterWakeUps_;
  return stats;
}

}  // namespace endpointbinder::runtime
