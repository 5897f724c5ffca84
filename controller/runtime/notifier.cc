#include "controller/runtime/notifier.h"

#include <algorithm>

#include "controller/core/thread_name.h"

namespace endpointbinder::runtime {

using core::LogLevel;

DestinationRef DestinationRef::of(const api::Notification& entry) {
  if (entry.snsTopicArn) return DestinationRef{Kind::kSns, *entry.snsTopicArn};
  return DestinationRef{Kind::kSlack, entry.slackWebhookSsmParameter.value_or("")};
}

// A report copied out of the reconciler's hands (the original points into its locals).
struct Notifier::OwnedReport {
  ReconcileReport::Kind kind = ReconcileReport::Kind::kSynced;
  api::TargetGroupBinding binding;
  core::WallTime time{};
  bool applied = false;
  std::vector<core::Target> registered;
  std::vector<core::Target> deregistered;
  std::vector<core::HeldTarget> held;  // without the routine grace-period holds
  std::vector<core::Target> listed;    // only when something was deregistered
  TargetCounts counts;
  bool sourceFailing = false;
  std::string sourceMessage;
  std::string message;
  core::Error error;

  explicit OwnedReport(const ReconcileReport& r)
      : kind(r.kind),
        binding(*r.binding),
        time(r.time),
        applied(r.applied),
        registered(r.registered.begin(), r.registered.end()),
        deregistered(r.deregistered.begin(), r.deregistered.end()),
        counts(r.counts),
        sourceFailing(r.sourceFailing),
        sourceMessage(r.sourceMessage),
        message(r.message) {
    for (const auto& h : r.held) {
      if (h.reason != core::HoldReason::kWithinGracePeriod) held.push_back(h);
    }
    if (!deregistered.empty()) listed.assign(r.listed.begin(), r.listed.end());
    if (r.error) error = *r.error;
  }

  ReconcileReport view() const {
    ReconcileReport r;
    r.kind = kind;
    r.binding = &binding;
    r.time = time;
    r.applied = applied;
    r.registered = registered;
    r.deregistered = deregistered;
    r.held = held;
    r.listed = listed;
    r.counts = counts;
    r.sourceFailing = sourceFailing;
    r.sourceMessage = sourceMessage;
    r.message = message;
    r.error = &error;
    return r;
  }
};

// One destination: its DeliveryQueue and the thread that sends from it.
class Notifier::Worker {
 public:
  Worker(std::unique_ptr<NotificationDestination> destination, const DeliveryOptions& options,
         Notifier::Deps& deps)
      : destination_(std::move(destination)),
        deps_(deps),
        queue_(options, deps.random, deps.clock.now()) {
    thread_ = std::thread([this] { run(); });
  }
  ~Worker() {
    finish();
    if (thread_.joinable()) thread_.join();
  }

  void add(const NoticeContext& context, NoticeEvent event) {
    std::lock_guard lock(mu_);
    if (stopped_) return;
    const int dropped = queue_.add(context, std::move(event), deps_.clock.now());
    if (dropped > 0) {
      if (deps_.metrics) deps_.metrics->dropped(destination_->kind(), dropped);
      deps_.log.log(LogLevel::kWarn, "notification queue full; dropped the oldest message",
                    {core::field("destination", destination_->name())});
    }
    updateDepth();
    cv_.notify_all();
  }

  // Sends what is pending without waiting for windows, until `deadline`.
  void flushUntil(core::MonoTime deadline) {
    std::lock_guard lock(mu_);
    flushing_ = true;
    flushDeadline_ = deadline;
    queue_.expedite(deps_.clock.now());
    cv_.notify_all();
  }
  // Ends the loop as soon as the send in progress (if any) returns.
  void finish() {
    std::lock_guard lock(mu_);
    stopped_ = true;
    cv_.notify_all();
  }
  void join() {
    if (thread_.joinable()) thread_.join();
  }

  size_t pending() const {
    std::lock_guard lock(mu_);
    return queue_.pending();
  }
  bool sending() const {
    std::lock_guard lock(mu_);
    return queue_.inFlight();
  }

