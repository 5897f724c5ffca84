#include "controller/core/address_family.h"

#include <optional>

#include "api/net.h"

namespace endpointbinder::core {
namespace {

bool equalsIgnoringCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    const char x = a[i] >= 'A' && a[i] <= 'Z' ? static_cast<char>(a[i] - 'A' + 'a') : a[i];
    if (x != b[i]) return false;  // b is lowercase
  }
  return true;
}

}  // namespace

bool addressFamilyAccepted(std::string_view ipAddressType, std::string_view targetId) {
  const std::optional<api::IpAddress> address = api::IpAddress::parse(targetId);
  if (!address) return true;
  if (ipAddressType.empty() || equalsIgnoringCase(ipAddressType, kIpAddressTypeIpv4)) {
    return address->isV4();
  }
  if (equalsIgnoringCase(ipAddressType, kIpAddressTypeIpv6)) return !address->isV4();
  return true;
}

}  // namespace endpointbinder::core
