// Tests for Ec2Client, AutoScalingClient and SqsClient over a scripted transport: paging,
// request parameters, EC2's error document and how errors map to kinds (throttling retried,
// a missing fleet kNotFound), and the services' endpoints and signing names.
#include "controller/aws/ec2_client.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "controller/aws/sqs_client.h"
#include "tests/support/fake_http_transport.h"

namespace endpointbinder::aws {
namespace {

using std::chrono::nanoseconds;
using testing::FakeCredentialsProvider;
using testing::FakeHttpTransport;
using testing::formValue;

std::string instancesPage(const std::vector<std::string>& ids, std::string_view token) {
  std::string items;
  for (const auto& id : ids) {
    items += fmt::format(
        "<item><instanceId>{}</instanceId><instanceState><code>16</code><name>running</name>"
        "</instanceState><privateIpAddress>10.0.0.1</privateIpAddress></item>",
        id);
  }
  return fmt::format(
      "<DescribeInstancesResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">"
      "<requestId>r</requestId><reservationSet><item><instancesSet>{}</instancesSet></item>"
      "</reservationSet>{}</DescribeInstancesResponse>",
      items, token.empty() ? "" : fmt::format("<nextToken>{}</nextToken>", token));
}

std::string ec2Error(std::string_view code, std::string_view message) {
  return fmt::format(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Errors><Error><Code>{}</Code>"
      "<Message>{}</Message></Error></Errors><RequestID>ec2-req</RequestID></Response>",
      code, message);
}

struct Harness {
  core::ManualClock clock;
  FakeHttpTransport transport;
  FakeCredentialsProvider credentials;
  CountingObserver observer;
  QueryClientHooks hooks{nullptr, &observer, nullptr, [] { return 0.5; },
                         [this](nanoseconds d) { clock.advance(d); }};
  Ec2Client ec2{ec2ServiceOptions("ap-northeast-1"), transport, credentials, clock, hooks};
  AutoScalingClient autoScaling{autoScalingServiceOptions("ap-northeast-1"), transport, credentials,
                                clock, hooks};
  SqsClient sqs{sqsServiceOptions("ap-northeast-1"), transport, credentials, clock, hooks};

