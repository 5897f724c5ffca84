// Resolver: looks a hostname up in DNS and says, as a typed outcome, what the answer was —
// the addresses with the answer's TTL, or exactly which kind of failure happened.
//
// The DNS watcher (dns_watcher.h) is the only regular caller; it treats every outcome other
// than kOk as "no information" and keeps the last good answer (STYLE.md, Envoy's DNS
// clusters), for each address family on its own (familyOutcome()). The c-ares implementation is
// AresResolver (ares_resolver.h); tests use FakeResolver (tests/support/dns_fake_resolver.h).
// Deliberately free of core::Result (std::expected) so the answer parser builds with the fuzzing
// compiler (clang 14). Thread-safety: implementations must allow concurrent resolve() calls from
// any threads.
#pragma once

#include <algorithm>
#include <chrono>
#include <functional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "api/net.h"

namespace endpointbinder::dns {

// Which record types one lookup asks for. At least one must be set.
struct AddressFamilies {
  bool ipv4 = true;   // A
  bool ipv6 = false;  // AAAA

  bool operator==(const AddressFamilies&) const = default;
};

// The result class of one lookup. Every value except kOk means "the addresses are unknown",
// never "there are no addresses".
enum class ResolveStatus {
  kOk,        // NOERROR with at least one address of a requested family
  kNxDomain,  // the name does not exist (RCODE 3)
  kNoData,    // the name exists but has no record of the requested families (NOERROR, empty)
  kServFail,  // the server failed (RCODE 2)
  kRefused,   // the server refused to answer (RCODE 5)
  kTimeout,   // no answer within the configured timeouts, or the lookup was cancelled
  kError,     // anything else: malformed answer, connection refused, bad name, ...
};

inline constexpr int kResolveStatusCount = 7;

// "ok", "NXDOMAIN", "NODATA", "SERVFAIL", "REFUSED", "timeout", "error": stable names used as
// metric labels and as the failure reason in status.
const char* resolveStatusName(ResolveStatus status);

// A successful answer.
struct Answer {
  // Sorted, without duplicates; families as requested. Canonical text: IpAddress::toString().
  std::vector<api::IpAddress> addresses;
  // Minimum TTL over every record the answer was built from, CNAMEs included; zero is legal
  // (the watcher clamps it).
  std::chrono::seconds ttl{0};
  // The aliases followed from the queried name to the name holding the addresses, in order,
  // lowercase without trailing dots: ["alias.example", "target.example"] means
  // queried -> alias.example -> target.example. Empty when the name had no CNAME.
  std::vector<std::string> cnameChain;

  bool operator==(const Answer&) const = default;
};

struct ResolveOutcome {
  ResolveStatus status = ResolveStatus::kError;
  Answer answer;        // meaningful only when status == kOk
  std::string message;  // human-readable detail for failures ("SERVFAIL from 10.0.0.2:53 (A)")
  // When both families were asked and told apart (combineOutcomes): the A outcome, then the
  // AAAA one, each as if asked alone; the fields above are their combination. Empty
  // otherwise. Lets the watcher keep one family's answer while the other fails.
  std::vector<ResolveOutcome> perFamily;

  bool ok() const { return status == ResolveStatus::kOk; }

  static ResolveOutcome success(Answer answer) {
    ResolveOutcome outcome;
    outcome.status = ResolveStatus::kOk;
    outcome.answer = std::move(answer);
    return outcome;
  }
  static ResolveOutcome failure(ResolveStatus status, std::string message) {
    ResolveOutcome outcome;
    outcome.status = status;
    outcome.message = std::move(message);
    return outcome;
  }
};

// The outcome of one lookup asking for both families, from the A and AAAA outcomes:
// - either failed (anything but kOk or kNoData): that failure, the A one when both failed;
// - both kNoData: kNoData;
// - otherwise kOk with the union of the addresses (sorted), the minimum TTL of the answers
//   that had data, and the longer CNAME chain.
// perFamily holds `a` and `aaaa` (without their own perFamily).
ResolveOutcome combineOutcomes(ResolveOutcome a, ResolveOutcome aaaa);

// What `outcome`, of a lookup that asked for `family`, says about that family alone: its
// perFamily entry when there is one; otherwise a failure stands for every family asked, and a
// success keeps the family's addresses (with the TTL and CNAME chain), or is kNoData
// ("no A records") when it has none.
ResolveOutcome familyOutcome(const ResolveOutcome& outcome, api::AddressFamily family);

// familyOutcome(outcome, family) without the copy, for the watcher's checks after every lookup
// (copying each lookup's addresses there was most of the DNS loop's allocations): whether that
// family's outcome is kOk, and `visit` called with each of its addresses when it is.
// familyOutcome() is built on it, so the two cannot disagree.
template <typename Visit>
bool visitFamilyAnswer(const ResolveOutcome& outcome, api::AddressFamily family, Visit&& visit) {
  const bool v4 = family == api::AddressFamily::kIPv4;
  if (outcome.perFamily.size() == 2) {
    const ResolveOutcome& part = outcome.perFamily[v4 ? 0 : 1];
    if (!part.ok()) return false;
    for (const auto& address : part.answer.addresses) visit(address);
    return true;
  }
  if (!outcome.ok()) return false;
  const auto ofFamily = [v4](const api::IpAddress& address) { return address.isV4() == v4; };
  const auto& addresses = outcome.answer.addresses;
  if (std::none_of(addresses.begin(), addresses.end(), ofFamily)) return false;  // kNoData
  for (const auto& address : addresses) {
    if (ofFamily(address)) visit(address);
  }
  return true;
}

class Resolver {
 public:
  virtual ~Resolver() = default;

  // Looks up `hostname` (an absolute name; a trailing dot is optional and search domains
  // are not applied) for the requested families and blocks until the outcome is known.
  //
  // On success returns kOk with every address of the requested families, their minimum TTL
  // and the CNAME chain. When both families are requested they combine as combineOutcomes()
  // says: a failure of either is the outcome, so a partial answer is never mistaken for the
  // whole; perFamily then keeps each family's own outcome.
  // Returns within the implementation's configured deadline, or soon after `stop` is
  // requested (then kTimeout with message "cancelled"). Never throws.
  // REQUIRES: families.ipv4 || families.ipv6.
  virtual ResolveOutcome resolve(std::string_view hostname, AddressFamilies families,
                                 std::stop_token stop) = 0;

  // Called exactly once with the outcome of a resolveAsync() lookup.
  using Done = std::function<void(ResolveOutcome)>;

  // True when resolveAsync() returns before the lookup ends (the outcome arrives on a thread
  // of the resolver's), so one caller thread can keep many lookups in flight. The default
  // resolveAsync() is resolve() and then `done` on the calling thread.
  virtual bool asynchronous() const { return false; }

  // The lookup resolve() makes, with the same outcome, handed to `done` instead of returned.
  // An asynchronous() resolver calls `done` on its own thread, which must not block (no
  // resolve() from it; resolveAsync() is fine), or on the calling thread before returning when
  // the outcome is known at once (a bad name, `stop` already requested).
  virtual void resolveAsync(std::string_view hostname, AddressFamilies families,
                            std::stop_token stop, Done done) {
    done(resolve(hostname, families, std::move(stop)));
  }
};

}  // namespace endpointbinder::dns
