// AssumeRoleCredentialsProvider: credentials of an IAM role, from STS AssumeRole signed with
// other ("base") credentials: the controller's own, for target groups of another account.
//
//   Action=AssumeRole&RoleArn=..&RoleSessionName=..&DurationSeconds=..[&ExternalId=..]
//
// Each credentials() call asks STS; put it behind a CachingCredentialsProvider (AssumeRoleApis
// does) so the role is assumed once per session and refreshed ahead of expiry. Errors name the
// role and keep STS's code (AccessDenied: the role's trust policy does not name the
// controller's role, or the external id differs), with kind kAuth, or kRetryable for
// throttling, transient codes, 5xx and transport failures (the STS client retries those).
// The external id never appears in errors or logs.
// Thread-safety: credentials() may be called from any thread; `sts` must outlive it.
#pragma once

#include <chrono>
#include <string>

#include "controller/aws/credentials.h"
#include "controller/aws/query_client.h"

namespace endpointbinder::aws {

struct AssumeRoleSettings {
  std::string roleArn;
  std::string externalId;  // "" none
  std::string sessionName = "endpoint-binder";
  std::chrono::seconds duration{3600};
};

class AssumeRoleCredentialsProvider final : public CredentialsProvider {
 public:
  // `sts` signs with the base credentials.
  AssumeRoleCredentialsProvider(AssumeRoleSettings settings, QueryClient& sts);

  // Credentials with providerName "assume-role" and STS's expiration.
  core::Result<Credentials> credentials() override;

 private:
  const AssumeRoleSettings settings_;
  QueryClient& sts_;
};

}  // namespace endpointbinder::aws
