#include "controller/main/notify_setup.h"

namespace endpointbinder::cli {

core::Result<std::unique_ptr<NotifySetup>> NotifySetup::build(
    const AwsSetup& aws, const std::string& caBundle, const core::Clock& clock, core::Logger& log,
    aws::AwsCallObserver* observer, std::chrono::milliseconds timeout, int maxAttempts) {
  std::unique_ptr<NotifySetup> setup(new NotifySetup(aws, clock, log, observer));
  setup->timeout_ = timeout;
  setup->maxAttempts_ = maxAttempts > 0 ? maxAttempts : aws.config.maxAttempts;
  aws::CpprestTransportOptions transportOptions;
  transportOptions.environment = aws.environment;
  transportOptions.caBundlePath = caBundle;
  transportOptions.maxResponseBytes = 1024 * 1024;  // webhooks answer "ok"; AWS a few KiB
  auto transport = aws::CpprestTransport::create(std::move(transportOptions));
  if (!transport) return std::unexpected(transport.error());
  setup->transport_ = std::move(*transport);

  auto ssm = aws.config.endpoint(aws::AwsService::kSsm);
  if (!ssm) return std::unexpected(ssm.error());
  setup->ssmEndpoint_ = *ssm;
  auto options = aws::ssmServiceOptions(
      ssm->signingRegion, ssm->url,
      aws::RetryOptions{.maxAttempts = setup->maxAttempts_, .mode = aws.config.retryMode});
  options.attemptTimeout = timeout;
  aws::QueryClientHooks hooks;
  hooks.observer = observer;
  hooks.logger = &log;
  setup->ssm_ = std::make_unique<aws::SsmClient>(std::move(options), *setup->transport_,
                                                 *aws.credentials, clock, hooks);
  return setup;
}

core::Result<std::string> NotifySetup::snsEndpointFor(const std::string& topicArn) const {
  const std::string region = aws::topicRegion(topicArn);
  if (!aws::isValidRegionName(region)) {
    return core::makeError(core::ErrorKind::kTerminal,
                           "SNS topic ARN " + topicArn + " names no valid Region", "InvalidArn");
  }
  auto configured = aws_.config.endpoint(aws::AwsService::kSns);
  if (configured && configured->source != "default") return configured->url;
  auto regional = aws::defaultEndpoint(aws::AwsService::kSns, region, aws_.config.useFipsEndpoint);
  if (!regional) return std::unexpected(regional.error());
  return regional->url;
}

core::Result<aws::SnsClient*> NotifySetup::snsFor(const std::string& topicArn) {
  const std::string region = aws::topicRegion(topicArn);
  auto endpoint = snsEndpointFor(topicArn);
  if (!endpoint) return std::unexpected(endpoint.error());
  std::lock_guard lock(mu_);
  auto& slot = sns_[region];
  if (!slot) {
    auto options = aws::snsServiceOptions(
        region, *endpoint,
        aws::RetryOptions{.maxAttempts = maxAttempts_, .mode = aws_.config.retryMode});
    options.attemptTimeout = timeout_;
    aws::QueryClientHooks hooks;
    hooks.observer = observer_;
    hooks.logger = &log_;
    slot = std::make_unique<aws::SnsClient>(std::move(options), *transport_, *aws_.credentials,
                                            clock_, hooks);
  }
  return slot.get();
}

runtime::DestinationFactory NotifySetup::destinationFactory(const NotifyTimings& timings,
                                                            const std::string& controllerId) {
  return [this, timings, controllerId](const runtime::DestinationRef& ref)
             -> core::Result<std::unique_ptr<runtime::NotificationDestination>> {
    runtime::RenderOptions render;
    render.controllerId = controllerId;
    if (ref.kind == runtime::DestinationRef::Kind::kSns) {
      auto client = snsFor(ref.target);
      if (!client) return std::unexpected(client.error());
      return std::make_unique<runtime::SnsTopicDestination>(ref.target, **client, render);
    }
    runtime::SlackWebhookOptions options;
    options.parameterName = ref.target;
    options.urlMaxAge = timings.urlRefresh;
    options.timeout = timings.timeout;
    options.render = render;
    return std::make_unique<runtime::SlackWebhookDestination>(std::move(options), *transport_,
                                                              *ssm_, clock_, log_);
  };
}

}  // namespace endpointbinder::cli
