// DnsWatcher + AresResolver + the scriptable DNS server on loopback: a changed answer is
// reported within its TTL, an 8-of-12 rotating name converges to all 12 with several lookups
// per refresh, one refresh of a random-8-of-N name sees all N even with lookupsPerRefresh 1,
// and a failing name keeps its last good answer until it recovers, reporting each reason.
#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

#include "controller/dns/ares_resolver.h"
#include "controller/dns/dns_watcher.h"
#include "tests/support/dns_fake_resolver.h"
#include "tests/support/dns_test_server.h"

namespace endpointbinder::dns {
namespace {

using namespace std::chrono_literals;
using testing::DnsTestServer;

// Records each change callback with the snapshot taken right after it.
class ChangeLog {
 public:
  void attach(DnsWatcher* watcher) { watcher_ = watcher; }
  DnsWatcher::ChangeCallback callback() {
    return [this](const std::string& hostname, const std::vector<std::string>&) {
      auto snapshot = watcher_->snapshot(hostname);
      const auto refreshes = watcher_->stats().refreshes;
      std::lock_guard lock(mutex_);
      if (snapshot) {
        snapshots_.push_back(*snapshot);
        refreshes_.push_back(refreshes);
      }
      cv_.notify_all();
    };
  }
  // Waits for a snapshot (after index `from`) satisfying `predicate`; returns its index.
  template <typename Predicate>
  std::optional<size_t> waitFor(size_t from, std::chrono::milliseconds limit, Predicate predicate) {
    std::unique_lock lock(mutex_);
    std::optional<size_t> found;
    cv_.wait_for(lock, limit, [&] {
      for (size_t i = from; i < snapshots_.size(); ++i) {
        if (predicate(snapshots_[i])) {
          found = i;
          return true;
        }
      }
      return false;
    });
    return found;
  }
  size_t size() {
    std::lock_guard lock(mutex_);
    return snapshots_.size();
  }
  HostSnapshot at(size_t i) {
    std::lock_guard lock(mutex_);
    return snapshots_.at(i);
  }
  // The watcher's completed refreshes when the i-th change was reported.
  uint64_t refreshesAt(size_t i) {
    std::lock_guard lock(mutex_);
    return refreshes_.at(i);
  }

