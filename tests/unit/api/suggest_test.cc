// "Did you mean" suggestions.
#include "api/suggest.h"

#include <gtest/gtest.h>

namespace endpointbinder::api {
namespace {

TEST(EditDistance, CountsInsertionsDeletionsAndSubstitutions) {
  EXPECT_EQ(editDistance("", ""), 0u);
  EXPECT_EQ(editDistance("abc", ""), 3u);
  EXPECT_EQ(editDistance("", "abc"), 3u);
  EXPECT_EQ(editDistance("polcy", "policy"), 1u);
  EXPECT_EQ(editDistance("kitten", "sitting"), 3u);
  EXPECT_EQ(editDistance("sepc", "spec"), 2u);
  EXPECT_EQ(editDistance("targetGroupArn", "targetGroupARN"), 0u);  // case-insensitive
}

TEST(ClosestMatch, SuggestsPlausibleTyposOnly) {
  const std::vector<std::string_view> fields = {"targetGroupARN", "targetType", "port",
                                                "source",         "policy",     "notifications"};
  EXPECT_EQ(closestMatch("polcy", fields), "policy");
  EXPECT_EQ(closestMatch("targetGroupArn", fields), "targetGroupARN");
  EXPECT_EQ(closestMatch("sorce", fields), "source");
  EXPECT_EQ(closestMatch("notification", fields), "notifications");
  EXPECT_EQ(closestMatch("replicas", fields), std::nullopt);
  EXPECT_EQ(closestMatch("x", fields), std::nullopt);
  EXPECT_EQ(closestMatch("port", fields), std::nullopt);  // exact: nothing to suggest
  EXPECT_EQ(closestMatch("runing", {"pending", "running", "stopped"}), "running");
  // Short candidates need a closer match than their own length.
  EXPECT_EQ(closestMatch("no", {"on"}), std::nullopt);
  EXPECT_EQ(closestMatch("A", {"ip", "AAAA"}), std::nullopt);
}

}  // namespace
}  // namespace endpointbinder::api
