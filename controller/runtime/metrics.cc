#include "controller/runtime/metrics.h"

#include <prometheus/text_serializer.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
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
constexpr std::array kTargetStates = {"desired",   "registered", "healthy",
                                      "unhealthy", "draining",   "initial"};

// The per-binding families (rendered by ControllerMetrics::BindingCollector).
constexpr const char* kReconcileTotalName = "endpointbinder_reconcile_total";
constexpr const char* kReconcileTotalHelp =
    "Reconciles of a binding, by result (success, error, requeue, requeue_after).";
constexpr const char* kReconcileErrorsName = "endpointbinder_reconcile_errors_total";
constexpr const char* kReconcileErrorsHelp = "Reconciles of a binding that returned an error.";
constexpr const char* kTargetsName = "endpointbinder_binding_targets";
constexpr const char* kTargetsHelp =
    "Targets of a binding by state: desired (listed by the source), registered, healthy, "
    "unhealthy, draining, initial.";
constexpr const char* kDriftName = "endpointbinder_binding_drift_targets";
constexpr const char* kDriftHelp =
    "Difference between source and target group: missing (listed, not registered) and "
    "unexpected (registered, not listed).";
constexpr const char* kPlanOperationsName = "endpointbinder_plan_operations_total";
constexpr const char* kPlanOperationsHelp =
    "Target registrations and deregistrations written to the target group.";
constexpr const char* kHeldOperationsName = "endpointbinder_plan_held_operations";
constexpr const char* kHeldOperationsHelp = "Changes the latest plan held back, by reason.";
constexpr const char* kLastSyncName =
    "endpointbinder_binding_last_successful_sync_timestamp_seconds";
constexpr const char* kLastSyncHelp = "Unix time of the binding's last successful sync.";
constexpr const char* kConditionName = "endpointbinder_binding_condition";
constexpr const char* kConditionHelp =
    "Binding condition status: 1 for the current status of each condition, 0 for the others.";

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

static_assert(static_cast<size_t>(LookupOutcome::kError) + 1 == kLookupOutcomeCount);

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

// Per-binding series are plain numbers here, turned into metric families only when scraped:
// prometheus-cpp keeps a labelled object (label map, mutex, ...) per series, 31 per binding, which
// came to 12 MiB at 1,000 bindings (bench/README.md).
namespace {
struct BindingValues {
  std::string ns;
  std::string name;
  std::array<double, kReconcileOutcomes.size()> reconciles{};  // by ReconcileOutcome
  double reconcileErrors = 0;
  std::array<double, kPlanOperations.size()> operations{};  // by PlanOperation
  std::optional<std::array<double, kTargetStates.size()>> targets;
  std::optional<std::array<double, 2>> drift;  // missing, unexpected
  std::map<std::string, double, std::less<>> held;
  std::optional<double> lastSync;
  std::map<std::string, ConditionStatus, std::less<>> conditions;
};
}  // namespace

class ControllerMetrics::BindingCollector final : public TextCollectable {
 public:
  // Runs `update` on the binding's values (created, counters at zero, if new) under the lock.
  template <typename F>
  void update(std::string_view ns, std::string_view name, F&& update) {
    std::lock_guard lock(mu_);
    update(valuesLocked(ns, name));
  }

  void forget(std::string_view ns, std::string_view name) {
    std::lock_guard lock(mu_);
    if (auto it = bindings_.find(key(ns, name)); it != bindings_.end()) bindings_.erase(it);
  }

  std::vector<prometheus::MetricFamily> Collect() const override;
  std::size_t textSize() const override;
  void appendText(std::string& out) const override;

 private:
  // Hands every sample of every family to `visitor.sample(family, binding, value, labels)`, family
  // by family in exposition order, each over the bindings in key order: the one list of the
  // per-binding families, which Collect() and the text exposition both read. REQUIRES mu_.
  template <typename Visitor>
  void visitSamplesLocked(Visitor& visitor) const;

  static std::string key(std::string_view ns, std::string_view name) {
    std::string k;
    k.reserve(ns.size() + name.size() + 1);
    k.append(ns).append("/").append(name);
    return k;
  }
  BindingValues& valuesLocked(std::string_view ns, std::string_view name) {
    auto k = key(ns, name);
    auto it = bindings_.find(k);
    if (it == bindings_.end()) {
      it = bindings_.emplace(std::move(k), BindingValues{}).first;
      it->second.ns = std::string(ns);
      it->second.name = std::string(name);
    }
    return it->second;
  }

