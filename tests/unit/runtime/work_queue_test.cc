#include "controller/runtime/work_queue.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <condition_variable>
#include <future>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "controller/core/clock.h"

namespace endpointbinder::runtime {
namespace {

using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::nanoseconds;
using std::chrono::seconds;

// ---------------------------------------------------------------------------------------
// WorkQueueCore: pure, driven by a ManualClock.

class WorkQueueCoreTest : public ::testing::Test {
 protected:
  core::MonoTime now() const { return clock_.now(); }
  void advance(nanoseconds by) { clock_.advance(by); }

  core::ManualClock clock_;
  WorkQueueCore queue_;
};

TEST_F(WorkQueueCoreTest, DuplicateAddsAreQueuedOnce) {
  EXPECT_TRUE(queue_.add("ns/a", now()));
  EXPECT_FALSE(queue_.add("ns/a", now()));
  EXPECT_TRUE(queue_.add("ns/b", now()));
  EXPECT_FALSE(queue_.add("ns/a", now()));
  EXPECT_EQ(queue_.len(), 2u);

  EXPECT_EQ(queue_.get(now()), "ns/a");
  EXPECT_EQ(queue_.get(now()), "ns/b");
  EXPECT_EQ(queue_.get(now()), std::nullopt);
  auto stats = queue_.stats(now());
  EXPECT_EQ(stats.adds, 2u);
  EXPECT_EQ(stats.merged, 2u);
}

TEST_F(WorkQueueCoreTest, ReadyKeysComeOutInAddOrder) {
  for (const char* key : {"c", "a", "b"}) queue_.add(key, now());
  EXPECT_EQ(queue_.get(now()), "c");
  EXPECT_EQ(queue_.get(now()), "a");
  EXPECT_EQ(queue_.get(now()), "b");
}

TEST_F(WorkQueueCoreTest, EventKeysAreHandedOutBeforeResyncKeys) {
  for (const char* key : {"r1", "r2", "r3"}) queue_.add(key, now(), Priority::kResync);
  queue_.add("e1", now());
  queue_.add("e2", now(), Priority::kEvent);
  EXPECT_EQ(queue_.len(), 5u);
  EXPECT_EQ(queue_.get(now()), "e1");
  EXPECT_EQ(queue_.get(now()), "e2");
  EXPECT_EQ(queue_.get(now()), "r1");
  queue_.add("e3", now());  // arrives mid-round: still ahead of the rest of the round
  EXPECT_EQ(queue_.get(now()), "e3");
  EXPECT_EQ(queue_.get(now()), "r2");
  EXPECT_EQ(queue_.get(now()), "r3");
  EXPECT_EQ(queue_.get(now()), std::nullopt);
  EXPECT_EQ(queue_.len(), 0u);
}

TEST_F(WorkQueueCoreTest, AnEventForAQueuedResyncKeyMovesItToTheFrontLaneOnce) {
  for (const char* key : {"r1", "r2", "r3"}) queue_.add(key, now(), Priority::kResync);
  EXPECT_FALSE(queue_.add("r3", now()));  // merged, but raised
  EXPECT_EQ(queue_.pendingPriority("r3"), Priority::kEvent);
  EXPECT_EQ(queue_.len(), 3u);
  EXPECT_EQ(queue_.get(now()), "r3");
  EXPECT_EQ(queue_.get(now()), "r1");
  EXPECT_EQ(queue_.get(now()), "r2");
  EXPECT_EQ(queue_.get(now()), std::nullopt);  // the stale resync entry of r3 is skipped
  EXPECT_EQ(queue_.stats(now()).gets, 3u);
}

TEST_F(WorkQueueCoreTest, AResyncAddNeverLowersAnEventKey) {
  queue_.add("e", now());
  queue_.add("r", now(), Priority::kResync);
  EXPECT_FALSE(queue_.add("e", now(), Priority::kResync));
  EXPECT_EQ(queue_.pendingPriority("e"), Priority::kEvent);
  EXPECT_EQ(queue_.get(now()), "e");
  EXPECT_EQ(queue_.get(now()), "r");
}

TEST_F(WorkQueueCoreTest, AStaleEntryDoesNotResurrectAKeyHandedOutAndQueuedAgain) {
  queue_.add("a", now(), Priority::kResync);
  queue_.add("b", now(), Priority::kResync);
  queue_.add("a", now());  // raised: a stale entry of "a" stays in the resync lane
  ASSERT_EQ(queue_.get(now()), "a");
  ASSERT_TRUE(queue_.done("a", now()));
  queue_.add("a", now(), Priority::kResync);  // queued again, behind b
  EXPECT_EQ(queue_.get(now()), "b");
  EXPECT_EQ(queue_.get(now()), "a");
  EXPECT_EQ(queue_.get(now()), std::nullopt);
}

TEST_F(WorkQueueCoreTest, AnEventWhileAResyncRunsRunsItAgainAsAnEvent) {
  queue_.add("a", now(), Priority::kResync);
  queue_.add("r", now(), Priority::kResync);
  ASSERT_EQ(queue_.get(now()), "a");
  queue_.add("a", now(), Priority::kResync);
  queue_.add("a", now());  // the DNS answer changed while the resync of "a" was running
  ASSERT_TRUE(queue_.done("a", now()));
  EXPECT_EQ(queue_.get(now()), "a");  // ahead of r
  EXPECT_EQ(queue_.get(now()), "r");
}

TEST_F(WorkQueueCoreTest, DelayedAndRetriedKeysComeBackAsEvents) {
  queue_.add("r", now(), Priority::kResync);
  queue_.addAfter("t", seconds(5), now());
  queue_.addRateLimited("f", now());  // 1 s backoff
  advance(seconds(5));
  EXPECT_EQ(queue_.get(now()), "f");
  EXPECT_EQ(queue_.get(now()), "t");
  EXPECT_EQ(queue_.get(now()), "r");
}

TEST_F(WorkQueueCoreTest, ADelayedRecheckComesBackAsAResyncBehindEvents) {
  // Issue 15: the re-read of a group after a write is a re-check. After a cold start of
  // thousands of bindings, thousands of them fell due as events and stood between a DNS
  // change and its registration.
  queue_.addAfter("written", seconds(10), now(), Priority::kResync);
  EXPECT_EQ(queue_.delayedPriority("written"), Priority::kResync);
  advance(seconds(10));
  queue_.add("changed", now());
  EXPECT_EQ(queue_.get(now()), "changed");
  EXPECT_EQ(queue_.pendingPriority("written"), Priority::kResync);
  EXPECT_EQ(queue_.get(now()), "written");
}

TEST(WorkQueueResyncBudgetTest, DelayedRechecksAreHandedOutWithinTheResyncBudget) {
  core::ManualClock clock;
  WorkQueueCore queue(WorkQueueOptions{.resyncPerSecond = 2});
  for (const char* key : {"w1", "w2", "w3"}) {
    queue.addAfter(key, seconds(10), clock.now(), Priority::kResync);
  }
  clock.advance(seconds(10));
  EXPECT_EQ(queue.get(clock.now()), "w1");
  EXPECT_EQ(queue.get(clock.now()), std::nullopt);  // the next one from +500 ms
  clock.advance(milliseconds(500));
  EXPECT_EQ(queue.get(clock.now()), "w2");
}

TEST_F(WorkQueueCoreTest, ARecheckMergedWithATimerRunsAtTheEarlierTimeAsAnEvent) {
  // A timer later than the re-check: one run, at the re-check's time, as an event (the timer
  // must not wait behind the resync budget; the run schedules the timer again if needed).
  queue_.addAfter("a", seconds(10), now(), Priority::kResync);
  EXPECT_TRUE(queue_.addAfter("a", seconds(30), now()));
  EXPECT_EQ(queue_.delayedUntil("a"), now() + seconds(10));
  EXPECT_EQ(queue_.delayedPriority("a"), Priority::kEvent);
  // A re-check later than a timer changes nothing.
  queue_.addAfter("b", seconds(10), now());
  EXPECT_FALSE(queue_.addAfter("b", seconds(30), now(), Priority::kResync));
  EXPECT_EQ(queue_.delayedUntil("b"), now() + seconds(10));
  EXPECT_EQ(queue_.delayedPriority("b"), Priority::kEvent);
  // A re-check sooner than a timer: sooner, still an event.
  EXPECT_TRUE(queue_.addAfter("b", seconds(5), now(), Priority::kResync));
  EXPECT_EQ(queue_.delayedUntil("b"), now() + seconds(5));
  EXPECT_EQ(queue_.delayedPriority("b"), Priority::kEvent);
  // An immediate event cancels a scheduled re-check.
  queue_.addAfter("c", seconds(10), now(), Priority::kResync);
  EXPECT_TRUE(queue_.add("c", now()));
  EXPECT_EQ(queue_.delayedUntil("c"), std::nullopt);
  EXPECT_EQ(queue_.pendingPriority("c"), Priority::kEvent);
  advance(seconds(10));
  EXPECT_EQ(queue_.get(now()), "c");
  EXPECT_EQ(queue_.get(now()), "b");
  EXPECT_EQ(queue_.get(now()), "a");
}

TEST_F(WorkQueueCoreTest, ATimerForAKeyAResyncMarkedWhileInFlightIsNotLostBehindTheBudget) {
  // Found by review: the periodic resync adds a key while it is being reconciled (dirty, as a
  // resync); the reconcile then asks for a timer (a grace period ends in 30 s). The timer was
  // merged into the dirty resync run and waited behind the resync budget: here 100 s.
  WorkQueueCore queue(WorkQueueOptions{.resyncPerSecond = 1});
  const core::MonoTime start = now();
  for (int i = 0; i < 100; ++i) queue.add("r" + std::to_string(i), now(), Priority::kResync);
  queue.add("k", now());
  ASSERT_EQ(queue.get(now()), "k");
  queue.add("k", now(), Priority::kResync);
  EXPECT_TRUE(queue.addAfter("k", seconds(30), now()));
  EXPECT_EQ(queue.delayedUntil("k"), now() + seconds(30)) << "the timer is kept";
  EXPECT_EQ(queue.pendingPriority("k"), Priority::kResync);
  queue.done("k", now());
  std::optional<core::MonoTime> ranAt;
  for (int step = 0; step < 2000 && !ranAt; ++step) {
    while (auto key = queue.get(now())) {
      if (*key == "k") ranAt = now();
      queue.done(*key, now());
    }
    if (!ranAt) advance(milliseconds(100));
  }
  ASSERT_TRUE(ranAt.has_value());
  EXPECT_EQ(*ranAt - start, seconds(30));  // raised to an event when the timer fell due
  EXPECT_EQ(queue.delayedUntil("k"), std::nullopt);
}

TEST_F(WorkQueueCoreTest, AResyncRunHandedOutFirstServesTheTimerBesideIt) {
  queue_.add("k", now(), Priority::kResync);
  EXPECT_TRUE(queue_.addAfter("k", seconds(30), now()));
  EXPECT_EQ(queue_.get(now()), "k");  // no budget: the resync run goes first
  EXPECT_EQ(queue_.delayedUntil("k"), std::nullopt) << "served: no second run at 30 s";
  queue_.done("k", now());
  advance(seconds(30));
  EXPECT_EQ(queue_.get(now()), std::nullopt);
}

TEST_F(WorkQueueCoreTest, AResyncOfAKeyWaitingForATimerOrBackoffLeavesItScheduled) {
  queue_.addAfter("timer", seconds(30), now());  // e.g. a grace period ending
  queue_.addRateLimited("failing", now());       // AWS throttled it: 1 s backoff
  EXPECT_FALSE(queue_.add("timer", now(), Priority::kResync));
  EXPECT_FALSE(queue_.add("failing", now(), Priority::kResync));
  EXPECT_EQ(queue_.delayedUntil("timer"), now() + seconds(30));
  EXPECT_EQ(queue_.delayedUntil("failing"), now() + seconds(1));
  EXPECT_EQ(queue_.get(now()), std::nullopt);
}

TEST_F(WorkQueueCoreTest, ALaterAddOfAQueuedResyncKeyDoesNotRaiseIt) {
  queue_.add("r", now(), Priority::kResync);
  queue_.add("r2", now(), Priority::kResync);
  EXPECT_TRUE(queue_.addAfter("r2", seconds(5), now()));  // kept beside it, not raising it now
  EXPECT_FALSE(queue_.addRateLimited("r2", now()) == nanoseconds::zero());
  EXPECT_EQ(queue_.pendingPriority("r2"), Priority::kResync);
  queue_.add("e", now());
  EXPECT_EQ(queue_.get(now()), "e");
  EXPECT_EQ(queue_.get(now()), "r");
  EXPECT_EQ(queue_.get(now()), "r2");
}

TEST_F(WorkQueueCoreTest, StaleResyncEntriesStayBoundedWhileEventsKeepTheWorkersBusy) {
  // Every round queues 1,000 resync keys and every one of them is raised by an event before
  // the resync lane is reached: without compaction the lane would grow by 1,000 per round.
  for (int round = 0; round < 20; ++round) {
    for (int i = 0; i < 1000; ++i) queue_.add("k" + std::to_string(i), now(), Priority::kResync);
    for (int i = 0; i < 1000; ++i) queue_.add("k" + std::to_string(i), now());
    for (int i = 0; i < 1000; ++i) {
      auto key = queue_.get(now());
      ASSERT_TRUE(key.has_value());
      ASSERT_TRUE(queue_.done(*key, now()));
    }
    EXPECT_EQ(queue_.len(), 0u);
    EXPECT_LE(queue_.laneEntries(Priority::kResync), 2000u) << "round " << round;
  }
  EXPECT_EQ(queue_.get(now()), std::nullopt);
}

TEST(WorkQueueResyncBudgetTest, ABacklogOfResyncKeysComesOutAtTheRateEventsDoNot) {
  core::ManualClock clock;
  WorkQueueCore queue(WorkQueueOptions{.resyncPerSecond = 2});
  for (const char* key : {"r1", "r2", "r3", "r4"}) queue.add(key, clock.now(), Priority::kResync);
  EXPECT_EQ(queue.get(clock.now()), "r1");
  EXPECT_EQ(queue.get(clock.now()), std::nullopt);  // next resync key from +500 ms
  EXPECT_EQ(queue.nextResyncTime(), clock.now() + milliseconds(500));
  queue.add("e1", clock.now());
  queue.add("e2", clock.now());
  EXPECT_EQ(queue.get(clock.now()), "e1");  // events are not budgeted
  EXPECT_EQ(queue.get(clock.now()), "e2");
  clock.advance(milliseconds(499));
  EXPECT_EQ(queue.get(clock.now()), std::nullopt);
  clock.advance(milliseconds(1));
  EXPECT_EQ(queue.get(clock.now()), "r2");
  // Idle for a minute earns no burst: r3 now, r4 half a second later.
  clock.advance(minutes(1));
  EXPECT_EQ(queue.get(clock.now()), "r3");
  EXPECT_EQ(queue.get(clock.now()), std::nullopt);
  clock.advance(milliseconds(500));
  EXPECT_EQ(queue.get(clock.now()), "r4");
  EXPECT_EQ(queue.nextResyncTime(), std::nullopt);  // none queued
}

TEST_F(WorkQueueCoreTest, KeyInFlightIsNotHandedOutAgain) {
  queue_.add("a", now());
  ASSERT_EQ(queue_.get(now()), "a");
  EXPECT_TRUE(queue_.add("a", now()));  // becomes dirty
  EXPECT_TRUE(queue_.isDirty("a"));
  EXPECT_EQ(queue_.len(), 0u);  // but not ready while in flight
  EXPECT_EQ(queue_.get(now()), std::nullopt);
}

TEST_F(WorkQueueCoreTest, ReAddWhileInFlightRunsAgainOnceAfterDone) {
  queue_.add("a", now());
  ASSERT_EQ(queue_.get(now()), "a");
  queue_.add("a", now());
  queue_.add("a", now());
  queue_.add("a", now());
  EXPECT_TRUE(queue_.done("a", now()));
  EXPECT_EQ(queue_.len(), 1u);
  EXPECT_EQ(queue_.get(now()), "a");
  EXPECT_TRUE(queue_.done("a", now()));
  EXPECT_EQ(queue_.get(now()), std::nullopt);
  EXPECT_EQ(queue_.len(), 0u);
}

TEST_F(WorkQueueCoreTest, DoneWithoutReAddDoesNotRequeue) {
  queue_.add("a", now());
  ASSERT_EQ(queue_.get(now()), "a");
  EXPECT_TRUE(queue_.done("a", now()));
  EXPECT_EQ(queue_.get(now()), std::nullopt);
  EXPECT_FALSE(queue_.isProcessing("a"));
}

TEST_F(WorkQueueCoreTest, DoneOfUnknownKeyIsIgnored) {
  EXPECT_FALSE(queue_.done("never", now()));
  queue_.add("a", now());
  EXPECT_FALSE(queue_.done("a", now()));  // queued, not in flight
  EXPECT_EQ(queue_.len(), 1u);
}

TEST_F(WorkQueueCoreTest, DelayedKeyIsReadyAtItsTime) {
  EXPECT_TRUE(queue_.addAfter("a", seconds(5), now()));
  EXPECT_EQ(queue_.len(), 0u);
  EXPECT_EQ(queue_.nextDelayedTime(), now() + seconds(5));
  advance(seconds(5) - nanoseconds(1));
  EXPECT_EQ(queue_.get(now()), std::nullopt);
  advance(nanoseconds(1));
  EXPECT_EQ(queue_.get(now()), "a");
  EXPECT_EQ(queue_.nextDelayedTime(), std::nullopt);
}

TEST_F(WorkQueueCoreTest, DelayedAddsOfOneKeyKeepTheEarliestTime) {
  auto start = now();
  EXPECT_TRUE(queue_.addAfter("a", seconds(10), now()));
  EXPECT_TRUE(queue_.addAfter("a", seconds(5), now()));    // earlier: moves
  EXPECT_FALSE(queue_.addAfter("a", seconds(20), now()));  // later: merged
  advance(seconds(1));
  EXPECT_FALSE(queue_.addAfter("a", seconds(4), now()));  // same absolute time: merged
  EXPECT_EQ(queue_.delayedUntil("a"), start + seconds(5));

  advance(seconds(4) - milliseconds(1));
  EXPECT_EQ(queue_.get(now()), std::nullopt);
  advance(milliseconds(1));
  ASSERT_EQ(queue_.get(now()), "a");
  queue_.done("a", now());
  // Nothing of the later requests is left over.
  advance(minutes(1));
  EXPECT_EQ(queue_.get(now()), std::nullopt);
  EXPECT_EQ(queue_.stats(now()).waiting, 0u);
}

TEST_F(WorkQueueCoreTest, ImmediateAddBeatsAndCancelsDelayedAdd) {
  queue_.addAfter("a", seconds(10), now());
  EXPECT_TRUE(queue_.add("a", now()));
  EXPECT_EQ(queue_.delayedUntil("a"), std::nullopt);
  ASSERT_EQ(queue_.get(now()), "a");
  queue_.done("a", now());
  advance(seconds(10));
  EXPECT_EQ(queue_.get(now()), std::nullopt);
}

TEST_F(WorkQueueCoreTest, DelayedAddOfQueuedKeyIsMerged) {
  queue_.add("a", now());
  EXPECT_FALSE(queue_.addAfter("a", seconds(3), now()));
  EXPECT_EQ(queue_.delayedUntil("a"), std::nullopt);
  ASSERT_EQ(queue_.get(now()), "a");
  queue_.done("a", now());
  advance(seconds(3));
  EXPECT_EQ(queue_.get(now()), std::nullopt);
}

TEST_F(WorkQueueCoreTest, ZeroOrNegativeDelayIsAnImmediateAdd) {
  queue_.addAfter("a", nanoseconds::zero(), now());
  queue_.addAfter("b", seconds(-1), now());
  EXPECT_EQ(queue_.len(), 2u);
}

TEST_F(WorkQueueCoreTest, DelayedKeysBecomeReadyInDueOrder) {
  queue_.addAfter("late", seconds(3), now());
  queue_.addAfter("early", seconds(1), now());
  queue_.addAfter("middle", seconds(2), now());
  advance(seconds(2));
  queue_.add("now", now());  // added after "early" and "middle" were due
  advance(seconds(5));
  EXPECT_EQ(queue_.get(now()), "early");
  EXPECT_EQ(queue_.get(now()), "middle");
  EXPECT_EQ(queue_.get(now()), "now");
  EXPECT_EQ(queue_.get(now()), "late");
}

TEST_F(WorkQueueCoreTest, EqualDueTimesKeepInsertionOrder) {
  for (const char* key : {"x", "y", "z"}) queue_.addAfter(key, seconds(1), now());
  advance(seconds(1));
  EXPECT_EQ(queue_.get(now()), "x");
  EXPECT_EQ(queue_.get(now()), "y");
  EXPECT_EQ(queue_.get(now()), "z");
}

TEST_F(WorkQueueCoreTest, DelayedAddWhileInFlightRunsAfterDone) {
  queue_.add("a", now());
  ASSERT_EQ(queue_.get(now()), "a");
  EXPECT_TRUE(queue_.addAfter("a", seconds(1), now()));  // scheduled: the run in flight is older
  advance(seconds(2));
  EXPECT_EQ(queue_.get(now()), std::nullopt);  // due, but still in flight
  EXPECT_TRUE(queue_.isDirty("a"));
  queue_.done("a", now());
  EXPECT_EQ(queue_.get(now()), "a");
  queue_.done("a", now());
  EXPECT_EQ(queue_.get(now()), std::nullopt);
}

TEST_F(WorkQueueCoreTest, DelayedKeyDueBeforeDoneIsQueuedOnce) {
  queue_.add("a", now());
  ASSERT_EQ(queue_.get(now()), "a");
  queue_.addAfter("a", seconds(1), now());
  advance(seconds(2));
  queue_.done("a", now());  // no other call promoted the delayed key before done
  EXPECT_EQ(queue_.len(), 1u);
  EXPECT_EQ(queue_.get(now()), "a");
  queue_.done("a", now());
  EXPECT_EQ(queue_.len(), 0u);
  EXPECT_EQ(queue_.get(now()), std::nullopt);
}

TEST_F(WorkQueueCoreTest, DelayedAddOfDirtyInFlightKeyIsMerged) {
  queue_.add("a", now());
  ASSERT_EQ(queue_.get(now()), "a");
  queue_.add("a", now());
  EXPECT_FALSE(queue_.addAfter("a", seconds(1), now()));
  EXPECT_EQ(queue_.delayedUntil("a"), std::nullopt);
}

TEST_F(WorkQueueCoreTest, BackoffDoublesFromBaseUpToCap) {
  std::vector<nanoseconds> delays;
  for (int i = 0; i < 12; ++i) delays.push_back(queue_.addRateLimited("a", now()));
  std::vector<nanoseconds> want = {seconds(1),   seconds(2),  seconds(4),  seconds(8),
                                   seconds(16),  seconds(32), seconds(64), seconds(128),
                                   seconds(256), minutes(5),  minutes(5),  minutes(5)};
  EXPECT_EQ(delays, want);
  EXPECT_EQ(queue_.numRequeues("a"), 12);
  EXPECT_EQ(queue_.numRequeues("b"), 0);
  EXPECT_EQ(queue_.stats(now()).retries, 12u);
}

TEST_F(WorkQueueCoreTest, ForgetResetsBackoffPerKey) {
  queue_.addRateLimited("a", now());
  queue_.addRateLimited("a", now());
  queue_.addRateLimited("b", now());
  queue_.forget("a");
  EXPECT_EQ(queue_.numRequeues("a"), 0);
  EXPECT_EQ(queue_.numRequeues("b"), 1);
  EXPECT_EQ(queue_.addRateLimited("a", now()), seconds(1));
  EXPECT_EQ(queue_.addRateLimited("b", now()), seconds(2));
}

TEST_F(WorkQueueCoreTest, RateLimitedKeyWaitsForItsBackoff) {
  queue_.add("a", now());
  ASSERT_EQ(queue_.get(now()), "a");
  queue_.addRateLimited("a", now());  // failed: retry in 1 s
  queue_.done("a", now());
  EXPECT_EQ(queue_.get(now()), std::nullopt);
  advance(seconds(1));
  ASSERT_EQ(queue_.get(now()), "a");
  queue_.addRateLimited("a", now());  // failed again: 2 s
  queue_.done("a", now());
  advance(seconds(2) - milliseconds(1));
  EXPECT_EQ(queue_.get(now()), std::nullopt);
  advance(milliseconds(1));
  EXPECT_EQ(queue_.get(now()), "a");
}

TEST(WorkQueueBackoffTest, OptionsSetBaseAndCapAndNothingOverflows) {
  WorkQueueCore queue(WorkQueueOptions{milliseconds(100), seconds(1)});
  EXPECT_EQ(queue.backoffFor(0), milliseconds(100));
  EXPECT_EQ(queue.backoffFor(1), milliseconds(200));
  EXPECT_EQ(queue.backoffFor(3), milliseconds(800));
  EXPECT_EQ(queue.backoffFor(4), seconds(1));
  EXPECT_EQ(queue.backoffFor(61), seconds(1));
  EXPECT_EQ(queue.backoffFor(62), seconds(1));
  EXPECT_EQ(queue.backoffFor(1'000'000), seconds(1));
  EXPECT_EQ(queue.backoffFor(-3), milliseconds(100));

  WorkQueueCore huge(WorkQueueOptions{seconds(1), nanoseconds::max()});
  for (int n = 0; n < 100; ++n) {
    EXPECT_GT(huge.backoffFor(n), nanoseconds::zero()) << n;
    if (n > 0) {
      EXPECT_GE(huge.backoffFor(n), huge.backoffFor(n - 1)) << n;
    }
  }
}

TEST_F(WorkQueueCoreTest, ShutDownStopsHandingOutAndIgnoresAdds) {
  queue_.add("a", now());
  queue_.add("b", now());
  ASSERT_EQ(queue_.get(now()), "a");
  queue_.add("a", now());  // dirty while in flight
  queue_.addAfter("c", seconds(1), now());
  queue_.shutDown();
  EXPECT_TRUE(queue_.shuttingDown());
  EXPECT_FALSE(queue_.add("d", now()));
  EXPECT_FALSE(queue_.addAfter("e", seconds(1), now()));
  EXPECT_EQ(queue_.get(now()), std::nullopt);
  EXPECT_TRUE(queue_.done("a", now()));  // in-flight work may still finish
  advance(seconds(2));
  EXPECT_EQ(queue_.get(now()), std::nullopt);
  EXPECT_EQ(queue_.processingCount(), 0u);
}

TEST_F(WorkQueueCoreTest, StatsReportDepthLatencyAndInFlightAge) {
  queue_.add("a", now());
  queue_.add("b", now());
  queue_.add("c", now());
  queue_.addAfter("d", seconds(30), now());
  advance(seconds(2));
  ASSERT_EQ(queue_.get(now()), "a");  // waited 2 s
  advance(seconds(3));
  ASSERT_EQ(queue_.get(now()), "b");  // waited 5 s
  advance(seconds(1));

  auto s = queue_.stats(now());
  EXPECT_EQ(s.depth, 1u);
  EXPECT_EQ(s.waiting, 1u);
  EXPECT_EQ(s.processing, 2u);
  EXPECT_EQ(s.adds, 3u);
  EXPECT_EQ(s.gets, 2u);
  EXPECT_DOUBLE_EQ(s.queueSecondsSum, 7.0);
  EXPECT_DOUBLE_EQ(s.longestRunningSeconds, 4.0);  // a: since 2 s, now 6 s
  EXPECT_DOUBLE_EQ(s.unfinishedWorkSeconds, 5.0);  // a 4 s + b 1 s

  queue_.done("a", now());
  s = queue_.stats(now());
  EXPECT_EQ(s.dones, 1u);
  EXPECT_DOUBLE_EQ(s.workSecondsSum, 4.0);
  EXPECT_DOUBLE_EQ(s.longestRunningSeconds, 1.0);
}

TEST_F(WorkQueueCoreTest, StatsCountTheResyncLaneApart) {
  queue_.add("a", now(), Priority::kResync);
  queue_.add("b", now(), Priority::kResync);
  queue_.add("c", now());
  EXPECT_EQ(queue_.stats(now()).depth, 3u);
  EXPECT_EQ(queue_.stats(now()).resyncDepth, 2u);
  queue_.add("a", now());  // raised to the event lane: its resync entry is stale now
  EXPECT_EQ(queue_.stats(now()).depth, 3u);
  EXPECT_EQ(queue_.stats(now()).resyncDepth, 1u);
  ASSERT_EQ(queue_.get(now()), "c");
  ASSERT_EQ(queue_.get(now()), "a");
  ASSERT_EQ(queue_.get(now()), "b");
  EXPECT_EQ(queue_.stats(now()).resyncDepth, 0u);
}

// Randomised property test against a model of what callers are promised:
//  - a key is handed out only when a request for it is outstanding and due, never while it is
//    in flight;
//  - get() finding nothing means every due request belongs to a key in flight;
//  - after the clock passes every due time and all work is done, every request has been served.
TEST(WorkQueueCorePropertyTest, RandomOperationsKeepThePromises) {
  for (std::uint32_t seed = 1; seed <= 40; ++seed) {
    SCOPED_TRACE(::testing::Message() << "seed " << seed);
    std::mt19937 random(seed);
    auto pick = [&](int n) { return std::uniform_int_distribution<int>(0, n - 1)(random); };
    core::ManualClock clock;
    WorkQueueCore queue(WorkQueueOptions{milliseconds(100), seconds(2)});
    const std::vector<std::string> keys = {"a", "b", "c", "d", "e"};
    std::map<std::string, core::MonoTime> outstanding;  // earliest due of unserved requests
    std::map<std::string, bool> inFlight;
    auto request = [&](const std::string& key, core::MonoTime due) {
      auto [it, fresh] = outstanding.emplace(key, due);
      if (!fresh) it->second = std::min(it->second, due);
    };
    auto checkGet = [&](const std::optional<std::string>& got) {
      auto now = clock.now();
      if (got) {
        ASSERT_FALSE(inFlight[*got]) << *got << " handed out twice";
        auto it = outstanding.find(*got);
        ASSERT_NE(it, outstanding.end()) << *got << " handed out with no request";
        ASSERT_LE(it->second, now) << *got << " handed out before it was due";
        outstanding.erase(it);
        inFlight[*got] = true;
      } else {
        for (const auto& [key, due] : outstanding) {
          ASSERT_TRUE(due > now || inFlight[key]) << key << " due but not handed out";
        }
      }
    };

    for (int step = 0; step < 400; ++step) {
      const std::string& key = keys[pick(static_cast<int>(keys.size()))];
      switch (pick(8)) {
        case 0:
          queue.add(key, clock.now());
          request(key, clock.now());
          break;
        case 7: {  // a periodic resync: merged into a run scheduled for later, if any
          const bool pendingNow = queue.pendingPriority(key).has_value();
          const auto scheduled = queue.delayedUntil(key);
          queue.add(key, clock.now(), Priority::kResync);
          request(key, !pendingNow && scheduled ? *scheduled : clock.now());
          break;
        }
        case 1: {
          auto delay = milliseconds(pick(3000));
          queue.addAfter(key, delay, clock.now());
          request(key, clock.now() + delay);
          break;
        }
        case 2: {
          auto delay = queue.addRateLimited(key, clock.now());
          request(key, clock.now() + delay);
          if (pick(3) == 0) queue.forget(key);
          break;
        }
        case 3:
          checkGet(queue.get(clock.now()));
          break;
        case 4:
          if (inFlight[key]) {
            ASSERT_TRUE(queue.done(key, clock.now()));
            inFlight[key] = false;
          }
          break;
        case 5:
          clock.advance(milliseconds(pick(700)));
          break;
        case 6: {  // a re-check: budgeted like a resync once due, but never lost
          auto delay = milliseconds(pick(3000));
          queue.addAfter(key, delay, clock.now(), Priority::kResync);
          request(key, clock.now() + delay);
          break;
        }
      }
      if (::testing::Test::HasFatalFailure()) return;
      // The resync lane's depth counts exactly the queued keys pending as re-checks.
      std::size_t queuedReChecks = 0;
      for (const auto& k : keys) {
        queuedReChecks += !queue.isProcessing(k) && queue.pendingPriority(k) == Priority::kResync;
      }
      const auto stats = queue.stats(clock.now());
      ASSERT_EQ(stats.resyncDepth, queuedReChecks) << "step " << step;
      ASSERT_LE(stats.resyncDepth, stats.depth);
    }
    for (auto& [key, flying] : inFlight) {
      if (flying) queue.done(key, clock.now());
      flying = false;
    }
    clock.advance(minutes(1));
    for (int i = 0; i < 100; ++i) {
      auto got = queue.get(clock.now());
      checkGet(got);
      if (::testing::Test::HasFatalFailure()) return;
      if (!got) break;
      queue.done(*got, clock.now());
      inFlight[*got] = false;
    }
    EXPECT_TRUE(outstanding.empty());
    EXPECT_EQ(queue.len(), 0u);
  }
}

// ---------------------------------------------------------------------------------------
// WorkQueue: the thread-safe wrapper. These use real time with generous bounds.

constexpr auto kBound = seconds(10);  // "eventually": far beyond any expected latency

TEST(WorkQueueTest, UsesTheInjectedClock) {
  core::ManualClock clock;
  WorkQueue queue(clock);
  queue.addAfter("a", seconds(30));
  EXPECT_EQ(queue.tryGet(), std::nullopt);
  clock.advance(seconds(30));
  EXPECT_EQ(queue.tryGet(), "a");
  queue.done("a");
  EXPECT_EQ(queue.stats().dones, 1u);
}

TEST(WorkQueueTest, GetBlocksUntilAKeyIsAdded) {
  core::RealClock clock;
  WorkQueue queue(clock);
  auto got = std::async(std::launch::async, [&] { return queue.get(); });
  EXPECT_EQ(got.wait_for(milliseconds(50)), std::future_status::timeout);
  queue.add("a");
  ASSERT_EQ(got.wait_for(kBound), std::future_status::ready);
  EXPECT_EQ(got.get(), "a");
}

TEST(WorkQueueTest, BlockedGetWakesAtDelayedTime) {
  core::RealClock clock;
  WorkQueue queue(clock);
  queue.addAfter("later", minutes(10));
  auto start = clock.now();
  auto got = std::async(std::launch::async, [&] { return queue.get(); });
  // The getter is asleep until the 10-minute key; an earlier key must wake it.
  queue.addAfter("soon", milliseconds(50));
  ASSERT_EQ(got.wait_for(kBound), std::future_status::ready);
  EXPECT_EQ(got.get(), "soon");
  EXPECT_GE(clock.now() - start, milliseconds(50));
}

TEST(WorkQueueTest, BlockedGetWakesWhenTheResyncBudgetAllowsTheNextKey) {
  core::RealClock clock;
  WorkQueue queue(clock, WorkQueueOptions{.resyncPerSecond = 10});
  queue.add("r1", Priority::kResync);
  queue.add("r2", Priority::kResync);
  ASSERT_EQ(queue.get(), "r1");
  const auto start = clock.now();
  // Nobody adds or wakes: the getter sets its own alarm for the budget.
  auto got = std::async(std::launch::async, [&] { return queue.get(); });
  ASSERT_EQ(got.wait_for(kBound), std::future_status::ready);
  EXPECT_EQ(got.get(), "r2");
  EXPECT_GE(clock.now() - start, milliseconds(90));
}

TEST(WorkQueueTest, ShutDownWakesEveryGetter) {
  core::RealClock clock;
  WorkQueue queue(clock);
  queue.addAfter("far", minutes(10));
  std::vector<std::future<std::optional<std::string>>> getters;
  for (int i = 0; i < 4; ++i) {
    getters.push_back(std::async(std::launch::async, [&] { return queue.get(); }));
  }
  EXPECT_EQ(getters[0].wait_for(milliseconds(50)), std::future_status::timeout);
  queue.shutDown();
  for (auto& g : getters) {
    ASSERT_EQ(g.wait_for(kBound), std::future_status::ready);
    EXPECT_EQ(g.get(), std::nullopt);
  }
  queue.add("a");
  EXPECT_EQ(queue.get(), std::nullopt);
  EXPECT_EQ(queue.len(), 0u);
}

TEST(WorkQueueTest, DrainWaitsForInFlightWork) {
  core::RealClock clock;
  WorkQueue queue(clock);
  queue.add("a");
  queue.add("b");
  auto key = queue.get();
  ASSERT_EQ(key, "a");

  auto drained = std::async(std::launch::async, [&] { return queue.shutDownWithDrain(kBound); });
  EXPECT_EQ(drained.wait_for(milliseconds(50)), std::future_status::timeout);
  EXPECT_EQ(queue.get(), std::nullopt);  // "b" is not started once draining
  queue.done(*key);
  ASSERT_EQ(drained.wait_for(kBound), std::future_status::ready);
  EXPECT_TRUE(drained.get());
}

TEST(WorkQueueTest, DrainGivesUpAfterTimeout) {
  core::RealClock clock;
  WorkQueue queue(clock);
  queue.add("stuck");
  ASSERT_EQ(queue.get(), "stuck");
  EXPECT_FALSE(queue.shutDownWithDrain(milliseconds(20)));
  queue.done("stuck");
  EXPECT_TRUE(queue.shutDownWithDrain(milliseconds(0)));
}

TEST(WorkQueueTest, NWorkersRunDifferentKeysConcurrently) {
  constexpr int kWorkers = 3;
  core::RealClock clock;
  WorkQueue queue(clock);
  std::mutex mu;
  std::condition_variable cv;
  int running = 0;
  std::atomic<int> metAll{0};
  std::vector<std::thread> workers;
  for (int i = 0; i < kWorkers; ++i) {
    workers.emplace_back([&] {
      while (auto key = queue.get()) {
        std::unique_lock lock(mu);
        ++running;
        cv.notify_all();
        // Every worker holds its key until all of them are running at once.
        if (cv.wait_for(lock, kBound, [&] { return running >= kWorkers; })) {
          ++metAll;
          cv.notify_all();
        }
        lock.unlock();
        queue.done(*key);
      }
    });
  }
  for (int i = 0; i < kWorkers; ++i) queue.add("ns/key-" + std::to_string(i));
  {
    std::unique_lock lock(mu);
    cv.wait_for(lock, kBound, [&] { return metAll.load() == kWorkers; });
  }
  queue.shutDown();
  for (auto& w : workers) w.join();
  EXPECT_EQ(metAll.load(), kWorkers);
}

TEST(WorkQueueTest, StressNeverTwoWorkersOnOneKeyAndNoAddIsLost) {
  constexpr int kWorkers = 4;
  constexpr int kKeys = 8;
  constexpr int kProducers = 2;
  constexpr int kAddsPerProducer = 3000;
  core::RealClock clock;
  WorkQueue queue(clock, WorkQueueOptions{std::chrono::microseconds(50), milliseconds(1)});
  std::array<std::atomic<int>, kKeys> inFlight{};
  std::array<std::atomic<bool>, kKeys> pending{};
  std::array<std::atomic<int>, kKeys> runs{};
  std::atomic<int> overlaps{0};

  std::vector<std::thread> workers;
  for (int w = 0; w < kWorkers; ++w) {
    workers.emplace_back([&] {
      while (auto key = queue.get()) {
        int k = std::stoi(key->substr(key->find('-') + 1));
        if (inFlight[k].fetch_add(1) != 0) ++overlaps;
        pending[k] = false;  // this run sees every change requested before it started
        ++runs[k];
        std::this_thread::yield();
        inFlight[k].fetch_sub(1);
        queue.done(*key);
      }
    });
  }
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&, p] {
      std::mt19937 random(p + 1);
      for (int i = 0; i < kAddsPerProducer; ++i) {
        int k = static_cast<int>(random() % kKeys);
        std::string key = "ns/key-" + std::to_string(k);
        pending[k] = true;
        switch (random() % 3) {
          case 0:
            queue.add(key);
            break;
          case 1:
            queue.addAfter(key, std::chrono::microseconds(random() % 200));
            break;
          case 2:
            queue.addRateLimited(key);
            break;
        }
      }
    });
  }
  for (auto& p : producers) p.join();

  auto deadline = clock.now() + kBound;
  auto quiet = [&] {
    auto s = queue.stats();
    if (s.depth != 0 || s.waiting != 0 || s.processing != 0) return false;
    for (auto& flag : pending) {
      if (flag) return false;
    }
    return true;
  };
  while (!quiet() && clock.now() < deadline) std::this_thread::sleep_for(milliseconds(5));
  queue.shutDown();
  for (auto& w : workers) w.join();

  EXPECT_EQ(overlaps.load(), 0);
  for (int k = 0; k < kKeys; ++k) {
    EXPECT_FALSE(pending[k]) << "key " << k << " was added but never ran afterwards";
    EXPECT_GT(runs[k].load(), 0);
  }
  auto s = queue.stats();
  EXPECT_EQ(s.gets, s.dones);
  // Merging is the point: far fewer runs than requests.
  EXPECT_LE(s.gets, static_cast<std::uint64_t>(kProducers * kAddsPerProducer));
}

