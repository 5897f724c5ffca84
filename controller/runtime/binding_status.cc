#include "controller/runtime/binding_status.h"

#include "api/spec_json.h"

namespace endpointbinder::runtime {

const char* conditionStatusName(ConditionStatus status) {
  switch (status) {
    case ConditionStatus::kTrue:
      return "True";
    case ConditionStatus::kFalse:
      return "False";
    case ConditionStatus::kUnknown:
      return "Unknown";
  }
  return "Unknown";
}

const Condition* BindingStatus::condition(const std::string& type) const {
  for (const auto& c : conditions) {
    if (c.type == type) return &c;
  }
  return nullptr;
}

bool BindingStatus::ready() const {
  const auto* c = condition("Ready");
  return c != nullptr && c->status == ConditionStatus::kTrue;
}

std::string BindingStatus::specText() const {
  if (!specJson.empty() || !spec) return specJson;
  return api::specToJson(*spec);
}

void StatusStore::setCondition(BindingStatus& status, Condition condition) {
  for (auto& existing : status.conditions) {
    if (existing.type != condition.type) continue;
    if (existing.status == condition.status) {
      condition.lastTransitionTime = existing.lastTransitionTime;
    }
    existing = std::move(condition);
    return;
  }
  status.conditions.push_back(std::move(condition));
}

void StatusStore::addEvent(BindingStatus& status, Event event) {
  if (!status.events.empty()) {
    auto& last = status.events.back();
    if (last.type == event.type && last.reason == event.reason && last.message == event.message) {
      last.count += 1;
      last.time = event.time;
      return;
    }
  }
  status.events.push_back(std::move(event));
}

std::optional<BindingStatus> StatusStore::get(const std::string& key) const {
  std::lock_guard lock(mu_);
  auto it = statuses_.find(key);
  if (it == statuses_.end()) return std::nullopt;
  return it->second;
}

std::vector<BindingStatus> StatusStore::list() const {
  std::lock_guard lock(mu_);
  std::vector<BindingStatus> out;
  out.reserve(statuses_.size());
  for (const auto& [key, status] : statuses_) out.push_back(status);
  return out;
}

void StatusStore::erase(const std::string& key) {
  std::lock_guard lock(mu_);
  statuses_.erase(key);
}

void StatusStore::trimEvents(BindingStatus& status) const {
  if (status.events.size() > maxEvents_) {
    status.events.erase(
        status.events.begin(),
        status.events.begin() + static_cast<long>(status.events.size() - maxEvents_));
  }
}

}  // namespace endpointbinder::runtime
