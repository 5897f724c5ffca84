// The Slack webhook destination (URL from SSM, cached and re-read, 429/5xx/4xx, HTTPS with a
// test CA, a hanging webhook, the URL never disclosed) and the SNS destination.
#include "controller/runtime/notification_destinations.h"

#include <cpprest/json.h>
#include <gtest/gtest.h>

#include <mutex>

#include "controller/aws/cpprest_transport.h"
#include "tests/support/aws_local_server.h"
#include "tests/support/fake_http_transport.h"

namespace endpointbinder::runtime {
namespace {

using namespace std::chrono_literals;
using testing::FakeHttpTransport;

constexpr std::string_view kSecret = "s3cr3tT0k3nXXXXXXXXXXXXX";

std::string webhook(std::string_view origin = "https://hooks.slack.com") {
  return std::string(origin) + "/services/T0001/B0002/" + std::string(kSecret);
}

// SSM as the test scripts it.
class FakeParameterStore final : public aws::ParameterStore {
 public:
  core::Result<aws::SsmParameter> getParameter(const std::string& name) override {
    std::lock_guard lock(mu_);
    ++reads;
    if (error) return std::unexpected(*error);
    return aws::SsmParameter{name, type, value, 1, "arn"};
  }
  void set(std::string v) {
    std::lock_guard lock(mu_);
    value = std::move(v);
  }
  std::mutex mu_;
  std::string value;
  std::string type = "SecureString";
  std::optional<core::Error> error;
  int reads = 0;
};

// Keeps every log line, to check no secret is ever logged.
class CapturingLogger final : public core::Logger {
 public:
  bool enabled(core::LogLevel) const override { return true; }
  void log(core::LogLevel, std::string_view message,
           std::initializer_list<core::LogField> fields) override {
    std::lock_guard lock(mu_);
    std::string line(message);
    for (const auto& f : fields) line += " " + f.key + "=" + f.value;
    lines.push_back(line);
  }
  std::string all() const {
    std::lock_guard lock(mu_);
    std::string out;
    for (const auto& l : lines) out += l + "\n";
    return out;
  }
  mutable std::mutex mu_;
  std::vector<std::string> lines;
};

Notice notice() {
  Notice n;
  n.context.key = "prod/web";
  n.context.ns = "prod";
  n.context.targetGroupName = "web-tg";
  n.add(n.context, NoticeEvent{.kind = NoticeKind::kRegistered,
                               .targets = {"10.0.1.6:443"},
                               .count = 1,
                               .detail = "listed"});
  return n;
}

aws::HttpResponse answer(int status, std::string body = "", aws::Headers headers = {}) {
  return aws::HttpResponse{status, std::move(headers), std::move(body)};
}

struct SlackFixture {
  core::ManualClock clock;
  FakeHttpTransport transport;
  FakeParameterStore parameters;
  CapturingLogger log;
  SlackWebhookDestination destination;
  SlackFixture()
      : destination(SlackWebhookOptions{"/eb/slack", 15min, 5000ms, {}}, transport, parameters,
                    clock, log) {
    parameters.value = webhook();
  }
};

TEST(SlackWebhook, PostsBlockKitToTheUrlFromSsmAndCachesIt) {
  SlackFixture f;
  f.transport.push(answer(200, "ok"));
  f.transport.push(answer(200, "ok"));
  EXPECT_EQ(f.destination.send(notice()).kind, SendOutcome::Kind::kSent);
  f.clock.advance(14min);
  EXPECT_EQ(f.destination.send(notice()).kind, SendOutcome::Kind::kSent);
  EXPECT_EQ(f.parameters.reads, 1) << "cached";
  const auto requests = f.transport.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].method, "POST");
  EXPECT_EQ(requests[0].url, webhook());
  EXPECT_TRUE(requests[0].secretPath);
  EXPECT_EQ(aws::findHeader(requests[0].headers, "Content-Type"),
            "application/json; charset=utf-8");
  const auto body = web::json::value::parse(requests[0].body);
  EXPECT_TRUE(body.has_string_field("text"));
  EXPECT_TRUE(body.at("blocks").is_array());
  // Periodic re-read.
  f.clock.advance(2min);
  f.transport.push(answer(200, "ok"));
  EXPECT_EQ(f.destination.send(notice()).kind, SendOutcome::Kind::kSent);
  EXPECT_EQ(f.parameters.reads, 2);
}

