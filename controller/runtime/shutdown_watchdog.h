// ShutdownWatchdog: the last resort that bounds how long a stopping process takes. `run` arms
// it when SIGTERM arrives, with a deadline of --shutdown-grace plus a margin. Normal shutdown
// drains in-flight writes for up to the grace, cancels what is still waiting on AWS and ends
// well before the deadline; but a wait nothing can interrupt (a retry backoff, a client-side
// rate-limit wait, a stuck DNS lookup, a bug) must not keep the process alive until the
// orchestrator's SIGKILL. If the deadline passes first, the watchdog logs one error line saying
// what was still running and ends the process with _exit(exitCode), skipping destructors that
// could block as well.
// Thread-safety: every method may be called from any thread. The describe function runs on the
// watchdog's thread, under its lock: setDescribe() before destroying anything it reads.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "controller/core/clock.h"
#include "controller/core/log.h"

namespace endpointbinder::runtime {

class ShutdownWatchdog {
 public:
  using ExitFn = std::function<void(int code)>;
  using DescribeFn = std::function<std::string()>;

  // `exit` ends the process (default: _exit); tests pass one that records the call. `log` must
  // outlive the watchdog.
  explicit ShutdownWatchdog(core::Logger& log, int exitCode = 1, ExitFn exit = {});
  // Disarms and joins.
  ~ShutdownWatchdog();
  ShutdownWatchdog(const ShutdownWatchdog&) = delete;
  ShutdownWatchdog& operator=(const ShutdownWatchdog&) = delete;

  // Starts the countdown to `deadline` (steady-clock time, as core::RealClock tells it); a
  // second call moves the deadline. `describe` says what is still running when it fires.
  void arm(core::MonoTime deadline, DescribeFn describe);
  // Replaces the describe function (for the phase when what it read is being destroyed).
  void setDescribe(DescribeFn describe);
  // Stops the countdown; the watchdog will not fire.
  void disarm();
  // True once it fired (only observable with a test ExitFn that returns).
  bool fired() const;

 private:
  void run();

  core::Logger& log_;
  const int exitCode_;
  const ExitFn exit_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool armed_ = false;
  bool fired_ = false;
  core::MonoTime deadline_{};
  DescribeFn describe_;
  std::thread thread_;
};

}  // namespace endpointbinder::runtime
