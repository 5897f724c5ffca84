#include "controller/aws/account_apis.h"

#include <pugixml.hpp>

#include "api/syntax.h"
#include "controller/aws/credentials_assume_role.h"
#include "controller/aws/credentials_chain.h"
#include "controller/aws/elbv2_client.h"

namespace endpointbinder::aws {

QueryServiceOptions stsServiceOptions(std::string region, std::string endpoint,
                                      RetryOptions retry) {
  QueryServiceOptions options;
  options.service = "sts";
  options.apiVersion = "2011-06-15";
  options.endpoint =
      endpoint.empty() ? "https://sts." + region + ".amazonaws.com" : std::move(endpoint);
  options.region = std::move(region);
  options.retry = retry;
  return options;
}

std::string roleSessionNameFor(const std::string& controllerId) {
  std::string name;
  for (char c : controllerId) {
    name += api::isIamNameChar(c) ? c : '-';
    if (name.size() == 64) break;
  }
  // STS wants at least two characters.
  return name.size() < 2 ? std::string("endpoint-binder") : name;
}

// One role's credentials (assumed once per session, refreshed by the cache) and its client.
struct AssumeRoleApis::RoleClient {
  std::shared_ptr<CredentialsProvider> credentials;
  std::unique_ptr<Elbv2Client> elbv2;
};

AssumeRoleApis::AssumeRoleApis(AssumeRoleApisOptions options, HttpTransport& transport,
                               CredentialsProvider& base, core::Clock& clock,
                               QueryClientHooks hooks, RateLimiter* homeLimiter)
    : options_(std::move(options)),
      transport_(transport),
      base_(base),
      clock_(clock),
      hooks_(std::move(hooks)),
      homeLimiter_(homeLimiter),
      sts_(options_.sts, transport, base, clock, [&] {
        // STS calls are not ELBv2 writes: no fencing, no ELBv2 budget.
        QueryClientHooks sts = hooks_;
        sts.beforeSend = nullptr;
        sts.rateLimiter = nullptr;
        return sts;
      }()) {}

AssumeRoleApis::~AssumeRoleApis() = default;

core::Result<std::string> AssumeRoleApis::homeAccount() {
  {
    std::lock_guard lock(mu_);
    if (homeAccount_) return *homeAccount_;
    // A failure stands for a while: every role binding's reconcile asks, and must not each
    // call STS again (with its retries) while STS is down.
    if (homeAccountError_ && clock_.now() < homeAccountRetryAt_) {
      return std::unexpected(*homeAccountError_);
    }
  }
  // Outside the lock: a slow STS must not hold up bindings whose clients exist already.
  auto identity = sts_.call("GetCallerIdentity", {});
  if (!identity) {
    core::Error error = std::move(identity.error());
    error.message =
        "sts:GetCallerIdentity (the owner tag of a target group in another account "
        "names this controller's account): " +
        error.message;
    std::lock_guard lock(mu_);
    homeAccountError_ = error;
    homeAccountRetryAt_ = clock_.now() + kHomeAccountRetry;
    return std::unexpected(std::move(error));
  }
  pugi::xml_document document;
  std::string account;
  if (document.load_buffer(identity->body.data(), identity->body.size())) {
    account = document.select_node("//*[local-name()='Account']").node().text().as_string();
  }
  if (account.size() != 12 || account.find_first_not_of("0123456789") != std::string::npos) {
    core::Error error;
    error.kind = core::ErrorKind::kRetryable;
    error.message = "sts:GetCallerIdentity answered without a 12-digit Account";
    error.code = "InvalidResponse";
    return std::unexpected(withRequestId(std::move(error), *identity));
  }
  std::lock_guard lock(mu_);
  homeAccount_ = account;
  return account;
}

core::Result<TargetGroupApi*> AssumeRoleApis::forRole(const RoleToAssume& role) {
  // The home account decides whether the role shares the controller's own budget.
  auto home = homeAccount();
  if (!home) return std::unexpected(home.error());
  RoleClient* client = clientFor(role, *home);
  // The session, from the cache unless it is due (then STS is asked, outside our lock): a
  // role that cannot be assumed fails the binding here, before any ELBv2 call, and a session
  // that expired after the trust policy dropped us is noticed at the next reconcile.
  if (auto credentials = client->credentials->credentials(); !credentials) {
    return std::unexpected(credentials.error());
  }
  return client->elbv2.get();
}

AssumeRoleApis::RoleClient* AssumeRoleApis::clientFor(const RoleToAssume& role,
                                                      const std::string& home) {
  std::lock_guard lock(mu_);
  if (auto it = clients_.find(role); it != clients_.end()) return it->second.get();
  RateLimiter* limiter = homeLimiter_;
  if (role.account != home || limiter == nullptr) {
    auto& slot = limiters_[role.account];
    if (!slot) slot = std::make_unique<RateLimiter>(options_.rateLimits, clock_);
    limiter = slot.get();
  }
  auto client = std::make_unique<RoleClient>();
  auto source = std::make_shared<AssumeRoleCredentialsProvider>(
      AssumeRoleSettings{role.roleArn, role.externalId, options_.roleSessionName,
                         options_.sessionDuration},
      sts_);
  client->credentials =
      std::make_shared<CachingCredentialsProvider>(source, clock_, options_.caching);
  QueryClientHooks hooks = hooks_;
  hooks.rateLimiter = limiter;
  client->elbv2 = std::make_unique<Elbv2Client>(options_.elbv2, transport_, *client->credentials,
                                                clock_, hooks);
  auto* out = client.get();
  clients_.emplace(role, std::move(client));
  return out;
}

}  // namespace endpointbinder::aws