TEST(SlackWebhook, StatusesMapToOutcomesAndRetryAfterIsRead) {
  SlackFixture f;
  f.transport.push(answer(429, "rate_limited", {{"Retry-After", "30"}}));
  auto throttled = f.destination.send(notice());
  EXPECT_EQ(throttled.kind, SendOutcome::Kind::kThrottled);
  EXPECT_EQ(throttled.retryAfter, std::chrono::nanoseconds(30s));
  f.transport.push(answer(429, ""));
  EXPECT_EQ(f.destination.send(notice()).retryAfter, std::nullopt);
  f.transport.push(answer(503, "busy"));
  EXPECT_EQ(f.destination.send(notice()).kind, SendOutcome::Kind::kRetry);
  f.transport.pushTransportError("ConnectTimeout");
  EXPECT_EQ(f.destination.send(notice()).kind, SendOutcome::Kind::kRetry);
  f.transport.push(answer(400, "invalid_blocks"));
  auto invalid = f.destination.send(notice());
  EXPECT_EQ(invalid.kind, SendOutcome::Kind::kFailed);
  EXPECT_NE(invalid.error.find("HTTP 400 \"invalid_blocks\""), std::string::npos) << invalid.error;
  EXPECT_EQ(f.parameters.reads, 1) << "a 400 is not about the URL";
}

