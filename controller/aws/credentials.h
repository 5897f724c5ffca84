// AWS credentials and the providers that obtain them.
// Secrets never appear in logs, errors, metrics or toString() output.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "controller/core/clock.h"
#include "controller/core/error.h"

namespace endpointbinder::aws {

struct Credentials {
  std::string accessKeyId;
  std::string secretAccessKey;
  std::string sessionToken;                  // empty for long-term keys
  std::optional<core::WallTime> expiration;  // nullopt: does not expire
  std::string providerName;                  // "environment", "web-identity", "shared-files", "container", "imds"
};

class CredentialsProvider {
 public:
  virtual ~CredentialsProvider() = default;
  // Current credentials. Implementations cache and refresh ahead of expiry; safe to call
  // concurrently from any thread. On failure the Error says which provider and why
  // (kind kAuth when no provider has credentials).
  virtual core::Result<Credentials> credentials() = 0;
};

}  // namespace endpointbinder::aws
