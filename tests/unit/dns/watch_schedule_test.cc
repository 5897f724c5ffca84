// WatchSchedule, the pure core of the DNS watcher: driven by hand with a ManualClock's time
// points and scripted randomness. No threads, no sleeps, no network.
#include "controller/dns/watch_schedule.h"

#include <gtest/gtest.h>

#include "tests/support/dns_fake_resolver.h"

namespace endpointbinder::dns {
namespace {

using namespace std::chrono_literals;
using testing::answerOf;
using testing::failureOf;
using testing::FakeRandom;

api::DnsSource source(std::string hostname, int lookups = 1, Duration minRefresh = 5s,
                      Duration maxRefresh = 60s) {
  api::DnsSource s;
  s.hostname = std::move(hostname);
  s.lookupsPerRefresh = lookups;
  s.minRefreshInterval = minRefresh;
  s.maxRefreshInterval = maxRefresh;
  return s;
}

std::vector<std::string> texts(const std::vector<api::IpAddress>& addresses) {
  std::vector<std::string> out;
  for (const auto& address : addresses) out.push_back(address.toString());
  return out;
}

std::vector<LookupResult> results(std::initializer_list<ResolveOutcome> outcomes,
                                  std::chrono::nanoseconds latency = 1ms) {
  std::vector<LookupResult> out;
  for (const auto& outcome : outcomes) out.push_back(LookupResult{outcome, latency});
  return out;
}

class WatchScheduleTest : public ::testing::Test {
 protected:
  WatchScheduleTest() : schedule_(random_, options()) {}

  static WatchScheduleOptions options() {
    WatchScheduleOptions o;
    o.jitterFraction = 0.1;
    o.maxJitter = 5s;
    return o;
  }

  core::MonoTime now() const { return clock_.now(); }

  // Takes the single due refresh of `hostname` now and reports `outcomes` for it.
  RefreshUpdate refresh(const std::string& hostname,
                        std::initializer_list<ResolveOutcome> outcomes) {
    auto due = schedule_.takeDue(now(), 100);
    auto it = std::find_if(due.begin(), due.end(),
                           [&](const RefreshTicket& t) { return t.hostname == hostname; });
    EXPECT_NE(it, due.end()) << hostname << " was not due";
    if (it == due.end()) return {};
    return schedule_.onResult(*it, results(outcomes), now());
  }

  // Advances to the next due time and refreshes `hostname` with `outcomes`.
  RefreshUpdate refreshWhenDue(const std::string& hostname,
                               std::initializer_list<ResolveOutcome> outcomes) {
    auto next = schedule_.nextDue();
    EXPECT_TRUE(next.has_value());
    if (next && *next > now()) clock_.advance(*next - now());
    return refresh(hostname, outcomes);
  }

  core::ManualClock clock_;
  FakeRandom random_;
  WatchSchedule schedule_;
};

TEST_F(WatchScheduleTest, NewHostnameIsDueAtOnceAndHandedOutOnlyOnce) {
  EXPECT_TRUE(schedule_.subscribe("ns/a", source("DB.test."), now()));
  auto due = schedule_.takeDue(now(), 10);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].hostname, "db.test");
  EXPECT_EQ(due[0].lookups, 1);
  EXPECT_TRUE(due[0].families.ipv4);
  EXPECT_FALSE(due[0].families.ipv6);
  EXPECT_TRUE(schedule_.takeDue(now() + 1h, 10).empty());  // in flight
  EXPECT_FALSE(schedule_.nextDue().has_value());
  auto snapshot = schedule_.snapshot("db.test");
  ASSERT_TRUE(snapshot.has_value());
  EXPECT_TRUE(snapshot->refreshing);
  EXPECT_FALSE(snapshot->hasAnswer);
  EXPECT_FALSE(snapshot->failing);
}

// Targets live in a hash map (by hostname) and the due index points at their keys: targets due
// at the same time come out in hostname order, hostnames() is sorted, and a target dropped and
// subscribed again is indexed afresh (no entry left pointing at the old key).
TEST_F(WatchScheduleTest, EqualDueTimesComeOutInHostnameOrderAndHostnamesAreSorted) {
  for (const char* name : {"c.test", "a.test", "d.test", "b.test"}) {
    schedule_.subscribe(std::string("ns/") + name, source(name), now());
  }
  EXPECT_EQ(schedule_.hostnames(),
            (std::vector<std::string>{"a.test", "b.test", "c.test", "d.test"}));
  EXPECT_TRUE(schedule_.unsubscribe("ns/b.test"));
  schedule_.subscribe("ns/b.test", source("b.test"), now());
  std::vector<RefreshTicket> due;
  schedule_.takeDue(now(), 3, due);
  schedule_.takeDue(now(), 3, due);  // appends the rest
  ASSERT_EQ(due.size(), 4u);
  std::vector<std::string> order;
  for (const auto& ticket : due) order.push_back(ticket.hostname);
  EXPECT_EQ(order, (std::vector<std::string>{"a.test", "b.test", "c.test", "d.test"}));
  EXPECT_FALSE(schedule_.nextDue().has_value());  // every one in flight
  for (const auto& ticket : due) {
    schedule_.onResult(ticket, results({answerOf({"10.0.0.1"}, 5)}), now());
  }
  ASSERT_TRUE(schedule_.nextDue().has_value());
  EXPECT_GT(*schedule_.nextDue(), now());
}

TEST_F(WatchScheduleTest, NextRefreshIsTheTtlClampedToMinAndMax) {
  schedule_.subscribe("ns/a", source("db.test", 1, 5s, 60s), now());
  struct Case {
    int ttl;
    Duration expected;
  };
  for (const Case& c :
       {Case{30, 30s}, Case{1, 5s}, Case{0, 5s}, Case{600, 60s}, Case{60, 60s}, Case{5, 5s}}) {
    SCOPED_TRACE(c.ttl);
    auto update = refreshWhenDue("db.test", {answerOf({"10.0.0.1"}, c.ttl)});
    ASSERT_TRUE(update.applied);
    EXPECT_EQ(update.nextRefresh - now(), c.expected);
    EXPECT_EQ(schedule_.snapshot("db.test")->lastTtl, std::chrono::seconds(c.ttl));
  }
}