TEST(SlackWebhook, RetryAfterAsSecondsOrHttpDate) {
  const core::WallTime now{std::chrono::seconds(1'700'000'000)};
  EXPECT_EQ(parseRetryAfter(" 12 ", now), std::chrono::nanoseconds(12s));
  // 1700000000 is Tue, 14 Nov 2023 22:13:20 GMT.
  EXPECT_EQ(parseRetryAfter("Tue, 14 Nov 2023 22:13:00 GMT", now), std::chrono::nanoseconds(0s));
  EXPECT_EQ(parseRetryAfter("Tue, 14 Nov 2023 22:14:20 GMT", now), std::chrono::nanoseconds(60s));
  EXPECT_EQ(parseRetryAfter("soon", now), std::nullopt);
  EXPECT_EQ(parseRetryAfter("-3", now), std::nullopt);
}

TEST(SlackWebhook, A404ReReadsTheParameterAndSendsToTheNewUrl) {
  SlackFixture f;
  f.transport.push(answer(404, "no_service"));
  f.transport.push(answer(200, "ok"));
  const std::string replacement = webhook("https://hooks.slack.com") + "NEW";
  f.transport.setHandler(nullptr);
  // The parameter is rotated right after the first read.
  f.destination.webhookUrl();
  f.parameters.set(replacement);
  EXPECT_EQ(f.destination.send(notice()).kind, SendOutcome::Kind::kSent);
  EXPECT_EQ(f.parameters.reads, 2);
  const auto requests = f.transport.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[1].url, replacement);
  // Gone and not replaced: given up, saying what to do, never the URL.
  f.transport.push(answer(403, "invalid_token"));
  auto gone = f.destination.send(notice());
  EXPECT_EQ(gone.kind, SendOutcome::Kind::kFailed);
  EXPECT_NE(gone.error.find("SSM parameter /eb/slack still holds this webhook"), std::string::npos);
  EXPECT_EQ(gone.error.find(std::string(kSecret)), std::string::npos);
}

TEST(SlackWebhook, SsmFailuresAndBadUrls) {
  SlackFixture f;
  f.parameters.error = core::Error{core::ErrorKind::kAuth, "GetParameter: not authorized",
                                   "AccessDeniedException", "r", 400};
  auto denied = f.destination.send(notice());
  EXPECT_EQ(denied.kind, SendOutcome::Kind::kRetry);
  EXPECT_NE(denied.error.find("reading SSM parameter /eb/slack"), std::string::npos);
  // With a URL cached, a failed periodic re-read keeps using it.
  f.parameters.error.reset();
  f.transport.push(answer(200, "ok"));
  f.transport.push(answer(200, "ok"));
  EXPECT_EQ(f.destination.send(notice()).kind, SendOutcome::Kind::kSent);
  f.parameters.error = core::Error{core::ErrorKind::kRetryable, "timeout", "RequestTimeout", "", 0};
  f.clock.advance(16min);
  EXPECT_EQ(f.destination.send(notice()).kind, SendOutcome::Kind::kSent);
  EXPECT_NE(f.log.all().find("cannot re-read the Slack webhook URL; using the cached one"),
            std::string::npos);

  for (const std::string& bad :
       {std::string("http://hooks.slack.com/services/") + std::string(kSecret),
        std::string("ftp://x/") + std::string(kSecret), std::string(kSecret),
        std::string("https://user:") + std::string(kSecret) + "@hooks.slack.com/x"}) {
    auto checked = checkWebhookUrl(bad, "/eb/slack");
    ASSERT_FALSE(checked.has_value()) << bad;
    EXPECT_EQ(checked.error().code, "InvalidWebhookUrl");
    EXPECT_EQ(checked.error().toString().find(std::string(kSecret)), std::string::npos);
  }
  EXPECT_TRUE(checkWebhookUrl("http://127.0.0.1:8080/hook", "/p").has_value());
  EXPECT_TRUE(checkWebhookUrl("http://[::1]:8080/hook", "/p").has_value());
  EXPECT_TRUE(checkWebhookUrl("http://localhost/hook", "/p").has_value());
  EXPECT_FALSE(checkWebhookUrl("http://127.0.0.1.nip.io/hook", "/p").has_value());
}

TEST(SlackWebhook, TheUrlNeverAppearsInOutcomesOrLogs) {
  SlackFixture f;
  // A transport (or a proxy) that echoes the URL in its error text and body.
  f.transport.setHandler([](const aws::HttpRequest& request) -> core::Result<aws::HttpResponse> {
    return answer(500, "cannot reach " + request.url);
  });
  auto outcome = f.destination.send(notice());
  EXPECT_EQ(outcome.kind, SendOutcome::Kind::kRetry);
  EXPECT_EQ(outcome.error.find(std::string(kSecret)), std::string::npos) << outcome.error;
  f.transport.setHandler([](const aws::HttpRequest& request) -> core::Result<aws::HttpResponse> {
    return core::makeError(core::ErrorKind::kRetryable, "connect to " + request.url + " failed",
                           "ConnectionError");
  });
  outcome = f.destination.send(notice());
  EXPECT_EQ(outcome.error.find(std::string(kSecret)), std::string::npos) << outcome.error;
  EXPECT_EQ(f.log.all().find(std::string(kSecret)), std::string::npos);
  EXPECT_EQ(f.destination.name().find(std::string(kSecret)), std::string::npos);
}

class SlackOverTheNetwork : public ::testing::Test {
 protected:
  testing::TempDir dir_;
  core::RealClock clock_;
  FakeParameterStore parameters_;
  CapturingLogger log_;
};

TEST_F(SlackOverTheNetwork, HttpsWithATestCa) {
  const auto files =
      testing::writeSelfSignedCertificate(dir_, "hooks", {"localhost"}, {"127.0.0.1"});
  testing::LocalHttpServer server(
      [](const testing::RecordedRequest&) {
        return aws::HttpResponse{200, {{"Content-Type", "text/plain"}}, "ok"};
      },
      files);
  aws::CpprestTransportOptions options;
  options.caBundlePath = files.certificateFile;
  auto transport = aws::CpprestTransport::create(options);
  ASSERT_TRUE(transport.has_value()) << transport.error().toString();
  parameters_.value = server.baseUrl() + "/services/T/B/" + std::string(kSecret);
  ASSERT_TRUE(parameters_.value.starts_with("https://"));
  SlackWebhookDestination destination({"/eb/slack", 15min, 5000ms, {}}, **transport, parameters_,
                                      clock_, log_);
  const auto outcome = destination.send(notice());
  EXPECT_EQ(outcome.kind, SendOutcome::Kind::kSent) << outcome.error;
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].target, "/services/T/B/" + std::string(kSecret));
  EXPECT_EQ(web::json::value::parse(requests[0].body).at("blocks").size(), 4u);

  // Without the CA the certificate is refused, and the error names no path.
  auto untrusting = aws::CpprestTransport::create({});
  ASSERT_TRUE(untrusting.has_value());
  SlackWebhookDestination strict({"/eb/slack", 15min, 5000ms, {}}, **untrusting, parameters_,
                                 clock_, log_);
  const auto refused = strict.send(notice());
  EXPECT_EQ(refused.kind, SendOutcome::Kind::kRetry);
  EXPECT_EQ(refused.error.find(std::string(kSecret)), std::string::npos) << refused.error;
}