// Idle getters take turns on the timer instead of all sleeping until the next due key: one
// wakes for it (and hands the timer to another), not every idle worker. With eight idle
// workers and six keys due one after another the old scheme woke 8 per key (48).
TEST(WorkQueueTest, OneIdleGetterWakesForADueKeyNotAllOfThem) {
  constexpr int kGetters = 8;
  constexpr int kKeys = 6;
  core::RealClock clock;
  WorkQueue queue(clock);
  for (int i = 0; i < kKeys; ++i)
    queue.addAfter("k" + std::to_string(i), milliseconds(60 * (i + 1)));
  std::mutex mu;
  std::vector<std::string> got;
  std::vector<std::thread> getters;
  for (int i = 0; i < kGetters; ++i) {
    getters.emplace_back([&] {
      while (auto key = queue.get()) {
        {
          std::lock_guard lock(mu);
          got.push_back(*key);
        }
        queue.done(*key);
      }
    });
  }
  const auto deadline = clock.now() + kBound;
  while (queue.stats().dones < kKeys && clock.now() < deadline) {
    std::this_thread::sleep_for(milliseconds(5));
  }
  const auto wakeUps = queue.stats().getterWakeUps;
  queue.shutDown();
  for (auto& g : getters) g.join();
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<std::string>{"k0", "k1", "k2", "k3", "k4", "k5"}));
  // The timer waiter, and the getter it hands the timer to: 2 per key; at most one more when
  // the done() that follows comes before that getter has taken the timer (and wakes another
  // to take it).
  EXPECT_LE(wakeUps, static_cast<std::uint64_t>(3 * kKeys)) << "every idle getter woke per key";
}

