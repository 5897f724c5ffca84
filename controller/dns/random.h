// Random: the one source of randomness for the DNS layer (refresh jitter), injected like
// core::Clock so tests can script it. StdRandom is the real one.
// Thread-safety: implementations must be safe to call from any thread.
#pragma once

#include <mutex>
#include <random>

namespace endpointbinder::dns {

class Random {
 public:
  virtual ~Random() = default;
  // A uniformly distributed value in [0, 1).
  virtual double uniform() = 0;
};

// A Mersenne Twister seeded from std::random_device (or a fixed seed), behind a mutex.
class StdRandom final : public Random {
 public:
  StdRandom() : engine_(std::random_device{}()) {}
  explicit StdRandom(uint64_t seed) : engine_(seed) {}

  double uniform() override {
    std::lock_guard lock(mutex_);
    return std::uniform_real_distribution<double>(0.0, 1.0)(engine_);
  }

 private:
  std::mutex mutex_;
  std::mt19937_64 engine_;
};

}  // namespace endpointbinder::dns
