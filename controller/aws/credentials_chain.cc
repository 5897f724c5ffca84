#include "controller/aws/credentials_chain.h"

#include "controller/aws/config.h"
#include "controller/aws/credentials_environment.h"
#include "controller/aws/credentials_shared_files.h"

namespace endpointbinder::aws {
namespace {

using core::ErrorKind;

// A source must not throw (errors are values), but a stray exception must not take down the
// caller's thread or leave the cache marked as refreshing forever.
core::Result<Credentials> callSafely(CredentialsProvider& provider) {
  try {
    return provider.credentials();
  } catch (const std::exception& e) {
    return core::makeError(ErrorKind::kRetryable,
                           std::string("credentials provider threw: ") + e.what(),
                           "ProviderException");
  } catch (...) {
    return core::makeError(ErrorKind::kRetryable, "credentials provider threw",
                           "ProviderException");
  }
}

std::string stsEndpointFor(const Environment& env) {
  if (auto config = loadAwsConfig(env)) {
    if (auto endpoint = config->endpoint(AwsService::kSts)) return endpoint->url;
  }
  // The config file is unusable; the environment alone still names a region.
  std::string region =
      env.getNonEmpty("AWS_REGION").value_or(env.getNonEmpty("AWS_DEFAULT_REGION").value_or(""));
  if (!isValidRegionName(region)) region.clear();
  if (auto endpoint = defaultEndpoint(AwsService::kSts, region, false)) return endpoint->url;
  return "https://sts.amazonaws.com";
}

// Scrubs the container credentials secrets from every error of the chain, whichever provider
// wrote it and however the chain combined the messages: the error goes on to logs, /readyz,
// the status API and doctor's output.
class RedactingProvider final : public CredentialsProvider {
 public:
  RedactingProvider(std::shared_ptr<CredentialsProvider> source, Environment env)
      : source_(std::move(source)), env_(std::move(env)) {}

  core::Result<Credentials> credentials() override {
    auto result = source_->credentials();
    if (!result) {
      result.error().message = redactContainerCredentialsSecrets(result.error().message, env_);
    }
    return result;
  }

