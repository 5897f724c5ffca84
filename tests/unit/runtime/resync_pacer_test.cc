#include "controller/runtime/resync_pacer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "controller/runtime/work_queue.h"

namespace endpointbinder::runtime {
namespace {

using namespace std::chrono_literals;

std::vector<std::string> keys(int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) out.push_back("ns/b" + std::to_string(i));
  return out;
}

// A lookup of each key's latest read in `reads` (which must outlive it); nullopt for none.
ResyncPacer::LastReadLookup lastReadIn(const std::map<std::string, core::MonoTime>& reads) {
  return [&reads](const std::string& key) -> std::optional<core::MonoTime> {
    const auto it = reads.find(key);
    if (it == reads.end()) return std::nullopt;
    return it->second;
  };
}
ResyncPacer::LastReadLookup lastReadIn(
    const std::map<std::string, std::vector<std::chrono::nanoseconds>>& reads) {
  return [&reads](const std::string& key) -> std::optional<core::MonoTime> {
    const auto it = reads.find(key);
    if (it == reads.end() || it->second.empty()) return std::nullopt;
    return core::MonoTime(it->second.back());
  };
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

// ---- backpressure: a backlog in the resync lane pauses the round ------------------------------

TEST(ResyncPacerTest, ABacklogInTheResyncLanePausesTheRoundWhereItStopped) {
  ResyncPacer pacer({100s, 5.0}, core::MonoTime(0s));  // 10 keys, 10 s apart; limit 10 queued
  ASSERT_EQ(pacer.backlogLimit(), 10u);
  const auto lister = [] { return keys(10); };
  EXPECT_EQ(pacer.due(core::MonoTime(100s), lister, 0), std::vector<std::string>{"ns/b0"});
  EXPECT_EQ(pacer.due(core::MonoTime(110s), lister, 11), std::vector<std::string>{});
  EXPECT_EQ(pacer.due(core::MonoTime(150s), lister, 11), std::vector<std::string>{});
  // Resumed where it stopped, and spread from there: not b1..b5 at once.
  EXPECT_EQ(pacer.due(core::MonoTime(151s), lister, 10), std::vector<std::string>{"ns/b1"});
  EXPECT_EQ(pacer.due(core::MonoTime(159s), lister, 0), std::vector<std::string>{});
  EXPECT_EQ(pacer.due(core::MonoTime(160s), lister, 0), std::vector<std::string>{"ns/b2"});
}

TEST(ResyncPacerTest, ABacklogAtARoundsStartDelaysTheRound) {
  ResyncPacer pacer({100s, 5.0}, core::MonoTime(0s));
  int listed = 0;
  const auto lister = [&] {
    ++listed;
    return keys(10);
  };
  EXPECT_EQ(pacer.due(core::MonoTime(100s), lister, 50), std::vector<std::string>{});
  EXPECT_EQ(listed, 0);
  EXPECT_EQ(pacer.due(core::MonoTime(140s), lister, 0), std::vector<std::string>{"ns/b0"});
  EXPECT_EQ(pacer.due(core::MonoTime(141s), lister, 0), std::vector<std::string>{});
  EXPECT_EQ(pacer.due(core::MonoTime(150s), lister, 0), std::vector<std::string>{"ns/b1"});
}

TEST(ResyncPacerTest, WithoutABudgetABacklogPausesNothing) {
  // The resync lane then drains as fast as the workers go.
  ResyncPacer pacer({100s, 0}, core::MonoTime(0s));
  EXPECT_EQ(pacer.backlogLimit(), std::nullopt);
  EXPECT_EQ(pacer.due(
                core::MonoTime(100s), [] { return keys(10); }, 100000),
            std::vector<std::string>{"ns/b0"});
}

TEST(ResyncPacerTest, PausesAddUpToOneRoundSoBindingsThatNeverWriteAreStillReChecked) {
  // Found by review: re-checks after writes arriving at the lane's budget for good would keep
  // the round paused for good, and a binding that never writes would never be re-checked.
  ResyncPacer pacer({100s, 5.0}, core::MonoTime(0s));  // 10 keys, 10 s apart
  std::map<std::string, std::vector<std::chrono::nanoseconds>> handed;
  for (auto t = 1s; t <= 500s; t += 1s) {
    for (auto& key : pacer.due(
             core::MonoTime(t), [] { return keys(10); }, 1000)) {
      handed[key].push_back(t);
    }
  }
  ASSERT_EQ(handed.size(), 10u);
  for (const auto& [key, times] : handed) {
    EXPECT_LE(times.front(), 100s + 2 * 100s) << key;  // the first round, paused 100 s at most
    for (std::size_t i = 1; i < times.size(); ++i) {
      EXPECT_LE(times[i] - times[i - 1], 3 * 100s + 1s) << key;
    }
  }
}

TEST(ResyncPacerTest, ABacklogFromTheMiddleOfARoundDelaysAKeyByThreeRoundLengthsAtMost) {
  // Found by review: b0 out at the round's start, the rest of the round paused a whole round
  // length, the next round's start delayed by its own: three round lengths between two reads.
  ResyncPacer pacer({100s, 5.0}, core::MonoTime(0s));  // 10 keys, 10 s apart
  std::map<std::string, std::vector<std::chrono::nanoseconds>> handed;
  for (auto t = 1s; t <= 1500s; t += 1s) {
    const std::size_t backlog = t > 100s ? 1000 : 0;
    for (auto& key : pacer.due(
             core::MonoTime(t), [] { return keys(10); }, backlog)) {
      handed[key].push_back(t);
    }
  }
  ASSERT_EQ(handed.size(), 10u);
  for (const auto& [key, times] : handed) {
    ASSERT_GE(times.size(), 3u) << key;
    for (std::size_t i = 1; i < times.size(); ++i) {
      EXPECT_LE(times[i] - times[i - 1], 3 * 100s + 1s) << key;
    }
  }
}

TEST(ResyncPacerTest, APauseOverARoundsStartDoesNotReleaseTheKeysDueMeanwhileAtOnce) {
  ResyncPacer pacer({10s, 1.0}, core::MonoTime(0s));  // 10 keys, 1 s apart; limit 2 queued
  const auto lister = [] { return keys(10); };
  for (auto t = 10s; t < 20s; t += 1s)
    ASSERT_EQ(pacer.due(core::MonoTime(t), lister, 0).size(), 1u);
  for (auto t = 20s; t <= 23s; t += 1s) {
    EXPECT_TRUE(pacer.due(core::MonoTime(t), lister, 3).empty());  // paused over the start
  }
  // Resumed from where the pause left the start (23 s): not the five keys due at 20-24 s.
  EXPECT_EQ(pacer.due(core::MonoTime(24s), lister, 0),
            (std::vector<std::string>{"ns/b0", "ns/b1"}));
  EXPECT_EQ(pacer.due(core::MonoTime(25s), lister, 0), std::vector<std::string>{"ns/b2"});
}

// The cold start of 5,000 bindings at AWS-like quotas (bench/scale, 2026-12-05): for 1,500 s
// every worker served events (the writes) and each write scheduled a re-check, so the resync
// lane then held 5,000 of them, drained at its budget (5/s) while the round, stretched to use
// that whole budget, added keys at the same 5/s. The lane shrank only as round keys merged
// into queued ones (4,030 -> 1,451 -> 970 over 15 minutes): the work queue did not empty for
// about an hour. Now the round waits while the lane holds a backlog, so it drains at the
// budget, and the round takes 80 % of the budget, so the lane has room for re-checks and
// empties after the pause instead of standing at the limit.
TEST(ResyncPacerTest, AColdStartsReCheckBacklogDrainsAtTheBudgetAndEveryBindingIsStillRead) {
  constexpr int kBindings = 5000;
  constexpr double kLaneBudget = 5.0;
  constexpr double kRoundRate = kLaneBudget * kRoundShareOfResyncBudget;
  const auto kRound = std::chrono::duration_cast<std::chrono::seconds>(
      std::chrono::duration<double>(kBindings / kRoundRate));
  ASSERT_EQ(kRound, 1250s);
  const auto all = keys(kBindings);
  ResyncPacer pacer({300s, kRoundRate}, core::MonoTime(0s));
  WorkQueueCore queue(WorkQueueOptions{.resyncPerSecond = kLaneBudget});
  const auto lister = [&] { return all; };
  std::map<std::string, std::vector<std::chrono::nanoseconds>> reads;
  std::optional<std::chrono::nanoseconds> emptyAt;
  std::size_t worstAfterEmpty = 0;
  constexpr auto kColdStartEnd = 1500s;
  constexpr auto kDrain = 1000s;  // 5,000 re-checks at 5/s
  constexpr auto kEnd = 7000s;
  for (auto t = 100ms; t <= kEnd; t += 100ms) {
    const core::MonoTime now(t);
    if (t < kColdStartEnd) {
      (void)pacer.due(now, lister, 0);  // merged into the cold start's pending event keys
      continue;
    }
    if (t == kColdStartEnd) {
      for (const auto& key : all) queue.add(key, now, Priority::kResync);  // the re-checks
    }
    for (const auto& key : pacer.due(now, lister, queue.stats(now).resyncDepth)) {
      queue.add(key, now, Priority::kResync);
    }
    while (auto key = queue.get(now)) {  // reconciles take no time here
      reads[*key].push_back(t);
      queue.done(*key, now);
    }
    const auto depth = queue.stats(now).depth;
    if (!emptyAt && depth == 0) emptyAt = t;
    if (emptyAt) worstAfterEmpty = std::max(worstAfterEmpty, depth);
  }
  ASSERT_TRUE(emptyAt.has_value()) << "the resync lane never emptied";
  EXPECT_LE(*emptyAt, kColdStartEnd + kDrain + 30s);
  EXPECT_LE(worstAfterEmpty, 1u);  // then one round key at a time
  // Nothing was skipped: every binding read when its re-check came out, and again at least
  // once a round (plus the pause).
  ASSERT_EQ(reads.size(), all.size());
  for (const auto& [key, times] : reads) {
    ASSERT_GE(times.size(), 3u) << key;
    for (std::size_t i = 1; i < times.size(); ++i) {
      EXPECT_LE(times[i] - times[i - 1], kRound + kDrain + 10s) << key;
    }
    EXPECT_LE(kEnd - times.back(), kRound + 10s) << key;
  }
}

TEST(ResyncPacerTest, AKeyReadWithinHalfARoundIsSkippedAndDueAgainNextRound) {
  ResyncPacer pacer({100s, 0}, core::MonoTime(0s));  // 10 keys, 10 s apart
  const auto lister = [] { return keys(10); };
  std::map<std::string, core::MonoTime> lastRead;
  const auto lastReadAt = lastReadIn(lastRead);
  ASSERT_EQ(pacer.freshReadWindow(), 50s);
  lastRead["ns/b0"] = core::MonoTime(51s);  // 49 s before its turn: skipped
  lastRead["ns/b1"] = core::MonoTime(60s);  // 50 s before its turn: read again
  EXPECT_TRUE(pacer.due(core::MonoTime(100s), lister, 0, lastReadAt).empty());
  EXPECT_EQ(pacer.skippedFresh(), 1u);
  EXPECT_EQ(pacer.due(core::MonoTime(110s), lister, 0, lastReadAt),
            std::vector<std::string>{"ns/b1"});
  // Not read since: b0's next turn hands it out.
  for (auto t = 111s; t < 200s; t += 1s) (void)pacer.due(core::MonoTime(t), lister, 0, lastReadAt);
  EXPECT_EQ(pacer.due(core::MonoTime(200s), lister, 0, lastReadAt),
            std::vector<std::string>{"ns/b0"});
  EXPECT_EQ(pacer.skippedFresh(), 1u);
}

TEST(ResyncPacerTest, AKeyOnlyTheRoundReadsIsNeverSkipped) {
  // Its last read is the previous round's, a whole round length before its turn.
  ResyncPacer pacer({300s, 0}, core::MonoTime(0s));
  const auto all = keys(100);
  std::map<std::string, core::MonoTime> lastRead;
  std::map<std::string, int> handedOut;
  const auto lastReadAt = lastReadIn(lastRead);
  for (auto t = 1s; t <= 300s + 3 * 300s - 1s; t += 1s) {
    const core::MonoTime now(t);
    for (const auto& key : pacer.due(
             now, [&] { return all; }, 0, lastReadAt)) {
      lastRead[key] = now;
      ++handedOut[key];
    }
  }
  EXPECT_EQ(pacer.skippedFresh(), 0u);
  ASSERT_EQ(handedOut.size(), all.size());
  for (const auto& [key, count] : handedOut) EXPECT_EQ(count, 3) << key;
}

// The cold start of 5,000 bindings as bench/scale saw it at 9801d4a (2026-12-05, AWS-like
// quotas): the writes took the first 1,250 s (4/s) and kept every worker busy, and each write
// queued a re-check of its group ten seconds later in the resync lane, which waited behind
// them. The round began at 300 s and paused while the lane was backlogged, until its pauses
// added up to a round length (1,250 s); then it went on at 4/s, handing out bindings that
// their re-check had just read. The lane took 5/s out and the round put 4/s back: 2,080 keys
// were still queued at 2,830 s. Now the round skips bindings read within half a round, so the
// lane drains at its budget.
TEST(ResyncPacerTest, AfterAColdStartTheRoundSkipsBindingsTheirReCheckJustRead) {
  constexpr int kBindings = 5000;
  constexpr double kLaneBudget = 5.0;
  constexpr double kRoundRate = kLaneBudget * kRoundShareOfResyncBudget;
  constexpr auto kRound = 1250s;  // 5,000 at 4/s
  constexpr auto kColdStartEnd = 1250s;
  constexpr auto kDrain = 1000s;  // 5,000 re-checks at 5/s
  constexpr auto kEnd = 8000s;
  const auto all = keys(kBindings);
  ResyncPacer pacer({300s, kRoundRate}, core::MonoTime(0s));
  WorkQueueCore queue(WorkQueueOptions{.resyncPerSecond = kLaneBudget});
  std::map<std::string, std::vector<std::chrono::nanoseconds>> reads;
  const auto lastReadAt = lastReadIn(reads);
  std::optional<std::chrono::nanoseconds> emptyAt;
  std::size_t reconciled = 0;
  for (auto t = 100ms; t <= kEnd; t += 100ms) {
    const core::MonoTime now(t);
    // The cold start: binding i read and written at i / 4 s, its re-check queued for 10 s later.
    while (reconciled < all.size() && t >= std::chrono::milliseconds(250 * reconciled)) {
      reads[all[reconciled]].push_back(t);
      queue.addAfter(all[reconciled], 10s, now, Priority::kResync);
      ++reconciled;
    }
    for (const auto& key : pacer.due(
             now, [&] { return all; }, queue.stats(now).resyncDepth, lastReadAt)) {
      queue.add(key, now, Priority::kResync);
    }
    if (t < kColdStartEnd) continue;     // the workers serve the cold start's writes
    while (auto key = queue.get(now)) {  // reconciles take no time here
      reads[*key].push_back(t);
      queue.done(*key, now);
    }
    if (!emptyAt && queue.stats(now).depth == 0 && queue.stats(now).waiting == 0) emptyAt = t;
  }
  ASSERT_EQ(pacer.roundLength(), kRound);
  ASSERT_TRUE(emptyAt.has_value()) << "the resync lane never emptied";
  EXPECT_LE(*emptyAt, kColdStartEnd + 10s + kDrain + 30s);
  // Every binding still read at least every three and a half round lengths, and in the last
  // one and a half.
  ASSERT_EQ(reads.size(), all.size());
  for (const auto& [key, times] : reads) {
    ASSERT_GE(times.size(), 4u) << key;
    for (std::size_t i = 1; i < times.size(); ++i) {
      EXPECT_LE(times[i] - times[i - 1], kRound / 2 + 3 * kRound + 1s) << key;
    }
    EXPECT_LE(kEnd - times.back(), kRound + kRound / 2 + 1s) << key;
  }
}

// Whatever the reads, the backlog, the keys and the queue's delay before a handed-out key is
// read: exactly the due keys read within half a round are skipped, and no key goes unread for
// longer than half a round plus the gap between two of its turns plus the queue's delay. Turns
// are three round lengths apart at most with a fixed set of keys (pauses included), four when
// keys are added before it (its turn moves later by up to a round).
TEST(ResyncPacerTest, PropertyOnlyFreshKeysAreSkippedAndNoneGoesUnreadForLong) {
  for (unsigned seed = 1; seed <= 60; ++seed) {
    std::mt19937 random(seed);
    const bool keysChange = seed % 3 == 0;
    const int n = 1 + static_cast<int>(random() % 40);
    const double rate = (random() % 2) ? 0.0 : 0.05 + (random() % 100) / 100.0;
    const auto maxQueueDelay = std::chrono::seconds(random() % 30);
    ResyncPacer pacer({100s, rate}, core::MonoTime(0s));
    auto all = keys(n);
    std::map<std::string, std::vector<std::chrono::nanoseconds>> reads;
    for (const auto& key : all) reads[key].push_back(0s);         // everything reconciled at start
    std::multimap<std::chrono::nanoseconds, std::string> queued;  // handed out, read then
    std::vector<std::string> asked;
    std::set<std::string> removed;
    const auto lastReadAt = [&, readsLookup = lastReadIn(reads)](const std::string& key) {
      asked.push_back(key);
      return readsLookup(key);
    };
    std::size_t backlog = 0;
    std::chrono::nanoseconds longestRound = 100s;
    constexpr auto kEnd = 4000s;
    for (auto t = 1s; t <= kEnd; t += 1s) {
      const core::MonoTime now(t);
      while (!queued.empty() && queued.begin()->first <= t) {
        reads[queued.begin()->second].push_back(t);
        queued.erase(queued.begin());
      }
      if (random() % 50 == 0) backlog = (random() % 3 == 0) ? 1000 : 0;       // spells of backlog
      if (random() % 4 == 0) reads[all[random() % all.size()]].push_back(t);  // a write's read
      if (keysChange && random() % 100 == 0) {       // a binding added (its first read) or removed
        if (random() % 2 == 0 || all.size() == 1) {  // sorted before or after the others
          all.push_back((random() % 2 ? "ns/a" : "ns/z") + std::to_string(t.count()));
          reads[all.back()].push_back(t);
        } else {
          const auto gone = all.begin() + static_cast<long>(random() % all.size());
          removed.insert(*gone);
          all.erase(gone);
        }
        std::sort(all.begin(), all.end());
      }
      std::map<std::string, std::chrono::nanoseconds> readBefore;
      for (const auto& [key, times] : reads) readBefore[key] = times.back();
      const auto skippedBefore = pacer.skippedFresh();
      const auto window = pacer.freshReadWindow();
      asked.clear();
      const auto handed = pacer.due(
          now, [&] { return all; }, backlog, lastReadAt);
      // The window may change in this call when a round begins with another length.
      const auto windowAfter = pacer.freshReadWindow();
      ASSERT_GE(asked.size(), handed.size());
      EXPECT_EQ(pacer.skippedFresh() - skippedBefore, asked.size() - handed.size());
      std::size_t h = 0;
      for (const auto& key : asked) {
        const auto age = t - readBefore.at(key);
        if (h < handed.size() && handed[h] == key) {
          EXPECT_GE(age, std::min(window, windowAfter)) << "seed " << seed << " " << key;
          ++h;
        } else {
          EXPECT_LT(age, std::max(window, windowAfter)) << "seed " << seed << " " << key;
        }
      }
      EXPECT_EQ(h, handed.size()) << "handed out in the order asked";
      for (const auto& key : handed) {
        queued.emplace(t + std::chrono::seconds(random() % (maxQueueDelay.count() + 1)), key);
      }
      longestRound = std::max(longestRound, pacer.roundLength());
    }
    const auto bound = longestRound / 2 + (keysChange ? 4 : 3) * longestRound + maxQueueDelay + 2s;
    for (const auto& [key, times] : reads) {
      if (removed.contains(key)) continue;
      for (std::size_t i = 1; i < times.size(); ++i) {
        ASSERT_LE(times[i] - times[i - 1], bound) << "seed " << seed << " " << key;
      }
      ASSERT_LE(kEnd - times.back(), bound) << "seed " << seed << " " << key;
    }
  }
}

}  // namespace
}  // namespace endpointbinder::runtime
