// ObservedCache: when a target group is read from AWS and when the cached read is served,
// driven by a ManualClock and a counting in-memory TargetGroupApi.
#include "controller/runtime/observed_cache.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

namespace endpointbinder::runtime {
namespace {

using namespace std::chrono_literals;

const std::string kArn = "arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup/a/1";

// Only DescribeTargetHealth is used by the cache; the rest must never be called.
class CountingApi final : public aws::TargetGroupApi {
 public:
  core::Result<std::vector<aws::TargetGroupInfo>> describeTargetGroups(
      const std::vector<std::string>&) override {
    ADD_FAILURE() << "unexpected DescribeTargetGroups";
    return std::vector<aws::TargetGroupInfo>{};
  }
  core::Result<std::vector<core::ObservedTarget>> describeTargetHealth(
      const std::string& arn) override {
    ++reads;
    if (failNext) {
      failNext = false;
      core::Error error;
      error.kind = core::ErrorKind::kRetryable;
      error.code = "Throttling";
      error.message = "Rate exceeded";
      return std::unexpected(error);
    }
    return groups[arn];
  }
  core::Result<void> registerTargets(const std::string&,
                                     const std::vector<core::Target>&) override {
    ADD_FAILURE() << "unexpected RegisterTargets";
    return {};
  }
  core::Result<void> deregisterTargets(const std::string&,
                                       const std::vector<core::Target>&) override {
    ADD_FAILURE() << "unexpected DeregisterTargets";
    return {};
  }
  core::Result<std::map<std::string, aws::Tags>> describeTags(
      const std::vector<std::string>&) override {
    ADD_FAILURE() << "unexpected DescribeTags";
    return std::map<std::string, aws::Tags>{};
  }
  core::Result<void> removeTags(const std::string&, const std::vector<std::string>&) override {
    return {};
  }
  core::Result<void> addTags(const std::string&, const aws::Tags&) override {
    ADD_FAILURE() << "unexpected AddTags";
    return {};
  }

  int reads = 0;
  bool failNext = false;
  std::map<std::string, std::vector<core::ObservedTarget>> groups;
};

core::Target ip(const std::string& address) { return core::Target{address, 443, std::nullopt}; }

class ObservedCacheTest : public ::testing::Test {
 protected:
  ObservedCacheTest() : cache_(clock_, ObservedCache::Options{5min, 2min}) {
    api_.groups[kArn] = {core::ObservedTarget{ip("10.0.0.1"), core::TargetState::kHealthy, "", ""}};
  }

  CountingApi api_;
  core::ManualClock clock_;
  ObservedCache cache_;
};

TEST_F(ObservedCacheTest, ServesTheCachedReadUntilItIsOlderThanMaxAge) {
  auto first = cache_.targets(api_, kArn);
  ASSERT_TRUE(first.has_value());
  EXPECT_FALSE(first->fromCache);
  EXPECT_EQ(api_.reads, 1);

  clock_.advance(4min);
  auto cached = cache_.targets(api_, kArn);
  ASSERT_TRUE(cached.has_value());
  EXPECT_TRUE(cached->fromCache);
  EXPECT_EQ(cached->targets.size(), 1u);
  EXPECT_EQ(api_.reads, 1);

  clock_.advance(1min);
  EXPECT_FALSE(cache_.targets(api_, kArn)->fromCache);
  EXPECT_EQ(api_.reads, 2);
  EXPECT_TRUE(cache_.targets(api_, kArn, /*forceRefresh=*/false, 10s)->fromCache);
  EXPECT_FALSE(cache_.targets(api_, kArn, /*forceRefresh=*/true)->fromCache);
  EXPECT_EQ(api_.reads, 3);
}

// The resync expires each group's read as it re-checks it, so a group read late in one resync
// round and early in the next (its cached read younger than the period) is still read once per
// round. Without it the scale benchmark saw 0 DescribeTargetHealth per binding-hour: drift would
// never be seen.
TEST_F(ObservedCacheTest, ExpireMakesTheGroupsReadStaleOnce) {
  clock_.advance(20s);  // read late in round one
  ASSERT_TRUE(cache_.targets(api_, kArn).has_value());
  clock_.advance(5min - 20s);  // round two reaches this group early
  cache_.expire(kArn);
  clock_.advance(1s);
  EXPECT_FALSE(cache_.targets(api_, kArn)->fromCache);
  EXPECT_EQ(api_.reads, 2);
  EXPECT_TRUE(cache_.targets(api_, kArn)->fromCache) << "one read per round, not one per reconcile";
  EXPECT_EQ(api_.reads, 2);
}

TEST_F(ObservedCacheTest, AFailedReadReturnsTheErrorAndKeepsThePreviousSnapshot) {
  ASSERT_TRUE(cache_.targets(api_, kArn).has_value());
  api_.failNext = true;
  auto failed = cache_.targets(api_, kArn, /*forceRefresh=*/true);
  ASSERT_FALSE(failed.has_value());
  EXPECT_EQ(failed.error().code, "Throttling");
  auto kept = cache_.targets(api_, kArn);
  ASSERT_TRUE(kept.has_value());
  EXPECT_TRUE(kept->fromCache);
  EXPECT_EQ(kept->targets.size(), 1u);
}

TEST_F(ObservedCacheTest, ExpectationsPatchTheSnapshotUntilAwsShowsTheWrite) {
  ASSERT_TRUE(cache_.targets(api_, kArn).has_value());
  cache_.expectRegistered(kArn, {ip("10.0.0.2")});
  cache_.expectDeregistered(kArn, {ip("10.0.0.1")});
  auto patched = cache_.targets(api_, kArn, /*forceRefresh=*/true);  // AWS does not show them yet
  ASSERT_TRUE(patched.has_value());
  ASSERT_EQ(patched->targets.size(), 2u);
  EXPECT_EQ(patched->pendingExpectations, 2u);
  for (const auto& observed : patched->targets) {
    const auto expected = observed.target.id == "10.0.0.1" ? core::TargetState::kDraining
                                                           : core::TargetState::kInitial;
    EXPECT_EQ(observed.state, expected) << observed.target.id;
  }
  cache_.expire(kArn);  // expiring the read keeps expectations
  clock_.advance(1s);
  EXPECT_EQ(cache_.targets(api_, kArn)->pendingExpectations, 2u);
}

}  // namespace
}  // namespace endpointbinder::runtime
