#include "controller/runtime/resync_pacer.h"

#include <algorithm>
#include <cstdint>

namespace endpointbinder::runtime {

ResyncPacer::ResyncPacer(Options options, core::MonoTime start)
    : options_(options), nextRoundAt_(start + options.period), roundLength_(options.period) {}

core::MonoTime ResyncPacer::dueTime(std::size_t index) const {
  // Exact integer arithmetic: key i is due at the same offset in every round of one length.
  const auto offset = static_cast<__int128>(roundLength_.count()) * static_cast<__int128>(index) /
                      static_cast<__int128>(round_.size());
  return roundStart_ + std::chrono::nanoseconds(static_cast<std::int64_t>(offset));
}

std::optional<std::size_t> ResyncPacer::backlogLimit() const {
  if (options_.maxPerSecond <= 0) return std::nullopt;
  const double keys =
      options_.maxPerSecond * std::chrono::duration<double>(kBacklogSeconds).count();
  return std::max<std::size_t>(1, static_cast<std::size_t>(std::min(keys, 1e9)));
}

std::vector<std::string> ResyncPacer::due(core::MonoTime now,
                                          const std::function<std::vector<std::string>()>& listKeys,
                                          std::size_t resyncBacklog,
                                          const LastReadLookup& lastReadAt) {
  std::vector<std::string> out;
  if (const auto limit = backlogLimit();
      limit && resyncBacklog > *limit && pausedThisRound_ < roundLength_) {
    // Paused: the next key (or the next round's start) stays due now, so the round resumes
    // where it stopped, spread. Each slide is clamped to what is left of the round's pause,
    // so the cap holds exactly; once it is used up, the round goes on below.
    const auto left = roundLength_ - pausedThisRound_;
    if (inRound_ && next_ < round_.size() && dueTime(next_) < now) {
      const auto slide = std::min<std::chrono::nanoseconds>(now - dueTime(next_), left);
      roundStart_ += slide;
      pausedThisRound_ += slide;
    } else if (!inRound_ && nextRoundAt_ < now) {
      const auto slide = std::min<std::chrono::nanoseconds>(now - nextRoundAt_, left);
      nextRoundAt_ += slide;
      pausedThisRound_ += slide;
    }
    if (pausedThisRound_ < roundLength_) return out;
  }
  // Twice at most: the round that ends in this call, and the one that begins right after it.
  for (int pass = 0; pass < 2; ++pass) {
    if (!inRound_) {
      if (now < nextRoundAt_) break;
      beginRound(listKeys());
    }
    // Late by more than kMaxLag (a stalled tick thread, a suspended process): shift the rest of
    // the round to start now, so it stays spread instead of coming out in one burst.
    if (next_ < round_.size() && now - dueTime(next_) > kMaxLag) {
      roundStart_ += now - dueTime(next_);
    }
    while (next_ < round_.size() && dueTime(next_) <= now) {
      auto& key = round_[next_++];
      if (lastReadAt) {
        if (const auto readAt = lastReadAt(key); readAt && now - *readAt < freshReadWindow()) {
          ++skippedFresh_;
          continue;
        }
      }
      out.push_back(std::move(key));
    }
    if (next_ < round_.size()) break;
    inRound_ = false;
    pausedThisRound_ = std::chrono::nanoseconds::zero();
    nextRoundAt_ = roundStart_ + roundLength_;
    round_ = {};
  }
  return out;
}

void ResyncPacer::beginRound(std::vector<std::string> keys) {
  roundStart_ = nextRoundAt_;
  round_ = std::move(keys);
  next_ = 0;
  roundSize_ = round_.size();
  roundLength_ = options_.period;
  if (options_.maxPerSecond > 0) {
    // Capped, so that an absurdly small rate cannot overflow the clock arithmetic.
    const double needed = std::min(static_cast<double>(round_.size()) / options_.maxPerSecond,
                                   std::chrono::duration<double>(kMaxRoundLength).count());
    roundLength_ = std::max<std::chrono::nanoseconds>(
        roundLength_, std::chrono::duration_cast<std::chrono::nanoseconds>(
                          std::chrono::duration<double>(needed)));
  }
  inRound_ = true;
}

}  // namespace endpointbinder::runtime