 private:
  void updateDepth() {
    const auto depth = static_cast<double>(queue_.depth());
    if (deps_.metrics && depth != reportedDepth_) {
      deps_.metrics->addQueueDepth(destination_->kind(), depth - reportedDepth_);
    }
    reportedDepth_ = depth;
  }

  void run() {
    core::nameThisThread("eb-notify-send");
    std::unique_lock lock(mu_);
    while (!stopped_) {
      const auto now = deps_.clock.now();
      if (flushing_ && (queue_.depth() == 0 || now >= flushDeadline_)) break;
      if (auto delivery = queue_.take(now)) {
        lock.unlock();
        const SendOutcome outcome = destination_->send(delivery->notice);
        const std::string binding = delivery->notice.context.key;
        const std::string events = describeEvents(delivery->notice);
        lock.lock();
        const auto disposition = queue_.finish(std::move(*delivery), outcome, deps_.clock.now());
        updateDepth();
        report(disposition, outcome, binding, events);
        continue;
      }
      const auto next = queue_.nextAttemptAt();
      // Real time passes while waiting; the clock decides (a test's clock may be manual).
      auto wait = std::chrono::nanoseconds(std::chrono::seconds(1));
      if (next)
        wait =
            std::clamp<std::chrono::nanoseconds>(*next - now, std::chrono::milliseconds(1), wait);
      if (!next && !flushing_) {
        cv_.wait(lock);
      } else {
        cv_.wait_for(lock, wait);
      }
    }
    // Whatever is left is given up.
    if (queue_.pending() > 0) {
      if (deps_.metrics) {
        for (size_t i = 0; i < queue_.pending(); ++i) deps_.metrics->failed(destination_->kind());
      }
      deps_.log.log(LogLevel::kWarn, "notifications not sent before shutdown",
                    {core::field("destination", destination_->name()),
                     core::field("messages", static_cast<long long>(queue_.pending()))});
    }
  }

  static std::string describeEvents(const Notice& notice) {
    std::string out;
    for (const auto kind : notice.kinds()) {
      if (!out.empty()) out += ',';
      out += noticeKindName(kind);
    }
    return out;
  }

  void report(DeliveryQueue::Disposition disposition, const SendOutcome& outcome,
              const std::string& binding, const std::string& events) {
    const char* kind = destination_->kind();
    switch (disposition) {
      case DeliveryQueue::Disposition::kSent:
        if (deps_.metrics) deps_.metrics->sent(kind);
        deps_.log.log(LogLevel::kInfo, "notification sent",
                      {core::field("destination", destination_->name()),
                       core::field("binding", binding), core::field("events", events)});
        return;
      case DeliveryQueue::Disposition::kRetrying:
        if (deps_.metrics) deps_.metrics->retried(kind);
        deps_.log.log(LogLevel::kDebug, "notification attempt failed; will retry",
                      {core::field("destination", destination_->name()),
                       core::field("binding", binding), core::field("error", outcome.error)});
        return;
      case DeliveryQueue::Disposition::kGivenUp:
        if (deps_.metrics) deps_.metrics->failed(kind);
        deps_.log.log(
            LogLevel::kWarn, "notification given up",
            {core::field("destination", destination_->name()), core::field("binding", binding),
             core::field("events", events), core::field("error", outcome.error)});
        return;
    }
  }