  mutable std::mutex mu_;
  std::map<std::string, BindingValues, std::less<>> bindings_;  // by "namespace/name"
};

namespace {

void setValue(prometheus::ClientMetric& metric, prometheus::MetricType type, double value) {
  if (type == prometheus::MetricType::Counter) {
    metric.counter.value = value;
  } else {
    metric.gauge.value = value;
  }
}

// One sample of a per-binding family; labels sorted by name, as prometheus-cpp writes them.
void addSample(prometheus::MetricFamily& family, const BindingValues& binding, double value,
               std::initializer_list<std::pair<const char*, std::string_view>> extra = {}) {
  prometheus::ClientMetric metric;
  std::vector<prometheus::ClientMetric::Label> labels;
  labels.reserve(2 + extra.size());
  labels.push_back({"name", binding.name});
  labels.push_back({"namespace", binding.ns});
  for (const auto& [label, text] : extra) labels.push_back({label, std::string(text)});
  std::sort(labels.begin(), labels.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  metric.label = std::move(labels);
  setValue(metric, family.type, value);
  family.metric.push_back(std::move(metric));
}

prometheus::MetricFamily emptyFamily(const char* name, const char* help,
                                     prometheus::MetricType type) {
  prometheus::MetricFamily family;
  family.name = name;
  family.help = help;
  family.type = type;
  return family;
}

// A per-binding family as visitSamplesLocked names it to its visitors.
struct FamilyInfo {
  const char* name;
  const char* help;
  prometheus::MetricType type;
};
// The labels of a sample besides name and namespace, in name order.
using ExtraLabels = std::initializer_list<std::pair<const char*, std::string_view>>;

// Builds Collect()'s families: a family is started by its first sample, so empty ones are left
// out.
struct FamilyBuilder {
  std::vector<prometheus::MetricFamily> families;
  void sample(const FamilyInfo& family, const BindingValues& binding, double value,
              ExtraLabels labels) {
    if (families.empty() || families.back().name != family.name) {
      families.push_back(emptyFamily(family.name, family.help, family.type));
    }
    addSample(families.back(), binding, value, labels);
  }
};

// Text sinks of the exposition: one counts the bytes (to reserve the output once), the other
// appends them.
struct CountingSink {
  std::size_t bytes = 0;
  void put(std::string_view text) { bytes += text.size(); }
  void put(char) { ++bytes; }
};
struct StringSink {
  std::string& out;
  void put(std::string_view text) { out.append(text); }
  void put(char c) { out.push_back(c); }
};

// The text exposition format exactly as prometheus-cpp 1.0's TextSerializer writes it: label
// values escape \, " and newline; doubles print as printf("%.16g") in the C locale, NaN as
// "Nan" and infinities as "+Inf"/"-Inf"; no timestamps.
template <typename Sink>
class ExpositionWriter {
 public:
  explicit ExpositionWriter(Sink& sink) : sink_(sink) {}

  void header(std::string_view name, std::string_view help, prometheus::MetricType type) {
    put("# HELP ");
    put(name);
    put(' ');
    put(help);
    put("\n# TYPE ");
    put(name);
    put(type == prometheus::MetricType::Counter ? " counter\n" : " gauge\n");
  }

  // `name{` ... `} value\n`, the labels in between written by label() in name order.
  void open(std::string_view name) {
    put(name);
    separator_ = '{';
  }
  void label(std::string_view name, std::string_view value) {
    put(separator_);
    put(name);
    put("=\"");
    separator_ = ',';
    for (char c : value) {
      if (c == '\n') {
        put("\\n");
      } else {
        if (c == '\\' || c == '"') put('\\');
        put(c);
      }
    }
    put('"');
  }
  void close(double value) {
    if (separator_ == ',') put('}');
    put(' ');
    if (std::isnan(value)) {
      put("Nan");
    } else if (std::isinf(value)) {
      put(value < 0 ? "-Inf" : "+Inf");
    } else {
      std::array<char, 64> buffer;
      // std::to_chars with a precision is specified as printf's %.16g (C locale).
      const auto end = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value,
                                     std::chars_format::general, 16)
                           .ptr;
      put(std::string_view(buffer.data(), static_cast<std::size_t>(end - buffer.data())));
    }
    put('\n');
  }

 private:
  void put(std::string_view text) { sink_.put(text); }
  void put(char c) { sink_.put(c); }

  Sink& sink_;
  char separator_ = '{';
};

// Writes the text exposition of the samples: a family's HELP and TYPE before its first sample,
// labels in name order (those before "name" — only "condition" — then name, namespace, the rest).
template <typename Sink>
class TextVisitor {
 public:
  explicit TextVisitor(Sink& sink) : writer_(sink) {}
  void sample(const FamilyInfo& family, const BindingValues& binding, double value,
              ExtraLabels labels) {
    if (current_ != family.name) {
      writer_.header(family.name, family.help, family.type);
      current_ = family.name;
    }
    writer_.open(family.name);
    for (const auto& [label, text] : labels) {
      if (std::string_view(label) < "name") writer_.label(label, text);
    }
    writer_.label("name", binding.name);
    writer_.label("namespace", binding.ns);
    for (const auto& [label, text] : labels) {
      if (std::string_view(label) > "namespace") writer_.label(label, text);
    }
    writer_.close(value);
  }

