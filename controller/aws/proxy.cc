#include "controller/aws/proxy.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <optional>

#include "controller/core/text.h"

namespace endpointbinder::aws {
namespace {

// NO_PROXY and proxy URLs from the environment: any ASCII whitespace around entries.
std::string_view trimmedSpace(std::string_view text) {
  return core::trimmed(text, core::kAsciiWhitespace);
}

std::string firstSet(const Environment& env, std::string_view lowerName,
                     std::string_view upperName) {
  if (auto value = env.getNonEmpty(lowerName)) return std::string(trimmedSpace(*value));
  if (auto value = env.getNonEmpty(upperName)) return std::string(trimmedSpace(*value));
  return {};
}

// An IP address as bytes: 4 for IPv4, 16 for IPv6.
struct IpBytes {
  std::array<unsigned char, 16> bytes{};
  int size = 0;
};

std::optional<IpBytes> parseIp(std::string_view text) {
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']') {
    text = text.substr(1, text.size() - 2);
  }
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return std::nullopt;
  const std::string copy(text);
  IpBytes ip;
  if (copy.find(':') != std::string::npos) {
    if (inet_pton(AF_INET6, copy.c_str(), ip.bytes.data()) != 1) return std::nullopt;
    ip.size = 16;
  } else {
    if (inet_pton(AF_INET, copy.c_str(), ip.bytes.data()) != 1) return std::nullopt;
    ip.size = 4;
  }
  return ip;
}

bool inCidr(const IpBytes& ip, std::string_view cidr) {
  const auto slash = cidr.find('/');
  auto network = parseIp(cidr.substr(0, slash));
  if (!network || network->size != ip.size) return false;
  const std::string_view bitsText = cidr.substr(slash + 1);
  if (bitsText.empty() || bitsText.size() > 3) return false;
  int bits = 0;
  for (char c : bitsText) {
    if (c < '0' || c > '9') return false;
    bits = bits * 10 + (c - '0');
  }
  if (bits > ip.size * 8) return false;
  for (int i = 0; i < ip.size && bits > 0; ++i, bits -= 8) {
    const int take = std::min(bits, 8);
    const auto mask = static_cast<unsigned char>(0xff << (8 - take));
    if ((ip.bytes[i] & mask) != (network->bytes[i] & mask)) return false;
  }
  return true;
}

// A decimal port 1..65535, or -1.
int parsePort(std::string_view text) {
  if (text.empty() || text.size() > 5) return -1;
  int port = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return -1;
    port = port * 10 + (c - '0');
  }
  return port >= 1 && port <= 65535 ? port : -1;
}

}  // namespace

ProxySettings proxySettingsFromEnvironment(const Environment& env) {
  ProxySettings settings;
  settings.httpProxy = firstSet(env, "http_proxy", "HTTP_PROXY");
  settings.httpsProxy = firstSet(env, "https_proxy", "HTTPS_PROXY");
  settings.noProxy = firstSet(env, "no_proxy", "NO_PROXY");
  return settings;
}

bool noProxyMatches(std::string_view noProxy, std::string_view hostIn, int port) {
  std::string host = core::asciiLower(trimmedSpace(hostIn));
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  while (!host.empty() && host.back() == '.') host.pop_back();  // "example.com." is absolute
  if (host.empty()) return false;
  const auto hostIp = parseIp(host);

  size_t start = 0;
  while (start <= noProxy.size()) {
    const auto comma = noProxy.find(',', start);
    const auto end = comma == std::string_view::npos ? noProxy.size() : comma;
    std::string entry = core::asciiLower(trimmedSpace(noProxy.substr(start, end - start)));
    start = end + 1;
    if (entry.empty()) {
      if (comma == std::string_view::npos) break;
      continue;
    }
    if (entry == "*") return true;

    if (hostIp) {
      if (entry.find('/') != std::string::npos) {
        if (inCidr(*hostIp, entry)) return true;
        continue;
      }
      if (auto entryIp = parseIp(entry)) {
        if (entryIp->size == hostIp->size && entryIp->bytes == hostIp->bytes) return true;
        continue;
      }
    }

    // "host:port" (IPv6 literals need brackets to carry a port: "[::1]:8080").
    int entryPort = 0;
    if (entry.front() == '[') {
      const auto close = entry.find(']');
      if (close == std::string::npos) continue;
      if (close + 1 < entry.size()) {
        if (entry[close + 1] != ':') continue;
        entryPort = parsePort(std::string_view(entry).substr(close + 2));
        if (entryPort < 0) continue;
      }
      entry = entry.substr(1, close - 1);
      if (hostIp) {
        auto entryIp = parseIp(entry);
        if (entryIp && entryIp->size == hostIp->size && entryIp->bytes == hostIp->bytes &&
            (entryPort == 0 || entryPort == port)) {
          return true;
        }
      }
      continue;
    }
    if (const auto colon = entry.rfind(':');
        colon != std::string::npos && entry.find(':') == colon) {
      entryPort = parsePort(std::string_view(entry).substr(colon + 1));
      if (entryPort < 0) continue;
      entry = entry.substr(0, colon);
      if (hostIp) {
        auto entryIp = parseIp(entry);
        if (entryIp && entryIp->size == hostIp->size && entryIp->bytes == hostIp->bytes &&
            entryPort == port) {
          return true;
        }
      }
    }
    if (entryPort != 0 && entryPort != port) continue;
    if (entry.starts_with("*.")) entry.erase(0, 2);
    if (entry.starts_with(".")) entry.erase(0, 1);
    while (!entry.empty() && entry.back() == '.') entry.pop_back();
    if (entry.empty()) continue;
    if (host == entry) return true;
    if (host.size() > entry.size() && host.ends_with(entry) &&
        host[host.size() - entry.size() - 1] == '.') {
      return true;
    }
  }
  return false;
}

std::string proxyFor(const ProxySettings& settings, const Url& url) {
  const std::string& proxy = url.scheme == "https" ? settings.httpsProxy : settings.httpProxy;
  if (proxy.empty()) return {};
  if (noProxyMatches(settings.noProxy, url.host, url.effectivePort())) return {};
  if (proxy.find("://") == std::string::npos) return "http://" + proxy;
  return proxy;
}

}  // namespace endpointbinder::aws
