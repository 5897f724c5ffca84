#include "controller/runtime/metrics.h"

#include <prometheus/text_serializer.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>
#include <system_error>
#include <utility>

namespace endpointbinder::runtime {
namespace {

using prometheus::Counter;
using prometheus::Family;
using prometheus::Gauge;
using prometheus::Histogram;
using prometheus::Labels;

constexpr std::array kReconcileOutcomes = {ReconcileOutcome::kSuccess, ReconcileOutcome::kError,
                                           ReconcileOutcome::kRequeue,
                                           ReconcileOutcome::kRequeueAfter};
constexpr std::array kPlanOperations = {PlanOperation::kRegister, PlanOperation::kDeregister};
constexpr std::array kConditionStatuses = {ConditionStatus::kTrue, ConditionStatus::kFalse,
                                           ConditionStatus::kUnknown};

// Reconciles take milliseconds when nothing changes and seconds when they write.
const Histogram::BucketBoundaries kReconcileBuckets = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                                       1,     2.5,  5,     10,   30,  60};
// DNS answers come from a cache in microseconds or from a server in milliseconds.
const Histogram::BucketBoundaries kLookupBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                    0.1,    0.25,  0.5,    1,     2.5,  5,     10};
// Whole AWS calls, retries and rate-limit waits included.
const Histogram::BucketBoundaries kAwsBuckets = {0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                                 1,    2.5,   5,    10,  30,   60};

// kube-state-metrics spells condition statuses in lower case.
const char* conditionLabel(ConditionStatus status) {
  switch (status) {
    case ConditionStatus::kTrue:
      return "true";
    case ConditionStatus::kFalse:
      return "false";
    case ConditionStatus::kUnknown:
      return "unknown";
  }
  return "unknown";
}

Family<Counter>& counterFamily(prometheus::Registry& registry, const std::string& name,
                               const std::string& help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(registry);
}
Family<Gauge>& gaugeFamily(prometheus::Registry& registry, const std::string& name,
                           const std::string& help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(registry);
}
Family<Histogram>& histogramFamily(prometheus::Registry& registry, const std::string& name,
                                   const std::string& help) {
  return prometheus::BuildHistogram().Name(name).Help(help).Register(registry);
}

Labels bindingLabels(const std::string& ns, const std::string& name,
                     std::initializer_list<std::pair<const std::string, std::string>> extra = {}) {
  Labels labels{{"namespace", ns}, {"name", name}};
  labels.insert(extra.begin(), extra.end());
  return labels;
}

double wallSeconds(core::WallTime time) {
  return std::chrono::duration<double>(time.time_since_epoch()).count();
}

}  // namespace

const char* reconcileOutcomeName(ReconcileOutcome outcome) {
  switch (outcome) {
    case ReconcileOutcome::kSuccess:
      return "success";
    case ReconcileOutcome::kError:
      return "error";
    case ReconcileOutcome::kRequeue:
      return "requeue";
    case ReconcileOutcome::kRequeueAfter:
      return "requeue_after";
  }
  return "error";
}

const char* planOperationName(PlanOperation operation) {
  switch (operation) {
    case PlanOperation::kRegister:
      return "register";
    case PlanOperation::kDeregister:
      return "deregister";
  }
  return "register";
}

const char* lookupOutcomeName(LookupOutcome outcome) {
  switch (outcome) {
    case LookupOutcome::kSuccess:
      return "success";
    case LookupOutcome::kEmpty:
      return "empty";
    case LookupOutcome::kNotFound:
      return "not_found";
    case LookupOutcome::kTimeout:
      return "timeout";
    case LookupOutcome::kError:
      return "error";
  }
  return "error";
}

// The series one binding owns, so forgetBinding() can remove exactly those.
struct ControllerMetrics::BindingSeries {
  std::string ns;
  std::string name;
  std::vector<std::function<void()>> removers;  // one per series created
  std::map<std::string, Gauge*, std::less<>> held;
};

