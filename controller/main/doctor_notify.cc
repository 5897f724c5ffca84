#include "controller/main/doctor_notify.h"

#include <set>

#include "controller/aws/proxy.h"
#include "controller/main/notify_setup.h"
#include "controller/runtime/notification_destinations.h"

namespace endpointbinder::cli {
namespace {

using Kind = DoctorLine::Kind;

bool isTimeout(const core::Error& error) {
  return error.code == "ConnectTimeout" || error.code == "RequestTimeout";
}

// The hint for an AWS call to `service` that failed with `error`.
std::string awsHint(const core::Error& error, const std::string& service, const std::string& region,
                    const std::string& permission) {
  if (isTimeout(error) || error.code == "ConnectionError") {
    return "no answer: from a private subnet this usually means a missing VPC interface endpoint "
           "(com.amazonaws." +
           region + "." + service + ") or a security group without egress 443 to it";
  }
  if (error.kind == core::ErrorKind::kAuth || error.code == "AuthorizationError") {
    return "the task role needs " + permission + " (`endpoint-binder iam-policy` prints it)";
  }
  return {};
}

std::string proxyText(const aws::Environment& env, const aws::Url& url) {
  const std::string proxy = aws::proxyFor(aws::proxySettingsFromEnvironment(env), url);
  if (proxy.empty()) return "direct";
  auto parsed = aws::parseUrl(proxy);
  return "via proxy " + (parsed ? parsed->host + ":" + std::to_string(parsed->effectivePort())
                                : std::string("(unparsable)"));
}

void checkSlack(const std::string& parameter, NotifySetup& notify, const AwsSetup& aws,
                std::chrono::milliseconds timeout, std::vector<DoctorLine>& out) {
  const std::string who = "notifications: SSM parameter " + parameter;
  auto read = notify.ssm().getParameter(parameter);
  if (!read) {
    std::string hint = awsHint(read.error(), "ssm", aws.config.region,
                               "ssm:GetParameter on the parameter and kms:Decrypt on its key");
    if (read.error().kind == core::ErrorKind::kNotFound) {
      hint = "create it in " + aws.config.region +
             ": aws ssm put-parameter --type SecureString --name " + parameter +
             " --value <webhook URL>";
    }
    out.push_back({Kind::kFail, who + ": " + read.error().toString(), hint});
    return;
  }
  auto url = runtime::checkWebhookUrl(read->value, parameter);
  if (!url) {
    out.push_back({Kind::kFail, who + ": " + url.error().message,
                   "store the webhook's https:// URL in the parameter"});
    return;
  }
  out.push_back({Kind::kOk, who + " readable (" + read->type + ", version " +
                                std::to_string(read->version) + ")"});
  if (read->type != "SecureString") {
    out.push_back({Kind::kWarn,
                   who + " is a " + read->type +
                       ": a webhook URL is a secret, store it as a "
                       "SecureString",
                   ""});
  }
  // Reachability of the host only: GET the origin, never the secret path.
  aws::HttpRequest probe;
  probe.method = "GET";
  probe.url = url->origin() + "/";
  probe.timeout = timeout;
  const std::string host = url->hostForHeader() + ":" + std::to_string(url->effectivePort());
  const std::string route = proxyText(aws.environment, *url);
  auto answer = notify.transport().send(probe);
  if (answer) {
    out.push_back({Kind::kOk,
                   "notifications: Slack webhook host " + host + " reachable (" +
                       (url->scheme == "https" ? "TLS ok, " : "") + "HTTP " +
                       std::to_string(answer->status) + ", " + route + ")",
                   ""});
    return;
  }
  std::string hint;
  if (answer.error().code == "TlsError") {
    hint =
        "TLS failed: behind a TLS-inspecting proxy give its CA with --notify-ca-bundle (or "
        "AWS_CA_BUNDLE)";
  } else if (route == "direct") {
    hint =
        "from a private subnet Slack is reached through a NAT gateway or an HTTPS proxy: set "
        "HTTPS_PROXY (and NO_PROXY for the VPC endpoints); the host name must resolve there";
  } else {
    hint = "the proxy (" + route.substr(10) + ") did not get through: check that it allows " +
           url->host + " and that it resolves the name";
  }
  out.push_back({Kind::kFail,
                 "notifications: Slack webhook host " + host + " unreachable (" + route +
                     "): " + answer.error().message,
                 hint});
}

void checkSns(const std::string& topic, NotifySetup& notify, std::vector<DoctorLine>& out) {
  const std::string who = "notifications: SNS topic " + topic;
  auto client = notify.snsFor(topic);
  if (!client) {
    out.push_back({Kind::kFail, who + ": " + client.error().message, ""});
    return;
  }
  const std::string region = aws::topicRegion(topic);
  auto attributes = (*client)->getTopicAttributes(topic);
  if (!attributes) {
    std::string hint = awsHint(attributes.error(), "sns", region,
                               "sns:GetTopicAttributes (doctor) and sns:Publish on the topic");
    if (attributes.error().kind == core::ErrorKind::kNotFound) {
      hint = "check the ARN: the topic must exist in " + region + " of that account";
    }
    out.push_back({Kind::kFail, who + ": " + attributes.error().toString(), hint});
    return;
  }
  const auto endpoint = notify.snsEndpointFor(topic);
  out.push_back(
      {Kind::kOk, who + " reachable (" + (endpoint ? *endpoint : std::string("?")) + ")", ""});
}

}  // namespace

std::vector<DoctorLine> checkNotifications(const api::ManifestSet& manifests, const AwsSetup& aws,
                                           const std::string& caBundle,
                                           std::chrono::milliseconds timeout,
                                           const core::Clock& clock, core::Logger& log) {
  std::vector<DoctorLine> out;
  std::set<std::string> parameters;
  std::set<std::string> topics;
  for (const auto& binding : manifests.targetGroupBindings) {
    for (const auto& entry : binding.spec.notifications) {
      if (entry.slackWebhookSsmParameter) parameters.insert(*entry.slackWebhookSsmParameter);
      if (entry.snsTopicArn) topics.insert(*entry.snsTopicArn);
    }
  }
  if (parameters.empty() && topics.empty()) return out;
  auto notify = NotifySetup::build(aws, caBundle, clock, log, nullptr, timeout, /*maxAttempts=*/1);
  if (!notify) {
    out.push_back({Kind::kFail, "notifications: " + notify.error().message, ""});
    return out;
  }
  for (const auto& parameter : parameters) {
    checkSlack(parameter, **notify, aws, timeout, out);
  }
  for (const auto& topic : topics) checkSns(topic, **notify, out);
  return out;
}

}  // namespace endpointbinder::cli
