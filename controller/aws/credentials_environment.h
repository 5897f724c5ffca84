// EnvironmentCredentialsProvider: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, with the session
// token from AWS_SECURITY_TOKEN or AWS_SESSION_TOKEN (botocore reads them in that order) and an
// optional AWS_CREDENTIAL_EXPIRATION (ISO-8601). As in botocore: no access key -> not
// configured (the chain moves on); an access key without a secret key -> an error that stops
// the chain.
// Thread-safety: immutable; credentials() may be called from any thread.
#pragma once

#include "controller/aws/credentials.h"
#include "controller/aws/environment.h"

namespace endpointbinder::aws {

class EnvironmentCredentialsProvider final : public CredentialsProvider {
 public:
  explicit EnvironmentCredentialsProvider(Environment env) : env_(std::move(env)) {}

  // Credentials with providerName "environment". Errors: kCredentialsNotConfigured when
  // AWS_ACCESS_KEY_ID is unset or empty; kAuth "PartialCredentials" when the secret key is
  // missing; kAuth "InvalidCredentials" when AWS_CREDENTIAL_EXPIRATION does not parse.
  core::Result<Credentials> credentials() override;

 private:
  const Environment env_;
};

}  // namespace endpointbinder::aws