ControllerMetrics::ControllerMetrics(std::shared_ptr<prometheus::Registry> registry,
                                     const ControllerMetricsOptions& options)
    : registry_(std::move(registry)),
      reconcileTotal_(counterFamily(*registry_, "endpointbinder_reconcile_total",
                                    "Reconciles of a binding, by result (success, error, "
                                    "requeue, requeue_after).")),
      reconcileErrors_(counterFamily(*registry_, "endpointbinder_reconcile_errors_total",
                                     "Reconciles of a binding that returned an error.")),
      reconcileDuration_(histogramFamily(*registry_, "endpointbinder_reconcile_duration_seconds",
                                         "Time taken by one reconcile, every binding.")),
      targets_(gaugeFamily(*registry_, "endpointbinder_binding_targets",
                           "Targets of a binding by state: desired (listed by the source), "
                           "registered, healthy, unhealthy, draining, initial.")),
      drift_(gaugeFamily(*registry_, "endpointbinder_binding_drift_targets",
                         "Difference between source and target group: missing (listed, not "
                         "registered) and unexpected (registered, not listed).")),
      planOperations_(counterFamily(*registry_, "endpointbinder_plan_operations_total",
                                    "Target registrations and deregistrations written to the "
                                    "target group.")),
      heldOperations_(gaugeFamily(*registry_, "endpointbinder_plan_held_operations",
                                  "Changes the latest plan held back, by reason.")),
      lastSync_(gaugeFamily(*registry_,
                            "endpointbinder_binding_last_successful_sync_timestamp_seconds",
                            "Unix time of the binding's last successful sync.")),
      condition_(gaugeFamily(*registry_, "endpointbinder_binding_condition",
                             "Binding condition status: 1 for the current status of each "
                             "condition, 0 for the others.")),
      sourceLookups_(counterFamily(*registry_, "endpointbinder_source_lookups_total",
                                   "Source lookups (DNS queries, EC2 describes, ...) by source "
                                   "kind and outcome.")),
      sourceLookupDuration_(histogramFamily(*registry_,
                                            "endpointbinder_source_lookup_duration_seconds",
                                            "Time taken by one source lookup, by source kind.")),
      awsRequests_(counterFamily(*registry_, "endpointbinder_aws_requests_total",
                                 "AWS API calls by service, operation and final outcome, after "
                                 "retries.")),
      awsRequestDuration_(histogramFamily(*registry_, "endpointbinder_aws_request_duration_seconds",
                                          "Time taken by one AWS API call, retries and "
                                          "rate-limit waits included.")),
      awsThrottles_(counterFamily(*registry_, "endpointbinder_aws_throttles_total",
                                  "AWS API attempts the service throttled, by operation.")),
      awsRetries_(counterFamily(*registry_, "endpointbinder_aws_retries_total",
                                "AWS API attempts retried, by operation.")),
      queueDepth_(gaugeFamily(*registry_, "endpointbinder_workqueue_depth",
                              "Binding keys waiting in the work queue.")
                      .Add({})),
      queueAdds_(counterFamily(*registry_, "endpointbinder_workqueue_adds_total",
                               "Binding keys added to the work queue.")
                     .Add({})),
      queueRetries_(counterFamily(*registry_, "endpointbinder_workqueue_retries_total",
                                  "Binding keys requeued with backoff after an error.")
                        .Add({})),
      queueLongestRunning_(gaugeFamily(*registry_,
                                       "endpointbinder_workqueue_longest_running_processor_seconds",
                                       "Age of the oldest reconcile in flight.")
                               .Add({})),
      queueUnfinishedWork_(gaugeFamily(*registry_,
                                       "endpointbinder_workqueue_unfinished_work_seconds",
                                       "Sum of the ages of every reconcile in flight.")
                               .Add({})),
      manifestsLoaded_(gaugeFamily(*registry_, "endpointbinder_manifests_loaded",
                                   "Bindings loaded from valid manifests.")
                           .Add({})),
      manifestErrors_(gaugeFamily(*registry_, "endpointbinder_manifest_errors",
                                  "Manifest files that currently fail to decode or validate.")
                          .Add({})) {
  gaugeFamily(*registry_, "endpointbinder_build_info",
              "Build information: version and commit of the running binary. Always 1.")
      .Add({{"version", options.version}, {"commit", options.commit}})
      .Set(1);
  reconcileDuration_.Add({}, kReconcileBuckets);
}

ControllerMetrics::~ControllerMetrics() = default;

