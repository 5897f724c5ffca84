// Tests for ListingHistory: departures count from the first listing without an id, come back
// when it is listed again, and are forgotten after the retention.
#include "controller/core/listing_history.h"

#include <gtest/gtest.h>

namespace endpointbinder::core {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

const MonoTime kT0 = MonoTime{} + hours(10);

TEST(ListingHistory, FirstListingIsAChange) {
  ListingHistory h;
  EXPECT_FALSE(h.hasListing());
  EXPECT_TRUE(h.record({"b", "a", "a"}, kT0));
  EXPECT_TRUE(h.hasListing());
  EXPECT_EQ(h.ids(), (std::vector<std::string>{"a", "b"})) << "sorted, no duplicates";
  EXPECT_EQ(h.lastSuccess(), kT0);
  EXPECT_TRUE(h.departed().empty());
}

TEST(ListingHistory, EmptyFirstListingIsAChangeToo) {
  ListingHistory h;
  EXPECT_TRUE(h.record({}, kT0));
  EXPECT_TRUE(h.hasListing());
  EXPECT_FALSE(h.record({}, kT0 + seconds(60)));
}

TEST(ListingHistory, DepartureCountsFromTheFirstListingWithoutIt) {
  ListingHistory h;
  h.record({"a", "b"}, kT0);
  EXPECT_FALSE(h.record({"b", "a"}, kT0 + seconds(60))) << "same set, other order";
  EXPECT_TRUE(h.record({"a"}, kT0 + seconds(120)));
  EXPECT_FALSE(h.record({"a"}, kT0 + seconds(180)));
  ASSERT_EQ(h.departed().size(), 1u);
  EXPECT_EQ(h.departed().at("b"), kT0 + seconds(120)) << "not moved by later listings";
  EXPECT_EQ(h.lastSuccess(), kT0 + seconds(180));
}

TEST(ListingHistory, ListedAgainIsNoLongerDeparted) {
  ListingHistory h;
  h.record({"a", "b"}, kT0);
  h.record({"a"}, kT0 + seconds(60));
  h.record({"a", "b"}, kT0 + seconds(120));
  EXPECT_TRUE(h.departed().empty());
  h.record({"a"}, kT0 + seconds(180));
  EXPECT_EQ(h.departed().at("b"), kT0 + seconds(180)) << "a second departure counts afresh";
}

TEST(ListingHistory, DeparturesAreForgottenAfterTheRetention) {
  ListingHistory h(minutes(10));
  h.record({"a", "b"}, kT0);
  h.record({"a"}, kT0 + minutes(1));
  h.record({"a"}, kT0 + minutes(11));
  EXPECT_TRUE(h.departed().contains("b")) << "exactly the retention: kept";
  h.record({"a"}, kT0 + minutes(11) + seconds(1));
  EXPECT_TRUE(h.departed().empty());
}

}  // namespace
}  // namespace endpointbinder::core