TEST_F(WatchScheduleTest, JitterStaysWithinTenPercentAndTheCap) {
  schedule_.subscribe("ns/a", source("db.test", 1, 5s, 300s), now());
  random_.setValue(0.999999);
  auto update = refresh("db.test", {answerOf({"10.0.0.1"}, 20)});
  // 10% of 20 s = 2 s bound; a draw just below 1 stays just below it.
  EXPECT_GE(update.nextRefresh - now(), 20s);
  EXPECT_LT(update.nextRefresh - now(), 22s);
  EXPECT_GT(update.nextRefresh - now(), 21900ms);

  random_.setValue(0.5);
  update = refreshWhenDue("db.test", {answerOf({"10.0.0.1"}, 20)});
  EXPECT_EQ(update.nextRefresh - now(), 21s);

  // 10% of 300 s would be 30 s; maxJitter caps it at 5 s.
  random_.setValue(0.999999);
  update = refreshWhenDue("db.test", {answerOf({"10.0.0.1"}, 300)});
  EXPECT_GE(update.nextRefresh - now(), 300s);
  EXPECT_LT(update.nextRefresh - now(), 305s);

  random_.setValue(0.0);
  update = refreshWhenDue("db.test", {answerOf({"10.0.0.1"}, 300)});
  EXPECT_EQ(update.nextRefresh - now(), 300s);
}

TEST_F(WatchScheduleTest, JitterAppliesToBackoffToo) {
  schedule_.subscribe("ns/a", source("db.test", 1, 10s, 60s), now());
  random_.setValue(0.5);
  auto update = refresh("db.test", {failureOf(ResolveStatus::kServFail)});
  EXPECT_EQ(update.nextRefresh - now(), 1050ms);  // the first retry after 1 s, + 10% * 0.5
}

TEST_F(WatchScheduleTest, RefreshUnionsEveryLookupThatAnswered) {
  schedule_.subscribe("ns/a", source("alb.test", 4), now());
  auto due = schedule_.takeDue(now(), 10);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].lookups, 4);
  auto update = schedule_.onResult(
      due[0],
      results({answerOf({"10.0.0.1", "10.0.0.2"}, 60), answerOf({"10.0.0.3", "10.0.0.2"}, 40),
               failureOf(ResolveStatus::kTimeout), answerOf({"10.0.0.4"}, 50)}),
      now());
  EXPECT_TRUE(update.succeeded);
  EXPECT_TRUE(update.addressesChanged);
  auto snapshot = schedule_.snapshot("alb.test");
  EXPECT_EQ(texts(snapshot->addresses),
            (std::vector<std::string>{"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"}));
  EXPECT_EQ(snapshot->lastTtl, 40s);
  EXPECT_FALSE(snapshot->failing);
  auto stats = schedule_.stats();
  EXPECT_EQ(stats.lookupCount(ResolveStatus::kOk), 3u);
  EXPECT_EQ(stats.lookupCount(ResolveStatus::kTimeout), 1u);
  EXPECT_EQ(stats.totalLookups(), 4u);
  EXPECT_EQ(stats.refreshes, 1u);
  EXPECT_EQ(stats.refreshFailures, 0u);
}

TEST_F(WatchScheduleTest, EveryFailureKindKeepsTheLastGoodAnswer) {
  for (auto status : {ResolveStatus::kNxDomain, ResolveStatus::kNoData, ResolveStatus::kServFail,
                      ResolveStatus::kRefused, ResolveStatus::kTimeout, ResolveStatus::kError}) {
    SCOPED_TRACE(resolveStatusName(status));
    WatchSchedule schedule(random_);
    schedule.subscribe("ns/a", source("db.test"), now());
    schedule.subscribe("ns/b", source("db.test"), now());
    auto ticket = schedule.takeDue(now(), 1).at(0);
    schedule.onResult(ticket, results({answerOf({"10.0.0.1", "10.0.0.2"}, 30)}), now());

    const auto failedAt = now() + 30s;
    ticket = schedule.takeDue(failedAt, 1).at(0);
    auto update = schedule.onResult(ticket, results({failureOf(status, "detail")}), failedAt);
    EXPECT_TRUE(update.applied);
    EXPECT_FALSE(update.succeeded);
    EXPECT_FALSE(update.addressesChanged);
    EXPECT_TRUE(update.failingChanged);
    EXPECT_EQ(update.affectedBindingKeys, (std::vector<std::string>{"ns/a", "ns/b"}));
    auto snapshot = schedule.snapshot("db.test");
    EXPECT_EQ(texts(snapshot->addresses), (std::vector<std::string>{"10.0.0.1", "10.0.0.2"}));
    EXPECT_TRUE(snapshot->hasAnswer);
    EXPECT_TRUE(snapshot->failing);
    EXPECT_EQ(snapshot->failingSince, failedAt);
    EXPECT_EQ(snapshot->lastSuccess, now());
    EXPECT_EQ(snapshot->failureStatus, status);
    EXPECT_EQ(snapshot->failureReason, "detail");
    EXPECT_EQ(snapshot->consecutiveFailures, 1);
    EXPECT_EQ(schedule.stats().refreshFailures, 1u);
  }
}

TEST_F(WatchScheduleTest, ARefreshFailsOnlyWhenEveryLookupFailed) {
  schedule_.subscribe("ns/a", source("db.test", 3), now());
  refresh("db.test", {answerOf({"10.0.0.1"}, 30)});
  auto update = refreshWhenDue("db.test", {failureOf(ResolveStatus::kTimeout),
                                           failureOf(ResolveStatus::kServFail, "SERVFAIL (A)"),
                                           failureOf(ResolveStatus::kNxDomain, "NXDOMAIN (A)")});
  EXPECT_FALSE(update.succeeded);
  auto snapshot = schedule_.snapshot("db.test");
  EXPECT_EQ(snapshot->failureStatus, ResolveStatus::kNxDomain);  // the last lookup's
  EXPECT_EQ(snapshot->failureReason, "NXDOMAIN (A)");
  EXPECT_EQ(texts(snapshot->addresses), (std::vector<std::string>{"10.0.0.1"}));
}