ControllerMetrics::BindingSeries& ControllerMetrics::seriesLocked(std::string_view ns,
                                                                  std::string_view name) {
  std::string key;
  key.reserve(ns.size() + name.size() + 1);
  key.append(ns).append("/").append(name);
  auto it = bindings_.find(key);
  if (it != bindings_.end()) return *it->second;

  auto series = std::make_unique<BindingSeries>();
  series->ns = std::string(ns);
  series->name = std::string(name);
  auto& ref = *series;
  bindings_.emplace(std::move(key), std::move(series));
  for (auto outcome : kReconcileOutcomes) {
    bindingMetricLocked(
        ref, reconcileTotal_,
        bindingLabels(ref.ns, ref.name, {{"result", reconcileOutcomeName(outcome)}}));
  }
  bindingMetricLocked(ref, reconcileErrors_, bindingLabels(ref.ns, ref.name));
  for (auto operation : kPlanOperations) {
    bindingMetricLocked(
        ref, planOperations_,
        bindingLabels(ref.ns, ref.name, {{"operation", planOperationName(operation)}}));
  }
  return ref;
}

template <typename T>
T& ControllerMetrics::bindingMetricLocked(BindingSeries& series, Family<T>& family, Labels labels) {
  const bool existed = family.Has(labels);
  T& metric = family.Add(labels);
  if (!existed) series.removers.emplace_back([&family, &metric] { family.Remove(&metric); });
  return metric;
}

void ControllerMetrics::registerBinding(std::string_view ns, std::string_view name) {
  std::lock_guard lock(mu_);
  seriesLocked(ns, name);
}

void ControllerMetrics::reconcileFinished(std::string_view ns, std::string_view name,
                                          ReconcileOutcome outcome,
                                          std::chrono::duration<double> elapsed) {
  {
    std::lock_guard lock(mu_);
    auto& series = seriesLocked(ns, name);
    bindingMetricLocked(
        series, reconcileTotal_,
        bindingLabels(series.ns, series.name, {{"result", reconcileOutcomeName(outcome)}}))
        .Increment();
    if (outcome == ReconcileOutcome::kError) {
      bindingMetricLocked(series, reconcileErrors_, bindingLabels(series.ns, series.name))
          .Increment();
    }
  }
  reconcileDuration_.Add({}, kReconcileBuckets).Observe(elapsed.count());
}

void ControllerMetrics::setTargetsLocked(BindingSeries& series, const TargetCounts& counts) {
  const std::array<std::pair<const char*, int>, 6> states = {{
      {"desired", counts.desired},
      {"registered", counts.registered},
      {"healthy", counts.healthy},
      {"unhealthy", counts.unhealthy},
      {"draining", counts.draining},
      {"initial", counts.initial},
  }};
  for (const auto& [state, n] : states) {
    bindingMetricLocked(series, targets_, bindingLabels(series.ns, series.name, {{"state", state}}))
        .Set(n);
  }
  bindingMetricLocked(series, drift_, bindingLabels(series.ns, series.name, {{"type", "missing"}}))
      .Set(counts.missing);
  bindingMetricLocked(series, drift_,
                      bindingLabels(series.ns, series.name, {{"type", "unexpected"}}))
      .Set(counts.unexpected);
}

void ControllerMetrics::setTargets(std::string_view ns, std::string_view name,
                                   const TargetCounts& counts) {
  std::lock_guard lock(mu_);
  setTargetsLocked(seriesLocked(ns, name), counts);
}

void ControllerMetrics::setDrift(std::string_view ns, std::string_view name, int missing,
                                 int unexpected) {
  std::lock_guard lock(mu_);
  auto& series = seriesLocked(ns, name);
  bindingMetricLocked(series, drift_, bindingLabels(series.ns, series.name, {{"type", "missing"}}))
      .Set(missing);
  bindingMetricLocked(series, drift_,
                      bindingLabels(series.ns, series.name, {{"type", "unexpected"}}))
      .Set(unexpected);
}

void ControllerMetrics::planOperations(std::string_view ns, std::string_view name,
                                       PlanOperation operation, int n) {
  if (n <= 0) return;
  std::lock_guard lock(mu_);
  auto& series = seriesLocked(ns, name);
  bindingMetricLocked(
      series, planOperations_,
      bindingLabels(series.ns, series.name, {{"operation", planOperationName(operation)}}))
      .Increment(n);
}

