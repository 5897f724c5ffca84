// ControllerMetrics: every Prometheus metric the controller exports, behind typed methods that
// the reconciler, work queue, source watchers and AWS client call. Built on prometheus-cpp's
// core library over an injected Registry (no global registry), plus a collector of its own for
// the per-binding families, which keeps plain numbers per binding and renders them when
// scraped; the metrics server exposes both (collectables()).
// ProcessCollector adds the standard process_* metrics read from /proc at scrape time.
//
// Naming follows the Prometheus conventions (prefix `endpointbinder_`, base units, `_total`
// counters, `_seconds` durations, `_timestamp_seconds` for Unix times). Per-binding series carry
// the labels `namespace` and `name`; forgetBinding() removes all of them when a binding goes.
// Label values with an open set (condition type, hold reason, source kind, AWS service and
// operation) come from the program, never from user input, so cardinality stays bounded.
//
// Thread-safety: every method of ControllerMetrics and ProcessCollector is thread-safe.
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "controller/aws/call_observer.h"
#include "controller/core/clock.h"
#include "controller/core/planner.h"
#include "controller/runtime/binding_status.h"
#include "controller/runtime/event_queue_reader.h"
#include "controller/runtime/instance_inventory.h"
#include "controller/runtime/work_queue.h"

namespace endpointbinder::runtime {

// How one reconcile ended, controller-runtime's `result` label: an error (requeued with backoff),
// an immediate requeue, a requeue after a delay, or plain success.
enum class ReconcileOutcome { kSuccess, kError, kRequeue, kRequeueAfter };
const char* reconcileOutcomeName(ReconcileOutcome outcome);  // "success", "error", "requeue",
                                                             // "requeue_after"

enum class PlanOperation { kRegister, kDeregister };
const char* planOperationName(PlanOperation operation);  // "register", "deregister"

// How one source lookup ended (DNS query, EC2 describe, ...).
enum class LookupOutcome {
  kSuccess,
  kEmpty,     // answered, but listed nothing
  kNotFound,  // NXDOMAIN, or the named fleet/group does not exist
  kTimeout,
  kError,  // SERVFAIL, refused, API error, ...
};
inline constexpr size_t kLookupOutcomeCount = 5;
const char* lookupOutcomeName(LookupOutcome outcome);  // "success", "empty", "not_found", ...

struct ControllerMetricsOptions {
  std::string version = "unknown";  // endpointbinder_build_info{version}
  std::string commit = "unknown";   // endpointbinder_build_info{commit}
};

// A Collectable that can also write its own text exposition straight into a string, without
// building MetricFamily objects first: the per-binding families (31 series per binding) would
// otherwise cost about 15 MiB of ClientMetric objects and label strings per scrape at 1,000
// bindings. renderMetricsText() and the metrics server use it; Collect() stays for everything
// else. Implementations must be thread-safe.
class TextCollectable : public prometheus::Collectable {
 public:
  // The bytes appendText() would append now (the output is reserved once from it).
  virtual std::size_t textSize() const = 0;
  // Appends byte for byte what prometheus::TextSerializer writes for Collect()'s families.
  virtual void appendText(std::string& out) const = 0;
};

// Implements aws::AwsCallObserver so the AWS client can report into it directly: every call
// counts in endpointbinder_aws_requests_total (by its final outcome) and its latency histogram;
// throttled attempts count in endpointbinder_aws_throttles_total and retries in
// endpointbinder_aws_retries_total.
class ControllerMetrics final : public aws::AwsCallObserver {
 public:
  // Registers every family in `registry` and pre-registers the series that must exist from the
  // start (build info, work queue, manifests) at their initial values.
  // REQUIRES: registry != nullptr, and no other families with these names in it.
  ControllerMetrics(std::shared_ptr<prometheus::Registry> registry,
                    const ControllerMetricsOptions& options = {});
  ~ControllerMetrics() override;
  ControllerMetrics(const ControllerMetrics&) = delete;
  ControllerMetrics& operator=(const ControllerMetrics&) = delete;

  const std::shared_ptr<prometheus::Registry>& registry() const { return registry_; }

  // What to expose: the registry, then the per-binding families, which are kept as plain
  // numbers and rendered at scrape time (a prometheus-cpp series object each would cost about
  // 12 KiB per binding), straight into the text (a TextCollectable).
  std::vector<std::shared_ptr<prometheus::Collectable>> collectables() const;

  // --- Per binding. Every method first pre-registers the binding's counters at zero
  // (reconcile_total for each result, reconcile_errors_total, plan_operations_total for each
  // operation), controller-runtime style, so rate() and absent() work from the first scrape.

  // Pre-registers a binding's counters at zero; call when its manifest is loaded. Idempotent.
  void registerBinding(std::string_view ns, std::string_view name);

