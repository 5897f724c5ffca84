// LeaderElection: runs core::LeaseElector against a LeaseStore (DynamoDB) on its own thread
// and is the controller's WriteGate (--leader-election-table).
//
// The loop takes the elector's steps when they are due: a leader renews every retry period, a
// standby reads every retry period and acquires when the lease is free or its holder let it
// lapse (lease.h). Store calls run off the loop's lock, and while a leader's renewal is in
// flight the loop still steps down on time at the renew deadline (the call may hang for as
// long as the DynamoDB client retries). Every change of role is logged, counted in metrics
// registered in the controller's registry (endpointbinder_leader 1/0, endpointbinder_leader_term,
// endpointbinder_leader_transitions_total{to="leader"|"standby"}; absent without leader
// election) and reported through the callbacks: startedLeading (the controller looks at every
// binding at once) and stoppedLeading.
//
// Writes are allowed while the elector says so (mayWrite, with `writeAllowance`: a write
// attempt started now must end, even at its timeout, before any standby may take over), and
// never after closeGate(). Shutdown: closeGate(), let in-flight reconciles end, then
// stop(/*release=*/true) frees the lease with a conditional write so a standby takes over at
// its next read (about a retry period) instead of after the lease duration.
// Thread-safety: every public method is thread-safe; start() and stop() from one thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "controller/core/clock.h"
#include "controller/core/lease.h"
#include "controller/core/log.h"
#include "controller/runtime/write_gate.h"

namespace endpointbinder::runtime {

class ControllerMetrics;

struct LeaderElectionOptions {
  std::string identity;  // this replica's holder id: unique per process
  core::LeaseTiming timing;
  // How long one AWS write attempt may take (--aws-attempt-timeout); see the file comment.
  std::chrono::nanoseconds writeAllowance{0};
  std::string table;      // for status and logs only
  std::string leaseName;  // for status and logs only
};

// What `get`, /readyz and /leader show.
struct LeaderStatus {
  std::string identity;
  std::string table;
  std::string leaseName;
  bool leading = false;       // this replica may write now
  std::uint64_t term = 0;     // the term led, else the observed record's fence (0: none)
  std::string holder;         // the observed holder: "" when free, unknown or no record
  bool recordExists = false;  // a lease record was seen
  // Standby: how long the observed record has not changed (the holder's silence).
  std::chrono::nanoseconds unchangedFor{0};
  std::string lastError;  // the last failed lease call, "" after a success
  std::uint64_t transitions = 0;
};

class LeaderElection final : public WriteGate {
 public:
  struct Deps {
    core::LeaseStore& store;
    const core::Clock& clock;
    core::Logger& log;
    ControllerMetrics* metrics = nullptr;               // optional: its registry gets ours
    std::function<std::string()> newVersion = nullptr;  // default: 128 random bits in hex
  };
  struct Callbacks {
    std::function<void(std::uint64_t term)> startedLeading;
    std::function<void()> stoppedLeading;
  };

  LeaderElection(Deps deps, LeaderElectionOptions options);
  // Stops the loop without releasing the lease (it lapses).
  ~LeaderElection() override;
  LeaderElection(const LeaderElection&) = delete;
  LeaderElection& operator=(const LeaderElection&) = delete;

  // Starts the loop thread (needs a real clock: it sleeps until steps are due).
  void start(Callbacks callbacks);
  // One step now, synchronously (tests drive the elector with a manual clock this way):
  // deadline check, then the due step if any. Returns when the next step is due.
  core::MonoTime runOnce(const Callbacks& callbacks = {});
  // Refuses every write from now on (shutdown).
  void closeGate();
  // Stops the loop. With `release` and while leading, frees the lease first (conditional on
  // still holding it at its term); without, the lease lapses after its duration.
  void stop(bool release);

  // WriteGate.
  std::optional<std::uint64_t> currentTerm() const override;
  core::Result<void> checkWrite(std::uint64_t term) const override;
  std::string describeLeader() const override;

  // Per AWS attempt, for the ELBv2 client's beforeSend hook: a write action (RegisterTargets,
  // DeregisterTargets, AddTags, RemoveTags) is sent only while this replica leads with room
  // for one attempt; reads always pass.
  core::Result<void> admitAttempt(std::string_view action) const;

  LeaderStatus status() const;

 private:
  struct Metrics;  // the prometheus series, when there is a registry
  void loop(Callbacks callbacks);
  // Takes the due step; `async` runs the store call on a helper thread so that the renew
  // deadline is kept while it hangs.
  void step(bool async, const Callbacks& callbacks);
  void announce(const std::optional<core::LeaseTransition>& transition, const Callbacks& callbacks);
  core::Result<void> refusal(std::optional<std::uint64_t> term, core::MonoTime now) const;
  std::string describeLeaderLocked() const;

  Deps deps_;
  const LeaderElectionOptions options_;
  std::unique_ptr<Metrics> metrics_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  core::LeaseElector elector_;  // guarded by mu_
  bool stopping_ = false;       // guarded by mu_
  bool gateClosed_ = false;     // guarded by mu_
  std::string lastError_;       // guarded by mu_
  std::uint64_t transitions_ = 0;
  std::thread thread_;
  std::mutex announceMu_;  // transitions are announced one at a time, in order
};

// "ip-10-0-1-5-3f9a2c71": the host name and 32 random bits, so a restarted process on the same
// host is a different holder (it must not take back the lease of the process it replaces).
std::string defaultLeaderIdentity();

}  // namespace endpointbinder::runtime
