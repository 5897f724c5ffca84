// ObservedCache: the controller's picture of each target group, read with one
// DescribeTargetHealth per resync instead of one per reconcile.
//
// A snapshot is re-read when it is older than `maxAge` (the resync period), when it was
// expire()d since (the resync expires each group as it re-checks its binding, so a group is
// read at its binding's turn in every resync round whatever the phase of its other reconciles,
// unless the binding read it less than half a round before: resync_pacer.h), or when the caller is
// about to write (forceRefresh). After our own RegisterTargets/DeregisterTargets the cache
// records *expectations* (controller-runtime style): until AWS shows the change, or the
// expectation times out, the snapshot is patched as if it had — a registered target appears
// as `initial`, a deregistered one as `draining` — so eventual consistency never makes the
// planner repeat a write.
// Thread-safety: all methods are safe to call concurrently; reads of one target group are
// serialised by the caller (one reconcile per binding, one binding per target group).
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "controller/aws/elbv2.h"
#include "controller/core/clock.h"
#include "controller/core/error.h"
#include "controller/core/targets.h"

namespace endpointbinder::runtime {

class ObservedCache {
 public:
  struct Options {
    std::chrono::nanoseconds maxAge = std::chrono::minutes(5);
    std::chrono::nanoseconds expectationTimeout = std::chrono::minutes(2);
  };

  struct Snapshot {
    std::vector<core::ObservedTarget> targets;  // expectations applied
    core::MonoTime readAt{};                    // when AWS was last asked
    bool fromCache = false;                     // true when no AWS call was made
    size_t pendingExpectations = 0;
  };

  ObservedCache(const core::Clock& clock, Options options);

  // The group's targets, read through `api` (the binding's: its assumed role's for a group of
  // another account). Calls DescribeTargetHealth only when the cached read is older than
  // `maxAge` (default: options.maxAge), absent, or forceRefresh is set. On an AWS error the
  // error is returned and the previous snapshot is kept (callers must not plan removals from
  // a failed read).
  core::Result<Snapshot> targets(aws::TargetGroupApi& api, const std::string& arn,
                                 bool forceRefresh = false,
                                 std::optional<std::chrono::nanoseconds> maxAge = std::nullopt);

  // Records writes we just made so the next snapshots reflect them before AWS does.
  void expectRegistered(const std::string& arn, const std::vector<core::Target>& targets);
  void expectDeregistered(const std::string& arn, const std::vector<core::Target>& targets);

  // Drops the cached read (next targets() call goes to AWS) or everything about the group.
  void invalidate(const std::string& arn);
  // Makes the group's cached read stale: the next targets() call goes to AWS, and until it
  // succeeds the previous snapshot and the expectations are kept.
  void expire(const std::string& arn);
  void forget(const std::string& arn);

 private:
  struct Expectation {
    core::Target target;
    bool registered = true;  // false: expected gone/draining
    core::MonoTime deadline{};
  };
  struct Entry {
    std::optional<std::vector<core::ObservedTarget>> raw;  // as AWS last said
    core::MonoTime readAt{};
    bool expired = false;                             // expire()d since readAt
    std::map<std::string, Expectation> expectations;  // by target key
  };

  Snapshot patched(Entry& entry, core::MonoTime now) const;
  void settleExpectations(Entry& entry, core::MonoTime now);

  const core::Clock& clock_;
  Options options_;
  std::mutex mu_;
  std::map<std::string, Entry> entries_;
};

}  // namespace endpointbinder::runtime