void ControllerMetrics::heldOperations(std::string_view ns, std::string_view name,
                                       std::string_view reason, int n) {
  std::lock_guard lock(mu_);
  auto& series = seriesLocked(ns, name);
  auto it = series.held.find(reason);
  if (it == series.held.end()) {
    auto& gauge = bindingMetricLocked(
        series, heldOperations_,
        bindingLabels(series.ns, series.name, {{"reason", std::string(reason)}}));
    it = series.held.emplace(std::string(reason), &gauge).first;
  }
  it->second->Set(n);
}

void ControllerMetrics::setHeldOperations(std::string_view ns, std::string_view name,
                                          const std::map<std::string, int>& countsByReason) {
  std::lock_guard lock(mu_);
  auto& series = seriesLocked(ns, name);
  for (auto& [reason, gauge] : series.held) {
    if (!countsByReason.contains(reason)) gauge->Set(0);
  }
  for (const auto& [reason, n] : countsByReason) {
    auto it = series.held.find(reason);
    if (it == series.held.end()) {
      auto& gauge = bindingMetricLocked(
          series, heldOperations_, bindingLabels(series.ns, series.name, {{"reason", reason}}));
      it = series.held.emplace(reason, &gauge).first;
    }
    it->second->Set(n);
  }
}

void ControllerMetrics::setLastSuccessfulSync(std::string_view ns, std::string_view name,
                                              core::WallTime time) {
  setLastSuccessfulSync(ns, name, wallSeconds(time));
}

void ControllerMetrics::setLastSuccessfulSync(std::string_view ns, std::string_view name,
                                              double unixSeconds) {
  std::lock_guard lock(mu_);
  auto& series = seriesLocked(ns, name);
  bindingMetricLocked(series, lastSync_, bindingLabels(series.ns, series.name)).Set(unixSeconds);
}

void ControllerMetrics::setConditionLocked(BindingSeries& series, std::string_view type,
                                           ConditionStatus status) {
  const std::string condition(type);
  for (auto candidate : kConditionStatuses) {
    bindingMetricLocked(
        series, condition_,
        bindingLabels(series.ns, series.name,
                      {{"condition", condition}, {"status", conditionLabel(candidate)}}))
        .Set(candidate == status ? 1 : 0);
  }
}

void ControllerMetrics::setCondition(std::string_view ns, std::string_view name,
                                     std::string_view type, ConditionStatus status) {
  std::lock_guard lock(mu_);
  setConditionLocked(seriesLocked(ns, name), type, status);
}

void ControllerMetrics::observeStatus(const BindingStatus& status) {
  std::lock_guard lock(mu_);
  auto& series = seriesLocked(status.ns, status.name);
  for (const auto& condition : status.conditions) {
    setConditionLocked(series, condition.type, condition.status);
  }
  setTargetsLocked(series, status.counts);
  if (status.lastSyncTime) {
    bindingMetricLocked(series, lastSync_, bindingLabels(series.ns, series.name))
        .Set(wallSeconds(*status.lastSyncTime));
  }
}

void ControllerMetrics::recordSync(std::string_view ns, std::string_view name,
                                   const TargetCounts& counts, const core::Plan& plan, bool applied,
                                   core::WallTime syncTime) {
  std::map<std::string, int> held;
  for (const auto& h : plan.held) ++held[core::holdReasonName(h.reason)];
  setHeldOperations(ns, name, held);
  if (applied) {
    planOperations(ns, name, PlanOperation::kRegister, static_cast<int>(plan.toRegister.size()));
    planOperations(ns, name, PlanOperation::kDeregister,
                   static_cast<int>(plan.toDeregister.size()));
  }
  std::lock_guard lock(mu_);
  auto& series = seriesLocked(ns, name);
  setTargetsLocked(series, counts);
  bindingMetricLocked(series, lastSync_, bindingLabels(series.ns, series.name))
      .Set(wallSeconds(syncTime));
}

