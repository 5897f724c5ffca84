#include "controller/runtime/instance_inventory.h"

#include <algorithm>
#include <variant>

#include "api/net.h"
#include "controller/core/thread_name.h"

namespace endpointbinder::runtime {

namespace {

using core::LogLevel;

constexpr const char* kFleetTag = "aws:ec2spot:fleet-request-id";
constexpr const char* kGroupTag = "aws:autoscaling:groupName";

size_t pages(size_t count, size_t perPage) {
  return std::max<size_t>(1, (count + perPage - 1) / std::max<size_t>(1, perPage));
}

// The id of `instance` in `kind`, or "" when it has none (no address of that family).
std::string idOf(const core::Instance& instance, InstanceIdKind kind) {
  switch (kind) {
    case InstanceIdKind::kInstanceId:
      return instance.id;
    case InstanceIdKind::kIpv4: {
      const auto ip = api::IpAddress::parse(instance.privateIpAddress);
      return ip && ip->isV4() ? ip->toString() : std::string();
    }
    case InstanceIdKind::kIpv6:
      for (const auto& text : instance.ipv6Addresses) {
        const auto ip = api::IpAddress::parse(text);
        if (ip && !ip->isV4()) return ip->toString();
      }
      return {};
  }
  return {};
}

std::vector<std::string> idsOf(const std::vector<core::Instance>& instances, InstanceIdKind kind) {
  std::vector<std::string> ids;
  ids.reserve(instances.size());
  for (const auto& instance : instances) {
    if (auto id = idOf(instance, kind); !id.empty()) ids.push_back(std::move(id));
  }
  return ids;
}

std::string errorText(const core::Error& error) {
  return error.code.empty() ? error.message : error.code + ": " + error.message;
}

std::vector<api::Ec2Filter> withStates(const api::Ec2Source& source) {
  auto filters = source.filters;
  filters.push_back(api::Ec2Filter{"instance-state-name", source.states});
  return filters;
}

}  // namespace

std::string instanceSourceKey(const api::Source& source) {
  if (const auto* ec2 = std::get_if<api::Ec2Source>(&source)) {
    std::vector<std::string> filters;
    for (const auto& filter : ec2->filters) {
      auto values = filter.values;
      std::sort(values.begin(), values.end());
      values.erase(std::unique(values.begin(), values.end()), values.end());
      std::string text = filter.name + "=";
      for (const auto& v : values) text += std::to_string(v.size()) + ":" + v + ",";
      filters.push_back(std::move(text));
    }
    std::sort(filters.begin(), filters.end());
    auto states = ec2->states;
    std::sort(states.begin(), states.end());
    std::string key = "ec2";
    for (const auto& f : filters) key += " " + std::to_string(f.size()) + ":" + f;
    key += " states";
    for (const auto& s : states) key += " " + s;
    return key;
  }
  if (const auto* fleet = std::get_if<api::SpotFleetSource>(&source)) {
    return "spotFleet " + fleet->requestId;
  }
  if (const auto* group = std::get_if<api::AutoScalingGroupSource>(&source)) {
    return "autoScalingGroup " + group->name;
  }
  return {};
}

bool isInstanceSource(const api::Source& source) {
  return std::holds_alternative<api::Ec2Source>(source) ||
         std::holds_alternative<api::SpotFleetSource>(source) ||
         std::holds_alternative<api::AutoScalingGroupSource>(source);
}

struct InstanceInventory::Source {
  Source(std::string k, api::Source s, std::chrono::nanoseconds retention)
      : key(std::move(k)),
        spec(std::move(s)),
        byId(retention),
        byIpv4(retention),
        byIpv6(retention) {}

  std::string key;
  api::Source spec;
  std::set<std::string> subscribers;

  bool hasAnswer = false;
  std::vector<core::Instance> members;                   // listed, sorted by id
  std::map<std::string, std::string> leaving;            // instance id -> reason
  std::map<std::string, core::Instance> leavingDetails;  // for their addresses
  std::map<std::string, core::MonoTime> leavingSince;    // first listing that said so
  std::set<std::string> related;  // every id the fleet/group named (any state), for events
  core::ListingHistory byId;
  core::ListingHistory byIpv4;
  core::ListingHistory byIpv6;
  size_t lastCount = 0;  // instances its own filtered call returned (the cost model)

  bool failing = false;
  std::optional<core::MonoTime> failingSince;
  std::string failureReason;
  int failures = 0;
  core::MonoTime nextRefresh{};

