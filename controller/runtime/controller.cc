#include "controller/runtime/controller.h"

#include <algorithm>
#include <set>

#include "controller/core/thread_name.h"
#include "controller/runtime/metrics.h"
#include "controller/runtime/resync_pacer.h"

namespace endpointbinder::runtime {

namespace {

using core::LogLevel;

// A reconcile running longer than this means a worker is stuck: stop vouching for liveness.
constexpr auto kStuckReconcile = std::chrono::minutes(5);
constexpr auto kTick = std::chrono::seconds(1);

std::pair<std::string, std::string> splitKey(const std::string& key) {
  const auto slash = key.find('/');
  if (slash == std::string::npos) return {"default", key};
  return {key.substr(0, slash), key.substr(slash + 1)};
}

// Adapts DNS watcher callbacks to the metrics layer's source-lookup series.
LookupOutcome lookupOutcome(dns::ResolveStatus status) {
  switch (status) {
    case dns::ResolveStatus::kOk:
      return LookupOutcome::kSuccess;
    case dns::ResolveStatus::kNoData:
      return LookupOutcome::kEmpty;
    case dns::ResolveStatus::kNxDomain:
      return LookupOutcome::kNotFound;
    case dns::ResolveStatus::kTimeout:
      return LookupOutcome::kTimeout;
    default:
      return LookupOutcome::kError;
  }
}

class DnsMetricsObserver final : public dns::WatcherObserver {
 public:
  explicit DnsMetricsObserver(ControllerMetrics* metrics) : metrics_(metrics) {}
  void onLookup(const std::string&, dns::ResolveStatus status,
                std::chrono::nanoseconds latency) override {
    if (metrics_) metrics_->sourceLookup("dns", lookupOutcome(status), latency);
  }
  void onRefresh(const std::string&, const dns::RefreshUpdate&) override {}

