// HttpTransport: the one seam between endpoint-binder and the network for AWS and metadata
// calls. Synchronous: callers run on worker threads; timeouts bound every call.
// Thread-safety: implementations must allow concurrent send() calls.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "controller/core/error.h"

namespace endpointbinder::aws {

using Headers = std::vector<std::pair<std::string, std::string>>;  // order kept, duplicates allowed

// Case-insensitive lookup of the first header named `name`; empty when absent.
std::string_view findHeader(const Headers& headers, std::string_view name);

struct HttpRequest {
  std::string method = "GET";
  std::string url;  // absolute: scheme://host[:port]/path[?query]; path and query already encoded
  Headers headers;
  std::string body;
  std::chrono::milliseconds timeout{10'000};  // whole request, connect included
  // Always connect directly, whatever HTTP(S)_PROXY say. Metadata endpoints (container
  // credentials, IMDS) set it: they are link-local or loopback, and a proxy would be handed
  // the credentials they return (and, for the container endpoint, the secret path).
  bool bypassProxy = false;
  // The path and query are a secret (the container credentials URI): error messages show
  // the origin and "<redacted path>" instead.
  bool secretPath = false;
};

struct HttpResponse {
  int status = 0;
  Headers headers;
  std::string body;
};

// "<scheme>://<host>[:port]/<redacted path>" for a URL whose path and query are secret;
// "<redacted URL>" when it does not parse as a URL.
std::string redactedUrl(std::string_view url);

// Replaces every occurrence of `secret` in `text` with `replacement`. Secrets shorter than 4
// characters are left alone: replacing "/" or "ab" everywhere would garble messages and hide
// nothing worth hiding.
void redactSecret(std::string& text, std::string_view secret, std::string_view replacement);

// The time in an HTTP Date header: IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT", RFC 9110
// 5.6.7), also the obsolete RFC 850 and asctime forms; nullopt for anything else.
std::optional<std::chrono::system_clock::time_point> parseHttpDate(std::string_view text);

class HttpTransport {
 public:
  virtual ~HttpTransport() = default;
  // Sends one request. On success returns the response whatever its status code. On failure
  // (DNS, connect, TLS, timeout, reset) returns an Error of kind kRetryable with code
  // "ConnectTimeout", "RequestTimeout", "ConnectionError" or "TlsError", never the request body
  // (nor, with secretPath, its path); a transport that is shutting down answers kTerminal
  // "Cancelled". Implementations honour bypassProxy.
  virtual core::Result<HttpResponse> send(const HttpRequest& request) = 0;
};

}  // namespace endpointbinder::aws
