// LeaseElector: acquisition, renewal, the renew-deadline step-down, takeover after a whole
// lease duration of an unchanged record (on the standby's own clock), clock skew, races and
// lost answers. Replicas share an in-memory table with DynamoDB's conditional semantics
// (tests/support/fake_lease_store.h); each has its own ManualClock, all moved together in
// 10 ms ticks, so every duration below is exact.
#include "controller/core/lease.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "tests/support/fake_lease_store.h"

namespace endpointbinder::core {
namespace {

using namespace std::chrono_literals;
using testing::FakeLeaseStore;
using testing::FakeLeaseTable;
using ::testing::HasSubstr;

const LeaseTiming kTiming{15s, 10s, 2s};
constexpr auto kTick = 10ms;

// One replica: its elector, its view of the table and its own clock, stepped as
// runtime::LeaderElection steps it (calls take no time unless `latency` says otherwise).
struct Replica {
  Replica(std::string id, FakeLeaseTable& table, LeaseTiming timing = kTiming,
          WallTime wallStart = WallTime{std::chrono::seconds(1'700'000'000)},
          std::chrono::nanoseconds monoOffset = 0s)
      : id(id), clock(wallStart), store(table), elector(id, timing) {
    clock.advance(monoOffset);
  }

  std::int64_t wallMs() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(clock.wallNow().time_since_epoch())
        .count();
  }

  // The due step, if any; returns whether one was taken.
  bool tick() {
    if (auto t = elector.checkDeadline(clock.now())) transitions.push_back(*t);
    if (clock.now() < elector.nextStepAt()) return false;
    const auto sentAt = clock.now();
    auto step = elector.nextStep(sentAt, id + "-v" + std::to_string(++versions), wallMs());
    steps.push_back(step.kind);
    std::optional<LeaseTransition> t;
    switch (step.kind) {
      case LeaseElector::StepKind::kRead:
        t = elector.onRead(store.read(), sentAt, clock.now());
        break;
      case LeaseElector::StepKind::kAcquire:
        t = elector.onAcquire(step, store.acquire(step.write, step.expectedVersion), sentAt,
                              clock.now());
        break;
      case LeaseElector::StepKind::kRenew:
        t = elector.onRenew(step, store.renew(step.write), sentAt, clock.now());
        break;
    }
    if (t) transitions.push_back(*t);
    return true;
  }

  std::string id;
  ManualClock clock;
  FakeLeaseStore store;
  LeaseElector elector;
  int versions = 0;
  std::vector<LeaseElector::StepKind> steps;
  std::vector<LeaseTransition> transitions;
};

// Moves every replica's clock by `total` in ticks, stepping each at every tick. Returns the
// first time (since the call) at which `until` held, if given.
std::optional<std::chrono::nanoseconds> run(const std::vector<Replica*>& replicas,
                                            std::chrono::nanoseconds total,
                                            const std::function<bool()>& until = nullptr) {
  for (std::chrono::nanoseconds elapsed = 0s; elapsed <= total; elapsed += kTick) {
    for (auto* r : replicas) r->tick();
    if (until && until()) return elapsed;
    for (auto* r : replicas) r->clock.advance(kTick);
  }
  return std::nullopt;
}

// The writers at this instant: replicas whose elector allows a write in their current term.
int writers(const std::vector<Replica*>& replicas) {
  int n = 0;
  for (auto* r : replicas) n += r->elector.mayWrite(r->elector.term(), r->clock.now()) ? 1 : 0;
  return n;
}

TEST(LeaseTiming, RenewDeadlineMustBeShorterThanTheLease) {
  EXPECT_EQ(leaseTimingProblem(kTiming), std::nullopt);
  EXPECT_THAT(leaseTimingProblem({10s, 10s, 2s}).value_or(""),
              HasSubstr("renew deadline (10s) must be shorter than the lease duration (10s)"));
  EXPECT_THAT(leaseTimingProblem({15s, 10s, 10s}).value_or(""),
              HasSubstr("retry period (10s) must be shorter than the renew deadline"));
  EXPECT_THAT(leaseTimingProblem({15s, 0s, 2s}).value_or(""), HasSubstr("positive"));
}

TEST(LeaseElector, CreatesTheLeaseAndRenewsItEveryRetryPeriod) {
  FakeLeaseTable table;
  Replica a("a", table);
  ASSERT_TRUE(a.tick());  // read: no record
  EXPECT_EQ(a.steps.back(), LeaseElector::StepKind::kRead);
  ASSERT_TRUE(a.tick());  // due at once: create
  EXPECT_EQ(a.steps.back(), LeaseElector::StepKind::kAcquire);
  ASSERT_EQ(a.transitions.size(), 1u);
  EXPECT_EQ(a.transitions[0].to, LeaseRole::kLeader);
  EXPECT_EQ(a.transitions[0].term, 1u);
  EXPECT_EQ(a.transitions[0].reason, "created the lease");
  EXPECT_TRUE(a.elector.mayWrite(1, a.clock.now()));
  EXPECT_FALSE(a.elector.mayWrite(2, a.clock.now())) << "another term is never allowed";
  const auto record = table.get();
  ASSERT_TRUE(record);
  EXPECT_EQ(record->holder, "a");
  EXPECT_EQ(record->fence, 1u);
  EXPECT_EQ(record->leaseDuration, 15s);

  // Renewals every retry period keep it, for as long as it runs.
  EXPECT_EQ(a.elector.nextStepAt(), a.clock.now() + 2s);
  run({&a}, 60s);
  EXPECT_EQ(a.transitions.size(), 1u);
  EXPECT_TRUE(a.elector.leading());
  EXPECT_EQ(table.get()->fence, 1u) << "renewals keep the term";
  EXPECT_GE(table.writes(), 30);
  EXPECT_NE(table.get()->version, record->version);
}

TEST(LeaseElector, StandbyNeverTakesOverARenewedLease) {
  FakeLeaseTable table;
  Replica a("a", table);
  Replica b("b", table);
  run({&a}, 100ms);
  run({&a, &b}, 120s);  // eight lease durations
  EXPECT_TRUE(a.elector.leading());
  EXPECT_FALSE(b.elector.leading());
  EXPECT_TRUE(b.transitions.empty());
  EXPECT_EQ(table.get()->holder, "a");
  // The standby only reads, every retry period.
  for (auto kind : b.steps) EXPECT_EQ(kind, LeaseElector::StepKind::kRead);
  EXPECT_NEAR(static_cast<double>(b.steps.size()), 60.0, 2.0);
}

TEST(LeaseElector, StandbyTakesOverAWholeLeaseDurationAfterTheRecordLastChanged) {
  FakeLeaseTable table;
  Replica a("a", table);
  Replica b("b", table);
  run({&a}, 100ms);
  run({&a, &b}, 5s);
  // a dies (kill -9): no more renewals. b saw a's last version at its read after that renewal.
  const auto lastVersion = table.get()->version;
  std::optional<MonoTime> firstSeen;  // b's read that first showed the last version
  for (int i = 0; i < 3000 && !b.elector.leading(); ++i) {
    if (b.elector.observed() && b.elector.observed()->version == lastVersion) {
      firstSeen = b.elector.observedSince();
    }
    if (b.tick() && b.elector.leading()) break;
    b.clock.advance(kTick);
  }
  ASSERT_TRUE(b.elector.leading());
  ASSERT_TRUE(firstSeen);
  // Not one tick early: exactly one lease duration after the read that first showed it.
  EXPECT_EQ(b.clock.now() - *firstSeen, 15s);
  ASSERT_EQ(b.transitions.size(), 1u);
  EXPECT_EQ(b.transitions[0].term, 2u) << "the fencing counter counts the acquisition";
  EXPECT_THAT(b.transitions[0].reason, HasSubstr("took over from a"));
  EXPECT_EQ(table.get()->holder, "b");
  EXPECT_EQ(table.get()->fence, 2u);
}

TEST(LeaseElector, UnreachableLeaderStopsWritingBeforeTheStandbyMayTakeOver) {
  FakeLeaseTable table;
  Replica a("a", table);
  Replica b("b", table);
  run({&a}, 100ms);
  run({&a, &b}, 4s);
  a.store.partitioned = true;  // a's requests to DynamoDB time out; a still reaches ELBv2
  const auto cut = a.clock.now();
  const auto lastRenewal = a.elector.renewedAt();
  ASSERT_LE(cut - lastRenewal, 2s);

  // Until b leads: never two writers at one instant, and a steps down at its deadline.
  std::optional<std::chrono::nanoseconds> aStopped;
  std::optional<std::chrono::nanoseconds> bStarted;
  for (std::chrono::nanoseconds t = 0s; t < 30s && !bStarted; t += kTick) {
    a.tick();
    b.tick();
    ASSERT_LE(writers({&a, &b}), 1) << "two writers at t=" << t.count();
    if (!aStopped && !a.elector.mayWrite(a.elector.term(), a.clock.now())) aStopped = t;
    if (b.elector.leading()) bStarted = t;
    a.clock.advance(kTick);
    b.clock.advance(kTick);
  }
  ASSERT_TRUE(aStopped && bStarted);
  // a stops writing at exactly its last renewal + renew deadline, and says why.
  EXPECT_EQ(cut + *aStopped, lastRenewal + 10s);
  ASSERT_EQ(a.transitions.size(), 2u);
  EXPECT_EQ(a.transitions[1].to, LeaseRole::kStandby);
  EXPECT_THAT(a.transitions[1].reason, HasSubstr("could not renew the lease (term 1) within the "
                                                 "10s renew deadline; stopped writing"));
  // b starts a whole lease after a's last renewal landed (b's read of it came after that).
  EXPECT_GE(cut + *bStarted, lastRenewal + 15s);
  EXPECT_GE(*bStarted - *aStopped, 5s) << "lease duration - renew deadline apart at least";

  // The partition heals: a learns that b holds it and stays a standby.
  a.store.partitioned = false;
  run({&a, &b}, 20s);
  EXPECT_FALSE(a.elector.leading());
  EXPECT_TRUE(b.elector.leading());
  EXPECT_EQ(table.get()->fence, 2u);
}

TEST(LeaseElector, ClockSkewBetweenReplicasDoesNotMatter) {
  // b's wall clock is an hour ahead and its monotonic clock started long ago; a's record
  // times say 2023, b's say an hour later. Decisions use only b's own elapsed time.
  FakeLeaseTable table;
  Replica a("a", table, kTiming, WallTime{std::chrono::seconds(1'700'000'000)});
  Replica b("b", table, kTiming, WallTime{std::chrono::seconds(1'700'003'600)}, 1'000'000s);
  run({&a}, 100ms);
  run({&a, &b}, 3s);
  // Someone tampered with the informational times: far future, far past. Nothing changes.
  auto record = *table.get();
  record.renewedAtUnixMs = 4'000'000'000'000;
  table.set(record);
  run({&a, &b}, 30s);
  EXPECT_TRUE(a.elector.leading());
  EXPECT_FALSE(b.elector.leading());

  // a dies; b takes over one lease duration after it last saw a change, by its own clock,
  // although the record claims a renewal in the year 2096.
  record = *table.get();
  record.renewedAtUnixMs = 4'000'000'000'000;
  table.set(record);  // a new version? No: the same version with other times counts as seen
  const auto since = run({&b}, 40s, [&] { return b.elector.leading(); });
  ASSERT_TRUE(since);
  EXPECT_GE(*since, 15s - kTiming.retryPeriod);
  EXPECT_LE(*since, 15s + kTick);
  // And a record whose times lie in the past is not taken before the lease duration either.
  Replica c("c", table, kTiming, WallTime{std::chrono::seconds(1'900'000'000)});
  record = *table.get();
  record.renewedAtUnixMs = 0;
  table.set(record);
  run({&b, &c}, 60s);
  EXPECT_TRUE(b.elector.leading());
  EXPECT_FALSE(c.elector.leading());
}

TEST(LeaseElector, HonoursTheLongerOfTheRecordsAndItsOwnLeaseDuration) {
  FakeLeaseTable table;
  Replica a("a", table, LeaseTiming{40s, 30s, 2s});
  Replica b("b", table);  // configured with 15 s
  run({&a}, 100ms);
  run({&a, &b}, 3s);
  const auto lastChange = b.elector.observedSince();
  const auto since = run({&b}, 60s, [&] { return b.elector.leading(); });
  ASSERT_TRUE(since);
  EXPECT_GE(b.clock.now() - lastChange, 40s);
}

TEST(LeaseElector, ReleasedLeaseIsTakenAtTheNextRead) {
  FakeLeaseTable table;
  Replica a("a", table);
  Replica b("b", table);
  run({&a}, 100ms);
  run({&a, &b}, 3s);
  auto freed = a.elector.stepDownToRelease("a-release", a.wallMs());
  ASSERT_TRUE(freed);
  EXPECT_FALSE(a.elector.mayWrite(1, a.clock.now())) << "stops writing before the release";
  ASSERT_TRUE(a.store.release("a", *freed));
  EXPECT_EQ(table.get()->holder, "");
  EXPECT_EQ(table.get()->fence, 1u) << "release keeps the fence";
  const auto since = run({&b}, 10s, [&] { return b.elector.leading(); });
  ASSERT_TRUE(since);
  EXPECT_LE(*since, 2s) << "within one retry period";
  EXPECT_EQ(table.get()->fence, 2u);
  EXPECT_THAT(b.transitions[0].reason, HasSubstr("took the free lease"));
  // A second release by the old holder fails its condition.
  EXPECT_EQ(a.store.release("a", *freed).error().kind, ErrorKind::kConflict);
}

TEST(LeaseElector, RacingStandbysLeaveOneLeader) {
  FakeLeaseTable table;
  Replica a("a", table);
  Replica b("b", table);
  Replica c("c", table);
  run({&a}, 100ms);
  run({&a, &b, &c}, 3s);
  // a dies; b and c saw the same last version at the same instant: both try to acquire.
  run({&b, &c}, 30s);
  EXPECT_NE(b.elector.leading(), c.elector.leading());
  EXPECT_EQ(table.get()->fence, 2u);
  EXPECT_EQ(writers({&b, &c}), 1);
}

TEST(LeaseElector, AnAcquisitionWhoseAnswerWasLostIsSettledByTheNextRead) {
  FakeLeaseTable table;
  Replica a("a", table);
  a.store.loseNextAnswer = true;
  run({&a}, 100ms);
  EXPECT_FALSE(a.elector.leading()) << "no answer: not yet the leader";
  EXPECT_EQ(table.get()->holder, "a");
  const auto sentAt = a.clock.now() - 100ms;
  run({&a}, 2100ms);
  ASSERT_TRUE(a.elector.leading());
  EXPECT_EQ(a.elector.term(), 1u);
  // Renewal times count from when the write was sent, not from the read that found it.
  EXPECT_LE(a.elector.renewedAt(), sentAt + 2200ms);
}

TEST(LeaseElector, TakesBackItsOwnLeaseWhenNobodyTookOverMeanwhile) {
  FakeLeaseTable table;
  Replica a("a", table);
  run({&a}, 100ms);
  a.store.partitioned = true;
  run({&a}, 11s);
  ASSERT_FALSE(a.elector.leading());
  a.store.partitioned = false;
  const auto since = run({&a}, 5s, [&] { return a.elector.leading(); });
  ASSERT_TRUE(since);
  EXPECT_LE(*since, 2s) << "no need to wait out its own lease";
  EXPECT_EQ(a.elector.term(), 2u) << "a new term: plans of the old one are fenced off";
  EXPECT_FALSE(a.elector.mayWrite(1, a.clock.now()));
  EXPECT_TRUE(a.elector.mayWrite(2, a.clock.now()));
}

TEST(LeaseElector, LosesTheLeaseWhenTheRecordNamesSomeoneElse) {
  FakeLeaseTable table;
  Replica a("a", table);
  run({&a}, 100ms);
  auto stolen = *table.get();
  stolen.holder = "intruder";
  stolen.fence = 7;
  stolen.version = "x";
  table.set(stolen);
  run({&a}, 3s);
  EXPECT_FALSE(a.elector.leading());
  ASSERT_EQ(a.transitions.size(), 2u);
  EXPECT_THAT(a.transitions[1].reason, HasSubstr("no longer names this replica"));
}

TEST(LeaseElector, WriteAllowanceEndsWritesEarlierThanTheDeadline) {
  FakeLeaseTable table;
  Replica a("a", table);
  run({&a}, 100ms);
  a.store.partitioned = true;
  const auto renewed = a.elector.renewedAt();
  // A write taking up to 12 s must end by renewed + 15 s: it may start until renewed + 3 s.
  EXPECT_TRUE(a.elector.mayWrite(1, renewed + 3s, 12s));
  EXPECT_FALSE(a.elector.mayWrite(1, renewed + 3s + 1ns, 12s));
  // With a short allowance the renew deadline is the limit.
  EXPECT_TRUE(a.elector.mayWrite(1, renewed + 10s - 1ns, 1s));
  EXPECT_FALSE(a.elector.mayWrite(1, renewed + 10s, 1s));
}

}  // namespace
}  // namespace endpointbinder::core
