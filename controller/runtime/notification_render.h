// How a Notice reads at each destination. Pure functions of the notice.
//
// Slack (incoming webhooks and Slack-compatible ones: Mattermost, Rocket.Chat, ...): a JSON
// payload with a plain-text `text` (the fallback shown in notifications and by receivers that
// do not render blocks) and Block Kit `blocks`: a header (binding and what happened), one
// mrkdwn section per event (what changed, the addresses, why), a fields section (target group,
// targets now, source) and a context line (controller id, target group ARN, time). Slack's
// limits are kept: header 150 characters, section text 3000, field 2000, 50 blocks; user text
// is escaped for mrkdwn (&, <, >), so a name can never mention @channel or forge a link.
//
// SNS: a Subject (ASCII, one line, < 100 characters), a Message in the AWS Chatbot (Amazon Q
// Developer in chat applications) custom-notification shape, so a topic subscribed by Chatbot
// shows it in Slack or Teams without any webhook:
//   {"version": "1.0", "source": "custom", "id": …,
//    "content": {"textType": "client-markdown", "title": …, "description": …,
//                "nextSteps": […], "keywords": […]},
//    "metadata": {"threadId": …, "summary": …, "eventType": …, "relatedResources": [ARN],
//                 "additionalContext": {"binding", "namespace", "targetGroup"}}}
// and message attributes for subscription filter policies: binding, namespace (String),
// eventType (String.Array of the event names), targetGroup (String).
// Nothing rendered ever holds a secret: notices carry none (the webhook URL stays in the
// Slack destination).
#pragma once

#include <string>

#include "controller/aws/sns_client.h"
#include "controller/runtime/notification.h"

namespace endpointbinder::runtime {

struct RenderOptions {
  std::string controllerId = "endpoint-binder";
};

// One line per event, for logs and `text` fallbacks: "prod/web: Registered 1 target
// (10.0.1.6:443); Deregistered 1 target (10.0.1.5:443). Target group web: 1 registered, ..."
std::string renderPlainText(const Notice& notice);

// The Slack webhook payload (JSON text).
std::string renderSlack(const Notice& notice, const RenderOptions& options = {});

// The SNS Publish request for `topicArn` (FIFO topics get the binding as message group and the
// notice id as deduplication id).
aws::SnsPublishRequest renderSns(const Notice& notice, const std::string& topicArn,
                                 const RenderOptions& options = {});

// Slack mrkdwn escaping: & < > become &amp; &lt; &gt;.
std::string escapeMrkdwn(std::string_view text);

}  // namespace endpointbinder::runtime
