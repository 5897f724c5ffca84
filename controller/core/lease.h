// LeaseElector: leader election over one lease record that replicas change only with
// conditional writes (the DynamoDB lock client's and client-go's scheme). Pure: no I/O, no
// threads, no now() calls; the runner (runtime/leader_election.h) does the reads and writes
// through a LeaseStore and tells the elector what happened, with times from its own clock.
//
// The record names its holder, a fencing counter incremented on every acquisition (the term),
// a version that changes on every write, and the holder's lease duration.
//
// Timing (client-go's three durations, all on the replica's own monotonic clock):
//   retryPeriod    a leader renews this often; a standby reads this often.
//   renewDeadline  a leader whose last renewal was SENT longer ago than this stops writing and
//                  steps down (it says so). Renewal times count from the send, not the answer.
//   leaseDuration  a standby takes over only when it has seen the SAME record version (same
//                  holder, no renewal) for a whole lease duration, counted from when its read of
//                  that version RETURNED (the larger of the record's duration and its own).
// Why two replicas never write at once: the holder's last renewal landed after it was sent
// (at S); a standby saw that version no earlier than it landed, so it takes over no earlier
// than S + leaseDuration; the holder stopped writing at S + renewDeadline, and an AWS write
// attempt it started is admitted only if it ends by S + leaseDuration even at its timeout
// (mayWrite's `allowance`). Only durations on each replica's own monotonic clock are compared;
// wall-clock times in the record (renewedAt, acquiredAt) are for people and are never used, so
// replicas whose clocks disagree stay safe. A clock that runs slower than another by more than
// (leaseDuration - renewDeadline) / leaseDuration in rate is out of scope (as in client-go).
//
// Acquisition is conditional on the version the standby saw (or on there being no record), so
// of two standbys racing only one wins. A free record (holder released it at shutdown) is
// taken at once; so is a record still naming this replica at its last term (nobody took over
// while it could not renew). A write whose outcome is unknown (timeout) is settled by the next
// read: a record naming this replica with the version it tried to write is its own.
//
// Thread-safety: none; the runner serialises calls.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "controller/core/clock.h"
#include "controller/core/error.h"

namespace endpointbinder::core {

struct LeaseRecord {
  std::string holder;       // the holder's identity; empty: released, free to take
  std::uint64_t fence = 0;  // fencing counter: +1 on every acquisition, kept on release
  std::string version;      // changes on every write
  std::chrono::milliseconds leaseDuration{0};  // as the writer configured it
  std::int64_t renewedAtUnixMs = 0;            // the writer's wall clock; for people only
  std::int64_t acquiredAtUnixMs = 0;           // the writer's wall clock; for people only
};

// The lease's storage. Implementations: aws::DynamoDbLeaseStore; an in-memory fake in tests.
// Every write is conditional; a failed condition is an Error of kind kConflict. Other errors
// (timeouts) leave it unknown whether the write happened.
class LeaseStore {
 public:
  virtual ~LeaseStore() = default;
  // The record, read strongly consistently; nullopt when there is none yet.
  virtual Result<std::optional<LeaseRecord>> read() = 0;
  // Writes `next` if the stored record's version is `expectedVersion`, or, when that is
  // nullopt, if there is no record at all.
  virtual Result<void> acquire(const LeaseRecord& next,
                               const std::optional<std::string>& expectedVersion) = 0;
  // Writes `next` (a renewal) if the stored record still names next.holder at next.fence.
  virtual Result<void> renew(const LeaseRecord& next) = 0;
  // Writes `freed` (no holder, the same fence) if the stored record still names `holder` at
  // `freed.fence`.
  virtual Result<void> release(const std::string& holder, const LeaseRecord& freed) = 0;
};

struct LeaseTiming {
  std::chrono::nanoseconds leaseDuration = std::chrono::seconds(15);
  std::chrono::nanoseconds renewDeadline = std::chrono::seconds(10);
  std::chrono::nanoseconds retryPeriod = std::chrono::seconds(2);
};

// Why `timing` cannot work, or nullopt: each positive, retryPeriod < renewDeadline <
// leaseDuration (client-go's checks).
std::optional<std::string> leaseTimingProblem(const LeaseTiming& timing);

enum class LeaseRole { kStandby, kLeader };

// A change of role, with a sentence for logs and status.
struct LeaseTransition {
  LeaseRole to = LeaseRole::kStandby;
  std::uint64_t term = 0;  // the term gained, or the one lost
  std::string reason;
};

class LeaseElector {
 public:
  LeaseElector(std::string identity, LeaseTiming timing);

