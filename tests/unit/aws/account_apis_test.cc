// roleSessionNameFor: the RoleSessionName of assumed roles, made of the --controller-id.
#include "controller/aws/account_apis.h"

#include <gtest/gtest.h>

#include <string>

namespace endpointbinder::aws {
namespace {

TEST(RoleSessionName, TheControllerIdWithWhatStsRefusesReplaced) {
  EXPECT_EQ(roleSessionNameFor("endpoint-binder"), "endpoint-binder");
  EXPECT_EQ(roleSessionNameFor("prod/eu-west-1"), "prod-eu-west-1");
  EXPECT_EQ(roleSessionNameFor("a_b+c=d,e.f@g-h"), "a_b+c=d,e.f@g-h");  // IAM's name characters
  EXPECT_EQ(roleSessionNameFor("team:blue"), "team-blue");
  EXPECT_EQ(roleSessionNameFor(std::string(70, 'x')), std::string(64, 'x'));  // STS: at most 64
  EXPECT_EQ(roleSessionNameFor("x"), "endpoint-binder");                      // and at least 2
}

}  // namespace
}  // namespace endpointbinder::aws
