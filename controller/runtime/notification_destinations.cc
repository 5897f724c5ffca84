#include "controller/runtime/notification_destinations.h"

#include <charconv>

#include "controller/aws/retry.h"

namespace endpointbinder::runtime {
namespace {

using core::LogLevel;

// Printable ASCII, at most `limit` characters: a peer's answer goes into logs.
std::string sanitize(std::string_view text, size_t limit) {
  std::string out;
  for (char c : text) {
    if (out.size() >= limit) break;
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f) out.push_back(c);
  }
  return out;
}

bool isLoopbackHost(std::string_view host) {
  if (host == "localhost" || host == "::1") return true;
  if (!host.starts_with("127.") || !aws::isIpLiteral(host)) return false;
  return true;
}

// Removes every spelling of the URL (whole, origin-less path, path) from `text`.
std::string redactUrl(std::string text, const std::string& url) {
  if (url.empty()) return text;
  aws::redactSecret(text, url, "<redacted webhook URL>");
  if (auto parsed = aws::parseUrl(url)) {
    if (parsed->hasQuery) aws::redactSecret(text, parsed->path + "?" + parsed->query, "<redacted>");
    aws::redactSecret(text, parsed->path, "<redacted>");
    if (parsed->hasQuery) aws::redactSecret(text, parsed->query, "<redacted>");
  }
  return text;
}

}  // namespace