TEST_F(WatchScheduleTest, FailureBeforeAnyAnswerMarksFailingWithNoAddresses) {
  schedule_.subscribe("ns/a", source("db.test"), now());
  auto update = refresh("db.test", {failureOf(ResolveStatus::kServFail)});
  EXPECT_TRUE(update.failingChanged);
  EXPECT_EQ(update.affectedBindingKeys, (std::vector<std::string>{"ns/a"}));
  auto snapshot = schedule_.snapshot("db.test");
  EXPECT_FALSE(snapshot->hasAnswer);
  EXPECT_TRUE(snapshot->failing);
  EXPECT_TRUE(snapshot->addresses.empty());
  EXPECT_FALSE(snapshot->lastSuccess.has_value());
}

// Issue 10 item 9: a failure used to back off from minRefreshInterval towards
// maxRefreshInterval, so recovery (and any change made during the outage) was seen up to a
// minute late. A failing name is retried after 1 s, doubling to 5 s, whatever the intervals.
TEST_F(WatchScheduleTest, FailuresAreRetriedOnAShortCappedBackoff) {
  schedule_.subscribe("ns/a", source("db.test", 1, 5s, 60s), now());
  refresh("db.test", {answerOf({"10.0.0.1"}, 30)});
  std::vector<Duration> delays;
  for (int i = 0; i < 7; ++i) {
    auto update = refreshWhenDue("db.test", {failureOf(ResolveStatus::kTimeout)});
    delays.push_back(std::chrono::duration_cast<Duration>(update.nextRefresh - now()));
    // Only the first failure is news; the same failure again tells nobody.
    EXPECT_EQ(update.notify(), i == 0) << i;
  }
  EXPECT_EQ(delays, (std::vector<Duration>{1s, 2s, 4s, 5s, 5s, 5s, 5s}));
  EXPECT_EQ(schedule_.snapshot("db.test")->consecutiveFailures, 7);
}

TEST_F(WatchScheduleTest, AFailingNameIsNeverRetriedLessOftenThanMaxRefreshInterval) {
  schedule_.subscribe("ns/a", source("db.test", 1, 1s, 3s), now());
  std::vector<Duration> delays;
  for (int i = 0; i < 4; ++i) {
    auto update = refreshWhenDue("db.test", {failureOf(ResolveStatus::kServFail)});
    delays.push_back(std::chrono::duration_cast<Duration>(update.nextRefresh - now()));
  }
  EXPECT_EQ(delays, (std::vector<Duration>{1s, 2s, 3s, 3s}));
}

TEST_F(WatchScheduleTest, TheRetryBackoffIsConfigurable) {
  WatchScheduleOptions o = options();
  o.failureRetryBase = 250ms;
  o.failureRetryCap = 1s;
  WatchSchedule schedule(random_, o);
  schedule.subscribe("ns/a", source("db.test"), now());
  std::vector<Duration> delays;
  core::MonoTime at = now();
  for (int i = 0; i < 4; ++i) {
    auto ticket = schedule.takeDue(at, 1).at(0);
    auto update = schedule.onResult(ticket, results({failureOf(ResolveStatus::kRefused)}), at);
    delays.push_back(std::chrono::duration_cast<Duration>(update.nextRefresh - at));
    at = update.nextRefresh;
  }
  EXPECT_EQ(delays, (std::vector<Duration>{250ms, 500ms, 1s, 1s}));
}

// Issue 10 item 9: bindings were told only when failing started or stopped, so their status
// kept the first reason (SERVFAIL) through later timeout and empty phases. Every change of
// status or message is news; the same failure repeated is not.
TEST_F(WatchScheduleTest, AFailingNameThatFailsForAnotherReasonNotifies) {
  schedule_.subscribe("ns/a", source("db.test"), now());
  schedule_.subscribe("ns/b", source("db.test"), now());
  refresh("db.test", {answerOf({"10.0.0.1"}, 30)});
  struct Step {
    ResolveOutcome outcome;
    bool failingChanged;
    bool reasonChanged;
  };
  const std::vector<Step> steps = {
      {failureOf(ResolveStatus::kServFail, "SERVFAIL (A)"), true, false},
      {failureOf(ResolveStatus::kServFail, "SERVFAIL (A)"), false, false},
      {failureOf(ResolveStatus::kTimeout, "deadline exceeded (A)"), false, true},
      {failureOf(ResolveStatus::kTimeout, "deadline exceeded (A)"), false, false},
      {failureOf(ResolveStatus::kTimeout, "no answer in time (A)"), false, true},  // message
      {failureOf(ResolveStatus::kNoData, "no A records"), false, true},
      {failureOf(ResolveStatus::kNoData, "no A records"), false, false},
      {failureOf(ResolveStatus::kNxDomain, "NXDOMAIN (A)"), false, true},
      {answerOf({"10.0.0.1"}, 30), true, false},
  };
  for (size_t i = 0; i < steps.size(); ++i) {
    SCOPED_TRACE(i);
    auto update = refreshWhenDue("db.test", {steps[i].outcome});
    EXPECT_EQ(update.failingChanged, steps[i].failingChanged);
    EXPECT_EQ(update.reasonChanged, steps[i].reasonChanged);
    EXPECT_FALSE(update.addressesChanged);
    const bool told = steps[i].failingChanged || steps[i].reasonChanged;
    EXPECT_EQ(update.notify(), told);
    const std::vector<std::string> everyone = {"ns/a", "ns/b"};
    EXPECT_EQ(update.affectedBindingKeys, told ? everyone : std::vector<std::string>{});
    auto snapshot = schedule_.snapshot("db.test");
    if (!steps[i].outcome.ok()) {
      EXPECT_EQ(snapshot->failureStatus, steps[i].outcome.status);
      EXPECT_EQ(snapshot->failureReason, steps[i].outcome.message.empty()
                                             ? resolveStatusName(steps[i].outcome.status)
                                             : steps[i].outcome.message);
    }
  }
}

