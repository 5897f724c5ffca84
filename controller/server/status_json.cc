#include "controller/server/status_json.h"

#include <array>
#include <charconv>
#include <cstdio>
#include <optional>
#include <system_error>
#include <utility>

#include "controller/runtime/json_logger.h"

namespace endpointbinder::server {
namespace {

using runtime::BindingStatus;
using runtime::Condition;
using runtime::ConditionStatus;
using runtime::Event;
using runtime::EventType;
using runtime::PlanSummary;
using web::json::value;

value objectInOrder() { return value::object(/*keep_order=*/true); }

value stringArray(const std::vector<std::string>& items) {
  auto out = value::array(items.size());
  for (std::size_t i = 0; i < items.size(); ++i) out[i] = value::string(items[i]);
  return out;
}

const char* eventTypeName(EventType type) {
  return type == EventType::kWarning ? "Warning" : "Normal";
}

std::unexpected<core::Error> badField(std::string_view path, std::string_view what) {
  return core::makeError(core::ErrorKind::kTerminal,
                         "status JSON: " + std::string(path) + ": " + std::string(what));
}

// Typed access to optional fields of a JSON object; the first problem is kept in `error`.
class FieldReader {
 public:
  FieldReader(const value& object, std::string path) : object_(object), path_(std::move(path)) {}

  const value* field(const char* name) const {
    if (!object_.is_object() || !object_.has_field(name)) return nullptr;
    const auto& v = object_.at(name);
    return v.is_null() ? nullptr : &v;
  }

  std::string string(const char* name, bool required = false) {
    const value* v = field(name);
    if (v == nullptr) {
      if (required) fail(name, "required string is missing");
      return {};
    }
    if (!v->is_string()) {
      fail(name, "not a string");
      return {};
    }
    return v->as_string();
  }

  int integer(const char* name) {
    const value* v = field(name);
    if (v == nullptr) return 0;
    if (!v->is_integer()) {
      fail(name, "not an integer");
      return 0;
    }
    return v->as_integer();
  }

  bool boolean(const char* name) {
    const value* v = field(name);
    if (v == nullptr) return false;
    if (!v->is_boolean()) {
      fail(name, "not a boolean");
      return false;
    }
    return v->as_bool();
  }

  std::optional<core::WallTime> time(const char* name) {
    const value* v = field(name);
    if (v == nullptr) return std::nullopt;
    if (!v->is_string()) {
      fail(name, "not an RFC 3339 time string");
      return std::nullopt;
    }
    auto parsed = parseRfc3339(v->as_string());
    if (!parsed) {
      fail(name, parsed.error().message);
      return std::nullopt;
    }
    return *parsed;
  }

  std::vector<std::string> strings(const char* name) {
    std::vector<std::string> out;
    const value* v = field(name);
    if (v == nullptr) return out;
    if (!v->is_array()) {
      fail(name, "not an array");
      return out;
    }
    for (const auto& item : v->as_array()) {
      if (!item.is_string()) {
        fail(name, "array item is not a string");
        return {};
      }
      out.push_back(item.as_string());
    }
    return out;
  }

  // An object field, or nullptr when absent; a non-object is an error.
  const value* object(const char* name) {
    const value* v = field(name);
    if (v != nullptr && !v->is_object()) {
      fail(name, "not an object");
      return nullptr;
    }
    return v;
  }

  const value* array(const char* name) {
    const value* v = field(name);
    if (v != nullptr && !v->is_array()) {
      fail(name, "not an array");
      return nullptr;
    }
    return v;
  }

  std::string path(const char* name) const { return path_.empty() ? name : path_ + "." + name; }

  void fail(const char* name, std::string_view what) {
    if (!error) error = badField(path(name), what).error();
  }

  std::optional<core::Error> error;