  // One reconcile of the binding finished. kError also counts in reconcile_errors_total.
  // `elapsed` feeds endpointbinder_reconcile_duration_seconds (not per binding).
  void reconcileFinished(std::string_view ns, std::string_view name, ReconcileOutcome outcome,
                         std::chrono::duration<double> elapsed);

  // Target counts by state (desired, registered, healthy, unhealthy, draining, initial) and the
  // drift (missing, unexpected), as the reconciler last saw them.
  void setTargets(std::string_view ns, std::string_view name, const TargetCounts& counts);
  void setDrift(std::string_view ns, std::string_view name, int missing, int unexpected);

  // Adds `n` target operations written to the target group (endpointbinder_plan_operations_total).
  void planOperations(std::string_view ns, std::string_view name, PlanOperation operation, int n);

  // Sets the number of changes the latest plan held back for `reason` (core::holdReasonName).
  void heldOperations(std::string_view ns, std::string_view name, std::string_view reason, int n);
  // Replaces the latest plan's held changes: reasons set before and absent now become 0.
  void setHeldOperations(std::string_view ns, std::string_view name,
                         const std::map<std::string, int>& countsByReason);

  // Wall time of the last successful sync (endpointbinder_binding_last_successful_sync_...).
  void setLastSuccessfulSync(std::string_view ns, std::string_view name, core::WallTime time);
  void setLastSuccessfulSync(std::string_view ns, std::string_view name, double unixSeconds);

  // kube-state-metrics style: endpointbinder_binding_condition{condition=type, status=s} is 1
  // for the condition's current status and 0 for the other two ("true", "false", "unknown").
  void setCondition(std::string_view ns, std::string_view name, std::string_view type,
                    ConditionStatus status);

  // Everything a BindingStatus says that is a metric: conditions, target counts, drift and the
  // last successful sync. The reconciler calls it after each status update.
  void observeStatus(const BindingStatus& status);

  // A completed sync: target counts and drift, held changes by reason, the written operations
  // (only when `applied`; a dry run or a blocked plan writes nothing) and the last sync time.
  void recordSync(std::string_view ns, std::string_view name, const TargetCounts& counts,
                  const core::Plan& plan, bool applied, core::WallTime syncTime);

  // The target group is owned by someone else: Conflict=True, Synced=False, Ready=False.
  void recordConflict(std::string_view ns, std::string_view name);

  // Removes every series labelled with the binding (it was deleted). A later call about the
  // same binding registers it again.
  void forgetBinding(std::string_view ns, std::string_view name);

  // --- Sources.

  // One lookup by a source of `kind` (api::sourceKindName: "dns", "ec2", ...).
  void sourceLookup(std::string_view kind, LookupOutcome outcome,
                    std::chrono::duration<double> elapsed);

  // --- AWS. `service` is the signing name ("elasticloadbalancing"), `operation` the action.

  // One API call finished (after any retries) with `outcome`, taking `elapsed` in total.
  void awsRequest(std::string_view service, std::string_view operation, aws::CallOutcome outcome,
                  std::chrono::duration<double> elapsed);
  void awsThrottle(std::string_view operation);
  void awsRetry(std::string_view operation, int n = 1);

  // aws::AwsCallObserver.
  void onAttempt(const aws::AttemptRecord& attempt) override;
  void onCall(const aws::CallRecord& call) override;

  // --- Work queue and manifests.

  void setQueueDepth(std::size_t depth);
  void queueAdd();
  void queueRetry();
  // Sets the work-queue series from a snapshot: depth and in-flight ages as given, adds and
  // retries advanced by the growth since the previous snapshot (the counters never go back).
  void observeWorkQueue(const WorkQueueStats& stats);
  // Resync turns skipped because the binding had read its group within half a round.
  void resyncSkipped(std::uint64_t count);

  // Bindings currently loaded from valid manifests, and manifest files that currently fail to
  // decode or validate.
  void setManifests(int loaded, int errors);

  // --- Instance sources.

  // The instance inventory from a snapshot: endpointbinder_instance_inventory_{sources,
  // instances,interrupted} (gauges), _account_wide (1 when the last round read the
  // account-wide listing), _rounds_total and _event_refreshes_total (advanced by the growth
  // since the previous snapshot). Its EC2 and Auto Scaling calls count in the aws_* families.
  void observeInstanceInventory(const InventoryStats& stats);
  // The events queue from a snapshot: endpointbinder_event_queue_messages_total{outcome} for
  // received, handled, deleted, foreign, malformed and failed, and
  // endpointbinder_event_queue_errors_total{operation} for receive and delete.
  void observeEventQueue(const EventReaderStats& stats);

