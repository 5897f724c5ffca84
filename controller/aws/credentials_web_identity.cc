#include "controller/aws/credentials_web_identity.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <pugixml.hpp>
#include <thread>

#include "controller/aws/credentials_json.h"
#include "controller/aws/retry.h"
#include "controller/aws/shared_config.h"
#include "controller/aws/sigv4.h"
#include "controller/core/text.h"

namespace endpointbinder::aws {
namespace {

using core::ErrorKind;

constexpr std::size_t kMaxTokenBytes = 64 * 1024;
constexpr std::size_t kMaxResponseBytes = 256 * 1024;

// pugixml node lookup by local name, ignoring any namespace prefix.
pugi::xml_node childNamed(pugi::xml_node parent, std::string_view name) {
  for (pugi::xml_node child = parent.first_child(); child; child = child.next_sibling()) {
    if (child.type() != pugi::node_element) continue;
    std::string_view full = child.name();
    const auto colon = full.find(':');
    if (colon != std::string_view::npos) full = full.substr(colon + 1);
    if (full == name) return child;
  }
  return {};
}

std::string textOf(pugi::xml_node node) { return node.text().as_string(); }

std::string_view trimWhitespace(std::string_view text) {
  return core::trimmed(text, core::kAsciiWhitespace);
}

}  // namespace

core::Result<Credentials> parseStsCredentialsResponse(int httpStatus, std::string_view body,
                                                      std::string_view providerName) {
  const std::string provider(providerName);
  if (body.size() > kMaxResponseBytes) {
    return core::makeError(ErrorKind::kRetryable, provider + ": STS response too large",
                           "InvalidCredentialsResponse");
  }
  pugi::xml_document document;
  const auto parsed = document.load_buffer(body.data(), body.size(), pugi::parse_default);

  if (httpStatus < 200 || httpStatus >= 300) {
    core::Error error;
    error.httpStatus = httpStatus;
    pugi::xml_node errorNode;
    if (parsed) {
      const pugi::xml_node root = document.document_element();
      // STS Query errors:
      // <ErrorResponse><Error><Code/><Message/></Error><RequestId/></ErrorResponse>
      errorNode = childNamed(root, "Error");
      error.requestId = core::printableAscii(textOf(childNamed(root, "RequestId")), 128, ' ');
    }
    error.code =
        errorNode ? core::printableAscii(textOf(childNamed(errorNode, "Code")), 128, ' ') : "";
    if (error.code.empty()) error.code = "HttpStatus" + std::to_string(httpStatus);
    const std::string message =
        errorNode ? core::printableAscii(textOf(childNamed(errorNode, "Message")), 256, ' ') : "";
    error.message = provider + ": STS AssumeRoleWithWebIdentity failed" +
                    (message.empty() ? "" : ": " + message);
    const bool retryable = httpStatus >= 500 || httpStatus == 429 || isThrottlingCode(error.code) ||
                           isTransientCode(error.code) || error.code == "IDPCommunicationError";
    error.kind = retryable ? ErrorKind::kRetryable : ErrorKind::kAuth;
    return std::unexpected(std::move(error));
  }

  if (!parsed) {
    return core::makeError(ErrorKind::kRetryable, provider + ": STS response is not XML",
                           "InvalidCredentialsResponse");
  }
  const pugi::xml_node root = document.document_element();
  pugi::xml_node result;
  for (const char* name : {"AssumeRoleWithWebIdentityResult", "AssumeRoleResult"}) {
    result = childNamed(root, name);
    if (result) break;
  }
  const pugi::xml_node credentialsNode = childNamed(result, "Credentials");
  Credentials credentials;
  credentials.providerName = provider;
  credentials.accessKeyId = textOf(childNamed(credentialsNode, "AccessKeyId"));
  credentials.secretAccessKey = textOf(childNamed(credentialsNode, "SecretAccessKey"));
  credentials.sessionToken = textOf(childNamed(credentialsNode, "SessionToken"));
  const std::string expiration = textOf(childNamed(credentialsNode, "Expiration"));
  if (credentials.accessKeyId.empty() || credentials.secretAccessKey.empty() ||
      credentials.sessionToken.empty() || expiration.empty()) {
    return core::makeError(ErrorKind::kRetryable,
                           provider +
                               ": STS response lacks Credentials (AccessKeyId, "
                               "SecretAccessKey, SessionToken, Expiration)",
                           "InvalidCredentialsResponse");
  }
  credentials.expiration = parseIso8601(trimWhitespace(expiration));
  if (!credentials.expiration) {
    return core::makeError(ErrorKind::kRetryable,
                           provider + ": STS Expiration is not an ISO-8601 time",
                           "InvalidCredentialsResponse");
  }
  return credentials;
}

WebIdentityCredentialsProvider::WebIdentityCredentialsProvider(Environment env,
                                                               WebIdentityOptions options,
                                                               HttpTransport& transport,
                                                               core::Clock& clock)
    : env_(std::move(env)), options_(std::move(options)), transport_(transport), clock_(clock) {}

core::Result<Credentials> WebIdentityCredentialsProvider::credentials() {
  // Settings: environment first, then the profile, per key (botocore).
  std::optional<SharedConfigFiles> files;
  std::optional<core::Error> filesError;
  auto setting = [&](const char* variable, const char* key) -> std::optional<std::string> {
    if (auto value = env_.getNonEmpty(variable)) return value;
    if (!files && !filesError) {
      auto loaded = loadSharedConfigFiles(env_);
      if (loaded) {
        files = std::move(*loaded);
      } else {
        filesError = loaded.error();
      }
    }
    if (!files) return std::nullopt;
    auto value = configProfileValue(*files, selectedProfileName(env_), key);
    if (value && value->empty()) return std::nullopt;
    return value;
  };

  const auto tokenFile = setting("AWS_WEB_IDENTITY_TOKEN_FILE", "web_identity_token_file");
  if (!tokenFile) {
    if (filesError) return std::unexpected(*filesError);
    return std::unexpected(credentialsNotConfigured(
        "web-identity: AWS_WEB_IDENTITY_TOKEN_FILE is not set (nor web_identity_token_file in the "
        "profile)"));
  }
  const auto roleArn = setting("AWS_ROLE_ARN", "role_arn");
  if (!roleArn) {
    return core::makeError(ErrorKind::kAuth,
                           "web-identity: a web identity token file is configured but no role "
                           "ARN (set AWS_ROLE_ARN or role_arn)",
                           "InvalidConfig");
  }
  std::string sessionName = setting("AWS_ROLE_SESSION_NAME", "role_session_name").value_or("");
  if (sessionName.empty()) {
    const auto seconds =
        std::chrono::duration_cast<std::chrono::seconds>(clock_.wallNow().time_since_epoch())
            .count();
    sessionName = "endpoint-binder-" + std::to_string(seconds);
  }

  const std::string path = expandHome(*tokenFile, env_);
  auto token = readSmallFile(path, kMaxTokenBytes, "WebIdentityTokenUnreadable");
  if (!token || !token->has_value() || trimWhitespace(**token).empty()) {
    std::string why = !token                ? token.error().message
                      : !token->has_value() ? path + " does not exist"
                                            : path + " is empty";
    return core::makeError(ErrorKind::kAuth, "web-identity: token file " + why,
                           "WebIdentityTokenUnreadable");
  }

  HttpRequest request;
  request.method = "POST";
  request.url = options_.stsEndpoint + "/";
  request.timeout = options_.timeout;
  request.headers = {{"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"},
                     {"Accept", "text/xml"}};
  request.body = "Action=AssumeRoleWithWebIdentity&RoleArn=" + uriEncode(*roleArn) +
                 "&RoleSessionName=" + uriEncode(sessionName) +
                 "&Version=2011-06-15&WebIdentityToken=" + uriEncode(trimWhitespace(**token));

  const int attempts = std::max(1, options_.maxAttempts);
  core::Error last;
  for (int attempt = 1; attempt <= attempts; ++attempt) {
    if (attempt > 1) {
      const auto delay = options_.retryDelay * (attempt - 1);
      if (options_.sleep) {
        options_.sleep(delay);
      } else {
        std::this_thread::sleep_for(delay);
      }
    }
    auto response = transport_.send(request);
    if (!response) {
      last = response.error();
      last.message = "web-identity: " + last.message;
      if (last.kind == ErrorKind::kRetryable) continue;
      return std::unexpected(last);
    }
    auto parsed = parseStsCredentialsResponse(response->status, response->body, "web-identity");
    if (parsed) return parsed;
    last = parsed.error();
    if (last.kind != ErrorKind::kRetryable) break;
  }
  return std::unexpected(last);
}

}  // namespace endpointbinder::aws