  enum class StepKind { kRead, kAcquire, kRenew };
  struct Step {
    StepKind kind = StepKind::kRead;
    LeaseRecord write;                           // kAcquire and kRenew
    std::optional<std::string> expectedVersion;  // kAcquire: nullopt means "no record yet"
  };

  // The next step at `now` (call it at nextStepAt() or later). `freshVersion` is a new random
  // version for a write; `wallNowMs` fills the record's informational times.
  Step nextStep(MonoTime now, std::string freshVersion, std::int64_t wallNowMs);
  // When the next step is due: a leader's next renewal (a retry period after its last try) or
  // its renew deadline; a standby's next read, or the moment the observed record expires, or
  // now when the lease can be taken.
  MonoTime nextStepAt() const;

  // Outcomes, with the time the call was sent (renewal times count from it) and the time it
  // returned. Each returns the role change it caused, if any.
  std::optional<LeaseTransition> onRead(const Result<std::optional<LeaseRecord>>& result,
                                        MonoTime sentAt, MonoTime returnedAt);
  std::optional<LeaseTransition> onAcquire(const Step& step, const Result<void>& result,
                                           MonoTime sentAt, MonoTime returnedAt);
  std::optional<LeaseTransition> onRenew(const Step& step, const Result<void>& result,
                                         MonoTime sentAt, MonoTime returnedAt);
  // Steps down when the renew deadline has passed since the last renewal was sent.
  std::optional<LeaseTransition> checkDeadline(MonoTime now);
  // Shutdown: stops leading at once and returns the record that frees the lease (to write
  // with LeaseStore::release); nullopt when not leading.
  std::optional<LeaseRecord> stepDownToRelease(std::string freshVersion, std::int64_t wallNowMs);

  // Write fencing: true while this replica leads at `term`, its last renewal was sent less
  // than renewDeadline ago, and a write that starts now and takes up to `allowance` ends
  // within leaseDuration of that renewal (before any standby could take over).
  bool mayWrite(std::uint64_t term, MonoTime now,
                std::chrono::nanoseconds allowance = std::chrono::nanoseconds(0)) const;

  const std::string& identity() const { return identity_; }
  const LeaseTiming& timing() const { return timing_; }
  LeaseRole role() const { return role_; }
  bool leading() const { return role_ == LeaseRole::kLeader; }
  // The term led now, or the last one led (0 if never).
  std::uint64_t term() const { return term_; }
  // The record as last read or written (nullopt: unknown, or no record).
  const std::optional<LeaseRecord>& observed() const { return observed_; }
  // When the observed version was first seen (standby expiry counts from it).
  MonoTime observedSince() const { return observedSince_; }
  // When the last renewal (or the acquisition) was sent; meaningful while leading.
  MonoTime renewedAt() const { return renewSentAt_; }

 private:
  // Standby: is a write due now, and what it would write.
  std::optional<Step> acquisitionDue(MonoTime now) const;
  MonoTime expiresAt() const;
  std::chrono::nanoseconds observedLeaseDuration() const;
  void observe(const LeaseRecord& record, MonoTime at);
  std::optional<LeaseTransition> becomeLeader(const LeaseRecord& written, MonoTime sentAt,
                                              std::string reason);
  LeaseTransition stepDown(std::string reason);

  const std::string identity_;
  const LeaseTiming timing_;
  LeaseRole role_ = LeaseRole::kStandby;
  std::uint64_t term_ = 0;
  MonoTime renewSentAt_{};
  // What the last read or write showed. `known_` false: read before anything else.
  bool known_ = false;
  std::optional<LeaseRecord> observed_;
  MonoTime observedSince_{};
  MonoTime lastStepAt_{};
  bool stepped_ = false;  // any step taken yet
  // An acquisition whose outcome is unknown (it failed without a conditional-check answer):
  // a record naming this replica with this version is ours, renewed from `sentAt`.
  struct PendingAcquire {
    std::string version;
    MonoTime sentAt{};
  };
  std::optional<PendingAcquire> pending_;
  std::string takeoverReason_;  // why the due acquisition happens (for the transition)
};

}  // namespace endpointbinder::core
