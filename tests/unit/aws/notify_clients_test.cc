// The AWS clients notifications use: the AWS JSON protocol client and SSM GetParameter (the
// secret never in an error), SNS Publish and GetTopicAttributes, and the SSM/SNS endpoints.
#include <cpprest/json.h>
#include <gtest/gtest.h>

#include "controller/aws/config.h"
#include "controller/aws/json_client.h"
#include "controller/aws/sns_client.h"
#include "controller/aws/ssm_client.h"
#include "tests/support/aws_local_server.h"
#include "tests/support/fake_http_transport.h"

namespace endpointbinder::aws {
namespace {

using testing::FakeCredentialsProvider;
using testing::FakeHttpTransport;
using testing::formValue;

constexpr std::string_view kSecretUrl =
    "https://hooks.slack.com/services/T0001/B0002/s3cr3tT0k3nXXXXXXXXXXXX";

HttpResponse jsonResponse(int status, std::string body, Headers headers = {}) {
  headers.emplace_back("Content-Type", "application/x-amz-json-1.1");
  headers.emplace_back("x-amzn-RequestId", "rid-1");
  return HttpResponse{status, std::move(headers), std::move(body)};
}

std::string parameterAnswer(std::string_view value) {
  web::json::value parameter = web::json::value::object();
  parameter["Name"] = web::json::value::string("/eb/slack");
  parameter["Type"] = web::json::value::string("SecureString");
  parameter["Value"] = web::json::value::string(std::string(value));
  parameter["Version"] = web::json::value::number(3);
  parameter["ARN"] =
      web::json::value::string("arn:aws:ssm:ap-northeast-1:123456789012:parameter/eb/slack");
  web::json::value doc = web::json::value::object();
  doc["Parameter"] = parameter;
  return doc.serialize();
}

QueryClientHooks quietHooks(AwsCallObserver* observer) {
  QueryClientHooks hooks;
  hooks.observer = observer;
  hooks.random = [] { return 0.0; };
  hooks.sleep = [](std::chrono::nanoseconds) {};
  return hooks;
}

struct SsmHarness {
  core::ManualClock clock;
  FakeHttpTransport transport;
  FakeCredentialsProvider credentials;
  CountingObserver observer;
  SsmClient client;
  SsmHarness()
      : client(ssmServiceOptions("ap-northeast-1", "http://127.0.0.1:1",
                                 RetryOptions{.maxAttempts = 3}),
               transport, credentials, clock, quietHooks(&observer)) {}
};

TEST(SsmClient, GetParameterSpeaksAwsJson11WithDecryption) {
  SsmHarness h;
  h.transport.push(jsonResponse(200, parameterAnswer(kSecretUrl)));
  auto parameter = h.client.getParameter("/eb/slack");
  ASSERT_TRUE(parameter.has_value()) << parameter.error().toString();
  EXPECT_EQ(parameter->value, kSecretUrl);
  EXPECT_EQ(parameter->type, "SecureString");
  EXPECT_EQ(parameter->version, 3);
  EXPECT_EQ(parameter->arn, "arn:aws:ssm:ap-northeast-1:123456789012:parameter/eb/slack");

  ASSERT_EQ(h.transport.requestCount(), 1u);
  const auto request = h.transport.requests()[0];
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(request.url, "http://127.0.0.1:1/");
  EXPECT_EQ(findHeader(request.headers, "X-Amz-Target"), "AmazonSSM.GetParameter");
  EXPECT_EQ(findHeader(request.headers, "Content-Type"), "application/x-amz-json-1.1");
  EXPECT_NE(findHeader(request.headers, "Authorization").find("/ap-northeast-1/ssm/aws4_request"),
            std::string::npos);
  const auto body = web::json::value::parse(request.body);
  EXPECT_EQ(body.at("Name").as_string(), "/eb/slack");
  EXPECT_TRUE(body.at("WithDecryption").as_bool());
  EXPECT_EQ(h.observer.calls("GetParameter", CallOutcome::kSuccess), 1);
}

TEST(SsmClient, ErrorsAreClassifiedAndThrottlingRetried) {
  SsmHarness h;
  h.transport.push(
      jsonResponse(400, R"({"__type":"ThrottlingException","message":"Rate exceeded"})"));
  h.transport.push(jsonResponse(
      400, R"({"__type":"com.amazonaws.ssm#ParameterNotFound:http://internal","message":""})"));
  auto missing = h.client.getParameter("/eb/slack");
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code, "ParameterNotFound");
  EXPECT_EQ(missing.error().kind, core::ErrorKind::kNotFound);
  EXPECT_EQ(missing.error().requestId, "rid-1");
  EXPECT_EQ(h.transport.requestCount(), 2u);  // the throttle was retried

  h.transport.push(jsonResponse(400, R"({"__type":"AccessDeniedException","Message":"no kms"})"));
  auto denied = h.client.getParameter("/eb/slack");
  ASSERT_FALSE(denied.has_value());
  EXPECT_EQ(denied.error().kind, core::ErrorKind::kAuth);
  EXPECT_NE(denied.error().message.find("no kms"), std::string::npos);

  // A proxy's page instead of an AWS answer.
  h.transport.push(HttpResponse{403, {{"Content-Type", "text/html"}}, "<html>denied</html>"});
  auto proxy = h.client.getParameter("/eb/slack");
  ASSERT_FALSE(proxy.has_value());
  EXPECT_EQ(proxy.error().code, "");
  EXPECT_NE(proxy.error().message.find("not an AWS error document"), std::string::npos);
}

TEST(SsmClient, MalformedAnswersNeverRepeatTheValue) {
  // A parameter without a Type: the value is there but must not leak into the error.
  const std::string noType = std::string(R"({"Parameter":{"Name":"/eb/slack","Value":")") +
                             std::string(kSecretUrl) + "\"}}";
  for (const std::string& body : {noType, std::string("{not json ") + std::string(kSecretUrl),
                                  std::string(R"({"Nope":1})")}) {
    auto parsed = parseGetParameter(body);
    ASSERT_FALSE(parsed.has_value()) << body;
    EXPECT_EQ(parsed.error().code, "MalformedResponse");
    EXPECT_EQ(parsed.error().toString().find("s3cr3t"), std::string::npos)
        << parsed.error().toString();
  }
}

TEST(SnsClient, PublishSendsSubjectMessageAndAttributes) {
  core::ManualClock clock;
  FakeHttpTransport transport;
  FakeCredentialsProvider credentials;
  SnsClient client(snsServiceOptions("eu-west-1", "http://127.0.0.1:2"), transport, credentials,
                   clock);
  transport.pushXml(200,
                    "<PublishResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\">"
                    "<PublishResult><MessageId>m-1</MessageId></PublishResult>"
                    "<ResponseMetadata><RequestId>r</RequestId></ResponseMetadata>"
                    "</PublishResponse>");
  SnsPublishRequest request;
  request.topicArn = "arn:aws:sns:eu-west-1:123456789012:ops";
  request.subject = "endpoint-binder: prod/web Registered";
  request.message = R"({"version":"1.0"})";
  request.attributes = {{"binding", "String", "prod/web"},
                        {"eventType", "String.Array", R"(["Registered"])"}};
  auto id = client.publish(request);
  ASSERT_TRUE(id.has_value()) << id.error().toString();
  EXPECT_EQ(*id, "m-1");
  const auto sent = transport.requests()[0];
  EXPECT_EQ(formValue(sent.body, "Action"), "Publish");
  EXPECT_EQ(formValue(sent.body, "Version"), "2010-03-31");
  EXPECT_EQ(formValue(sent.body, "TopicArn"), request.topicArn);
  EXPECT_EQ(formValue(sent.body, "Subject"), request.subject);
  EXPECT_EQ(formValue(sent.body, "Message"), request.message);
  EXPECT_EQ(formValue(sent.body, "MessageAttributes.entry.1.Name"), "binding");
  EXPECT_EQ(formValue(sent.body, "MessageAttributes.entry.1.Value.DataType"), "String");
  EXPECT_EQ(formValue(sent.body, "MessageAttributes.entry.1.Value.StringValue"), "prod/web");
  EXPECT_EQ(formValue(sent.body, "MessageAttributes.entry.2.Value.DataType"), "String.Array");
  EXPECT_EQ(formValue(sent.body, "MessageGroupId"), std::nullopt);
  EXPECT_NE(findHeader(sent.headers, "Authorization").find("/eu-west-1/sns/aws4_request"),
            std::string::npos);

  transport.pushAwsError(404, "NotFound", "Topic does not exist");
  auto missing = client.publish(request);
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().kind, core::ErrorKind::kNotFound);
}

TEST(SnsClient, ParsersAndTopicRegion) {
  auto attributes = parseGetTopicAttributes(
      "<GetTopicAttributesResponse><GetTopicAttributesResult><Attributes>"
      "<entry><key>TopicArn</key><value>arn:aws:sns:eu-west-1:1:ops</value></entry>"
      "<entry><key>DisplayName</key><value>Ops</value></entry>"
      "</Attributes></GetTopicAttributesResult></GetTopicAttributesResponse>");
  ASSERT_TRUE(attributes.has_value());
  EXPECT_EQ(attributes->at("DisplayName"), "Ops");
  EXPECT_FALSE(parsePublish("<PublishResponse><PublishResult/></PublishResponse>").has_value());
  EXPECT_FALSE(parsePublish("<ErrorResponse/>").has_value());
  EXPECT_EQ(topicRegion("arn:aws:sns:eu-west-1:123456789012:ops"), "eu-west-1");
  EXPECT_EQ(topicRegion("arn:aws-cn:sns:cn-north-1:123456789012:a.fifo"), "cn-north-1");
  EXPECT_EQ(topicRegion("nonsense"), "");
  const auto fifo = publishParams(
      SnsPublishRequest{"arn:aws:sns:eu-west-1:1:a.fifo", "", "m", {}, "prod/web", "prod.web-1"});
  EXPECT_EQ(
      std::count_if(fifo.begin(), fifo.end(), [](const auto& p) { return p.first == "Subject"; }),
      0);
  EXPECT_NE(std::find(fifo.begin(), fifo.end(),
                      std::pair<std::string, std::string>("MessageGroupId", "prod/web")),
            fifo.end());
}

TEST(NotifyEndpoints, SsmAndSnsFollowTheSdkEndpointRules) {
  testing::TempDir home;
  const Environment base({{"HOME", home.path().string()}, {"AWS_REGION", "eu-west-1"}});
  auto config = loadAwsConfig(base);
  ASSERT_TRUE(config.has_value()) << config.error().toString();
  EXPECT_EQ(config->endpoint(AwsService::kSsm)->url, "https://ssm.eu-west-1.amazonaws.com");
  EXPECT_EQ(config->endpoint(AwsService::kSns)->url, "https://sns.eu-west-1.amazonaws.com");
  EXPECT_EQ(config->endpoint(AwsService::kSsm)->signingName, "ssm");
  EXPECT_EQ(defaultEndpoint(AwsService::kSns, "us-east-1", true)->url,
            "https://sns-fips.us-east-1.amazonaws.com");

  auto custom = loadAwsConfig(base.with("AWS_ENDPOINT_URL_SSM", "http://127.0.0.1:9/")
                                  .with("AWS_ENDPOINT_URL_SNS", "http://127.0.0.1:8"));
  ASSERT_TRUE(custom.has_value());
  EXPECT_EQ(custom->endpoint(AwsService::kSsm)->url, "http://127.0.0.1:9");
  EXPECT_EQ(custom->endpoint(AwsService::kSsm)->source, "AWS_ENDPOINT_URL_SSM");
  EXPECT_EQ(custom->endpoint(AwsService::kSns)->url, "http://127.0.0.1:8");
  EXPECT_EQ(custom->endpoint(AwsService::kSns)->signingName, "sns");
}

}  // namespace
}  // namespace endpointbinder::aws