 private:
  DnsWatcher* watcher_ = nullptr;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<HostSnapshot> snapshots_;
  std::vector<uint64_t> refreshes_;
};

// Polls `predicate` every 20 ms for up to 5 s; for states no callback announces.
template <typename Predicate>
bool eventually(Predicate predicate) {
  for (int i = 0; i < 250; ++i) {
    if (predicate()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return predicate();
}

std::set<std::string> texts(const HostSnapshot& snapshot) {
  std::set<std::string> out;
  for (const auto& address : snapshot.addresses) out.insert(address.toString());
  return out;
}

api::DnsSource source(std::string hostname, int lookups, Duration minRefresh, Duration maxRefresh) {
  api::DnsSource s;
  s.hostname = std::move(hostname);
  s.lookupsPerRefresh = lookups;
  s.minRefreshInterval = minRefresh;
  s.maxRefreshInterval = maxRefresh;
  return s;
}

class DnsWatcherIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    server_ = DnsTestServer::start({"--seed", "3"}, &error);
    ASSERT_NE(server_, nullptr) << error;
    resolver_ = makeResolver(300ms, 2s);
    ASSERT_NE(resolver_, nullptr);
    watcher_ = std::make_unique<DnsWatcher>(*resolver_, clock_, random_, log_.callback());
    log_.attach(watcher_.get());
  }
  void TearDown() override {
    if (watcher_) watcher_->stop();
  }
  // A resolver asking the test server only (null, with a failure, when it cannot be made).
  std::unique_ptr<AresResolver> makeResolver(std::chrono::milliseconds timeout,
                                             std::chrono::milliseconds deadline) {
    AresResolverOptions options;
    options.servers = {server_->serverAddress()};
    options.timeout = timeout;
    options.deadline = deadline;
    auto resolver = AresResolver::create(options, clock_);
    EXPECT_TRUE(resolver.has_value()) << resolver.error().message;
    return resolver ? std::move(*resolver) : nullptr;
  }

  core::RealClock clock_;
  StdRandom random_{42};
  std::unique_ptr<DnsTestServer> server_;
  std::unique_ptr<AresResolver> resolver_;
  ChangeLog log_;
  std::unique_ptr<DnsWatcher> watcher_;
};

TEST_F(DnsWatcherIntegrationTest, AChangedAnswerIsReportedWithinItsTtl) {
  ASSERT_TRUE(server_->putRecord("search.test", R"({"a":["10.0.0.1","10.0.0.2"],"ttl":1})"));
  watcher_->subscribe("factory-iot/opensearch", source("search.test", 1, 500ms, 60s));
  watcher_->start();
  auto first = log_.waitFor(0, 5s, [](const HostSnapshot& s) { return s.hasAnswer; });
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(texts(log_.at(*first)), (std::set<std::string>{"10.0.0.1", "10.0.0.2"}));
  EXPECT_EQ(log_.at(*first).lastTtl, 1s);

  // Blue/green: the node IPs move.
  const auto changed = std::chrono::steady_clock::now();
  ASSERT_TRUE(server_->putRecord("search.test", R"({"a":["10.0.0.3","10.0.0.4"],"ttl":1})"));
  auto next = log_.waitFor(*first + 1, 5s, [](const HostSnapshot& s) {
    return s.addresses.size() == 2 && s.addresses[0].toString() == "10.0.0.3";
  });
  ASSERT_TRUE(next.has_value());
  // TTL 1 s + at most 10% jitter + slack for the lookup and the scheduler.
  EXPECT_LT(std::chrono::steady_clock::now() - changed, 1100ms + 500ms);
  EXPECT_EQ(texts(log_.at(*next)), (std::set<std::string>{"10.0.0.3", "10.0.0.4"}));
}

TEST_F(DnsWatcherIntegrationTest, RotatingEightOfTwelveConvergesToAllTwelve) {
  std::string pool;
  std::set<std::string> all;
  for (int i = 1; i <= 12; ++i) {
    const std::string address = "10.4.0." + std::to_string(i);
    pool += (pool.empty() ? "\"" : ",\"") + address + "\"";
    all.insert(address);
  }
  ASSERT_TRUE(server_->putRecord("alb.test", R"({"a":[)" + pool + R"(],"rotate":8,"ttl":60})"));
  // TTL 60 clamped to 200 ms so the test takes a second, not minutes.
  watcher_->subscribe("ns/nlb", source("alb.test", 4, 100ms, 200ms));
  watcher_->start();
  auto full = log_.waitFor(0, 10s, [&](const HostSnapshot& s) { return texts(s) == all; });
  ASSERT_TRUE(full.has_value());
  for (size_t i = 0; i <= *full; ++i) {
    const auto seen = texts(log_.at(i));
    EXPECT_GE(seen.size(), 8u);  // a union of four 8-address answers
    for (const auto& address : seen) EXPECT_TRUE(all.contains(address)) << address;
  }
  // Each refresh unions 4 answers of 8: all 12 appear within a few refreshes.
  EXPECT_LE(log_.refreshesAt(*full), 10u);
  const auto stats = watcher_->stats();
  EXPECT_EQ(stats.lookupCount(ResolveStatus::kOk), stats.totalLookups());
}

// Issue 10 item 8 through the real resolver: with lookupsPerRefresh 1 (the default) the
// first refresh of a name whose every answer is a random 8 of 12 (then of 20) sees all of
// them, because an 8-address answer earns extra lookups. The server's draws are seeded and
// the names are looked up one after the other, so the run is reproducible; the chance that
// a refresh misses an address is ~3e-4 (12) and ~6e-4 (20) anyway (watch_schedule.h).
TEST_F(DnsWatcherIntegrationTest, OneRefreshOfARandomEightOfNAnswerSeesAllN) {
  watcher_->start();
  size_t from = 0;
  for (int n : {12, 20}) {
    SCOPED_TRACE(n);
    const std::string name = "alb" + std::to_string(n) + ".test";
    std::string pool;
    std::set<std::string> all;
    for (int i = 1; i <= n; ++i) {
      const std::string address = "10.8." + std::to_string(n) + "." + std::to_string(i);
      pool += (pool.empty() ? "\"" : ",\"") + address + "\"";
      all.insert(address);
    }
    ASSERT_TRUE(server_->putRecord(name, R"({"a":[)" + pool + R"(],"rotate":8,"ttl":60})"));
    const auto lookupsBefore = watcher_->stats().totalLookups();
    // TTL 60 s: the first refresh is the only one within the test.
    watcher_->subscribe("ns/" + name, source(name, 1, 30s, 60s));
    auto first = log_.waitFor(from, 10s, [&](const HostSnapshot& s) { return s.hostname == name; });
    ASSERT_TRUE(first.has_value());
    from = *first + 1;
    EXPECT_EQ(texts(log_.at(*first)), all);
    EXPECT_EQ(log_.refreshesAt(*first), n == 12 ? 1u : 2u);
    const auto lookups = watcher_->stats().totalLookups() - lookupsBefore;
    EXPECT_GT(lookups, 8u) << "extra lookups completed the answer";
    EXPECT_LE(lookups, 64u);
    EXPECT_EQ(server_->nameCount(name), static_cast<int>(lookups));
    std::printf("random 8 of %d: all seen in one refresh of %llu lookups\n", n,
                static_cast<unsigned long long>(lookups));
  }
}

TEST_F(DnsWatcherIntegrationTest, AFailingNameKeepsItsAnswerUntilItRecovers) {
  ASSERT_TRUE(server_->putRecord("db.test", R"({"a":["10.0.0.1"],"ttl":1})"));
  watcher_->subscribe("ns/db", source("db.test", 1, 100ms, 200ms));
  watcher_->start();
  auto first = log_.waitFor(0, 5s, [](const HostSnapshot& s) { return s.hasAnswer; });
  ASSERT_TRUE(first.has_value());

  ASSERT_TRUE(server_->putRecord("db.test", R"({"a":["10.0.0.1"],"ttl":1,"mode":"servfail"})"));
  auto failing = log_.waitFor(*first + 1, 5s, [](const HostSnapshot& s) { return s.failing; });
  ASSERT_TRUE(failing.has_value());
  auto snapshot = log_.at(*failing);
  EXPECT_EQ(texts(snapshot), (std::set<std::string>{"10.0.0.1"}));
  EXPECT_EQ(snapshot.failureStatus, ResolveStatus::kServFail);

  // NXDOMAIN is no information either; failing for another reason is reported too.
  ASSERT_TRUE(server_->deleteRecord("db.test"));
  auto nxdomain = log_.waitFor(*failing + 1, 5s, [](const HostSnapshot& s) {
    return s.failureStatus == ResolveStatus::kNxDomain;
  });
  ASSERT_TRUE(nxdomain.has_value());
  snapshot = log_.at(*nxdomain);
  EXPECT_EQ(snapshot.failureStatus, ResolveStatus::kNxDomain);
  EXPECT_TRUE(snapshot.failing);
  EXPECT_EQ(texts(snapshot), (std::set<std::string>{"10.0.0.1"}));

  ASSERT_TRUE(server_->putRecord("db.test", R"({"a":["10.0.0.1"],"ttl":1})"));
  auto recovered =
      log_.waitFor(*nxdomain + 1, 5s, [](const HostSnapshot& s) { return !s.failing; });
  ASSERT_TRUE(recovered.has_value());
  EXPECT_EQ(log_.at(*recovered).consecutiveFailures, 0);
}

// With the event-loop resolver one worker serves every name: a dead name's lookups are in
// flight alongside the others' without holding them up, and stop() cancels what is in flight
// at once rather than after the DNS timeout.
TEST_F(DnsWatcherIntegrationTest, OneWorkerServesEveryNameAndADeadOneHoldsNobodyUp) {
  auto slowResolver = makeResolver(2s, 6s);
  ASSERT_NE(slowResolver, nullptr);
  ChangeLog log;
  DnsWatcherOptions watcherOptions;
  watcherOptions.maxConcurrentRefreshes = 8;
  DnsWatcher watcher(*slowResolver, clock_, random_, log.callback(), watcherOptions);
  log.attach(&watcher);
  ASSERT_TRUE(server_->putRecord("dead.test", R"({"a":["10.0.0.1"],"mode":"timeout"})"));
  watcher.subscribe("ns/dead", source("dead.test", 1, 1s, 60s));
  constexpr int kNames = 20;  // more than maxConcurrentRefreshes: refreshes end and others start
  for (int i = 0; i < kNames; ++i) {
    const std::string name = "live" + std::to_string(i) + ".test";
    ASSERT_TRUE(server_->putRecord(name, R"({"a":["10.1.0.)" + std::to_string(i) + R"("]})"));
    watcher.subscribe("ns/live" + std::to_string(i), source(name, 1, 1s, 60s));
  }
  watcher.start();
  ASSERT_TRUE(eventually([&] {
    for (int i = 0; i < kNames; ++i) {
      auto snapshot = watcher.snapshot("live" + std::to_string(i) + ".test");
      if (!snapshot || !snapshot->hasAnswer) return false;
    }
    return true;
  }));
  EXPECT_EQ(watcher.workerCount(), 1u);
  EXPECT_EQ(watcher.asyncRefreshesInFlight(), 1u);  // the dead name's, for seconds yet
  EXPECT_FALSE(watcher.snapshot("dead.test")->hasAnswer);
  const auto started = std::chrono::steady_clock::now();
  watcher.stop();
  EXPECT_LT(std::chrono::steady_clock::now() - started, 1s);
  EXPECT_EQ(watcher.asyncRefreshesInFlight(), 0u);
  EXPECT_EQ(watcher.workerCount(), 0u);
  // Stopping marked nothing failing: the cancelled refresh was dropped.
  EXPECT_FALSE(watcher.snapshot("dead.test")->failing);
}

}  // namespace
}  // namespace endpointbinder::dns
