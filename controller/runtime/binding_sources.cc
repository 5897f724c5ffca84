#include "controller/runtime/binding_sources.h"

#include <variant>

namespace endpointbinder::runtime {

void BindingSources::track(const api::TargetGroupBinding& binding) {
  const auto key = binding.metadata.key();
  if (const auto* dns = std::get_if<api::DnsSource>(&binding.spec.source)) {
    watcher_.subscribe(key, *dns);
  } else {
    // The source kind changed away from dns (or never was): drop any old subscription.
    watcher_.unsubscribe(key);
  }
}

void BindingSources::untrack(const std::string& bindingKey) { watcher_.unsubscribe(bindingKey); }

SourceSnapshot BindingSources::snapshot(const api::TargetGroupBinding& binding) {
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
  out.failureReason = std::string("source kind ") + api::sourceKindName(binding.spec.source) +
                      " is not implemented in this version; nothing will be registered or "
                      "deregistered";
  return out;
}

}  // namespace endpointbinder::runtime
