// HttpTransport: the one seam between endpoint-binder and the network for AWS and metadata
// calls. Synchronous: callers run on worker threads; timeouts bound every call.
// Thread-safety: implementations must allow concurrent send() calls.
#pragma once

#include <chrono>
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
};

struct HttpResponse {
  int status = 0;
  Headers headers;
  std::string body;
};

class HttpTransport {
 public:
  virtual ~HttpTransport() = default;
  // Sends one request. On success returns the response whatever its status code. On failure
  // (DNS, connect, TLS, timeout, reset) returns an Error of kind kRetryable with code
  // "ConnectTimeout", "RequestTimeout", "ConnectionError" or "TlsError", never the request body.
  virtual core::Result<HttpResponse> send(const HttpRequest& request) = 0;
};

}  // namespace endpointbinder::aws
