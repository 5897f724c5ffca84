#include "controller/main/aws_setup.h"

#include "controller/aws/credentials_chain.h"

namespace endpointbinder::cli {

core::Result<std::unique_ptr<AwsSetup>> buildAwsSetup(const AwsFlags& flags, core::Clock& clock,
                                                      core::Logger& log,
                                                      aws::AwsCallObserver* observer) {
  auto setup = std::make_unique<AwsSetup>();
  setup->environment = aws::Environment::fromProcess();

  aws::ConfigOverrides overrides;
  overrides.region = flags.region;
  overrides.endpointUrl = flags.endpointUrl;
  auto config = aws::loadAwsConfig(setup->environment, overrides);
  if (!config) return std::unexpected(config.error());
  setup->config = std::move(*config);
  if (setup->config.region.empty()) {
    return core::makeError(core::ErrorKind::kTerminal,
                           "no AWS Region: set AWS_REGION (ECS sets it for you) or --aws-region",
                           "NoRegion");
  }
  auto elbv2 = setup->config.endpoint(aws::AwsService::kElasticLoadBalancingV2);
  if (!elbv2) return std::unexpected(elbv2.error());
  setup->elbv2Endpoint = *elbv2;
  auto sts = setup->config.endpoint(aws::AwsService::kSts);
  if (!sts) return std::unexpected(sts.error());
  setup->stsEndpoint = *sts;

  aws::CpprestTransportOptions transportOptions;
  transportOptions.environment = setup->environment;
  auto transport = aws::CpprestTransport::create(std::move(transportOptions));
  if (!transport) return std::unexpected(transport.error());
  setup->transport = std::move(*transport);

  aws::ChainOptions chain{setup->environment, *setup->transport, clock};
  chain.stsEndpoint = setup->stsEndpoint.url;
  setup->credentials = aws::makeDefaultCredentialsChain(chain);

  auto limits = aws::parseRateLimitSpec(flags.rateLimits);
  if (!limits) return std::unexpected(limits.error());
  setup->rateLimiter = std::make_unique<aws::RateLimiter>(*limits, clock);

  auto service = aws::elbv2ServiceOptions(
      setup->config.region, setup->elbv2Endpoint.url,
      aws::RetryOptions{.maxAttempts = flags.maxAttempts.value_or(setup->config.maxAttempts),
                        .mode = setup->config.retryMode});
  service.attemptTimeout = flags.attemptTimeout;
  aws::QueryClientHooks hooks;
  hooks.rateLimiter = setup->rateLimiter.get();
  hooks.observer = observer;
  hooks.logger = &log;
  setup->elbv2 = std::make_unique<aws::Elbv2Client>(std::move(service), *setup->transport,
                                                    *setup->credentials, clock, hooks);
  return setup;
}

}  // namespace endpointbinder::cli
