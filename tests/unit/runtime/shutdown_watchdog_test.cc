// ShutdownWatchdog with a recording exit function: it fires once its deadline has passed, with
// one error line naming what was still running, and never when disarmed first. The deadlines
// are real (steady clock) but the assertions do not depend on how late a thread wakes.
#include "controller/runtime/shutdown_watchdog.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <vector>

namespace endpointbinder::runtime {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

class CapturingLogger final : public core::Logger {
 public:
  bool enabled(core::LogLevel) const override { return true; }
  void log(core::LogLevel level, std::string_view message,
           std::initializer_list<core::LogField> fields) override {
    std::lock_guard lock(mu_);
    std::string line = std::string(message);
    for (const auto& f : fields) line += " " + f.key + "=" + f.value;
    lines_.push_back({level, line});
  }
  std::vector<std::pair<core::LogLevel, std::string>> lines() const {
    std::lock_guard lock(mu_);
    return lines_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::pair<core::LogLevel, std::string>> lines_;
};

// Records the exit code and lets the test wait for it.
struct ExitRecorder {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<int> codes;

  ShutdownWatchdog::ExitFn fn() {
    return [this](int code) {
      std::lock_guard lock(mu);
      codes.push_back(code);
      cv.notify_all();
    };
  }
  bool waitForExit(std::chrono::seconds limit) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, limit, [&] { return !codes.empty(); });
  }
};

core::MonoTime now() { return std::chrono::steady_clock::now(); }

TEST(ShutdownWatchdog, FiresAfterTheDeadlineSayingWhatWasStillRunning) {
  CapturingLogger log;
  ExitRecorder exits;
  ShutdownWatchdog watchdog(log, 3, exits.fn());
  const auto armed = now();
  watchdog.arm(armed + 50ms, [] { return std::string("reconciles: prod/web (12.0s)"); });
  ASSERT_TRUE(exits.waitForExit(30s));
  EXPECT_GE(now() - armed, 50ms) << "fired before its deadline";
  EXPECT_TRUE(watchdog.fired());
  ASSERT_EQ(exits.codes, std::vector<int>{3});
  const auto lines = log.lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].first, core::LogLevel::kError);
  EXPECT_THAT(lines[0].second, HasSubstr("shutdown deadline passed"));
  EXPECT_THAT(lines[0].second, HasSubstr("running=reconciles: prod/web (12.0s)"));
}

TEST(ShutdownWatchdog, TheLatestDescriptionIsUsed) {
  CapturingLogger log;
  ExitRecorder exits;
  ShutdownWatchdog watchdog(log, 1, exits.fn());
  watchdog.arm(now() + 10min, [] { return std::string("first"); });
  watchdog.setDescribe([] { return std::string("closing servers"); });
  watchdog.arm(now() + 20ms, [] { return std::string("second"); });  // moves the deadline
  watchdog.setDescribe([] { return std::string("releasing clients"); });
  ASSERT_TRUE(exits.waitForExit(30s));
  ASSERT_EQ(log.lines().size(), 1u);
  EXPECT_THAT(log.lines()[0].second, HasSubstr("running=releasing clients"));
}

TEST(ShutdownWatchdog, NeverFiresOnceDisarmedOrWhenNeverArmed) {
  CapturingLogger log;
  ExitRecorder exits;
  {
    ShutdownWatchdog idle(log, 1, exits.fn());  // constructed and destroyed, never armed
  }
  {
    ShutdownWatchdog watchdog(log, 1, exits.fn());
    watchdog.arm(now() + 10min, [] { return std::string("x"); });
    watchdog.disarm();
    EXPECT_FALSE(watchdog.fired());
  }  // the destructor joins the thread: it ended without firing
  {
    ShutdownWatchdog destroyedWhileArmed(log, 1, exits.fn());
    destroyedWhileArmed.arm(now() + 10min, [] { return std::string("x"); });
  }
  EXPECT_TRUE(exits.codes.empty());
  EXPECT_TRUE(log.lines().empty());
}

}  // namespace
}  // namespace endpointbinder::runtime
