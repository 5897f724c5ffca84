// The default credential chain and the cache in front of it.
//
// CredentialsChain tries its providers in order. A provider answering
// kCredentialsNotConfigured is skipped (its reason is kept for the final report); the first
// success wins and is remembered: later calls go to that provider only (as the SDKs bind a
// refreshable credential to its source). Any other error stops the chain and is returned,
// prefixed with what the skipped providers said -- a configured source that fails must not
// silently fall through to another identity. When every provider is skipped the error is kAuth
// "NoCredentials" listing each provider's reason.
//
// CachingCredentialsProvider keeps the last credentials and refreshes them ahead of expiry:
//  - no expiration, or more than `advisoryRefresh` left: the cached value is returned;
//  - inside the advisory window: the first caller refreshes (others keep getting the cached
//    value without waiting); a failed refresh keeps the cached value and is not retried for
//    `retryAfterFailure`;
//  - inside the mandatory window (or nothing cached): callers wait for one in-flight refresh;
//    if it fails and the cached credentials have not expired yet they are still returned,
//    otherwise the error is.
// At most one refresh runs at a time. Defaults follow botocore (15 min advisory, 10 min
// mandatory).
//
// makeDefaultCredentialsChain builds environment -> web-identity -> shared-files ->
// container -> imds, wrapped in the cache. Every error it returns has the container
// credentials secrets scrubbed (redactContainerCredentialsSecrets), whichever provider wrote
// the message.
// Thread-safety: all providers here may be called concurrently from any thread. The transport
// and clock passed in must outlive them.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "controller/aws/credentials.h"
#include "controller/aws/credentials_container.h"
#include "controller/aws/credentials_imds.h"
#include "controller/aws/credentials_web_identity.h"
#include "controller/aws/environment.h"
#include "controller/aws/http.h"
#include "controller/core/clock.h"

namespace endpointbinder::aws {

class CredentialsChain final : public CredentialsProvider {
 public:
  struct Link {
    std::string name;  // "environment", "web-identity", ...
    std::shared_ptr<CredentialsProvider> provider;
  };
  explicit CredentialsChain(std::vector<Link> links);

  core::Result<Credentials> credentials() override;

  // The name of the provider that answered first, or empty while none has.
  std::string selectedProvider() const;

 private:
  const std::vector<Link> links_;
  mutable std::mutex mu_;
  std::optional<std::size_t> selected_;
};

struct CachingOptions {
  std::chrono::seconds advisoryRefresh{15 * 60};
  std::chrono::seconds mandatoryRefresh{10 * 60};
  std::chrono::seconds retryAfterFailure{10};
};

class CachingCredentialsProvider final : public CredentialsProvider {
 public:
  CachingCredentialsProvider(std::shared_ptr<CredentialsProvider> source, core::Clock& clock,
                             CachingOptions options = {});

  core::Result<Credentials> credentials() override;

  // How many times the source was asked (tests; metrics).
  int refreshCount() const;

 private:
  enum class Freshness { kFresh, kAdvisory, kMandatory, kExpired };
  Freshness freshnessAt(core::WallTime now) const;  // REQUIRES: mu_ held, cached_ set

  const std::shared_ptr<CredentialsProvider> source_;
  core::Clock& clock_;
  const CachingOptions options_;

  mutable std::mutex mu_;
  std::condition_variable refreshed_;
  std::optional<Credentials> cached_;
  std::optional<core::Error> lastError_;
  bool refreshing_ = false;
  core::MonoTime nextAttempt_{};
  int refreshCount_ = 0;
};

struct ChainOptions {
  Environment environment;
  HttpTransport& transport;
  core::Clock& clock;
  // STS base URL for web identity; empty: resolved like AwsConfig does (AWS_ENDPOINT_URL_STS,
  // AWS_ENDPOINT_URL, regional default for AWS_REGION/AWS_DEFAULT_REGION/profile region).
  std::string stsEndpoint = {};
  // IMDS base URL; empty: from the environment (see credentials_imds.h).
  std::string imdsEndpoint = {};
  // Base for AWS_CONTAINER_CREDENTIALS_RELATIVE_URI; tests point it at a local server.
  std::string containerRelativeUriBase = "http://169.254.170.2";
  CachingOptions caching = {};
  WebIdentityOptions webIdentity = {};  // stsEndpoint inside is ignored (see above)
  ContainerOptions container = {};      // relativeUriBase inside is ignored (see above)
  ImdsOptions imds = {};                // endpoint inside is ignored (see above)
};

// The SDK-order chain behind a cache. Never fails to build: configuration problems surface as
// errors from credentials().
std::shared_ptr<CredentialsProvider> makeDefaultCredentialsChain(const ChainOptions& options);

}  // namespace endpointbinder::aws