TEST_F(WatchScheduleTest, RecoveryClearsTheFailureAndReturnsToTtlScheduling) {
  schedule_.subscribe("ns/a", source("db.test", 1, 5s, 60s), now());
  refresh("db.test", {answerOf({"10.0.0.1"}, 30)});
  refreshWhenDue("db.test", {failureOf(ResolveStatus::kServFail)});
  refreshWhenDue("db.test", {failureOf(ResolveStatus::kServFail)});
  auto update = refreshWhenDue("db.test", {answerOf({"10.0.0.1"}, 30)});
  EXPECT_TRUE(update.failingChanged);
  EXPECT_FALSE(update.addressesChanged);
  EXPECT_TRUE(update.notify());
  EXPECT_EQ(update.nextRefresh - now(), 30s);
  auto snapshot = schedule_.snapshot("db.test");
  EXPECT_FALSE(snapshot->failing);
  EXPECT_FALSE(snapshot->failingSince.has_value());
  EXPECT_EQ(snapshot->consecutiveFailures, 0);
  EXPECT_EQ(snapshot->failureStatus, ResolveStatus::kOk);
  EXPECT_TRUE(snapshot->failureReason.empty());
  EXPECT_EQ(snapshot->lastSuccess, now());
  // The next failure backs off from the start again.
  update = refreshWhenDue("db.test", {failureOf(ResolveStatus::kServFail)});
  EXPECT_EQ(update.nextRefresh - now(), 1s);
}

TEST_F(WatchScheduleTest, OnlyARealChangeOfTheSetNotifies) {
  schedule_.subscribe("ns/a", source("db.test"), now());
  auto first = refresh("db.test", {answerOf({"10.0.0.1", "10.0.0.2"}, 30)});
  EXPECT_TRUE(first.addressesChanged);  // the first answer is news
  EXPECT_EQ(first.affectedBindingKeys, (std::vector<std::string>{"ns/a"}));

  // Same set in another order, and another TTL: no change.
  auto same = refreshWhenDue("db.test", {answerOf({"10.0.0.2", "10.0.0.1"}, 10)});
  EXPECT_TRUE(same.applied);
  EXPECT_FALSE(same.notify());
  EXPECT_TRUE(same.affectedBindingKeys.empty());

  auto grown = refreshWhenDue("db.test", {answerOf({"10.0.0.1", "10.0.0.2", "10.0.0.3"}, 30)});
  EXPECT_TRUE(grown.addressesChanged);
  auto shrunk = refreshWhenDue("db.test", {answerOf({"10.0.0.3"}, 30)});
  EXPECT_TRUE(shrunk.addressesChanged);
  auto swapped = refreshWhenDue("db.test", {answerOf({"10.0.0.4"}, 30)});
  EXPECT_TRUE(swapped.addressesChanged);

  auto stats = schedule_.stats();
  EXPECT_EQ(stats.changes, 4u);
  EXPECT_EQ(stats.noChange, 1u);
}

// Unchanged refreshes tell nobody, so the schedule itself must remember since when a departed
// address is gone: a reader that last looked minutes ago would otherwise start its grace
// period minutes early (bench/scale found every changed address deregistered at once). Gone
// since the first answer without it, not the last with it: nobody knew before then.
TEST_F(WatchScheduleTest, ADepartedAddressIsGoneSinceTheFirstRefreshWithoutIt) {
  schedule_.subscribe("ns/a", source("db.test"), now());
  refresh("db.test", {answerOf({"10.0.0.1", "10.0.0.2"}, 30)});
  for (int i = 0; i < 10; ++i) refreshWhenDue("db.test", {answerOf({"10.0.0.1", "10.0.0.2"}, 30)});
  EXPECT_TRUE(schedule_.snapshot("db.test")->departed.empty());

  auto moved = refreshWhenDue("db.test", {answerOf({"10.0.0.1", "10.0.0.3"}, 30)});
  ASSERT_TRUE(moved.addressesChanged);
  const core::MonoTime firstGone = now();
  auto snapshot = schedule_.snapshot("db.test");
  ASSERT_EQ(snapshot->departed.size(), 1u);
  EXPECT_EQ(snapshot->departed[0].address.toString(), "10.0.0.2");
  EXPECT_EQ(snapshot->departed[0].goneSince, firstGone);

  // A failure in between keeps everything; a further change adds the next departure and
  // keeps the earlier one with its own time.
  refreshWhenDue("db.test", {failureOf(ResolveStatus::kServFail)});
  refreshWhenDue("db.test", {answerOf({"10.0.0.3"}, 30)});
  const core::MonoTime secondGone = now();
  ASSERT_GT(secondGone, firstGone);
  snapshot = schedule_.snapshot("db.test");
  ASSERT_EQ(snapshot->departed.size(), 2u);
  EXPECT_EQ(texts({snapshot->departed[0].address, snapshot->departed[1].address}),
            (std::vector<std::string>{"10.0.0.1", "10.0.0.2"}));
  EXPECT_EQ(snapshot->departed[0].goneSince, secondGone);
  EXPECT_EQ(snapshot->departed[1].goneSince, firstGone);

  // An address that comes back is current again, not departed.
  refreshWhenDue("db.test", {answerOf({"10.0.0.2", "10.0.0.3"}, 30)});
  snapshot = schedule_.snapshot("db.test");
  ASSERT_EQ(snapshot->departed.size(), 1u);
  EXPECT_EQ(snapshot->departed[0].address.toString(), "10.0.0.1");
}