 private:
  const value& object_;
  std::string path_;
};

ConditionStatus parseConditionStatus(std::string_view text) {
  if (text == "True") return ConditionStatus::kTrue;
  if (text == "False") return ConditionStatus::kFalse;
  return ConditionStatus::kUnknown;
}

bool parseDigits(std::string_view text, std::size_t at, std::size_t count, int& out) {
  if (at + count > text.size()) return false;
  out = 0;
  for (std::size_t i = at; i < at + count; ++i) {
    if (text[i] < '0' || text[i] > '9') return false;
    out = out * 10 + (text[i] - '0');
  }
  return true;
}

}  // namespace

std::string formatRfc3339(core::WallTime time) {
  return runtime::formatRfc3339(time, /*milliseconds=*/false);
}

core::Result<core::WallTime> parseRfc3339(std::string_view text) {
  using namespace std::chrono;
  auto bad = [&] {
    return core::makeError(core::ErrorKind::kTerminal,
                           "not an RFC 3339 time: \"" + std::string(text) + "\"");
  };
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (text.size() < 20 || !parseDigits(text, 0, 4, year) || text[4] != '-' ||
      !parseDigits(text, 5, 2, month) || text[7] != '-' || !parseDigits(text, 8, 2, day) ||
      (text[10] != 'T' && text[10] != 't') || !parseDigits(text, 11, 2, hour) || text[13] != ':' ||
      !parseDigits(text, 14, 2, minute) || text[16] != ':' || !parseDigits(text, 17, 2, second)) {
    return bad();
  }
  const year_month_day ymd{std::chrono::year(year), std::chrono::month(month),
                           std::chrono::day(day)};
  if (!ymd.ok() || hour > 23 || minute > 59 || second > 59) return bad();

  std::size_t at = 19;
  microseconds fraction{0};
  if (at < text.size() && text[at] == '.') {
    ++at;
    const std::size_t start = at;
    long long micros = 0;
    int digits = 0;
    while (at < text.size() && text[at] >= '0' && text[at] <= '9') {
      if (digits < 6) {
        micros = micros * 10 + (text[at] - '0');
        ++digits;
      }
      ++at;
    }
    if (at == start) return bad();
    for (; digits < 6; ++digits) micros *= 10;
    fraction = microseconds(micros);
  }
  minutes offset{0};
  if (at < text.size() && (text[at] == 'Z' || text[at] == 'z')) {
    ++at;
  } else if (at < text.size() && (text[at] == '+' || text[at] == '-')) {
    int offsetHours = 0, offsetMinutes = 0;
    if (!parseDigits(text, at + 1, 2, offsetHours) || at + 3 >= text.size() ||
        text[at + 3] != ':' || !parseDigits(text, at + 4, 2, offsetMinutes) || offsetHours > 23 ||
        offsetMinutes > 59) {
      return bad();
    }
    offset = hours(offsetHours) + minutes(offsetMinutes);
    if (text[at] == '-') offset = -offset;
    at += 6;
  } else {
    return bad();
  }
  if (at != text.size()) return bad();

  const auto local = sys_days(ymd) + hours(hour) + minutes(minute) + seconds(second) + fraction;
  return core::WallTime(
      duration_cast<core::WallTime::duration>((local - offset).time_since_epoch()));
}

web::json::value specObject(const BindingStatus& status) {
  const std::string text = status.specText();
  if (text.empty()) return value::object();
  std::error_code error;
  auto parsed = value::parse(text, error);
  return !error && parsed.is_object() ? parsed : value::object();
}

web::json::value bindingToJson(const BindingStatus& status) {
  auto out = objectInOrder();
  out["apiVersion"] = value::string(kApiVersion);
  out["kind"] = value::string(status.kind);

  auto metadata = objectInOrder();
  metadata["name"] = value::string(status.name);
  metadata["namespace"] = value::string(status.ns);
  metadata["generation"] = value::string(status.generation);
  metadata["creationTimestamp"] = value::string(formatRfc3339(status.creationTime));
  out["metadata"] = metadata;

  value spec = specObject(status);
  const bool records = isRecordBinding(status);
  if (records) {
    if (!spec.has_field("hostedZoneId") && !status.targetGroupArn.empty()) {
      spec["hostedZoneId"] = value::string(hostedZoneIdOf(status));
    }
  } else if (!spec.has_field("targetGroupARN") && !status.targetGroupArn.empty()) {
    spec["targetGroupARN"] = value::string(status.targetGroupArn);
  }
  out["spec"] = spec;

  auto st = objectInOrder();
  st["observedGeneration"] = value::string(status.observedGeneration);
  auto conditions = value::array(status.conditions.size());
  for (std::size_t i = 0; i < status.conditions.size(); ++i) {
    const auto& c = status.conditions[i];
    auto condition = objectInOrder();
    condition["type"] = value::string(c.type);
    condition["status"] = value::string(runtime::conditionStatusName(c.status));
    condition["reason"] = value::string(c.reason);
    condition["message"] = value::string(c.message);
    condition["lastTransitionTime"] = value::string(formatRfc3339(c.lastTransitionTime));
    conditions[i] = condition;
  }
  st["conditions"] = conditions;

  if (records) {
    // Counts of names: present is what BindingStatus keeps as registered.
    auto counts = objectInOrder();
    counts["desired"] = value::number(status.counts.desired);
    counts["present"] = value::number(status.counts.registered);
    counts["missing"] = value::number(status.counts.missing);
    counts["unexpected"] = value::number(status.counts.unexpected);
    st["records"] = counts;
  }
  auto targets = objectInOrder();
  targets["desired"] = value::number(status.counts.desired);
  targets["registered"] = value::number(status.counts.registered);
  targets["healthy"] = value::number(status.counts.healthy);
  targets["unhealthy"] = value::number(status.counts.unhealthy);
  targets["draining"] = value::number(status.counts.draining);
  targets["initial"] = value::number(status.counts.initial);
  targets["missing"] = value::number(status.counts.missing);
  targets["unexpected"] = value::number(status.counts.unexpected);
  if (!records) st["targets"] = targets;

  if (status.lastPlan) {
    const auto& p = *status.lastPlan;
    auto plan = objectInOrder();
    plan["toRegister"] = stringArray(p.toRegister);
    plan["toDeregister"] = stringArray(p.toDeregister);
    plan["held"] = stringArray(p.held);
    plan["applied"] = value::boolean(p.applied);
    plan["time"] = value::string(formatRfc3339(p.time));
    st["lastPlan"] = plan;
  }
  st["lastError"] = value::string(status.lastError);
  if (status.lastSyncTime) st["lastSyncTime"] = value::string(formatRfc3339(*status.lastSyncTime));
  if (status.lastAttemptTime) {
    st["lastAttemptTime"] = value::string(formatRfc3339(*status.lastAttemptTime));
  }
  auto events = value::array(status.events.size());
  for (std::size_t i = 0; i < status.events.size(); ++i) {
    const auto& e = status.events[i];
    auto event = objectInOrder();
    event["type"] = value::string(eventTypeName(e.type));
    event["reason"] = value::string(e.reason);
    event["message"] = value::string(e.message);
    event["count"] = value::number(e.count);
    event["lastTimestamp"] = value::string(formatRfc3339(e.time));
    events[i] = event;
  }
  st["events"] = events;
  out["status"] = st;
  return out;
}

web::json::value bindingListToJson(const std::vector<BindingStatus>& statuses,
                                   std::string_view listKind) {
  auto out = objectInOrder();
  out["apiVersion"] = value::string(kApiVersion);
  out["kind"] = value::string(std::string(listKind));
  out["metadata"] = value::object();
  auto items = value::array(statuses.size());
  for (std::size_t i = 0; i < statuses.size(); ++i) items[i] = bindingToJson(statuses[i]);
  out["items"] = items;
  return out;
}

web::json::value errorStatusJson(int code, std::string_view message) {
  const char* reason = "InternalError";
  if (code == 404) reason = "NotFound";
  if (code == 405) reason = "MethodNotAllowed";
  if (code == 400 || code == 411 || code == 505) reason = "BadRequest";
  if (code == 408) reason = "Timeout";
  if (code == 413 || code == 431) reason = "RequestEntityTooLarge";
  auto out = objectInOrder();
  out["kind"] = value::string("Status");
  out["apiVersion"] = value::string("v1");
  out["metadata"] = value::object();
  out["status"] = value::string("Failure");
  out["message"] = value::string(std::string(message));
  out["reason"] = value::string(reason);
  out["code"] = value::number(code);
  return out;
}

core::Result<BindingStatus> bindingFromJson(const web::json::value& json) {
  if (!json.is_object()) return badField("(root)", "not an object");
  BindingStatus status;
  FieldReader root(json, "");
  status.kind = root.string("kind", /*required=*/true);

  const value* metadata = root.object("metadata");
  if (metadata == nullptr && !root.error) root.fail("metadata", "required object is missing");
  if (root.error) return std::unexpected(*root.error);
  FieldReader meta(*metadata, "metadata");
  status.name = meta.string("name", /*required=*/true);
  status.ns = meta.string("namespace");
  status.generation = meta.string("generation");
  if (auto created = meta.time("creationTimestamp")) status.creationTime = *created;
  if (meta.error) return std::unexpected(*meta.error);

  if (const value* spec = root.object("spec")) {
    status.specJson = spec->serialize();
    FieldReader specReader(*spec, "spec");
    if (isRecordBinding(status)) {
      const std::string zone = specReader.string("hostedZoneId");
      if (!zone.empty()) status.targetGroupArn = std::string(kHostedZonePrefix) + zone;
    } else {
      status.targetGroupArn = specReader.string("targetGroupARN");
    }
    if (specReader.error) return std::unexpected(*specReader.error);
  }
  if (root.error) return std::unexpected(*root.error);

  const value* st = root.object("status");
  if (root.error) return std::unexpected(*root.error);
  if (st == nullptr) return status;
  FieldReader s(*st, "status");
  status.observedGeneration = s.string("observedGeneration");
  if (const value* conditions = s.array("conditions")) {
    for (const auto& item : conditions->as_array()) {
      if (!item.is_object()) {
        s.fail("conditions", "item is not an object");
        break;
      }
      FieldReader c(item, s.path("conditions[]"));
      Condition condition;
      condition.type = c.string("type", /*required=*/true);
      condition.status = parseConditionStatus(c.string("status"));
      condition.reason = c.string("reason");
      condition.message = c.string("message");
      if (auto t = c.time("lastTransitionTime")) condition.lastTransitionTime = *t;
      if (c.error) return std::unexpected(*c.error);
      status.conditions.push_back(std::move(condition));
    }
  }
  if (const value* targets = s.object("targets")) {
    FieldReader t(*targets, s.path("targets"));
    status.counts.desired = t.integer("desired");
    status.counts.registered = t.integer("registered");
    status.counts.healthy = t.integer("healthy");
    status.counts.unhealthy = t.integer("unhealthy");
    status.counts.draining = t.integer("draining");
    status.counts.initial = t.integer("initial");
    status.counts.missing = t.integer("missing");
    status.counts.unexpected = t.integer("unexpected");
    if (t.error) return std::unexpected(*t.error);
  }
  if (const value* records = s.object("records")) {
    FieldReader r(*records, s.path("records"));
    status.counts.desired = r.integer("desired");
    status.counts.registered = r.integer("present");
    status.counts.missing = r.integer("missing");
    status.counts.unexpected = r.integer("unexpected");
    if (r.error) return std::unexpected(*r.error);
  }
  if (const value* plan = s.object("lastPlan")) {
    FieldReader p(*plan, s.path("lastPlan"));
    PlanSummary summary;
    summary.toRegister = p.strings("toRegister");
    summary.toDeregister = p.strings("toDeregister");
    summary.held = p.strings("held");
    summary.applied = p.boolean("applied");
    if (auto t = p.time("time")) summary.time = *t;
    if (p.error) return std::unexpected(*p.error);
    status.lastPlan = std::move(summary);
  }
  status.lastError = s.string("lastError");
  status.lastSyncTime = s.time("lastSyncTime");
  status.lastAttemptTime = s.time("lastAttemptTime");
  if (const value* events = s.array("events")) {
    for (const auto& item : events->as_array()) {
      if (!item.is_object()) {
        s.fail("events", "item is not an object");
        break;
      }
      FieldReader e(item, s.path("events[]"));
      Event event;
      event.type = e.string("type") == "Warning" ? EventType::kWarning : EventType::kNormal;
      event.reason = e.string("reason");
      event.message = e.string("message");
      event.count = e.field("count") != nullptr ? e.integer("count") : 1;
      if (auto t = e.time("lastTimestamp")) event.time = *t;
      if (e.error) return std::unexpected(*e.error);
      status.events.push_back(std::move(event));
    }
  }
  if (s.error) return std::unexpected(*s.error);
  return status;
}

core::Result<std::vector<BindingStatus>> bindingListFromJson(const web::json::value& json) {
  if (!json.is_object()) return badField("(root)", "not an object");
  FieldReader root(json, "");
  const value* items = root.array("items");
  if (root.error) return std::unexpected(*root.error);
  std::vector<BindingStatus> out;
  if (items == nullptr) return out;
  std::size_t index = 0;
  for (const auto& item : items->as_array()) {
    auto status = bindingFromJson(item);
    if (!status) {
      auto error = status.error();
      error.message = "items[" + std::to_string(index) + "]: " + error.message;
      return std::unexpected(std::move(error));
    }
    out.push_back(std::move(*status));
    ++index;
  }
  return out;
}

}  // namespace endpointbinder::server
