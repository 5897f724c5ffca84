#include "controller/aws/credentials_imds.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <thread>

#include "controller/aws/credentials_json.h"

namespace endpointbinder::aws {
namespace {

using core::ErrorKind;

constexpr std::string_view kTokenPath = "/latest/api/token";
constexpr std::string_view kCredentialsPath = "/latest/meta-data/iam/security-credentials/";

bool isTrue(const std::optional<std::string>& value) {
  if (!value) return false;
  std::string lower = *value;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return lower == "true";
}

// A role name is one path segment of printable characters.
bool isSafeRoleName(std::string_view role) {
  if (role.empty() || role.size() > 128 || role == "." || role == "..") return false;
  return std::all_of(role.begin(), role.end(), [](char c) {
    return c > 0x20 && c < 0x7f && c != '/' && c != '?' && c != '#' && c != '%';
  });
}

}  // namespace

ImdsCredentialsProvider::ImdsCredentialsProvider(Environment env, ImdsOptions options,
                                                 HttpTransport& transport)
    : env_(std::move(env)),
      options_(std::move(options)),
      transport_(transport),
      timeout_(options_.timeout),
      attempts_(std::max(1, options_.maxAttempts)) {
  if (!options_.endpoint.empty()) {
    endpoint_ = options_.endpoint;
  } else if (auto configured = env_.getNonEmpty("AWS_EC2_METADATA_SERVICE_ENDPOINT")) {
    endpoint_ = *configured;
  } else if (auto mode = env_.getNonEmpty("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE");
             mode && (*mode == "IPv6" || *mode == "ipv6")) {
    endpoint_ = "http://[fd00:ec2::254]";
  } else {
    endpoint_ = "http://169.254.169.254";
  }
  while (endpoint_.ends_with('/')) endpoint_.pop_back();

  if (auto text = env_.getNonEmpty("AWS_METADATA_SERVICE_TIMEOUT")) {
    char* end = nullptr;
    const double seconds = std::strtod(text->c_str(), &end);
    if (end != text->c_str() && *end == '\0' && seconds > 0 && seconds <= 300) {
      timeout_ = std::chrono::milliseconds(static_cast<long long>(seconds * 1000));
    }
  }
  if (auto text = env_.getNonEmpty("AWS_METADATA_SERVICE_NUM_ATTEMPTS")) {
    char* end = nullptr;
    const long attempts = std::strtol(text->c_str(), &end, 10);
    if (end != text->c_str() && *end == '\0' && attempts >= 1 && attempts <= 10) {
      attempts_ = static_cast<int>(attempts);
    }
  }
}

core::Result<Credentials> ImdsCredentialsProvider::credentials() {
  if (isTrue(env_.get("AWS_EC2_METADATA_DISABLED"))) {
    return std::unexpected(
        credentialsNotConfigured("imds: disabled by AWS_EC2_METADATA_DISABLED=true"));
  }
  auto pause = [&](int attempt) {
    if (attempt <= 1) return;
    if (options_.sleep) {
      options_.sleep(options_.retryDelay);
    } else {
      std::this_thread::sleep_for(options_.retryDelay);
    }
  };

  // 1. Session token.
  std::optional<std::string> token;
  {
    HttpRequest request;
    request.method = "PUT";
    request.url = endpoint_ + std::string(kTokenPath);
    request.timeout = timeout_;
    request.bypassProxy = true;
    request.headers = {{"x-aws-ec2-metadata-token-ttl-seconds", "21600"}};
    std::string lastProblem;
    bool v1Fallback = false;
    for (int attempt = 1; attempt <= attempts_ && !token && !v1Fallback; ++attempt) {
      pause(attempt);
      auto response = transport_.send(request);
      if (!response) {
        lastProblem =
            response.error().code.empty() ? response.error().message : response.error().code;
        continue;
      }
      if (response->status == 200 && !response->body.empty() &&
          response->body.find_first_of(std::string_view("\r\n\0", 3)) == std::string::npos) {
        token = response->body;
      } else if (response->status == 403 || response->status == 404 || response->status == 405) {
        v1Fallback = true;
      } else if (response->status == 400) {
        lastProblem = "token request rejected (HTTP 400)";
        break;
      } else {
        lastProblem = "token endpoint answered HTTP " + std::to_string(response->status);
      }
    }
    if (!token && !v1Fallback) {
      return std::unexpected(
          credentialsNotConfigured("imds: " + endpoint_ + " unavailable (" + lastProblem + ")"));
    }
    if (!token && isTrue(env_.get("AWS_EC2_METADATA_V1_DISABLED"))) {
      return core::makeError(ErrorKind::kAuth,
                             "imds: IMDSv2 token unavailable and IMDSv1 disabled by "
                             "AWS_EC2_METADATA_V1_DISABLED",
                             "ImdsV1Disabled");
    }
  }

  auto get = [&](const std::string& path) -> core::Result<HttpResponse> {
    HttpRequest request;
    request.method = "GET";
    request.url = endpoint_ + path;
    request.timeout = timeout_;
    request.bypassProxy = true;
    if (token) request.headers = {{"x-aws-ec2-metadata-token", *token}};
    core::Result<HttpResponse> last = std::unexpected(core::Error{});
    for (int attempt = 1; attempt <= attempts_; ++attempt) {
      pause(attempt);
      last = transport_.send(request);
      if (last && (last->status == 200 || last->status == 404)) return last;
    }
    return last;
  };

  // 2. Role name.
  auto roleResponse = get(std::string(kCredentialsPath));
  if (!roleResponse) {
    return std::unexpected(credentialsNotConfigured("imds: " + endpoint_ + " unavailable (" +
                                                    roleResponse.error().code + ")"));
  }
  if (roleResponse->status == 404) {
    return std::unexpected(
        credentialsNotConfigured("imds: no IAM role is attached to this instance"));
  }
  if (roleResponse->status != 200) {
    return core::makeError(
        ErrorKind::kRetryable,
        "imds: role lookup answered HTTP " + std::to_string(roleResponse->status),
        "ImdsUnavailable");
  }
  std::string_view role = roleResponse->body;
  role = role.substr(0, role.find_first_of("\r\n"));
  while (!role.empty() && std::isspace(static_cast<unsigned char>(role.back()))) {
    role.remove_suffix(1);
  }
  if (role.empty()) {
    return std::unexpected(
        credentialsNotConfigured("imds: no IAM role is attached to this instance"));
  }
  if (!isSafeRoleName(role)) {
    return core::makeError(ErrorKind::kRetryable, "imds: role name is malformed",
                           "InvalidCredentialsResponse");
  }

  // 3. Credentials for the role.
  core::Error last;
  for (int attempt = 1; attempt <= attempts_; ++attempt) {
    pause(attempt);
    HttpRequest request;
    request.method = "GET";
    request.url = endpoint_ + std::string(kCredentialsPath) + std::string(role);
    request.timeout = timeout_;
    request.bypassProxy = true;
    if (token) request.headers = {{"x-aws-ec2-metadata-token", *token}};
    auto response = transport_.send(request);
    if (!response) {
      last = response.error();
      last.message = "imds: " + last.message;
      continue;
    }
    if (response->status != 200) {
      last = core::Error{ErrorKind::kRetryable,
                         "imds: credentials for role " + std::string(role) + " answered HTTP " +
                             std::to_string(response->status),
                         "ImdsUnavailable",
                         {},
                         response->status};
      continue;
    }
    auto parsed = parseCredentialsJson(response->body, "imds");
    if (parsed) return parsed;
    last = parsed.error();
  }
  return std::unexpected(last);
}

}  // namespace endpointbinder::aws
