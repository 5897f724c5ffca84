// Tests for the target-group IP address type check made before calling AWS.
#include "controller/core/address_family.h"

#include <gtest/gtest.h>

namespace endpointbinder::core {
namespace {

TEST(AddressFamilyAccepted, Ipv4GroupTakesOnlyIpv4) {
  EXPECT_TRUE(addressFamilyAccepted("ipv4", "10.0.1.5"));
  EXPECT_FALSE(addressFamilyAccepted("ipv4", "fd00::1"));
  EXPECT_FALSE(addressFamilyAccepted("ipv4", "2600:1f18:4000:a800::10"));
  EXPECT_FALSE(addressFamilyAccepted("ipv4", "::ffff:10.0.1.5"));  // IPv6 text, as AWS reads it
}

TEST(AddressFamilyAccepted, AbsentTypeIsAwsDefaultIpv4) {
  EXPECT_TRUE(addressFamilyAccepted("", "10.0.1.5"));
  EXPECT_FALSE(addressFamilyAccepted("", "fd00::1"));
}

TEST(AddressFamilyAccepted, Ipv6GroupTakesOnlyIpv6) {
  EXPECT_TRUE(addressFamilyAccepted("ipv6", "fd00::1"));
  EXPECT_TRUE(addressFamilyAccepted("ipv6", "FD00:0:0::01"));
  EXPECT_FALSE(addressFamilyAccepted("ipv6", "10.0.1.5"));
  EXPECT_TRUE(addressFamilyAccepted("IPv6", "fd00::1"));
  EXPECT_FALSE(addressFamilyAccepted("IPV6", "10.0.1.5"));
}

TEST(AddressFamilyAccepted, NonIpIdsAreLeftToAws) {
  for (const char* type : {"ipv4", "ipv6", ""}) {
    EXPECT_TRUE(addressFamilyAccepted(type, "i-0123456789abcdef0")) << type;
    EXPECT_TRUE(addressFamilyAccepted(type, "arn:aws:lambda:us-east-1:123456789012:function:f"))
        << type;
    EXPECT_TRUE(addressFamilyAccepted(type, "010.0.0.1")) << type;  // not an IP literal
  }
}

TEST(AddressFamilyAccepted, UnknownTypeLetsAwsDecide) {
  EXPECT_TRUE(addressFamilyAccepted("dualstack", "10.0.1.5"));
  EXPECT_TRUE(addressFamilyAccepted("dualstack", "fd00::1"));
}

}  // namespace
}  // namespace endpointbinder::core