// A resync key that the budget holds, raised by an event add, is handed out at once: the add
// leaves len() as it was (the key moves lanes), and the blocked getter used to sleep on until
// the budget's time.
TEST(WorkQueueTest, AnEventRaisingAHeldResyncKeyWakesAGetterAtOnce) {
  core::RealClock clock;
  WorkQueue queue(clock, WorkQueueOptions{.resyncPerSecond = 0.5});  // one every 2 s
  queue.add("r1", Priority::kResync);
  queue.add("r2", Priority::kResync);
  ASSERT_EQ(queue.get(), "r1");
  auto got = std::async(std::launch::async, [&] { return queue.get(); });
  EXPECT_EQ(got.wait_for(milliseconds(100)), std::future_status::timeout);  // held
  const auto raised = clock.now();
  queue.add("r2", Priority::kEvent);
  ASSERT_EQ(got.wait_for(kBound), std::future_status::ready);
  EXPECT_EQ(got.get(), "r2");
  EXPECT_LT(clock.now() - raised, milliseconds(1000)) << "waited for the resync budget";
}

// The getter on the timer that leaves with a key hands the timer over at once: a key due while
// that worker is still busy with its own is not held up until the worker is done.
TEST(WorkQueueTest, TheTimerIsHandedOverWhenItsGetterLeavesWithAKey) {
  core::RealClock clock;
  WorkQueue queue(clock);
  queue.addAfter("first", milliseconds(30));
  queue.addAfter("second", milliseconds(80));
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::promise<std::string> secondTaken;
  std::atomic<bool> secondSeen{false};
  auto worker = [&] {
    while (auto key = queue.get()) {
      if (*key == "first") {
        released.wait();  // busy with it until the test ends
      } else if (!secondSeen.exchange(true)) {
        secondTaken.set_value(*key);
      }
      queue.done(*key);
    }
  };
  std::thread a(worker);
  std::thread b(worker);
  auto second = secondTaken.get_future();
  const bool inTime = second.wait_for(seconds(3)) == std::future_status::ready;
  release.set_value();
  queue.shutDown();
  a.join();
  b.join();
  ASSERT_TRUE(inTime) << "the idle getter slept while the busy one held the timer";
  EXPECT_EQ(second.get(), "second");
}

