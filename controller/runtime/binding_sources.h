// BindingSources: the SourceProvider the controller uses. DNS sources are kept current by the
// DnsWatcher (shared per hostname); static sources are their own listing. Sources that need
// the EC2/Auto Scaling APIs (ec2, spotFleet, autoScalingGroup) are validated by the decoder
// but not implemented yet: they report a failing source, so such a binding registers nothing
// and never deregisters anything, and its status says why.
// Thread-safety: safe for concurrent use (the watcher is; the rest is immutable per call).
#pragma once

#include <string>

#include "controller/dns/dns_watcher.h"
#include "controller/runtime/source_provider.h"

namespace endpointbinder::runtime {

class BindingSources final : public SourceProvider {
 public:
  // `watcher` must outlive this object.
  explicit BindingSources(dns::DnsWatcher& watcher) : watcher_(watcher) {}

  void track(const api::TargetGroupBinding& binding) override;
  void untrack(const std::string& bindingKey) override;
  SourceSnapshot snapshot(const api::TargetGroupBinding& binding) override;

 private:
  dns::DnsWatcher& watcher_;
};

}  // namespace endpointbinder::runtime