 private:
  ExpositionWriter<Sink> writer_;
  std::string_view current_;
};

}  // namespace

template <typename Visitor>
void ControllerMetrics::BindingCollector::visitSamplesLocked(Visitor& visitor) const {
  using prometheus::MetricType;
  // One family: `samples(binding, sample)` for each binding, where sample(value, extra labels)
  // hands one sample to the visitor.
  const auto family = [&](const char* name, const char* help, MetricType type, auto&& samples) {
    const FamilyInfo info{name, help, type};
    for (const auto& [key, b] : bindings_) {
      samples(b, [&](double value, ExtraLabels labels) { visitor.sample(info, b, value, labels); });
    }
  };
  family(kReconcileTotalName, kReconcileTotalHelp, MetricType::Counter,
         [](const BindingValues& b, auto&& sample) {
           for (std::size_t i = 0; i < kReconcileOutcomes.size(); ++i) {
             sample(b.reconciles[i], {{"result", reconcileOutcomeName(kReconcileOutcomes[i])}});
           }
         });
  family(kReconcileErrorsName, kReconcileErrorsHelp, MetricType::Counter,
         [](const BindingValues& b, auto&& sample) { sample(b.reconcileErrors, {}); });
  family(kTargetsName, kTargetsHelp, MetricType::Gauge, [](const BindingValues& b, auto&& sample) {
    if (!b.targets) return;
    for (std::size_t i = 0; i < kTargetStates.size(); ++i) {
      sample((*b.targets)[i], {{"state", kTargetStates[i]}});
    }
  });
  family(kDriftName, kDriftHelp, MetricType::Gauge, [](const BindingValues& b, auto&& sample) {
    if (!b.drift) return;
    sample((*b.drift)[0], {{"type", "missing"}});
    sample((*b.drift)[1], {{"type", "unexpected"}});
  });
  family(kPlanOperationsName, kPlanOperationsHelp, MetricType::Counter,
         [](const BindingValues& b, auto&& sample) {
           for (std::size_t i = 0; i < kPlanOperations.size(); ++i) {
             sample(b.operations[i], {{"operation", planOperationName(kPlanOperations[i])}});
           }
         });
  family(kHeldOperationsName, kHeldOperationsHelp, MetricType::Gauge,
         [](const BindingValues& b, auto&& sample) {
           for (const auto& [reason, n] : b.held) sample(n, {{"reason", reason}});
         });
  family(kLastSyncName, kLastSyncHelp, MetricType::Gauge,
         [](const BindingValues& b, auto&& sample) {
           if (b.lastSync) sample(*b.lastSync, {});
         });
  family(kConditionName, kConditionHelp, MetricType::Gauge,
         [](const BindingValues& b, auto&& sample) {
           for (const auto& [type, status] : b.conditions) {
             for (auto candidate : kConditionStatuses) {
               sample(candidate == status ? 1 : 0,
                      {{"condition", type}, {"status", conditionLabel(candidate)}});
             }
           }
         });
}

std::vector<prometheus::MetricFamily> ControllerMetrics::BindingCollector::Collect() const {
  FamilyBuilder builder;
  std::lock_guard lock(mu_);
  visitSamplesLocked(builder);
  return std::move(builder.families);
}

