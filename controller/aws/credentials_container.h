// ContainerCredentialsProvider: credentials from the ECS/Fargate task role endpoint (and EKS
// Pod Identity, which uses the same contract).
//  - AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: GET http://169.254.170.2<uri> (the base is an
//    option so tests can point it at a local server; it is never read from the environment);
//  - else AWS_CONTAINER_CREDENTIALS_FULL_URI: GET that URL, which must be https (any host) or
//    http to a loopback address (127.0.0.0/8, ::1, localhost), 169.254.170.2, 169.254.170.23
//    or fd00:ec2::23 -- anything else is refused before any request is made;
//  - Authorization header from the file named by AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE (read
//    on every call, wins) or from AWS_CONTAINER_AUTHORIZATION_TOKEN; a token with CR or LF is
//    refused (header injection);
//  - response JSON {AccessKeyId, SecretAccessKey, Token, Expiration} (credentials_json.h).
// Timeout 2 s and 3 attempts 1 s apart by default (botocore's ContainerMetadataFetcher);
// transport errors, 5xx/429 and unusable bodies are retried, other 4xx are not.
// Secrets: the path and query of the URI are a credential (anyone who can reach the endpoint
// and knows them gets the task's credentials), and so is the token. No error, log line,
// /readyz text or status shows them: messages name the endpoint as
// "http://169.254.170.2/<redacted path>". Requests never go through HTTP(S)_PROXY.
// Thread-safety: credentials() may be called from any thread; the transport must outlive the
// provider.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "controller/aws/credentials.h"
#include "controller/aws/credentials_web_identity.h"
#include "controller/aws/environment.h"
#include "controller/aws/http.h"

namespace endpointbinder::aws {

struct ContainerOptions {
  std::string relativeUriBase = "http://169.254.170.2";  // no trailing slash
  std::chrono::milliseconds timeout{2'000};
  int maxAttempts = 3;
  std::chrono::milliseconds retryDelay{1'000};
  CredentialsSleepFn sleep;  // empty: std::this_thread::sleep_for
};

class ContainerCredentialsProvider final : public CredentialsProvider {
 public:
  ContainerCredentialsProvider(Environment env, ContainerOptions options, HttpTransport& transport);

  // Credentials with providerName "container". Errors: kCredentialsNotConfigured when neither
  // URI variable is set; kAuth "InvalidContainerCredentialsUri" for a refused or malformed
  // URI; kAuth "InvalidAuthorizationToken" for an unreadable token file or a token with CR/LF;
  // kAuth "ContainerCredentialsDenied" for 4xx answers; kRetryable (transport codes,
  // "ContainerCredentialsUnavailable" for 5xx, "InvalidCredentialsResponse") after the last
  // attempt. Never includes the token or the response body.
  core::Result<Credentials> credentials() override;

 private:
  const Environment env_;
  const ContainerOptions options_;
  HttpTransport& transport_;
};

// `text` with every secret of the container credentials configuration in `env` replaced:
// AWS_CONTAINER_CREDENTIALS_RELATIVE_URI, the path and query of
// AWS_CONTAINER_CREDENTIALS_FULL_URI (its scheme and host stay), and
// AWS_CONTAINER_AUTHORIZATION_TOKEN. Secrets shorter than 4 characters are left alone (see
// redactSecret). The default chain applies it to every error it returns, whichever provider
// wrote the message.
std::string redactContainerCredentialsSecrets(std::string text, const Environment& env);

// True when `url` may serve container credentials: https to any host, or http to one of the
// hosts listed above. Pure; used by the provider and its tests.
bool isAllowedContainerCredentialsUrl(std::string_view url);

}  // namespace endpointbinder::aws
