// computePlan for one binding of 1 / 100 / 1,000 targets:
//   BM_ComputePlan_Steady  every listed target is registered and healthy: the plan is empty.
//                          This is what every resync and every unchanged DNS refresh costs.
//   BM_ComputePlan_Churn   10% of the listing replaced (at least one target): the new targets
//                          are to be registered, half of the removed ones left the listing 10m
//                          ago (past the 3m grace) and fail their health checks (deregistered,
//                          within maxDeregistrationsPerSync: not serving, so the replacements
//                          being registered do not hold them) and half left it 1m ago (held
//                          with a message), so the branches that build text run.
// The tracker is prepared outside the timed loop; computePlan does not modify it.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>

#include "api/manifest.h"
#include "bench/micro/bench_targets.h"
#include "controller/core/endpoint_tracker.h"
#include "controller/core/planner.h"

namespace endpointbinder::bench {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;

api::Policy defaultPolicy() {
  api::Policy policy;
  policy.allowedCidrs = api::defaultAllowedCidrs();
  return policy;
}

void BM_ComputePlan_Steady(benchmark::State& state) {
  const auto n = static_cast<std::uint32_t>(state.range(0));
  const core::MonoTime t0{minutes(60)};
  core::DesiredTargets desired{makeTargets(0, n), false};
  const auto observed = observe(desired.targets, core::TargetState::kHealthy);
  core::EndpointTracker tracker;
  tracker.recordListing(desired.targets, t0);
  tracker.recordObserved(observed, t0);
  const api::Policy policy = defaultPolicy();
  const core::MonoTime now = t0 + seconds(30);

  for (auto _ : state) {
    core::Plan plan = core::computePlan(desired, observed, tracker, policy, now);
    benchmark::DoNotOptimize(plan);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * n);
  state.counters["targets"] = n;
}

void BM_ComputePlan_Churn(benchmark::State& state) {
  const auto n = static_cast<std::uint32_t>(state.range(0));
  const std::uint32_t churn = std::max<std::uint32_t>(1, n / 10);
  const std::uint32_t pastGrace = (churn + 1) / 2;  // removed first, long enough ago
  const std::uint32_t kept = n - churn;

  // Addresses [0, n) were listed and registered. The listing of t0 dropped [0, pastGrace)
  // (absent for 10m at `now`, past the 3m grace; unhealthy since), the listing of t0 + 9m
  // dropped [pastGrace, churn) (absent for 1m, within grace); [n, n + churn) replace them and
  // are not registered yet.
  const auto original = makeTargets(0, n);
  const auto withoutPastGrace = makeTargets(pastGrace, n - pastGrace);
  core::DesiredTargets desired{makeTargets(churn, kept), false};
  const auto added = makeTargets(n, churn);
  desired.targets.insert(desired.targets.end(), added.begin(), added.end());
  auto observed = observe(original, core::TargetState::kHealthy);
  for (std::uint32_t i = 0; i < pastGrace; ++i) {
    observed[i].state = core::TargetState::kUnhealthy;
    observed[i].reason = "Target.Timeout";
  }

  const core::MonoTime t0{minutes(60)};
  const core::MonoTime now = t0 + minutes(10);
  core::EndpointTracker tracker;
  tracker.recordListing(original, t0 - minutes(1));
  tracker.recordListing(withoutPastGrace, t0);
  tracker.recordObserved(observed, t0);
  tracker.recordListing(desired.targets, t0 + minutes(9));
  // As the reconciler does: the current listing, then the group, then the plan.
  tracker.recordListing(desired.targets, now);
  tracker.recordObserved(observed, now);
  const api::Policy policy = defaultPolicy();

  std::size_t writes = 0;
  std::size_t deregistered = 0;
  std::size_t held = 0;
  for (auto _ : state) {
    core::Plan plan = core::computePlan(desired, observed, tracker, policy, now);
    writes = plan.toRegister.size() + plan.toDeregister.size();
    deregistered = plan.toDeregister.size();
    held = plan.held.size();
    benchmark::DoNotOptimize(plan);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * n);
  state.counters["targets"] = n;
  state.counters["writes"] = static_cast<double>(writes);
  state.counters["held"] = static_cast<double>(held);
  // A group of one keeps its target (minTargets 1): then it is held, not deregistered.
  const std::size_t wantDeregistered = n > 1 ? pastGrace : 0;
  if (deregistered != wantDeregistered || deregistered + held != churn) {
    state.SkipWithError("the plan is not the one this benchmark describes");
  }
}

BENCHMARK(BM_ComputePlan_Steady)->Arg(1)->Arg(100)->Arg(1000);
BENCHMARK(BM_ComputePlan_Churn)->Arg(1)->Arg(100)->Arg(1000);

}  // namespace
}  // namespace endpointbinder::bench
