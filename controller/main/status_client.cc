#include "controller/main/status_client.h"

#include <cpprest/http_client.h>

namespace endpointbinder::cli {

core::Result<HttpGetResult> httpGet(const std::string& baseUrl, const std::string& path,
                                    std::chrono::milliseconds timeout) {
  try {
    web::http::client::http_client_config config;
    config.set_timeout(timeout);
    web::http::client::http_client client(baseUrl, config);
    auto response = client.request(web::http::methods::GET, path).get();
    return HttpGetResult{response.status_code(), response.extract_utf8string(true).get()};
  } catch (const std::exception& e) {
    return core::makeError(core::ErrorKind::kRetryable,
                           "cannot reach " + baseUrl + path + ": " + e.what() +
                               " (is the controller running? see --server)",
                           "ConnectionError");
  }
}

}  // namespace endpointbinder::cli
