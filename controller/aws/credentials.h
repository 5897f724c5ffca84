// AWS credentials and the providers that obtain them.
// Secrets never appear in logs, errors, metrics or toString() output.
// Implementations: credentials_environment.h, credentials_web_identity.h,
// credentials_shared_files.h, credentials_container.h, credentials_imds.h, and the default
// chain with its cache in credentials_chain.h.
// Thread-safety: Credentials is a plain value; every CredentialsProvider must be safe to call
// from any thread.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "controller/core/clock.h"
#include "controller/core/error.h"

namespace endpointbinder::aws {

struct Credentials {
  std::string accessKeyId;
  std::string secretAccessKey;
  std::string sessionToken;                  // empty for long-term keys
  std::optional<core::WallTime> expiration;  // nullopt: does not expire
  std::string providerName;  // "environment", "web-identity", "shared-files", "container", "imds"
};

// A safe one-line description for logs: provider, the access key id with its middle masked
// ("ASIA…WXYZ"), whether a session token is present, and the expiration. Never a secret.
std::string describeCredentials(const Credentials& credentials);

// The Error code a provider in the default chain returns when its source is not configured
// at all (no environment variables, no profile, not on EC2, ...): the chain moves on to the
// next provider. Any other error from a provider stops the chain, as in the AWS SDKs, so a
// misconfigured source never silently falls through to a different identity.
inline constexpr std::string_view kCredentialsNotConfigured = "CredentialsNotConfigured";

// A kNotFound Error with code kCredentialsNotConfigured; `why` says what was missing.
core::Error credentialsNotConfigured(std::string why);
bool isCredentialsNotConfigured(const core::Error& error);

class CredentialsProvider {
 public:
  virtual ~CredentialsProvider() = default;
  // Current credentials. Implementations cache and refresh ahead of expiry; safe to call
  // concurrently from any thread. On failure the Error says which provider and why
  // (kind kAuth when no provider has credentials).
  virtual core::Result<Credentials> credentials() = 0;
};

}  // namespace endpointbinder::aws
