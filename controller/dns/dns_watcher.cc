#include "controller/dns/dns_watcher.h"

#include <algorithm>
#include <system_error>

#include "controller/core/thread_name.h"

namespace endpointbinder::dns {
namespace {

// Upper bound on one sleep, so a clock that jumps (or a lost wake-up) costs at most this.
constexpr auto kMaxSleep = std::chrono::seconds(10);

std::string joinAddresses(const std::vector<api::IpAddress>& addresses) {
  std::string text;
  for (const auto& address : addresses) {
    if (!text.empty()) text += ",";
    text += address.toString();
  }
  return text;
}

}  // namespace

DnsWatcher::DnsWatcher(Resolver& resolver, const core::Clock& clock, Random& random,
                       ChangeCallback onChange, DnsWatcherOptions options, core::Logger* logger,
                       WatcherObserver* observer)
    : resolver_(resolver),
      clock_(clock),
      onChange_(std::move(onChange)),
      options_(options),
      logger_(logger != nullptr ? *logger : nullLogger_),
      observer_(observer),
      schedule_(random, options.schedule),
      async_(resolver.asynchronous()) {}

struct DnsWatcher::AsyncRefresh {
  explicit AsyncRefresh(RefreshTicket t) : ticket(std::move(t)) {}
  RefreshTicket ticket;
  std::vector<LookupResult> lookups;
  core::MonoTime started{};  // of the lookup in flight
};

DnsWatcher::~DnsWatcher() { stop(); }

void DnsWatcher::start() {
  std::lock_guard lock(mutex_);
  if (started_) return;
  started_ = true;
  const size_t count = async_ ? 1 : workersKept();
  for (size_t i = 0; i < count; ++i) spawnWorkerLocked();
}

size_t DnsWatcher::refreshLimit() const {
  return static_cast<size_t>(std::max(1, options_.maxConcurrentRefreshes));
}

size_t DnsWatcher::workersKept() const {
  return std::clamp(static_cast<size_t>(std::max(1, options_.idleWorkers)), size_t{1},
                    refreshLimit());
}

void DnsWatcher::spawnWorkerLocked() {
  if (stopping_ || workers_.size() >= refreshLimit()) return;
  const uint64_t id = nextWorkerId_++;
  // The new thread blocks on mutex_ (held here) until it is in workers_. The slot is made
  // first, so no allocation can fail between starting the thread and keeping it (a dropped
  // jthread would join a thread waiting for this very lock).
  auto [slot, inserted] = workers_.try_emplace(id);
  try {
    slot->second = std::jthread([this, id](std::stop_token stop) { work(stop, id); });
  } catch (const std::system_error& e) {
    // Out of threads (a pids limit): carry on with the workers there are.
    workers_.erase(slot);
    logger_.log(core::LogLevel::kWarn, "dns: could not start another lookup worker",
                {core::field("workers", static_cast<long long>(workers_.size())),
                 core::field("error", e.what())});
  }
}

void DnsWatcher::stop() {
  std::map<uint64_t, std::jthread> workers;
  std::vector<std::jthread> finished;
  {
    std::lock_guard lock(mutex_);
    started_ = true;  // a stopped watcher never starts again
    stopping_ = true;
    workers.swap(workers_);
    finished.swap(finished_);
  }
  for (auto& [id, worker] : workers) worker.request_stop();
  // The resolver calls back every asynchronous lookup promptly once cancelled.
  asyncStop_.request_stop();
  // jthread's destructor joins; waits on timer_ and idle_ end through the stop_token.
  workers.clear();
  finished.clear();
  std::unique_lock lock(mutex_);
  asyncDrained_.wait(lock, [&] { return asyncInFlight_ == 0; });
}

size_t DnsWatcher::workerCount() const {
  std::lock_guard lock(mutex_);
  return workers_.size();
}

size_t DnsWatcher::asyncRefreshesInFlight() const {
  std::lock_guard lock(mutex_);
  return asyncInFlight_;
}

bool DnsWatcher::subscribe(const std::string& bindingKey, const api::DnsSource& source) {
  bool created = false;
  {
    std::lock_guard lock(mutex_);
    created = schedule_.subscribe(bindingKey, source, clock_.now());
    changeSequence_++;
  }
  timer_.notify_all();
  idle_.notify_all();
  return created;
}

bool DnsWatcher::unsubscribe(const std::string& bindingKey) {
  bool removed = false;
  {
    std::lock_guard lock(mutex_);
    removed = schedule_.unsubscribe(bindingKey);
    changeSequence_++;
  }
  timer_.notify_all();
  idle_.notify_all();
  return removed;
}

std::optional<HostSnapshot> DnsWatcher::snapshot(std::string_view hostname) const {
  std::lock_guard lock(mutex_);
  return schedule_.snapshot(hostname);
}

std::optional<HostSnapshot> DnsWatcher::snapshotForBinding(const std::string& bindingKey) const {
  std::lock_guard lock(mutex_);
  auto hostname = schedule_.hostnameOf(bindingKey);
  if (!hostname) return std::nullopt;
  return schedule_.snapshot(*hostname);
}

WatcherStats DnsWatcher::stats() const {
  std::lock_guard lock(mutex_);
  return schedule_.stats();
}

void DnsWatcher::work(std::stop_token stop, uint64_t id) {
  core::nameThisThread("eb-dns-watch");
  if (async_) {
    dispatch(stop);
    return;
  }
  const size_t keep = workersKept();
  std::unique_lock lock(mutex_);
  while (!stop.stop_requested()) {
    const core::MonoTime now = clock_.now();
    auto tickets = schedule_.takeDue(now, 1);
    if (tickets.empty()) {
      const uint64_t seen = changeSequence_;
      idleWorkers_++;
      if (timerWaiter_) {
        // One worker waits for the next due time; the rest wait for it to hand that over.
        // With every idle worker on the timer, each refresh woke them all (1,000 names at a
        // 5 s TTL: 200 refreshes/s, most of the watcher's CPU in futex wake-ups).
        const auto handedOver = [&] { return changeSequence_ != seen || !timerWaiter_; };
        if (workers_.size() <= keep) {
          idle_.wait(lock, stop, handedOver);
        } else if (!idle_.wait_for(lock, stop, options_.idleWorkerLinger, handedOver) &&
                   !stop.stop_requested() && workers_.size() > keep) {
          // A worker started for a busy spell that has ended: it goes.
          idleWorkers_--;
          if (auto self = workers_.extract(id)) finished_.push_back(std::move(self.mapped()));
          return;
        }
        idleWorkers_--;
        continue;
      }
      auto sleep = std::chrono::duration_cast<std::chrono::nanoseconds>(kMaxSleep);
      if (auto next = schedule_.nextDue()) {
        sleep = std::clamp(std::chrono::duration_cast<std::chrono::nanoseconds>(*next - now),
                           std::chrono::nanoseconds::zero(), sleep);
      }
      timerWaiter_ = true;
      timerWakeAt_ = now + sleep;
      const uint64_t timerSeen = timerSequence_;
      timer_.wait_for(lock, stop, sleep,
                      [&] { return changeSequence_ != seen || timerSequence_ != timerSeen; });
      timerWaiter_ = false;
      idleWorkers_--;
      continue;
    }
    const RefreshTicket ticket = std::move(tickets.front());
    // Whoever is idle takes over the timer while this refresh runs (a slow lookup must not
    // delay the others); when nobody is idle, a new worker does.
    if (idleWorkers_ == 0) {
      spawnWorkerLocked();
    } else if (!timerWaiter_) {
      idle_.notify_one();
    }
    std::vector<std::jthread> ended;
    ended.swap(finished_);
    lock.unlock();
    ended.clear();  // joins workers that ended (they hold no lock any more)

    // lookupsPerRefresh lookups, and more while an answer looks cut short at 8 addresses
    // (bounded; see wantsAnotherLookup). options_ is never written: no lock needed.
    std::vector<LookupResult> lookups;
    lookups.reserve(static_cast<size_t>(std::max(ticket.lookups, 1)));
    while (!stop.stop_requested() && wantsAnotherLookup(ticket, lookups, options_.schedule)) {
      const core::MonoTime started = clock_.now();
      ResolveOutcome outcome = resolver_.resolve(ticket.hostname, ticket.families, stop);
      const auto latency = clock_.now() - started;
      if (observer_ != nullptr) observer_->onLookup(ticket.hostname, outcome.status, latency);
      lookups.push_back(LookupResult{std::move(outcome), latency});
    }
    if (stop.stop_requested()) return;  // cancelled lookups are not evidence of anything
    fold(ticket, lookups);
    lock.lock();
  }
}

void DnsWatcher::fold(const RefreshTicket& ticket, const std::vector<LookupResult>& lookups) {
  std::unique_lock lock(mutex_);
  const RefreshUpdate update = schedule_.onResult(ticket, lookups, clock_.now());
  if (timerWaiter_ && update.applied && update.nextRefresh < timerWakeAt_) {
    // The timer waiter chose its sleep before this refresh was rescheduled.
    timerSequence_++;
    timer_.notify_one();
  }
  std::optional<HostSnapshot> after;
  if (update.applied && update.notify()) after = schedule_.snapshot(ticket.hostname);
  lock.unlock();

  if (update.applied) {
    if (observer_ != nullptr) observer_->onRefresh(ticket.hostname, update);
    if (after) logUpdate(ticket.hostname, update, *after);
    if (!update.affectedBindingKeys.empty() && onChange_) {
      onChange_(ticket.hostname, update.affectedBindingKeys);
    }
  }
}

void DnsWatcher::dispatch(std::stop_token stop) {
  const size_t limit = refreshLimit();
  std::vector<RefreshTicket> tickets;  // one for every round: it keeps its capacity
  std::unique_lock lock(mutex_);
  while (!stop.stop_requested()) {
    const core::MonoTime now = clock_.now();
    tickets.clear();
    if (asyncInFlight_ < limit) schedule_.takeDue(now, limit - asyncInFlight_, tickets);
    if (tickets.empty()) {
      // Until the next refresh is due (and timerSlack more, to start the ones due meanwhile
      // with it), a subscription changes, or, at the limit, a refresh ends.
      auto sleep = std::chrono::duration_cast<std::chrono::nanoseconds>(kMaxSleep);
      if (asyncInFlight_ < limit) {
        if (auto next = schedule_.nextDue()) {
          sleep = std::clamp(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                 *next - now + options_.timerSlack),
                             std::chrono::nanoseconds::zero(), sleep);
        }
      }
      const uint64_t seen = changeSequence_;
      const uint64_t timerSeen = timerSequence_;
      timerWaiter_ = true;
      timerWakeAt_ = now + sleep;
      timer_.wait_for(lock, stop, sleep,
                      [&] { return changeSequence_ != seen || timerSequence_ != timerSeen; });
      timerWaiter_ = false;
      continue;
    }
    asyncInFlight_ += tickets.size();
    lock.unlock();
    for (auto& ticket : tickets) startLookup(std::make_shared<AsyncRefresh>(std::move(ticket)));
    lock.lock();
  }
}

