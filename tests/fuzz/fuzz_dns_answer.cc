// Fuzz target: arbitrary bytes as a DNS response to an A and to an AAAA query. The parser
// must return an outcome for every input — never crash, read out of bounds or throw — and a
// kOk outcome must hold addresses of the asked family only.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "controller/dns/answer_parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using endpointbinder::api::AddressFamily;
  using endpointbinder::dns::parseAddressAnswer;
  const std::span<const uint8_t> message(data, size);
  for (AddressFamily family : {AddressFamily::kIPv4, AddressFamily::kIPv6}) {
    const auto outcome = parseAddressAnswer(message, family);
    if (outcome.ok()) {
      if (outcome.answer.addresses.empty()) std::abort();
      for (const auto& address : outcome.answer.addresses) {
        if (address.family() != family) std::abort();
      }
      if (outcome.answer.ttl.count() < 0) std::abort();
    } else if (outcome.message.empty()) {
      std::abort();
    }
  }
  return 0;
}
