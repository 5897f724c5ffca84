// InstanceInventory: what the instance sources (`ec2`, `spotFleet`, `autoScalingGroup`) list,
// read from EC2 and Auto Scaling as cheaply as the account's shared quotas demand.
//
// Sharing (EC2 calls per minute must not grow with the number of bindings):
//  * Bindings subscribe with their source; identical sources (same filters and states, same
//    fleet, same group) are one entry, read once.
//  * One refresh round per poll interval serves every source. A round reads each fleet's
//    state (DescribeSpotFleetRequests, all fleets in one call) and instances
//    (DescribeSpotFleetInstances), every group (DescribeAutoScalingGroups, 50 names a call),
//    and then instance details in ONE of two ways, whichever costs fewer calls (by the
//    sizes the previous rounds saw; a tie goes to the narrow way):
//      - account-wide: DescribeInstances without filters (1,000 instances a page), `ec2`
//        filters evaluated locally (core::ec2SourceMatches, EC2's own semantics), fleet and
//        group members looked up in it;
//      - narrow: one filtered DescribeInstances per distinct `ec2` source, plus the fleet and
//        group members by `instance-id` filter (200 ids a call).
//    An `ec2` source with a filter name not evaluated locally is always read with its own
//    filtered call (its count then grows with such distinct sources only).
//  * A source added between rounds is read at once, alone (after `newSourceDelay`, which
//    gathers a manifest load into one read); an `ec2` source is answered from the last
//    account-wide listing without any call while that is younger than the poll interval.
//    Afterwards it joins the common round.
//
// Listing rules:
//  * ec2: instances matching every filter whose state is in `states`.
//  * spotFleet: the fleet's active instances that are `running`. A fleet request that is
//    cancelled (any form), failed or missing is a failing source, never "zero instances".
//  * autoScalingGroup: instances InService (and running) are listed; Pending, Standby,
//    Detached, ... are not; Terminating, Terminating:Wait, ... are LEAVING: not listed, and
//    reported as leaving so their deregistration skips the grace period (they are going; their
//    connections drain through the group's deregistration delay). A missing group is failing.
//  * A Spot interruption warning (noteInterruption) marks the instance; bindings whose policy
//    says so see it as leaving at once, ahead of the grace period (see view()).
//  * Each listing is kept three ways (instance ids, private IPv4 addresses, first IPv6
//    addresses), each with a core::ListingHistory so departures count from the first listing
//    without an id. An instance without an address of a family is absent from that family.
//  * A failed or throttled call makes every source that depended on it failing: its last good
//    listing stands, failingSince is the first failure, the reason names the call and error.
//    Failing sources are read again after 5 s, doubling up to the poll interval; deregistration
//    freezes meanwhile (the reconciler's rule for failing sources).
//  * The `notify` callback gets the subscribers of every source whose listing (any family or
//    the leaving set) changed, that started or stopped failing or changed failure reason, or
//    whose instance got an interruption warning. It is called without any lock held.
//
// Event path (refreshInstances): EC2 and Auto Scaling events name instances; their details are
// read with one DescribeInstances (instance-id filter), the fleets and groups they belong to
// (by current membership, by the aws:ec2spot:fleet-request-id / aws:autoscaling:groupName tags,
// or by the event's group name; all of them when none says) are read again, and the affected
// sources' listings are updated at once. Polling stays on as the safety net.
//
// Thread-safety: all public methods are safe to call from any thread. AWS calls run without
// the state lock, one refresh at a time (rounds and event refreshes are serialised).
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "api/manifest.h"
#include "controller/aws/instances.h"
#include "controller/core/clock.h"
#include "controller/core/instance.h"
#include "controller/core/listing_history.h"
#include "controller/core/log.h"

