#include "controller/dns/resolver.h"

#include <algorithm>

#include "controller/dns/resolve_error.h"

namespace endpointbinder::dns {

const char* resolveStatusName(ResolveStatus status) {
  switch (status) {
    case ResolveStatus::kOk:
      return "ok";
    case ResolveStatus::kNxDomain:
      return "NXDOMAIN";
    case ResolveStatus::kNoData:
      return "NODATA";
    case ResolveStatus::kServFail:
      return "SERVFAIL";
    case ResolveStatus::kRefused:
      return "REFUSED";
    case ResolveStatus::kTimeout:
      return "timeout";
    case ResolveStatus::kError:
      return "error";
  }
  return "error";
}

ResolveOutcome combineOutcomes(ResolveOutcome a, ResolveOutcome aaaa) {
  auto failed = [](const ResolveOutcome& o) {
    return o.status != ResolveStatus::kOk && o.status != ResolveStatus::kNoData;
  };
  if (failed(a)) return a;
  if (failed(aaaa)) return aaaa;
  if (!a.ok() && !aaaa.ok()) {
    return ResolveOutcome::failure(ResolveStatus::kNoData, "no A or AAAA records");
  }
  if (!a.ok()) return aaaa;
  if (!aaaa.ok()) return a;
  Answer merged;
  merged.addresses = std::move(a.answer.addresses);
  merged.addresses.insert(merged.addresses.end(), aaaa.answer.addresses.begin(),
                          aaaa.answer.addresses.end());
  std::sort(merged.addresses.begin(), merged.addresses.end());
  merged.addresses.erase(std::unique(merged.addresses.begin(), merged.addresses.end()),
                         merged.addresses.end());
  merged.ttl = std::min(a.answer.ttl, aaaa.answer.ttl);
  merged.cnameChain = a.answer.cnameChain.size() >= aaaa.answer.cnameChain.size()
                          ? std::move(a.answer.cnameChain)
                          : std::move(aaaa.answer.cnameChain);
  return ResolveOutcome::success(std::move(merged));
}

core::Error toError(const ResolveOutcome& outcome) {
  core::Error error;
  error.kind = core::ErrorKind::kRetryable;
  error.code = resolveStatusName(outcome.status);
  error.message = outcome.message.empty() ? error.code : outcome.message;
  return error;
}

}  // namespace endpointbinder::dns
