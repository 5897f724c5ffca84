// ResyncPacer: when each binding's periodic re-check (one DescribeTargetHealth) falls due.
//
// Queueing every binding at once each resync period makes a burst that the read quota drains
// for minutes at thousands of bindings, and that a DNS change then waits behind. Instead each
// round lists the bindings once and hands them out evenly over the round: binding i of N is due
// at roundStart + length * i / N. A round lasts the resync period, or longer when the bindings
// outnumber what `maxPerSecond` allows in one period (length = N / maxPerSecond), so the resync
// never takes more than its share of the read quota; every binding is still re-checked once
// per round. Bindings added during a round join the next one (they were reconciled when added);
// removed ones are skipped by the caller. A binding's place in the round follows the key
// order, so when bindings are added before it its interval can grow towards two rounds once.
// A caller late by more than kMaxLag (a stalled thread, a suspended process) gets the rest of
// the round spread from then on, not handed out at once.
// Backpressure: while the work queue's resync lane holds more than kBacklogSeconds of keys at
// the round's rate, the round waits (its schedule slides). Those queued keys are reads at the
// lane's budget already: after a cold start, thousands of post-write re-checks. Handing out
// more keys at the same rate would keep the lane at that depth for ever (arrivals equal to
// service), so it would drain only as round keys happened to merge into queued ones; paused,
// it drains at the budget and the round goes on from where it stopped. The pauses of one
// round (and the delay of its start) add up to one round length at most: writes that keep the
// lane full cannot starve the bindings that never write of their re-check, each of which still
// comes at least once every three round lengths (the rest of its round paused, the next
// round's start delayed by its own pause).
// Fresh reads count: a key whose binding read its group from AWS less than half a round length
// before it falls due (its post-write re-check, the read before a write) is skipped this round.
// That read was the re-check; another would make the lane pay twice for the same binding, and
// after a cold start of thousands of writes the round would then refill the lane with just-read
// bindings at nearly the rate it drains (5,000 bindings: 1 key/s net, an hour). A skipped key
// is due again next round, so a group goes unread for half a round plus the gap between two of
// its turns at most: 1.5 round lengths when the bindings stay the same, up to 2.5 when bindings
// are added before it, 3.5 with backlog pauses, 4.5 with both (plus the time a handed-out key
// waits in the lane, long after a cold start). A binding only the round reads is read a round
// apart and not skipped, unless its last re-check waited in the lane over half a round or
// bindings before it went (its turn then comes early): then it is read every other round,
// within those bounds. Only the binding's own reads count (Reconciler::groupReadAt): one in
// Conflict never reads.
// Pure: time comes in as arguments. Thread-safety: none.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "controller/core/clock.h"

namespace endpointbinder::runtime {

// The share of the work queue's resync budget a round may take (ResyncPacer's maxPerSecond):
// the rest is room for post-write re-checks, so that the lane drains instead of standing at
// whatever depth it reached (a round at the whole budget is a queue with no slack).
inline constexpr double kRoundShareOfResyncBudget = 0.8;

class ResyncPacer {
 public:
  struct Options {
    std::chrono::nanoseconds period = std::chrono::minutes(5);
    double maxPerSecond = 0;  // re-checks per second at most; 0: no limit
  };

  static constexpr std::chrono::seconds kMaxLag{5};
  static constexpr std::chrono::hours kMaxRoundLength{24};
  static constexpr std::chrono::seconds kBacklogSeconds{2};

  // The first round begins one period after `start` (everything was just reconciled).
  ResyncPacer(Options options, core::MonoTime start);

  // When a key's binding last read its group from AWS; nullopt if not known (then it is
  // handed out).
  using LastReadLookup = std::function<std::optional<core::MonoTime>(const std::string&)>;

  // The keys due by `now`, in round order. `listKeys` is called when a round begins.
  // `resyncBacklog`: keys waiting in the work queue's resync lane now; above backlogLimit()
  // nothing is handed out and the round waits. `lastReadAt` (optional): a due key read less
  // than freshReadWindow() before `now` is skipped, not handed out.
  std::vector<std::string> due(core::MonoTime now,
                               const std::function<std::vector<std::string>()>& listKeys,
                               std::size_t resyncBacklog = 0,
                               const LastReadLookup& lastReadAt = nullptr);

  // Half the current round's length: a read younger than this stands in for the round's.
  std::chrono::nanoseconds freshReadWindow() const { return roundLength_ / 2; }
  // Due keys skipped so far because they had been read within freshReadWindow().
  std::uint64_t skippedFresh() const { return skippedFresh_; }

  // The resync-lane depth above which the round waits: kBacklogSeconds of keys at
  // maxPerSecond (at least one); none without a budget (the lane then drains at once).
  std::optional<std::size_t> backlogLimit() const;

  // The latest round's length (the period, or longer when stretched) and size.
  std::chrono::nanoseconds roundLength() const { return roundLength_; }
  std::size_t roundSize() const { return roundSize_; }

 private:
  void beginRound(std::vector<std::string> keys);
  core::MonoTime dueTime(std::size_t index) const;

  Options options_;
  bool inRound_ = false;
  core::MonoTime nextRoundAt_;  // when not in a round
  core::MonoTime roundStart_{};
  std::chrono::nanoseconds roundLength_;
  std::size_t roundSize_ = 0;
  std::vector<std::string> round_;
  std::size_t next_ = 0;  // first key of round_ not handed out yet
  // Paused so far in the current round, its start's delay included; at most roundLength_.
  std::chrono::nanoseconds pausedThisRound_{0};
  std::uint64_t skippedFresh_ = 0;
};

}  // namespace endpointbinder::runtime
