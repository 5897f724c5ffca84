// BindingSources: the SourceProvider the controller uses. DNS sources are kept current by the
// DnsWatcher (shared per hostname); static sources are their own listing; instance sources
// (ec2, spotFleet, autoScalingGroup) by the InstanceInventory (shared per identical source).
// An instance source lists instance ids for targetType instance, and for targetType ip each
// instance's private IPv4 address, or its first IPv6 address when the target group's
// IpAddressType is ipv6 (snapshotForGroup); an instance without an address of that family is
// not listed. Leaving instances (Auto Scaling Terminating*, and Spot interruption warnings when
// policy.deregisterOnSpotInterruption) are reported as leaving. Without an inventory (no EC2
// access configured) an instance source is failing: it registers nothing and never
// deregisters anything, and its status says why.
// Thread-safety: safe for concurrent use (the watcher and the inventory are; the rest is
// immutable per call).
#pragma once

#include <string>

#include "controller/dns/dns_watcher.h"
#include "controller/runtime/instance_inventory.h"
#include "controller/runtime/source_provider.h"

namespace endpointbinder::runtime {

class BindingSources final : public SourceProvider {
 public:
  // `watcher` (and `instances`, when given) must outlive this object.
  explicit BindingSources(dns::DnsWatcher& watcher, InstanceInventory* instances = nullptr)
      : watcher_(watcher), instances_(instances) {}

  void track(const api::TargetGroupBinding& binding) override;
  void untrack(const std::string& bindingKey) override;
  // As snapshotForGroup(binding, "ipv4").
  SourceSnapshot snapshot(const api::TargetGroupBinding& binding) override;
  SourceSnapshot snapshotForGroup(const api::TargetGroupBinding& binding,
                                  std::string_view ipAddressType) override;

 private:
  SourceSnapshot instanceSnapshot(const api::TargetGroupBinding& binding,
                                  std::string_view ipAddressType);

  dns::DnsWatcher& watcher_;
  InstanceInventory* instances_;
};

}  // namespace endpointbinder::runtime
