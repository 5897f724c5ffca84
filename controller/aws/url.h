// Url: the small absolute-URL parser the AWS layer shares (signer, transport, proxy and
// metadata-endpoint checks). It splits scheme://[userinfo@]host[:port]/path?query#fragment
// without decoding anything, so the signer sees the path and query exactly as they will be sent.
// Thread-safety: pure functions and plain values.
#pragma once

#include <string>
#include <string_view>

#include "controller/core/error.h"

namespace endpointbinder::aws {

struct Url {
  std::string scheme;    // lowercased: "https", "http"
  std::string userinfo;  // "user:pass" for proxy URLs; empty otherwise
  std::string host;      // lowercased; IPv6 literals without brackets ("::1")
  int port = 0;          // 0 when the URL names none
  std::string path;      // as written, "/" when empty
  std::string query;     // after '?', without it; empty when absent
  bool hasQuery = false;

  // The port to connect to: the explicit one, else 443 for https and 80 for http.
  int effectivePort() const;
  // True when `port` is explicit and is not the scheme's default.
  bool hasNonDefaultPort() const;
  // host, bracketed when it is an IPv6 literal.
  std::string hostForHeader() const;
  // "scheme://host[:port]" with the port only when not the scheme's default.
  std::string origin() const;
};

// Parses an absolute http(s) URL. On failure (no scheme, scheme other than http/https, empty
// host, bad port, control characters or spaces in the authority) returns a kTerminal Error with
// code "InvalidUrl"; the message names the problem but never repeats userinfo.
core::Result<Url> parseUrl(std::string_view text);

// True for IPv4 dotted quads ("10.0.0.1") and IPv6 literals ("fd00:ec2::23", no brackets).
bool isIpLiteral(std::string_view host);

}  // namespace endpointbinder::aws
