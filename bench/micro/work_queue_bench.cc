// Work-queue add/get/done, the per-event overhead every reconcile pays. Arg = distinct keys
// (bindings) cycled through the queue per iteration; items = keys handed out.
//   BM_WorkQueueCore_AddGetDone       pure core: add every key, then get+done each.
//   BM_WorkQueueCore_AddMerged        each key added 4 times before it is handed out (a DNS
//                                     refresh, a resync and two manifest events at once):
//                                     duplicates must merge cheaply.
//   BM_WorkQueueCore_DelayedResync    addAfter(key, resync) for every key, then the clock
//                                     passes the due times and every key is promoted and run.
//   BM_WorkQueue_AddGetDone           the thread-safe wrapper with the real clock, one thread
//                                     (lock + clock read + condition variable per call).
//   BM_WorkQueue_Contended            the wrapper with 8 worker threads taking keys a
//                                     producer keeps adding (like --workers 8).
#include <benchmark/benchmark.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "controller/core/clock.h"
#include "controller/runtime/work_queue.h"

namespace endpointbinder::bench {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;

std::vector<std::string> bindingKeys(int64_t count) {
  std::vector<std::string> keys;
  keys.reserve(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) keys.push_back("default/binding-" + std::to_string(i));
  return keys;
}

void BM_WorkQueueCore_AddGetDone(benchmark::State& state) {
  const auto keys = bindingKeys(state.range(0));
  runtime::WorkQueueCore queue;
  core::MonoTime now{minutes(1)};
  for (auto _ : state) {
    for (const auto& key : keys) queue.add(key, now);
    while (auto key = queue.get(now)) queue.done(*key, now);
    now += seconds(1);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}

void BM_WorkQueueCore_AddMerged(benchmark::State& state) {
  const auto keys = bindingKeys(state.range(0));
  runtime::WorkQueueCore queue;
  core::MonoTime now{minutes(1)};
  for (auto _ : state) {
    for (int round = 0; round < 4; ++round) {
      for (const auto& key : keys) queue.add(key, now);
    }
    while (auto key = queue.get(now)) queue.done(*key, now);
    now += seconds(1);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}

void BM_WorkQueueCore_DelayedResync(benchmark::State& state) {
  const auto keys = bindingKeys(state.range(0));
  runtime::WorkQueueCore queue;
  core::MonoTime now{minutes(1)};
  for (auto _ : state) {
    for (const auto& key : keys) queue.addAfter(key, minutes(5), now);
    now += minutes(5);
    while (auto key = queue.get(now)) queue.done(*key, now);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}

void BM_WorkQueue_AddGetDone(benchmark::State& state) {
  const auto keys = bindingKeys(state.range(0));
  core::RealClock clock;
  runtime::WorkQueue queue(clock);
  for (auto _ : state) {
    for (const auto& key : keys) queue.add(key);
    while (auto key = queue.tryGet()) queue.done(*key);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}

void BM_WorkQueue_Contended(benchmark::State& state) {
  constexpr int kWorkers = 8;
  const auto keys = bindingKeys(state.range(0));
  core::RealClock clock;
  runtime::WorkQueue queue(clock);
  std::atomic<int64_t> handled{0};
  std::vector<std::thread> workers;
  workers.reserve(kWorkers);
  for (int i = 0; i < kWorkers; ++i) {
    workers.emplace_back([&] {
      while (auto key = queue.get()) {
        queue.done(*key);
        handled.fetch_add(1, std::memory_order_relaxed);
      }
    });
  }
  int64_t expected = 0;
  for (auto _ : state) {
    for (const auto& key : keys) queue.add(key);
    expected += static_cast<int64_t>(keys.size());
    // Wait until the workers have taken this round (a merged add counts once, so wait for
    // the queue to empty rather than for an exact count).
    while (queue.len() > 0) std::this_thread::yield();
  }
  queue.shutDownWithDrain(seconds(5));
  for (auto& worker : workers) worker.join();
  state.SetItemsProcessed(handled.load());
  state.counters["added"] = static_cast<double>(expected);
}

BENCHMARK(BM_WorkQueueCore_AddGetDone)->Arg(1)->Arg(1000);
BENCHMARK(BM_WorkQueueCore_AddMerged)->Arg(1000);
BENCHMARK(BM_WorkQueueCore_DelayedResync)->Arg(1000);
BENCHMARK(BM_WorkQueue_AddGetDone)->Arg(1)->Arg(1000);
BENCHMARK(BM_WorkQueue_Contended)->Arg(1000)->UseRealTime();

}  // namespace
}  // namespace endpointbinder::bench