TEST_F(WatchScheduleTest, DepartedAddressesAreForgottenAfterTheRetention) {
  schedule_.subscribe("ns/a", source("db.test", 1, 5s, 60s), now());
  refresh("db.test", {answerOf({"10.0.0.1"}, 60)});
  refreshWhenDue("db.test", {answerOf({"10.0.0.2"}, 60)});
  ASSERT_EQ(schedule_.snapshot("db.test")->departed.size(), 1u);
  // Pruned when a later change is folded in past the retention (1 h by default).
  clock_.advance(std::chrono::hours(1) + std::chrono::seconds(1));
  refreshWhenDue("db.test", {answerOf({"10.0.0.3"}, 60)});
  auto snapshot = schedule_.snapshot("db.test");
  ASSERT_EQ(snapshot->departed.size(), 1u);
  EXPECT_EQ(snapshot->departed[0].address.toString(), "10.0.0.2");
}

TEST_F(WatchScheduleTest, BindingsNamingOneHostnameShareOneTarget) {
  EXPECT_TRUE(schedule_.subscribe("ns/a", source("db.test", 1, 10s, 60s), now()));
  EXPECT_FALSE(schedule_.subscribe("ns/b", source("DB.TEST", 4, 5s, 120s), now()));
  api::DnsSource v6 = source("db.test.", 2, 20s, 30s);
  v6.ipv4 = false;
  v6.ipv6 = true;
  EXPECT_FALSE(schedule_.subscribe("ns/c", v6, now()));
  EXPECT_EQ(schedule_.hostnames(), (std::vector<std::string>{"db.test"}));
  EXPECT_EQ(schedule_.stats().hostnames, 1u);
  EXPECT_EQ(schedule_.stats().subscriptions, 3u);

  auto snapshot = schedule_.snapshot("db.test");
  EXPECT_EQ(snapshot->bindingKeys, (std::vector<std::string>{"ns/a", "ns/b", "ns/c"}));
  EXPECT_EQ(snapshot->params.lookupsPerRefresh, 4);                     // largest
  EXPECT_EQ(snapshot->params.minRefreshInterval, 5s);                   // smallest
  EXPECT_EQ(snapshot->params.maxRefreshInterval, 30s);                  // smallest
  EXPECT_EQ(snapshot->params.families, (AddressFamilies{true, true}));  // union

  auto due = schedule_.takeDue(now(), 10);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].lookups, 4);
  auto update =
      schedule_.onResult(due[0], results({answerOf({"10.0.0.1", "fd00::1"}, 300)}), now());
  EXPECT_EQ(update.affectedBindingKeys, (std::vector<std::string>{"ns/a", "ns/b", "ns/c"}));
  EXPECT_EQ(update.nextRefresh - now(), 30s);
  EXPECT_EQ(schedule_.hostnameOf("ns/b"), "db.test");
}

TEST_F(WatchScheduleTest, FilterFamiliesGivesEachBindingItsShare) {
  auto answer = answerOf({"10.0.0.1", "fd00::1", "10.0.0.2"}).answer.addresses;
  EXPECT_EQ(texts(filterFamilies(answer, {true, false})),
            (std::vector<std::string>{"10.0.0.1", "10.0.0.2"}));
  EXPECT_EQ(texts(filterFamilies(answer, {false, true})), (std::vector<std::string>{"fd00::1"}));
  EXPECT_EQ(filterFamilies(answer, {true, true}).size(), 3u);
  api::DnsSource none;
  none.ipv4 = false;
  none.ipv6 = false;
  EXPECT_EQ(familiesOf(none), (AddressFamilies{true, false}));
}

TEST_F(WatchScheduleTest, UnsubscribingTheLastBindingRemovesTheTarget) {
  schedule_.subscribe("ns/a", source("db.test"), now());
  schedule_.subscribe("ns/b", source("db.test"), now());
  refresh("db.test", {answerOf({"10.0.0.1"}, 30)});

  EXPECT_TRUE(schedule_.unsubscribe("ns/a"));
  EXPECT_FALSE(schedule_.unsubscribe("ns/a"));
  ASSERT_TRUE(schedule_.snapshot("db.test").has_value());
  EXPECT_EQ(schedule_.snapshot("db.test")->bindingKeys, (std::vector<std::string>{"ns/b"}));

  EXPECT_TRUE(schedule_.unsubscribe("ns/b"));
  EXPECT_FALSE(schedule_.snapshot("db.test").has_value());
  EXPECT_TRUE(schedule_.hostnames().empty());
  EXPECT_FALSE(schedule_.nextDue().has_value());
  EXPECT_EQ(schedule_.stats().hostnames, 0u);
  EXPECT_EQ(schedule_.stats().subscriptions, 0u);
}

TEST_F(WatchScheduleTest, AResultForARemovedOrRecreatedTargetIsIgnored) {
  schedule_.subscribe("ns/a", source("db.test"), now());
  auto stale = schedule_.takeDue(now(), 1).at(0);
  schedule_.unsubscribe("ns/a");
  EXPECT_FALSE(schedule_.onResult(stale, results({answerOf({"10.0.0.1"})}), now()).applied);

  schedule_.subscribe("ns/a", source("db.test"), now());
  EXPECT_FALSE(schedule_.onResult(stale, results({answerOf({"10.0.0.1"})}), now()).applied);
  EXPECT_FALSE(schedule_.snapshot("db.test")->hasAnswer);
  EXPECT_EQ(schedule_.stats().totalLookups(), 0u);
  auto fresh = schedule_.takeDue(now(), 1);
  ASSERT_EQ(fresh.size(), 1u);
  EXPECT_NE(fresh[0].id, stale.id);
  EXPECT_TRUE(schedule_.onResult(fresh[0], results({answerOf({"10.0.0.1"})}), now()).applied);
}

