#include "controller/runtime/binding_sources.h"

#include <variant>

#include "controller/core/address_family.h"

namespace endpointbinder::runtime {

namespace {

bool isIpv6Group(std::string_view ipAddressType) {
  if (ipAddressType.size() != core::kIpAddressTypeIpv6.size()) return false;
  for (size_t i = 0; i < ipAddressType.size(); ++i) {
    const char c = ipAddressType[i];
    if ((c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c) !=
        core::kIpAddressTypeIpv6[i]) {
      return false;
    }
  }
  return true;
}

}  // namespace

void BindingSources::track(const api::TargetGroupBinding& binding) {
  const auto key = binding.metadata.key();
  if (const auto* dns = std::get_if<api::DnsSource>(&binding.spec.source)) {
    watcher_.subscribe(key, *dns);
  } else {
    // The source kind changed away from dns (or never was): drop any old subscription.
    watcher_.unsubscribe(key);
  }
  if (instances_) {
    if (isInstanceSource(binding.spec.source)) {
      instances_->subscribe(key, binding.spec.source);
    } else {
      instances_->unsubscribe(key);
    }
  }
}

void BindingSources::untrack(const std::string& bindingKey) {
  watcher_.unsubscribe(bindingKey);
  if (instances_) instances_->unsubscribe(bindingKey);
}

SourceSnapshot BindingSources::snapshot(const api::TargetGroupBinding& binding) {
  return snapshotForGroup(binding, core::kIpAddressTypeIpv4);
}

SourceSnapshot BindingSources::instanceSnapshot(const api::TargetGroupBinding& binding,
                                                std::string_view ipAddressType) {
  SourceSnapshot out;
  if (!instances_) {
    out.failing = true;
    out.failureReason = std::string("source kind ") + api::sourceKindName(binding.spec.source) +
                        " needs EC2 access, which this command did not set up; nothing will be "
                        "registered or deregistered";
    return out;
  }
  InstanceIdKind kind = InstanceIdKind::kInstanceId;
  if (binding.spec.targetType == api::TargetType::kIp) {
    kind = isIpv6Group(ipAddressType) ? InstanceIdKind::kIpv6 : InstanceIdKind::kIpv4;
  }
  const auto view = instances_->view(binding.metadata.key(), kind,
                                     api::deregistersOnSpotInterruption(binding.spec));
  if (!view) {
    out.failing = true;
    out.failureReason = "not subscribed to the instance inventory yet";
    return out;
  }
  out.hasAnswer = view->hasAnswer;
  out.ids = view->ids;
  if (view->lastSuccess) out.lastSuccess = *view->lastSuccess;
  for (const auto& d : view->departed) out.departed.push_back(DepartedId{d.id, d.goneSince});
  for (const auto& l : view->leaving) out.leaving.push_back(LeavingId{l.id, l.reason});
  out.failing = view->failing || !view->hasAnswer;
  out.failingSince = view->failingSince;
  if (view->failing) {
    out.failureReason = view->failureReason;
  } else if (!view->hasAnswer) {
    out.failureReason = std::string("waiting for the first ") +
                        api::sourceKindName(binding.spec.source) + " listing";
  }
  return out;
}

SourceSnapshot BindingSources::snapshotForGroup(const api::TargetGroupBinding& binding,
                                                std::string_view ipAddressType) {
  if (isInstanceSource(binding.spec.source)) return instanceSnapshot(binding, ipAddressType);
  SourceSnapshot out;
  if (const auto* fixed = std::get_if<api::StaticSource>(&binding.spec.source)) {
    out.hasAnswer = true;
    // lastSuccess stays unset: the reconciler takes a static listing as confirmed now.
    for (const auto& a : fixed->addresses) out.ids.push_back(a.toString());
    return out;
  }
  if (const auto* dnsSource = std::get_if<api::DnsSource>(&binding.spec.source)) {
    auto host = watcher_.snapshotForBinding(binding.metadata.key());
    if (!host) {
      out.failing = true;
      out.failureReason = "not subscribed to DNS yet";
      return out;
    }
    // The hostname's target serves the union of its subscribers' families: we see ours only,
    // each family with its own last good answer (a failing AAAA freezes only the IPv6 part).
    const auto view = dns::viewFor(*host, dns::familiesOf(*dnsSource));
    out.hasAnswer = view.hasAnswer && !view.addresses.empty();
    for (const auto& a : view.addresses) out.ids.push_back(a.toString());
    if (view.lastSuccess) out.lastSuccess = *view.lastSuccess;
    for (const auto& departed : view.departed) {
      out.departed.push_back(DepartedId{departed.address.toString(), departed.goneSince});
    }
    out.failing = view.failing || !out.hasAnswer;
    out.failingSince = view.failingSince;
    if (view.failing) {
      out.failureReason = view.failureReason;
    } else if (!out.hasAnswer) {
      out.failureReason = "waiting for the first DNS answer";
    } else if (view.degraded()) {
      out.degradedReason = view.degradedReason + "; that family's last good addresses are kept";
    }
    return out;
  }
  out.failing = true;
  out.failureReason =
      std::string("unknown source kind ") + api::sourceKindName(binding.spec.source);
  return out;
}

}  // namespace endpointbinder::runtime
