// LeaderElection: the write gate over the elector (terms, deadline, write allowance, shutdown),
// the release at stop, the callbacks and metrics, driven step by step with a manual clock; and
// the loop thread stepping down on time while a renewal hangs.
#include "controller/runtime/leader_election.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <condition_variable>
#include <mutex>

#include "controller/runtime/metrics.h"
#include "tests/support/fake_lease_store.h"

namespace endpointbinder::runtime {
namespace {

using namespace std::chrono_literals;
using testing::FakeLeaseStore;
using testing::FakeLeaseTable;
using ::testing::HasSubstr;

struct Replica {
  Replica(std::string id, FakeLeaseTable& table, core::ManualClock& clock,
          std::chrono::nanoseconds allowance = 0s, ControllerMetrics* metrics = nullptr)
      : store(table),
        election(
            LeaderElection::Deps{store, clock, log, metrics},
            LeaderElectionOptions{id, core::LeaseTiming{15s, 10s, 2s}, allowance, "leases", "eb"}) {
    callbacks.startedLeading = [this](std::uint64_t term) { started.push_back(term); };
    callbacks.stoppedLeading = [this] { ++stopped; };
  }
  void step() { election.runOnce(callbacks); }

  FakeLeaseStore store;
  core::NullLogger log;
  LeaderElection election;
  LeaderElection::Callbacks callbacks;
  std::vector<std::uint64_t> started;
  int stopped = 0;
};

TEST(LeaderElection, TheGateOpensForTheLeaderOnly) {
  FakeLeaseTable table;
  core::ManualClock clock;
  Replica a("a", table, clock);
  Replica b("b", table, clock);
  EXPECT_EQ(a.election.currentTerm(), std::nullopt);
  EXPECT_EQ(a.election.admitAttempt("RegisterTargets").error().code, "NotLeader");
  a.step();  // read: no record
  a.step();  // create
  EXPECT_EQ(a.started, std::vector<std::uint64_t>{1});
  EXPECT_EQ(a.election.currentTerm(), 1u);
  EXPECT_TRUE(a.election.checkWrite(1));
  EXPECT_THAT(a.election.checkWrite(2).error().message, HasSubstr("term changed from 2 to 1"));
  EXPECT_TRUE(a.election.admitAttempt("RegisterTargets"));
  EXPECT_EQ(a.election.describeLeader(), "this replica (a) leads (term 1)");

  b.step();
  EXPECT_EQ(b.election.currentTerm(), std::nullopt);
  const auto refused = b.election.checkWrite(1);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, core::ErrorKind::kRetryable);
  EXPECT_EQ(refused.error().message, "this replica does not lead (a leads (term 1))");
  for (const char* write : {"RegisterTargets", "DeregisterTargets", "AddTags", "RemoveTags",
                            "ChangeResourceRecordSets"}) {
    EXPECT_FALSE(b.election.admitAttempt(write)) << write;
  }
  for (const char* read : {"DescribeTargetHealth", "DescribeTags", "DescribeTargetGroups",
                           "ListResourceRecordSets", "GetChange"}) {
    EXPECT_TRUE(b.election.admitAttempt(read)) << read;
  }
  const auto status = b.election.status();
  EXPECT_FALSE(status.leading);
  EXPECT_EQ(status.holder, "a");
  EXPECT_EQ(status.term, 1u);
  EXPECT_EQ(status.identity, "b");
}

TEST(LeaderElection, WritesStopAtTheRenewDeadlineEvenBeforeTheLoopNotices) {
  FakeLeaseTable table;
  core::ManualClock clock;
  Replica a("a", table, clock);
  a.step();
  a.step();
  a.store.partitioned = true;
  clock.advance(2s);
  a.step();  // the renewal times out
  EXPECT_TRUE(a.election.checkWrite(1)) << "still within the deadline";
  EXPECT_THAT(a.election.status().lastError, HasSubstr("timed out"));
  clock.advance(8s);  // 10 s since the last renewal was sent; no step taken
  EXPECT_THAT(a.election.checkWrite(1).error().message, HasSubstr("last renewed 10s ago"));
  EXPECT_EQ(a.election.currentTerm(), std::nullopt);
  EXPECT_EQ(a.stopped, 0);
  a.step();  // the loop's deadline check says so
  EXPECT_EQ(a.stopped, 1);
  EXPECT_THAT(a.election.checkWrite(1).error().message, HasSubstr("does not lead"));
}

TEST(LeaderElection, AWriteMustEndBeforeAStandbyMayTakeOver) {
  FakeLeaseTable table;
  core::ManualClock clock;
  Replica a("a", table, clock, /*allowance=*/12s);
  a.step();
  a.step();
  a.store.partitioned = true;
  clock.advance(3s);
  EXPECT_TRUE(a.election.checkWrite(1));
  clock.advance(1ms);
  EXPECT_THAT(a.election.checkWrite(1).error().message, HasSubstr("could land after"));
  EXPECT_FALSE(a.election.admitAttempt("DeregisterTargets"));
}

TEST(LeaderElection, ShutdownClosesTheGateAndReleasesTheLease) {
  FakeLeaseTable table;
  core::ManualClock clock;
  Replica a("a", table, clock);
  Replica b("b", table, clock);
  a.step();
  a.step();
  b.step();
  a.election.closeGate();
  EXPECT_THAT(a.election.checkWrite(1).error().message, HasSubstr("shutting down"));
  a.election.stop(/*release=*/true);
  ASSERT_TRUE(table.get());
  EXPECT_EQ(table.get()->holder, "");
  EXPECT_EQ(table.get()->fence, 1u);
  clock.advance(2s);
  b.step();  // reads the free lease
  b.step();  // takes it
  EXPECT_EQ(b.started, std::vector<std::uint64_t>{2});
}

TEST(LeaderElection, StopWithoutReleaseLeavesTheLeaseToLapse) {
  FakeLeaseTable table;
  core::ManualClock clock;
  Replica a("a", table, clock);
  a.step();
  a.step();
  a.election.stop(/*release=*/false);
  EXPECT_EQ(table.get()->holder, "a");
  EXPECT_FALSE(a.election.checkWrite(1));
}

TEST(LeaderElection, MetricsFollowTheRole) {
  FakeLeaseTable table;
  core::ManualClock clock;
  auto registry = std::make_shared<prometheus::Registry>();
  ControllerMetrics metrics(registry);
  Replica a("a", table, clock, 0s, &metrics);
  const auto text = [&] { return prometheus::TextSerializer().Serialize(registry->Collect()); };
  EXPECT_THAT(text(), HasSubstr("endpointbinder_leader 0"));
  EXPECT_THAT(text(), HasSubstr("endpointbinder_leader_transitions_total{to=\"leader\"} 0"));
  a.step();
  a.step();
  EXPECT_THAT(text(), HasSubstr("endpointbinder_leader 1"));
  EXPECT_THAT(text(), HasSubstr("endpointbinder_leader_term 1"));
  EXPECT_THAT(text(), HasSubstr("endpointbinder_leader_transitions_total{to=\"leader\"} 1"));
  a.election.stop(true);
  EXPECT_THAT(text(), HasSubstr("endpointbinder_leader 0"));
  EXPECT_THAT(text(), HasSubstr("endpointbinder_leader_transitions_total{to=\"standby\"} 1"));
}

// A store whose renewals hang until the test lets them go.
class HangingStore final : public core::LeaseStore {
 public:
  explicit HangingStore(FakeLeaseTable& table) : inner_(table) {}
  core::Result<std::optional<core::LeaseRecord>> read() override { return inner_.read(); }
  core::Result<void> acquire(const core::LeaseRecord& next,
                             const std::optional<std::string>& expected) override {
    return inner_.acquire(next, expected);
  }
  core::Result<void> renew(const core::LeaseRecord& next) override {
    std::unique_lock lock(mu_);
    if (hang_) {
      ++hanging_;
      cv_.notify_all();
      cv_.wait(lock, [&] { return !hang_; });
      return core::makeError(core::ErrorKind::kRetryable, "timed out", "RequestTimeout");
    }
    lock.unlock();
    return inner_.renew(next);
  }
  core::Result<void> release(const std::string& holder, const core::LeaseRecord& freed) override {
    return inner_.release(holder, freed);
  }
  void hang(bool on) {
    std::lock_guard lock(mu_);
    hang_ = on;
    cv_.notify_all();
  }
  bool waitHanging() {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, 10s, [&] { return hanging_ > 0; });
  }

