// Clock: the one source of time. Only RealClock calls std::chrono::*::now(); everything
// else receives a Clock (or plain time points) so tests control time exactly.
// Thread-safety: implementations must be safe to call from any thread.
#pragma once

#include <chrono>

namespace endpointbinder::core {

// Monotonic time for intervals, grace periods and timers.
using MonoTime = std::chrono::steady_clock::time_point;
// Wall time for SigV4 dates, status timestamps and logs only.
using WallTime = std::chrono::system_clock::time_point;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual MonoTime now() const = 0;
  virtual WallTime wallNow() const = 0;
};

class RealClock final : public Clock {
 public:
  MonoTime now() const override { return std::chrono::steady_clock::now(); }
  WallTime wallNow() const override { return std::chrono::system_clock::now(); }
};

// A clock that moves only when told to. Not thread-safe: for single-threaded tests.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(WallTime wallStart = WallTime{std::chrono::seconds(1'700'000'000)})
      : wallStart_(wallStart) {}
  MonoTime now() const override { return mono_; }
  WallTime wallNow() const override {
    return wallStart_ + std::chrono::duration_cast<WallTime::duration>(mono_.time_since_epoch());
  }
  void advance(std::chrono::nanoseconds by) { mono_ += by; }

 private:
  MonoTime mono_{};
  WallTime wallStart_;
};

}  // namespace endpointbinder::core
