#include "controller/aws/credentials_assume_role.h"

#include "controller/aws/credentials_web_identity.h"

namespace endpointbinder::aws {

AssumeRoleCredentialsProvider::AssumeRoleCredentialsProvider(AssumeRoleSettings settings,
                                                             QueryClient& sts)
    : settings_(std::move(settings)), sts_(sts) {}

core::Result<Credentials> AssumeRoleCredentialsProvider::credentials() {
  QueryParams params{{"RoleArn", settings_.roleArn},
                     {"RoleSessionName", settings_.sessionName},
                     {"DurationSeconds", std::to_string(settings_.duration.count())}};
  if (!settings_.externalId.empty()) params.emplace_back("ExternalId", settings_.externalId);
  const std::string what = "sts:AssumeRole " + settings_.roleArn;
  auto response = sts_.call("AssumeRole", params);
  if (!response) {
    core::Error error = std::move(response.error());
    // "AssumeRole: User: … is not authorized …" → "sts:AssumeRole <role>: User: …".
    constexpr std::string_view kOperation = "AssumeRole: ";
    if (error.message.starts_with(kOperation)) error.message.erase(0, kOperation.size());
    error.message = what + ": " + error.message;
    // A refused role is a configuration problem of the binding, not a transient one.
    if (error.kind == core::ErrorKind::kNotFound || error.kind == core::ErrorKind::kTerminal) {
      error.kind = core::ErrorKind::kAuth;
    }
    return std::unexpected(std::move(error));
  }
  auto credentials = parseStsCredentialsResponse(response->httpStatus, response->body, what);
  if (!credentials) return std::unexpected(withRequestId(credentials.error(), *response));
  credentials->providerName = "assume-role";
  return credentials;
}

}  // namespace endpointbinder::aws