  const core::ListingHistory& history(InstanceIdKind kind) const {
    switch (kind) {
      case InstanceIdKind::kIpv4:
        return byIpv4;
      case InstanceIdKind::kIpv6:
        return byIpv6;
      default:
        return byId;
    }
  }
  bool localFilters() const {
    const auto* ec2 = std::get_if<api::Ec2Source>(&spec);
    return ec2 && core::ec2FiltersEvaluatedLocally(ec2->filters);
  }
};

// What one refresh learned about one source.
struct InventoryOutcome {
  bool ok = false;
  std::string failure;
  std::vector<core::Instance> members;
  std::map<std::string, std::string> leaving;
  std::map<std::string, core::Instance> leavingDetails;
  std::set<std::string> related;
  std::optional<size_t> ownCount;  // set when the source had its own filtered call
};

namespace {

using Outcome = InventoryOutcome;

// A spec copy taken under the lock, so AWS calls run without it.
struct Planned {
  std::string key;
  api::Source spec;
  bool local = false;
  bool answered = false;
  size_t lastCount = 0;
  std::vector<core::Instance> members;  // previous, for the event path
  std::set<std::string> related;
};

// Fleet or group membership as read from its API, before instance details.
struct Membership {
  std::vector<std::string> listed;                           // ids that are listed when running
  std::vector<std::pair<std::string, std::string>> leaving;  // id, reason
  std::set<std::string> related;
};

void fail(std::map<std::string, Outcome>& outcomes, const std::string& key, std::string why) {
  auto& o = outcomes[key];
  if (!o.failure.empty()) return;  // the first failure names the cause
  o.ok = false;
  o.failure = std::move(why);
}

// Members of a fleet or group from its membership and the instance details at hand.
void fillFromMembership(Outcome& outcome, const Membership& membership,
                        const std::map<std::string, core::Instance>& details) {
  for (const auto& id : membership.listed) {
    const auto it = details.find(id);
    if (it != details.end() && it->second.state == "running") outcome.members.push_back(it->second);
  }
  for (const auto& [id, reason] : membership.leaving) {
    outcome.leaving.emplace(id, reason);
    if (const auto it = details.find(id); it != details.end()) {
      outcome.leavingDetails.emplace(id, it->second);
    }
  }
  outcome.related = membership.related;
  outcome.ok = true;
}

// Members of a group's previous listing that the group no longer names are going when EC2 no
// longer runs them (terminated, shutting down, stopped, or not reported): without lifecycle
// hooks an instance is Terminating only briefly, and a poll may never see it so. One still
// running (detached) is a plain departure and waits out the grace.
std::vector<std::string> goneMembers(const Membership& membership,
                                     const std::vector<core::Instance>& previous) {
  std::set<std::string> now(membership.listed.begin(), membership.listed.end());
  for (const auto& [id, reason] : membership.leaving) now.insert(id);
  std::vector<std::string> gone;
  for (const auto& member : previous) {
    if (!now.contains(member.id)) gone.push_back(member.id);
  }
  return gone;
}

void markGoneMembersLeaving(Membership& membership, const std::vector<std::string>& gone,
                            const std::map<std::string, core::Instance>& details) {
  for (const auto& id : gone) {
    const auto it = details.find(id);
    const std::string state = it == details.end() ? "gone" : it->second.state;
    if (state == "pending" || state == "running") continue;
    membership.leaving.emplace_back(id, "left the Auto Scaling group (EC2 state " + state + ")");
  }
}

// Reads the membership of `fleets` (state first: a cancelled or missing request fails).
void readFleets(aws::Ec2Api& ec2, const std::vector<std::string>& fleetIds,
                const std::map<std::string, std::string>& keyOf, bool checkState,
                std::map<std::string, Membership>& memberships,
                std::map<std::string, Outcome>& outcomes) {
  if (fleetIds.empty()) return;
  std::map<std::string, std::string> states;
  if (checkState) {
    auto all = ec2.describeSpotFleetRequests(fleetIds);
    if (!all && all.error().kind == core::ErrorKind::kNotFound && fleetIds.size() > 1) {
      // One unknown id fails the whole call: ask id by id to find it.
      for (const auto& id : fleetIds) {
        auto one = ec2.describeSpotFleetRequests({id});
        if (!one) {
          fail(outcomes, keyOf.at(id),
               one.error().kind == core::ErrorKind::kNotFound
                   ? "Spot Fleet request " + id + " not found (" + errorText(one.error()) + ")"
                   : "DescribeSpotFleetRequests: " + errorText(one.error()));
          continue;
        }
        for (const auto& r : *one) states[r.id] = r.state;
      }
    } else if (!all) {
      for (const auto& id : fleetIds) {
        fail(outcomes, keyOf.at(id),
             all.error().kind == core::ErrorKind::kNotFound
                 ? "Spot Fleet request " + id + " not found (" + errorText(all.error()) + ")"
                 : "DescribeSpotFleetRequests: " + errorText(all.error()));
      }
      return;
    } else {
      for (const auto& r : *all) states[r.id] = r.state;
    }
  }
  for (const auto& id : fleetIds) {
    const auto& key = keyOf.at(id);
    if (outcomes.contains(key)) continue;  // failed above
    if (checkState) {
      const auto it = states.find(id);
      if (it == states.end()) {
        fail(outcomes, key, "Spot Fleet request " + id + " not found");
        continue;
      }
      if (!aws::spotFleetStateServes(it->second)) {
        fail(outcomes, key,
             "Spot Fleet request " + id + " is " + it->second +
                 ": a fleet that is not active lists nothing, and nothing is deregistered "
                 "because of it");
        continue;
      }
    }
    auto ids = ec2.describeSpotFleetInstances(id);
    if (!ids) {
      fail(outcomes, key,
           ids.error().kind == core::ErrorKind::kNotFound
               ? "Spot Fleet request " + id + " not found (" + errorText(ids.error()) + ")"
               : "DescribeSpotFleetInstances: " + errorText(ids.error()));
      continue;
    }
    Membership m;
    m.listed = *ids;
    m.related.insert(ids->begin(), ids->end());
    memberships[key] = std::move(m);
  }
}

void readGroups(aws::AutoScalingApi& autoScaling, const std::vector<std::string>& names,
                const std::map<std::string, std::string>& keyOf,
                std::map<std::string, Membership>& memberships,
                std::map<std::string, Outcome>& outcomes) {
  if (names.empty()) return;
  auto groups = autoScaling.describeAutoScalingGroups(names);
  if (!groups) {
    for (const auto& name : names) {
      fail(outcomes, keyOf.at(name), "DescribeAutoScalingGroups: " + errorText(groups.error()));
    }
    return;
  }
  std::map<std::string, const aws::AutoScalingGroupInfo*> byName;
  for (const auto& g : *groups) byName[g.name] = &g;
  for (const auto& name : names) {
    const auto it = byName.find(name);
    if (it == byName.end()) {
      fail(outcomes, keyOf.at(name), "Auto Scaling group " + name + " not found");
      continue;
    }
    Membership m;
    for (const auto& instance : it->second->instances) {
      m.related.insert(instance.id);
      switch (core::asgMembership(instance.lifecycleState)) {
        case core::AsgMembership::kListed:
          m.listed.push_back(instance.id);
          break;
        case core::AsgMembership::kLeaving:
          m.leaving.emplace_back(instance.id,
                                 "Auto Scaling lifecycle state " + instance.lifecycleState);
          break;
        case core::AsgMembership::kNotListed:
          break;
      }
    }
    memberships[keyOf.at(name)] = std::move(m);
  }
}

// Details of `ids` by instance-id filter, `perCall` ids a call. Fails at the first error.
core::Result<std::vector<core::Instance>> describeByIds(aws::Ec2Api& ec2,
                                                        const std::vector<std::string>& ids,
                                                        size_t perCall) {
  std::vector<core::Instance> all;
  for (size_t begin = 0; begin < ids.size(); begin += perCall) {
    const size_t end = std::min(ids.size(), begin + perCall);
    api::Ec2Filter filter{"instance-id",
                          {ids.begin() + static_cast<std::ptrdiff_t>(begin),
                           ids.begin() + static_cast<std::ptrdiff_t>(end)}};
    auto page = ec2.describeInstances({filter});
    if (!page) return std::unexpected(std::move(page.error()));
    std::move(page->begin(), page->end(), std::back_inserter(all));
  }
  return all;
}

}  // namespace

InstanceInventory::InstanceInventory(Deps deps, InventoryOptions options)
    : deps_(std::move(deps)), options_(options) {
  options_.instanceIdsPerCall = std::max(1, options_.instanceIdsPerCall);
  options_.instancesPerPage = std::max(1, options_.instancesPerPage);
}

InstanceInventory::~InstanceInventory() { stop(); }

void InstanceInventory::subscribe(const std::string& bindingKey, const api::Source& source) {
  const std::string key = instanceSourceKey(source);
  if (key.empty()) return;
  {
    std::lock_guard lock(mu_);
    const auto now = deps_.clock.now();
    if (auto it = bindings_.find(bindingKey); it != bindings_.end()) {
      if (it->second == key) return;
      if (auto old = sources_.find(it->second); old != sources_.end()) {
        old->second->subscribers.erase(bindingKey);
        if (old->second->subscribers.empty()) sources_.erase(old);
      }
    }
    bindings_[bindingKey] = key;
    auto& entry = sources_[key];
    if (!entry) {
      entry = std::make_unique<Source>(key, source, options_.departedRetention);
      entry->nextRefresh = now + options_.newSourceDelay;
      if (!nextRound_) nextRound_ = entry->nextRefresh;
    }
    entry->subscribers.insert(bindingKey);
  }
  wake_.notify_all();
}

void InstanceInventory::unsubscribe(const std::string& bindingKey) {
  std::lock_guard lock(mu_);
  const auto it = bindings_.find(bindingKey);
  if (it == bindings_.end()) return;
  if (auto source = sources_.find(it->second); source != sources_.end()) {
    source->second->subscribers.erase(bindingKey);
    if (source->second->subscribers.empty()) sources_.erase(source);
  }
  bindings_.erase(it);
}

std::optional<InventoryView> InstanceInventory::view(const std::string& bindingKey,
                                                     InstanceIdKind kind,
                                                     bool deregisterOnInterruption) const {
  std::lock_guard lock(mu_);
  return viewLocked(bindingKey, kind, deregisterOnInterruption);
}

std::optional<InventoryInstances> InstanceInventory::instances(
    const std::string& bindingKey, bool deregisterOnInterruption) const {
  std::lock_guard lock(mu_);
  auto view = viewLocked(bindingKey, InstanceIdKind::kInstanceId, deregisterOnInterruption);
  if (!view) return std::nullopt;
  InventoryInstances out;
  const Source& source = *sources_.at(bindings_.at(bindingKey));
  const std::set<std::string> listed(view->ids.begin(), view->ids.end());
  for (const auto& member : source.members) {
    if (listed.contains(member.id)) out.instances.push_back(member);
  }
  std::sort(out.instances.begin(), out.instances.end(),
            [](const auto& a, const auto& b) { return a.id < b.id; });
  out.view = std::move(*view);
  return out;
}

std::optional<InventoryView> InstanceInventory::viewLocked(const std::string& bindingKey,
                                                           InstanceIdKind kind,
                                                           bool deregisterOnInterruption) const {
  const auto binding = bindings_.find(bindingKey);
  if (binding == bindings_.end()) return std::nullopt;
  const auto found = sources_.find(binding->second);
  if (found == sources_.end()) return std::nullopt;
  const Source& source = *found->second;
  const auto now = deps_.clock.now();

  InventoryView view;
  view.hasAnswer = source.hasAnswer;
  view.failing = source.failing;
  view.failingSince = source.failingSince;
  view.failureReason = source.failureReason;
  const auto& history = source.history(kind);
  view.lastSuccess = history.lastSuccess();

  // Addresses of the current members: an address a leaving instance had may already belong
  // to a new instance (EC2 reuses freed private addresses), which must not leave with it.
  std::map<std::string, std::string> memberOf;  // id in kind -> instance id
  for (const auto& member : source.members) {
    if (auto id = idOf(member, kind); !id.empty()) memberOf.emplace(std::move(id), member.id);
  }
  std::map<std::string, std::string> leaving;  // id in kind -> reason
  for (const auto& [instanceId, reason] : source.leaving) {
    if (kind == InstanceIdKind::kInstanceId) {
      leaving.emplace(instanceId, reason);
    } else if (const auto it = source.leavingDetails.find(instanceId);
               it != source.leavingDetails.end()) {
      auto id = idOf(it->second, kind);
      const auto current = memberOf.find(id);
      if (current != memberOf.end() && current->second != instanceId) continue;  // reused
      if (!id.empty()) leaving.emplace(std::move(id), reason);
    }
  }
  if (deregisterOnInterruption) {
    for (const auto& member : source.members) {
      const auto warned = interrupted_.find(member.id);
      if (warned == interrupted_.end()) continue;
      if (auto id = idOf(member, kind); !id.empty()) {
        const auto ago = std::chrono::duration_cast<std::chrono::seconds>(now - warned->second);
        leaving.emplace(std::move(id), "Spot interruption warning " +
                                           std::to_string(std::max<long long>(0, ago.count())) +
                                           "s ago");
      }
    }
  }
  for (const auto& id : history.ids()) {
    if (!leaving.contains(id)) view.ids.push_back(id);
  }
  for (const auto& [id, since] : history.departed()) {
    if (!leaving.contains(id)) view.departed.push_back({id, since});
  }
  for (auto& [id, reason] : leaving) view.leaving.push_back({id, std::move(reason)});
  return view;
}

std::optional<core::MonoTime> InstanceInventory::nextDue() const {
  std::lock_guard lock(mu_);
  std::optional<core::MonoTime> next = nextRound_;
  for (const auto& [key, source] : sources_) {
    if (!next || source->nextRefresh < *next) next = source->nextRefresh;
  }
  if (sources_.empty()) return std::nullopt;
  return next;
}

void InstanceInventory::refreshDue(bool all) {
  std::vector<std::string> keys;
  bool full = false;
  {
    std::lock_guard lock(mu_);
    if (sources_.empty()) return;
    const auto now = deps_.clock.now();
    full = all || (nextRound_ && *nextRound_ <= now);
    for (const auto& [key, source] : sources_) {
      if (full || source->nextRefresh <= now) keys.push_back(key);
    }
    if (full) {
      nextRound_ = now + options_.pollInterval;
      ++rounds_;
    }
  }
  if (!keys.empty()) refreshSources(keys, full);
}

void InstanceInventory::refreshSources(const std::vector<std::string>& keys, bool fullRound) {
  std::lock_guard refreshing(refreshMu_);
  std::vector<Planned> plan;
  std::map<std::string, core::Instance> cache;
  bool cacheFresh = false;
  size_t wideCount = 0;
  {
    std::lock_guard lock(mu_);
    const auto now = deps_.clock.now();
    for (const auto& key : keys) {
      const auto it = sources_.find(key);
      if (it == sources_.end()) continue;
      const Source& s = *it->second;
      plan.push_back(
          Planned{key, s.spec, s.localFilters(), s.hasAnswer, s.lastCount, s.members, {}});
    }
    cacheFresh = accountWideAt_ && now - *accountWideAt_ < options_.pollInterval;
    if (cacheFresh && !fullRound) cache = instances_;
    wideCount = accountWideCount_;
  }
  if (plan.empty()) return;

  std::map<std::string, Outcome> outcomes;
  std::map<std::string, Membership> memberships;

  // Fleets and groups: membership first.
  std::vector<std::string> fleetIds;
  std::vector<std::string> groupNames;
  std::map<std::string, std::string> fleetKey;
  std::map<std::string, std::string> groupKey;
  for (const auto& p : plan) {
    if (const auto* fleet = std::get_if<api::SpotFleetSource>(&p.spec)) {
      fleetIds.push_back(fleet->requestId);
      fleetKey[fleet->requestId] = p.key;
    } else if (const auto* group = std::get_if<api::AutoScalingGroupSource>(&p.spec)) {
      groupNames.push_back(group->name);
      groupKey[group->name] = p.key;
    }
  }
  readFleets(deps_.ec2, fleetIds, fleetKey, /*checkState=*/true, memberships, outcomes);
  readGroups(deps_.autoScaling, groupNames, groupKey, memberships, outcomes);

  std::map<std::string, std::vector<std::string>> gone;  // group key -> members it dropped
  for (const auto& p : plan) {
    if (!std::holds_alternative<api::AutoScalingGroupSource>(p.spec)) continue;
    if (const auto it = memberships.find(p.key); it != memberships.end()) {
      gone[p.key] = goneMembers(it->second, p.members);
    }
  }
  std::set<std::string> needed;  // member ids whose details are needed
  for (const auto& [key, m] : memberships) {
    needed.insert(m.listed.begin(), m.listed.end());
    for (const auto& [id, reason] : m.leaving) needed.insert(id);
  }
  for (const auto& [key, ids] : gone) needed.insert(ids.begin(), ids.end());

  // Instance details: account-wide or narrow, by cost.
  std::vector<const Planned*> local;
  std::vector<const Planned*> remote;
  for (const auto& p : plan) {
    if (!std::holds_alternative<api::Ec2Source>(p.spec)) continue;
    (p.local ? local : remote).push_back(&p);
  }
  const size_t perPage = static_cast<size_t>(options_.instancesPerPage);
  const size_t perCall = static_cast<size_t>(options_.instanceIdsPerCall);

  std::map<std::string, core::Instance> details;
  std::optional<std::string> detailsFailure;
  bool wide = false;
  bool fromCache = false;
  if (!fullRound && cacheFresh &&
      std::all_of(local.begin(), local.end(), [](const Planned* p) { return !p->answered; })) {
    // New sources between rounds: the last account-wide listing answers them without a call;
    // members it does not know are looked up below.
    fromCache = true;
    details = cache;
  } else if (!local.empty() || !needed.empty()) {
    size_t narrowCost = needed.empty() ? 0 : (needed.size() + perCall - 1) / perCall;
    for (const auto* p : local) narrowCost += pages(p->lastCount, perPage);
    wide = pages(wideCount, perPage) < narrowCost;
  }

  if (wide) {
    auto all = deps_.ec2.describeInstances({});
    if (!all) {
      detailsFailure = "DescribeInstances (account-wide): " + errorText(all.error());
    } else {
      for (auto& instance : *all) details.emplace(instance.id, std::move(instance));
    }
  } else {
    if (!fromCache) {
      for (const auto* p : local) {
        const auto& ec2 = std::get<api::Ec2Source>(p->spec);
        auto found = deps_.ec2.describeInstances(withStates(ec2));
        if (!found) {
          fail(outcomes, p->key, "DescribeInstances: " + errorText(found.error()));
          continue;
        }
        Outcome& o = outcomes[p->key];
        o.ok = true;
        o.ownCount = found->size();
        for (auto& instance : *found) {
          details.insert_or_assign(instance.id, instance);
          o.members.push_back(std::move(instance));
        }
      }
    }
    std::vector<std::string> missing;
    for (const auto& id : needed) {
      if (!details.contains(id)) missing.push_back(id);
    }
    if (!missing.empty()) {
      auto found = describeByIds(deps_.ec2, missing, perCall);
      if (!found) {
        detailsFailure = "DescribeInstances (by instance id): " + errorText(found.error());
      } else {
        for (auto& instance : *found) details.insert_or_assign(instance.id, std::move(instance));
      }
    }
  }
  for (const auto* p : remote) {
    const auto& ec2 = std::get<api::Ec2Source>(p->spec);
    auto found = deps_.ec2.describeInstances(withStates(ec2));
    if (!found) {
      fail(outcomes, p->key, "DescribeInstances: " + errorText(found.error()));
      continue;
    }
    Outcome& o = outcomes[p->key];
    o.ok = true;
    o.ownCount = found->size();
    o.members = std::move(*found);
  }

  // Listings.
  if ((wide || fromCache) && !local.empty()) {
    std::vector<core::Instance> listing;
    if (!detailsFailure) {
      listing.reserve(details.size());
      for (const auto& [id, instance] : details) listing.push_back(instance);
    }
    const core::InstanceIndex index(listing);
    for (const auto* p : local) {
      if (detailsFailure) {
        fail(outcomes, p->key, *detailsFailure);
        continue;
      }
      const auto& ec2 = std::get<api::Ec2Source>(p->spec);
      Outcome& o = outcomes[p->key];
      o.ok = true;
      for (const auto* instance : index.matching(ec2.filters, ec2.states)) {
        o.members.push_back(*instance);
      }
    }
  }
  for (auto& [key, membership] : memberships) {
    if (outcomes.contains(key)) continue;
    if (detailsFailure) {
      fail(outcomes, key, *detailsFailure);
      continue;
    }
    if (const auto it = gone.find(key); it != gone.end()) {
      markGoneMembersLeaving(membership, it->second, details);
    }
    fillFromMembership(outcomes[key], membership, details);
  }

  std::vector<std::string> toNotify;
  {
    std::lock_guard lock(mu_);
    const auto at = deps_.clock.now();
    if (fullRound && !detailsFailure) {
      // The cache holds what this round read; an account-wide listing is kept whole.
      instances_ = std::move(details);
      if (wide && !detailsFailure) {
        accountWideAt_ = at;
        accountWideCount_ = instances_.size();
      } else if (!wide) {
        accountWideAt_.reset();
      }
      lastRoundAccountWide_ = wide;
    } else if (!fromCache) {
      for (auto& [id, instance] : details) instances_.insert_or_assign(id, std::move(instance));
    }
    if (fullRound) {
      std::erase_if(interrupted_, [&](const auto& item) {
        return at - item.second > options_.interruptionMemory;
      });
    }
    for (auto& [key, outcome] : outcomes) {
      const auto it = sources_.find(key);
      if (it == sources_.end()) continue;  // unsubscribed meanwhile
      applyOutcome(*it->second, outcome, at, toNotify);
    }
  }
  notify(toNotify);
}

void InstanceInventory::applyOutcome(Source& source, InventoryOutcome& outcome, core::MonoTime at,
                                     std::vector<std::string>& toNotify) {
  bool changed = false;
  if (outcome.ok) {
    std::sort(outcome.members.begin(), outcome.members.end(),
              [](const auto& a, const auto& b) { return a.id < b.id; });
    changed |= source.byId.record(idsOf(outcome.members, InstanceIdKind::kInstanceId), at);
    changed |= source.byIpv4.record(idsOf(outcome.members, InstanceIdKind::kIpv4), at);
    changed |= source.byIpv6.record(idsOf(outcome.members, InstanceIdKind::kIpv6), at);
    // A leaving instance stays leaving for a while after the source stops naming it (an
    // Auto Scaling instance goes Terminating, then vanishes): a reconcile between the two
    // listings must not miss it. Listed again, it is not leaving.
    std::set<std::string> listedNow;
    for (const auto& m : outcome.members) listedNow.insert(m.id);
    std::map<std::string, core::MonoTime> since;
    for (const auto& [id, reason] : outcome.leaving) {
      const auto old = source.leavingSince.find(id);
      since[id] = old == source.leavingSince.end() ? at : old->second;
    }
    for (const auto& [id, reason] : source.leaving) {
      if (outcome.leaving.contains(id) || listedNow.contains(id)) continue;
      const auto first = source.leavingSince.find(id);
      if (first == source.leavingSince.end() || at - first->second > options_.interruptionMemory) {
        continue;
      }
      outcome.leaving.emplace(id, reason);
      since[id] = first->second;
      if (const auto d = source.leavingDetails.find(id); d != source.leavingDetails.end()) {
        outcome.leavingDetails.try_emplace(id, d->second);
      }
    }
    changed |= outcome.leaving != source.leaving;
    changed |= source.failing || !source.hasAnswer;
    source.leavingSince = std::move(since);
    if (source.failing) {
      deps_.log.log(LogLevel::kInfo, "instance source answers again",
                    {core::field("source", source.key),
                     core::field("instances", static_cast<long long>(outcome.members.size()))});
    }
    source.hasAnswer = true;
    source.members = std::move(outcome.members);
    source.leaving = std::move(outcome.leaving);
    source.leavingDetails = std::move(outcome.leavingDetails);
    source.related = std::move(outcome.related);
    if (outcome.ownCount) source.lastCount = *outcome.ownCount;
    source.failing = false;
    source.failingSince.reset();
    source.failureReason.clear();
    source.failures = 0;
    source.nextRefresh = nextRound_.value_or(at + options_.pollInterval);
  } else {
    ++source.failures;
    if (!source.failing || source.failureReason != outcome.failure) {
      changed = true;
      deps_.log.log(LogLevel::kWarn, "instance source failing; deregistrations are frozen",
                    {core::field("source", source.key), core::field("error", outcome.failure)});
    }
    if (!source.failing) source.failingSince = at;
    source.failing = true;
    source.failureReason = outcome.failure;
    auto delay = options_.failureRetryBase;
    for (int i = 1; i < source.failures && delay < options_.pollInterval; ++i) delay *= 2;
    source.nextRefresh = at + std::min(delay, options_.pollInterval);
  }
  if (changed) {
    toNotify.insert(toNotify.end(), source.subscribers.begin(), source.subscribers.end());
  }
}

core::Result<void> InstanceInventory::refreshInstances(const std::vector<InstanceEvent>& events) {
  std::lock_guard refreshing(refreshMu_);
  std::set<std::string> named;
  std::set<std::string> groupHints;
  std::vector<std::string> toNotify;
  {
    std::lock_guard lock(mu_);
    const auto now = deps_.clock.now();
    ++eventRefreshes_;
    for (const auto& event : events) {
      for (const auto& id : event.instanceIds) {
        if (!core::isInstanceId(id)) continue;
        named.insert(id);
        if (event.spotInterruption && !interrupted_.contains(id)) {
          interrupted_[id] = now;
          // The listing does not change, but what bindings that act on warnings see does.
          for (const auto& [key, source] : sources_) {
            const bool lists = std::any_of(source->members.begin(), source->members.end(),
                                           [&](const auto& m) { return m.id == id; });
            if (lists) {
              toNotify.insert(toNotify.end(), source->subscribers.begin(),
                              source->subscribers.end());
            }
          }
        }
      }
      if (!event.autoScalingGroupName.empty()) groupHints.insert(event.autoScalingGroupName);
    }
  }
  notify(toNotify);
  toNotify.clear();
  if (named.empty() && groupHints.empty()) return {};

  const size_t perCall = static_cast<size_t>(options_.instanceIdsPerCall);
  std::map<std::string, core::Instance> fresh;
  if (!named.empty()) {
    auto found = describeByIds(deps_.ec2, {named.begin(), named.end()}, perCall);
    if (!found) return std::unexpected(std::move(found.error()));
    for (auto& instance : *found) fresh.insert_or_assign(instance.id, std::move(instance));
  }

  // Which sources the events touch.
  std::vector<Planned> fleets;
  std::vector<Planned> groups;
  std::vector<Planned> remote;
  std::vector<Planned> local;
  std::map<std::string, core::Instance> known;  // details at hand besides `fresh`
  {
    std::lock_guard lock(mu_);
    for (const auto& [key, s] : sources_) {
      // A source not answered yet, or failing, waits for the poll: an event's partial view
      // must not clear a failure it knows nothing about.
      if (!s->hasAnswer || s->failing) continue;
      bool touches = false;
      for (const auto& id : named) {
        touches = touches || s->related.contains(id) || s->leaving.contains(id) ||
                  std::any_of(s->members.begin(), s->members.end(),
                              [&](const auto& m) { return m.id == id; });
      }
      Planned p{key, s->spec, s->localFilters(), true, s->lastCount, s->members, s->related};
      if (const auto* fleet = std::get_if<api::SpotFleetSource>(&s->spec)) {
        for (const auto& [id, instance] : fresh) {
          const auto tag = instance.tags.find(kFleetTag);
          touches = touches || (tag != instance.tags.end() && tag->second == fleet->requestId);
        }
        if (touches) fleets.push_back(std::move(p));
      } else if (const auto* group = std::get_if<api::AutoScalingGroupSource>(&s->spec)) {
        touches = touches || groupHints.contains(group->name);
        for (const auto& [id, instance] : fresh) {
          const auto tag = instance.tags.find(kGroupTag);
          touches = touches || (tag != instance.tags.end() && tag->second == group->name);
        }
        if (touches) groups.push_back(std::move(p));
      } else if (p.local) {
        if (!named.empty()) local.push_back(std::move(p));
      } else if (touches) {
        remote.push_back(std::move(p));
      }
      for (const auto& m : s->members) known.insert_or_assign(m.id, m);
    }
    // A spot instance no fleet claims (by membership or tag) may be a fleet's new instance
    // whose tags were not reported: read every fleet (a handful of calls).
    const bool unclaimedSpot = std::any_of(fresh.begin(), fresh.end(), [&](const auto& item) {
      const auto& instance = item.second;
      if (instance.lifecycle != "spot" || instance.tags.contains(kFleetTag)) return false;
      return std::none_of(sources_.begin(), sources_.end(),
                          [&](const auto& s) { return s.second->related.contains(instance.id); });
    });
    if (unclaimedSpot) {
      for (const auto& [key, s] : sources_) {
        // A failing fleet (cancelled, say) waits for the poll, which checks the fleet's state.
        if (!s->hasAnswer || s->failing || !std::holds_alternative<api::SpotFleetSource>(s->spec)) {
          continue;
        }
        if (std::none_of(fleets.begin(), fleets.end(),
                         [&](const auto& f) { return f.key == key; })) {
          fleets.push_back(Planned{key, s->spec, false, true, 0, s->members, s->related});
        }
      }
    }
    for (const auto& [id, instance] : instances_) known.try_emplace(id, instance);
  }

  std::map<std::string, Outcome> outcomes;
  std::map<std::string, Membership> memberships;
  std::vector<std::string> fleetIds;
  std::map<std::string, std::string> fleetKey;
  for (const auto& p : fleets) {
    const auto& id = std::get<api::SpotFleetSource>(p.spec).requestId;
    fleetIds.push_back(id);
    fleetKey[id] = p.key;
  }
  // The fleet's state is the poll's business; an event only asks who is in it now.
  readFleets(deps_.ec2, fleetIds, fleetKey, /*checkState=*/false, memberships, outcomes);
  std::vector<std::string> groupNames;
  std::map<std::string, std::string> groupKey;
  for (const auto& p : groups) {
    const auto& name = std::get<api::AutoScalingGroupSource>(p.spec).name;
    groupNames.push_back(name);
    groupKey[name] = p.key;
  }
  readGroups(deps_.autoScaling, groupNames, groupKey, memberships, outcomes);

  std::map<std::string, std::vector<std::string>> gone;  // group key -> members it dropped
  for (const auto& p : groups) {
    if (const auto it = memberships.find(p.key); it != memberships.end()) {
      gone[p.key] = goneMembers(it->second, p.members);
    }
  }
  std::map<std::string, core::Instance> details = fresh;
  std::vector<std::string> missing;
  for (const auto& [key, m] : memberships) {
    for (const auto& id : m.listed) {
      if (!details.contains(id) && !known.contains(id)) missing.push_back(id);
    }
  }
  // A dropped member's state must be current: a cached "running" would hide its termination.
  for (const auto& [key, ids] : gone) {
    for (const auto& id : ids) {
      if (!fresh.contains(id)) missing.push_back(id);
    }
  }
  std::optional<std::string> detailsFailure;
  std::set<std::string> foundIds;
  if (!missing.empty()) {
    std::sort(missing.begin(), missing.end());
    missing.erase(std::unique(missing.begin(), missing.end()), missing.end());
    auto found = describeByIds(deps_.ec2, missing, perCall);
    if (!found) {
      detailsFailure = "DescribeInstances (by instance id): " + errorText(found.error());
    } else {
      for (auto& instance : *found) {
        foundIds.insert(instance.id);
        details.insert_or_assign(instance.id, std::move(instance));
      }
    }
  }
  for (const auto& [id, instance] : known) details.try_emplace(id, instance);
  // An instance named by an event, or looked up just now, that EC2 no longer reports is gone.
  for (const auto& id : named) {
    if (!fresh.contains(id)) details.erase(id);
  }
  if (!detailsFailure) {
    for (const auto& id : missing) {
      if (!foundIds.contains(id)) details.erase(id);  // looked up: the answer decides
    }
  }

  for (auto& [key, membership] : memberships) {
    if (outcomes.contains(key)) continue;
    if (detailsFailure) {
      fail(outcomes, key, *detailsFailure);
      continue;
    }
    if (const auto it = gone.find(key); it != gone.end()) {
      markGoneMembersLeaving(membership, it->second, details);
    }
    fillFromMembership(outcomes[key], membership, details);
  }
  for (const auto& p : remote) {
    auto found = deps_.ec2.describeInstances(withStates(std::get<api::Ec2Source>(p.spec)));
    if (!found) {
      fail(outcomes, p.key, "DescribeInstances: " + errorText(found.error()));
      continue;
    }
    Outcome& o = outcomes[p.key];
    o.ok = true;
    o.ownCount = found->size();
    o.members = std::move(*found);
  }
  for (const auto& p : local) {
    const auto& ec2 = std::get<api::Ec2Source>(p.spec);
    Outcome o;
    o.ok = true;
    bool changed = false;
    for (const auto& member : p.members) {
      if (named.contains(member.id)) {
        changed = true;  // re-evaluated below from its fresh details
        continue;
      }
      o.members.push_back(member);
    }
    for (const auto& [id, instance] : fresh) {
      if (core::ec2SourceMatches(ec2.filters, ec2.states, instance)) {
        o.members.push_back(instance);
        changed = true;
      }
    }
    if (changed) outcomes[p.key] = std::move(o);
  }

  {
    std::lock_guard lock(mu_);
    const auto at = deps_.clock.now();
    for (const auto& id : named) {
      if (const auto it = fresh.find(id); it != fresh.end()) {
        instances_.insert_or_assign(id, it->second);
      } else {
        instances_.erase(id);
      }
    }
    for (auto& [key, outcome] : outcomes) {
      const auto it = sources_.find(key);
      if (it == sources_.end()) continue;
      Source& source = *it->second;
      // An event refresh never stands in for the round: keep the source's schedule, unless it
      // failed (then its retry comes sooner).
      const auto keepNext = source.nextRefresh;
      const bool wasFailing = source.failing;
      applyOutcome(source, outcome, at, toNotify);
      if (outcome.ok && !wasFailing) source.nextRefresh = keepNext;
    }
  }
  notify(toNotify);
  return {};
}

void InstanceInventory::notify(const std::vector<std::string>& keys) {
  if (keys.empty() || !deps_.notify) return;
  std::vector<std::string> unique = keys;
  std::sort(unique.begin(), unique.end());
  unique.erase(std::unique(unique.begin(), unique.end()), unique.end());
  deps_.notify(unique);
}

void InstanceInventory::start() {
  std::lock_guard lock(mu_);
  if (thread_.joinable() || stopping_) return;
  thread_ = std::thread([this] { threadLoop(); });
}

void InstanceInventory::requestStop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
}

