// ImdsCredentialsProvider: the EC2 instance role from the Instance Metadata Service, IMDSv2:
//   PUT /latest/api/token (x-aws-ec2-metadata-token-ttl-seconds: 21600)
//   GET /latest/meta-data/iam/security-credentials/         -> role name (first line)
//   GET /latest/meta-data/iam/security-credentials/<role>   -> credentials JSON
// both GETs with x-aws-ec2-metadata-token. Like botocore, without a token the GETs go without
// one (IMDSv1): when the token endpoint answers 403/404/405 (IMDSv2 unavailable), gives no
// answer in time (a read timeout: the symptom of a PUT response hop limit of 1 seen from a
// container behind a bridge, as on ECS on EC2), or keeps failing for all attempts (see
// credentials() in the .cc for the exact rules). No fallback when IMDSv1 is disabled on our
// side: AWS_EC2_METADATA_V1_DISABLED=true, or (when that variable is unset)
// ec2_metadata_v1_disabled = true in the selected profile of the config file. When IMDSv1 is
// disabled on the instance (a GET without a token answers 401), or on our side, the error says
// why there was no token and, after a timeout, that the hop limit is the likely cause and how
// to fix it.
// Endpoint: ImdsOptions::endpoint, else AWS_EC2_METADATA_SERVICE_ENDPOINT, else
// http://[fd00:ec2::254] when AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE=IPv6, else
// http://169.254.169.254. AWS_EC2_METADATA_DISABLED=true turns the provider off.
// Timeout and attempts per request: AWS_METADATA_SERVICE_TIMEOUT (seconds) and
// AWS_METADATA_SERVICE_NUM_ATTEMPTS when set, else the options (1 s, 3 attempts).
// Requests never go through HTTP(S)_PROXY: IMDS is link-local, and a proxy would be handed
// the instance's credentials.
// IMDS that cannot be reached, has no role attached, or is disabled counts as "not
// configured" so the chain can report it; a reachable IMDS that returns unusable credentials
// is an error.
// Thread-safety: credentials() may be called from any thread; the transport must outlive the
// provider.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "controller/aws/credentials.h"
#include "controller/aws/credentials_web_identity.h"
#include "controller/aws/environment.h"
#include "controller/aws/http.h"

namespace endpointbinder::aws {

struct ImdsOptions {
  std::string endpoint;  // overrides the environment when not empty; no trailing slash needed
  std::chrono::milliseconds timeout{1'000};
  int maxAttempts = 3;
  std::chrono::milliseconds retryDelay{200};
  CredentialsSleepFn sleep;  // empty: std::this_thread::sleep_for
};

class ImdsCredentialsProvider final : public CredentialsProvider {
 public:
  ImdsCredentialsProvider(Environment env, ImdsOptions options, HttpTransport& transport);

  // Credentials with providerName "imds". Errors: kCredentialsNotConfigured when disabled,
  // unreachable, or without an instance role; kAuth "ImdsV1Disabled" when there is no token and
  // IMDSv1 is disabled (by us or by the instance); kRetryable
  // "InvalidCredentialsResponse"/"ImdsUnavailable" when IMDS answers but not with usable
  // credentials. Never includes the token.
  core::Result<Credentials> credentials() override;

  // The base URL in use ("http://169.254.169.254"); for diagnostics and tests.
  std::string endpoint() const { return endpoint_; }

 private:
  // What disables the IMDSv1 fallback ("AWS_EC2_METADATA_V1_DISABLED=true", the profile key),
  // or nullopt when it is allowed. Read only when a fallback is about to happen.
  std::optional<std::string> imdsV1DisabledBy() const;

  const Environment env_;
  const ImdsOptions options_;
  HttpTransport& transport_;
  std::string endpoint_;
  std::chrono::milliseconds timeout_;
  int attempts_;
};

}  // namespace endpointbinder::aws