void ControllerMetrics::recordConflict(std::string_view ns, std::string_view name) {
  std::lock_guard lock(mu_);
  auto& series = seriesLocked(ns, name);
  setConditionLocked(series, "Conflict", ConditionStatus::kTrue);
  setConditionLocked(series, "Synced", ConditionStatus::kFalse);
  setConditionLocked(series, "Ready", ConditionStatus::kFalse);
}

void ControllerMetrics::forgetBinding(std::string_view ns, std::string_view name) {
  std::lock_guard lock(mu_);
  std::string key = std::string(ns) + "/" + std::string(name);
  auto it = bindings_.find(key);
  if (it == bindings_.end()) return;
  for (auto& remove : it->second->removers) remove();
  bindings_.erase(it);
}

void ControllerMetrics::sourceLookup(std::string_view kind, LookupOutcome outcome,
                                     std::chrono::duration<double> elapsed) {
  const std::string kindLabel(kind);
  sourceLookups_.Add({{"kind", kindLabel}, {"outcome", lookupOutcomeName(outcome)}}).Increment();
  sourceLookupDuration_.Add({{"kind", kindLabel}}, kLookupBuckets).Observe(elapsed.count());
}

void ControllerMetrics::awsRequest(std::string_view service, std::string_view operation,
                                   aws::CallOutcome outcome,
                                   std::chrono::duration<double> elapsed) {
  const std::string serviceLabel(service);
  const std::string operationLabel(operation);
  awsRequests_
      .Add({{"service", serviceLabel},
            {"operation", operationLabel},
            {"outcome", aws::callOutcomeName(outcome)}})
      .Increment();
  awsRequestDuration_.Add({{"service", serviceLabel}, {"operation", operationLabel}}, kAwsBuckets)
      .Observe(elapsed.count());
}

void ControllerMetrics::awsThrottle(std::string_view operation) {
  awsThrottles_.Add({{"operation", std::string(operation)}}).Increment();
}

void ControllerMetrics::awsRetry(std::string_view operation, int n) {
  if (n <= 0) return;
  awsRetries_.Add({{"operation", std::string(operation)}}).Increment(n);
}

void ControllerMetrics::onAttempt(const aws::AttemptRecord& attempt) {
  if (attempt.outcome == aws::CallOutcome::kThrottled) awsThrottle(attempt.operation);
}

void ControllerMetrics::onCall(const aws::CallRecord& call) {
  awsRequest(call.service, call.operation, call.outcome, call.latency);
  awsRetry(call.operation, call.retries());
}

void ControllerMetrics::setQueueDepth(std::size_t depth) {
  queueDepth_.Set(static_cast<double>(depth));
}

void ControllerMetrics::queueAdd() { queueAdds_.Increment(); }

void ControllerMetrics::queueRetry() { queueRetries_.Increment(); }

void ControllerMetrics::observeWorkQueue(const WorkQueueStats& stats) {
  std::lock_guard lock(mu_);
  if (stats.adds > lastQueueStats_.adds) {
    queueAdds_.Increment(static_cast<double>(stats.adds - lastQueueStats_.adds));
  }
  if (stats.retries > lastQueueStats_.retries) {
    queueRetries_.Increment(static_cast<double>(stats.retries - lastQueueStats_.retries));
  }
  queueDepth_.Set(static_cast<double>(stats.depth));
  queueLongestRunning_.Set(stats.longestRunningSeconds);
  queueUnfinishedWork_.Set(stats.unfinishedWorkSeconds);
  lastQueueStats_ = stats;
}

void ControllerMetrics::setManifests(int loaded, int errors) {
  manifestsLoaded_.Set(loaded);
  manifestErrors_.Set(errors);
}

// --- ProcessCollector.