namespace endpointbinder::runtime {

// How a binding's targets are named.
enum class InstanceIdKind {
  kInstanceId,  // targetType instance
  kIpv4,        // targetType ip, IPv4 target group: the private IPv4 address
  kIpv6,        // targetType ip, IPv6 target group: the instance's first IPv6 address
};

struct InventoryOptions {
  std::chrono::nanoseconds pollInterval = std::chrono::seconds(60);
  std::chrono::nanoseconds newSourceDelay = std::chrono::milliseconds(200);
  std::chrono::nanoseconds failureRetryBase = std::chrono::seconds(5);
  int instanceIdsPerCall = 200;  // `instance-id` filter values per DescribeInstances
  int instancesPerPage = 1000;   // what one DescribeInstances page holds (the cost model)
  // How long a departed id, and a Spot interruption warning, are remembered.
  std::chrono::nanoseconds departedRetention = std::chrono::hours(1);
  std::chrono::nanoseconds interruptionMemory = std::chrono::minutes(15);
};

// One id a binding's source lists no more, since the first listing without it.
struct InventoryDeparted {
  std::string id;
  core::MonoTime goneSince{};
};

// An id that is going now (deregistered ahead of the grace period), and why.
struct InventoryLeaving {
  std::string id;
  std::string reason;  // "Auto Scaling lifecycle state Terminating:Wait", "Spot interruption ..."
};

// What one binding's source lists, in the binding's id kind.
struct InventoryView {
  bool hasAnswer = false;
  std::vector<std::string> ids;  // sorted
  std::optional<core::MonoTime> lastSuccess;
  std::vector<InventoryDeparted> departed;
  std::vector<InventoryLeaving> leaving;
  bool failing = false;
  std::optional<core::MonoTime> failingSince;
  std::string failureReason;
};

// What an EC2 or Auto Scaling event says (see runtime/instance_events.h for the parsing).
// A binding's listing with the listed instances' details (DNSRecordBinding names and
// addresses come from them).
struct InventoryInstances {
  InventoryView view;                     // in instance ids
  std::vector<core::Instance> instances;  // the listed ones (view.ids), sorted by id
};

struct InstanceEvent {
  std::vector<std::string> instanceIds;
  std::string autoScalingGroupName;  // when the event names one
  bool spotInterruption = false;     // EC2 Spot Instance Interruption Warning
};

struct InventoryOutcome;  // what one refresh learned about one source (instance_inventory.cc)

struct InventoryStats {
  size_t sources = 0;
  size_t bindings = 0;
  size_t instances = 0;  // instance details held (the last account-wide listing, or members)
  size_t interrupted = 0;
  bool accountWide = false;  // the last round read the account-wide listing
  uint64_t rounds = 0;
  uint64_t eventRefreshes = 0;
};

// The key identical sources share: "ec2 <filters> <states>", "spotFleet <id>",
// "autoScalingGroup <name>". Filters and their values are taken as sets (order-insensitive).
std::string instanceSourceKey(const api::Source& source);
// Whether the source is one the inventory serves (ec2, spotFleet, autoScalingGroup).
bool isInstanceSource(const api::Source& source);

class InstanceInventory {
 public:
  using Notify = std::function<void(const std::vector<std::string>& bindingKeys)>;

  struct Deps {
    aws::Ec2Api& ec2;
    aws::AutoScalingApi& autoScaling;
    const core::Clock& clock;
    core::Logger& log;
    Notify notify;
  };

  InstanceInventory(Deps deps, InventoryOptions options = {});
  ~InstanceInventory();
  InstanceInventory(const InstanceInventory&) = delete;
  InstanceInventory& operator=(const InstanceInventory&) = delete;

  // Subscribes (or moves) `bindingKey` to `source`. REQUIRES: isInstanceSource(source).
  void subscribe(const std::string& bindingKey, const api::Source& source);
  // Drops the subscription (nothing when there is none). A source without subscribers is
  // forgotten.
  void unsubscribe(const std::string& bindingKey);

  // The binding's listing, or nullopt when it is not subscribed. `deregisterOnInterruption`:
  // instances with a Spot interruption warning are left out of `ids` and reported as leaving.
  std::optional<InventoryView> view(const std::string& bindingKey, InstanceIdKind kind,
                                    bool deregisterOnInterruption) const;

  // view() in instance ids, with the listed instances' details, read under one lock.
  std::optional<InventoryInstances> instances(const std::string& bindingKey,
                                              bool deregisterOnInterruption) const;

  // Refreshes every source due at the clock's now (all of them with `all`). Returns when the
  // round is done. The thread calls it; tests call it directly with a ManualClock.
  void refreshDue(bool all = false);
  // When the next source falls due (nullopt without sources).
  std::optional<core::MonoTime> nextDue() const;

  // The event path (see above). Fails (nothing learned) when the DescribeInstances of the
  // named instances fails; the events are then worth handling again (the queue redelivers).
  core::Result<void> refreshInstances(const std::vector<InstanceEvent>& events);

  // Starts / stops the polling thread. requestStop() returns at once (no new round starts);
  // stop() also waits for a round in flight. Both are idempotent.
  void start();
  void requestStop();
  void stop();

  InventoryStats stats() const;

 private:
  struct Source;

  // Reads the sources named by `keys` (a round when `fullRound`) and records the outcomes.
  void refreshSources(const std::vector<std::string>& keys, bool fullRound);
  // Records one outcome into `source` (under mu_); adds its subscribers to `toNotify` when
  // what they see changed.
  void applyOutcome(Source& source, InventoryOutcome& outcome, core::MonoTime at,
                    std::vector<std::string>& toNotify);
  std::optional<InventoryView> viewLocked(const std::string& bindingKey, InstanceIdKind kind,
                                          bool deregisterOnInterruption) const;  // REQUIRES mu_
  void threadLoop();
  void notify(const std::vector<std::string>& keys);

  Deps deps_;
  InventoryOptions options_;

  mutable std::mutex mu_;  // guards everything below except refreshMu_
  std::map<std::string, std::unique_ptr<Source>> sources_;  // by source key
  std::map<std::string, std::string> bindings_;             // binding key -> source key
  // Latest details of every instance read (account-wide listing or member lookups).
  std::map<std::string, core::Instance> instances_;
  std::optional<core::MonoTime> accountWideAt_;  // when instances_ was an account-wide listing
  size_t accountWideCount_ = 0;                  // its size (for the cost model)
  std::map<std::string, core::MonoTime> interrupted_;  // instance id -> warning received
  std::optional<core::MonoTime> nextRound_;
  bool lastRoundAccountWide_ = false;
  uint64_t rounds_ = 0;
  uint64_t eventRefreshes_ = 0;

  std::mutex refreshMu_;  // one refresh (round or event) at a time
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace endpointbinder::runtime