std::size_t ControllerMetrics::BindingCollector::textSize() const {
  CountingSink sink;
  TextVisitor<CountingSink> visitor(sink);
  std::lock_guard lock(mu_);
  visitSamplesLocked(visitor);
  return sink.bytes;
}

void ControllerMetrics::BindingCollector::appendText(std::string& out) const {
  StringSink sink{out};
  TextVisitor<StringSink> visitor(sink);
  std::lock_guard lock(mu_);
  visitSamplesLocked(visitor);
}

ControllerMetrics::ControllerMetrics(std::shared_ptr<prometheus::Registry> registry,
                                     const ControllerMetricsOptions& options)
    : registry_(std::move(registry)),
      bindings_(std::make_shared<BindingCollector>()),
      reconcileDuration_(histogramFamily(*registry_, "endpointbinder_reconcile_duration_seconds",
                                         "Time taken by one reconcile, every binding.")),
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
      queueResyncDepth_(
          gaugeFamily(*registry_, "endpointbinder_workqueue_resync_depth",
                      "Of endpointbinder_workqueue_depth, keys in the resync lane: periodic and "
                      "post-write re-checks, handed out behind events within the resync budget.")
              .Add({})),
      queueAdds_(counterFamily(*registry_, "endpointbinder_workqueue_adds_total",
                               "Binding keys added to the work queue.")
                     .Add({})),
      queueRetries_(counterFamily(*registry_, "endpointbinder_workqueue_retries_total",
                                  "Binding keys requeued with backoff after an error.")
                        .Add({})),
      resyncSkipped_(counterFamily(*registry_, "endpointbinder_resync_skipped_total",
                                   "Resync turns skipped: the binding had read its target group "
                                   "from AWS within half a round (a post-write re-check).")
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
                          .Add({})),
      inventorySources_(gaugeFamily(*registry_, "endpointbinder_instance_inventory_sources",
                                    "Distinct instance sources (ec2 filters, Spot Fleets, Auto "
                                    "Scaling groups) read by the shared inventory.")
                            .Add({})),
      inventoryInstances_(gaugeFamily(*registry_, "endpointbinder_instance_inventory_instances",
                                      "EC2 instances whose details the inventory holds.")
                              .Add({})),
      inventoryInterrupted_(gaugeFamily(*registry_, "endpointbinder_instance_inventory_interrupted",
                                        "Instances with a recent Spot interruption warning.")
                                .Add({})),
      inventoryAccountWide_(gaugeFamily(*registry_,
                                        "endpointbinder_instance_inventory_account_wide",
                                        "1 when the last inventory round read the account-wide "
                                        "instance listing (cheaper than per-source filters).")
                                .Add({})),
      inventoryRounds_(counterFamily(*registry_, "endpointbinder_instance_inventory_rounds_total",
                                     "Inventory refresh rounds (one per poll interval).")
                           .Add({})),
      inventoryEventRefreshes_(
          counterFamily(*registry_, "endpointbinder_instance_inventory_event_refreshes_total",
                        "Inventory refreshes driven by events from the events queue.")
              .Add({})),
      eventQueueMessages_(counterFamily(*registry_, "endpointbinder_event_queue_messages_total",
                                        "Events-queue messages by outcome: received, handled, "
                                        "deleted, foreign, malformed, failed.")),
      eventQueueErrors_(counterFamily(*registry_, "endpointbinder_event_queue_errors_total",
                                      "Events-queue calls that failed, by operation.")),
      recordCounts_(gaugeFamily(*registry_, "endpointbinder_record_binding_records",
                                "A DNSRecordBinding's names by state: desired (listed instances' "
                                "names), present (held with the right value), missing, "
                                "unexpected (owned, no longer wanted).")),
      recordConditions_(gaugeFamily(*registry_, "endpointbinder_record_binding_condition",
                                    "A DNSRecordBinding's conditions: 1 for the current status "
                                    "(true, false, unknown), 0 for the others.")) {
  for (const char* outcome : {"received", "handled", "deleted", "foreign", "malformed", "failed"}) {
    eventQueueMessages_.Add({{"outcome", outcome}});
  }
  for (const char* operation : {"receive", "delete"}) {
    eventQueueErrors_.Add({{"operation", operation}});
  }
  gaugeFamily(*registry_, "endpointbinder_build_info",
              "Build information: version and commit of the running binary. Always 1.")
      .Add({{"version", options.version}, {"commit", options.commit}})
      .Set(1);
  reconcileDuration_.Add({}, kReconcileBuckets);
}

