// BindingSources, the SourceProvider the reconciler reads: what one binding sees of a DNS name
// that other bindings share, through a real DnsWatcher with a FakeResolver. Waits for events
// (the watcher's change callback) with generous limits, never for fixed times.
#include "controller/runtime/binding_sources.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>

#include "tests/support/dns_fake_resolver.h"

namespace endpointbinder::runtime {
namespace {

using namespace std::chrono_literals;
using dns::ResolveStatus;
using dns::testing::answerOf;
using dns::testing::failureOf;

api::TargetGroupBinding dnsBinding(const std::string& name, bool ipv4, bool ipv6) {
  api::TargetGroupBinding binding;
  binding.metadata.name = name;
  api::DnsSource source;
  source.hostname = "dual.test";
  source.ipv4 = ipv4;
  source.ipv6 = ipv6;
  source.minRefreshInterval = 50ms;
  source.maxRefreshInterval = 50ms;
  binding.spec.source = source;
  return binding;
}

std::vector<std::string> ids(const SourceSnapshot& snapshot) { return snapshot.ids; }

class BindingSourcesTest : public ::testing::Test {
 protected:
  BindingSourcesTest()
      : watcher_(
            resolver_, clock_, random_,
            [this](const std::string&, const std::vector<std::string>&) {
              std::lock_guard lock(mutex_);
              changes_++;
              changed_.notify_all();
            },
            options()),
        sources_(watcher_) {}

  static dns::DnsWatcherOptions options() {
    dns::DnsWatcherOptions o;
    o.schedule.intervalFloor = 10ms;
    return o;
  }

  // Waits until `predicate` holds, re-checking after every change the watcher reports.
  template <typename Predicate>
  bool waitFor(Predicate predicate) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, 10s, [&] {
      lock.unlock();
      const bool ok = predicate();
      lock.lock();
      return ok;
    });
  }

  core::RealClock clock_;
  dns::testing::FakeRandom random_;
  dns::testing::FakeResolver resolver_;
  std::mutex mutex_;
  std::condition_variable changed_;
  int changes_ = 0;
  dns::DnsWatcher watcher_;
  BindingSources sources_;
};

// Issue 16 item 2: an AAAA query that timed out failed the whole name, so a binding asking
// only for IPv4 stopped seeing A changes. It sees them now; a binding asking for both sees the
// IPv6 part frozen (last good kept, nothing departed) and is told why.
TEST_F(BindingSourcesTest, AFailingFamilyFreezesOnlyItselfForTheBindingsThatAskedForIt) {
  resolver_.queueOutcome("dual.test",
                         dns::combineOutcomes(answerOf({"10.0.0.1"}, 0), answerOf({"fd00::1"}, 0)));
  resolver_.setOutcome("dual.test", dns::combineOutcomes(answerOf({"10.0.0.2"}, 0),
                                                         failureOf(ResolveStatus::kTimeout,
                                                                   "deadline exceeded (AAAA)")));
  const auto v4 = dnsBinding("v4", true, false);
  const auto both = dnsBinding("both", true, true);
  sources_.track(v4);
  sources_.track(both);
  watcher_.start();

  ASSERT_TRUE(
      waitFor([&] { return ids(sources_.snapshot(v4)) == std::vector<std::string>{"10.0.0.2"}; }));
  const auto v4View = sources_.snapshot(v4);
  EXPECT_TRUE(v4View.hasAnswer);
  EXPECT_FALSE(v4View.failing);
  EXPECT_EQ(v4View.degradedReason, "");
  ASSERT_EQ(v4View.departed.size(), 1u);
  EXPECT_EQ(v4View.departed[0].id, "10.0.0.1");

  const auto bothView = sources_.snapshot(both);
  EXPECT_FALSE(bothView.failing);
  EXPECT_EQ(bothView.ids, (std::vector<std::string>{"10.0.0.2", "fd00::1"}));
  ASSERT_EQ(bothView.departed.size(), 1u);  // fd00::1 is frozen, not departed
  EXPECT_EQ(bothView.departed[0].id, "10.0.0.1");
  EXPECT_NE(bothView.degradedReason.find("deadline exceeded (AAAA)"), std::string::npos)
      << bothView.degradedReason;

  // A binding asking only for IPv6 fails, keeping the last good AAAA answer.
  const auto v6 = dnsBinding("v6", false, true);
  sources_.track(v6);
  const auto v6View = sources_.snapshot(v6);
  EXPECT_TRUE(v6View.failing);
  EXPECT_TRUE(v6View.hasAnswer);
  EXPECT_EQ(v6View.ids, (std::vector<std::string>{"fd00::1"}));
  EXPECT_EQ(v6View.failureReason, "deadline exceeded (AAAA)");
  watcher_.stop();
}

}  // namespace
}  // namespace endpointbinder::runtime
