// EndpointTracker updates for a binding of 1,000 targets, at the pace of DNS refreshes:
//   BM_Tracker_RecordListing   the same 1,000 targets listed again (the steady DNS refresh).
//   BM_Tracker_RecordObserved  the same 1,000 targets observed healthy (every resync).
//   BM_Tracker_RotatingListing each listing replaces 10% of the targets by new addresses and
//                              the clock moves 5 s per call; the `remembered` counter shows
//                              whether forgetAfter (1h) keeps the tracker bounded: it should
//                              stay near 1,000 + 10% * 720 refreshes per hour.
#include <benchmark/benchmark.h>

#include <chrono>

#include "bench/micro/bench_targets.h"
#include "controller/core/endpoint_tracker.h"

namespace endpointbinder::bench {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;

constexpr std::uint32_t kTargets = 1000;

void BM_Tracker_RecordListing(benchmark::State& state) {
  // As the reconciler hands it over: one lineage, confirmed by the source's latest answer.
  core::SourceListing listing{
      makeTargets(0, kTargets), core::MonoTime{minutes(60)}, "ns/web@1", {}, "ns/web"};
  core::EndpointTracker tracker;
  core::MonoTime now{minutes(60)};
  tracker.recordListing(listing, now);
  for (auto _ : state) {
    now += seconds(5);
    listing.confirmedAt = now;
    tracker.recordListing(listing, now);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * kTargets);
  state.counters["remembered"] = static_cast<double>(tracker.size());
}

void BM_Tracker_RecordObserved(benchmark::State& state) {
  const auto listed = makeTargets(0, kTargets);
  const auto observed = observe(listed, core::TargetState::kHealthy);
  core::EndpointTracker tracker;
  core::MonoTime now{minutes(60)};
  tracker.recordListing(listed, now);
  tracker.recordObserved(observed, now);
  for (auto _ : state) {
    now += seconds(5);
    tracker.recordObserved(observed, now);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * kTargets);
  state.counters["remembered"] = static_cast<double>(tracker.size());
}

void BM_Tracker_RotatingListing(benchmark::State& state) {
  constexpr std::uint32_t kChurn = kTargets / 10;
  // Listing i holds addresses [i * kChurn, i * kChurn + kTargets): 10% new each time.
  std::uint32_t first = 0;
  core::EndpointTracker tracker;
  core::MonoTime now{minutes(60)};
  std::vector<core::Target> listed;
  std::vector<core::ObservedTarget> observed;
  for (auto _ : state) {
    state.PauseTiming();
    first += kChurn;
    listed = makeTargets(first, kTargets);
    observed = observe(listed, core::TargetState::kHealthy);
    now += seconds(5);
    state.ResumeTiming();
    tracker.recordListing(listed, now);
    tracker.recordObserved(observed, now);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * kTargets);
  state.counters["remembered"] = static_cast<double>(tracker.size());
  state.counters["simulated_s"] = static_cast<double>(state.iterations()) * 5;
}

BENCHMARK(BM_Tracker_RecordListing);
BENCHMARK(BM_Tracker_RecordObserved);
// 2,160 refreshes = 3 simulated hours at 5 s: long enough for forgetAfter (1h) to matter.
BENCHMARK(BM_Tracker_RotatingListing)->Iterations(2160)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace endpointbinder::bench
