#include "controller/aws/query_client.h"

#include <gtest/gtest.h>

#include "tests/support/fake_http_transport.h"

namespace endpointbinder::aws {
namespace {

using std::chrono::milliseconds;
using std::chrono::nanoseconds;
using std::chrono::seconds;
using testing::FakeCredentialsProvider;
using testing::FakeHttpTransport;

constexpr std::string_view kOkBody =
    "<RegisterTargetsResponse xmlns=\"http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/\">"
    "<RegisterTargetsResult/><ResponseMetadata><RequestId>ok-1</RequestId></ResponseMetadata>"
    "</RegisterTargetsResponse>";

TEST(FormEncodeTest, UsesTheSigV4UnreservedSet) {
  EXPECT_EQ(formEncode("AZaz09-_.~"), "AZaz09-_.~");
  EXPECT_EQ(formEncode("a b+c*d/e:f=g&h"), "a%20b%2Bc%2Ad%2Fe%3Af%3Dg%26h");
  EXPECT_EQ(formEncode("\xc3\xa9"), "%C3%A9");
  EXPECT_EQ(formEncode(std::string_view("\0", 1)), "%00");
}

TEST(FormEncodeTest, BodyStartsWithActionAndVersion) {
  const QueryParams params = {
      {"TargetGroupArn",
       "arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup/tg/4ab4dba084c2bb5c"},
      {"Targets.member.1.Id", "10.0.1.5"},
      {"Targets.member.1.Port", "443"},
      {"Targets.member.2.AvailabilityZone", "all"},
  };
  EXPECT_EQ(encodeQueryBody("RegisterTargets", "2015-12-01", params),
            "Action=RegisterTargets&Version=2015-12-01&TargetGroupArn=arn%3Aaws%3A"
            "elasticloadbalancing%3Aap-northeast-1%3A123456789012%3Atargetgroup%2Ftg%2F"
            "4ab4dba084c2bb5c&Targets.member.1.Id=10.0.1.5&Targets.member.1.Port=443&"
            "Targets.member.2.AvailabilityZone=all");
  EXPECT_EQ(encodeQueryBody("GetCallerIdentity", "2011-06-15", {}),
            "Action=GetCallerIdentity&Version=2011-06-15");
}

HttpResponse response(int status, std::string body, std::string contentType = "text/xml") {
  HttpResponse r;
  r.status = status;
  if (!contentType.empty()) r.headers.emplace_back("Content-Type", std::move(contentType));
  r.body = std::move(body);
  return r;
}

TEST(ParseQueryErrorTest, MapsEachKind) {
  struct Case {
    int status;
    const char* code;
    core::ErrorKind kind;
  };
  const Case cases[] = {
      {400, "Throttling", core::ErrorKind::kRetryable},
      {500, "HealthUnavailable", core::ErrorKind::kRetryable},
      {503, "ServiceUnavailable", core::ErrorKind::kRetryable},
      {403, "SignatureDoesNotMatch", core::ErrorKind::kAuth},
      {403, "InvalidClientTokenId", core::ErrorKind::kAuth},
      {403, "AccessDenied", core::ErrorKind::kAuth},
      {400, "ExpiredToken", core::ErrorKind::kAuth},
      {400, "TargetGroupNotFound", core::ErrorKind::kNotFound},
      {400, "LoadBalancerNotFound", core::ErrorKind::kNotFound},
      {400, "ValidationError", core::ErrorKind::kTerminal},
      {400, "InvalidTarget", core::ErrorKind::kTerminal},
      {400, "TooManyTargets", core::ErrorKind::kTerminal},
      {400, "TooManyRegistrationsForTargetId", core::ErrorKind::kTerminal},
  };
  for (const Case& c : cases) {
    const core::Error error = parseQueryError(
        response(c.status, testing::awsErrorXml(c.code, "the reason", "rid-9")), "RegisterTargets");
    EXPECT_EQ(error.kind, c.kind) << c.code;
    EXPECT_EQ(error.code, c.code);
    EXPECT_EQ(error.requestId, "rid-9");
    EXPECT_EQ(error.httpStatus, c.status);
    EXPECT_EQ(error.message, "RegisterTargets: the reason");
  }
}

TEST(ParseQueryErrorTest, UnderstandsEc2Errors) {
  const std::string body =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error>"
      "<Code>InvalidInstanceID.NotFound</Code><Message>The instance ID 'i-1' does not exist"
      "</Message></Error></Errors><RequestID>ec2-req</RequestID></Response>";
  const core::Error notFound = parseQueryError(response(400, body), "DescribeInstances");
  EXPECT_EQ(notFound.kind, core::ErrorKind::kNotFound);
  EXPECT_EQ(notFound.code, "InvalidInstanceID.NotFound");
  EXPECT_EQ(notFound.requestId, "ec2-req");

  const std::string throttled =
      "<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit "
      "exceeded.</Message></Error></Errors><RequestID>r2</RequestID></Response>";
  EXPECT_EQ(parseQueryError(response(503, throttled), "DescribeInstances").kind,
            core::ErrorKind::kRetryable);
  const std::string auth =
      "<Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>no</Message></Error>"
      "</Errors><RequestID>r3</RequestID></Response>";
  EXPECT_EQ(parseQueryError(response(403, auth), "DescribeInstances").kind, core::ErrorKind::kAuth);
}

TEST(ParseQueryErrorTest, ExplainsBodiesThatAreNotAwsErrors) {
  const core::Error html = parseQueryError(
      response(502,
               "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad "
               "Gateway</h1></center><hr><center>nginx</center></body></html>",
               "text/html"),
      "DescribeTargetHealth");
  EXPECT_EQ(html.kind, core::ErrorKind::kRetryable);
  EXPECT_TRUE(html.code.empty());
  EXPECT_EQ(html.httpStatus, 502);
  EXPECT_NE(html.message.find("DescribeTargetHealth: HTTP 502"), std::string::npos) << html.message;
  EXPECT_NE(html.message.find("text/html"), std::string::npos);
  EXPECT_NE(html.message.find("\"502 Bad Gateway\""), std::string::npos);

  const core::Error forbidden = parseQueryError(response(403, "", ""), "DescribeTargetHealth");
  EXPECT_EQ(forbidden.kind, core::ErrorKind::kAuth);
  EXPECT_NE(forbidden.message.find("no content type, 0 bytes"), std::string::npos);

  const core::Error notFound =
      parseQueryError(response(404, "Not Found", "text/plain"), "DescribeTargetHealth");
  EXPECT_EQ(notFound.kind, core::ErrorKind::kTerminal);

  HttpResponse truncated = response(503, "<ErrorResponse><Error><Code>Thrott");
  truncated.headers.emplace_back("x-amzn-RequestId", "hdr-id");
  const core::Error cut = parseQueryError(truncated, "DescribeTargetHealth");
  EXPECT_EQ(cut.kind, core::ErrorKind::kRetryable);
  EXPECT_EQ(cut.requestId, "hdr-id");
}

TEST(ParseQueryErrorTest, DropsTheCanonicalRequestAwsEchoes) {
  // AWS appends the canonical request (which holds x-amz-security-token) to
  // SignatureDoesNotMatch messages; none of it may reach logs.
  const std::string message =
      "The request signature we calculated does not match the signature you provided.\n\n"
      "The Canonical String for this request should have been\n'POST\n/\n\n"
      "x-amz-security-token:SESSIONTOKENSECRET\n'";
  const core::Error error = parseQueryError(
      response(403, testing::awsErrorXml("SignatureDoesNotMatch", message, "r")), "AddTags");
  EXPECT_EQ(error.message,
            "AddTags: The request signature we calculated does not match the signature you "
            "provided.");
}

struct Harness {
  core::ManualClock clock;
  FakeHttpTransport transport;
  FakeCredentialsProvider credentials;
  CountingObserver observer;
  std::vector<nanoseconds> sleeps;
  double randomValue = 0.5;

