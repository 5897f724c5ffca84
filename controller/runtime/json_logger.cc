#include "controller/runtime/json_logger.h"

#include <ctime>
#include <optional>

#include "api/spec_json.h"

namespace endpointbinder::runtime {

StreamLogger::StreamLogger(std::ostream& out, const core::Clock& clock, LogFormat format,
                           core::LogLevel minLevel)
    : out_(out), clock_(clock), format_(format), minLevel_(minLevel) {}

std::optional<core::LogLevel> parseLogLevel(std::string_view text) {
  if (text == "debug") return core::LogLevel::kDebug;
  if (text == "info") return core::LogLevel::kInfo;
  if (text == "warn" || text == "warning") return core::LogLevel::kWarn;
  if (text == "error") return core::LogLevel::kError;
  return std::nullopt;
}

const char* logLevelName(core::LogLevel level) {
  switch (level) {
    case core::LogLevel::kDebug:
      return "debug";
    case core::LogLevel::kInfo:
      return "info";
    case core::LogLevel::kWarn:
      return "warn";
    case core::LogLevel::kError:
      return "error";
  }
  return "info";
}

std::string formatRfc3339(core::WallTime time, bool milliseconds) {
  const auto sinceEpoch = time.time_since_epoch();
  const auto secs = std::chrono::duration_cast<std::chrono::seconds>(sinceEpoch);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(sinceEpoch - secs).count();
  const std::time_t t = secs.count();
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  if (milliseconds) {
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<int>(ms));
  } else {
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  }
  return buf;
}

void StreamLogger::log(core::LogLevel level, std::string_view message,
                       std::initializer_list<core::LogField> fields) {
  if (!enabled(level)) return;
  std::string line;
  line.reserve(128);
  const auto ts = formatRfc3339(clock_.wallNow());
  if (format_ == LogFormat::kJson) {
    line += "{\"ts\":\"" + ts + "\",\"level\":\"" + logLevelName(level) + "\",\"msg\":";
    line += api::jsonQuote(message);
    for (const auto& f : fields) {
      line += "," + api::jsonQuote(f.key) + ":";
      if (f.isNumber) {
        line += f.value;
      } else {
        line += api::jsonQuote(f.value);
      }
    }
    line += "}\n";
  } else {
    line += ts + " " + logLevelName(level) + " " + std::string(message);
    for (const auto& f : fields) line += " " + f.key + "=" + f.value;
    line += '\n';
  }
  std::lock_guard lock(mu_);
  out_ << line << std::flush;
}

}  // namespace endpointbinder::runtime