TEST_F(SlackOverTheNetwork, AHangingWebhookTimesOutWithoutDisclosingItsPath) {
  testing::RawTcpServer silent(testing::RawTcpServer::Mode::kSilent);
  auto transport = aws::CpprestTransport::create({});
  ASSERT_TRUE(transport.has_value());
  parameters_.value =
      "http://127.0.0.1:" + std::to_string(silent.port()) + "/hook/" + std::string(kSecret);
  SlackWebhookDestination destination({"/eb/slack", 15min, 300ms, {}}, **transport, parameters_,
                                      clock_, log_);
  const auto outcome = destination.send(notice());
  EXPECT_EQ(outcome.kind, SendOutcome::Kind::kRetry);
  EXPECT_NE(outcome.error.find("RequestTimeout"), std::string::npos) << outcome.error;
  EXPECT_EQ(outcome.error.find(std::string(kSecret)), std::string::npos) << outcome.error;
}

// SNS as the test scripts it.
class FakePublisher final : public aws::TopicPublisher {
 public:
  core::Result<std::string> publish(const aws::SnsPublishRequest& request) override {
    requests.push_back(request);
    if (error) return std::unexpected(*error);
    return std::string("m-1");
  }
  core::Result<std::map<std::string, std::string>> getTopicAttributes(const std::string&) override {
    return std::map<std::string, std::string>{};
  }
  std::vector<aws::SnsPublishRequest> requests;
  std::optional<core::Error> error;
};

TEST(SnsTopic, PublishesTheRenderedMessageAndMapsErrors) {
  FakePublisher publisher;
  SnsTopicDestination destination("arn:aws:sns:ap-northeast-1:123456789012:ops", publisher);
  EXPECT_EQ(destination.send(notice()).kind, SendOutcome::Kind::kSent);
  ASSERT_EQ(publisher.requests.size(), 1u);
  EXPECT_EQ(publisher.requests[0].topicArn, "arn:aws:sns:ap-northeast-1:123456789012:ops");
  EXPECT_EQ(publisher.requests[0].subject, "endpoint-binder: prod/web Registered");
  const std::vector<std::pair<core::Error, SendOutcome::Kind>> cases = {
      {{core::ErrorKind::kRetryable, "Rate exceeded", "Throttling", "", 400},
       SendOutcome::Kind::kThrottled},
      {{core::ErrorKind::kRetryable, "timeout", "RequestTimeout", "", 0},
       SendOutcome::Kind::kRetry},
      {{core::ErrorKind::kNotFound, "Topic does not exist", "NotFound", "", 404},
       SendOutcome::Kind::kFailed},
      {{core::ErrorKind::kTerminal, "not authorized", "AuthorizationError", "", 403},
       SendOutcome::Kind::kFailed},
  };
  for (const auto& [error, kind] : cases) {
    publisher.error = error;
    EXPECT_EQ(destination.send(notice()).kind, kind) << error.toString();
  }
}

}  // namespace
}  // namespace endpointbinder::runtime
