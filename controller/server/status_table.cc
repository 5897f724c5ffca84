#include "controller/server/status_table.h"

#include <cpprest/json.h>

#include <algorithm>
#include <cctype>
#include <string_view>
#include <system_error>

#include "controller/server/status_json.h"

namespace endpointbinder::server {
namespace {

using runtime::BindingStatus;

// Display width of UTF-8 text: one column per code point.
std::size_t displayWidth(std::string_view text) {
  std::size_t width = 0;
  for (unsigned char c : text) {
    if ((c & 0xC0) != 0x80) ++width;
  }
  return width;
}

// Go's text/tabwriter (no flags, space padding), the engine behind kubectl's output: each '\t'
// ends a cell; a column block is a run of consecutive lines that have a tab-terminated cell in
// that column, and all its cells are padded to max(minWidth, widest cell + padding). The text
// after a line's last tab is never padded.
class TabWriter {
 public:
  TabWriter(std::size_t minWidth, std::size_t padding) : minWidth_(minWidth), padding_(padding) {}

  void line(std::string_view text) {
    std::vector<std::string> cells;
    std::size_t start = 0;
    for (std::size_t tab; (tab = text.find('\t', start)) != std::string_view::npos;
         start = tab + 1) {
      cells.emplace_back(text.substr(start, tab - start));
    }
    cells.emplace_back(text.substr(start));
    lines_.push_back(std::move(cells));
  }

  std::string str() const {
    std::string out;
    std::vector<std::size_t> widths;
    format(out, widths, 0, lines_.size());
    return out;
  }

 private:
  void format(std::string& out, std::vector<std::size_t>& widths, std::size_t line0,
              std::size_t line1) const {
    const std::size_t column = widths.size();
    for (std::size_t current = line0; current < line1; ++current) {
      if (column + 1 >= lines_[current].size()) continue;
      writeLines(out, widths, line0, current);
      line0 = current;
      std::size_t width = minWidth_;
      for (; current < line1; ++current) {
        const auto& cells = lines_[current];
        if (column + 1 >= cells.size()) break;
        width = std::max(width, displayWidth(cells[column]) + padding_);
      }
      widths.push_back(width);
      format(out, widths, line0, current);
      widths.pop_back();
      line0 = current;
    }
    writeLines(out, widths, line0, line1);
  }

  void writeLines(std::string& out, const std::vector<std::size_t>& widths, std::size_t line0,
                  std::size_t line1) const {
    for (std::size_t i = line0; i < line1; ++i) {
      const auto& cells = lines_[i];
      for (std::size_t j = 0; j < cells.size(); ++j) {
        out += cells[j];
        if (j < widths.size()) {
          const auto width = displayWidth(cells[j]);
          if (width < widths[j]) out.append(widths[j] - width, ' ');
        }
      }
      out += '\n';
    }
  }

