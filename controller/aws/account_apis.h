// AccountApis: which ELBv2 API reaches a target group of another AWS account.
//
// A binding with spec.assumeRoleARN talks to its target group with the credentials of that
// role (STS AssumeRole, as the AWS Load Balancer Controller's TargetGroupBinding does for
// multi-account setups); every other binding uses the controller's own credentials.
// AssumeRoleApis keeps, per distinct (role, external id):
//   - an AssumeRole credentials provider behind the usual cache, so the role is assumed once
//     and refreshed ahead of expiry (credentials_assume_role.h), never once per call;
//   - an ELBv2 client signing with those credentials.
// and per account one client-side rate limiter (AWS's ELBv2 quotas are per account and
// Region: two roles of one account share a budget; the controller's own account keeps its
// own limiter, shared with its bindings that name no role).
//
// homeAccount() is the account of the controller's own credentials (sts:GetCallerIdentity,
// asked on first need and remembered once it succeeds): the owner tag of a target group in
// another account names it, so two controllers with the same --controller-id in different
// accounts never mistake each other's claims (see runtime/reconciler.h).
//
// Nothing here calls AWS until a binding needs it. forRole() checks the role's session (from
// the cache; STS only when it is due): a role that cannot be assumed fails there, with STS's
// error (kind kAuth for AccessDenied), so the binding fails before any ELBv2 call and nothing
// is written or deregistered for it. A refused role is asked again after 10 s at the earliest
// (the credentials cache's retryAfterFailure), and so is a failed GetCallerIdentity.
// Thread-safety: forRole() and homeAccount() may be called from any thread; the returned API
// lives as long as the AccountApis.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "controller/aws/credentials.h"
#include "controller/aws/credentials_chain.h"
#include "controller/aws/elbv2.h"
#include "controller/aws/http.h"
#include "controller/aws/query_client.h"
#include "controller/aws/rate_limiter.h"
#include "controller/core/clock.h"
#include "controller/core/error.h"

namespace endpointbinder::aws {

// A role of another account: its ARN, its 12-digit account (from the ARN) and the external id
// to send ("" none).
struct RoleToAssume {
  std::string roleArn;
  std::string account;
  std::string externalId;
  auto operator<=>(const RoleToAssume&) const = default;
};

class AccountApis {
 public:
  virtual ~AccountApis() = default;
  // The ELBv2 API that acts as `role`. Fails when the controller's account is unknown
  // (GetCallerIdentity fails) or the role's session cannot be had (AssumeRole refused).
  virtual core::Result<TargetGroupApi*> forRole(const RoleToAssume& role) = 0;
  // The 12-digit account of the controller's own credentials.
  virtual core::Result<std::string> homeAccount() = 0;
};

// Service options for STS (Query protocol, 2011-06-15) signed for `region`. An empty `endpoint`
// means https://sts.<region>.amazonaws.com; callers pass the resolved one (AwsConfig).
QueryServiceOptions stsServiceOptions(std::string region, std::string endpoint = {},
                                      RetryOptions retry = {});

// The RoleSessionName for `controllerId`: "endpoint-binder" when that is the id, else the id
// with every character STS does not allow ([A-Za-z0-9_+=,.@-]) turned into '-', cut to 64.
// CloudTrail in the target account shows it as the session that made each call.
std::string roleSessionNameFor(const std::string& controllerId);

struct AssumeRoleApisOptions {
  // STS: where to assume roles and ask for the caller identity (signed with `base`).
  QueryServiceOptions sts;
  // ELBv2 in the controller's Region (the target groups' Region: the manifests check it).
  QueryServiceOptions elbv2;
  // Per-account ELBv2 budget (the same spec as the controller's own).
  RateLimitOptions rateLimits;
  std::string roleSessionName = "endpoint-binder";
  std::chrono::seconds sessionDuration{3600};
  // Each role's session cache: refreshed 15 min before expiry, a refusal asked again after
  // retryAfterFailure (botocore's defaults).
  CachingOptions caching;
};

class AssumeRoleApis final : public AccountApis {
 public:
  // `home` is the ELBv2 API of the controller's own credentials and `homeLimiter` its rate
  // limiter (a role in the controller's own account shares it). `hooks` are the ELBv2
  // client's (observer, logger, write fencing); its rateLimiter is replaced per account.
  AssumeRoleApis(AssumeRoleApisOptions options, HttpTransport& transport, CredentialsProvider& base,
                 core::Clock& clock, QueryClientHooks hooks, RateLimiter* homeLimiter);
  ~AssumeRoleApis() override;

  core::Result<TargetGroupApi*> forRole(const RoleToAssume& role) override;
  core::Result<std::string> homeAccount() override;

 private:
  struct RoleClient;
  static constexpr auto kHomeAccountRetry = std::chrono::seconds(10);
  // The role's client, created on first use (no AWS call).
  RoleClient* clientFor(const RoleToAssume& role, const std::string& home);

  const AssumeRoleApisOptions options_;
  HttpTransport& transport_;
  CredentialsProvider& base_;
  core::Clock& clock_;
  const QueryClientHooks hooks_;
  RateLimiter* const homeLimiter_;
  QueryClient sts_;

  std::mutex mu_;
  std::optional<core::Error> homeAccountError_;  // the last failure, until homeAccountRetryAt_
  core::MonoTime homeAccountRetryAt_{};
  std::optional<std::string> homeAccount_;                        // guarded by mu_
  std::map<std::string, std::unique_ptr<RateLimiter>> limiters_;  // by account; mu_
  std::map<RoleToAssume, std::unique_ptr<RoleClient>> clients_;   // mu_
};

}  // namespace endpointbinder::aws
