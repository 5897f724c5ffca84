// Reconciler: makes one TargetGroupBinding's target group match its source, once per call.
//
// Level-triggered (controller-runtime style): reconcile(key) reads the desired spec, the
// source listing and the observed target group afresh (from caches) and computes the whole
// difference; why it was called does not matter. Steps:
//   1. desired spec (gone -> apply deletionPolicy, forget the binding)
//   2. verify the target group once per spec generation: it exists, its type matches, its
//      port is known; claim it with the owner tag, or report Conflict and write nothing
//   3. source snapshot -> EndpointTracker;  observed snapshot (cached) -> EndpointTracker
//   4. computePlan (pure); if it writes, re-read the group and plan again before writing
//   5. apply (batched Register/Deregister), record expectations, update status and events
// Returns an Error for failures worth retrying with backoff, else an optional requeue delay
// (the next grace-period deadline), never both.
// Thread-safety: reconcile() may run concurrently for different keys, never for one key
// (the work queue guarantees it).
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "api/manifest.h"
#include "controller/aws/elbv2.h"
#include "controller/core/clock.h"
#include "controller/core/endpoint_tracker.h"
#include "controller/core/error.h"
#include "controller/core/log.h"
#include "controller/runtime/binding_status.h"
#include "controller/runtime/observed_cache.h"
#include "controller/runtime/source_provider.h"

namespace endpointbinder::runtime {

class ControllerMetrics;

// The desired state as the reconciler needs it: the spec, and whether it is a kept last-good
// spec because the manifest's current version is invalid.
struct DesiredBinding {
  api::TargetGroupBinding binding;
  bool stale = false;
  std::string staleReason;
};
using DesiredLookup = std::function<std::optional<DesiredBinding>(const std::string& key)>;

struct ReconcilerOptions {
  std::string controllerId = "endpoint-binder";  // owner tag: <controllerId>/<namespace>/<name>
  bool dryRun = false;                           // plan and report, never write
  std::chrono::nanoseconds resyncPeriod = std::chrono::minutes(5);
};

inline constexpr const char* kOwnerTagKey = "endpointbinder.io/owner";

struct ReconcileResult {
  std::optional<std::chrono::nanoseconds> requeueAfter;
};

class Reconciler {
 public:
  struct Deps {
    DesiredLookup desired;
    SourceProvider& sources;
    aws::TargetGroupApi& api;
    ObservedCache& observed;
    StatusStore& status;
    const core::Clock& clock;
    core::Logger& log;
    ControllerMetrics* metrics = nullptr;  // optional
  };

  Reconciler(Deps deps, ReconcilerOptions options);

  core::Result<ReconcileResult> reconcile(const std::string& key);

  // The owner tag value this controller writes for a binding key ("ns/name").
  std::string ownerValue(const std::string& key) const;

 private:
  struct BindingState {
    api::TargetGroupBinding lastSpec;  // for deletionPolicy after the manifest is gone
    std::string verifiedGeneration;    // target group checked for this generation
    int targetGroupPort = 0;
    bool owned = false;
    core::EndpointTracker tracker;
    std::optional<core::MonoTime> refreshDueAt;  // re-read the group after our writes
  };

  core::Result<ReconcileResult> reconcileDeleted(const std::string& key);
  // Checks type/port/ownership once per generation; returns false (status set) on Conflict.
  core::Result<bool> verifyTargetGroup(const std::string& key, const DesiredBinding& desired,
                                       BindingState& state);
  void recordFailure(const std::string& key, const std::string& generation,
                     const core::Error& error);
  BindingState& stateFor(const std::string& key);

  Deps deps_;
  ReconcilerOptions options_;
  std::mutex mu_;  // guards the map, not the entries (one reconcile per key at a time)
  std::map<std::string, std::unique_ptr<BindingState>> states_;
};

}  // namespace endpointbinder::runtime
