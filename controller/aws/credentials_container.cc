#include "controller/aws/credentials_container.h"

#include <arpa/inet.h>

#include <algorithm>
#include <thread>

#include "controller/aws/credentials_json.h"
#include "controller/aws/shared_config.h"
#include "controller/aws/url.h"

namespace endpointbinder::aws {
namespace {

using core::ErrorKind;

constexpr std::size_t kMaxTokenFileBytes = 16 * 1024;

bool isLoopbackOrAllowedIp(const std::string& host) {
  unsigned char v4[4];
  if (inet_pton(AF_INET, host.c_str(), v4) == 1) {
    if (v4[0] == 127) return true;  // 127.0.0.0/8
    return (v4[0] == 169 && v4[1] == 254 && v4[2] == 170 && (v4[3] == 2 || v4[3] == 23));
  }
  unsigned char v6[16];
  if (inet_pton(AF_INET6, host.c_str(), v6) == 1) {
    static const unsigned char kLoopback[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    static const unsigned char kEksPodIdentity[16] = {0xfd, 0x00, 0x0e, 0xc2, 0, 0, 0, 0,
                                                      0,    0,    0,    0,    0, 0, 0, 0x23};
    if (std::equal(v6, v6 + 16, kLoopback) || std::equal(v6, v6 + 16, kEksPodIdentity)) {
      return true;
    }
    // IPv4-mapped loopback (::ffff:127.x.y.z).
    static const unsigned char kMappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    return std::equal(v6, v6 + 12, kMappedPrefix) && v6[12] == 127;
  }
  return false;
}

bool hasLineBreak(std::string_view text) {
  return text.find_first_of("\r\n") != std::string_view::npos;
}

}  // namespace

std::string redactContainerCredentialsSecrets(std::string text, const Environment& env) {
  if (auto relative = env.getNonEmpty("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")) {
    redactSecret(text, *relative, "/<redacted path>");
    // Without its leading '/', as a message might quote the path relative to something.
    if (relative->size() > 1) redactSecret(text, relative->substr(1), "<redacted path>");
  }
  if (auto full = env.getNonEmpty("AWS_CONTAINER_CREDENTIALS_FULL_URI")) {
    redactSecret(text, *full, redactedUrl(*full));
    if (auto url = parseUrl(*full)) {
      if (url->hasQuery) redactSecret(text, url->path + "?" + url->query, "/<redacted path>");
      redactSecret(text, url->path, "/<redacted path>");
      if (url->path.size() > 1) redactSecret(text, url->path.substr(1), "<redacted path>");
      if (url->hasQuery) redactSecret(text, url->query, "<redacted query>");
    }
  }
  if (auto token = env.getNonEmpty("AWS_CONTAINER_AUTHORIZATION_TOKEN")) {
    redactSecret(text, *token, "<redacted token>");
  }
  return text;
}

bool isAllowedContainerCredentialsUrl(std::string_view text) {
  auto url = parseUrl(text);
  if (!url || !url->userinfo.empty()) return false;
  if (url->scheme == "https") return true;
  return url->host == "localhost" || isLoopbackOrAllowedIp(url->host);
}

ContainerCredentialsProvider::ContainerCredentialsProvider(Environment env,
                                                           ContainerOptions options,
                                                           HttpTransport& transport)
    : env_(std::move(env)), options_(std::move(options)), transport_(transport) {}

core::Result<Credentials> ContainerCredentialsProvider::credentials() {
  std::string url;
  if (auto relative = env_.getNonEmpty("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")) {
    if (!relative->starts_with('/') || hasLineBreak(*relative)) {
      return core::makeError(ErrorKind::kAuth,
                             "container: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI must be a path "
                             "starting with '/'",
                             "InvalidContainerCredentialsUri");
    }
    url = options_.relativeUriBase + *relative;
  } else if (auto full = env_.getNonEmpty("AWS_CONTAINER_CREDENTIALS_FULL_URI")) {
    if (!parseUrl(*full)) {
      return core::makeError(ErrorKind::kAuth,
                             "container: AWS_CONTAINER_CREDENTIALS_FULL_URI is not a valid "
                             "http(s) URL",
                             "InvalidContainerCredentialsUri");
    }
    if (!isAllowedContainerCredentialsUrl(*full)) {
      return core::makeError(
          ErrorKind::kAuth,
          "container: AWS_CONTAINER_CREDENTIALS_FULL_URI host " + parseUrl(*full)->host +
              " is not allowed over http (use https, or a loopback address, 169.254.170.2, "
              "169.254.170.23 or fd00:ec2::23)",
          "InvalidContainerCredentialsUri");
    }
    url = *full;
  } else {
    return std::unexpected(
        credentialsNotConfigured("container: neither AWS_CONTAINER_CREDENTIALS_RELATIVE_URI nor "
                                 "AWS_CONTAINER_CREDENTIALS_FULL_URI is set"));
  }

  HttpRequest request;
  request.method = "GET";
  request.url = url;
  request.timeout = options_.timeout;
  request.bypassProxy = true;
  request.secretPath = true;
  request.headers = {{"Accept", "application/json"}};
  // The token (file re-read per call: EKS rotates it) is resolved before any request.
  std::optional<std::string> token;
  if (auto tokenFile = env_.getNonEmpty("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")) {
    auto contents = readSmallFile(expandHome(*tokenFile, env_), kMaxTokenFileBytes,
                                  "InvalidAuthorizationToken");
    if (!contents || !contents->has_value()) {
      return core::makeError(
          ErrorKind::kAuth,
          "container: AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE " +
              (contents ? *tokenFile + " does not exist" : contents.error().message),
          "InvalidAuthorizationToken");
    }
    token = std::move(**contents);
  } else if (auto value = env_.get("AWS_CONTAINER_AUTHORIZATION_TOKEN")) {
    token = std::move(*value);
  }
  if (token) {
    if (hasLineBreak(*token) || token->find('\0') != std::string::npos) {
      return core::makeError(ErrorKind::kAuth,
                             "container: the authorization token contains CR, LF or NUL, which "
                             "is not a legal header value",
                             "InvalidAuthorizationToken");
    }
    request.headers.emplace_back("Authorization", *token);
  }

  const int attempts = std::max(1, options_.maxAttempts);
  core::Error last;
  for (int attempt = 1; attempt <= attempts; ++attempt) {
    if (attempt > 1) {
      if (options_.sleep) {
        options_.sleep(options_.retryDelay);
      } else {
        std::this_thread::sleep_for(options_.retryDelay);
      }
    }
    auto response = transport_.send(request);
    if (!response) {
      last = response.error();
      // The transport already leaves the path out; this also holds for any transport.
      last.message = "container: " + redactContainerCredentialsSecrets(last.message, env_);
      if (last.kind == ErrorKind::kRetryable) continue;
      return std::unexpected(last);
    }
    if (response->status == 200) {
      auto parsed = parseCredentialsJson(response->body, "container");
      if (parsed) return parsed;
      last = parsed.error();
      continue;
    }
    last = core::Error{ErrorKind::kRetryable,
                       "container: credentials endpoint " + redactedUrl(url) + " answered HTTP " +
                           std::to_string(response->status),
                       "ContainerCredentialsUnavailable",
                       {},
                       response->status};
    if (response->status >= 400 && response->status < 500 && response->status != 429) {
      last.kind = ErrorKind::kAuth;
      last.code = "ContainerCredentialsDenied";
      return std::unexpected(last);
    }
  }
  return std::unexpected(last);
}

}  // namespace endpointbinder::aws
