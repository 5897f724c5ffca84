// AwsSetup: the AWS client stack every command that talks to AWS builds the same way —
// environment snapshot, region and endpoints, HTTPS transport, credentials chain, per-action
// rate limiter and the ELBv2 client — from the flags a user gave.
// Thread-safety: build once; the clients inside are safe for concurrent use.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "controller/aws/call_observer.h"
#include "controller/aws/config.h"
#include "controller/aws/cpprest_transport.h"
#include "controller/aws/credentials.h"
#include "controller/aws/elbv2_client.h"
#include "controller/aws/environment.h"
#include "controller/aws/rate_limiter.h"
#include "controller/core/clock.h"
#include "controller/core/log.h"

namespace endpointbinder::cli {

struct AwsFlags {
  std::string region;       // --aws-region (else AWS_REGION, AWS_DEFAULT_REGION, profile)
  std::string endpointUrl;  // --aws-endpoint-url (else AWS_ENDPOINT_URL[_<SERVICE>])
  std::string rateLimits;   // --aws-rate-limits "RegisterTargets=4:20,Describe*=10:40"
  std::chrono::milliseconds attemptTimeout{10'000};
  std::optional<int> maxAttempts;  // overrides AWS_MAX_ATTEMPTS (doctor: 1, to fail fast)
};

struct AwsSetup {
  aws::Environment environment;
  aws::AwsConfig config;
  std::unique_ptr<aws::CpprestTransport> transport;
  std::shared_ptr<aws::CredentialsProvider> credentials;
  std::unique_ptr<aws::RateLimiter> rateLimiter;
  std::unique_ptr<aws::Elbv2Client> elbv2;
  aws::ResolvedEndpoint elbv2Endpoint;
  aws::ResolvedEndpoint stsEndpoint;
};

// Builds the stack. Fails with a message a user can act on (no region, bad endpoint URL,
// unreadable CA bundle, malformed --aws-rate-limits). Nothing here calls AWS.
core::Result<std::unique_ptr<AwsSetup>> buildAwsSetup(const AwsFlags& flags, core::Clock& clock,
                                                      core::Logger& log,
                                                      aws::AwsCallObserver* observer);

}  // namespace endpointbinder::cli
