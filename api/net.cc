#include "api/net.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cstring>

namespace endpointbinder::api {

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  // inet_pton is pure text parsing: it accepts only canonical dotted quads (no leading zeros,
  // no "10.1" shorthand) and RFC 4291 IPv6 without zone ids, which is exactly what we want.
  if (text.empty() || text.size() > 45) return std::nullopt;
  char buf[46];
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  IpAddress address;
  if (text.find(':') == std::string_view::npos) {
    if (inet_pton(AF_INET, buf, address.bytes_.data()) != 1) return std::nullopt;
    address.family_ = AddressFamily::kIPv4;
  } else {
    if (inet_pton(AF_INET6, buf, address.bytes_.data()) != 1) return std::nullopt;
    address.family_ = AddressFamily::kIPv6;
  }
  return address;
}

IpAddress IpAddress::v4(uint32_t hostOrder) {
  IpAddress address;
  address.family_ = AddressFamily::kIPv4;
  address.bytes_[0] = static_cast<uint8_t>(hostOrder >> 24);
  address.bytes_[1] = static_cast<uint8_t>(hostOrder >> 16);
  address.bytes_[2] = static_cast<uint8_t>(hostOrder >> 8);
  address.bytes_[3] = static_cast<uint8_t>(hostOrder);
  return address;
}

IpAddress IpAddress::fromBytes(AddressFamily family, const std::array<uint8_t, 16>& bytes) {
  IpAddress address;
  address.family_ = family;
  address.bytes_ = bytes;
  if (family == AddressFamily::kIPv4)
    std::fill(address.bytes_.begin() + 4, address.bytes_.end(), 0);
  return address;
}

std::string IpAddress::toString() const {
  char buf[INET6_ADDRSTRLEN];
  const int af = isV4() ? AF_INET : AF_INET6;
  if (inet_ntop(af, bytes_.data(), buf, sizeof buf) == nullptr) return {};
  return buf;
}

namespace {
int addressBits(const IpAddress& address) { return address.isV4() ? 32 : 128; }

// True when every bit of `address` at or after `prefix` is zero.
bool hostBitsZero(const IpAddress& address, int prefix) {
  const auto& b = address.bytes();
  for (int bit = prefix; bit < addressBits(address); ++bit) {
    if (b[bit / 8] & (0x80 >> (bit % 8))) return false;
  }
  return true;
}
}  // namespace

std::optional<Cidr> Cidr::parse(std::string_view text, std::string* error) {
  auto fail = [&](std::string why) -> std::optional<Cidr> {
    if (error) *error = std::move(why);
    return std::nullopt;
  };
  const auto slash = text.find('/');
  if (slash == std::string_view::npos) return fail("missing \"/<prefix length>\"");
  auto base = IpAddress::parse(text.substr(0, slash));
  if (!base) return fail("\"" + std::string(text.substr(0, slash)) + "\" is not an IP address");
  const auto lengthText = text.substr(slash + 1);
  int length = -1;
  auto [end, ec] =
      std::from_chars(lengthText.data(), lengthText.data() + lengthText.size(), length);
  if (ec != std::errc() || end != lengthText.data() + lengthText.size() || lengthText.empty() ||
      (lengthText.size() > 1 && lengthText[0] == '0')) {
    return fail("prefix length \"" + std::string(lengthText) + "\" is not a number");
  }
  if (length < 0 || length > addressBits(*base)) {
    return fail("prefix length " + std::to_string(length) + " exceeds " +
                std::to_string(addressBits(*base)));
  }
  if (!hostBitsZero(*base, length)) {
    auto bytes = base->bytes();
    for (int bit = length; bit < addressBits(*base); ++bit) {
      bytes[bit / 8] &= static_cast<uint8_t>(~(0x80 >> (bit % 8)));
    }
    const auto masked = IpAddress::fromBytes(base->family(), bytes);
    return fail("host bits are set; did you mean " + masked.toString() + "/" +
                std::to_string(length) + "?");
  }
  Cidr cidr;
  cidr.base_ = *base;
  cidr.prefix_ = length;
  return cidr;
}

bool Cidr::contains(const IpAddress& address) const {
  if (address.family() != base_.family()) return false;
  const auto& a = address.bytes();
  const auto& b = base_.bytes();
  int full = prefix_ / 8;
  if (std::memcmp(a.data(), b.data(), static_cast<size_t>(full)) != 0) return false;
  int rest = prefix_ % 8;
  if (rest == 0) return true;
  uint8_t mask = static_cast<uint8_t>(0xFF << (8 - rest));
  return (a[full] & mask) == (b[full] & mask);
}

std::string Cidr::toString() const { return base_.toString() + "/" + std::to_string(prefix_); }

}  // namespace endpointbinder::api
