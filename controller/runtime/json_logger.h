// StreamLogger: core::Logger that writes one JSON object per line (default), or readable text
// lines for humans (--log-format text), to a stream (stderr in the binary).
// Fields: ts (RFC 3339 UTC, milliseconds), level, msg, then the caller's fields in order.
// Thread-safety: log() may be called from any thread; lines never interleave.
#pragma once

#include <mutex>
#include <optional>
#include <ostream>
#include <string>

#include "controller/core/clock.h"
#include "controller/core/log.h"

namespace endpointbinder::runtime {

enum class LogFormat { kJson, kText };

class StreamLogger final : public core::Logger {
 public:
  StreamLogger(std::ostream& out, const core::Clock& clock, LogFormat format,
               core::LogLevel minLevel);

  bool enabled(core::LogLevel level) const override { return level >= minLevel_; }
  void log(core::LogLevel level, std::string_view message,
           std::initializer_list<core::LogField> fields) override;

 private:
  std::ostream& out_;
  const core::Clock& clock_;
  LogFormat format_;
  core::LogLevel minLevel_;
  std::mutex mu_;
};

// Parses "debug" / "info" / "warn" / "error"; nullopt otherwise.
std::optional<core::LogLevel> parseLogLevel(std::string_view text);
const char* logLevelName(core::LogLevel level);
// "2026-11-21T19:28:00.123Z"
std::string formatRfc3339(core::WallTime time, bool milliseconds = true);

}  // namespace endpointbinder::runtime