TEST_F(WatchScheduleTest, ResubscribingToAnotherHostnameMovesTheBinding) {
  schedule_.subscribe("ns/a", source("old.test"), now());
  schedule_.subscribe("ns/a", source("new.test"), now());
  EXPECT_EQ(schedule_.hostnames(), (std::vector<std::string>{"new.test"}));
  EXPECT_EQ(schedule_.hostnameOf("ns/a"), "new.test");
  EXPECT_EQ(schedule_.stats().subscriptions, 1u);
}

TEST_F(WatchScheduleTest, AddingAFamilyRefreshesAtOnce) {
  schedule_.subscribe("ns/a", source("db.test"), now());
  refresh("db.test", {answerOf({"10.0.0.1"}, 60)});
  EXPECT_TRUE(schedule_.takeDue(now(), 10).empty());
  api::DnsSource both = source("db.test");
  both.ipv6 = true;
  schedule_.subscribe("ns/b", both, now());
  auto due = schedule_.takeDue(now(), 10);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].families, (AddressFamilies{true, true}));
}

TEST_F(WatchScheduleTest, AFamilyAddedDuringARefreshRefreshesAgainAtOnce) {
  schedule_.subscribe("ns/a", source("db.test"), now());
  auto ticket = schedule_.takeDue(now(), 1).at(0);
  api::DnsSource v6 = source("db.test");
  v6.ipv4 = false;
  v6.ipv6 = true;
  schedule_.subscribe("ns/b", v6, now());
  auto update = schedule_.onResult(ticket, results({answerOf({"10.0.0.1"}, 60)}), now());
  EXPECT_EQ(update.nextRefresh, now());
}

TEST_F(WatchScheduleTest, AStricterSubscriberPullsTheNextRefreshCloser) {
  schedule_.subscribe("ns/a", source("db.test", 1, 5s, 300s), now());
  refresh("db.test", {answerOf({"10.0.0.1"}, 300)});
  EXPECT_EQ(*schedule_.nextDue() - now(), 300s);
  clock_.advance(10s);
  schedule_.subscribe("ns/b", source("db.test", 1, 5s, 30s), now());
  EXPECT_EQ(*schedule_.nextDue() - now(), 30s);
}

TEST_F(WatchScheduleTest, TakeDueHonoursTheLimitEarliestFirst) {
  schedule_.subscribe("ns/a", source("a.test"), now());
  clock_.advance(1s);
  schedule_.subscribe("ns/b", source("b.test"), now());
  clock_.advance(1s);
  schedule_.subscribe("ns/c", source("c.test"), now());
  auto due = schedule_.takeDue(now(), 2);
  ASSERT_EQ(due.size(), 2u);
  EXPECT_EQ(due[0].hostname, "a.test");
  EXPECT_EQ(due[1].hostname, "b.test");
  EXPECT_EQ(schedule_.nextDue(), now());
  due = schedule_.takeDue(now(), 2);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].hostname, "c.test");
}

TEST_F(WatchScheduleTest, NothingIsScheduledSoonerThanTheFloor) {
  schedule_.subscribe("ns/a", source("db.test", 1, 0s, 0s), now());
  auto update = refresh("db.test", {answerOf({"10.0.0.1"}, 0)});
  EXPECT_EQ(update.nextRefresh - now(), 100ms);
  update = refreshWhenDue("db.test", {failureOf(ResolveStatus::kTimeout)});
  EXPECT_EQ(update.nextRefresh - now(), 100ms);
}

TEST_F(WatchScheduleTest, LatencyIsSummedAndItsMaximumKept) {
  schedule_.subscribe("ns/a", source("db.test", 2), now());
  auto ticket = schedule_.takeDue(now(), 1).at(0);
  std::vector<LookupResult> lookups = {{answerOf({"10.0.0.1"}), 3ms},
                                       {failureOf(ResolveStatus::kTimeout), 40ms}};
  schedule_.onResult(ticket, lookups, now());
  auto stats = schedule_.stats();
  EXPECT_EQ(stats.lookupLatencySum, 43ms);
  EXPECT_EQ(stats.lookupLatencyMax, 40ms);
}

api::DnsSource families(std::string hostname, bool ipv4, bool ipv6) {
  api::DnsSource s = source(std::move(hostname), 1, 5s, 60s);
  s.ipv4 = ipv4;
  s.ipv6 = ipv6;
  return s;
}

ResolveOutcome dual(ResolveOutcome a, ResolveOutcome aaaa) {
  return combineOutcomes(std::move(a), std::move(aaaa));
}

std::vector<std::string> departedTexts(const std::vector<DepartedAddress>& departed) {
  std::vector<std::string> out;
  for (const auto& entry : departed) out.push_back(entry.address.toString());
  return out;
}

