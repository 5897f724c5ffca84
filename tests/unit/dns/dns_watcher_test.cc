// DnsWatcher's threaded shell with a FakeResolver: lookups start on subscribe, the change
// callback fires, stop() cancels a blocked lookup quickly, and concurrency is bounded; the same
// with the FakeResolver made asynchronous (one worker, lookups called back from elsewhere). The
// scheduling rules themselves are tested in watch_schedule_test.cc; these tests wait for
// events (condition variables with generous limits), never for fixed times.
#include "controller/dns/dns_watcher.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <thread>

#include "tests/support/dns_fake_resolver.h"

namespace endpointbinder::dns {
namespace {

using namespace std::chrono_literals;
using testing::answerOf;
using testing::failureOf;
using testing::FakeRandom;
using testing::FakeResolver;

constexpr auto kPatience = 10s;  // only ever reached when a test fails

api::DnsSource source(std::string hostname, Duration minRefresh = 50ms, Duration maxRefresh = 50ms,
                      int lookups = 1) {
  api::DnsSource s;
  s.hostname = std::move(hostname);
  s.lookupsPerRefresh = lookups;
  s.minRefreshInterval = minRefresh;
  s.maxRefreshInterval = maxRefresh;
  return s;
}

// Collects change callbacks and lets the test wait for a condition on them.
class Changes {
 public:
  DnsWatcher::ChangeCallback callback() {
    return [this](const std::string& hostname, const std::vector<std::string>& keys) {
      std::lock_guard lock(mutex_);
      events_.emplace_back(hostname, keys);
      cv_.notify_all();
    };
  }
  bool waitForCount(size_t count) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, kPatience, [&] { return events_.size() >= count; });
  }
  std::vector<std::pair<std::string, std::vector<std::string>>> events() {
    std::lock_guard lock(mutex_);
    return events_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<std::pair<std::string, std::vector<std::string>>> events_;
};

// Waits until `predicate` holds, re-checking whenever a change callback fires or every
// 10 ms; for conditions on resolver state that has no callback of its own.
template <typename Predicate>
bool eventually(Predicate predicate) {
  const auto deadline = std::chrono::steady_clock::now() + kPatience;
  while (std::chrono::steady_clock::now() < deadline) {
    if (predicate()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return predicate();
}

class CountingObserver final : public WatcherObserver {
 public:
  void onLookup(const std::string&, ResolveStatus status, std::chrono::nanoseconds) override {
    std::lock_guard lock(mutex_);
    lookups_[static_cast<size_t>(status)]++;
  }
  void onRefresh(const std::string&, const RefreshUpdate& update) override {
    std::lock_guard lock(mutex_);
    refreshes_++;
    if (update.notify()) notified_++;
  }
  int lookups(ResolveStatus status) {
    std::lock_guard lock(mutex_);
    return lookups_[static_cast<size_t>(status)];
  }
  int refreshes() {
    std::lock_guard lock(mutex_);
    return refreshes_;
  }

 private:
  std::mutex mutex_;
  std::array<int, kResolveStatusCount> lookups_{};
  int refreshes_ = 0;
  int notified_ = 0;
};

class CapturingLogger final : public core::Logger {
 public:
  bool enabled(core::LogLevel) const override { return true; }
  void log(core::LogLevel level, std::string_view message,
           std::initializer_list<core::LogField>) override {
    std::lock_guard lock(mutex_);
    lines_.emplace_back(level, std::string(message));
  }
  int count(core::LogLevel level) {
    std::lock_guard lock(mutex_);
    return static_cast<int>(std::count_if(lines_.begin(), lines_.end(),
                                          [&](const auto& line) { return line.first == level; }));
  }

 private:
  std::mutex mutex_;
  std::vector<std::pair<core::LogLevel, std::string>> lines_;
};

DnsWatcherOptions fastOptions(int workers = 2) {
  DnsWatcherOptions options;
  options.maxConcurrentRefreshes = workers;
  options.schedule.intervalFloor = 10ms;
  return options;
}

TEST(DnsWatcherTest, SubscribingLooksUpAndReportsTheFirstAnswer) {
  core::RealClock clock;
  FakeRandom random;
  FakeResolver resolver;
  resolver.setOutcome("db.test", answerOf({"10.0.0.2", "10.0.0.1"}, 60));
  Changes changes;
  DnsWatcher watcher(resolver, clock, random, changes.callback(), fastOptions());
  EXPECT_TRUE(watcher.subscribe("ns/a", source("db.test", 30s, 60s)));
  EXPECT_FALSE(watcher.subscribe("ns/b", source("db.test", 30s, 60s)));
  watcher.start();

  ASSERT_TRUE(changes.waitForCount(1));
  auto events = changes.events();
  EXPECT_EQ(events[0].first, "db.test");
  EXPECT_EQ(events[0].second, (std::vector<std::string>{"ns/a", "ns/b"}));
  auto snapshot = watcher.snapshotForBinding("ns/b");
  ASSERT_TRUE(snapshot.has_value());
  ASSERT_EQ(snapshot->addresses.size(), 2u);
  EXPECT_EQ(snapshot->addresses[0].toString(), "10.0.0.1");
  EXPECT_TRUE(snapshot->hasAnswer);
  EXPECT_FALSE(watcher.snapshotForBinding("ns/zzz").has_value());
  EXPECT_EQ(resolver.callCount("db.test"), 1);  // shared target: one lookup, not two
  watcher.stop();
  EXPECT_EQ(watcher.stats().lookupCount(ResolveStatus::kOk), 1u);
}

TEST(DnsWatcherTest, FailureKeepsTheAnswerAndRecoveryIsReported) {
  core::RealClock clock;
  FakeRandom random;
  FakeResolver resolver;
  resolver.queueOutcome("db.test", answerOf({"10.0.0.1"}, 0));
  resolver.queueOutcome("db.test", failureOf(ResolveStatus::kServFail, "SERVFAIL (A)"));
  resolver.setOutcome("db.test", answerOf({"10.0.0.1"}, 0));
  Changes changes;
  CapturingLogger logger;
  DnsWatcher watcher(resolver, clock, random, changes.callback(), fastOptions(), &logger);
  watcher.subscribe("ns/a", source("db.test"));
  watcher.start();

  // answer (change), failure (failing), answer again (recovered): three notifications.
  ASSERT_TRUE(changes.waitForCount(3));
  watcher.stop();
  auto snapshot = watcher.snapshot("db.test");
  EXPECT_FALSE(snapshot->failing);
  ASSERT_EQ(snapshot->addresses.size(), 1u);
  auto stats = watcher.stats();
  EXPECT_EQ(stats.lookupCount(ResolveStatus::kServFail), 1u);
  EXPECT_EQ(stats.refreshFailures, 1u);
  EXPECT_GE(stats.noChange, 1u);
  EXPECT_EQ(logger.count(core::LogLevel::kWarn), 1);  // "dns source failing"
}

TEST(DnsWatcherTest, StopCancelsABlockedLookupQuicklyWithoutMarkingItFailing) {
  core::RealClock clock;
  FakeRandom random;
  FakeResolver resolver;
  resolver.setBlocking("slow.test", true);
  Changes changes;
  DnsWatcher watcher(resolver, clock, random, changes.callback(), fastOptions());
  watcher.subscribe("ns/a", source("slow.test"));
  watcher.start();
  ASSERT_TRUE(eventually([&] { return resolver.inProgress() == 1; }));

  const auto started = std::chrono::steady_clock::now();
  watcher.stop();
  EXPECT_LT(std::chrono::steady_clock::now() - started, 1s);
  EXPECT_EQ(resolver.inProgress(), 0);
  EXPECT_TRUE(changes.events().empty());
  EXPECT_FALSE(watcher.snapshot("slow.test")->failing);
  EXPECT_EQ(watcher.stats().totalLookups(), 0u);
  watcher.stop();  // idempotent
}

TEST(DnsWatcherTest, RefreshesInFlightAreBoundedByTheWorkerCount) {
  core::RealClock clock;
  FakeRandom random;
  FakeResolver resolver;
  const std::vector<std::string> names = {"a.test", "b.test", "c.test", "d.test", "e.test"};
  for (const auto& name : names) {
    resolver.setBlocking(name, true);
    resolver.setOutcome(name, answerOf({"10.0.0.1"}, 60));
  }
  Changes changes;
  DnsWatcher watcher(resolver, clock, random, changes.callback(), fastOptions(2));
  for (size_t i = 0; i < names.size(); ++i) {
    watcher.subscribe("ns/b" + std::to_string(i), source(names[i], 30s, 60s));
  }
  watcher.start();
  // Both workers end up blocked in a lookup; with both blocked no third call can start.
  ASSERT_TRUE(eventually([&] { return resolver.inProgress() == 2; }));
  EXPECT_EQ(resolver.calls().size(), 2u);

  for (const auto& name : names) resolver.setBlocking(name, false);
  ASSERT_TRUE(changes.waitForCount(names.size()));
  EXPECT_EQ(resolver.maxConcurrent(), 2);
  for (const auto& name : names) EXPECT_TRUE(watcher.snapshot(name)->hasAnswer) << name;
}

// One refresh of a source asking for 4 lookups: 3 answers and a timeout are folded into one
// listing of 3 addresses and reported to the observer. `resolver` serves `fake`'s outcomes
// (itself, or an asynchronous wrapper of it).
void checkLookupsPerRefresh(Resolver& resolver, FakeResolver& fake) {
  core::RealClock clock;
  FakeRandom random;
  fake.queueOutcome("alb.test", answerOf({"10.0.0.1"}, 60));
  fake.queueOutcome("alb.test", answerOf({"10.0.0.2"}, 60));
  fake.queueOutcome("alb.test", failureOf(ResolveStatus::kTimeout));
  fake.setOutcome("alb.test", answerOf({"10.0.0.3"}, 60));
  Changes changes;
  CountingObserver observer;
  DnsWatcher watcher(resolver, clock, random, changes.callback(), fastOptions(), nullptr,
                     &observer);
  watcher.subscribe("ns/a", source("alb.test", 30s, 60s, 4));
  watcher.start();
  ASSERT_TRUE(changes.waitForCount(1));
  watcher.stop();
  auto snapshot = watcher.snapshot("alb.test");
  ASSERT_EQ(snapshot->addresses.size(), 3u);
  EXPECT_EQ(fake.callCount("alb.test"), 4);
  EXPECT_EQ(observer.lookups(ResolveStatus::kOk), 3);
  EXPECT_EQ(observer.lookups(ResolveStatus::kTimeout), 1);
  EXPECT_EQ(observer.refreshes(), 1);
}

TEST(DnsWatcherTest, LookupsPerRefreshAreMadeAndObserved) {
  FakeResolver resolver;
  checkLookupsPerRefresh(resolver, resolver);
}

// An answer of 8 addresses looks cut short by Route 53 (issue 10 item 8): the worker looks
// again, within the same refresh, until lookups stop bringing new addresses
// (wantsAnotherLookup; watch_schedule.h has the rule and its numbers).
TEST(DnsWatcherTest, AnEightAddressAnswerIsCompletedWithinOneRefresh) {
  core::RealClock clock;
  FakeRandom random;
  FakeResolver resolver;
  const std::vector<std::string> low = {"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4",
                                        "10.0.0.5", "10.0.0.6", "10.0.0.7", "10.0.0.8"};
  const std::vector<std::string> high = {"10.0.0.5", "10.0.0.6",  "10.0.0.7",  "10.0.0.8",
                                         "10.0.0.9", "10.0.0.10", "10.0.0.11", "10.0.0.12"};
  resolver.queueOutcome("alb.test", answerOf(low, 60));
  resolver.queueOutcome("alb.test", answerOf(high, 60));
  resolver.setOutcome("alb.test", answerOf(low, 60));
  Changes changes;
  CountingObserver observer;
  DnsWatcher watcher(resolver, clock, random, changes.callback(), fastOptions(), nullptr,
                     &observer);
  watcher.subscribe("ns/a", source("alb.test", 30s, 60s, 1));  // lookupsPerRefresh: 1
  watcher.start();
  ASSERT_TRUE(changes.waitForCount(1));
  watcher.stop();
  EXPECT_EQ(watcher.snapshot("alb.test")->addresses.size(), 12u);
  // 2 lookups brought the 12, then 8 quiet ones (r(12) = 8) ended the refresh.
  EXPECT_EQ(resolver.callCount("alb.test"), 10);
  EXPECT_EQ(observer.refreshes(), 1);
  EXPECT_EQ(watcher.stats().totalLookups(), 10u);
}

TEST(DnsWatcherTest, ExtraLookupsStopAtTheFirstFailure) {
  core::RealClock clock;
  FakeRandom random;
  FakeResolver resolver;
  resolver.queueOutcome("alb.test", answerOf({"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4",
                                              "10.0.0.5", "10.0.0.6", "10.0.0.7", "10.0.0.8"},
                                             60));
  resolver.setOutcome("alb.test", failureOf(ResolveStatus::kTimeout, "deadline exceeded (A)"));
  Changes changes;
  DnsWatcher watcher(resolver, clock, random, changes.callback(), fastOptions());
  watcher.subscribe("ns/a", source("alb.test", 30s, 60s, 1));
  watcher.start();
  ASSERT_TRUE(changes.waitForCount(1));
  watcher.stop();
  auto snapshot = watcher.snapshot("alb.test");
  EXPECT_EQ(snapshot->addresses.size(), 8u);
  EXPECT_FALSE(snapshot->failing);               // the answer that came is the refresh's answer
  EXPECT_EQ(resolver.callCount("alb.test"), 2);  // one extra lookup, which timed out: no more
}

// Issue 10 item 9: a failing name that fails for another reason tells its bindings (their
// status shows the reason), but the same failure again does not.
TEST(DnsWatcherTest, AnotherFailureReasonIsReportedAndARepeatIsNot) {
  core::RealClock clock;
  FakeRandom random;
  FakeResolver resolver;
  resolver.queueOutcome("db.test", answerOf({"10.0.0.1"}, 0));
  resolver.queueOutcome("db.test", failureOf(ResolveStatus::kServFail, "SERVFAIL (A)"));
  resolver.queueOutcome("db.test", failureOf(ResolveStatus::kServFail, "SERVFAIL (A)"));
  resolver.queueOutcome("db.test", failureOf(ResolveStatus::kTimeout, "deadline exceeded (A)"));
  resolver.queueOutcome("db.test", failureOf(ResolveStatus::kTimeout, "deadline exceeded (A)"));
  resolver.setOutcome("db.test", answerOf({"10.0.0.1"}, 60));
  Changes changes;
  CapturingLogger logger;
  DnsWatcher watcher(resolver, clock, random, changes.callback(), fastOptions(), &logger);
  watcher.subscribe("ns/a", source("db.test"));
  watcher.start();
  // answer, failing (SERVFAIL), another reason (timeout), recovered.
  ASSERT_TRUE(changes.waitForCount(4));
  ASSERT_TRUE(eventually([&] { return resolver.callCount("db.test") >= 6; }));
  watcher.stop();
  EXPECT_EQ(changes.events().size(), 4u);
  EXPECT_EQ(logger.count(core::LogLevel::kWarn), 2);  // failing; failing for another reason
  EXPECT_FALSE(watcher.snapshot("db.test")->failing);
}

// Issue 16 item 3: four workers, each held by a dead name's refresh for lookupsPerRefresh
// deadlines, made every other name wait over a minute. A dead name is looked up once per
// refresh, and a refresh never waits for a busy worker: another one starts.
TEST(DnsWatcherTest, ADeadNameIsLookedUpOncePerRefresh) {
  core::RealClock clock;
  FakeRandom random;
  FakeResolver resolver;
  resolver.setOutcome("dead.test", failureOf(ResolveStatus::kTimeout, "deadline exceeded (A)"));
  Changes changes;
  auto options = fastOptions();
  options.schedule.failureRetryBase = 30s;  // no second refresh before stop(), however slow
  options.schedule.failureRetryCap = 30s;
  DnsWatcher watcher(resolver, clock, random, changes.callback(), options);
  watcher.subscribe("ns/a", source("dead.test", 30s, 60s, 16));
  watcher.start();
  ASSERT_TRUE(changes.waitForCount(1));  // failing
  watcher.stop();
  EXPECT_EQ(resolver.callCount("dead.test"), 1);
  EXPECT_TRUE(watcher.snapshot("dead.test")->failing);
}

TEST(DnsWatcherTest, DeadNamesDoNotDelayTheOthers) {
  core::RealClock clock;
  FakeRandom random;
  FakeResolver resolver;
  DnsWatcherOptions options;  // the defaults: 4 idle workers
  options.schedule.intervalFloor = 10ms;
  Changes changes;
  DnsWatcher watcher(resolver, clock, random, changes.callback(), options);
  // More dead names than idle workers, each blocked in a lookup until stopped, subscribed
  // (hence due) before the live one.
  for (int i = 0; i < 6; ++i) {
    const std::string name = "dead" + std::to_string(i) + ".test";
    resolver.setBlocking(name, true);
    watcher.subscribe("ns/dead" + std::to_string(i), source(name, 30s, 60s, 16));
  }
  watcher.start();
  ASSERT_TRUE(eventually([&] { return resolver.inProgress() == 6; }));
  resolver.setOutcome("live.test", answerOf({"10.0.0.1"}, 60));
  watcher.subscribe("ns/live", source("live.test", 30s, 60s));
  ASSERT_TRUE(changes.waitForCount(1));
  EXPECT_EQ(changes.events()[0].first, "live.test");
  EXPECT_TRUE(watcher.snapshot("live.test")->hasAnswer);
  EXPECT_GE(watcher.workerCount(), 7u);
  watcher.stop();
}

TEST(DnsWatcherTest, WorkersStartedForABusySpellEndWhenIdle) {
  core::RealClock clock;
  FakeRandom random;
  FakeResolver resolver;
  DnsWatcherOptions options = fastOptions(3);  // at most 3
  options.idleWorkers = 1;
  options.idleWorkerLinger = 50ms;
  Changes changes;
  DnsWatcher watcher(resolver, clock, random, changes.callback(), options);
  const std::vector<std::string> names = {"a.test", "b.test", "c.test", "d.test"};
  for (size_t i = 0; i < names.size(); ++i) {
    resolver.setBlocking(names[i], true);
    resolver.setOutcome(names[i], answerOf({"10.0.0.1"}, 60));
    watcher.subscribe("ns/b" + std::to_string(i), source(names[i], 30s, 60s));
  }
  watcher.start();
  ASSERT_TRUE(eventually([&] { return resolver.inProgress() == 3; }));
  EXPECT_EQ(watcher.workerCount(), 3u);  // the cap holds: the fourth name waits
  for (const auto& name : names) resolver.setBlocking(name, false);
  ASSERT_TRUE(changes.waitForCount(names.size()));
  EXPECT_EQ(resolver.maxConcurrent(), 3);
  ASSERT_TRUE(eventually([&] { return watcher.workerCount() == 1; }));
  watcher.stop();
}

TEST(DnsWatcherTest, UnsubscribeDropsTheTargetAndSubscribeAfterStartWakesAWorker) {
  core::RealClock clock;
  FakeRandom random;
  FakeResolver resolver;
  resolver.setOutcome("late.test", answerOf({"10.0.0.9"}, 60));
  Changes changes;
  DnsWatcher watcher(resolver, clock, random, changes.callback(), fastOptions(1));
  watcher.start();
  // The only worker is asleep with nothing to do; the subscription must wake it.
  watcher.subscribe("ns/a", source("late.test", 30s, 60s));
  ASSERT_TRUE(changes.waitForCount(1));
  EXPECT_TRUE(watcher.unsubscribe("ns/a"));
  EXPECT_FALSE(watcher.unsubscribe("ns/a"));
  EXPECT_FALSE(watcher.snapshot("late.test").has_value());
  EXPECT_EQ(watcher.stats().hostnames, 0u);
}

// A FakeResolver made asynchronous(): each lookup runs on a thread of its own and calls back
// from there, as AresResolver's event loop does, so the watcher's one-worker path runs with
// scripted outcomes and blocking names. Joins its threads on destruction.
class AsyncFakeResolver final : public Resolver {
 public:
  explicit AsyncFakeResolver(FakeResolver& inner) : inner_(inner) {}
  ResolveOutcome resolve(std::string_view hostname, AddressFamilies families,
                         std::stop_token stop) override {
    return inner_.resolve(hostname, families, std::move(stop));
  }
  bool asynchronous() const override { return true; }
  void resolveAsync(std::string_view hostname, AddressFamilies families, std::stop_token stop,
                    Done done) override {
    std::lock_guard lock(mutex_);
    threads_.emplace_back([this, name = std::string(hostname), families, stop,
                           done = std::move(done)] { done(inner_.resolve(name, families, stop)); });
  }

 private:
  FakeResolver& inner_;
  std::mutex mutex_;
  std::vector<std::jthread> threads_;
};

TEST(DnsWatcherAsyncTest, OneWorkerKeepsRefreshesInFlightUpToTheBound) {
  core::RealClock clock;
  FakeRandom random;
  FakeResolver fake;
  AsyncFakeResolver resolver(fake);
  const std::vector<std::string> names = {"a.test", "b.test", "c.test", "d.test", "e.test"};
  for (const auto& name : names) {
    fake.setBlocking(name, true);
    fake.setOutcome(name, answerOf({"10.0.0.1"}, 60));
  }
  Changes changes;
  DnsWatcher watcher(resolver, clock, random, changes.callback(), fastOptions(2));
  for (size_t i = 0; i < names.size(); ++i) {
    watcher.subscribe("ns/b" + std::to_string(i), source(names[i], 30s, 60s));
  }
  watcher.start();
  ASSERT_TRUE(eventually([&] { return fake.inProgress() == 2; }));
  EXPECT_EQ(watcher.asyncRefreshesInFlight(), 2u);
  EXPECT_EQ(watcher.workerCount(), 1u);  // no worker per lookup
  EXPECT_EQ(fake.calls().size(), 2u);

  for (const auto& name : names) fake.setBlocking(name, false);
  ASSERT_TRUE(changes.waitForCount(names.size()));
  EXPECT_EQ(fake.maxConcurrent(), 2);
  for (const auto& name : names) EXPECT_TRUE(watcher.snapshot(name)->hasAnswer) << name;
  EXPECT_TRUE(eventually([&] { return watcher.asyncRefreshesInFlight() == 0; }));
}

TEST(DnsWatcherAsyncTest, StopCancelsLookupsInFlightWithoutMarkingThemFailing) {
  core::RealClock clock;
  FakeRandom random;
  FakeResolver fake;
  AsyncFakeResolver resolver(fake);
  fake.setBlocking("slow.test", true);
  Changes changes;
  CountingObserver observer;
  DnsWatcher watcher(resolver, clock, random, changes.callback(), fastOptions(), nullptr,
                     &observer);
  watcher.subscribe("ns/a", source("slow.test"));
  watcher.start();
  ASSERT_TRUE(eventually([&] { return fake.inProgress() == 1; }));

  const auto started = std::chrono::steady_clock::now();
  watcher.stop();
  EXPECT_LT(std::chrono::steady_clock::now() - started, 1s);
  EXPECT_EQ(fake.inProgress(), 0);  // stop() waited for the cancelled lookup's callback
  EXPECT_EQ(watcher.asyncRefreshesInFlight(), 0u);
  EXPECT_TRUE(changes.events().empty());
  EXPECT_FALSE(watcher.snapshot("slow.test")->failing);
  EXPECT_EQ(watcher.stats().totalLookups(), 0u);
  EXPECT_EQ(observer.refreshes(), 0);
  watcher.stop();  // idempotent
}

TEST(DnsWatcherAsyncTest, ARefreshMakesItsLookupsOneAfterAnother) {
  FakeResolver fake;
  AsyncFakeResolver resolver(fake);
  checkLookupsPerRefresh(resolver, fake);
  EXPECT_EQ(fake.maxConcurrent(), 1);
}

}  // namespace
}  // namespace endpointbinder::dns