  std::size_t minWidth_;
  std::size_t padding_;
  std::vector<std::vector<std::string>> lines_;
};

std::string age(core::WallTime then, core::WallTime now) {
  return shortHumanDuration(std::chrono::duration_cast<std::chrono::nanoseconds>(now - then));
}

std::string timeWithAge(core::WallTime time, core::WallTime now) {
  return formatRfc3339(time) + " (" + age(time, now) + " ago)";
}

std::string orNone(const std::string& text) { return text.empty() ? "<none>" : text; }

// "targetGroupARN" -> "Target Group ARN", "allowedCIDRs" -> "Allowed CIDRs",
// "maxDeregistrationsPerSync" -> "Max Deregistrations Per Sync".
std::string titleCase(std::string_view key) {
  auto isUpper = [](char c) { return std::isupper(static_cast<unsigned char>(c)) != 0; };
  auto isLower = [](char c) { return std::islower(static_cast<unsigned char>(c)) != 0; };
  std::string out;
  for (std::size_t i = 0; i < key.size(); ++i) {
    const char c = key[i];
    if (i > 0 && isUpper(c)) {
      const char prev = key[i - 1];
      const bool next = i + 1 < key.size();
      // An acronym's trailing plural "s" stays with it: "CIDRs".
      const bool pluralAcronym = next && key[i + 1] == 's' &&
                                 (i + 2 == key.size() || isUpper(key[i + 2])) && isUpper(prev);
      if (!isUpper(prev) || (next && isLower(key[i + 1]) && !pluralAcronym)) out += ' ';
    }
    out += (i == 0) ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c;
  }
  return out;
}

std::string scalarText(const web::json::value& v) {
  if (v.is_string()) return v.as_string();
  if (v.is_null()) return "<none>";
  return v.serialize();
}

bool isScalar(const web::json::value& v) { return !v.is_array() && !v.is_object(); }

// kubectl describe's rendering of an unstructured object: one "Label:\tvalue" line per scalar,
// nested objects indented two spaces under "Label:", arrays of scalars joined with ", ", other
// arrays as compact JSON.
void writeObject(TabWriter& w, const web::json::value& object, const std::string& indent) {
  for (const auto& [key, v] : object.as_object()) {
    const std::string label = indent + titleCase(key) + ":";
    if (v.is_object()) {
      if (v.size() == 0) {
        w.line(label + "\t<none>");
      } else {
        w.line(label);
        writeObject(w, v, indent + "  ");
      }
    } else if (v.is_array()) {
      const auto& items = v.as_array();
      if (items.size() == 0) {
        w.line(label + "\t<none>");
      } else if (std::all_of(items.begin(), items.end(), isScalar)) {
        std::string line = label + "\t";
        for (std::size_t i = 0; i < items.size(); ++i) {
          if (i > 0) line += ", ";
          line += scalarText(items.at(i));
        }
        w.line(line);
      } else {
        w.line(label + "\t" + v.serialize());
      }
    } else {
      w.line(label + "\t" + scalarText(v));
    }
  }
}

}  // namespace

std::string shortHumanDuration(std::chrono::nanoseconds duration) {
  using namespace std::chrono;
  const auto seconds = duration_cast<std::chrono::seconds>(duration).count();
  if (seconds < -1) return "<invalid>";
  if (seconds < 0) return "0s";
  if (seconds < 60) return std::to_string(seconds) + "s";
  const auto minutes = seconds / 60;
  if (minutes < 60) return std::to_string(minutes) + "m";
  const auto hours = minutes / 60;
  if (hours < 24) return std::to_string(hours) + "h";
  if (hours < 24LL * 365) return std::to_string(hours / 24) + "d";
  return std::to_string(hours / 24 / 365) + "y";
}

namespace {

std::string conditionText(const BindingStatus& s, const char* type) {
  const auto* c = s.condition(type);
  return runtime::conditionStatusName(c ? c->status : runtime::ConditionStatus::kUnknown);
}

std::string driftText(const BindingStatus& s) {
  const int drift = s.counts.missing + s.counts.unexpected;
  return drift == 0 ? std::string("-") : std::to_string(drift);
}

// DNSRecordBindings: NAMES present/desired, the zone, drift and whether Route 53 has
// propagated the binding's changes (INSYNC: "-" before its first write).
std::string renderRecordTable(const std::vector<const BindingStatus*>& statuses,
                              core::WallTime now) {
  TabWriter w(/*minWidth=*/6, /*padding=*/3);
  w.line("NAMESPACE\tNAME\tREADY\tNAMES\tZONE\tDRIFT\tINSYNC\tCONFLICT\tLAST-SYNC\tAGE");
  for (const auto* s : statuses) {
    const auto* inSync = s->condition("InSync");
    w.line(s->ns + "\t" + s->name + "\t" + conditionText(*s, "Ready") + "\t" +
           std::to_string(s->counts.registered) + "/" + std::to_string(s->counts.desired) + "\t" +
           orNone(hostedZoneIdOf(*s)) + "\t" + driftText(*s) + "\t" +
           (inSync ? runtime::conditionStatusName(inSync->status) : "-") + "\t" +
           conditionText(*s, "Conflict") + "\t" +
           (s->lastSyncTime ? age(*s->lastSyncTime, now) : std::string("<none>")) + "\t" +
           age(s->creationTime, now));
  }
  return w.str();
}

std::string renderTargetTable(const std::vector<const BindingStatus*>& statuses,
                              core::WallTime now) {
  TabWriter w(/*minWidth=*/6, /*padding=*/3);
  w.line("NAMESPACE\tNAME\tREADY\tTARGETS\tHEALTHY\tDRIFT\tLAST-SYNC\tAGE");
  for (const auto* s : statuses) {
    w.line(s->ns + "\t" + s->name + "\t" + conditionText(*s, "Ready") + "\t" +
           std::to_string(s->counts.registered) + "/" + std::to_string(s->counts.desired) + "\t" +
           std::to_string(s->counts.healthy) + "\t" + driftText(*s) + "\t" +
           (s->lastSyncTime ? age(*s->lastSyncTime, now) : std::string("<none>")) + "\t" +
           age(s->creationTime, now));
  }
  return w.str();
}

}  // namespace

std::string renderTable(const std::vector<BindingStatus>& statuses, core::WallTime now) {
  if (statuses.empty()) return "No resources found.\n";
  std::vector<const BindingStatus*> targetBindings;
  std::vector<const BindingStatus*> recordBindings;
  for (const auto& s : statuses) {
    (isRecordBinding(s) ? recordBindings : targetBindings).push_back(&s);
  }
  std::string out;
  if (!targetBindings.empty()) out = renderTargetTable(targetBindings, now);
  if (!recordBindings.empty()) {
    if (!out.empty()) out += "\n";
    out += renderRecordTable(recordBindings, now);
  }
  return out;
}

std::string renderDescribe(const BindingStatus& s, core::WallTime now) {
  TabWriter w(/*minWidth=*/0, /*padding=*/2);
  w.line("Name:\t" + s.name);
  w.line("Namespace:\t" + s.ns);
  w.line("Kind:\t" + s.kind);
  w.line("API Version:\t" + std::string(kApiVersion));
  w.line("Generation:\t" + orNone(s.generation));
  w.line("Creation Timestamp:\t" + timeWithAge(s.creationTime, now));

  web::json::value spec = specObject(s);
  const bool records = isRecordBinding(s);
  if (spec.size() == 0 && !s.targetGroupArn.empty()) {
    if (records) {
      spec["hostedZoneId"] = web::json::value::string(hostedZoneIdOf(s));
    } else {
      spec["targetGroupARN"] = web::json::value::string(s.targetGroupArn);
    }
  }
  if (spec.size() == 0) {
    w.line("Spec:\t<none>");
  } else {
    w.line("Spec:");
    writeObject(w, spec, "  ");
  }

  w.line("Status:");
  w.line("  Observed Generation:\t" + orNone(s.observedGeneration));
  w.line("  Last Sync Time:\t" +
         (s.lastSyncTime ? timeWithAge(*s.lastSyncTime, now) : std::string("<none>")));
  w.line("  Last Attempt Time:\t" +
         (s.lastAttemptTime ? timeWithAge(*s.lastAttemptTime, now) : std::string("<none>")));
  w.line("  Last Error:\t" + orNone(s.lastError));
  if (s.conditions.empty()) {
    w.line("  Conditions:\t<none>");
  } else {
    w.line("  Conditions:");
    w.line("    Type\tStatus\tReason\tAge\tMessage");
    w.line("    ----\t------\t------\t---\t-------");
    for (const auto& c : s.conditions) {
      w.line("    " + c.type + "\t" + runtime::conditionStatusName(c.status) + "\t" +
             orNone(c.reason) + "\t" + age(c.lastTransitionTime, now) + "\t" + c.message);
    }
  }
  if (records) {
    // Counts of names (ownership records not counted).
    w.line("  Records:");
    w.line("    Desired:\t" + std::to_string(s.counts.desired));
    w.line("    Present:\t" + std::to_string(s.counts.registered));
    w.line("    Missing:\t" + std::to_string(s.counts.missing));
    w.line("    Unexpected:\t" + std::to_string(s.counts.unexpected));
  } else {
    w.line("  Targets:");
    w.line("    Desired:\t" + std::to_string(s.counts.desired));
    w.line("    Registered:\t" + std::to_string(s.counts.registered));
    w.line("    Healthy:\t" + std::to_string(s.counts.healthy));
    w.line("    Unhealthy:\t" + std::to_string(s.counts.unhealthy));
    w.line("    Draining:\t" + std::to_string(s.counts.draining));
    w.line("    Initial:\t" + std::to_string(s.counts.initial));
    w.line("    Missing:\t" + std::to_string(s.counts.missing));
    w.line("    Unexpected:\t" + std::to_string(s.counts.unexpected));
  }
  if (!s.lastPlan) {
    w.line("  Last Plan:\t<none>");
  } else {
    const auto& plan = *s.lastPlan;
    w.line("  Last Plan:\t" + std::string(plan.applied ? "Applied" : "Not applied") + ", " +
           timeWithAge(plan.time, now));
    if (plan.toRegister.empty() && plan.toDeregister.empty()) w.line("    (no changes)");
    for (const auto& key : plan.toRegister) w.line("    + " + key);
    for (const auto& key : plan.toDeregister) w.line("    - " + key);
    if (!plan.held.empty()) {
      w.line("    Held:");
      for (const auto& held : plan.held) w.line("      " + held);
    }
  }

  if (s.events.empty()) {
    w.line("Events:\t<none>");
  } else {
    w.line("Events:");
    w.line("  Type\tReason\tAge\tMessage");
    w.line("  ----\t------\t---\t-------");
    for (const auto& e : s.events) {
      std::string when = age(e.time, now);
      if (e.count > 1) when += " (x" + std::to_string(e.count) + ")";
      w.line("  " + std::string(e.type == runtime::EventType::kWarning ? "Warning" : "Normal") +
             "\t" + e.reason + "\t" + when + "\t" + e.message);
    }
  }
  return w.str();
}

}  // namespace endpointbinder::server