// Issue 16 item 2: subscriptions to one hostname merge their families, and a timed-out AAAA
// query failed the whole name, so an IPv4-only binding stopped seeing A changes. Each family
// keeps its own last good answer; a failing one freezes only itself.
TEST_F(WatchScheduleTest, AFailingFamilyFreezesOnlyItself) {
  schedule_.subscribe("ns/v4", families("dual.test", true, false), now());
  schedule_.subscribe("ns/both", families("dual.test", true, true), now());
  refresh("dual.test", {dual(answerOf({"10.0.0.1"}, 30), answerOf({"fd00::1"}, 30))});

  clock_.advance(30s);
  const auto changedAt = now();
  auto update =
      refresh("dual.test", {dual(answerOf({"10.0.0.2"}, 30),
                                 failureOf(ResolveStatus::kTimeout, "deadline exceeded (AAAA)"))});
  EXPECT_TRUE(update.succeeded);
  EXPECT_TRUE(update.addressesChanged);
  EXPECT_TRUE(update.families[0].addressesChanged);
  EXPECT_TRUE(update.families[1].failingChanged);
  EXPECT_EQ(update.affectedBindingKeys, (std::vector<std::string>{"ns/both", "ns/v4"}));
  // Retried soon for the failing family, not at the 30 s TTL.
  EXPECT_EQ(update.nextRefresh - now(), 1s);

  auto host = schedule_.snapshot("dual.test");
  EXPECT_FALSE(host->failing);  // A answers
  EXPECT_EQ(texts(host->addresses), (std::vector<std::string>{"10.0.0.2", "fd00::1"}));
  EXPECT_TRUE(host->families[1].failing());
  EXPECT_EQ(host->families[1].failingSince, changedAt);
  EXPECT_EQ(host->families[1].failureStatus, ResolveStatus::kTimeout);
  EXPECT_EQ(departedTexts(host->departed), (std::vector<std::string>{"10.0.0.1"}));

  // The IPv4-only binding sees a healthy source with the new A answer.
  auto v4 = viewFor(*host, {true, false});
  EXPECT_FALSE(v4.failing);
  EXPECT_FALSE(v4.degraded());
  EXPECT_EQ(texts(v4.addresses), (std::vector<std::string>{"10.0.0.2"}));
  EXPECT_EQ(v4.lastSuccess, changedAt);
  EXPECT_EQ(departedTexts(v4.departed), (std::vector<std::string>{"10.0.0.1"}));

  // The dual binding follows A and keeps the last good AAAA answer, frozen: listed, never
  // departed, and reported as degraded.
  auto both = viewFor(*host, {true, true});
  EXPECT_FALSE(both.failing);
  EXPECT_EQ(both.degradedReason, "deadline exceeded (AAAA)");
  EXPECT_EQ(texts(both.addresses), (std::vector<std::string>{"10.0.0.2", "fd00::1"}));
  EXPECT_EQ(departedTexts(both.departed), (std::vector<std::string>{"10.0.0.1"}));

  // An IPv6-only view fails with the AAAA reason and keeps its last good answer.
  auto v6 = viewFor(*host, {false, true});
  EXPECT_TRUE(v6.failing);
  EXPECT_EQ(v6.failingSince, changedAt);
  EXPECT_EQ(v6.failureStatus, ResolveStatus::kTimeout);
  EXPECT_EQ(v6.failureReason, "deadline exceeded (AAAA)");
  EXPECT_EQ(texts(v6.addresses), (std::vector<std::string>{"fd00::1"}));
  EXPECT_TRUE(v6.departed.empty());
}

TEST_F(WatchScheduleTest, AFamilysFailureAndRecoveryTellOnlyItsSubscribers) {
  schedule_.subscribe("ns/v4", families("dual.test", true, false), now());
  schedule_.subscribe("ns/both", families("dual.test", true, true), now());
  refresh("dual.test", {dual(answerOf({"10.0.0.1"}, 30), answerOf({"fd00::1"}, 30))});

  auto failed = refreshWhenDue(
      "dual.test", {dual(answerOf({"10.0.0.1"}, 30), failureOf(ResolveStatus::kServFail))});
  EXPECT_FALSE(failed.families[0].changed());
  EXPECT_EQ(failed.affectedBindingKeys, (std::vector<std::string>{"ns/both"}));
  auto again = refreshWhenDue(
      "dual.test", {dual(answerOf({"10.0.0.1"}, 30), failureOf(ResolveStatus::kServFail))});
  EXPECT_FALSE(again.notify());
  EXPECT_TRUE(again.affectedBindingKeys.empty());

  // AAAA recovers with another address: the old one is gone since the recovery.
  auto recovered =
      refreshWhenDue("dual.test", {dual(answerOf({"10.0.0.1"}, 30), answerOf({"fd00::2"}, 30))});
  EXPECT_TRUE(recovered.families[1].failingChanged);
  EXPECT_TRUE(recovered.families[1].addressesChanged);
  EXPECT_EQ(recovered.affectedBindingKeys, (std::vector<std::string>{"ns/both"}));
  EXPECT_EQ(recovered.nextRefresh - now(), 30s);
  auto host = schedule_.snapshot("dual.test");
  ASSERT_EQ(host->departed.size(), 1u);
  EXPECT_EQ(host->departed[0].address.toString(), "fd00::1");
  EXPECT_EQ(host->departed[0].goneSince, now());
  EXPECT_FALSE(viewFor(*host, {true, true}).degraded());
}

TEST_F(WatchScheduleTest, TheNameFailsWhenEveryFamilyFails) {
  schedule_.subscribe("ns/both", families("dual.test", true, true), now());
  refresh("dual.test", {dual(answerOf({"10.0.0.1"}, 30), answerOf({"fd00::1"}, 30))});
  const auto aaaaFailedAt = now() + 30s;
  clock_.advance(30s);
  refresh("dual.test", {dual(answerOf({"10.0.0.1"}, 30),
                             failureOf(ResolveStatus::kTimeout, "deadline exceeded (AAAA)"))});
  EXPECT_FALSE(schedule_.snapshot("dual.test")->failing);
  auto update = refreshWhenDue(
      "dual.test", {dual(failureOf(ResolveStatus::kServFail, "SERVFAIL (A)"),
                         failureOf(ResolveStatus::kTimeout, "deadline exceeded (AAAA)"))});
  EXPECT_FALSE(update.succeeded);
  auto host = schedule_.snapshot("dual.test");
  EXPECT_TRUE(host->failing);
  EXPECT_EQ(host->failingSince, now());  // the A family's, the later one
  EXPECT_GT(now(), aaaaFailedAt);
  EXPECT_EQ(host->failureStatus, ResolveStatus::kServFail);
  EXPECT_EQ(host->failureReason, "SERVFAIL (A); deadline exceeded (AAAA)");
  EXPECT_EQ(host->consecutiveFailures, 1);
  EXPECT_EQ(texts(host->addresses), (std::vector<std::string>{"10.0.0.1", "fd00::1"}));
  auto view = viewFor(*host, {true, true});
  EXPECT_TRUE(view.failing);
  EXPECT_EQ(view.failureReason, "SERVFAIL (A); deadline exceeded (AAAA)");
  EXPECT_EQ(texts(view.addresses), (std::vector<std::string>{"10.0.0.1", "fd00::1"}));
  // Backoff follows the family failing longest: AAAA has failed twice.
  EXPECT_EQ(update.nextRefresh - now(), 2s);
}

