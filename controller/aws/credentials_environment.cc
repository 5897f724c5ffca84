#include "controller/aws/credentials_environment.h"

#include "controller/aws/credentials_json.h"

namespace endpointbinder::aws {

core::Result<Credentials> EnvironmentCredentialsProvider::credentials() {
  auto accessKey = env_.getNonEmpty("AWS_ACCESS_KEY_ID");
  if (!accessKey) {
    return std::unexpected(credentialsNotConfigured("environment: AWS_ACCESS_KEY_ID is not set"));
  }
  auto secretKey = env_.getNonEmpty("AWS_SECRET_ACCESS_KEY");
  if (!secretKey) {
    return core::makeError(core::ErrorKind::kAuth,
                           "environment: AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not",
                           "PartialCredentials");
  }
  Credentials credentials;
  credentials.providerName = "environment";
  credentials.accessKeyId = std::move(*accessKey);
  credentials.secretAccessKey = std::move(*secretKey);
  if (auto token = env_.getNonEmpty("AWS_SECURITY_TOKEN")) {
    credentials.sessionToken = std::move(*token);
  } else if (auto session = env_.getNonEmpty("AWS_SESSION_TOKEN")) {
    credentials.sessionToken = std::move(*session);
  }
  if (auto expiration = env_.getNonEmpty("AWS_CREDENTIAL_EXPIRATION")) {
    credentials.expiration = parseIso8601(*expiration);
    if (!credentials.expiration) {
      return core::makeError(core::ErrorKind::kAuth,
                             "environment: AWS_CREDENTIAL_EXPIRATION is not an ISO-8601 time",
                             "InvalidCredentials");
    }
  }
  return credentials;
}

}  // namespace endpointbinder::aws
