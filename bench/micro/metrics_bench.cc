// Per-binding metrics: what they hold in memory and what a scrape costs. Arg = bindings, each
// with every per-binding series a synced binding has (4 conditions, 6 target states, 2 drift
// types, 4 reconcile results, errors, 2 operations, 2 held reasons, last sync: 31 series).
//   BM_Metrics_PerBindingHeap  heap held per binding (counter heap_bytes_per_binding, from
//                              mallinfo2 before and after populating; time is the populate).
//   BM_Metrics_Scrape          one /metrics rendering of everything (Collect + text format).
#include <benchmark/benchmark.h>
#include <malloc.h>

#include <memory>
#include <string>

#include "controller/runtime/metrics.h"

namespace endpointbinder::bench {
namespace {

using runtime::ConditionStatus;

void populate(runtime::ControllerMetrics& metrics, int64_t bindings) {
  for (int64_t i = 0; i < bindings; ++i) {
    const std::string name = "binding-" + std::to_string(i);
    runtime::BindingStatus status;
    status.ns = "default";
    status.name = name;
    status.counts = runtime::TargetCounts{8, 8, 7, 1, 0, 0, 0, 0};
    for (const char* type : {"Ready", "Synced", "SourceResolved", "Conflict"}) {
      status.conditions.push_back({type, ConditionStatus::kTrue, "", "", {}});
    }
    status.lastSyncTime = core::WallTime(std::chrono::seconds(1'700'000'000));
    metrics.registerBinding("default", name);
    metrics.observeStatus(status);
    metrics.reconcileFinished("default", name, runtime::ReconcileOutcome::kSuccess,
                              std::chrono::milliseconds(3));
    metrics.setHeldOperations("default", name, {{"MinTargets", 0}, {"GracePeriod", 2}});
  }
}

void BM_Metrics_PerBindingHeap(benchmark::State& state) {
  const int64_t bindings = state.range(0);
  double bytesPerBinding = 0;
  for (auto _ : state) {
    state.PauseTiming();
    const auto before = mallinfo2().uordblks;
    auto metrics =
        std::make_unique<runtime::ControllerMetrics>(std::make_shared<prometheus::Registry>());
    state.ResumeTiming();
    populate(*metrics, bindings);
    state.PauseTiming();
    const auto after = mallinfo2().uordblks;
    bytesPerBinding = static_cast<double>(after - before) / static_cast<double>(bindings);
    metrics.reset();
    state.ResumeTiming();
  }
  state.counters["heap_bytes_per_binding"] = bytesPerBinding;
  state.SetItemsProcessed(state.iterations() * bindings);
}
BENCHMARK(BM_Metrics_PerBindingHeap)->Arg(1000)->Unit(benchmark::kMillisecond);

void BM_Metrics_Scrape(benchmark::State& state) {
  runtime::ControllerMetrics metrics(std::make_shared<prometheus::Registry>());
  populate(metrics, state.range(0));
  const auto collectables = metrics.collectables();
  size_t bytes = 0;
  for (auto _ : state) {
    auto text = runtime::renderMetricsText(collectables);
    bytes = text.size();
    benchmark::DoNotOptimize(text);
  }
  state.counters["exposition_bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_Metrics_Scrape)->Arg(100)->Arg(1000)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace endpointbinder::bench
