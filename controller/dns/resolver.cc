#include "controller/dns/resolver.h"

#include <algorithm>

#include "controller/dns/resolve_error.h"

namespace endpointbinder::dns {
namespace {

// combineOutcomes without perFamily; copies, so the parts stay intact for the caller.
ResolveOutcome combineParts(const ResolveOutcome& a, const ResolveOutcome& aaaa) {
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
  merged.addresses = a.answer.addresses;
  merged.addresses.insert(merged.addresses.end(), aaaa.answer.addresses.begin(),
                          aaaa.answer.addresses.end());
  std::sort(merged.addresses.begin(), merged.addresses.end());
  merged.addresses.erase(std::unique(merged.addresses.begin(), merged.addresses.end()),
                         merged.addresses.end());
  merged.ttl = std::min(a.answer.ttl, aaaa.answer.ttl);
  merged.cnameChain = a.answer.cnameChain.size() >= aaaa.answer.cnameChain.size()
                          ? a.answer.cnameChain
                          : aaaa.answer.cnameChain;
  return ResolveOutcome::success(std::move(merged));
}

}  // namespace

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
  a.perFamily.clear();
  aaaa.perFamily.clear();
  ResolveOutcome combined = combineParts(a, aaaa);
  combined.perFamily = {std::move(a), std::move(aaaa)};
  return combined;
}

ResolveOutcome familyOutcome(const ResolveOutcome& outcome, api::AddressFamily family) {
  const bool v4 = family == api::AddressFamily::kIPv4;
  if (outcome.perFamily.size() == 2) return outcome.perFamily[v4 ? 0 : 1];
  if (!outcome.ok()) {
    ResolveOutcome failed = outcome;
    failed.perFamily.clear();
    return failed;
  }
  Answer answer;
  if (!visitFamilyAnswer(outcome, family, [&](const api::IpAddress& address) {
        answer.addresses.push_back(address);
      })) {
    return ResolveOutcome::failure(ResolveStatus::kNoData, v4 ? "no A records" : "no AAAA records");
  }
  answer.ttl = outcome.answer.ttl;
  answer.cnameChain = outcome.answer.cnameChain;
  return ResolveOutcome::success(std::move(answer));
}

core::Error toError(const ResolveOutcome& outcome) {
  core::Error error;
  error.kind = core::ErrorKind::kRetryable;
  error.code = resolveStatusName(outcome.status);
  error.message = outcome.message.empty() ? error.code : outcome.message;
  return error;
}

}  // namespace endpointbinder::dns
