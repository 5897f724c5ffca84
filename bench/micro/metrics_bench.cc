// Per-binding metrics: what they hold in memory and what a scrape costs. Arg = bindings, each
// with every per-binding series a synced binding has (4 conditions, 6 target states, 2 drift
// types, 4 reconcile results, errors, 2 operations, 2 held reasons, last sync: 31 series).
//   BM_Metrics_PerBindingHeap  heap held per binding (counter heap_bytes_per_binding, from
//                              mallinfo2 before and after populating; time is the populate).
//   BM_Metrics_Scrape          one /metrics rendering of everything, as the metrics server does
//                              it (counters exposition_bytes, and heap_peak_bytes: the most heap
//                              the rendering held above what was live before it, the text
//                              included, counted by the operator new below).
#include <benchmark/benchmark.h>
#include <malloc.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <memory>
#include <new>
#include <string>

#include "controller/runtime/metrics.h"

// Heap accounting for BM_Metrics_Scrape: while gTracking is set, every operator new adds its
// block's usable size to gLive (and every delete takes it off), and gPeak keeps the highest
// gLive. Replaces the global operator new of the whole bench_micro binary; off (one relaxed
// load) outside the measured scrape. Blocks allocated before tracking and freed during it lower
// gLive, as they lower the process's heap.
namespace {
std::atomic<bool> gTracking{false};
std::atomic<int64_t> gLive{0};
std::atomic<int64_t> gPeak{0};

void* countedAlloc(std::size_t size) {
  void* block = std::malloc(size == 0 ? 1 : size);
  if (block == nullptr) throw std::bad_alloc();
  if (gTracking.load(std::memory_order_relaxed)) {
    const auto usable = static_cast<int64_t>(malloc_usable_size(block));
    const auto live = gLive.fetch_add(usable, std::memory_order_relaxed) + usable;
    auto peak = gPeak.load(std::memory_order_relaxed);
    while (live > peak && !gPeak.compare_exchange_weak(peak, live, std::memory_order_relaxed)) {
    }
  }
  return block;
}

void countedFree(void* block) noexcept {
  if (block == nullptr) return;
  if (gTracking.load(std::memory_order_relaxed)) {
    gLive.fetch_sub(static_cast<int64_t>(malloc_usable_size(block)), std::memory_order_relaxed);
  }
  std::free(block);
}
}  // namespace

void* operator new(std::size_t size) { return countedAlloc(size); }
void* operator new[](std::size_t size) { return countedAlloc(size); }
void operator delete(void* block) noexcept { countedFree(block); }
void operator delete[](void* block) noexcept { countedFree(block); }
void operator delete(void* block, std::size_t) noexcept { countedFree(block); }
void operator delete[](void* block, std::size_t) noexcept { countedFree(block); }

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
  int64_t peak = 0;
  for (auto _ : state) {
    gLive.store(0, std::memory_order_relaxed);
    gPeak.store(0, std::memory_order_relaxed);
    gTracking.store(true, std::memory_order_relaxed);
    {
      auto text = runtime::renderMetricsText(collectables);
      bytes = text.size();
      benchmark::DoNotOptimize(text);
    }
    gTracking.store(false, std::memory_order_relaxed);
    peak = std::max(peak, gPeak.load(std::memory_order_relaxed));
  }
  state.counters["exposition_bytes"] = static_cast<double>(bytes);
  state.counters["heap_peak_bytes"] = static_cast<double>(peak);
}
BENCHMARK(BM_Metrics_Scrape)->Arg(100)->Arg(1000)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace endpointbinder::bench
