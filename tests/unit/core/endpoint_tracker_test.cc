// Tests for EndpointTracker: last-seen times, unhealthy-since times, source failures, restart
// safety and bounded memory.
#include "controller/core/endpoint_tracker.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <unordered_map>
#include <vector>

namespace endpointbinder::core {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

const MonoTime kT0 = MonoTime{} + hours(100);

Target ip(const std::string& address, int port = 443) {
  return Target{address, port, std::nullopt};
}

ObservedTarget inGroup(const Target& target, TargetState state = TargetState::kHealthy,
                       std::string reason = {}) {
  return ObservedTarget{target, state, std::move(reason), ""};
}

TEST(EndpointTracker, UnknownKeysHaveNoMemory) {
  EndpointTracker tracker;
  EXPECT_EQ(tracker.lastSeen("10.0.0.1:443"), std::nullopt);
  EXPECT_EQ(tracker.unhealthySince("10.0.0.1:443"), std::nullopt);
  EXPECT_FALSE(tracker.listedNow("10.0.0.1:443"));
  EXPECT_FALSE(tracker.sourceFailing());
  EXPECT_EQ(tracker.size(), 0u);
}

TEST(EndpointTracker, ListingSetsLastSeenAndListed) {
  EndpointTracker tracker;
  const auto a = ip("10.0.0.1");
  const auto b = ip("10.0.0.2");
  tracker.recordListing({a, b}, kT0);
  EXPECT_EQ(tracker.lastSeen(a.key()), kT0);
  EXPECT_TRUE(tracker.listedNow(a.key()));
  EXPECT_TRUE(tracker.listedNow(b.key()));

  tracker.recordListing({a}, kT0 + seconds(30));
  EXPECT_EQ(tracker.lastSeen(a.key()), kT0 + seconds(30));
  // Nothing told the tracker b was gone before this listing: it is absent from here on, not
  // from kT0 (the listing of kT0 may have been confirmed by many answers since).
  EXPECT_EQ(tracker.lastSeen(b.key()), kT0 + seconds(30)) << "absent from when it was known gone";
  EXPECT_TRUE(tracker.listedNow(a.key()));
  EXPECT_FALSE(tracker.listedNow(b.key()));
}

TEST(EndpointTracker, MarkAllSeenMovesEveryAbsenceToNowAndNeverBack) {
  // A binding in Conflict did not record its listings: claimed back, nothing remembered may
  // count as absent from before then.
  EndpointTracker tracker;
  const auto a = ip("10.0.0.1");
  const auto b = ip("10.0.0.2");
  const auto observedOnly = ip("10.0.0.3");
  tracker.recordListing({a, b}, kT0);
  tracker.recordListing({a}, kT0 + seconds(10));  // b absent from here
  tracker.recordObserved({inGroup(a), inGroup(b), inGroup(observedOnly)}, kT0 + seconds(10));
  tracker.markAllSeen(kT0 + minutes(10));
  for (const auto& t : {a, b, observedOnly}) {
    EXPECT_EQ(tracker.lastSeen(t.key()), kT0 + minutes(10)) << t.key();
  }
  EXPECT_TRUE(tracker.listedNow(a.key()));
  EXPECT_FALSE(tracker.listedNow(b.key())) << "seen is not listed";
  tracker.markAllSeen(kT0 + minutes(5));  // an earlier time moves nothing back
  EXPECT_EQ(tracker.lastSeen(b.key()), kT0 + minutes(10));
}

SourceListing listing(std::vector<Target> targets, MonoTime confirmedAt, std::string lineage,
                      std::unordered_map<std::string, MonoTime> departedAt = {}) {
  return SourceListing{std::move(targets), confirmedAt, std::move(lineage), std::move(departedAt),
                       ""};
}

TEST(EndpointTracker, SameLineageDepartureTimesCountFromTheSourcesAnswer) {
  EndpointTracker tracker;
  const auto a = ip("10.0.0.1");
  const auto b = ip("10.0.0.2");
  tracker.recordListing(listing({a, b}, kT0, "ns/web@g1"), kT0);
  // The source kept listing b until kT0 + 4 min (unchanged answers reach no reconcile), then
  // dropped it; the reconcile at kT0 + 5 min learns it from the source's departure time.
  tracker.recordListing(listing({a}, kT0 + minutes(5), "ns/web@g1", {{b.key(), kT0 + minutes(4)}}),
                        kT0 + minutes(5));
  EXPECT_EQ(tracker.lastSeen(b.key()), kT0 + minutes(4));
  EXPECT_FALSE(tracker.listedNow(b.key()));
  EXPECT_EQ(tracker.lineage(), "ns/web@g1");
}

TEST(EndpointTracker, AnotherLineageStartsAbsenceWhenTheListingReplacedIt) {
  // A spec edit (new generation) or a rename (new binding key) after a quiet hour: the old
  // listing was in force until now, whatever the new source says about its own past.
  EndpointTracker tracker;
  const auto a = ip("10.0.0.1");
  const auto b = ip("10.0.0.2");
  tracker.recordListing(listing({a, b}, kT0, "ns/web@g1"), kT0);
  const auto edit = kT0 + hours(1);
  tracker.recordListing(listing({a}, edit, "ns/web@g2", {{b.key(), kT0 + minutes(1)}}), edit);
  EXPECT_EQ(tracker.lastSeen(b.key()), edit) << "a departure of another lineage is not trusted";
  tracker.recordListing(listing({}, edit + minutes(1), "ns/renamed@g2"), edit + minutes(1));
  EXPECT_EQ(tracker.lastSeen(a.key()), edit + minutes(1));
}

TEST(EndpointTracker, AnOutageNeverAgesTheGraceOfATargetDroppedJustBeforeIt) {
  EndpointTracker tracker;
  const auto x = ip("10.0.0.1");
  const auto y = ip("10.0.0.2");
  tracker.recordListing(listing({x, y}, kT0, "l"), kT0);
  tracker.recordSourceFailure("SERVFAIL", kT0 + seconds(11), {x, y});
  const auto back = kT0 + minutes(30);
  tracker.recordListing(listing({y}, back, "l", {{x.key(), kT0 + seconds(10)}}), back);
  EXPECT_EQ(tracker.lastSeen(x.key()), back);
}

TEST(EndpointTracker, DepartureTimesNeverMoveLastSeenBack) {
  EndpointTracker tracker;
  const auto a = ip("10.0.0.1");
  tracker.recordListing(listing({a}, kT0 + minutes(3), "l"), kT0 + minutes(3));
  tracker.recordListing(listing({}, kT0 + minutes(4), "l", {{a.key(), kT0}}), kT0 + minutes(4));
  EXPECT_EQ(tracker.lastSeen(a.key()), kT0 + minutes(3));
}

TEST(EndpointTracker, RejectionsHoldUntilRetryOrANewLineage) {
  EndpointTracker tracker;
  const auto a = ip("10.0.0.1");
  tracker.recordListing(listing({a}, kT0, "l1"), kT0);
  tracker.recordRejected(a, "InvalidTarget: no", kT0 + minutes(5));
  EXPECT_EQ(tracker.rejection(a.key(), kT0 + minutes(1)), "InvalidTarget: no");
  EXPECT_EQ(tracker.rejection(a.key(), kT0 + minutes(5)), std::nullopt) << "retry is due";
  tracker.recordRejected(a, "InvalidTarget: no", kT0 + minutes(10));
  tracker.recordListing(listing({a}, kT0 + minutes(6), "l1"), kT0 + minutes(6));
  EXPECT_TRUE(tracker.rejection(a.key(), kT0 + minutes(6)).has_value());
  tracker.recordListing(listing({a}, kT0 + minutes(7), "l2"), kT0 + minutes(7));
  EXPECT_EQ(tracker.rejection(a.key(), kT0 + minutes(7)), std::nullopt) << "the spec changed";
}

TEST(EndpointTracker, DeregistrationWindowCountsRecentRemovals) {
  EndpointTracker tracker;
  tracker.recordDeregistered(3, kT0);
  tracker.recordDeregistered(2, kT0 + seconds(30));
  EXPECT_EQ(tracker.deregisteredWithin(minutes(1), kT0 + seconds(40)), 5u);
  EXPECT_EQ(tracker.windowFreesAt(minutes(1), kT0 + seconds(40)), kT0 + minutes(1));
  EXPECT_EQ(tracker.deregisteredWithin(minutes(1), kT0 + minutes(1)), 2u);
  EXPECT_EQ(tracker.deregisteredWithin(minutes(1), kT0 + minutes(2)), 0u);
  EXPECT_EQ(tracker.windowFreesAt(minutes(1), kT0 + minutes(2)), std::nullopt);
}

TEST(EndpointTracker, KeysAreCanonical) {
  EndpointTracker tracker;
  tracker.recordListing({ip("FD00:0::1")}, kT0);
  EXPECT_EQ(tracker.lastSeen("fd00::1:443"), kT0);
  EXPECT_TRUE(tracker.listedNow(ip("fd00::1").key()));
}

TEST(EndpointTracker, PortIsPartOfTheKey) {
  EndpointTracker tracker;
  tracker.recordListing({ip("10.0.0.1", 80)}, kT0);
  EXPECT_TRUE(tracker.listedNow("10.0.0.1:80"));
  EXPECT_FALSE(tracker.listedNow("10.0.0.1:443"));
}

TEST(EndpointTracker, RegisteredTargetNeverSeenStartsGraceWhenFirstObserved) {
  // Restart safety: the controller's memory is gone, the group still holds the target.
  EndpointTracker tracker;
  const auto old = ip("10.0.0.9");
  tracker.recordObserved({inGroup(old)}, kT0);
  EXPECT_EQ(tracker.lastSeen(old.key()), kT0);
  EXPECT_FALSE(tracker.listedNow(old.key()));
  tracker.recordObserved({inGroup(old)}, kT0 + minutes(2));
  EXPECT_EQ(tracker.lastSeen(old.key()), kT0) << "first observation only";
}

TEST(EndpointTracker, EverListedTellsListingsFromObservations) {
  EndpointTracker tracker;
  const auto listed = ip("10.0.0.1");
  const auto observedOnly = ip("10.0.0.2");
  tracker.recordListing({listed}, kT0);
  tracker.recordListing(std::vector<Target>{}, kT0 + seconds(5));
  tracker.recordObserved({inGroup(listed), inGroup(observedOnly)}, kT0 + seconds(5));
  EXPECT_TRUE(tracker.everListed(listed.key()));
  EXPECT_FALSE(tracker.listedNow(listed.key()));
  EXPECT_FALSE(tracker.everListed(observedOnly.key()));
  EXPECT_FALSE(tracker.everListed("10.9.9.9:443"));
}

TEST(EndpointTracker, ObservationDoesNotOverrideAListing) {
  EndpointTracker tracker;
  const auto a = ip("10.0.0.1");
  tracker.recordListing({a}, kT0);
  tracker.recordListing(std::vector<Target>{}, kT0 + seconds(10));
  tracker.recordObserved({inGroup(a)}, kT0 + minutes(5));
  EXPECT_EQ(tracker.lastSeen(a.key()), kT0 + seconds(10));
}

TEST(EndpointTracker, UnregisteredTargetsInTheGroupDoNotStartGrace) {
  EndpointTracker tracker;
  const auto draining = ip("10.0.0.3");
  const auto notRegistered = ip("10.0.0.4");
  const auto notInUse = ip("10.0.0.5");
  tracker.recordObserved({inGroup(draining, TargetState::kDraining),
                          inGroup(notRegistered, TargetState::kUnused, "Target.NotRegistered"),
                          inGroup(notInUse, TargetState::kUnused, "Target.NotInUse")},
                         kT0);
  EXPECT_EQ(tracker.lastSeen(draining.key()), std::nullopt);
  EXPECT_EQ(tracker.lastSeen(notRegistered.key()), std::nullopt);
  EXPECT_EQ(tracker.lastSeen(notInUse.key()), kT0) << "unused/NotInUse is registered";
  // Re-registered by someone else later: its grace starts then.
  tracker.recordObserved({inGroup(draining, TargetState::kInitial)}, kT0 + minutes(3));
  EXPECT_EQ(tracker.lastSeen(draining.key()), kT0 + minutes(3));
}

TEST(EndpointTracker, UnhealthySinceStartsAndClears) {
  EndpointTracker tracker;
  const auto a = ip("10.0.0.1");
  tracker.recordObserved({inGroup(a, TargetState::kHealthy)}, kT0);
  EXPECT_EQ(tracker.unhealthySince(a.key()), std::nullopt);
  tracker.recordObserved({inGroup(a, TargetState::kUnhealthy, "Target.Timeout")},
                         kT0 + seconds(10));
  EXPECT_EQ(tracker.unhealthySince(a.key()), kT0 + seconds(10));
  tracker.recordObserved({inGroup(a, TargetState::kUnhealthy)}, kT0 + seconds(20));
  EXPECT_EQ(tracker.unhealthySince(a.key()), kT0 + seconds(10)) << "continuous";
  tracker.recordObserved({inGroup(a, TargetState::kHealthy)}, kT0 + seconds(30));
  EXPECT_EQ(tracker.unhealthySince(a.key()), std::nullopt);
  tracker.recordObserved({inGroup(a, TargetState::kUnhealthy)}, kT0 + seconds(40));
  EXPECT_EQ(tracker.unhealthySince(a.key()), kT0 + seconds(40)) << "restarts after recovery";
  tracker.recordObserved({inGroup(a, TargetState::kInitial)}, kT0 + seconds(50));
  EXPECT_EQ(tracker.unhealthySince(a.key()), std::nullopt) << "any other state clears";
  tracker.recordObserved({inGroup(a, TargetState::kUnhealthy)}, kT0 + seconds(60));
  tracker.recordObserved({}, kT0 + seconds(70));
  EXPECT_EQ(tracker.unhealthySince(a.key()), std::nullopt) << "left the group";
}

TEST(EndpointTracker, OnlyStateUnhealthyCountsAsUnhealthy) {
  EndpointTracker tracker;
  const auto a = ip("10.0.0.1");
  for (auto state : {TargetState::kUnhealthyDraining, TargetState::kUnavailable,
                     TargetState::kUnknown, TargetState::kUnused, TargetState::kDraining}) {
    tracker.recordObserved({inGroup(a, state)}, kT0);
    EXPECT_EQ(tracker.unhealthySince(a.key()), std::nullopt) << targetStateName(state);
  }
}

TEST(EndpointTracker, DuplicateObservationsDoNotDependOnOrder) {
  const auto a = ip("10.0.0.1");
  for (bool unhealthyFirst : {true, false}) {
    EndpointTracker tracker;
    std::vector<ObservedTarget> group = {inGroup(a, TargetState::kUnhealthy),
                                         inGroup(a, TargetState::kHealthy)};
    if (!unhealthyFirst) std::swap(group[0], group[1]);
    tracker.recordObserved(group, kT0);
    EXPECT_EQ(tracker.unhealthySince(a.key()), kT0);
    EXPECT_EQ(tracker.lastSeen(a.key()), kT0);
  }
}

TEST(EndpointTracker, SourceFailureKeepsMemoryAndRecordsFirstFailure) {
  EndpointTracker tracker;
  const auto a = ip("10.0.0.1");
  tracker.recordListing({a}, kT0);
  tracker.recordSourceFailure("SERVFAIL", kT0 + seconds(5));
  tracker.recordSourceFailure("timeout", kT0 + seconds(65));
  EXPECT_TRUE(tracker.sourceFailing());
  EXPECT_EQ(tracker.sourceFailingSince(), kT0 + seconds(5));
  EXPECT_EQ(tracker.sourceFailureReason(), "timeout") << "latest reason";
  EXPECT_EQ(tracker.lastSeen(a.key()), kT0);
  EXPECT_TRUE(tracker.listedNow(a.key())) << "the last good listing stands";
}

TEST(EndpointTracker, RecoveryClearsFailure) {
  EndpointTracker tracker;
  tracker.recordSourceFailure("NXDOMAIN", kT0);
  tracker.recordListing({ip("10.0.0.1")}, kT0 + seconds(5));
  EXPECT_FALSE(tracker.sourceFailing());
  EXPECT_EQ(tracker.sourceFailingSince(), std::nullopt);
  EXPECT_EQ(tracker.sourceFailureReason(), "");
}

TEST(EndpointTracker, OutageDoesNotAgeTheGrace) {
  // b was listed when the source started failing; the outage says nothing about it, so its
  // absence starts at the first good answer that leaves it out. c was already absent: since
  // the listing of kT0 + 10 s dropped it.
  EndpointTracker tracker;
  const auto a = ip("10.0.0.1");
  const auto b = ip("10.0.0.2");
  const auto c = ip("10.0.0.3");
  tracker.recordListing({a, b, c}, kT0);
  tracker.recordListing({a, b}, kT0 + seconds(10));
  tracker.recordSourceFailure("SERVFAIL", kT0 + seconds(20));
  tracker.recordSourceFailure("SERVFAIL", kT0 + minutes(30));
  tracker.recordListing({a}, kT0 + minutes(40));
  EXPECT_EQ(tracker.lastSeen(a.key()), kT0 + minutes(40));
  EXPECT_EQ(tracker.lastSeen(b.key()), kT0 + minutes(40));
  // Absent from the listing that dropped it, not from the last one that had it (kT0).
  EXPECT_EQ(tracker.lastSeen(c.key()), kT0 + seconds(10));
  EXPECT_FALSE(tracker.listedNow(b.key()));

  // Without an outage the next listing does not touch absent targets; a, dropped now, is
  // absent from now.
  tracker.recordListing(std::vector<Target>{}, kT0 + minutes(41));
  EXPECT_EQ(tracker.lastSeen(b.key()), kT0 + minutes(40));
  EXPECT_EQ(tracker.lastSeen(a.key()), kT0 + minutes(41));
}

TEST(EndpointTracker, AFailureKeepsTheLastGoodListingSeenSoAnEarlierDepartureDoesNotCount) {
  // The runtime passes the last good answer with each failure: it stands in for the source,
  // so a departure the source reports from within the outage does not age the grace.
  EndpointTracker tracker;
  const auto a = ip("10.0.0.1");
  const auto b = ip("10.0.0.2");
  tracker.recordListing(listing({a, b}, kT0, "l"), kT0);
  tracker.recordSourceFailure("SERVFAIL", kT0 + minutes(1), {a, b});
  tracker.recordSourceFailure("SERVFAIL", kT0 + minutes(5), {a, b});
  EXPECT_EQ(tracker.lastSeen(b.key()), kT0 + minutes(5));
  tracker.recordListing(listing({a}, kT0 + minutes(6), "l", {{b.key(), kT0 + minutes(2)}}),
                        kT0 + minutes(6));
  // Dropped by the answer that ended the outage: absent from that answer, not before.
  EXPECT_EQ(tracker.lastSeen(b.key()), kT0 + minutes(6)) << "absent from the recovery";
  EXPECT_EQ(tracker.lastSeen(a.key()), kT0 + minutes(6));
  EXPECT_FALSE(tracker.sourceFailing());
}

TEST(EndpointTracker, SameLineageDepartureOfATargetListedBetweenReconciles) {
  // b was dropped by one listing, listed again by answers no reconcile saw, and dropped again
  // at kT0 + 4 min: the source's departure time moves its absence forward.
  EndpointTracker tracker;
  const auto a = ip("10.0.0.1");
  const auto b = ip("10.0.0.2");
  tracker.recordListing(listing({a, b}, kT0, "l"), kT0);
  tracker.recordListing(listing({a}, kT0 + minutes(1), "l"), kT0 + minutes(1));
  EXPECT_EQ(tracker.lastSeen(b.key()), kT0 + minutes(1));
  tracker.recordListing(listing({a}, kT0 + minutes(5), "l", {{b.key(), kT0 + minutes(4)}}),
                        kT0 + minutes(5));
  EXPECT_EQ(tracker.lastSeen(b.key()), kT0 + minutes(4));
  // Another lineage's departures never move it.
  tracker.recordListing(listing({a}, kT0 + minutes(9), "l2", {{b.key(), kT0 + minutes(8)}}),
                        kT0 + minutes(9));
  EXPECT_EQ(tracker.lastSeen(b.key()), kT0 + minutes(4));
}

TEST(EndpointTracker, TimeGoingBackwardsNeverMovesLastSeenBack) {
  EndpointTracker tracker;
  const auto a = ip("10.0.0.1");
  tracker.recordListing({a}, kT0 + minutes(5));
  tracker.recordListing({a}, kT0);
  EXPECT_EQ(tracker.lastSeen(a.key()), kT0 + minutes(5));
}

TEST(EndpointTracker, ForgetsWhatIsNeitherListedNorInTheGroup) {
  EndpointTracker tracker(minutes(10));
  const auto listed = ip("10.0.0.1");
  const auto registered = ip("10.0.0.2");
  const auto gone = ip("10.0.0.3");
  tracker.recordListing({listed, gone}, kT0);
  tracker.recordObserved({inGroup(registered)}, kT0);
  // gone is absent (and last present) from the listing that dropped it, kT0 + 1 s.
  tracker.recordListing({listed}, kT0 + seconds(1));
  EXPECT_EQ(tracker.size(), 3u);

  tracker.recordObserved({inGroup(registered)}, kT0 + minutes(10) + seconds(1));
  EXPECT_EQ(tracker.lastSeen(gone.key()), kT0 + seconds(1))
      << "exactly forgetAfter: still remembered";
  tracker.recordObserved({inGroup(registered)}, kT0 + minutes(10) + seconds(2));
  EXPECT_EQ(tracker.lastSeen(gone.key()), std::nullopt) << "past forgetAfter: forgotten";
  EXPECT_EQ(tracker.size(), 2u);

  // Listed and in-group entries are kept however old their times are.
  tracker.recordObserved({inGroup(registered)}, kT0 + hours(50));
  EXPECT_EQ(tracker.lastSeen(registered.key()), kT0);
  EXPECT_TRUE(tracker.listedNow(listed.key()));
  EXPECT_EQ(tracker.lastSeen(listed.key()), kT0 + seconds(1));
}

TEST(EndpointTracker, ForgottenTargetThatReturnsStartsAFreshGrace) {
  EndpointTracker tracker(minutes(10));
  const auto a = ip("10.0.0.1");
  tracker.recordListing({a}, kT0);
  tracker.recordListing(std::vector<Target>{}, kT0 + seconds(1));
  tracker.recordObserved({}, kT0 + hours(2));
  EXPECT_EQ(tracker.size(), 0u);
  tracker.recordObserved({inGroup(a)}, kT0 + hours(3));
  EXPECT_EQ(tracker.lastSeen(a.key()), kT0 + hours(3));
}

TEST(EndpointTracker, ListingAloneAlsoForgets) {
  EndpointTracker tracker(minutes(1));
  tracker.recordListing({ip("10.0.0.1")}, kT0);
  tracker.recordListing({ip("10.0.0.2")}, kT0 + seconds(1));
  tracker.recordListing({ip("10.0.0.2")}, kT0 + minutes(2));
  EXPECT_EQ(tracker.size(), 1u);
  EXPECT_EQ(tracker.lastSeen("10.0.0.1:443"), std::nullopt);
}

TEST(EndpointTracker, MemoryStaysBoundedUnderChurn) {
  // A source that answers with 8 fresh addresses every 10 s for a day, and a group that holds
  // whatever was listed in the previous answer: memory must stay bounded by what was listed
  // or observed within forgetAfter, not grow with the 69,120 addresses ever seen.
  const auto forgetAfter = minutes(5);
  EndpointTracker tracker(forgetAfter);
  const int perAnswer = 8;
  const auto step = seconds(10);
  const int steps = 24 * 360;
  const auto bound = static_cast<size_t>(perAnswer * (forgetAfter / step + 3));
  std::vector<Target> previous;
  size_t maxSize = 0;
  for (int i = 0; i < steps; ++i) {
    std::vector<Target> listed;
    for (int j = 0; j < perAnswer; ++j) {
      const auto n = static_cast<uint32_t>(i * perAnswer + j);
      listed.push_back(ip("10." + std::to_string((n >> 16) & 0xFF) + "." +
                          std::to_string((n >> 8) & 0xFF) + "." + std::to_string(n & 0xFF)));
    }
    const MonoTime now = kT0 + step * i;
    tracker.recordListing(listed, now);
    std::vector<ObservedTarget> group;
    for (const auto& t : previous) group.push_back(inGroup(t));
    tracker.recordObserved(group, now);
    previous = listed;
    maxSize = std::max(maxSize, tracker.size());
  }
  EXPECT_LE(maxSize, bound);
  EXPECT_GE(maxSize, static_cast<size_t>(perAnswer * (forgetAfter / step)))
      << "entries are kept for forgetAfter";
}

TEST(EndpointTracker, DefaultForgetAfterIsAnHour) {
  EXPECT_EQ(EndpointTracker().forgetAfter(), EndpointTracker::kDefaultForgetAfter);
  EXPECT_EQ(EndpointTracker::kDefaultForgetAfter, hours(1));
}

}  // namespace
}  // namespace endpointbinder::core