  // --- DNSRecordBindings.

  // A record binding's status: endpointbinder_record_binding_records{namespace,name,state} for
  // desired, present, missing and unexpected names, and
  // endpointbinder_record_binding_condition{namespace,name,condition,status} (1 for the
  // current status, 0 for the other two) for Ready, Synced, SourceResolved, Conflict, InSync.
  void observeRecordStatus(const BindingStatus& status);
  // Removes a deleted record binding's series.
  void forgetRecordBinding(std::string_view ns, std::string_view name);

 private:
  class BindingCollector;

  std::shared_ptr<prometheus::Registry> registry_;
  std::shared_ptr<BindingCollector> bindings_;

  prometheus::Family<prometheus::Histogram>& reconcileDuration_;
  prometheus::Family<prometheus::Counter>& sourceLookups_;
  prometheus::Family<prometheus::Histogram>& sourceLookupDuration_;
  prometheus::Family<prometheus::Counter>& awsRequests_;
  prometheus::Family<prometheus::Histogram>& awsRequestDuration_;
  prometheus::Family<prometheus::Counter>& awsThrottles_;
  prometheus::Family<prometheus::Counter>& awsRetries_;
  prometheus::Gauge& queueDepth_;
  prometheus::Gauge& queueResyncDepth_;
  prometheus::Counter& queueAdds_;
  prometheus::Counter& queueRetries_;
  prometheus::Counter& resyncSkipped_;
  prometheus::Gauge& queueLongestRunning_;
  prometheus::Gauge& queueUnfinishedWork_;
  prometheus::Gauge& manifestsLoaded_;
  prometheus::Gauge& manifestErrors_;
  prometheus::Gauge& inventorySources_;
  prometheus::Gauge& inventoryInstances_;
  prometheus::Gauge& inventoryInterrupted_;
  prometheus::Gauge& inventoryAccountWide_;
  prometheus::Counter& inventoryRounds_;
  prometheus::Counter& inventoryEventRefreshes_;
  prometheus::Family<prometheus::Counter>& eventQueueMessages_;
  prometheus::Family<prometheus::Counter>& eventQueueErrors_;
  prometheus::Family<prometheus::Gauge>& recordCounts_;
  prometheus::Family<prometheus::Gauge>& recordConditions_;

  // One source kind's lookup series, found in their families on first use and kept: the DNS
  // watcher reports ~200 lookups/s at 1,000 names, and building the label maps and hashing
  // them for each was 5 % of the DNS loop's time (bench/README.md). Never removed from the
  // families, so the pointers stay valid.
  struct SourceLookupSeries {
    std::string kind;
    std::array<prometheus::Counter*, kLookupOutcomeCount> lookups{};  // by LookupOutcome
    prometheus::Histogram* duration = nullptr;
  };
  std::mutex sourceLookupMu_;  // guards sourceLookupSeries_ (the series count themselves)
  std::vector<SourceLookupSeries> sourceLookupSeries_;  // a few kinds: a scan is enough

  std::mutex mu_;  // guards lastQueueStats_, lastInventory_, lastEvents_
  WorkQueueStats lastQueueStats_;
  InventoryStats lastInventory_;
  EventReaderStats lastEvents_;
};

// The standard process_* metrics of the Prometheus client libraries, read from procfs at each
// scrape: process_cpu_seconds_total, process_resident_memory_bytes,
// process_virtual_memory_bytes, process_start_time_seconds, process_open_fds, process_max_fds.
// A file that cannot be read leaves its metrics out of that scrape (never throws).
class ProcessCollector final : public prometheus::Collectable {
 public:
  struct Options {
    std::filesystem::path procRoot = "/proc";  // tests point this at a fake tree
    std::string pid = "self";                  // <procRoot>/<pid>/{stat,fd,limits}
    long clockTicksPerSecond = 0;              // 0: sysconf(_SC_CLK_TCK)
    long pageSizeBytes = 0;                    // 0: sysconf(_SC_PAGESIZE)
  };

  ProcessCollector() : ProcessCollector(Options{}) {}
  explicit ProcessCollector(Options options);

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  Options options_;
};

// The text exposition format of everything `collectables` hold, in order (what /metrics serves).
// TextCollectables write their text directly; the others are Collect()ed and serialized by
// prometheus::TextSerializer. The output is reserved once for the whole text. Null entries are
// skipped.
std::string renderMetricsText(
    const std::vector<std::shared_ptr<prometheus::Collectable>>& collectables);
// The same, appended to `out` (the metrics server writes straight into its response body).
void appendMetricsText(const std::vector<std::shared_ptr<prometheus::Collectable>>& collectables,
                       std::string& out);

}  // namespace endpointbinder::runtime