std::optional<std::chrono::nanoseconds> parseRetryAfter(std::string_view value,
                                                        core::WallTime now) {
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
  if (value.empty()) return std::nullopt;
  long long seconds = 0;
  const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
  if (ec == std::errc() && end == value.data() + value.size()) {
    if (seconds < 0) return std::nullopt;
    return std::chrono::seconds(std::min<long long>(seconds, 86'400));
  }
  if (auto date = aws::parseHttpDate(value)) {
    if (*date <= now) return std::chrono::nanoseconds(0);
    return std::chrono::duration_cast<std::chrono::nanoseconds>(*date - now);
  }
  return std::nullopt;
}

core::Result<aws::Url> checkWebhookUrl(const std::string& url, std::string_view parameter) {
  const std::string where = "the webhook URL in SSM parameter " + std::string(parameter);
  auto parsed = aws::parseUrl(url);
  if (!parsed) {
    return core::makeError(core::ErrorKind::kTerminal, where + " is not an absolute https:// URL",
                           "InvalidWebhookUrl");
  }
  if (!parsed->userinfo.empty()) {
    return core::makeError(core::ErrorKind::kTerminal, where + " must not carry user:password@",
                           "InvalidWebhookUrl");
  }
  if (parsed->scheme == "https") return *parsed;
  if (isLoopbackHost(parsed->host)) return *parsed;
  return core::makeError(core::ErrorKind::kTerminal,
                         where + " uses http:// to " + parsed->host +
                             ": only https is allowed (plain http only to a loopback relay)",
                         "InvalidWebhookUrl");
}

SlackWebhookDestination::SlackWebhookDestination(SlackWebhookOptions options,
                                                 aws::HttpTransport& transport,
                                                 aws::ParameterStore& parameters,
                                                 const core::Clock& clock, core::Logger& log)
    : options_(std::move(options)),
      transport_(transport),
      parameters_(parameters),
      clock_(clock),
      log_(log) {}

std::string SlackWebhookDestination::name() const {
  return "Slack webhook (SSM parameter " + options_.parameterName + ")";
}

int SlackWebhookDestination::parameterReads() const {
  std::lock_guard lock(mu_);
  return reads_;
}

core::Result<std::string> SlackWebhookDestination::webhookUrl(bool reload) {
  const auto now = clock_.now();
  std::string cached;
  {
    std::lock_guard lock(mu_);
    if (!url_.empty() && !reload && now - readAt_ < options_.urlMaxAge) return url_;
    cached = url_;
    ++reads_;
  }
  auto parameter = parameters_.getParameter(options_.parameterName);
  if (!parameter) {
    core::Error error = parameter.error();
    error.message = "reading SSM parameter " + options_.parameterName + ": " + error.message;
    if (!cached.empty() && !reload) {
      // A periodic re-read failed: the URL we have still works until the webhook says otherwise.
      log_.log(LogLevel::kWarn, "cannot re-read the Slack webhook URL; using the cached one",
               {core::field("parameter", options_.parameterName),
                core::field("error", redactUrl(error.toString(), cached))});
      std::lock_guard lock(mu_);
      readAt_ = now;
      return cached;
    }
    error.message = redactUrl(error.message, cached);
    return std::unexpected(error);
  }
  if (parameter->type != "SecureString") {
    log_.log(
        LogLevel::kWarn, "the Slack webhook URL is not stored as a SecureString",
        {core::field("parameter", options_.parameterName), core::field("type", parameter->type)});
  }
  if (auto checked = checkWebhookUrl(parameter->value, options_.parameterName); !checked) {
    return std::unexpected(checked.error());
  }
  std::lock_guard lock(mu_);
  url_ = std::move(parameter->value);
  readAt_ = now;
  return url_;
}

SendOutcome SlackWebhookDestination::post(const std::string& url, const std::string& body,
                                          int& status) {
  status = 0;
  aws::HttpRequest request;
  request.method = "POST";
  request.url = url;
  request.headers.emplace_back("Content-Type", "application/json; charset=utf-8");
  request.body = body;
  request.timeout = options_.timeout;
  request.secretPath = true;
  auto response = transport_.send(request);
  SendOutcome outcome;
  if (!response) {
    outcome.kind = SendOutcome::Kind::kRetry;
    outcome.error = redactUrl("webhook: " + response.error().toString(), url);
    return outcome;
  }
  status = response->status;
  const std::string answer = redactUrl(sanitize(response->body, 200), url);
  if (status >= 200 && status < 300) return outcome;
  outcome.error = redactUrl("webhook answered HTTP " + std::to_string(status) +
                                (answer.empty() ? std::string() : " \"" + answer + "\""),
                            url);
  if (status == 429) {
    outcome.kind = SendOutcome::Kind::kThrottled;
    outcome.retryAfter =
        parseRetryAfter(aws::findHeader(response->headers, "Retry-After"), clock_.wallNow());
  } else if (status >= 500 || status == 408) {
    outcome.kind = SendOutcome::Kind::kRetry;
  } else {
    outcome.kind = SendOutcome::Kind::kFailed;
  }
  return outcome;
}

SendOutcome SlackWebhookDestination::send(const Notice& notice) {
  auto url = webhookUrl();
  if (!url) {
    return SendOutcome{url.error().code == "InvalidWebhookUrl" ? SendOutcome::Kind::kFailed
                                                               : SendOutcome::Kind::kRetry,
                       std::nullopt, url.error().toString()};
  }
  const std::string body = renderSlack(notice, options_.render);
  int status = 0;
  SendOutcome outcome = post(*url, body, status);
  // 403/404/410: the webhook was revoked, removed or archived. The parameter may hold its
  // replacement by now.
  if (status != 403 && status != 404 && status != 410) return outcome;
  auto fresh = webhookUrl(/*reload=*/true);
  if (!fresh) {
    return SendOutcome{SendOutcome::Kind::kRetry, std::nullopt,
                       outcome.error + "; " + fresh.error().toString()};
  }
  if (*fresh == *url) {
    outcome.error += "; SSM parameter " + options_.parameterName +
                     " still holds this webhook: replace it with a working one";
    return outcome;
  }
  log_.log(LogLevel::kInfo, "the Slack webhook URL changed in SSM; sending again",
           {core::field("parameter", options_.parameterName)});
  return post(*fresh, body, status);
}

SnsTopicDestination::SnsTopicDestination(std::string topicArn, aws::TopicPublisher& publisher,
                                         RenderOptions render)
    : topicArn_(std::move(topicArn)), publisher_(publisher), render_(std::move(render)) {}

SendOutcome SnsTopicDestination::send(const Notice& notice) {
  auto published = publisher_.publish(renderSns(notice, topicArn_, render_));
  if (published) return SendOutcome{};
  const core::Error& error = published.error();
  SendOutcome outcome;
  outcome.error = "sns:Publish: " + error.toString();
  if (error.kind != core::ErrorKind::kRetryable) {
    outcome.kind = SendOutcome::Kind::kFailed;
  } else if (aws::isThrottlingCode(error.code)) {
    outcome.kind = SendOutcome::Kind::kThrottled;
  } else {
    outcome.kind = SendOutcome::Kind::kRetry;
  }
  return outcome;
}

}  // namespace endpointbinder::runtime
