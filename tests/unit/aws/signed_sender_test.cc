// SignedSender, the send loop every AWS client shares: the prepared request signed anew for
// every attempt with the service's signing options, the client's error parser, request ids
// (header, and the body only where the protocol puts them there), and the call outcome a
// credentials failure reports, whichever protocol (S3 and JSON included) sends the call.
#include "controller/aws/signed_sender.h"

#include <gtest/gtest.h>

#include "controller/aws/json_client.h"
#include "controller/aws/s3_client.h"
#include "tests/support/fake_http_transport.h"

namespace endpointbinder::aws {
namespace {

using std::chrono::nanoseconds;
using testing::FakeCredentialsProvider;
using testing::FakeHttpTransport;

class CapturingLogger final : public core::Logger {
 public:
  bool enabled(core::LogLevel) const override { return true; }
  void log(core::LogLevel, std::string_view message,
           std::initializer_list<core::LogField>) override {
    messages.emplace_back(message);
  }
  std::vector<std::string> messages;
};

core::Error teapot(const HttpResponse& response, std::string_view operation) {
  return core::Error{core::ErrorKind::kTerminal,
                     std::string(operation) + ": parsed " + std::to_string(response.status),
                     "Teapot", "", response.status};
}

struct Harness {
  core::ManualClock clock;
  FakeHttpTransport transport;
  FakeCredentialsProvider credentials;
  CountingObserver observer;
  CapturingLogger logger;

  QueryClientHooks hooks() {
    return QueryClientHooks{nullptr, &observer, &logger, [] { return 0.5; },
                            [this](nanoseconds d) { clock.advance(d); }};
  }
};

TEST(SignedSender, SignsEveryAttemptOfThePreparedRequestAndUsesTheClientsParser) {
  Harness h;
  SignedServiceOptions options;
  options.service = "route53";
  options.region = "us-east-1";
  options.normalizePath = false;
  options.signBody = true;
  SignedSender sender(options, teapot, h.transport, h.credentials, h.clock, h.hooks());
  HttpRequest request;
  request.url = "https://example.amazonaws.com/a//b";
  h.transport.pushXml(418, "<x/>");
  auto failed = sender.send("Brew", request);
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().message, "Brew: parsed 418");
  EXPECT_EQ(failed.error().code, "Teapot");

  h.transport.pushXml(503, "<x/>");
  h.transport.pushXml(200, "<R><RequestId>in-body</RequestId></R>", "");
  auto sent = sender.send("Brew", request);
  ASSERT_TRUE(sent) << sent.error().toString();
  EXPECT_EQ(sent->attempts, 2);
  EXPECT_EQ(sent->requestId, "");  // the body is not read for ids unless asked
  const auto requests = h.transport.requests();
  ASSERT_EQ(requests.size(), 3u);
  for (const HttpRequest& sentRequest : requests) {
    EXPECT_EQ(sentRequest.url, request.url);
    EXPECT_NE(findHeader(sentRequest.headers, "Authorization").find("/us-east-1/route53/"),
              std::string_view::npos);
    EXPECT_FALSE(findHeader(sentRequest.headers, "x-amz-content-sha256").empty());
  }

  options.requestIdInBody = true;
  SignedSender query(options, teapot, h.transport, h.credentials, h.clock, h.hooks());
  h.transport.pushXml(200, "<R><RequestId>in-body</RequestId></R>", "");
  EXPECT_EQ(query.send("Brew", request)->requestId, "in-body");
}

// S3 used to report every credentials failure as kAuth; a provider that is only unreachable
// for now (kRetryable) is a transient outcome, as for every other client.
TEST(SignedSender, CredentialsFailuresReportTheirOwnKindForS3) {
  Harness h;
  h.credentials.fail(
      core::Error{core::ErrorKind::kRetryable, "IMDS unreachable", "NoCredentials", "", 0});
  S3ServiceOptions options;
  options.region = "eu-west-1";
  S3Client client(options, h.transport, h.credentials, h.clock, h.hooks());
  auto object = client.getObject("bucket", "key.yaml", 1024);
  ASSERT_FALSE(object);
  EXPECT_EQ(object.error().code, "NoCredentials");
  EXPECT_EQ(h.observer.calls("GetObject", CallOutcome::kTransient), 1);
  EXPECT_EQ(h.observer.calls("GetObject", CallOutcome::kAuth), 0);
  EXPECT_EQ(h.observer.callLog().at(0).errorCode, "NoCredentials");
}

// The JSON client's retries are logged like the Query client's.
TEST(SignedSender, JsonRetriesAreLogged) {
  Harness h;
  JsonServiceOptions options;
  options.service = "ssm";
  options.region = "eu-west-1";
  options.endpoint = "https://ssm.eu-west-1.amazonaws.com";
  options.targetPrefix = "AmazonSSM";
  JsonClient client(options, h.transport, h.credentials, h.clock, h.hooks());
  h.transport.pushXml(500, "{}");
  h.transport.pushXml(200, "{}");
  ASSERT_TRUE(client.call("GetParameter", "{}"));
  EXPECT_EQ(h.logger.messages, std::vector<std::string>{"retrying AWS call"});
}

}  // namespace
}  // namespace endpointbinder::aws
