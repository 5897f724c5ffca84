// NotifySetup: the clients notifications use, built the same way by `run` and `doctor`.
//  - Their own HTTPS transport (HTTPS_PROXY/NO_PROXY as the AWS one; CA bundle: --notify-ca-bundle,
//    else AWS_CA_BUNDLE, else the system store), so a hanging webhook or SNS endpoint never holds
//    a connection the reconcilers need, and shutdown can cancel notification requests alone.
//  - SSM (the controller's Region; AWS_ENDPOINT_URL_SSM / AWS_ENDPOINT_URL apply) for webhook URLs.
//  - SNS, one client per topic Region (a topic is published to in its own Region; a configured
//    AWS_ENDPOINT_URL_SNS / AWS_ENDPOINT_URL is used for every Region, signed for the topic's).
// `run` adds the Notifier on top; `doctor` uses the clients to check each destination.
// Thread-safety: build once; the clients (and snsFor()) are safe for concurrent use.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "controller/aws/cpprest_transport.h"
#include "controller/aws/sns_client.h"
#include "controller/aws/ssm_client.h"
#include "controller/main/aws_setup.h"
#include "controller/runtime/notifier.h"

namespace endpointbinder::cli {

struct NotifyFlags {
  std::string coalesceWindow = "10s";  // --notify-coalesce-window
  std::string minInterval = "1m";      // --notify-min-interval
  std::string timeout = "10s";         // --notify-timeout
  std::string urlRefresh = "15m";      // --notify-webhook-refresh
  std::string caBundle;                // --notify-ca-bundle
};

struct NotifyTimings {
  std::chrono::nanoseconds coalesceWindow = std::chrono::seconds(10);
  std::chrono::nanoseconds minInterval = std::chrono::minutes(1);
  std::chrono::milliseconds timeout{10'000};
  std::chrono::nanoseconds urlRefresh = std::chrono::minutes(15);
};

class NotifySetup {
 public:
  // Builds the transport and the SSM client; fails on an unreadable CA bundle or an invalid
  // proxy or endpoint (messages a user can act on). `maxAttempts` 0: AWS_MAX_ATTEMPTS's.
  static core::Result<std::unique_ptr<NotifySetup>> build(
      const AwsSetup& aws, const std::string& caBundle, const core::Clock& clock, core::Logger& log,
      aws::AwsCallObserver* observer, std::chrono::milliseconds timeout, int maxAttempts = 0);

  aws::CpprestTransport& transport() { return *transport_; }
  aws::SsmClient& ssm() { return *ssm_; }
  const aws::ResolvedEndpoint& ssmEndpoint() const { return ssmEndpoint_; }
  // The SNS client for the topic's Region (created on first use).
  core::Result<aws::SnsClient*> snsFor(const std::string& topicArn);
  // The endpoint URL used for the topic's Region.
  core::Result<std::string> snsEndpointFor(const std::string& topicArn) const;

  // Destinations for the Notifier: a Slack webhook (URL from SSM) or an SNS topic.
  runtime::DestinationFactory destinationFactory(const NotifyTimings& timings,
                                                 const std::string& controllerId);

 private:
  NotifySetup(const AwsSetup& aws, const core::Clock& clock, core::Logger& log,
              aws::AwsCallObserver* observer)
      : aws_(aws), clock_(clock), log_(log), observer_(observer) {}

  const AwsSetup& aws_;
  const core::Clock& clock_;
  core::Logger& log_;
  aws::AwsCallObserver* observer_;
  std::chrono::milliseconds timeout_{10'000};
  int maxAttempts_ = 3;
  std::unique_ptr<aws::CpprestTransport> transport_;
  aws::ResolvedEndpoint ssmEndpoint_;
  std::unique_ptr<aws::SsmClient> ssm_;
  std::mutex mu_;
  std::map<std::string, std::unique_ptr<aws::SnsClient>> sns_;  // by Region, guarded by mu_
};

}  // namespace endpointbinder::cli
