// WebIdentityCredentialsProvider: exchanges a web identity token (EKS IRSA, GitHub OIDC, ...)
// for role credentials with STS AssumeRoleWithWebIdentity.
// Settings, each from the environment first and then from the selected profile of the shared
// config file (botocore's rule): AWS_WEB_IDENTITY_TOKEN_FILE / web_identity_token_file,
// AWS_ROLE_ARN / role_arn, AWS_ROLE_SESSION_NAME / role_session_name (default
// "endpoint-binder-<unix seconds>"). No token file -> not configured.
// The call is an UNSIGNED Query POST to the STS endpoint (regional by default):
//   Action=AssumeRoleWithWebIdentity&RoleArn=..&RoleSessionName=..&Version=2011-06-15&WebIdentityToken=..
// The token file is read again for every call (the token rotates). Transport failures,
// throttling, IDPCommunicationError and 5xx are retried a few times.
// Thread-safety: credentials() may be called from any thread; the transport and clock must
// outlive the provider.
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "controller/aws/credentials.h"
#include "controller/aws/environment.h"
#include "controller/aws/http.h"
#include "controller/core/clock.h"

namespace endpointbinder::aws {

using CredentialsSleepFn = std::function<void(std::chrono::milliseconds)>;

struct WebIdentityOptions {
  // STS base URL without trailing slash, e.g. "https://sts.eu-west-1.amazonaws.com".
  std::string stsEndpoint = "https://sts.amazonaws.com";
  std::chrono::milliseconds timeout{5'000};
  int maxAttempts = 3;
  std::chrono::milliseconds retryDelay{500};  // grows linearly with the attempt number
  CredentialsSleepFn sleep;                   // empty: std::this_thread::sleep_for
};

class WebIdentityCredentialsProvider final : public CredentialsProvider {
 public:
  WebIdentityCredentialsProvider(Environment env, WebIdentityOptions options,
                                 HttpTransport& transport, core::Clock& clock);

  // Credentials with providerName "web-identity" and the STS expiration. Errors:
  // kCredentialsNotConfigured without a token file setting; kAuth "InvalidConfig" for a token
  // file without role ARN; kAuth "WebIdentityTokenUnreadable" when the file cannot be read or
  // is empty; STS errors with STS's code and request id (kRetryable for throttling, transient
  // codes and 5xx, kAuth otherwise, e.g. InvalidIdentityToken, AccessDenied); transport errors
  // as the transport reports them. Never includes the token.
  core::Result<Credentials> credentials() override;

 private:
  const Environment env_;
  const WebIdentityOptions options_;
  HttpTransport& transport_;
  core::Clock& clock_;
};

// Parses an AssumeRoleWithWebIdentity (or AssumeRole) response or STS ErrorResponse body.
// Total on arbitrary input; fuzzed.
core::Result<Credentials> parseStsCredentialsResponse(int httpStatus, std::string_view body,
                                                      std::string_view providerName);

}  // namespace endpointbinder::aws