ControllerMetrics::~ControllerMetrics() = default;

std::vector<std::shared_ptr<prometheus::Collectable>> ControllerMetrics::collectables() const {
  return {registry_, bindings_};
}

void ControllerMetrics::registerBinding(std::string_view ns, std::string_view name) {
  bindings_->update(ns, name, [](BindingValues&) {});
}

void ControllerMetrics::reconcileFinished(std::string_view ns, std::string_view name,
                                          ReconcileOutcome outcome,
                                          std::chrono::duration<double> elapsed) {
  bindings_->update(ns, name, [&](BindingValues& b) {
    b.reconciles[static_cast<std::size_t>(outcome)] += 1;
    if (outcome == ReconcileOutcome::kError) b.reconcileErrors += 1;
  });
  reconcileDuration_.Add({}, kReconcileBuckets).Observe(elapsed.count());
}

namespace {

void setTargetValues(BindingValues& b, const TargetCounts& counts) {
  auto value = [](int n) { return static_cast<double>(n); };
  b.targets = {value(counts.desired),   value(counts.registered), value(counts.healthy),
               value(counts.unhealthy), value(counts.draining),   value(counts.initial)};
  b.drift = {static_cast<double>(counts.missing), static_cast<double>(counts.unexpected)};
}

void setHeldValues(BindingValues& b, const std::map<std::string, int>& countsByReason) {
  for (auto& [reason, n] : b.held) {
    if (!countsByReason.contains(reason)) n = 0;
  }
  for (const auto& [reason, n] : countsByReason) b.held[reason] = n;
}

}  // namespace

void ControllerMetrics::setTargets(std::string_view ns, std::string_view name,
                                   const TargetCounts& counts) {
  bindings_->update(ns, name, [&](BindingValues& b) { setTargetValues(b, counts); });
}

void ControllerMetrics::setDrift(std::string_view ns, std::string_view name, int missing,
                                 int unexpected) {
  bindings_->update(ns, name, [&](BindingValues& b) {
    b.drift = {static_cast<double>(missing), static_cast<double>(unexpected)};
  });
}

void ControllerMetrics::planOperations(std::string_view ns, std::string_view name,
                                       PlanOperation operation, int n) {
  if (n <= 0) return;
  bindings_->update(
      ns, name, [&](BindingValues& b) { b.operations[static_cast<std::size_t>(operation)] += n; });
}

void ControllerMetrics::heldOperations(std::string_view ns, std::string_view name,
                                       std::string_view reason, int n) {
  bindings_->update(ns, name, [&](BindingValues& b) {
    auto it = b.held.find(reason);
    if (it == b.held.end()) it = b.held.emplace(std::string(reason), 0).first;
    it->second = n;
  });
}

void ControllerMetrics::setHeldOperations(std::string_view ns, std::string_view name,
                                          const std::map<std::string, int>& countsByReason) {
  bindings_->update(ns, name, [&](BindingValues& b) { setHeldValues(b, countsByReason); });
}

void ControllerMetrics::setLastSuccessfulSync(std::string_view ns, std::string_view name,
                                              core::WallTime time) {
  setLastSuccessfulSync(ns, name, wallSeconds(time));
}

void ControllerMetrics::setLastSuccessfulSync(std::string_view ns, std::string_view name,
                                              double unixSeconds) {
  bindings_->update(ns, name, [&](BindingValues& b) { b.lastSync = unixSeconds; });
}

void ControllerMetrics::setCondition(std::string_view ns, std::string_view name,
                                     std::string_view type, ConditionStatus status) {
  bindings_->update(ns, name, [&](BindingValues& b) {
    auto it = b.conditions.find(type);
    if (it == b.conditions.end()) it = b.conditions.emplace(std::string(type), status).first;
    it->second = status;
  });
}

void ControllerMetrics::observeStatus(const BindingStatus& status) {
  bindings_->update(status.ns, status.name, [&](BindingValues& b) {
    for (const auto& condition : status.conditions) b.conditions[condition.type] = condition.status;
    setTargetValues(b, status.counts);
    if (status.lastSyncTime) b.lastSync = wallSeconds(*status.lastSyncTime);
  });
}

