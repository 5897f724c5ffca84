// BindingStatus: what the controller reports about one binding — the Kubernetes-style
// status (observedGeneration, conditions, counts, last plan, last error) plus recent events.
// Kept in memory by StatusStore; served by the status API and printed by `get`/`describe`.
// Thread-safety: plain values; StatusStore synchronises access.
#pragma once

#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "api/manifest.h"
#include "controller/core/clock.h"
#include "controller/core/planner.h"

namespace endpointbinder::runtime {

enum class ConditionStatus { kTrue, kFalse, kUnknown };
const char* conditionStatusName(ConditionStatus status);  // "True" / "False" / "Unknown"

// Condition types used: "Ready", "Synced", "SourceResolved", "Conflict".
struct Condition {
  std::string type;
  ConditionStatus status = ConditionStatus::kUnknown;
  std::string reason;   // CamelCase, e.g. "SourceFailing", "TargetGroupOwnedByOther"
  std::string message;  // for humans
  core::WallTime lastTransitionTime{};
};

enum class EventType { kNormal, kWarning };

struct Event {
  core::WallTime time{};
  EventType type = EventType::kNormal;
  std::string reason;  // "Registered", "Deregistered", "Blocked", "Conflict", "SyncFailed", ...
  std::string message;
  int count = 1;  // repeats of the same (type, reason, message) are folded, like kubectl
};

struct TargetCounts {
  int desired = 0;     // listed by the source
  int registered = 0;  // in the group and not leaving (core::isRegistered)
  int healthy = 0;
  int unhealthy = 0;
  int draining = 0;
  int initial = 0;
  int missing = 0;     // drift: desired but not registered
  int unexpected = 0;  // drift: registered but not desired
};

struct PlanSummary {
  std::vector<std::string> toRegister;  // target keys "id:port"
  std::vector<std::string> toDeregister;
  std::vector<std::string> held;  // "id:port: Reason: message"
  bool applied = false;           // false in --dry-run or when blocked
  core::WallTime time{};
};

struct BindingStatus {
  std::string kind = "TargetGroupBinding";
  std::string ns;
  std::string name;
  std::string generation;          // the spec generation being reconciled
  std::string observedGeneration;  // the generation of the last completed reconcile
  // The spec for the status API: the controller's own statuses share the reconciler's (and
  // render it on request: kept as JSON text it was 1.2 MB at 1,000 bindings); a status read
  // back from the API (the CLI) has it as JSON text. specText() gives either.
  std::shared_ptr<const api::TargetGroupBindingSpec> spec;
  std::string specJson;
  std::string targetGroupArn;
  std::vector<Condition> conditions;
  TargetCounts counts;
  std::optional<PlanSummary> lastPlan;
  std::string lastError;
  std::optional<core::WallTime> lastSyncTime;  // last successful sync
  std::optional<core::WallTime> lastAttemptTime;
  core::WallTime creationTime{};  // when the controller first saw it
  std::vector<Event> events;      // newest last, bounded

  const Condition* condition(const std::string& type) const;
  bool ready() const;
  // The spec as JSON: specJson when set, else `spec` rendered; "" when neither is.
  std::string specText() const;
};

// Thread-safe store of every binding's status, keyed by "namespace/name".
class StatusStore {
 public:
  explicit StatusStore(size_t maxEventsPerBinding = 50) : maxEvents_(maxEventsPerBinding) {}

  // Applies `mutate` to the binding's status (created if absent) under the lock.
  template <typename F>
  void update(const std::string& key, F&& mutate) {
    std::lock_guard lock(mu_);
    auto& status = statuses_[key];
    mutate(status);
    trimEvents(status);
  }
  // Sets a condition; lastTransitionTime changes only when the status value changes.
  static void setCondition(BindingStatus& status, Condition condition);
  // Appends an event, folding it into the previous one when type, reason and message match.
  static void addEvent(BindingStatus& status, Event event);

  std::optional<BindingStatus> get(const std::string& key) const;
  std::vector<BindingStatus> list() const;  // sorted by key
  void erase(const std::string& key);

 private:
  void trimEvents(BindingStatus& status) const;

  mutable std::mutex mu_;
  std::map<std::string, BindingStatus> statuses_;
  size_t maxEvents_;
};

}  // namespace endpointbinder::runtime
