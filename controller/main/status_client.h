// Reading a running controller's status API (GET /apis/endpointbinder.io/v1alpha1/...), for
// `get`, `describe` and `healthcheck`.
// Thread-safety: free functions; each call makes its own HTTP client.
#pragma once

#include <chrono>
#include <string>

#include "controller/core/error.h"

namespace endpointbinder::cli {

struct HttpGetResult {
  int status = 0;
  std::string body;
};

// GET `baseUrl` + `path` with a timeout. Connection failures are kRetryable errors whose
// message names the URL ("is the controller running? --server ...").
core::Result<HttpGetResult> httpGet(const std::string& baseUrl, const std::string& path,
                                    std::chrono::milliseconds timeout);

}  // namespace endpointbinder::cli