void ControllerMetrics::recordSync(std::string_view ns, std::string_view name,
                                   const TargetCounts& counts, const core::Plan& plan, bool applied,
                                   core::WallTime syncTime) {
  std::map<std::string, int> held;
  for (const auto& h : plan.held) ++held[core::holdReasonName(h.reason)];
  bindings_->update(ns, name, [&](BindingValues& b) {
    setHeldValues(b, held);
    if (applied) {
      b.operations[static_cast<std::size_t>(PlanOperation::kRegister)] +=
          static_cast<double>(plan.toRegister.size());
      b.operations[static_cast<std::size_t>(PlanOperation::kDeregister)] +=
          static_cast<double>(plan.toDeregister.size());
    }
    setTargetValues(b, counts);
    b.lastSync = wallSeconds(syncTime);
  });
}

void ControllerMetrics::recordConflict(std::string_view ns, std::string_view name) {
  bindings_->update(ns, name, [](BindingValues& b) {
    b.conditions["Conflict"] = ConditionStatus::kTrue;
    b.conditions["Synced"] = ConditionStatus::kFalse;
    b.conditions["Ready"] = ConditionStatus::kFalse;
  });
}

void ControllerMetrics::forgetBinding(std::string_view ns, std::string_view name) {
  bindings_->forget(ns, name);
}

void ControllerMetrics::sourceLookup(std::string_view kind, LookupOutcome outcome,
                                     std::chrono::duration<double> elapsed) {
  prometheus::Counter* lookups = nullptr;
  prometheus::Histogram* duration = nullptr;
  {
    std::lock_guard lock(sourceLookupMu_);
    auto series = std::find_if(sourceLookupSeries_.begin(), sourceLookupSeries_.end(),
                               [&](const SourceLookupSeries& s) { return s.kind == kind; });
    if (series == sourceLookupSeries_.end()) {
      series = sourceLookupSeries_.insert(sourceLookupSeries_.end(),
                                          SourceLookupSeries{std::string(kind), {}, nullptr});
      series->duration = &sourceLookupDuration_.Add({{"kind", series->kind}}, kLookupBuckets);
    }
    auto& counter = series->lookups[static_cast<size_t>(outcome)];
    if (counter == nullptr) {
      counter =
          &sourceLookups_.Add({{"kind", series->kind}, {"outcome", lookupOutcomeName(outcome)}});
    }
    lookups = counter;
    duration = series->duration;
  }
  lookups->Increment();
  duration->Observe(elapsed.count());
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

namespace {

// Advances `counter` by how much `now` grew past `before` (counters never go back).
void advance(prometheus::Counter& counter, uint64_t before, uint64_t now) {
  if (now > before) counter.Increment(static_cast<double>(now - before));
}

}  // namespace

void ControllerMetrics::observeInstanceInventory(const InventoryStats& stats) {
  std::lock_guard lock(mu_);
  inventorySources_.Set(static_cast<double>(stats.sources));
  inventoryInstances_.Set(static_cast<double>(stats.instances));
  inventoryInterrupted_.Set(static_cast<double>(stats.interrupted));
  inventoryAccountWide_.Set(stats.accountWide ? 1 : 0);
  advance(inventoryRounds_, lastInventory_.rounds, stats.rounds);
  advance(inventoryEventRefreshes_, lastInventory_.eventRefreshes, stats.eventRefreshes);
  lastInventory_ = stats;
}

void ControllerMetrics::observeEventQueue(const EventReaderStats& stats) {
  std::lock_guard lock(mu_);
  const auto message = [&](const char* outcome, uint64_t before, uint64_t now) {
    advance(eventQueueMessages_.Add({{"outcome", outcome}}), before, now);
  };
  message("received", lastEvents_.received, stats.received);
  message("handled", lastEvents_.handled, stats.handled);
  message("deleted", lastEvents_.deleted, stats.deleted);
  message("foreign", lastEvents_.foreign, stats.foreign);
  message("malformed", lastEvents_.malformed, stats.malformed);
  message("failed", lastEvents_.failed, stats.failed);
  advance(eventQueueErrors_.Add({{"operation", "receive"}}), lastEvents_.receiveErrors,
          stats.receiveErrors);
  advance(eventQueueErrors_.Add({{"operation", "delete"}}), lastEvents_.deleteErrors,
          stats.deleteErrors);
  lastEvents_ = stats;
}

void ControllerMetrics::observeRecordStatus(const BindingStatus& status) {
  std::lock_guard lock(mu_);
  const std::map<std::string, std::string> base = {{"namespace", status.ns}, {"name", status.name}};
  auto labels = [&](const char* key, const std::string& value) {
    auto out = base;
    out[key] = value;
    return out;
  };
  recordCounts_.Add(labels("state", "desired")).Set(status.counts.desired);
  recordCounts_.Add(labels("state", "present")).Set(status.counts.registered);
  recordCounts_.Add(labels("state", "missing")).Set(status.counts.missing);
  recordCounts_.Add(labels("state", "unexpected")).Set(status.counts.unexpected);
  for (const char* type : {"Ready", "Synced", "SourceResolved", "Conflict", "InSync"}) {
    const auto* condition = status.condition(type);
    const auto current = condition ? condition->status : ConditionStatus::kUnknown;
    for (const auto value :
         {ConditionStatus::kTrue, ConditionStatus::kFalse, ConditionStatus::kUnknown}) {
      auto l = labels("condition", type);
      std::string name = conditionStatusName(value);
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      l["status"] = name;
      recordConditions_.Add(l).Set(value == current ? 1 : 0);
    }
  }
}

void ControllerMetrics::forgetRecordBinding(std::string_view ns, std::string_view name) {
  std::lock_guard lock(mu_);
  for (auto* family : {&recordCounts_, &recordConditions_}) {
    // prometheus-cpp has no "remove by partial labels": collect the matching metrics first.
    std::vector<prometheus::Gauge*> matching;
    for (const char* state : {"desired", "present", "missing", "unexpected"}) {
      const std::map<std::string, std::string> l = {
          {"namespace", std::string(ns)}, {"name", std::string(name)}, {"state", state}};
      if (family == &recordCounts_ && family->Has(l)) matching.push_back(&family->Add(l));
    }
    for (const char* type : {"Ready", "Synced", "SourceResolved", "Conflict", "InSync"}) {
      for (const char* value : {"true", "false", "unknown"}) {
        const std::map<std::string, std::string> l = {{"namespace", std::string(ns)},
                                                      {"name", std::string(name)},
                                                      {"condition", type},
                                                      {"status", value}};
        if (family == &recordConditions_ && family->Has(l)) matching.push_back(&family->Add(l));
      }
    }
    for (auto* metric : matching) family->Remove(metric);
  }
}

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
  queueResyncDepth_.Set(static_cast<double>(stats.resyncDepth));
  queueLongestRunning_.Set(stats.longestRunningSeconds);
  queueUnfinishedWork_.Set(stats.unfinishedWorkSeconds);
  lastQueueStats_ = stats;
}

