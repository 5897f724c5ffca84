#include "controller/runtime/notification.h"

#include <algorithm>
#include <variant>

#include "api/syntax.h"

namespace endpointbinder::runtime {
namespace {

api::NotificationEvent filterEvent(NoticeKind kind) {
  switch (kind) {
    case NoticeKind::kRegistered:
      return api::NotificationEvent::kRegistered;
    case NoticeKind::kDeregistered:
      return api::NotificationEvent::kDeregistered;
    case NoticeKind::kBlocked:
      return api::NotificationEvent::kBlocked;
    case NoticeKind::kConflict:
      return api::NotificationEvent::kConflict;
    case NoticeKind::kFailing:
    case NoticeKind::kRecovered:
      break;
  }
  return api::NotificationEvent::kFailing;
}

// Appends `more` to `targets` without repeats, naming at most kMaxNamedTargets.
void mergeTargets(std::vector<std::string>& targets, const std::vector<std::string>& more) {
  for (const auto& t : more) {
    if (targets.size() >= kMaxNamedTargets) return;
    if (std::find(targets.begin(), targets.end(), t) == targets.end()) targets.push_back(t);
  }
}

std::vector<std::string> keysOf(std::span<const core::Target> targets) {
  std::vector<std::string> out;
  for (const auto& t : targets) {
    if (out.size() >= kMaxNamedTargets) break;
    out.push_back(t.key());
  }
  return out;
}

}  // namespace

std::string countedNoun(size_t n, const char* word) {
  return std::to_string(n) + " " + word + (n == 1 ? "" : "s");
}

const char* noticeKindName(NoticeKind kind) {
  switch (kind) {
    case NoticeKind::kRegistered:
      return "Registered";
    case NoticeKind::kDeregistered:
      return "Deregistered";
    case NoticeKind::kBlocked:
      return "Blocked";
    case NoticeKind::kConflict:
      return "Conflict";
    case NoticeKind::kFailing:
      return "Failing";
    case NoticeKind::kRecovered:
      return "Recovered";
  }
  return "Unknown";
}

void Notice::add(const NoticeContext& latest, NoticeEvent event) {
  context = latest;
  for (auto& existing : events) {
    if (existing.kind != event.kind) continue;
    switch (event.kind) {
      case NoticeKind::kRegistered:
      case NoticeKind::kDeregistered:
        mergeTargets(existing.targets, event.targets);
        existing.count += event.count;
        existing.time = event.time;
        if (existing.detail != event.detail && !event.detail.empty()) {
          existing.detail = event.detail;
        }
        return;
      case NoticeKind::kBlocked:
        if (existing.reason != event.reason) continue;
        existing = std::move(event);
        return;
      case NoticeKind::kConflict:
      case NoticeKind::kFailing:
        existing = std::move(event);
        return;
      case NoticeKind::kRecovered:
        if (existing.recovers != event.recovers) continue;
        existing = std::move(event);
        return;
    }
  }
  events.push_back(std::move(event));
}

void Notice::absorb(Notice later) {
  for (auto& event : later.events) add(later.context, std::move(event));
  context = std::move(later.context);
}

std::vector<NoticeKind> Notice::kinds() const {
  std::vector<NoticeKind> out;
  for (const auto& e : events) {
    if (std::find(out.begin(), out.end(), e.kind) == out.end()) out.push_back(e.kind);
  }
  return out;
}

std::string Notice::id() const {
  std::string id;
  for (char c : context.key) id.push_back(c == '/' ? '.' : c);
  return id + "-" + std::to_string(sequence);
}

bool entryWants(const api::Notification& entry, const NoticeEvent& event) {
  const api::NotificationEvent wanted =
      event.kind == NoticeKind::kRecovered ? filterEvent(event.recovers) : filterEvent(event.kind);
  return std::find(entry.on.begin(), entry.on.end(), wanted) != entry.on.end();
}

std::string describeSource(const api::Source& source) {
  std::string text = api::sourceKindName(source);
  if (const auto* dns = std::get_if<api::DnsSource>(&source)) {
    text += " " + dns->hostname;
  } else if (const auto* fleet = std::get_if<api::SpotFleetSource>(&source)) {
    text += " " + fleet->requestId;
  } else if (const auto* group = std::get_if<api::AutoScalingGroupSource>(&source)) {
    text += " " + group->name;
  }
  return text;
}

NotificationTracker::Result NotificationTracker::onReport(const ReconcileReport& report) {
  const auto& binding = *report.binding;
  const auto& spec = binding.spec;
  Result out;
  out.context.key = binding.metadata.key();
  out.context.ns = binding.metadata.ns;
  out.context.name = binding.metadata.name;
  out.context.targetGroupArn = spec.targetGroupArn.text;
  out.context.targetGroupName = spec.targetGroupArn.name;
  out.context.source = describeSource(spec.source);
  out.context.time = report.time;
  auto& memory = bindings_[out.context.key];
  auto raise = [&](NoticeEvent event) {
    event.time = report.time;
    out.events.push_back(std::move(event));
  };

  switch (report.kind) {
    case ReconcileReport::Kind::kFailed: {
      ++memory.failures;
      if (memory.failures >= options_.failingAfter && !memory.failingAnnounced) {
        memory.failingAnnounced = true;
        const core::Error& error = *report.error;
        NoticeEvent event;
        event.kind = NoticeKind::kFailing;
        event.count = memory.failures;
        event.reason = error.code.empty() ? core::errorKindName(error.kind) : error.code;
        event.detail = countedNoun(static_cast<size_t>(memory.failures), "reconcile") +
                       " in a row failed; the last error: " + error.toString();
        raise(std::move(event));
      }
      return out;
    }
    case ReconcileReport::Kind::kConflict: {
      const std::string message(report.message);
      if (!memory.conflictAnnounced || memory.conflictMessage != message) {
        memory.conflictAnnounced = true;
        memory.conflictMessage = message;
        NoticeEvent event;
        event.kind = NoticeKind::kConflict;
        event.detail = message + "; nothing is written to the target group until this is resolved";
        raise(std::move(event));
      }
      return out;
    }
    case ReconcileReport::Kind::kSynced:
      break;
  }

  out.context.counts = report.counts;
  if (memory.failingAnnounced) {
    NoticeEvent event;
    event.kind = NoticeKind::kRecovered;
    event.recovers = NoticeKind::kFailing;
    event.reason = "Failing";
    event.detail = "synced again after " +
                   countedNoun(static_cast<size_t>(memory.failures), "failed reconcile");
    raise(std::move(event));
  }
  memory.failures = 0;
  memory.failingAnnounced = false;
  if (memory.conflictAnnounced) {
    NoticeEvent event;
    event.kind = NoticeKind::kRecovered;
    event.recovers = NoticeKind::kConflict;
    event.reason = "Conflict";
    event.detail = "the target group is owned by this binding again";
    raise(std::move(event));
    memory.conflictAnnounced = false;
    memory.conflictMessage.clear();
  }

  if (!report.registered.empty()) {
    NoticeEvent event;
    event.kind = NoticeKind::kRegistered;
    event.targets = keysOf(report.registered);
    event.count = static_cast<int>(report.registered.size());
    event.detail = "listed by the " + out.context.source + " source";
    raise(std::move(event));
  }
  if (!report.deregistered.empty()) {
    std::set<std::string> listed;
    for (const auto& t : report.listed) listed.insert(t.key());
    size_t stillListed = 0;
    for (const auto& t : report.deregistered) stillListed += listed.count(t.key());
    NoticeEvent event;
    event.kind = NoticeKind::kDeregistered;
    event.targets = keysOf(report.deregistered);
    event.count = static_cast<int>(report.deregistered.size());
    const std::string grace = api::formatDuration(spec.policy.deregistrationGracePeriod);
    if (stillListed == 0) {
      event.detail = "no longer listed by the " + out.context.source + " source (for at least " +
                     grace + ", policy.deregistrationGracePeriod)";
    } else if (stillListed == report.deregistered.size()) {
      event.detail = "unhealthy for longer than policy.unhealthyGracePeriod (" +
                     api::formatDuration(spec.policy.unhealthyGracePeriod) + ")";
    } else {
      event.detail = std::to_string(report.deregistered.size() - stillListed) +
                     " no longer listed by the source (grace " + grace + "), " +
                     std::to_string(stillListed) + " unhealthy past policy.unhealthyGracePeriod";
    }
    raise(std::move(event));
  }

  // Safety holds: one event per rule when it starts holding.
  std::map<std::string, NoticeEvent> holds;
  for (const auto& held : report.held) {
    if (held.reason == core::HoldReason::kWithinGracePeriod) continue;  // routine, not news
    const std::string reason = core::holdReasonName(held.reason);
    auto& event = holds[reason];
    if (event.count == 0) {
      event.kind = NoticeKind::kBlocked;
      event.reason = reason;
      event.detail = held.target.key() + ": " + held.message;
    }
    ++event.count;
    if (event.targets.size() < kMaxNamedTargets) event.targets.push_back(held.target.key());
  }
  std::set<std::string> blocking;
  for (auto& [reason, event] : holds) {
    blocking.insert(reason);
    if (memory.blocking.contains(reason)) continue;
    event.detail = countedNoun(static_cast<size_t>(event.count), "change") + " held by " + reason +
                   " (" + event.detail + ")";
    raise(std::move(event));
  }
  memory.blocking = std::move(blocking);
  return out;
}

}  // namespace endpointbinder::runtime