void DnsWatcher::startLookup(std::shared_ptr<AsyncRefresh> refresh) {
  refresh->started = clock_.now();
  AsyncRefresh& ref = *refresh;
  resolver_.resolveAsync(ref.ticket.hostname, ref.ticket.families, asyncStop_.get_token(),
                         [this, refresh = std::move(refresh)](ResolveOutcome outcome) {
                           onAsyncLookup(refresh, std::move(outcome));
                         });
}

// On the resolver's thread (or the caller's, for an outcome known at once).
void DnsWatcher::onAsyncLookup(const std::shared_ptr<AsyncRefresh>& refresh,
                               ResolveOutcome outcome) {
  const auto latency = clock_.now() - refresh->started;
  const bool stopping = asyncStop_.stop_requested();
  if (!stopping) {
    if (observer_ != nullptr)
      observer_->onLookup(refresh->ticket.hostname, outcome.status, latency);
    refresh->lookups.push_back(LookupResult{std::move(outcome), latency});
    // lookupsPerRefresh lookups, and more while an answer looks cut short at 8 addresses.
    if (wantsAnotherLookup(refresh->ticket, refresh->lookups, options_.schedule)) {
      startLookup(refresh);
      return;
    }
    fold(refresh->ticket, refresh->lookups);
  }
  // Cancelled lookups are not evidence of anything: a stopped refresh is dropped.
  std::lock_guard lock(mutex_);
  if (asyncInFlight_-- == refreshLimit()) {
    timerSequence_++;  // room for another refresh
    timer_.notify_one();
  }
  if (asyncInFlight_ == 0) asyncDrained_.notify_all();
}