  std::string body(size_t i) const { return transport.requests().at(i).body; }
};

TEST(Ec2ClientTest, EndpointsAndSigningNames) {
  Harness h;
  EXPECT_EQ(h.ec2.queryClient().options().endpoint, "https://ec2.ap-northeast-1.amazonaws.com");
  EXPECT_EQ(h.ec2.queryClient().options().service, "ec2");
  EXPECT_EQ(h.ec2.queryClient().options().apiVersion, "2016-11-15");
  EXPECT_EQ(h.autoScaling.queryClient().options().endpoint,
            "https://autoscaling.ap-northeast-1.amazonaws.com");
  EXPECT_EQ(h.autoScaling.queryClient().options().apiVersion, "2011-01-01");
  EXPECT_EQ(sqsServiceOptions("eu-west-1").endpoint, "https://sqs.eu-west-1.amazonaws.com");
  EXPECT_GT(sqsServiceOptions("eu-west-1").attemptTimeout, std::chrono::seconds(20))
      << "a 20 s long poll must fit in one attempt";
  EXPECT_EQ(ec2ServiceOptions("x", "http://127.0.0.1:1").endpoint, "http://127.0.0.1:1");
}

TEST(Ec2ClientTest, DescribeInstancesFollowsNextToken) {
  Harness h;
  h.transport.pushXml(200, instancesPage({"i-1", "i-2"}, "t2"));
  h.transport.pushXml(200, instancesPage({"i-3"}, ""));
  auto all = h.ec2.describeInstances({{"tag:role", {"web"}}});
  ASSERT_TRUE(all) << all.error().message;
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[2].id, "i-3");
  ASSERT_EQ(h.transport.requestCount(), 2u);
  EXPECT_EQ(formValue(h.body(0), "Action"), "DescribeInstances");
  EXPECT_EQ(formValue(h.body(0), "Version"), "2016-11-15");
  EXPECT_EQ(formValue(h.body(0), "Filter.1.Name"), "tag:role");
  EXPECT_EQ(formValue(h.body(0), "MaxResults"), "1000");
  EXPECT_EQ(formValue(h.body(0), "NextToken"), std::nullopt);
  EXPECT_EQ(formValue(h.body(1), "NextToken"), "t2");
}

TEST(Ec2ClientTest, RepeatedNextTokenStopsPaging) {
  Harness h;
  h.transport.pushXml(200, instancesPage({"i-1"}, "same"));
  h.transport.pushXml(200, instancesPage({"i-2"}, "same"));
  auto all = h.ec2.describeInstances({});
  ASSERT_FALSE(all);
  EXPECT_EQ(all.error().code, "MalformedResponse");
  EXPECT_EQ(all.error().kind, core::ErrorKind::kRetryable);
}

TEST(Ec2ClientTest, RequestLimitExceededIsRetriedThenRetryable) {
  Harness h;
  for (int i = 0; i < 3; ++i) {
    h.transport.pushXml(503, ec2Error("RequestLimitExceeded", "Request limit exceeded."));
  }
  auto all = h.ec2.describeInstances({});
  ASSERT_FALSE(all);
  EXPECT_EQ(all.error().code, "RequestLimitExceeded");
  EXPECT_EQ(all.error().kind, core::ErrorKind::kRetryable);
  EXPECT_EQ(all.error().requestId, "ec2-req");
  EXPECT_EQ(h.transport.requestCount(), 3u) << "standard mode: 3 attempts";

  h.transport.pushXml(503, ec2Error("RequestLimitExceeded", "Request limit exceeded."));
  h.transport.pushXml(200, instancesPage({"i-1"}, ""));
  EXPECT_TRUE(h.ec2.describeInstances({})) << "a retry that succeeds is a success";
}

TEST(Ec2ClientTest, MissingFleetIsNotFound) {
  Harness h;
  h.transport.pushXml(400, ec2Error("InvalidSpotFleetRequestId.NotFound",
                                    "The spot fleet request ID 'sfr-x' does not exist"));
  auto states = h.ec2.describeSpotFleetRequests({"sfr-x"});
  ASSERT_FALSE(states);
  EXPECT_EQ(states.error().kind, core::ErrorKind::kNotFound);
  EXPECT_EQ(h.transport.requestCount(), 1u) << "not retried";
  EXPECT_EQ(formValue(h.body(0), "SpotFleetRequestId.1"), "sfr-x");
  EXPECT_TRUE(h.ec2.describeSpotFleetRequests({})) << "no ids: no call";
  EXPECT_EQ(h.transport.requestCount(), 1u);
}

TEST(Ec2ClientTest, SpotFleetInstancesPage) {
  Harness h;
  h.transport.pushXml(200,
                      "<DescribeSpotFleetInstancesResponse><activeInstanceSet><item><instanceId>"
                      "i-1</instanceId></item></activeInstanceSet><nextToken>n</nextToken>"
                      "</DescribeSpotFleetInstancesResponse>");
  h.transport.pushXml(200,
                      "<DescribeSpotFleetInstancesResponse><activeInstanceSet><item><instanceId>"
                      "i-2</instanceId></item></activeInstanceSet>"
                      "</DescribeSpotFleetInstancesResponse>");
  auto ids = h.ec2.describeSpotFleetInstances("sfr-1");
  ASSERT_TRUE(ids);
  EXPECT_EQ(*ids, (std::vector<std::string>{"i-1", "i-2"}));
  EXPECT_EQ(formValue(h.body(1), "NextToken"), "n");
  EXPECT_EQ(formValue(h.body(0), "SpotFleetRequestId"), "sfr-1");
}

TEST(AutoScalingClientTest, SplitsNamesAndPages) {
  Harness h;
  AutoScalingClient client(autoScalingServiceOptions("ap-northeast-1"), h.transport, h.credentials,
                           h.clock, h.hooks, AutoScalingClientOptions{100, 2, 10});
  const auto page = [](std::string_view name, std::string_view token) {
    return fmt::format(
        "<DescribeAutoScalingGroupsResponse><DescribeAutoScalingGroupsResult><AutoScalingGroups>"
        "<member><AutoScalingGroupName>{}</AutoScalingGroupName><Instances/></member>"
        "</AutoScalingGroups>{}</DescribeAutoScalingGroupsResult>"
        "</DescribeAutoScalingGroupsResponse>",
        name, token.empty() ? "" : fmt::format("<NextToken>{}</NextToken>", token));
  };
  h.transport.pushXml(200, page("a", "t"));
  h.transport.pushXml(200, page("b", ""));
  h.transport.pushXml(200, page("c", ""));
  auto groups = client.describeAutoScalingGroups({"a", "b", "c"});
  ASSERT_TRUE(groups) << groups.error().message;
  ASSERT_EQ(groups->size(), 3u);
  ASSERT_EQ(h.transport.requestCount(), 3u);
  EXPECT_EQ(formValue(h.body(0), "AutoScalingGroupNames.member.2"), "b");
  EXPECT_EQ(formValue(h.body(1), "NextToken"), "t");
  EXPECT_EQ(formValue(h.body(2), "AutoScalingGroupNames.member.1"), "c");
  EXPECT_TRUE(client.describeAutoScalingGroups({})) << "no names: no call";
  EXPECT_EQ(h.transport.requestCount(), 3u);
}

TEST(AutoScalingClientTest, ThrottlingIsRetryable) {
  Harness h;
  for (int i = 0; i < 3; ++i) h.transport.pushAwsError(400, "Throttling", "Rate exceeded");
  auto groups = h.autoScaling.describeAutoScalingGroups({"a"});
  ASSERT_FALSE(groups);
  EXPECT_EQ(groups.error().kind, core::ErrorKind::kRetryable);
}

TEST(SqsClientTest, ReceiveAndDelete) {
  Harness h;
  h.transport.pushXml(200,
                      "<ReceiveMessageResponse><ReceiveMessageResult><Message><MessageId>m"
                      "</MessageId><ReceiptHandle>h+1</ReceiptHandle><Body>b</Body></Message>"
                      "</ReceiveMessageResult></ReceiveMessageResponse>");
  h.transport.pushXml(200, "<DeleteMessageResponse/>");
  const std::string queue = "https://sqs.ap-northeast-1.amazonaws.com/123456789012/events";
  auto messages = h.sqs.receiveMessages(queue, 10, std::chrono::seconds(20));
  ASSERT_TRUE(messages) << messages.error().message;
  ASSERT_EQ(messages->size(), 1u);
  EXPECT_EQ(formValue(h.body(0), "QueueUrl"), queue);
  EXPECT_EQ(formValue(h.body(0), "WaitTimeSeconds"), "20");
  EXPECT_EQ(formValue(h.body(0), "MaxNumberOfMessages"), "10");
  EXPECT_EQ(formValue(h.body(0), "Version"), "2012-11-05");
  EXPECT_TRUE(h.sqs.deleteMessage(queue, (*messages)[0].receiptHandle));
  EXPECT_EQ(formValue(h.body(1), "ReceiptHandle"), "h+1");
}

TEST(SqsClientTest, MissingQueueIsAnError) {
  Harness h;
  h.transport.pushAwsError(400, "AWS.SimpleQueueService.NonExistentQueue",
                           "The specified queue does not exist.");
  auto attributes = h.sqs.getQueueAttributes("https://x/1/q", {"QueueArn"});
  ASSERT_FALSE(attributes);
  EXPECT_EQ(attributes.error().code, "AWS.SimpleQueueService.NonExistentQueue");
  EXPECT_EQ(formValue(h.body(0), "AttributeName.1"), "QueueArn");
}

}  // namespace
}  // namespace endpointbinder::aws