 private:
  ControllerMetrics* metrics_;
};

}  // namespace

Controller::Controller(Deps deps, ControllerOptions options)
    : deps_(deps),
      options_(std::move(options)),
      queue_(deps.clock,
             [&] {
               auto queue = options_.queue;
               queue.resyncPerSecond = options_.resyncMaxPerSecond;
               return queue;
             }()),
      store_(options_.manifests, &api::loadManifests, options_.manifestStore),
      dnsObserver_(std::make_unique<DnsMetricsObserver>(deps.metrics)),
      dnsWatcher_(
          deps.resolver, deps.clock, deps.random,
          [this](const std::string&, const std::vector<std::string>& keys) {
            for (const auto& key : keys) queue_.add(key);
          },
          options_.dnsWatcher, &deps.log, dnsObserver_.get()),
      inventory_(
          deps.ec2 && deps.autoScaling
              ? std::make_unique<InstanceInventory>(
                    InstanceInventory::Deps{*deps.ec2, *deps.autoScaling, deps.clock, deps.log,
                                            [this](const std::vector<std::string>& keys) {
                                              for (const auto& key : keys) queue_.add(key);
                                            }},
                    options_.instances)
              : nullptr),
      eventReader_(
          inventory_ && deps.eventQueue && !options_.events.queueUrl.empty()
              ? std::make_unique<EventQueueReader>(
                    EventQueueReader::Deps{*deps.eventQueue,
                                           [this](const std::vector<InstanceEvent>& events) {
                                             return inventory_->refreshInstances(events);
                                           },
                                           deps.log, deps.interruptEventQueue},
                    options_.events)
              : nullptr),
      sources_(dnsWatcher_, inventory_.get()),
      observed_(deps.clock,
                ObservedCache::Options{options_.reconciler.resyncPeriod, std::chrono::minutes(2)}),
      reconciler_(
          Reconciler::Deps{[this](const std::string& key) { return desired(key); }, sources_,
                           deps.api, observed_, status_, deps.clock, deps.log, deps.metrics,
                           [this](const std::string& arn) { return bindingsNaming(arn); },
                           [this] { return store_.settled(); }, deps.observer, deps.writeGate,
                           deps.accounts},
          options_.reconciler) {
  if (deps.route53) {
    RecordReconciler::Options recordOptions;
    recordOptions.controllerId = options_.reconciler.controllerId;
    recordOptions.dryRun = options_.reconciler.dryRun;
    recordOptions.resyncPeriod = options_.reconciler.resyncPeriod;
    recordReconciler_ = std::make_unique<RecordReconciler>(
        RecordReconciler::Deps{
            [this](const std::string& key) -> std::optional<api::DnsRecordBinding> {
              auto stored = store_.getDnsRecordBinding(key);
              if (!stored) return std::nullopt;
              return *stored->binding;
            },
            *deps.route53, inventory_.get(), status_, deps.clock, deps.log,
            [this](const std::string& key) {
              return store_.settled() && !store_.getDnsRecordBinding(key);
            },
            deps.writeGate,
            [this](const std::string& zoneId) {
              std::vector<std::string> keys;
              for (const auto& [key, stored] : store_.dnsRecordBindings()) {
                const auto& spec = stored.binding->spec;
                if (spec.hostedZoneId == zoneId || spec.reverseHostedZoneId == zoneId) {
                  keys.push_back(recordKey(key));
                }
              }
              return keys;
            }},
        recordOptions);
  }
}

Controller::~Controller() { stop(std::chrono::seconds(0)); }

std::optional<DesiredBinding> Controller::desired(const std::string& key) const {
  auto stored = store_.get(key);
  if (!stored) return std::nullopt;
  return DesiredBinding{stored->binding, stored->stale, stored->staleReason(),
                        stored->pendingDeletionSince.has_value()};
}

std::vector<std::string> Controller::bindingsNaming(const std::string& arn) const {
  return store_.targetGroupBindingKeysFor(arn);
}

core::Result<void> Controller::start() {
  if (started_) return {};
  started_ = true;
  heartbeat_ = deps_.clock.now().time_since_epoch().count();
  dnsWatcher_.start();
  if (inventory_) inventory_->start();
  if (eventReader_) eventReader_->start();
  manifestWatcher_ = std::make_unique<ManifestWatcher>(
      store_, deps_.clock, deps_.log, [this](const ManifestDiff& diff) { onManifestChange(diff); },
      options_.manifestWatcher);
  if (auto started = manifestWatcher_->start(); !started) return started;
  const int workers = std::max(1, options_.workers);
  for (int i = 0; i < workers; ++i) workers_.emplace_back([this] { workerLoop(); });
  ticker_ = std::thread([this] { tickLoop(); });
  deps_.log.log(LogLevel::kInfo, "controller started",
                {core::field("workers", static_cast<long long>(workers)),
                 core::field("dryRun", options_.reconciler.dryRun ? "true" : "false"),
                 core::field("controllerId", options_.reconciler.controllerId)});
  return {};
}

std::string describeRunning(const std::vector<RunningReconcile>& running) {
  std::string out;
  for (const auto& r : running) {
    if (!out.empty()) out += ", ";
    const auto tenths = std::chrono::duration_cast<std::chrono::milliseconds>(r.age).count() / 100;
    out += r.key + " (" + std::to_string(tenths / 10) + "." + std::to_string(tenths % 10) + "s)";
  }
  return out;
}

bool Controller::stop(std::chrono::nanoseconds drain, const std::function<void()>& abandon) {
  {
    std::lock_guard lock(tickMu_);
    if (stopping_ || !started_) {
      stopping_ = true;
      return true;
    }
    stopping_ = true;
  }
  tickCv_.notify_all();
  // No new work from the sources first, then let what is in flight finish its writes.
  if (manifestWatcher_) manifestWatcher_->stop();
  dnsWatcher_.stop();
  // No new rounds or events; a round or event refresh in flight ends with the in-flight AWS
  // requests (abandon cancels them), so they are joined after the drain below.
  if (eventReader_) eventReader_->requestStop();
  if (inventory_) inventory_->requestStop();
  const bool drained = queue_.shutDownWithDrain(drain);
  if (!drained) {
    deps_.log.log(LogLevel::kWarn,
                  "shutdown grace is over: abandoning the reconciles still running",
                  {core::field("running", describeRunning(running()))});
    if (abandon) abandon();
  }
  for (auto& w : workers_) w.join();
  workers_.clear();
  if (eventReader_) eventReader_->stop();
  if (inventory_) inventory_->stop();
  if (ticker_.joinable()) ticker_.join();
  deps_.log.log(LogLevel::kInfo, "controller stopped",
                {core::field("drained", drained ? "true" : "false")});
  return drained;
}

void Controller::resyncAll() {
  std::set<std::string> keys;
  if (recordReconciler_) {
    for (const auto& [key, stored] : store_.dnsRecordBindings()) keys.insert(recordKey(key));
    for (const auto& key : recordReconciler_->knownKeys()) keys.insert(key);
  }
  for (const auto& [key, stored] : store_.targetGroupBindings()) {
    observed_.expire(stored.binding->spec.targetGroupArn.text);
    keys.insert(key);
  }
  for (const auto& key : reconciler_.knownKeys()) keys.insert(key);  // deletions in progress
  for (const auto& key : keys) queue_.add(key);
}

void Controller::onManifestChange(const ManifestDiff& diff) {
  const auto& changes = diff.targetGroupBindings;
  for (const auto* keys : {&changes.added, &changes.updated}) {
    for (const auto& key : *keys) {
      if (auto stored = store_.get(key)) {
        sources_.track(*stored->binding);
        if (deps_.metrics) {
          deps_.metrics->registerBinding(stored->binding->metadata.ns,
                                         stored->binding->metadata.name);
        }
      }
      queue_.add(key);
    }
  }
  for (const auto& key : changes.removed) queue_.add(key);  // the reconciler applies deletion
  if (diff.errorsChanged) {
    for (const auto& error : diff.errors) {
      deps_.log.log(LogLevel::kWarn, "invalid manifest", {core::field("error", error.toString())});
    }
    if (diff.errors.empty()) deps_.log.log(LogLevel::kInfo, "manifests valid again", {});
  }
  const auto& records = diff.dnsRecordBindings;
  if (recordReconciler_) {
    for (const auto* keys : {&records.added, &records.updated}) {
      for (const auto& key : *keys) {
        if (auto stored = store_.getDnsRecordBinding(key); stored && inventory_) {
          inventory_->subscribe(recordKey(key), stored->binding->spec.source);
        }
        queue_.add(recordKey(key));
      }
    }
    for (const auto& key : records.removed) queue_.add(recordKey(key));
  } else {
    for (const auto& key : records.added) {
      deps_.log.log(LogLevel::kWarn,
                    "DNSRecordBinding is validated but not reconciled: no Route 53 client",
                    {core::field("binding", key)});
    }
  }
  const auto stats = store_.stats();
  if (deps_.metrics) {
    deps_.metrics->setManifests(static_cast<int>(stats.targetGroupBindings),
                                static_cast<int>(stats.filesWithErrors));
  }
  deps_.log.log(
      LogLevel::kInfo, "manifests loaded",
      {core::field("targetGroupBindings", static_cast<long long>(stats.targetGroupBindings)),
       core::field("added", static_cast<long long>(changes.added.size())),
       core::field("updated", static_cast<long long>(changes.updated.size())),
       core::field("removed", static_cast<long long>(changes.removed.size())),
       core::field("errors", static_cast<long long>(stats.errors))});
}

void Controller::workerLoop() {
  core::nameThisThread("eb-reconcile");
  while (auto key = queue_.get()) {
    const auto start = deps_.clock.now();
    {
      std::lock_guard lock(runningMu_);
      running_[*key] = start;
    }
    auto result = isRecordKey(*key)
                      ? (recordReconciler_ ? recordReconciler_->reconcile(*key)
                                           : core::Result<ReconcileResult>(ReconcileResult{}))
                      : reconciler_.reconcile(*key);
    {
      std::lock_guard lock(runningMu_);
      running_.erase(*key);
    }
    ReconcileOutcome outcome = ReconcileOutcome::kSuccess;
    if (!result) {
      outcome = ReconcileOutcome::kError;
      queue_.addRateLimited(*key);
    } else {
      queue_.forget(*key);
      for (const auto& other : result->wake) queue_.add(other);
      if (result->requeueAfter) queue_.addAfter(*key, *result->requeueAfter);
      if (result->recheckAfter) queue_.addAfter(*key, *result->recheckAfter, Priority::kResync);
      if (result->requeueAfter || result->recheckAfter) outcome = ReconcileOutcome::kRequeueAfter;
    }
    queue_.done(*key);
    if (deps_.metrics && isRecordKey(*key)) {
      if (auto status = status_.get(*key)) {
        deps_.metrics->observeRecordStatus(*status);
      } else {
        const auto [ns, name] = splitKey(bindingKeyOfRecordKey(*key));
        deps_.metrics->forgetRecordBinding(ns, name);
      }
    } else if (deps_.metrics && store_.get(*key)) {
      const auto [ns, name] = splitKey(*key);
      deps_.metrics->reconcileFinished(ns, name, outcome, deps_.clock.now() - start);
      if (auto status = status_.get(*key)) deps_.metrics->observeStatus(*status);
    }
  }
}

void Controller::tickLoop() {
  core::nameThisThread("eb-resync-tick");
  ResyncPacer pacer(
      {options_.reconciler.resyncPeriod, options_.resyncMaxPerSecond * kRoundShareOfResyncBudget},
      deps_.clock.now());
  auto lastRoundLength = options_.reconciler.resyncPeriod;
  std::unique_lock lock(tickMu_);
  while (!stopping_) {
    tickCv_.wait_for(lock, kTick, [this] { return stopping_; });
    if (stopping_) break;
    const auto now = deps_.clock.now();
    const auto stats = queue_.stats();
    if (stats.longestRunningSeconds < std::chrono::duration<double>(kStuckReconcile).count()) {
      heartbeat_ = now.time_since_epoch().count();
    }
    if (deps_.metrics) {
      deps_.metrics->observeWorkQueue(stats);
      if (inventory_) deps_.metrics->observeInstanceInventory(inventory_->stats());
      if (eventReader_) deps_.metrics->observeEventQueue(eventReader_->stats());
    }
    // Level-triggered safety net: look at every binding again once per round, each with one
    // fresh DescribeTargetHealth, so drift made by others shows up within about a round. Expiring
    // the cached read is needed: a group read a little later in the previous round than in
    // this one would still be fresh by age. Resync keys queue behind event keys. The round
    // waits while the resync lane holds a backlog (post-write re-checks after a cold start),
    // and skips bindings that read their group within half a round (those re-checks).
    const auto skippedBefore = pacer.skippedFresh();
    const auto due = pacer.due(
        now,
        [this] {
          std::vector<std::string> keys;
          for (const auto& [key, stored] : store_.targetGroupBindings()) keys.push_back(key);
          if (recordReconciler_) {
            for (const auto& [key, stored] : store_.dnsRecordBindings()) {
              keys.push_back(recordKey(key));
            }
          }
          return keys;
        },
        stats.resyncDepth,
        [this](const std::string& key) -> std::optional<core::MonoTime> {
          if (isRecordKey(key)) return std::nullopt;
          const auto stored = store_.get(key);
          if (!stored) return std::nullopt;
          return reconciler_.groupReadAt(key, stored->binding->spec.targetGroupArn.text);
        });
    if (deps_.metrics && pacer.skippedFresh() > skippedBefore) {
      deps_.metrics->resyncSkipped(pacer.skippedFresh() - skippedBefore);
    }
    for (const auto& key : due) {
      if (isRecordKey(key)) {
        if (store_.getDnsRecordBinding(bindingKeyOfRecordKey(key))) {
          queue_.add(key, Priority::kResync);
        }
        continue;
      }
      auto stored = store_.get(key);
      if (!stored) continue;  // deleted during the round
      observed_.expire(stored->binding->spec.targetGroupArn.text);
      queue_.add(key, Priority::kResync);
    }
    // Logged when the round starts or stops being stretched, or its length moves by a tenth:
    // not for every binding added to a stretched round.
    const auto length = pacer.roundLength();
    const bool stretched = length > options_.reconciler.resyncPeriod;
    const bool wasStretched = lastRoundLength > options_.reconciler.resyncPeriod;
    if (stretched != wasStretched ||
        (stretched && (length > lastRoundLength + lastRoundLength / 10 ||
                       length < lastRoundLength - lastRoundLength / 10))) {
      lastRoundLength = length;
      deps_.log.log(
          stretched ? LogLevel::kWarn : LogLevel::kInfo, "resync round length changed",
          {core::field(
               "seconds",
               static_cast<long long>(
                   std::chrono::duration_cast<std::chrono::seconds>(lastRoundLength).count())),
           core::field("bindings", static_cast<long long>(pacer.roundSize())),
           core::field("reason", stretched ? "more bindings than --resync-period allows within "
                                             "the resync's share of the DescribeTargetHealth rate "
                                             "limit"
                                           : "back to --resync-period")});
    }
  }
}

ControllerReadiness Controller::readiness() const {
  ControllerReadiness out;
  out.manifestsLoaded = store_.loaded();
  for (const auto& [key, stored] : store_.targetGroupBindings()) {
    auto s = status_.get(key);
    const bool settled =
        s &&
        (s->lastSyncTime || !s->lastError.empty() ||
         (s->condition("Conflict") && s->condition("Conflict")->status == ConditionStatus::kTrue));
    if (!settled) out.pendingBindings.push_back(key);
  }
  return out;
}

std::vector<RunningReconcile> Controller::running() const {
  const auto now = deps_.clock.now();
  std::vector<RunningReconcile> out;
  {
    std::lock_guard lock(runningMu_);
    for (const auto& [key, started] : running_) out.push_back({key, now - started});
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.age > b.age; });
  return out;
}

core::MonoTime Controller::lastHeartbeat() const {
  return core::MonoTime(core::MonoTime::duration(heartbeat_.load()));
}

}  // namespace endpointbinder::runtime