  QueryServiceOptions service(RetryOptions retry = {}) {
    QueryServiceOptions options;
    options.service = "elasticloadbalancing";
    options.region = "ap-northeast-1";
    options.endpoint = "https://elasticloadbalancing.ap-northeast-1.amazonaws.com";
    options.apiVersion = "2015-12-01";
    options.attemptTimeout = milliseconds(3'000);
    options.retry = retry;
    return options;
  }

  QueryClientHooks hooks(RateLimiter* limiter = nullptr) {
    QueryClientHooks h;
    h.rateLimiter = limiter;
    h.observer = &observer;
    h.random = [this] { return randomValue; };
    h.sleep = [this](nanoseconds d) {
      sleeps.push_back(d);
      clock.advance(d);
    };
    return h;
  }

  std::unique_ptr<QueryClient> client(RetryOptions retry = {}, RateLimiter* limiter = nullptr) {
    return std::make_unique<QueryClient>(service(retry), transport, credentials, clock,
                                         hooks(limiter));
  }
};

TEST(QueryClientTest, SendsASignedFormPost) {
  Harness h;
  aws::Credentials withToken = FakeCredentialsProvider::defaultCredentials();
  withToken.sessionToken = "SESSION-TOKEN";
  h.credentials.set(withToken);
  h.transport.pushXml(200, std::string(kOkBody), "hdr-req");
  auto client = h.client();

  auto result = client->call("RegisterTargets",
                             {{"TargetGroupArn", "arn:x"}, {"Targets.member.1.Id", "10.0.0.1"}});
  ASSERT_TRUE(result.has_value()) << result.error().toString();
  EXPECT_EQ(result->body, kOkBody);
  EXPECT_EQ(result->requestId, "hdr-req");
  EXPECT_EQ(result->attempts, 1);

  const auto requests = h.transport.requests();
  ASSERT_EQ(requests.size(), 1u);
  const HttpRequest& request = requests[0];
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(request.url, "https://elasticloadbalancing.ap-northeast-1.amazonaws.com/");
  EXPECT_EQ(request.body,
            "Action=RegisterTargets&Version=2015-12-01&TargetGroupArn=arn%3Ax&"
            "Targets.member.1.Id=10.0.0.1");
  EXPECT_EQ(request.timeout, milliseconds(3'000));
  EXPECT_EQ(findHeader(request.headers, "Content-Type"),
            "application/x-www-form-urlencoded; charset=utf-8");
  EXPECT_EQ(findHeader(request.headers, "X-Amz-Date"), "20231114T221320Z");
  EXPECT_EQ(findHeader(request.headers, "X-Amz-Security-Token"), "SESSION-TOKEN");
  const std::string authorization(findHeader(request.headers, "Authorization"));
  EXPECT_TRUE(authorization.starts_with(
      "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20231114/ap-northeast-1/elasticloadbalancing/"
      "aws4_request, SignedHeaders="))
      << authorization;

  ASSERT_EQ(h.observer.callLog().size(), 1u);
  const CallRecord call = h.observer.callLog()[0];
  EXPECT_EQ(call.service, "elasticloadbalancing");
  EXPECT_EQ(call.operation, "RegisterTargets");
  EXPECT_EQ(call.outcome, CallOutcome::kSuccess);
  EXPECT_EQ(call.attempts, 1);
  EXPECT_EQ(call.httpStatus, 200);
  EXPECT_EQ(call.requestId, "hdr-req");
}

TEST(QueryClientTest, RequestIdFallsBackToTheBody) {
  Harness h;
  h.transport.pushXml(200, std::string(kOkBody), "");
  auto result = h.client()->call("RegisterTargets", {});
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->requestId, "ok-1");
}

TEST(QueryClientTest, RetriesThrottlingWithBackoffAndFreshCredentials) {
  Harness h;
  h.transport.pushAwsError(400, "Throttling", "Rate exceeded");
  h.transport.pushAwsError(400, "Throttling", "Rate exceeded");
  h.transport.pushXml(200, std::string(kOkBody));
  auto client = h.client();

  auto result = client->call("RegisterTargets", {});
  ASSERT_TRUE(result.has_value()) << result.error().toString();
  EXPECT_EQ(result->attempts, 3);
  EXPECT_EQ(h.transport.requestCount(), 3u);
  EXPECT_EQ(h.credentials.calls(), 3);
  // Full jitter with rand = 0.5: 0.5 * 1 s, then 0.5 * 2 s.
  EXPECT_EQ(h.sleeps, (std::vector<nanoseconds>{milliseconds(500), milliseconds(1'000)}));
  // Each attempt is signed at its own time.
  const auto requests = h.transport.requests();
  EXPECT_EQ(findHeader(requests[0].headers, "X-Amz-Date"), "20231114T221320Z");
  EXPECT_EQ(findHeader(requests[2].headers, "X-Amz-Date"), "20231114T221321Z");

  EXPECT_EQ(h.observer.attempts("RegisterTargets", CallOutcome::kThrottled), 2);
  EXPECT_EQ(h.observer.attempts("RegisterTargets", CallOutcome::kSuccess), 1);
  const auto totals = h.observer.totals("RegisterTargets");
  EXPECT_EQ(totals.calls, 1);
  EXPECT_EQ(totals.retries, 2);
  EXPECT_EQ(totals.latency, milliseconds(1'500));
  EXPECT_EQ(client->retryPolicy().quota().available(), 495);  // 2 × 5 taken, 5 refunded
}

TEST(QueryClientTest, RetriesTransientFailuresOfEveryKind) {
  Harness h;
  h.transport.pushAwsError(503, "ServiceUnavailable");
  h.transport.pushTransportError("ConnectionError");
  h.transport.push(response(502, "<html><title>bad gateway</title></html>", "text/html"));
  h.transport.pushTransportError("RequestTimeout");
  h.transport.pushXml(200, std::string(kOkBody));
  RetryOptions retry;
  retry.maxAttempts = 5;
  auto client = h.client(retry);

  auto result = client->call("RegisterTargets", {});
  ASSERT_TRUE(result.has_value()) << result.error().toString();
  EXPECT_EQ(result->attempts, 5);
  EXPECT_EQ(h.sleeps.size(), 4u);
  EXPECT_EQ(h.observer.attempts("RegisterTargets", CallOutcome::kTransient), 4);
  // 5 + 5 + 5 + 10 taken; the last retry (a timeout, 10) refunded.
  EXPECT_EQ(client->retryPolicy().quota().available(), 485);
}

TEST(QueryClientTest, BackoffStaysWithinBoundsForAnyDraw) {
  for (double draw : {0.0, 0.3, 0.999999}) {
    Harness h;
    h.randomValue = draw;
    RetryOptions retry;
    retry.maxAttempts = 8;
    for (int i = 0; i < 8; ++i) h.transport.pushAwsError(503, "ServiceUnavailable");
    auto result = h.client(retry)->call("DescribeTargetHealth", {});
    ASSERT_FALSE(result.has_value());
    ASSERT_EQ(h.sleeps.size(), 7u);
    for (size_t i = 0; i < h.sleeps.size(); ++i) {
      const nanoseconds ceiling = std::min<nanoseconds>(seconds(1) * (1LL << i), seconds(20));
      EXPECT_LE(h.sleeps[i], ceiling) << draw << " " << i;
      EXPECT_GE(h.sleeps[i],
                std::chrono::duration_cast<nanoseconds>(ceiling * draw) - nanoseconds(1));
    }
  }
}

TEST(QueryClientTest, GivesUpAfterMaxAttempts) {
  Harness h;
  for (int i = 0; i < 3; ++i) h.transport.pushAwsError(400, "Throttling", "Rate exceeded");
  auto result = h.client()->call("RegisterTargets", {});
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().kind, core::ErrorKind::kRetryable);
  EXPECT_EQ(result.error().code, "Throttling");
  EXPECT_EQ(result.error().requestId, "req-err");
  EXPECT_EQ(result.error().httpStatus, 400);
  EXPECT_EQ(result.error().message, "RegisterTargets: Rate exceeded (gave up after 3 attempts)");
  EXPECT_EQ(h.transport.requestCount(), 3u);
  EXPECT_EQ(h.sleeps.size(), 2u);
  const CallRecord call = h.observer.callLog().at(0);
  EXPECT_EQ(call.outcome, CallOutcome::kThrottled);
  EXPECT_EQ(call.attempts, 3);
  EXPECT_EQ(call.errorCode, "Throttling");
}

TEST(QueryClientTest, HonoursMaxAttemptsFromOptions) {
  Harness h;
  for (int i = 0; i < 6; ++i) h.transport.pushAwsError(503, "ServiceUnavailable");
  RetryOptions retry;
  retry.maxAttempts = 6;
  EXPECT_FALSE(h.client(retry)->call("DescribeTargetHealth", {}).has_value());
  EXPECT_EQ(h.transport.requestCount(), 6u);
}

TEST(QueryClientTest, DoesNotRetryTerminalAuthOrNotFound) {
  struct Case {
    int status;
    const char* code;
    core::ErrorKind kind;
    CallOutcome outcome;
  };
  for (const Case& c :
       {Case{400, "ValidationError", core::ErrorKind::kTerminal, CallOutcome::kTerminal},
        Case{403, "SignatureDoesNotMatch", core::ErrorKind::kAuth, CallOutcome::kAuth},
        Case{400, "TargetGroupNotFound", core::ErrorKind::kNotFound, CallOutcome::kNotFound}}) {
    Harness h;
    h.transport.pushAwsError(c.status, c.code, "nope", "rid");
    auto result = h.client()->call("DescribeTargetHealth", {});
    ASSERT_FALSE(result.has_value());
    EXPECT_EQ(result.error().kind, c.kind) << c.code;
    EXPECT_EQ(result.error().code, c.code);
    EXPECT_EQ(result.error().requestId, "rid");
    EXPECT_EQ(result.error().message, "DescribeTargetHealth: nope");
    EXPECT_EQ(h.transport.requestCount(), 1u);
    EXPECT_TRUE(h.sleeps.empty());
    EXPECT_EQ(h.observer.callLog().at(0).outcome, c.outcome);
  }
}

TEST(QueryClientTest, RetryQuotaExhaustionStopsRetries) {
  Harness h;
  RetryOptions retry;
  retry.quotaCapacity = 10;
  auto client = h.client(retry);
  for (int i = 0; i < 3; ++i) h.transport.pushAwsError(503, "ServiceUnavailable");
  ASSERT_FALSE(client->call("DescribeTargetHealth", {}).has_value());
  EXPECT_EQ(h.transport.requestCount(), 3u);  // two retries use the whole quota
  EXPECT_EQ(client->retryPolicy().quota().available(), 0);

  h.transport.pushAwsError(503, "ServiceUnavailable");
  auto second = client->call("DescribeTargetHealth", {});
  ASSERT_FALSE(second.has_value());
  EXPECT_EQ(h.transport.requestCount(), 4u);  // no retry: quota exhausted
  EXPECT_EQ(second.error().message, "DescribeTargetHealth: message");
}

TEST(QueryClientTest, CredentialFailureSendsNothing) {
  Harness h;
  h.credentials.fail(
      core::Error{core::ErrorKind::kAuth, "no credentials in the chain", "NoCredentials", {}, 0});
  auto result = h.client()->call("DescribeTargetHealth", {});
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().kind, core::ErrorKind::kAuth);
  EXPECT_EQ(result.error().code, "NoCredentials");
  EXPECT_EQ(h.transport.requestCount(), 0u);
  const CallRecord call = h.observer.callLog().at(0);
  EXPECT_EQ(call.outcome, CallOutcome::kAuth);
  EXPECT_EQ(call.attempts, 0);
}

TEST(QueryClientTest, SessionTokenNeverReachesTheError) {
  Harness h;
  aws::Credentials withToken = FakeCredentialsProvider::defaultCredentials();
  withToken.sessionToken = "TOPSECRETTOKEN";
  h.credentials.set(withToken);
  h.transport.pushAwsError(400, "ValidationError", "bad value TOPSECRETTOKEN in header");
  auto result = h.client()->call("DescribeTargetHealth", {});
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().toString().find("TOPSECRETTOKEN"), std::string::npos)
      << result.error().toString();
  EXPECT_EQ(result.error().toString().find(withToken.secretAccessKey), std::string::npos);
}

TEST(QueryClientTest, WaitsForTheClientSideBucket) {
  Harness h;
  RateLimiter limiter(parseRateLimitSpec("RegisterTargets=2:1").value(), h.clock,
                      [&h](nanoseconds d) { h.clock.advance(d); });
  auto client = h.client({}, &limiter);
  h.transport.pushXml(200, std::string(kOkBody));
  h.transport.pushXml(200, std::string(kOkBody));
  ASSERT_TRUE(client->call("RegisterTargets", {}).has_value());
  ASSERT_TRUE(client->call("RegisterTargets", {}).has_value());
  const auto calls = h.observer.callLog();
  EXPECT_EQ(calls.at(0).rateLimitWait, nanoseconds(0));
  EXPECT_EQ(calls.at(1).rateLimitWait, milliseconds(500));
  EXPECT_EQ(calls.at(1).latency, milliseconds(500));
}

TEST(QueryClientTest, NoTokenBeforeTheDeadlineIsRateLimited) {
  Harness h;
  RateLimiter limiter(parseRateLimitSpec("RegisterTargets=0.01:1").value(), h.clock,
                      [&h](nanoseconds d) { h.clock.advance(d); });
  QueryServiceOptions options = h.service();
  options.rateLimitWait = seconds(5);
  QueryClient client(options, h.transport, h.credentials, h.clock, h.hooks(&limiter));
  h.transport.pushXml(200, std::string(kOkBody));
  ASSERT_TRUE(client.call("RegisterTargets", {}).has_value());
  auto refused = client.call("RegisterTargets", {});
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, "ClientRateLimited");
  EXPECT_EQ(refused.error().kind, core::ErrorKind::kRetryable);
  EXPECT_EQ(h.transport.requestCount(), 1u);
  EXPECT_EQ(h.observer.calls("RegisterTargets", CallOutcome::kRateLimited), 1);
}

TEST(QueryClientTest, AdaptiveModeEngagesOnThrottling) {
  Harness h;
  RetryOptions retry;
  retry.mode = RetryMode::kAdaptive;
  auto client = h.client(retry);
  ASSERT_NE(client->adaptiveLimiter(), nullptr);
  h.transport.pushXml(200, std::string(kOkBody));
  ASSERT_TRUE(client->call("RegisterTargets", {}).has_value());
  EXPECT_FALSE(client->adaptiveLimiter()->enabled());
  h.transport.pushAwsError(400, "Throttling");
  h.transport.pushXml(200, std::string(kOkBody));
  ASSERT_TRUE(client->call("RegisterTargets", {}).has_value());
  EXPECT_TRUE(client->adaptiveLimiter()->enabled());

  Harness standard;
  EXPECT_EQ(standard.client()->adaptiveLimiter(), nullptr);
}

// ---- Clock skew. The harness clock reads 2023-11-14T22:13:20Z; AWS's clock is an hour later.

// An AWS error as a service with a correct clock sends it, with its Date header.
HttpResponse skewError(int status, std::string code, std::string message, std::string date) {
  HttpResponse r = response(status, testing::awsErrorXml(code, message, "rid-skew"));
  if (!date.empty()) r.headers.emplace_back("Date", std::move(date));
  return r;
}

constexpr const char* kServerDate = "Tue, 14 Nov 2023 23:13:20 GMT";  // local + 1 h
constexpr const char* kExpired =
    "Signature expired: 20231114T221320Z is now earlier than 20231114T225820Z (20231114T231320Z "
    "- 15 min.)";

TEST(QueryClientSkewTest, SignatureExpiredIsCorrectedFromTheDateHeaderAndRetriedAtOnce) {
  Harness h;
  h.transport.push(skewError(403, "SignatureDoesNotMatch", kExpired, kServerDate));
  h.transport.pushXml(200, std::string(kOkBody));
  auto client = h.client();

  auto result = client->call("RegisterTargets", {});
  ASSERT_TRUE(result.has_value()) << result.error().toString();
  EXPECT_EQ(result->attempts, 2);
  EXPECT_TRUE(h.sleeps.empty()) << "a skew retry needs no backoff";
  EXPECT_EQ(client->clockOffset(), std::chrono::hours(1));
  const auto requests = h.transport.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(findHeader(requests[0].headers, "X-Amz-Date"), "20231114T221320Z");
  EXPECT_EQ(findHeader(requests[1].headers, "X-Amz-Date"), "20231114T231320Z");
  EXPECT_EQ(client->retryPolicy().quota().available(), 500) << "no retry quota taken";

  // Later calls are signed with the corrected clock from their first attempt.
  h.transport.pushXml(200, std::string(kOkBody));
  ASSERT_TRUE(client->call("DescribeTargetHealth", {}).has_value());
  EXPECT_EQ(findHeader(h.transport.requests().back().headers, "X-Amz-Date"), "20231114T231320Z");
}

TEST(QueryClientSkewTest, RequestExpiredAndNotYetCurrentAreCorrectedBothWays) {
  {
    Harness h;
    h.transport.push(skewError(400, "RequestExpired", "Request has expired.", kServerDate));
    h.transport.pushXml(200, std::string(kOkBody));
    auto client = h.client();
    ASSERT_TRUE(client->call("RegisterTargets", {}).has_value());
    EXPECT_EQ(client->clockOffset(), std::chrono::hours(1));
  }
  {
    Harness h;  // the local clock runs 20 minutes fast
    h.transport.push(skewError(403, "SignatureDoesNotMatch",
                               "Signature not yet current: 20231114T221320Z is still later than "
                               "20231114T220820Z (20231114T215320Z + 15 min.)",
                               "Tue, 14 Nov 2023 21:53:20 GMT"));
    h.transport.pushXml(200, std::string(kOkBody));
    auto client = h.client();
    ASSERT_TRUE(client->call("RegisterTargets", {}).has_value());
    EXPECT_EQ(client->clockOffset(), -std::chrono::minutes(20));
    EXPECT_EQ(findHeader(h.transport.requests()[1].headers, "X-Amz-Date"), "20231114T215320Z");
  }
}

TEST(QueryClientSkewTest, OnlyOneCorrectionPerCall) {
  Harness h;
  h.transport.push(skewError(403, "SignatureDoesNotMatch", kExpired, kServerDate));
  // AWS still refuses (its Date jumped again): the call gives up instead of looping.
  h.transport.push(
      skewError(403, "SignatureDoesNotMatch", kExpired, "Wed, 15 Nov 2023 01:13:20 GMT"));
  auto result = h.client()->call("RegisterTargets", {});
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code, "SignatureDoesNotMatch");
  EXPECT_EQ(result.error().kind, core::ErrorKind::kAuth);
  EXPECT_EQ(h.transport.requestCount(), 2u);
}

TEST(QueryClientSkewTest, NoDateSmallSkewOrOtherSignatureErrorsAreNotRetried) {
  struct Case {
    const char* what;
    HttpResponse reply;
  };
  const Case cases[] = {
      {"no Date header", skewError(403, "SignatureDoesNotMatch", kExpired, "")},
      {"unparsable Date", skewError(403, "SignatureDoesNotMatch", kExpired, "yesterday")},
      {"skew below 4 minutes",
       skewError(400, "RequestExpired", "Request has expired.", "Tue, 14 Nov 2023 22:16:20 GMT")},
      {"a wrong secret, not a clock",
       skewError(403, "SignatureDoesNotMatch",
                 "The request signature we calculated does not match the signature you provided.",
                 kServerDate)},
      {"permission denied", skewError(403, "AccessDenied", "not allowed", kServerDate)},
  };
  for (const Case& c : cases) {
    Harness h;
    h.transport.push(c.reply);
    auto client = h.client();
    auto result = client->call("RegisterTargets", {});
    ASSERT_FALSE(result.has_value()) << c.what;
    EXPECT_EQ(h.transport.requestCount(), 1u) << c.what;
    EXPECT_EQ(client->clockOffset(), nanoseconds(0)) << c.what;
  }
}

TEST(QueryClientSkewTest, TheCorrectionWorksWithRetriesDisabled) {
  Harness h;
  h.transport.push(skewError(403, "SignatureDoesNotMatch", kExpired, kServerDate));
  h.transport.pushXml(200, std::string(kOkBody));
  RetryOptions noRetries;
  noRetries.maxAttempts = 1;  // doctor's setting
  auto result = h.client(noRetries)->call("RegisterTargets", {});
  ASSERT_TRUE(result.has_value()) << result.error().toString();
  EXPECT_EQ(result->attempts, 2);
}

TEST(CountingObserverTest, NamesOutcomesForLabels) {
  EXPECT_STREQ(callOutcomeName(CallOutcome::kSuccess), "success");
  EXPECT_STREQ(callOutcomeName(CallOutcome::kThrottled), "throttled");
  EXPECT_STREQ(callOutcomeName(CallOutcome::kNotFound), "not_found");
  EXPECT_STREQ(callOutcomeName(CallOutcome::kRateLimited), "rate_limited");
}

}  // namespace
}  // namespace endpointbinder::aws