void InstanceInventory::stop() {
  requestStop();
  if (thread_.joinable()) thread_.join();
}

void InstanceInventory::threadLoop() {
  core::nameThisThread("eb-inventory");
  std::unique_lock lock(mu_);
  while (!stopping_) {
    const auto now = deps_.clock.now();
    std::optional<core::MonoTime> due = nextRound_;
    for (const auto& [key, source] : sources_) {
      if (!due || source->nextRefresh < *due) due = source->nextRefresh;
    }
    if (sources_.empty() || !due || *due > now) {
      // Real time: the thread only ever runs with the real clock. Woken by subscribe/stop.
      auto wait =
          due && !sources_.empty() ? *due - now : std::chrono::nanoseconds(std::chrono::seconds(1));
      wait = std::min<std::chrono::nanoseconds>(wait, std::chrono::seconds(1));
      wake_.wait_for(lock, wait);
      continue;
    }
    lock.unlock();
    refreshDue();
    lock.lock();
  }
}

InventoryStats InstanceInventory::stats() const {
  std::lock_guard lock(mu_);
  InventoryStats stats;
  stats.sources = sources_.size();
  stats.bindings = bindings_.size();
  stats.instances = instances_.size();
  stats.interrupted = interrupted_.size();
  stats.accountWide = lastRoundAccountWide_;
  stats.rounds = rounds_;
  stats.eventRefreshes = eventRefreshes_;
  return stats;
}

}  // namespace endpointbinder::runtime
