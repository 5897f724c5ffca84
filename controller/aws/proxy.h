// Proxy selection from the conventional environment variables, as curl, Python's urllib
// (botocore) and the Go SDK read them:
//   HTTPS_PROXY / https_proxy   proxy for https:// URLs
//   HTTP_PROXY  / http_proxy    proxy for http:// URLs
//   NO_PROXY    / no_proxy      comma-separated hosts that bypass the proxy
// The lowercase spelling wins when both are set (urllib's rule). A proxy URL without a scheme
// ("proxy:3128") means http://.
//
// NO_PROXY entries (case-insensitive, blanks around entries ignored):
//   "*"                    every host bypasses the proxy
//   "example.com"          example.com and any subdomain (a.example.com), not badexample.com
//   ".example.com"         the same ("*.example.com" too)
//   "example.com:8443"     only that port
//   "10.0.0.1", "::1"      that IP literal (IPv6 with or without brackets)
//   "10.0.0.0/8", "fd00::/8"  any IP literal inside the CIDR block
// Host names are never resolved: "10.0.0.0/8" does not match "internal.example".
// Thread-safety: pure functions and plain values.
#pragma once

#include <string>
#include <string_view>

#include "controller/aws/environment.h"
#include "controller/aws/url.h"

namespace endpointbinder::aws {

struct ProxySettings {
  std::string httpProxy;   // for http:// URLs; empty: direct
  std::string httpsProxy;  // for https:// URLs; empty: direct
  std::string noProxy;     // raw NO_PROXY list
};

ProxySettings proxySettingsFromEnvironment(const Environment& env);

// True when `host` (lowercase or not; IPv6 without brackets) on `port` must bypass the proxy.
bool noProxyMatches(std::string_view noProxy, std::string_view host, int port);

// The proxy URL to use for `url` ("http://proxy:3128"), or empty for a direct connection.
std::string proxyFor(const ProxySettings& settings, const Url& url);

}  // namespace endpointbinder::aws
