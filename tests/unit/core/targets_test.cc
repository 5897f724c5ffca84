// Tests for target identity and ELBv2 target states.
#include "controller/core/targets.h"

#include <gtest/gtest.h>

#include <string>

namespace endpointbinder::core {
namespace {

TEST(TargetKey, IsIdColonPort) {
  EXPECT_EQ((Target{"10.0.1.5", 443, std::nullopt}.key()), "10.0.1.5:443");
  EXPECT_EQ((Target{"i-0123456789abcdef0", 8080, std::nullopt}.key()), "i-0123456789abcdef0:8080");
  EXPECT_EQ((Target{"fd00::1", 80, std::nullopt}.key()), "fd00::1:80");
}

TEST(TargetKey, IgnoresAvailabilityZone) {
  EXPECT_EQ((Target{"10.0.1.5", 443, "all"}.key()), (Target{"10.0.1.5", 443, std::nullopt}.key()));
}

TEST(TargetKey, CanonicalisesIpSpelling) {
  EXPECT_EQ((Target{"FD00:0:0::01", 443, std::nullopt}.key()), "fd00::1:443");
  EXPECT_EQ((Target{"2001:DB8:0:0:0:0:0:1", 1, std::nullopt}.key()), "2001:db8::1:1");
}

TEST(TargetKey, LeavesNonIpIdsAsGiven) {
  // Not IPs (leading zeros, instance ids, ARNs): used verbatim, case included.
  EXPECT_EQ((Target{"010.0.0.1", 1, std::nullopt}.key()), "010.0.0.1:1");
  EXPECT_EQ((Target{"I-ABC", 1, std::nullopt}.key()), "I-ABC:1");
  EXPECT_NE((Target{"i-abc", 1, std::nullopt}.key()), (Target{"I-ABC", 1, std::nullopt}.key()));
}

TEST(TargetKey, PortDistinguishes) {
  EXPECT_NE((Target{"10.0.0.1", 80, std::nullopt}.key()),
            (Target{"10.0.0.1", 443, std::nullopt}.key()));
}

struct StateCase {
  const char* aws;
  TargetState state;
  bool registered;
};

class TargetStates : public testing::TestWithParam<StateCase> {};

TEST_P(TargetStates, ParseNameAndRegistered) {
  const auto& c = GetParam();
  EXPECT_EQ(parseTargetState(c.aws), c.state);
  EXPECT_STREQ(targetStateName(c.state), c.aws);
  EXPECT_EQ(isRegistered(c.state), c.registered);
}

INSTANTIATE_TEST_SUITE_P(Table, TargetStates,
                         testing::Values(StateCase{"initial", TargetState::kInitial, true},
                                         StateCase{"healthy", TargetState::kHealthy, true},
                                         StateCase{"unhealthy", TargetState::kUnhealthy, true},
                                         StateCase{"unhealthy.draining",
                                                   TargetState::kUnhealthyDraining, false},
                                         StateCase{"unused", TargetState::kUnused, false},
                                         StateCase{"draining", TargetState::kDraining, false},
                                         StateCase{"unavailable", TargetState::kUnavailable, true},
                                         StateCase{"unknown", TargetState::kUnknown, true}));

TEST(ParseTargetState, UnknownTextIsUnknown) {
  EXPECT_EQ(parseTargetState(""), TargetState::kUnknown);
  EXPECT_EQ(parseTargetState("Healthy"), TargetState::kUnknown);  // AWS spelling is lowercase
  EXPECT_EQ(parseTargetState("healthy "), TargetState::kUnknown);
  EXPECT_EQ(parseTargetState("rebooting"), TargetState::kUnknown);
}

ObservedTarget observed(TargetState state, std::string reason) {
  return ObservedTarget{Target{"10.0.0.1", 443, std::nullopt}, state, std::move(reason), ""};
}

TEST(IsRegisteredObserved, UnusedDependsOnReason) {
  EXPECT_FALSE(isRegistered(observed(TargetState::kUnused, "Target.NotRegistered")));
  EXPECT_FALSE(isRegistered(observed(TargetState::kUnused, "")));
  // In the group, just not receiving traffic: registering again would change nothing.
  EXPECT_TRUE(isRegistered(observed(TargetState::kUnused, "Target.NotInUse")));
  EXPECT_TRUE(isRegistered(observed(TargetState::kUnused, "Target.InvalidState")));
  EXPECT_TRUE(isRegistered(observed(TargetState::kUnused, "Target.IpUnusable")));
}

TEST(IsRegisteredObserved, OtherStatesFollowTheState) {
  EXPECT_FALSE(isRegistered(observed(TargetState::kDraining, "Target.DeregistrationInProgress")));
  EXPECT_FALSE(isRegistered(observed(TargetState::kUnhealthyDraining, "")));
  EXPECT_TRUE(isRegistered(observed(TargetState::kHealthy, "")));
  EXPECT_TRUE(isRegistered(observed(TargetState::kInitial, "Elb.RegistrationInProgress")));
  EXPECT_TRUE(isRegistered(observed(TargetState::kUnhealthy, "Target.Timeout")));
  EXPECT_TRUE(isRegistered(observed(TargetState::kUnavailable, "Target.HealthCheckDisabled")));
  EXPECT_TRUE(isRegistered(observed(TargetState::kUnknown, "")));
}

}  // namespace
}  // namespace endpointbinder::core
