// IP addresses and CIDR blocks: parsing, formatting and containment.
//
// Pure value types with no I/O; used by manifest validation (allowedCIDRs, static
// addresses) and by the planner (which targets may be registered).
// Thread-safety: immutable values, safe to share.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace endpointbinder::api {

enum class AddressFamily { kIPv4, kIPv6 };

class IpAddress {
 public:
  // Parses dotted-quad IPv4 ("10.0.1.5", no leading zeros, no shorthand) or RFC 4291 IPv6
  // text ("fd00::1", "::ffff:10.0.0.1"). Returns nullopt for anything else, including zone
  // ids ("fe80::1%eth0") which a target group cannot use.
  static std::optional<IpAddress> parse(std::string_view text);
  static IpAddress v4(uint32_t hostOrder);
  // Only the first 4 bytes are used for IPv4.
  static IpAddress fromBytes(AddressFamily family, const std::array<uint8_t, 16>& bytes);

  AddressFamily family() const { return family_; }
  bool isV4() const { return family_ == AddressFamily::kIPv4; }
  // 4 significant bytes for IPv4, 16 for IPv6, network order.
  const std::array<uint8_t, 16>& bytes() const { return bytes_; }
  // Canonical text: dotted quad, or RFC 5952 for IPv6 (lowercase, longest zero run "::").
  std::string toString() const;

  auto operator<=>(const IpAddress&) const = default;

 private:
  AddressFamily family_ = AddressFamily::kIPv4;
  std::array<uint8_t, 16> bytes_{};
};

class Cidr {
 public:
  // Parses "10.0.0.0/8" or "fd00::/8". Host bits must be zero ("10.0.0.1/8" is rejected so a
  // typo is not silently widened); `error` (when non-null) receives why parsing failed.
  static std::optional<Cidr> parse(std::string_view text, std::string* error = nullptr);

  const IpAddress& base() const { return base_; }
  int prefixLength() const { return prefix_; }
  bool contains(const IpAddress& address) const;
  std::string toString() const;

  auto operator<=>(const Cidr&) const = default;

 private:
  IpAddress base_;
  int prefix_ = 0;
};

}  // namespace endpointbinder::api
