// SourceProvider: what a binding's source lists right now, whatever kind the source is.
// The reconciler reads it; the DNS watcher, the instance inventory (or a static list) keeps it
// current.
// Thread-safety: implementations must be safe to call concurrently.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/manifest.h"
#include "controller/core/clock.h"

namespace endpointbinder::runtime {

// An id the source stopped listing, and since when: the first answer without it.
struct DepartedId {
  std::string id;
  core::MonoTime goneSince{};
};

// An id the source says is going now, and why: not listed, and deregistered without waiting
// for the grace period (an Auto Scaling instance Terminating, a Spot interruption warning).
struct LeavingId {
  std::string id;
  std::string reason;  // "Auto Scaling lifecycle state Terminating:Wait", ...
};

struct SourceSnapshot {
  bool hasAnswer = false;        // at least one good answer since the binding appeared
  std::vector<std::string> ids;  // the last good answer: canonical IPs or instance ids
  core::MonoTime lastSuccess{};  // when that answer was obtained; unset (epoch): "now"
  // Ids that recently left the listing, with the time of the first answer without them.
  // Grace periods count from then, not from when the reconciler last happened to look.
  std::vector<DepartedId> departed;
  bool failing = false;  // the latest lookup failed (answer kept as last good)
  std::optional<core::MonoTime> failingSince;
  std::string failureReason;  // "SERVFAIL", "timeout", "NXDOMAIN", "empty answer", ...
  // Not failing, but part of the listing is frozen: e.g. a DNS source asking for IPv4 and
  // IPv6 whose AAAA lookups fail. `ids` keep that part's last good answer (never departed)
  // while the rest follows the source. Says why, e.g. "no answer in time (AAAA)"; empty when
  // the whole listing is current.
  std::string degradedReason;
  // Ids that are going now (see LeavingId); never also in `ids`.
  std::vector<LeavingId> leaving;
};

class SourceProvider {
 public:
  virtual ~SourceProvider() = default;
  // Starts (or updates) whatever keeps this binding's source current.
  virtual void track(const api::TargetGroupBinding& binding) = 0;
  // Stops tracking the binding (its key).
  virtual void untrack(const std::string& bindingKey) = 0;
  // The binding's current source listing.
  virtual SourceSnapshot snapshot(const api::TargetGroupBinding& binding) = 0;
  // The listing for a target group whose IpAddressType ("ipv4" or "ipv6") is known: an
  // instance source with targetType ip lists each instance's address of that family. Sources
  // whose listing does not depend on it answer as snapshot() does.
  virtual SourceSnapshot snapshotForGroup(const api::TargetGroupBinding& binding,
                                          std::string_view ipAddressType) {
    (void)ipAddressType;
    return snapshot(binding);
  }
};

}  // namespace endpointbinder::runtime