TEST_F(WatchScheduleTest, AFamilyNotAnsweredYetIsWaitingNotFailing) {
  schedule_.subscribe("ns/v4", families("dual.test", true, false), now());
  refresh("dual.test", {answerOf({"10.0.0.1"}, 30)});
  schedule_.subscribe("ns/v6", families("dual.test", false, true), now());
  auto host = schedule_.snapshot("dual.test");
  auto v6 = viewFor(*host, {false, true});
  EXPECT_TRUE(v6.failing);
  EXPECT_FALSE(v6.failingSince.has_value());
  EXPECT_EQ(v6.failureReason, "waiting for the first AAAA answer");
  // A dual binding cannot tell its IPv6 targets are gone before AAAA has answered once.
  const auto both = viewFor(*host, {true, true});
  EXPECT_TRUE(both.failing);
  EXPECT_EQ(texts(both.addresses), (std::vector<std::string>{"10.0.0.1"}));
  EXPECT_FALSE(viewFor(*host, {true, false}).degraded());
}

TEST_F(WatchScheduleTest, AFamilyThatNeverAnsweredFailsTheDualView) {
  // A restart with an IPv6 target registered: A answers, AAAA times out from the start. Old:
  // the dual view was merely "degraded", its listing (IPv4 only) was trusted, and the IPv6
  // target was deregistered after the grace although AAAA never said anything.
  schedule_.subscribe("ns/both", families("dual.test", true, true), now());
  refresh("dual.test",
          {dual(answerOf({"10.0.0.1"}, 30), failureOf(ResolveStatus::kTimeout, "timeout (AAAA)"))});
  auto host = schedule_.snapshot("dual.test");
  const auto both = viewFor(*host, {true, true});
  EXPECT_TRUE(both.failing);
  EXPECT_NE(both.failureReason.find("timeout (AAAA)"), std::string::npos) << both.failureReason;
  EXPECT_EQ(texts(both.addresses), (std::vector<std::string>{"10.0.0.1"}));
  // Once AAAA has answered, a later AAAA failure freezes only IPv6.
  clock_.advance(30s);
  refresh("dual.test", {dual(answerOf({"10.0.0.1"}, 30), answerOf({"fd00::1"}, 30))});
  clock_.advance(30s);
  refresh("dual.test",
          {dual(answerOf({"10.0.0.1"}, 30), failureOf(ResolveStatus::kTimeout, "timeout (AAAA)"))});
  host = schedule_.snapshot("dual.test");
  EXPECT_FALSE(viewFor(*host, {true, true}).failing);
  EXPECT_TRUE(viewFor(*host, {true, true}).degraded());
}

TEST_F(WatchScheduleTest, NoDataForOneFamilyWhileTheOtherAnswersIsAnEmptyAnswer) {
  // A dual binding on a name without AAAA records: not a failure for ever (frozen IPv6, a
  // 5 s retry), but "no IPv6 addresses"; a departure when they go, as for any answer.
  schedule_.subscribe("ns/both", families("dual.test", true, true), now());
  refresh("dual.test", {dual(answerOf({"10.0.0.1"}, 30), answerOf({"fd00::1"}, 30))});
  clock_.advance(30s);
  const auto goneAt = now();
  auto update = refresh("dual.test", {dual(answerOf({"10.0.0.1"}, 30),
                                           failureOf(ResolveStatus::kNoData, "NODATA (AAAA)"))});
  EXPECT_EQ(update.nextRefresh - now(), 30s) << "the TTL, not the failure retry";
  auto host = schedule_.snapshot("dual.test");
  const auto both = viewFor(*host, {true, true});
  EXPECT_FALSE(both.failing);
  EXPECT_FALSE(both.degraded());
  EXPECT_EQ(texts(both.addresses), (std::vector<std::string>{"10.0.0.1"}));
  ASSERT_EQ(departedTexts(both.departed), (std::vector<std::string>{"fd00::1"}));
  EXPECT_EQ(both.departed.front().goneSince, goneAt);
  // NODATA for both families is still a failing (empty) answer.
  clock_.advance(30s);
  refresh("dual.test", {dual(failureOf(ResolveStatus::kNoData, "NODATA (A)"),
                             failureOf(ResolveStatus::kNoData, "NODATA (AAAA)"))});
  EXPECT_TRUE(viewFor(schedule_.snapshot("dual.test").value(), {true, true}).failing);
}

TEST_F(WatchScheduleTest, AFamilyNobodyAsksForAnyMoreIsForgotten) {
  schedule_.subscribe("ns/v4", families("dual.test", true, false), now());
  schedule_.subscribe("ns/v6", families("dual.test", false, true), now());
  refresh("dual.test", {dual(answerOf({"10.0.0.1"}, 30), answerOf({"fd00::1"}, 30))});
  refreshWhenDue("dual.test", {dual(answerOf({"10.0.0.1"}, 30), answerOf({"fd00::2"}, 30))});
  ASSERT_EQ(schedule_.snapshot("dual.test")->departed.size(), 1u);
  schedule_.unsubscribe("ns/v6");
  auto host = schedule_.snapshot("dual.test");
  EXPECT_EQ(texts(host->addresses), (std::vector<std::string>{"10.0.0.1"}));
  EXPECT_FALSE(host->families[1].hasAnswer);
  EXPECT_TRUE(host->departed.empty());
}

TEST_F(WatchScheduleTest, CnameChainIsReported) {
  schedule_.subscribe("ns/a", source("db.test"), now());
  refresh("db.test", {answerOf({"10.0.0.1"}, 30, {"lb.test"})});
  EXPECT_EQ(schedule_.snapshot("db.test")->cnameChain, (std::vector<std::string>{"lb.test"}));
}

}  // namespace
}  // namespace endpointbinder::dns
