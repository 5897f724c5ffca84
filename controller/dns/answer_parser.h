// Answer parser: turns one DNS response message, exactly as received from the network, into
// a ResolveOutcome for an A or AAAA query.
//
// The message is untrusted input: any byte string gives an outcome (kError with a message
// for malformed ones) and never reads outside the buffer, crashes or throws. Fuzzed by
// tests/fuzz/fuzz_dns_answer.cc. Addresses and their TTLs come from c-ares'
// ares_parse_a_reply / ares_parse_aaaa_reply; the CNAME chain and its TTLs from a bounded
// walk over the answer section (ares_expand_name for names).
// Thread-safety: a pure function, safe to call from any thread.
#pragma once

#include <cstdint>
#include <span>

#include "api/net.h"
#include "controller/dns/resolver.h"

namespace endpointbinder::dns {

// Parses the response `message` to a query of `family` (kIPv4: A, kIPv6: AAAA).
// - RCODE NXDOMAIN / SERVFAIL / REFUSED: kNxDomain / kServFail / kRefused; other non-zero
//   RCODEs: kError naming the RCODE.
// - NOERROR with no address of `family` for the queried name (after CNAMEs): kNoData.
// - NOERROR with addresses: kOk, addresses sorted and deduplicated, ttl the minimum over
//   those addresses and every CNAME followed (TTLs with the top bit set count as 0, per
//   RFC 2181), cnameChain the names followed.
// - Anything malformed (short header, a name or record past the end, not a response,
//   truncated (TC) message): kError.
ResolveOutcome parseAddressAnswer(std::span<const uint8_t> message, api::AddressFamily family);

}  // namespace endpointbinder::dns