 private:
  FakeLeaseStore inner_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool hang_ = false;
  int hanging_ = 0;
};

TEST(LeaderElection, LoopStepsDownOnTimeWhileARenewalHangs) {
  FakeLeaseTable table;
  HangingStore store(table);
  core::RealClock clock;
  core::NullLogger log;
  LeaderElection election(
      LeaderElection::Deps{store, clock, log},
      LeaderElectionOptions{"a", core::LeaseTiming{600ms, 400ms, 50ms}, 0s, "leases", "eb"});
  std::mutex mu;
  std::condition_variable cv;
  bool led = false;
  bool stopped = false;
  election.start({[&](std::uint64_t) {
                    std::lock_guard lock(mu);
                    led = true;
                    cv.notify_all();
                  },
                  [&] {
                    std::lock_guard lock(mu);
                    stopped = true;
                    cv.notify_all();
                  }});
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, 10s, [&] { return led; }));
  }
  store.hang(true);
  ASSERT_TRUE(store.waitHanging());
  {
    // Stepped down while the renewal still hangs (it is released only below).
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, 10s, [&] { return stopped; }));
  }
  EXPECT_EQ(election.currentTerm(), std::nullopt);
  store.hang(false);
  election.stop(false);
}

}  // namespace
}  // namespace endpointbinder::runtime