void ControllerMetrics::resyncSkipped(std::uint64_t count) {
  resyncSkipped_.Increment(static_cast<double>(count));
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
  auto family = emptyFamily(name, help, type);
  prometheus::ClientMetric metric;
  setValue(metric, type, value);
  family.metric.push_back(std::move(metric));
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

void appendMetricsText(const std::vector<std::shared_ptr<prometheus::Collectable>>& collectables,
                       std::string& out) {
  // First the text of the plain collectables (small: the registry's families, process_*) and the
  // size of the others, then one reservation and everything in order. (A binding added between
  // textSize() and appendText() costs one reallocation, nothing worse.)
  std::vector<std::string> serialized(collectables.size());
  std::vector<const TextCollectable*> direct(collectables.size(), nullptr);
  std::size_t total = out.size();
  for (std::size_t i = 0; i < collectables.size(); ++i) {
    if (!collectables[i]) continue;
    if (const auto* text = dynamic_cast<const TextCollectable*>(collectables[i].get())) {
      direct[i] = text;
      total += text->textSize();
    } else {
      std::ostringstream stream;
      prometheus::TextSerializer().Serialize(stream, collectables[i]->Collect());
      serialized[i] = std::move(stream).str();
      total += serialized[i].size();
    }
  }
  out.reserve(total);
  for (std::size_t i = 0; i < collectables.size(); ++i) {
    if (direct[i] != nullptr) {
      direct[i]->appendText(out);
    } else {
      out.append(serialized[i]);
      std::string().swap(serialized[i]);
    }
  }
}

std::string renderMetricsText(
    const std::vector<std::shared_ptr<prometheus::Collectable>>& collectables) {
  std::string out;
  appendMetricsText(collectables, out);
  return out;
}

}  // namespace endpointbinder::runtime