  std::unique_ptr<NotificationDestination> destination_;
  Notifier::Deps& deps_;
  mutable std::mutex mu_;  // never held during send()
  std::condition_variable cv_;
  DeliveryQueue queue_;
  double reportedDepth_ = 0;
  bool stopped_ = false;
  bool flushing_ = false;
  core::MonoTime flushDeadline_{};
  std::thread thread_;
};

Notifier::Notifier(Deps deps, NotifierOptions options)
    : deps_(std::move(deps)), options_(std::move(options)), tracker_(options_.tracker) {
  if (!deps_.random) deps_.random = aws::defaultRandom();
}

Notifier::~Notifier() { stop(std::chrono::seconds(0)); }

void Notifier::start() {
  std::lock_guard lock(inboxMu_);
  if (started_ || stopping_) return;
  started_ = true;
  thread_ = std::thread([this] { run(); });
}

void Notifier::onReconciled(const ReconcileReport& report) {
  if (report.binding == nullptr || report.binding->spec.notifications.empty()) return;
  if (deps_.leading && !deps_.leading()) return;
  auto owned = std::make_unique<OwnedReport>(report);
  bool dropped = false;
  {
    std::lock_guard lock(inboxMu_);
    if (stopping_) return;
    if (inbox_.size() >= std::max<size_t>(1, options_.inboxCapacity)) {
      inbox_.pop_front();
      dropped = true;
    }
    inbox_.push_back(std::move(owned));
  }
  inboxCv_.notify_one();
  if (dropped && deps_.metrics) deps_.metrics->reportDropped();
}

void Notifier::run() {
  core::nameThisThread("eb-notifier");
  std::unique_lock lock(inboxMu_);
  for (;;) {
    inboxCv_.wait(lock, [this] { return stopping_ || !inbox_.empty(); });
    if (inbox_.empty()) break;  // stopping, and every report taken in
    auto batch = std::move(inbox_);
    inbox_.clear();
    busy_ = true;
    lock.unlock();
    for (const auto& report : batch) route(*report);
    lock.lock();
    busy_ = false;
  }
}

void Notifier::route(const OwnedReport& owned) {
  const auto result = tracker_.onReport(owned.view());
  for (const auto& event : result.events) {
    for (const auto& entry : owned.binding.spec.notifications) {
      if (!entryWants(entry, event)) continue;
      if (Worker* worker = workerFor(DestinationRef::of(entry))) worker->add(result.context, event);
    }
  }
}

Notifier::Worker* Notifier::workerFor(const DestinationRef& ref) {
  std::lock_guard lock(workersMu_);
  if (auto it = workers_.find(ref); it != workers_.end()) return it->second.get();
  auto destination = deps_.makeDestination(ref);
  if (!destination) {
    // Logged once per destination: the manifest names something this process cannot reach.
    if (brokenDestinations_.emplace(ref, destination.error().toString()).second) {
      deps_.log.log(LogLevel::kError, "cannot set up a notification destination",
                    {core::field("destination", ref.target),
                     core::field("error", destination.error().toString())});
    }
    return nullptr;
  }
  const DeliveryOptions& options =
      ref.kind == DestinationRef::Kind::kSns ? options_.sns : options_.slack;
  auto worker = std::make_unique<Worker>(std::move(*destination), options, deps_);
  Worker* raw = worker.get();
  workers_.emplace(ref, std::move(worker));
  return raw;
}

void Notifier::stop(std::chrono::nanoseconds flush, const std::function<void()>& cancel) {
  {
    std::lock_guard lock(inboxMu_);
    if (stopped_) return;
    stopped_ = true;
    stopping_ = true;
  }
  inboxCv_.notify_all();
  if (thread_.joinable()) thread_.join();  // every report received is routed

  std::lock_guard lock(workersMu_);
  const auto deadline = deps_.clock.now() + flush;
  for (auto& [ref, worker] : workers_) worker->flushUntil(deadline);
  // Wait for the flush, bounded by the deadline (each worker leaves its loop at it, or when its
  // queue is empty); a send hanging past it is cancelled.
  while (deps_.clock.now() < deadline) {
    bool busy = false;
    for (auto& [ref, worker] : workers_) busy = busy || worker->pending() > 0 || worker->sending();
    if (!busy) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  for (auto& [ref, worker] : workers_) worker->finish();
  if (cancel) cancel();
  for (auto& [ref, worker] : workers_) worker->join();
}

Notifier::Stats Notifier::stats() const {
  Stats stats;
  {
    std::lock_guard lock(inboxMu_);
    stats.inbox = inbox_.size() + (busy_ ? 1 : 0);
  }
  std::lock_guard lock(workersMu_);
  stats.destinations = workers_.size();
  for (const auto& [ref, worker] : workers_) {
    stats.pending += worker->pending();
    stats.inFlight += worker->sending() ? 1 : 0;
  }
  return stats;
}

bool Notifier::waitIdle(std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto s = stats();
    if (s.inbox == 0 && s.pending == 0 && s.inFlight == 0) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

}  // namespace endpointbinder::runtime