void DnsWatcher::logUpdate(const std::string& hostname, const RefreshUpdate& update,
                           const HostSnapshot& after) {
  for (const auto family : {api::AddressFamily::kIPv4, api::AddressFamily::kIPv6}) {
    const FamilyUpdate& part = update.families[familyIndex(family)];
    const FamilyState& state = after.families[familyIndex(family)];
    const char* type = family == api::AddressFamily::kIPv4 ? "A" : "AAAA";
    if (part.failingChanged && state.failing()) {
      logger_.log(core::LogLevel::kWarn, "dns source failing; keeping the last good answer",
                  {core::field("hostname", hostname), core::field("family", type),
                   core::field("reason", state.failureReason),
                   core::field("addresses", joinAddresses(state.addresses))});
    } else if (part.reasonChanged) {
      logger_.log(core::LogLevel::kWarn, "dns source still failing, for another reason",
                  {core::field("hostname", hostname), core::field("family", type),
                   core::field("reason", state.failureReason)});
    } else if (part.failingChanged) {
      logger_.log(core::LogLevel::kInfo, "dns source recovered",
                  {core::field("hostname", hostname), core::field("family", type),
                   core::field("addresses", joinAddresses(state.addresses))});
    }
  }
  if (update.addressesChanged) {
    logger_.log(core::LogLevel::kInfo, "dns answer changed",
                {core::field("hostname", hostname),
                 core::field("addresses", joinAddresses(after.addresses)),
                 core::field("ttl", static_cast<long long>(after.lastTtl.count()))});
  }
}

}  // namespace endpointbinder::dns
