#include "controller/runtime/resync_pacer.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

namespace endpointbinder::runtime {
namespace {

using namespace std::chrono_literals;

std::vector<std::string> keys(int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) out.push_back("ns/b" + std::to_string(i));
  return out;
}

// Drives the pacer with a tick every `tick` from `from` to `to` and records when each key was
// handed out.
std::map<std::string, std::vector<std::chrono::nanoseconds>> run(
    ResyncPacer& pacer, const std::vector<std::string>& all, std::chrono::nanoseconds to,
    std::chrono::nanoseconds tick = 1s) {
  std::map<std::string, std::vector<std::chrono::nanoseconds>> out;
  int listings = 0;
  for (auto t = tick; t <= to; t += tick) {
    for (auto& key : pacer.due(core::MonoTime(t), [&] {
           ++listings;
           return all;
         })) {
      out[key].push_back(t);
    }
  }
  return out;
}

TEST(ResyncPacerTest, NothingIsDueBeforeTheFirstPeriodEnds) {
  ResyncPacer pacer({5min, 0}, core::MonoTime(0s));
  int listed = 0;
  auto lister = [&] {
    ++listed;
    return keys(10);
  };
  EXPECT_TRUE(pacer.due(core::MonoTime(4min + 59s), lister).empty());
  EXPECT_EQ(listed, 0);
  EXPECT_EQ(pacer.due(core::MonoTime(5min), lister), std::vector<std::string>{"ns/b0"});
  EXPECT_EQ(listed, 1);
}

TEST(ResyncPacerTest, EachKeyIsDueOncePerPeriodSpreadEvenly) {
  ResyncPacer pacer({300s, 0}, core::MonoTime(0s));
  const auto all = keys(100);
  const auto handed = run(pacer, all, 300s + 3 * 300s - 1s);  // three whole rounds
  ASSERT_EQ(handed.size(), 100u);
  for (int i = 0; i < 100; ++i) {
    const auto& times = handed.at(all[i]);
    ASSERT_EQ(times.size(), 3u) << all[i];
    // Key i is due 3 s * i into each round (300 s / 100 keys); 1 s ticks hand it out on time.
    EXPECT_EQ(times[0], 300s + 3s * i) << all[i];
    EXPECT_EQ(times[1] - times[0], 300s) << all[i];
    EXPECT_EQ(times[2] - times[1], 300s) << all[i];
  }
  // At most one key per tick: no burst.
  std::map<std::chrono::nanoseconds, int> perTick;
  for (const auto& [key, times] : handed) {
    for (auto t : times) ++perTick[t];
  }
  for (const auto& [t, count] : perTick) EXPECT_LE(count, 1) << t.count();
}

TEST(ResyncPacerTest, MoreKeysThanTheBudgetAllowsStretchTheRound) {
  // 5,000 bindings at 5 re-checks per second: 1,000 s per round instead of 300 s.
  ResyncPacer pacer({300s, 5.0}, core::MonoTime(0s));
  const auto all = keys(5000);
  const auto handed = run(pacer, all, 300s + 2 * 1000s);
  EXPECT_EQ(pacer.roundLength(), 1000s);
  ASSERT_EQ(handed.size(), 5000u);
  std::map<std::chrono::nanoseconds, int> perSecond;
  for (const auto& [key, times] : handed) {
    // Round 3 begins at 2,300 s, the tick that ends round 2: only b0 is due then.
    ASSERT_EQ(times.size(), key == "ns/b0" ? 3u : 2u) << key;
    EXPECT_EQ(times[1] - times[0], 1000s) << key;
    for (auto t : times) ++perSecond[t];
  }
  for (const auto& [t, count] : perSecond) EXPECT_LE(count, 5) << t.count();
}

TEST(ResyncPacerTest, FewKeysUnderTheBudgetKeepThePeriod) {
  ResyncPacer pacer({300s, 5.0}, core::MonoTime(0s));
  (void)pacer.due(core::MonoTime(300s), [] { return keys(1000); });
  EXPECT_EQ(pacer.roundLength(), 300s);
  EXPECT_EQ(pacer.roundSize(), 1000u);
}

TEST(ResyncPacerTest, KeysAddedDuringARoundJoinTheNextOne) {
  ResyncPacer pacer({100s, 0}, core::MonoTime(0s));
  std::vector<std::string> all = keys(2);
  std::vector<std::pair<std::chrono::nanoseconds, std::string>> handed;
  for (auto t = 1s; t < 300s; t += 1s) {
    if (t == 120s) all.push_back("ns/late");
    for (auto& key : pacer.due(core::MonoTime(t), [&] { return all; })) handed.emplace_back(t, key);
  }
  const std::vector<std::pair<std::chrono::nanoseconds, std::string>> expected{
      {100s, "ns/b0"},
      {150s, "ns/b1"},  // round 1: two keys over 100 s
      {200s, "ns/b0"},
      {234s, "ns/b1"},
      {267s, "ns/late"}};  // round 2: three (33.3 s apart)
  EXPECT_EQ(handed, expected);
}

TEST(ResyncPacerTest, AnEmptyRoundLooksAgainAfterAPeriod) {
  ResyncPacer pacer({60s, 0}, core::MonoTime(0s));
  int listed = 0;
  std::vector<std::string> all;
  for (auto t = 1s; t <= 200s; t += 1s) {
    if (t == 90s) all = keys(1);
    (void)pacer.due(core::MonoTime(t), [&] {
      ++listed;
      return all;
    });
  }
  EXPECT_EQ(listed, 3);  // at 60 s (empty), 120 s and 180 s
}

TEST(ResyncPacerTest, AfterALongPauseTheRoundIsSpreadFromNowNotHandedOutAtOnce) {
  ResyncPacer pacer({100s, 0}, core::MonoTime(0s));
  // The process was suspended from before the first round until 1,000 s.
  auto first = pacer.due(core::MonoTime(1000s), [] { return keys(10); });
  EXPECT_EQ(first, std::vector<std::string>{"ns/b0"});
  EXPECT_EQ(pacer.due(core::MonoTime(1010s), [] { return keys(10); }),
            std::vector<std::string>{"ns/b1"});
}

TEST(ResyncPacerTest, AStallInTheMiddleOfARoundDoesNotReleaseTheRestAtOnce) {
  ResyncPacer pacer({100s, 0}, core::MonoTime(0s));
  const auto lister = [] { return keys(10); };
  EXPECT_EQ(pacer.due(core::MonoTime(100s), lister).size(), 1u);  // b0
  EXPECT_EQ(pacer.due(core::MonoTime(110s), lister).size(), 1u);  // b1
  // The tick thread stalls for 60 s: b2..b7 were due meanwhile.
  EXPECT_EQ(pacer.due(core::MonoTime(170s), lister), std::vector<std::string>{"ns/b2"});
  EXPECT_EQ(pacer.due(core::MonoTime(179s), lister), std::vector<std::string>{});
  EXPECT_EQ(pacer.due(core::MonoTime(180s), lister), std::vector<std::string>{"ns/b3"});
}

TEST(ResyncPacerTest, ASmallLatenessKeepsTheCadence) {
  ResyncPacer pacer({100s, 0}, core::MonoTime(0s));
  const auto lister = [] { return keys(10); };
  EXPECT_EQ(pacer.due(core::MonoTime(103s), lister), std::vector<std::string>{"ns/b0"});
  EXPECT_EQ(pacer.due(core::MonoTime(110s), lister), std::vector<std::string>{"ns/b1"});
}

TEST(ResyncPacerTest, AnAbsurdlySmallRateIsCappedAtADay) {
  ResyncPacer pacer({300s, 1e-12}, core::MonoTime(0s));
  EXPECT_EQ(pacer.due(core::MonoTime(300s), [] { return keys(3); }),
            std::vector<std::string>{"ns/b0"});
  EXPECT_EQ(pacer.roundLength(), ResyncPacer::kMaxRoundLength);
  EXPECT_EQ(pacer.due(core::MonoTime(300s + 8h), [] { return keys(3); }),
            std::vector<std::string>{"ns/b1"});
}

}  // namespace
}  // namespace endpointbinder::runtime
