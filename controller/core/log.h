// Logger: structured logging as an interface so every layer can log without doing I/O itself.
// The real implementation (runtime/json_logger.h) writes one JSON object per line; tests use
// NullLogger or a capturing fake. Never pass secrets, signatures or tokens as fields.
// Thread-safety: implementations must be safe to call from any thread.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>

namespace endpointbinder::core {

enum class LogLevel { kDebug, kInfo, kWarn, kError };

struct LogField {
  std::string key;
  std::string value;
  bool isNumber = false;  // emit unquoted in JSON
};

inline LogField field(std::string key, std::string value) {
  return {std::move(key), std::move(value)};
}
inline LogField field(std::string key, long long value) {
  return {std::move(key), std::to_string(value), true};
}

class Logger {
 public:
  virtual ~Logger() = default;
  virtual bool enabled(LogLevel level) const = 0;
  virtual void log(LogLevel level, std::string_view message,
                   std::initializer_list<LogField> fields = {}) = 0;
};

class NullLogger final : public Logger {
 public:
  bool enabled(LogLevel) const override { return false; }
  void log(LogLevel, std::string_view, std::initializer_list<LogField>) override {}
};

}  // namespace endpointbinder::core
