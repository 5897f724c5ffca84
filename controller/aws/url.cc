#include "controller/aws/url.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <string>

#include "controller/core/text.h"

namespace endpointbinder::aws {
namespace {

std::unexpected<core::Error> invalid(std::string message) {
  return core::makeError(core::ErrorKind::kTerminal, std::move(message), "InvalidUrl");
}

bool isSchemeChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.';
}

}  // namespace

int Url::effectivePort() const {
  if (port != 0) return port;
  return scheme == "https" ? 443 : 80;
}

bool Url::hasNonDefaultPort() const { return port != 0 && port != (scheme == "https" ? 443 : 80); }

std::string Url::hostForHeader() const {
  if (host.find(':') != std::string::npos) return "[" + host + "]";
  return host;
}

std::string Url::origin() const {
  std::string out = scheme + "://" + hostForHeader();
  if (hasNonDefaultPort()) out += ":" + std::to_string(port);
  return out;
}

core::Result<Url> parseUrl(std::string_view text) {
  const auto schemeEnd = text.find("://");
  if (schemeEnd == std::string_view::npos || schemeEnd == 0) {
    return invalid("URL has no scheme (want https://host/...)");
  }
  for (char c : text.substr(0, schemeEnd)) {
    if (!isSchemeChar(c)) return invalid("URL scheme is malformed");
  }
  Url url;
  url.scheme = core::asciiLower(text.substr(0, schemeEnd));
  if (url.scheme != "http" && url.scheme != "https") {
    return invalid("URL scheme must be http or https, not \"" + url.scheme + "\"");
  }
  std::string_view rest = text.substr(schemeEnd + 3);
  const auto authorityEnd = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, authorityEnd);
  std::string_view tail =
      authorityEnd == std::string_view::npos ? std::string_view{} : rest.substr(authorityEnd);

  for (char c : authority) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f) return invalid("URL authority contains a space or control byte");
  }
  if (const auto at = authority.rfind('@'); at != std::string_view::npos) {
    url.userinfo = std::string(authority.substr(0, at));
    authority = authority.substr(at + 1);
  }

  std::string_view hostPart = authority;
  std::string_view portPart;
  if (authority.starts_with('[')) {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return invalid("URL has an unterminated IPv6 literal");
    hostPart = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return invalid("URL has junk after the IPv6 literal");
      portPart = after.substr(1);
      if (portPart.empty()) return invalid("URL has an empty port");
    }
    if (!isIpLiteral(hostPart) || hostPart.find(':') == std::string_view::npos) {
      return invalid("URL has a malformed IPv6 literal");
    }
  } else {
    const auto colon = authority.rfind(':');
    if (colon != std::string_view::npos) {
      hostPart = authority.substr(0, colon);
      portPart = authority.substr(colon + 1);
      if (portPart.empty()) return invalid("URL has an empty port");
    }
    if (hostPart.find_first_of("[]") != std::string_view::npos) {
      return invalid("URL host is malformed");
    }
  }
  if (hostPart.empty()) return invalid("URL has no host");
  if (authority.front() != '[') {
    for (char c : hostPart) {
      const bool ok =
          std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_';
      if (!ok) return invalid("URL host contains a character not allowed in host names");
    }
  }
  url.host = core::asciiLower(hostPart);

  if (!portPart.empty()) {
    if (portPart.size() > 5) return invalid("URL port is out of range");
    int port = 0;
    for (char c : portPart) {
      if (c < '0' || c > '9') return invalid("URL port is not a number");
      port = port * 10 + (c - '0');
    }
    if (port < 1 || port > 65535) return invalid("URL port is out of range");
    url.port = port;
  }

  if (const auto hash = tail.find('#'); hash != std::string_view::npos) tail = tail.substr(0, hash);
  if (const auto q = tail.find('?'); q != std::string_view::npos) {
    url.query = std::string(tail.substr(q + 1));
    url.hasQuery = true;
    tail = tail.substr(0, q);
  }
  url.path = tail.empty() ? "/" : std::string(tail);
  return url;
}

bool isIpLiteral(std::string_view host) {
  if (host.empty() || host.size() >= INET6_ADDRSTRLEN) return false;
  const std::string text(host);
  unsigned char buffer[sizeof(struct in6_addr)];
  if (host.find(':') != std::string_view::npos) {
    return inet_pton(AF_INET6, text.c_str(), buffer) == 1;
  }
  return inet_pton(AF_INET, text.c_str(), buffer) == 1;
}

}  // namespace endpointbinder::aws
