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

  auto byService = aws::splitRateLimitSpecByService(flags.rateLimits);
  if (!byService) return std::unexpected(byService.error());
  setup->rateLimitSpecs = *byService;
  auto limits = aws::parseRateLimitSpec(setup->rateLimitSpecs["elasticloadbalancing"]);
  if (!limits) return std::unexpected(limits.error());
  auto ec2Limits = aws::parseRateLimitSpec(setup->rateLimitSpecs["ec2"], aws::ec2RateLimits());
  if (!ec2Limits) return std::unexpected(ec2Limits.error());
  auto autoScalingLimits =
      aws::parseRateLimitSpec(setup->rateLimitSpecs["autoscaling"], aws::autoScalingRateLimits());
  if (!autoScalingLimits) return std::unexpected(autoScalingLimits.error());
  auto sqsLimits = aws::parseRateLimitSpec(setup->rateLimitSpecs["sqs"], aws::sqsRateLimits());
  if (!sqsLimits) return std::unexpected(sqsLimits.error());
  // Route 53's client is built later (route53()), but a bad spec fails here, at start.
  if (auto route53Limits =
          aws::parseRateLimitSpec(setup->rateLimitSpecs["route53"], aws::route53RateLimits());
      !route53Limits) {
    return std::unexpected(route53Limits.error());
  }
  setup->rateLimiter = std::make_unique<aws::RateLimiter>(*limits, clock);

  const aws::RetryOptions retry{
      .maxAttempts = flags.maxAttempts.value_or(setup->config.maxAttempts),
      .mode = setup->config.retryMode};
  auto service = aws::elbv2ServiceOptions(setup->config.region, setup->elbv2Endpoint.url, retry);
  service.attemptTimeout = flags.attemptTimeout;
  aws::QueryClientHooks hooks;
  hooks.observer = observer;
  hooks.logger = &log;
  setup->clock = &clock;
  setup->hooks = hooks;
  setup->hooks.beforeSend = flags.route53BeforeSend;
  setup->retry = retry;
  setup->attemptTimeout = flags.attemptTimeout;
  hooks.rateLimiter = setup->rateLimiter.get();
  aws::QueryClientHooks elbv2Hooks = hooks;
  elbv2Hooks.beforeSend = flags.elbv2BeforeSend;  // leader election fences every write attempt
  aws::AssumeRoleApisOptions accountOptions;
  accountOptions.sts = aws::stsServiceOptions(setup->stsEndpoint.signingRegion.empty()
                                                  ? setup->config.region
                                                  : setup->stsEndpoint.signingRegion,
                                              setup->stsEndpoint.url, retry);
  accountOptions.sts.attemptTimeout = flags.attemptTimeout;
  accountOptions.elbv2 = service;
  accountOptions.rateLimits = *limits;
  accountOptions.roleSessionName = flags.roleSessionName;
  setup->elbv2 = std::make_unique<aws::Elbv2Client>(std::move(service), *setup->transport,
                                                    *setup->credentials, clock, elbv2Hooks);
  setup->accounts = std::make_unique<aws::AssumeRoleApis>(
      std::move(accountOptions), *setup->transport, *setup->credentials, clock, elbv2Hooks,
      setup->rateLimiter.get());

  // EC2 and Auto Scaling (instance sources). Signed for the region the endpoint resolved to.
  auto ec2 = setup->config.endpoint(aws::AwsService::kEc2);
  if (!ec2) return std::unexpected(ec2.error());
  setup->ec2Endpoint = *ec2;
  auto autoScaling = setup->config.endpoint(aws::AwsService::kAutoScaling);
  if (!autoScaling) return std::unexpected(autoScaling.error());
  setup->autoScalingEndpoint = *autoScaling;
  auto sqs = setup->config.endpoint(aws::AwsService::kSqs);
  if (!sqs) return std::unexpected(sqs.error());
  setup->sqsEndpoint = *sqs;

  setup->ec2RateLimiter = std::make_unique<aws::RateLimiter>(*ec2Limits, clock);
  auto ec2Service = aws::ec2ServiceOptions(setup->config.region, setup->ec2Endpoint.url, retry);
  ec2Service.region = setup->ec2Endpoint.signingRegion.empty() ? setup->config.region
                                                               : setup->ec2Endpoint.signingRegion;
  ec2Service.attemptTimeout = flags.attemptTimeout;
  aws::QueryClientHooks ec2Hooks = hooks;
  ec2Hooks.rateLimiter = setup->ec2RateLimiter.get();
  setup->ec2 = std::make_unique<aws::Ec2Client>(std::move(ec2Service), *setup->transport,
                                                *setup->credentials, clock, ec2Hooks);

  setup->autoScalingRateLimiter = std::make_unique<aws::RateLimiter>(*autoScalingLimits, clock);
  auto asService =
      aws::autoScalingServiceOptions(setup->config.region, setup->autoScalingEndpoint.url, retry);
  asService.region = setup->autoScalingEndpoint.signingRegion.empty()
                         ? setup->config.region
                         : setup->autoScalingEndpoint.signingRegion;
  asService.attemptTimeout = flags.attemptTimeout;
  aws::QueryClientHooks asHooks = hooks;
  asHooks.rateLimiter = setup->autoScalingRateLimiter.get();
  setup->autoScaling = std::make_unique<aws::AutoScalingClient>(
      std::move(asService), *setup->transport, *setup->credentials, clock, asHooks);

  aws::CpprestTransportOptions sqsTransportOptions;
  sqsTransportOptions.environment = setup->environment;
  auto sqsTransport = aws::CpprestTransport::create(std::move(sqsTransportOptions));
  if (!sqsTransport) return std::unexpected(sqsTransport.error());
  setup->sqsTransport = std::move(*sqsTransport);
  setup->sqsRateLimiter = std::make_unique<aws::RateLimiter>(*sqsLimits, clock);
  auto sqsService = aws::sqsServiceOptions(setup->config.region, setup->sqsEndpoint.url, retry);
  sqsService.region = setup->sqsEndpoint.signingRegion.empty() ? setup->config.region
                                                               : setup->sqsEndpoint.signingRegion;
  // A long poll waits up to 20 s; the attempt must outlast it.
  sqsService.attemptTimeout = flags.attemptTimeout + std::chrono::seconds(20);
  aws::QueryClientHooks sqsHooks = hooks;
  sqsHooks.rateLimiter = setup->sqsRateLimiter.get();
  setup->sqs = std::make_unique<aws::SqsClient>(std::move(sqsService), *setup->sqsTransport,
                                                *setup->credentials, clock, sqsHooks);

  auto dynamoDb = setup->config.endpoint(aws::AwsService::kDynamoDb);
  if (!dynamoDb) return std::unexpected(dynamoDb.error());
  setup->dynamoDbEndpoint = *dynamoDb;
  aws::CpprestTransportOptions dynamoDbTransportOptions;
  dynamoDbTransportOptions.environment = setup->environment;
  auto dynamoDbTransport = aws::CpprestTransport::create(std::move(dynamoDbTransportOptions));
  if (!dynamoDbTransport) return std::unexpected(dynamoDbTransport.error());
  setup->dynamoDbTransport = std::move(*dynamoDbTransport);
  // Short backoffs: the election loop itself tries again every retry period.
  aws::RetryOptions leaseRetry = retry;
  leaseRetry.baseDelay = std::chrono::milliseconds(50);
  leaseRetry.maxBackoff = std::chrono::milliseconds(1000);
  auto dynamoDbService =
      aws::dynamoDbServiceOptions(setup->config.region, setup->dynamoDbEndpoint.url, leaseRetry);
  dynamoDbService.region = setup->dynamoDbEndpoint.signingRegion.empty()
                               ? setup->config.region
                               : setup->dynamoDbEndpoint.signingRegion;
  dynamoDbService.attemptTimeout = flags.dynamoDbAttemptTimeout.count() > 0
                                       ? flags.dynamoDbAttemptTimeout
                                       : flags.attemptTimeout;
  aws::QueryClientHooks dynamoDbHooks;
  dynamoDbHooks.observer = observer;
  dynamoDbHooks.logger = &log;
  setup->dynamoDb =
      std::make_unique<aws::DynamoDbClient>(std::move(dynamoDbService), *setup->dynamoDbTransport,
                                            *setup->credentials, clock, dynamoDbHooks);
  return setup;
}

core::Result<aws::Route53Client*> AwsSetup::route53() {
  std::lock_guard lock(route53Mu_);
  if (route53_) return route53_.get();
  auto endpoint = aws::route53Endpoint(config);
  if (!endpoint) return std::unexpected(endpoint.error());
  auto options = aws::route53ServiceOptions(endpoint->url, endpoint->signingRegion, retry);
  options.attemptTimeout = attemptTimeout;
  auto limits = aws::parseRateLimitSpec(rateLimitSpecs["route53"], aws::route53RateLimits());
  if (!limits) return std::unexpected(limits.error());  // checked by buildAwsSetup already
  route53RateLimiter_ = std::make_unique<aws::RateLimiter>(*limits, *clock);
  aws::QueryClientHooks route53Hooks = hooks;
  route53Hooks.rateLimiter = route53RateLimiter_.get();
  route53_ = std::make_unique<aws::Route53Client>(std::move(options), *transport, *credentials,
                                                  *clock, route53Hooks);
  route53Endpoint_ = *endpoint;
  return route53_.get();
}

aws::ResolvedEndpoint AwsSetup::route53Endpoint() const {
  std::lock_guard lock(route53Mu_);
  return route53Endpoint_;
}

}  // namespace endpointbinder::cli
