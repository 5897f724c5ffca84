// ListingHistory: one source listing (a set of ids) over time, with the departures a reader
// needs to count grace periods from when the source first stopped listing an id — not from
// when a reconcile happened to look (see EndpointTracker).
//
// Rules:
//  * record(ids, at) is a good listing obtained at `at`. An id the previous good listing had
//    and this one lacks departs at `at` (the first listing without it); an id listed again is
//    no longer departed. A departure is remembered for `departedRetention` (readers see every
//    change within a reconcile or two; this only bounds memory under churn).
//  * A failed refresh is not recorded here: the last good listing stands (the caller marks
//    its source failing).
//  * record() returns whether the set of ids changed (the first listing always does), so the
//    caller notifies only bindings whose listing changed.
// Pure: no clock, no I/O. Thread-safety: none (a plain value guarded by its owner).
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "controller/core/clock.h"

namespace endpointbinder::core {

class ListingHistory {
 public:
  static constexpr MonoTime::duration kDefaultDepartedRetention = std::chrono::hours(1);

  explicit ListingHistory(MonoTime::duration departedRetention = kDefaultDepartedRetention)
      : retention_(departedRetention) {}

  // See the rules above. Duplicate ids count once.
  bool record(std::vector<std::string> ids, MonoTime at);

  bool hasListing() const { return lastSuccess_.has_value(); }
  // The last good listing, sorted, no duplicates.
  const std::vector<std::string>& ids() const { return ids_; }
  // When it was obtained; nullopt before the first.
  std::optional<MonoTime> lastSuccess() const { return lastSuccess_; }
  // Ids that left the listing within the retention, with the time of the first listing
  // without them; sorted by id.
  const std::map<std::string, MonoTime>& departed() const { return departed_; }

 private:
  MonoTime::duration retention_;
  std::vector<std::string> ids_;
  std::map<std::string, MonoTime> departed_;
  std::optional<MonoTime> lastSuccess_;
};

}  // namespace endpointbinder::core
