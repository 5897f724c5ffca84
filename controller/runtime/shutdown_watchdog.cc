#include "controller/runtime/shutdown_watchdog.h"

#include <unistd.h>

#include "controller/core/thread_name.h"

namespace endpointbinder::runtime {

ShutdownWatchdog::ShutdownWatchdog(core::Logger& log, int exitCode, ExitFn exit)
    : log_(log),
      exitCode_(exitCode),
      exit_(exit ? std::move(exit) : [](int code) { _exit(code); }) {}

ShutdownWatchdog::~ShutdownWatchdog() {
  disarm();
  if (thread_.joinable()) thread_.join();
}

void ShutdownWatchdog::arm(core::MonoTime deadline, DescribeFn describe) {
  std::lock_guard lock(mu_);
  deadline_ = deadline;
  describe_ = std::move(describe);
  armed_ = true;
  if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
  cv_.notify_all();
}

void ShutdownWatchdog::setDescribe(DescribeFn describe) {
  std::lock_guard lock(mu_);
  describe_ = std::move(describe);
}

void ShutdownWatchdog::disarm() {
  std::lock_guard lock(mu_);
  armed_ = false;
  cv_.notify_all();
}

bool ShutdownWatchdog::fired() const {
  std::lock_guard lock(mu_);
  return fired_;
}

void ShutdownWatchdog::run() {
  core::nameThisThread("eb-watchdog");
  std::unique_lock lock(mu_);
  while (armed_) {
    // The deadline may move while waiting: wait for it as it is now, then look again.
    if (cv_.wait_until(lock, deadline_, [this] { return !armed_; })) return;
    if (std::chrono::steady_clock::now() < deadline_) continue;
    fired_ = true;
    const std::string running = describe_ ? describe_() : std::string("(unknown)");
    log_.log(core::LogLevel::kError,
             "shutdown deadline passed: exiting now with work still running",
             {core::field("running", running),
              core::field("exitCode", static_cast<long long>(exitCode_))});
    exit_(exitCode_);
    return;  // only reached with a test ExitFn
  }
}

}  // namespace endpointbinder::runtime