namespace {

std::optional<std::string> readFile(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

prometheus::MetricFamily singleValue(const char* name, const char* help,
                                     prometheus::MetricType type, double value) {
  prometheus::MetricFamily family;
  family.name = name;
  family.help = help;
  family.type = type;
  prometheus::ClientMetric metric;
  if (type == prometheus::MetricType::Counter) {
    metric.counter.value = value;
  } else {
    metric.gauge.value = value;
  }
  family.metric.push_back(metric);
  return family;
}

// The fields of /proc/<pid>/stat after "(comm)", which may itself hold spaces and parentheses.
// fields[0] is field 3 of proc(5) (state).
std::vector<std::string> statFields(const std::string& stat) {
  std::vector<std::string> fields;
  auto close = stat.rfind(')');
  if (close == std::string::npos) return fields;
  std::istringstream in(stat.substr(close + 1));
  for (std::string field; in >> field;) fields.push_back(field);
  return fields;
}

std::optional<double> number(const std::vector<std::string>& fields, std::size_t procField) {
  const std::size_t index = procField - 3;
  if (index >= fields.size()) return std::nullopt;
  try {
    return std::stod(fields[index]);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

}  // namespace

ProcessCollector::ProcessCollector(Options options) : options_(std::move(options)) {
  if (options_.clockTicksPerSecond <= 0) options_.clockTicksPerSecond = sysconf(_SC_CLK_TCK);
  if (options_.pageSizeBytes <= 0) options_.pageSizeBytes = sysconf(_SC_PAGESIZE);
}

std::vector<prometheus::MetricFamily> ProcessCollector::Collect() const {
  using prometheus::MetricType;
  std::vector<prometheus::MetricFamily> out;
  const auto processDir = options_.procRoot / options_.pid;
  const auto ticks = static_cast<double>(options_.clockTicksPerSecond);

  std::optional<double> bootTime;
  if (auto stat = readFile(options_.procRoot / "stat")) {
    std::istringstream in(*stat);
    for (std::string line; std::getline(in, line);) {
      if (line.starts_with("btime ")) {
        try {
          bootTime = std::stod(line.substr(6));
        } catch (const std::exception&) {
        }
      }
    }
  }

  if (auto stat = readFile(processDir / "stat")) {
    const auto fields = statFields(*stat);
    auto utime = number(fields, 14);
    auto stime = number(fields, 15);
    if (utime && stime) {
      out.push_back(singleValue("process_cpu_seconds_total",
                                "Total user and system CPU time spent in seconds.",
                                MetricType::Counter, (*utime + *stime) / ticks));
    }
    if (auto vsize = number(fields, 23)) {
      out.push_back(singleValue("process_virtual_memory_bytes", "Virtual memory size in bytes.",
                                MetricType::Gauge, *vsize));
    }
    if (auto rss = number(fields, 24)) {
      out.push_back(singleValue("process_resident_memory_bytes", "Resident memory size in bytes.",
                                MetricType::Gauge,
                                *rss * static_cast<double>(options_.pageSizeBytes)));
    }
    auto start = number(fields, 22);
    if (start && bootTime) {
      out.push_back(singleValue("process_start_time_seconds",
                                "Start time of the process since unix epoch in seconds.",
                                MetricType::Gauge, *bootTime + *start / ticks));
    }
  }

  std::error_code error;
  std::filesystem::directory_iterator fds(processDir / "fd", error);
  if (!error) {
    double open = 0;
    for (auto end = std::filesystem::directory_iterator(); fds != end; fds.increment(error)) {
      if (error) break;
      ++open;
    }
    if (!error) {
      out.push_back(singleValue("process_open_fds", "Number of open file descriptors.",
                                MetricType::Gauge, open));
    }
  }

  if (auto limits = readFile(processDir / "limits")) {
    std::istringstream in(*limits);
    for (std::string line; std::getline(in, line);) {
      if (!line.starts_with("Max open files")) continue;
      std::istringstream values(line.substr(std::string_view("Max open files").size()));
      std::string soft;
      values >> soft;
      try {
        out.push_back(singleValue("process_max_fds", "Maximum number of open file descriptors.",
                                  MetricType::Gauge, std::stod(soft)));
      } catch (const std::exception&) {  // "unlimited": no meaningful maximum to report
      }
    }
  }
  return out;
}

std::string renderMetricsText(
    const std::vector<std::shared_ptr<const prometheus::Collectable>>& collectables) {
  std::vector<prometheus::MetricFamily> families;
  for (const auto& collectable : collectables) {
    if (!collectable) continue;
    auto collected = collectable->Collect();
    families.insert(families.end(), std::make_move_iterator(collected.begin()),
                    std::make_move_iterator(collected.end()));
  }
  return prometheus::TextSerializer().Serialize(families);
}

}  // namespace endpointbinder::runtime
