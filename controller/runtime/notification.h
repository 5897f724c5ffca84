// Notifications: what is worth telling operators about a binding, derived from what the
// reconciler reports (ReconcileReport), and how the events of one binding are folded into one
// message. Pure: no I/O, no threads, no clock of its own (times come with the reports).
//
// Events (NoticeKind) and when they are raised:
//   Registered    a sync wrote RegisterTargets (the targets, and why: the source lists them)
//   Deregistered  a sync wrote DeregisterTargets (the targets; why: no longer listed past the
//                 grace period, or unhealthy past unhealthyGracePeriod while still listed)
//   Blocked       a plan holds changes back for a safety rule (MinTargets, SourceFailing,
//                 MaxDeregistrationsPerSync, ...; never the routine WithinGracePeriod): once
//                 when the rule starts holding, not again while it keeps holding
//   Conflict      the target group is claimed by someone else: when it starts or its holder
//                 changes
//   Failing       `failingAfter` reconciles in a row failed: once per streak, with the last error
//   Recovered     a sync succeeded after a Failing or a Conflict was announced
// The manifest's `on:` filter names the first five; Recovered goes wherever the event it ends
// (Failing or Conflict) would go.
//
// Coalescing: a Notice is one message about one binding. Events merge into it: Registered and
// Deregistered accumulate their targets, Blocked merges per rule, Conflict and Failing keep the
// latest word, Recovered is appended. The context (target group, counts) is the latest.
// Thread-safety: NotificationTracker is not thread-safe (one owner thread); the rest are values.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "api/manifest.h"
#include "controller/core/clock.h"
#include "controller/runtime/binding_status.h"
#include "controller/runtime/reconcile_observer.h"

namespace endpointbinder::runtime {

enum class NoticeKind { kRegistered, kDeregistered, kBlocked, kConflict, kFailing, kRecovered };
const char* noticeKindName(NoticeKind kind);  // "Registered", ..., "Recovered"

struct NoticeEvent {
  NoticeKind kind = NoticeKind::kRegistered;
  core::WallTime time{};
  std::vector<std::string> targets{};  // "10.0.1.5:443"; Blocked: the held targets
  int count = 0;                       // changes concerned (may exceed targets.size() when capped)
  std::string reason{};                // Blocked: the hold reason; Conflict: the holder;
                                       // Failing: the error code; Recovered: what it recovered from
  std::string detail{};                // why, for humans
  // Recovered only: the event whose end it announces (kFailing or kConflict); routes it.
  NoticeKind recovers = NoticeKind::kFailing;
};

// The binding as the latest report saw it.
struct NoticeContext {
  std::string key{};  // "namespace/name"
  std::string ns{};
  std::string name{};
  std::string targetGroupArn{};
  std::string targetGroupName{};
  std::string source{};  // "dns app.internal", "static", "ec2", ...
  std::optional<TargetCounts> counts{};
  core::WallTime time{};
};

// One message: the events of one binding, coalesced.
struct Notice {
  NoticeContext context;
  std::vector<NoticeEvent>
      events;                  // in order of first occurrence, one per kind (Blocked: per rule)
  std::uint64_t sequence = 0;  // unique per process and destination: message ids

  // Folds `event` in (see the header comment) and takes `context` as the latest.
  void add(const NoticeContext& latest, NoticeEvent event);
  // Appends `later`'s events after this one's (a retried message taking newer events in).
  void absorb(Notice later);
  std::vector<NoticeKind> kinds() const;  // distinct, in order
  // "prod/web-0123456789abcdef-42": an id unique to this message (SNS deduplication, Chatbot).
  std::string id() const;
};

// At most this many targets are named per event; the count says how many there were.
inline constexpr size_t kMaxNamedTargets = 20;

// Whether a manifest entry wants `event` (Recovered: when it wants what was recovered from).
bool entryWants(const api::Notification& entry, const NoticeEvent& event);

// "dns app.internal", "static", "ec2", "spotFleet sfr-…", "autoScalingGroup web-asg".
std::string describeSource(const api::Source& source);

struct TrackerOptions {
  int failingAfter = 3;  // failed reconciles in a row before Failing
};

// Per-binding memory that turns reports into events. Bindings it is told to forget (deleted)
// start afresh.
class NotificationTracker {
 public:
  explicit NotificationTracker(TrackerOptions options = {}) : options_(options) {}

  struct Result {
    NoticeContext context;
    std::vector<NoticeEvent> events;
  };
  // The events `report` raises for its binding (often none).
  Result onReport(const ReconcileReport& report);
  void forget(const std::string& key) { bindings_.erase(key); }

 private:
  struct Memory {
    int failures = 0;  // failed reconciles in a row
    bool failingAnnounced = false;
    bool conflictAnnounced = false;
    std::string conflictMessage;
    std::set<std::string> blocking;  // hold reasons held at the last sync
  };
  TrackerOptions options_;
  std::map<std::string, Memory> bindings_;
};

// "1 target", "3 targets": a count and a noun that takes a plain -s (notices are English).
std::string countedNoun(size_t n, const char* word);

}  // namespace endpointbinder::runtime