// Liveness with the timer handed from getter to getter: keys of both lanes, added now, later
// and rate-limited from two threads while workers take them, under a resync budget; every key
// runs after its last request and the queue drains.
TEST(WorkQueueTest, StressWithResyncBudgetAndTimersNoKeyIsStranded) {
  constexpr int kWorkers = 6;
  constexpr int kKeys = 24;
  constexpr int kProducers = 2;
  constexpr int kAddsPerProducer = 1500;
  core::RealClock clock;
  WorkQueue queue(clock, WorkQueueOptions{std::chrono::microseconds(200), milliseconds(5),
                                          /*resyncPerSecond=*/2000});
  std::array<std::atomic<bool>, kKeys> pending{};
  std::array<std::atomic<int>, kKeys> runs{};
  std::vector<std::thread> workers;
  for (int w = 0; w < kWorkers; ++w) {
    workers.emplace_back([&] {
      while (auto key = queue.get()) {
        const int k = std::stoi(key->substr(key->find('-') + 1));
        pending[k] = false;
        ++runs[k];
        queue.done(*key);
      }
    });
  }
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&, p] {
      std::mt19937 random(p + 7);
      for (int i = 0; i < kAddsPerProducer; ++i) {
        const int k = static_cast<int>(random() % kKeys);
        const std::string key = "ns/key-" + std::to_string(k);
        pending[k] = true;
        switch (random() % 4) {
          case 0:
            queue.add(key);
            break;
          case 1:
            queue.add(key, Priority::kResync);
            break;
          case 2:
            queue.addAfter(key, std::chrono::microseconds(random() % 3000),
                           random() % 2 == 0 ? Priority::kEvent : Priority::kResync);
            break;
          case 3:
            queue.addRateLimited(key);
            break;
        }
        if (i % 64 == 0) std::this_thread::sleep_for(milliseconds(1));  // let the timers run
      }
    });
  }
  for (auto& p : producers) p.join();
  const auto deadline = clock.now() + kBound;
  auto quiet = [&] {
    const auto stats = queue.stats();
    if (stats.depth != 0 || stats.waiting != 0 || stats.processing != 0) return false;
    for (auto& flag : pending) {
      if (flag) return false;
    }
    return true;
  };
  while (!quiet() && clock.now() < deadline) std::this_thread::sleep_for(milliseconds(5));
  const bool drained = quiet();
  queue.shutDown();
  for (auto& w : workers) w.join();
  EXPECT_TRUE(drained) << "a key stayed queued or scheduled with idle workers";
  for (int k = 0; k < kKeys; ++k) {
    EXPECT_FALSE(pending[k]) << "key " << k << " was added but never ran afterwards";
  }
}

}  // namespace
}  // namespace endpointbinder::runtime