 private:
  const std::shared_ptr<CredentialsProvider> source_;
  const Environment env_;
};

}  // namespace

CredentialsChain::CredentialsChain(std::vector<Link> links) : links_(std::move(links)) {}

std::string CredentialsChain::selectedProvider() const {
  std::lock_guard lock(mu_);
  return selected_ ? links_[*selected_].name : std::string();
}

core::Result<Credentials> CredentialsChain::credentials() {
  std::lock_guard lock(mu_);
  if (selected_) {
    auto result = callSafely(*links_[*selected_].provider);
    if (!result && isCredentialsNotConfigured(result.error())) {
      // The source that used to work has gone (IMDS unreachable, ...): to the cache above this
      // is a failed refresh, not a reason to pick another identity.
      result.error().kind = ErrorKind::kRetryable;
    }
    return result;
  }
  std::string skipped;
  for (std::size_t i = 0; i < links_.size(); ++i) {
    auto result = callSafely(*links_[i].provider);
    if (result) {
      selected_ = i;
      if (result->providerName.empty()) result->providerName = links_[i].name;
      return result;
    }
    if (isCredentialsNotConfigured(result.error())) {
      if (!skipped.empty()) skipped += "; ";
      skipped += result.error().message;
      continue;
    }
    core::Error error = result.error();
    if (!skipped.empty()) error.message += " (skipped before: " + skipped + ")";
    return std::unexpected(std::move(error));
  }
  return core::makeError(ErrorKind::kAuth, "no AWS credentials found: " + skipped, "NoCredentials");
}

CachingCredentialsProvider::CachingCredentialsProvider(std::shared_ptr<CredentialsProvider> source,
                                                       core::Clock& clock, CachingOptions options)
    : source_(std::move(source)), clock_(clock), options_(options) {}

int CachingCredentialsProvider::refreshCount() const {
  std::lock_guard lock(mu_);
  return refreshCount_;
}

CachingCredentialsProvider::Freshness CachingCredentialsProvider::freshnessAt(
    core::WallTime now) const {
  if (!cached_->expiration) return Freshness::kFresh;
  const auto left = *cached_->expiration - now;
  if (left <= core::WallTime::duration::zero()) return Freshness::kExpired;
  if (left <= options_.mandatoryRefresh) return Freshness::kMandatory;
  if (left <= options_.advisoryRefresh) return Freshness::kAdvisory;
  return Freshness::kFresh;
}

core::Result<Credentials> CachingCredentialsProvider::credentials() {
  std::unique_lock lock(mu_);
  for (;;) {
    const bool backingOff = clock_.now() < nextAttempt_;
    if (cached_) {
      const Freshness freshness = freshnessAt(clock_.wallNow());
      if (freshness == Freshness::kFresh) return *cached_;
      if (freshness == Freshness::kAdvisory && (refreshing_ || backingOff)) return *cached_;
      if (freshness == Freshness::kMandatory && backingOff && !refreshing_) return *cached_;
      if (freshness == Freshness::kExpired && backingOff && !refreshing_ && lastError_) {
        return std::unexpected(*lastError_);
      }
    } else if (backingOff && !refreshing_ && lastError_) {
      return std::unexpected(*lastError_);
    }
    if (!refreshing_) break;
    refreshed_.wait(lock);
  }

  refreshing_ = true;
  lock.unlock();
  auto result = callSafely(*source_);
  lock.lock();
  refreshing_ = false;
  ++refreshCount_;
  refreshed_.notify_all();

  if (result) {
    cached_ = std::move(*result);
    lastError_.reset();
    nextAttempt_ = core::MonoTime{};
    const Freshness freshness = freshnessAt(clock_.wallNow());
    // Credentials that arrive already close to (or past) expiry would otherwise trigger a
    // refresh on every call.
    if (freshness == Freshness::kMandatory || freshness == Freshness::kExpired) {
      nextAttempt_ = clock_.now() + options_.retryAfterFailure;
    }
    if (freshness == Freshness::kExpired) {
      lastError_ = core::Error{ErrorKind::kAuth,
                               cached_->providerName +
                                   ": returned credentials that have already "
                                   "expired (is the clock right?)",
                               "ExpiredCredentials",
                               {},
                               0};
      return std::unexpected(*lastError_);
    }
    return *cached_;
  }
  lastError_ = result.error();
  nextAttempt_ = clock_.now() + options_.retryAfterFailure;
  if (cached_ && freshnessAt(clock_.wallNow()) != Freshness::kExpired) return *cached_;
  return std::unexpected(result.error());
}

std::shared_ptr<CredentialsProvider> makeDefaultCredentialsChain(const ChainOptions& options) {
  const Environment& env = options.environment;

  WebIdentityOptions webIdentity = options.webIdentity;
  webIdentity.stsEndpoint = options.stsEndpoint.empty() ? stsEndpointFor(env) : options.stsEndpoint;
  while (webIdentity.stsEndpoint.ends_with('/')) webIdentity.stsEndpoint.pop_back();

  ContainerOptions container = options.container;
  container.relativeUriBase = options.containerRelativeUriBase;

  ImdsOptions imds = options.imds;
  imds.endpoint = options.imdsEndpoint;

  std::vector<CredentialsChain::Link> links;
  links.push_back({"environment", std::make_shared<EnvironmentCredentialsProvider>(env)});
  links.push_back({"web-identity", std::make_shared<WebIdentityCredentialsProvider>(
                                       env, webIdentity, options.transport, options.clock)});
  links.push_back({"shared-files", std::make_shared<SharedFilesCredentialsProvider>(env)});
  links.push_back({"container", std::make_shared<ContainerCredentialsProvider>(env, container,
                                                                               options.transport)});
  links.push_back(
      {"imds", std::make_shared<ImdsCredentialsProvider>(env, imds, options.transport)});

  return std::make_shared<CachingCredentialsProvider>(
      std::make_shared<RedactingProvider>(std::make_shared<CredentialsChain>(std::move(links)),
                                          env),
      options.clock, options.caching);
}

}  // namespace endpointbinder::aws
