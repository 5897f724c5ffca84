#include "controller/aws/credentials_imds.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <thread>

#include "controller/aws/credentials_json.h"
#include "controller/aws/shared_config.h"
#include "controller/core/text.h"

namespace endpointbinder::aws {
namespace {

using core::ErrorKind;

constexpr std::string_view kTokenPath = "/latest/api/token";
constexpr std::string_view kCredentialsPath = "/latest/meta-data/iam/security-credentials/";

bool isTrueSetting(const std::optional<std::string>& value) {
  return value && core::asciiLower(*value) == "true";
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

std::optional<std::string> ImdsCredentialsProvider::imdsV1DisabledBy() const {
  // botocore's ec2_metadata_v1_disabled: the environment variable when set (even to "false"),
  // else the profile's key.
  if (auto variable = env_.get("AWS_EC2_METADATA_V1_DISABLED")) {
    if (isTrueSetting(variable)) return "AWS_EC2_METADATA_V1_DISABLED=" + *variable;
    return std::nullopt;
  }
  auto files = loadSharedConfigFiles(env_);
  if (!files) return std::nullopt;  // the shared-files provider reports a broken file
  const std::string profile = selectedProfileName(env_);
  if (isTrueSetting(configProfileValue(*files, profile, "ec2_metadata_v1_disabled"))) {
    return "ec2_metadata_v1_disabled = true in profile " + profile + " of " + files->configPath;
  }
  return std::nullopt;
}

core::Result<Credentials> ImdsCredentialsProvider::credentials() {
  if (isTrueSetting(env_.get("AWS_EC2_METADATA_DISABLED"))) {
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

  // 1. Session token, with botocore's rules (IMDSFetcher._fetch_metadata_token), per attempt:
  //  - 200: the token (which must also be one line: it goes into a header);
  //  - 403, 404, 405: IMDSv2 is absent or turned off: IMDSv1 at once;
  //  - 400: the request is malformed, and so would every later one be: no credentials;
  //  - a read timeout (connected, no answer: RequestTimeout): IMDSv1 at once, no retry. This is
  //    how a hop limit of 1 looks from a container behind a bridge: the PUT response dies one
  //    hop short, while GET responses are not limited;
  //  - any other status, a connect timeout or a connection error: the next attempt, and IMDSv1
  //    once the attempts are used up.
  // Not in botocore: a transport error that can never succeed (kTerminal: a malformed endpoint,
  // shutdown) ends here, as then would every GET.
  const std::string tokenRequest =
      "the IMDSv2 token request (PUT " + endpoint_ + std::string(kTokenPath) + ")";
  std::optional<std::string> token;
  std::string noToken;         // why there is none, for the errors of a failed fallback
  bool tokenTimedOut = false;  // the hop-limit symptom
  {
    HttpRequest request;
    request.method = "PUT";
    request.url = endpoint_ + std::string(kTokenPath);
    request.timeout = timeout_;
    request.bypassProxy = true;
    request.headers = {{"x-aws-ec2-metadata-token-ttl-seconds", "21600"}};
    for (int attempt = 1; attempt <= attempts_; ++attempt) {
      pause(attempt);
      auto response = transport_.send(request);
      if (!response) {
        const core::Error& error = response.error();
        const std::string code = error.code.empty() ? error.message : error.code;
        if (error.kind == ErrorKind::kTerminal) {
          return std::unexpected(
              credentialsNotConfigured("imds: " + endpoint_ + " unavailable (" + code + ")"));
        }
        // A read timeout is the hop-limit symptom; a connect timeout means IMDS is unreachable.
        tokenTimedOut = error.code == "RequestTimeout";
        if (error.code == "RequestTimeout") {
          noToken = tokenRequest + " got no answer within " + std::to_string(timeout_.count()) +
                    " ms (" + code + ")";
          break;
        }
        noToken = tokenRequest + " failed " + std::to_string(attempt) + " time" +
                  (attempt == 1 ? "" : "s") + " (last: " + code + ")";
        continue;
      }
      tokenTimedOut = false;
      if (response->status == 200 && !response->body.empty() &&
          response->body.find_first_of(std::string_view("\r\n\0", 3)) == std::string::npos) {
        token = response->body;
        break;
      }
      if (response->status == 400) {
        return std::unexpected(credentialsNotConfigured(
            "imds: " + endpoint_ + " unavailable (token request rejected (HTTP 400))"));
      }
      noToken = tokenRequest + " answered HTTP " + std::to_string(response->status) +
                (response->status == 200 ? " with an unusable token" : "");
      if (response->status == 403 || response->status == 404 || response->status == 405) break;
    }
  }
  // After a token timeout the likely cause, and what to do about it.
  const std::string hopLimitHint =
      tokenTimedOut
          ? "; the likely cause: the instance's metadata hop limit (HttpPutResponseHopLimit) is "
            "1, so the token response dies one hop short of a container on a bridge network "
            "(ECS on EC2, Docker). Raise it to 2 (aws ec2 modify-instance-metadata-options "
            "--instance-id <id> --http-put-response-hop-limit 2, or MetadataOptions in the "
            "launch template), or give the task an ECS task role"
          : "";
  if (!token) {
    if (auto disabledBy = imdsV1DisabledBy()) {
      return core::makeError(ErrorKind::kAuth,
                             "imds: " + noToken + ", and the IMDSv1 fallback is disabled by " +
                                 *disabledBy + hopLimitHint,
                             "ImdsV1Disabled");
    }
  }
  // An instance that requires IMDSv2 (HttpTokens=required) answers a GET without a token 401.
  auto v1Refused = [&](const std::string& url) {
    return core::makeError(ErrorKind::kAuth,
                           "imds: " + noToken + ", and IMDSv1 is disabled on this instance (GET " +
                               url + " without a token answered HTTP 401)" + hopLimitHint,
                           "ImdsV1Disabled");
  };

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
      if (last && last->status == 401 && !token) return last;  // will not change on retry
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
  if (roleResponse->status == 401 && !token) {
    return v1Refused(endpoint_ + std::string(kCredentialsPath));
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
    if (response->status == 401 && !token) return v1Refused(request.url);
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
