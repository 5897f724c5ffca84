// SharedFilesCredentialsProvider: static keys from the selected profile (AWS_PROFILE, default
// "default") of the shared credentials file, then of the shared config file (see
// shared_config.h for paths and syntax), following botocore's order and keys
// (aws_access_key_id, aws_secret_access_key, aws_session_token or aws_security_token).
// Profiles that need machinery endpoint-binder does not implement are reported, not skipped,
// so the chain never falls through to another identity: role_arn with source_profile or
// credential_source (AssumeRole), credential_process, and sso_* settings. A profile with
// role_arn and web_identity_token_file belongs to WebIdentityCredentialsProvider and is "not
// configured" here.
// Thread-safety: credentials() may be called from any thread (it reads the files each call;
// the caching layer calls it once, as these keys do not expire).
#pragma once

#include "controller/aws/credentials.h"
#include "controller/aws/environment.h"

namespace endpointbinder::aws {

class SharedFilesCredentialsProvider final : public CredentialsProvider {
 public:
  explicit SharedFilesCredentialsProvider(Environment env) : env_(std::move(env)) {}

  // Credentials with providerName "shared-files". Errors: kCredentialsNotConfigured when the
  // profile has no keys (or does not exist and was not named explicitly); kAuth
  // "ProfileNotFound" for an explicit AWS_PROFILE found in neither file; kAuth
  // "PartialCredentials" for a key id without secret; kAuth "UnsupportedProfile" for the
  // profile kinds listed above; kTerminal "InvalidConfigFile" for unreadable/malformed files.
  core::Result<Credentials> credentials() override;

 private:
  const Environment env_;
};

}  // namespace endpointbinder::aws
