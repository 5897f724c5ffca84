// Where notifications go: a Slack-compatible incoming webhook whose URL is a secret kept in SSM
// Parameter Store, or an SNS topic. Each send() is one attempt; the DeliveryQueue decides about
// retries from the SendOutcome.
//
// Slack webhook:
//  - The URL is read with SSM GetParameter (WithDecryption) on first use, cached, read again
//    after urlMaxAge, and at once when the webhook answers 403, 404 or 410 (Slack's answers for
//    a revoked token, a removed webhook or an archived channel): when the parameter now holds
//    another URL the message is sent again to it, else it is given up. A failed periodic
//    re-read keeps the cached URL (SSM down must not stop notifications), with a warning.
//  - https only; plain http only to a loopback address (127.0.0.0/8, ::1, localhost), for local
//    relays and tests. HTTPS_PROXY/NO_PROXY apply as for the AWS calls (the transport's).
//  - 2xx is sent; 429 is throttled, with Retry-After (seconds or an HTTP date) honoured; 5xx and
//    transport failures are retried; any other status gives the message up (a 400 means the
//    payload will never be accepted).
//  - The URL is a secret: it never appears in an outcome, a log line, a metric or an Error.
//    Requests are marked secretPath (the transport redacts the path from its errors) and every
//    message that could hold it is passed through redactSecret as well.
// SNS topic: Publish through a TopicPublisher; throttling is throttled, other retryable errors
// are retried, the rest (no such topic, no permission, invalid) is given up.
// Thread-safety: send() may be called from any thread, one call at a time per destination;
// SlackWebhookDestination::webhookUrl() may run concurrently with it.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "controller/aws/http.h"
#include "controller/aws/sns_client.h"
#include "controller/aws/ssm_client.h"
#include "controller/aws/url.h"
#include "controller/core/clock.h"
#include "controller/core/log.h"
#include "controller/runtime/notification.h"
#include "controller/runtime/notification_queue.h"
#include "controller/runtime/notification_render.h"

namespace endpointbinder::runtime {

class NotificationDestination {
 public:
  virtual ~NotificationDestination() = default;
  virtual const char* kind() const = 0;  // "slack" or "sns": the metrics label
  // For logs: names the SSM parameter or the topic, never a secret.
  virtual std::string name() const = 0;
  // One attempt to deliver `notice`.
  virtual SendOutcome send(const Notice& notice) = 0;
};

// The Retry-After header's wait: delta-seconds ("30") or an HTTP date (then minus `now`, at
// least 0); nullopt when absent or unreadable.
std::optional<std::chrono::nanoseconds> parseRetryAfter(std::string_view value, core::WallTime now);

// Checks a webhook URL read from the SSM parameter `parameter`: https, or http to a loopback
// address. The Error (kTerminal "InvalidWebhookUrl") names the parameter and the problem, never
// the URL.
core::Result<aws::Url> checkWebhookUrl(const std::string& url, std::string_view parameter);

struct SlackWebhookOptions {
  std::string parameterName;  // the SSM parameter holding the URL
  std::chrono::nanoseconds urlMaxAge = std::chrono::minutes(15);
  std::chrono::milliseconds timeout{10'000};  // one POST, connect included
  RenderOptions render;
};

class SlackWebhookDestination final : public NotificationDestination {
 public:
  SlackWebhookDestination(SlackWebhookOptions options, aws::HttpTransport& transport,
                          aws::ParameterStore& parameters, const core::Clock& clock,
                          core::Logger& log);

  const char* kind() const override { return "slack"; }
  std::string name() const override;
  SendOutcome send(const Notice& notice) override;

  // The webhook URL (cached unless `reload` or too old), checked by checkWebhookUrl. A secret:
  // for the caller's request only. Errors name the parameter, never the value.
  core::Result<std::string> webhookUrl(bool reload = false);

  // Times the URL was read from SSM (tests).
  int parameterReads() const;

 private:
  SendOutcome post(const std::string& url, const std::string& body, int& status);

  const SlackWebhookOptions options_;
  aws::HttpTransport& transport_;
  aws::ParameterStore& parameters_;
  const core::Clock& clock_;
  core::Logger& log_;
  mutable std::mutex mu_;  // guards the cache, never held across I/O
  std::string url_;
  core::MonoTime readAt_{};
  int reads_ = 0;
};

class SnsTopicDestination final : public NotificationDestination {
 public:
  SnsTopicDestination(std::string topicArn, aws::TopicPublisher& publisher,
                      RenderOptions render = {});

  const char* kind() const override { return "sns"; }
  std::string name() const override { return "SNS topic " + topicArn_; }
  SendOutcome send(const Notice& notice) override;

 private:
  const std::string topicArn_;
  aws::TopicPublisher& publisher_;
  const RenderOptions render_;
};

}  // namespace endpointbinder::runtime
