// Tests for the EC2, Auto Scaling and SQS response parsers and request builders: the shapes
// AWS sends (as botocore's models describe them), malformed input, and the parameters as
// botocore's serializers write them.
#include "controller/aws/ec2_xml.h"

#include <gtest/gtest.h>

#include "controller/aws/sqs_client.h"

namespace endpointbinder::aws {
namespace {

constexpr std::string_view kDescribeInstances = R"(<?xml version="1.0" encoding="UTF-8"?>
<DescribeInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
  <requestId>8f7724cf-496f-496e-8fe3-example</requestId>
  <reservationSet>
    <item>
      <reservationId>r-1234567890abcdef0</reservationId>
      <ownerId>123456789012</ownerId>
      <groupSet/>
      <instancesSet>
        <item>
          <instanceId>i-1234567890abcdef0</instanceId>
          <imageId>ami-bff32ccc</imageId>
          <instanceState><code>16</code><name>running</name></instanceState>
          <privateDnsName>ip-192-168-1-88.eu-west-1.compute.internal</privateDnsName>
          <instanceType>t2.micro</instanceType>
          <placement><availabilityZone>eu-west-1c</availabilityZone><tenancy>default</tenancy></placement>
          <subnetId>subnet-56f5f633</subnetId>
          <vpcId>vpc-11112222</vpcId>
          <privateIpAddress>192.168.1.88</privateIpAddress>
          <ipAddress>54.194.252.215</ipAddress>
          <instanceLifecycle>spot</instanceLifecycle>
          <tagSet>
            <item><key>role</key><value>web</value></item>
            <item><key>aws:ec2spot:fleet-request-id</key><value>sfr-0d4b0a3e-5c1f-4c9e-9a7b-2f6e8d1c3b5a</value></item>
            <item><key>empty</key><value/></item>
          </tagSet>
          <networkInterfaceSet>
            <item>
              <networkInterfaceId>eni-2</networkInterfaceId>
              <attachment><deviceIndex>1</deviceIndex></attachment>
              <ipv6AddressesSet><item><ipv6Address>2001:db8::2</ipv6Address></item></ipv6AddressesSet>
            </item>
            <item>
              <networkInterfaceId>eni-1</networkInterfaceId>
              <attachment><deviceIndex>0</deviceIndex></attachment>
              <ipv6AddressesSet>
                <item><ipv6Address>2001:db8::11</ipv6Address></item>
                <item><ipv6Address>2001:db8::10</ipv6Address><isPrimaryIpv6>true</isPrimaryIpv6></item>
              </ipv6AddressesSet>
            </item>
          </networkInterfaceSet>
        </item>
        <item>
          <instanceId>i-0bbbbbbbbbbbbbbbb</instanceId>
          <instanceState><code>80</code><name>stopped</name></instanceState>
          <instanceType>c5.large</instanceType>
        </item>
      </instancesSet>
    </item>
    <item>
      <instancesSet>
        <item>
          <instanceId>i-0ccccccccccccccccc</instanceId>
          <instanceState><name>pending</name></instanceState>
          <ipv6Address>2001:db8::99</ipv6Address>
        </item>
      </instancesSet>
    </item>
  </reservationSet>
  <nextToken>token-2</nextToken>
</DescribeInstancesResponse>)";

TEST(Ec2Xml, DescribeInstances) {
  auto page = parseDescribeInstances(kDescribeInstances);
  ASSERT_TRUE(page) << page.error().message;
  ASSERT_EQ(page->instances.size(), 3u) << "instances of every reservation";
  EXPECT_EQ(page->nextToken, "token-2");
  const auto& a = page->instances[0];
  EXPECT_EQ(a.id, "i-1234567890abcdef0");
  EXPECT_EQ(a.state, "running");
  EXPECT_EQ(a.instanceType, "t2.micro");
  EXPECT_EQ(a.availabilityZone, "eu-west-1c");
  EXPECT_EQ(a.subnetId, "subnet-56f5f633");
  EXPECT_EQ(a.vpcId, "vpc-11112222");
  EXPECT_EQ(a.imageId, "ami-bff32ccc");
  EXPECT_EQ(a.privateIpAddress, "192.168.1.88");
  EXPECT_EQ(a.lifecycle, "spot");
  EXPECT_EQ(a.tags.at("role"), "web");
  EXPECT_EQ(a.tags.at("aws:ec2spot:fleet-request-id"), "sfr-0d4b0a3e-5c1f-4c9e-9a7b-2f6e8d1c3b5a");
  EXPECT_EQ(a.tags.at("empty"), "");
  EXPECT_EQ(a.ipv6Addresses,
            (std::vector<std::string>{"2001:db8::10", "2001:db8::11", "2001:db8::2"}))
      << "primary interface first, its primary IPv6 first";
  const auto& b = page->instances[1];
  EXPECT_EQ(b.state, "stopped");
  EXPECT_TRUE(b.privateIpAddress.empty());
  EXPECT_TRUE(b.lifecycle.empty()) << "on-demand";
  EXPECT_EQ(page->instances[2].ipv6Addresses, (std::vector<std::string>{"2001:db8::99"}));
}

TEST(Ec2Xml, DescribeInstancesEmptyAndLastPage) {
  auto page = parseDescribeInstances(
      "<DescribeInstancesResponse><requestId>x</requestId><reservationSet/>"
      "</DescribeInstancesResponse>");
  ASSERT_TRUE(page);
  EXPECT_TRUE(page->instances.empty());
  EXPECT_TRUE(page->nextToken.empty());
}

TEST(Ec2Xml, MalformedAnswersAreRetryableErrors) {
  for (std::string_view xml : {
           std::string_view("not xml"),
           std::string_view("<DescribeTargetHealthResponse/>"),
           std::string_view("<DescribeInstancesResponse><reservationSet><item><instancesSet><item>"
                            "<instanceState><name>running</name></instanceState></item>"
                            "</instancesSet></item></reservationSet></DescribeInstancesResponse>"),
           std::string_view("<DescribeInstancesResponse><reservationSet><item><instancesSet><item>"
                            "<instanceId>i-1</instanceId></item></instancesSet></item>"
                            "</reservationSet></DescribeInstancesResponse>"),
       }) {
    auto page = parseDescribeInstances(xml);
    ASSERT_FALSE(page) << xml;
    EXPECT_EQ(page.error().kind, core::ErrorKind::kRetryable);
    EXPECT_EQ(page.error().code, "MalformedResponse");
  }
}

TEST(Ec2Xml, DescribeSpotFleetInstances) {
  auto page = parseDescribeSpotFleetInstances(R"(
<DescribeSpotFleetInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
  <requestId>cfb09335-0c95-4b4d-a1f7-example</requestId>
  <spotFleetRequestId>sfr-123f8fc2-cb31-425e-abcd-example2710</spotFleetRequestId>
  <activeInstanceSet>
    <item><instanceId>i-1a1a1a1a</instanceId><spotInstanceRequestId>sir-1a1a1a1a</spotInstanceRequestId>
      <instanceType>m3.medium</instanceType><instanceHealth>healthy</instanceHealth></item>
    <item><instanceId>i-2b2b2b2b</instanceId><instanceType>m3.medium</instanceType></item>
  </activeInstanceSet>
  <nextToken>more</nextToken>
</DescribeSpotFleetInstancesResponse>)");
  ASSERT_TRUE(page) << page.error().message;
  EXPECT_EQ(page->instanceIds, (std::vector<std::string>{"i-1a1a1a1a", "i-2b2b2b2b"}));
  EXPECT_EQ(page->nextToken, "more");
  EXPECT_FALSE(parseDescribeSpotFleetInstances(
      "<DescribeSpotFleetInstancesResponse><activeInstanceSet><item><instanceType>x"
      "</instanceType></item></activeInstanceSet></DescribeSpotFleetInstancesResponse>"));
}

TEST(Ec2Xml, DescribeSpotFleetRequests) {
  auto page = parseDescribeSpotFleetRequests(R"(
<DescribeSpotFleetRequestsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
  <requestId>4d68a6cc-8f2e-4be1-b425-example</requestId>
  <spotFleetRequestConfigSet>
    <item>
      <spotFleetRequestId>sfr-a</spotFleetRequestId>
      <spotFleetRequestState>active</spotFleetRequestState>
      <activityStatus>fulfilled</activityStatus>
      <spotFleetRequestConfig><targetCapacity>2</targetCapacity></spotFleetRequestConfig>
    </item>
    <item>
      <spotFleetRequestId>sfr-b</spotFleetRequestId>
      <spotFleetRequestState>cancelled_running</spotFleetRequestState>
    </item>
  </spotFleetRequestConfigSet>
</DescribeSpotFleetRequestsResponse>)");
  ASSERT_TRUE(page) << page.error().message;
  ASSERT_EQ(page->requests.size(), 2u);
  EXPECT_EQ(page->requests[0].id, "sfr-a");
  EXPECT_EQ(page->requests[0].state, "active");
  EXPECT_EQ(page->requests[0].activityStatus, "fulfilled");
  EXPECT_EQ(page->requests[1].state, "cancelled_running");
  EXPECT_FALSE(parseDescribeSpotFleetRequests(
      "<DescribeSpotFleetRequestsResponse><spotFleetRequestConfigSet><item><spotFleetRequestId>"
      "sfr-a</spotFleetRequestId></item></spotFleetRequestConfigSet>"
      "</DescribeSpotFleetRequestsResponse>"))
      << "a request without its state";
}

TEST(Ec2Xml, SpotFleetStatesThatServe) {
  for (const char* s : {"submitted", "active", "modifying"}) EXPECT_TRUE(spotFleetStateServes(s));
  for (const char* s : {"cancelled", "cancelled_running", "cancelled_terminating", "failed", ""}) {
    EXPECT_FALSE(spotFleetStateServes(s)) << s;
  }
}

TEST(Ec2Xml, DescribeAutoScalingGroups) {
  auto page = parseDescribeAutoScalingGroups(R"(
<DescribeAutoScalingGroupsResponse xmlns="http://autoscaling.amazonaws.com/doc/2011-01-01/">
  <DescribeAutoScalingGroupsResult>
    <AutoScalingGroups>
      <member>
        <AutoScalingGroupName>web-asg</AutoScalingGroupName>
        <Instances>
          <member><InstanceId>i-1</InstanceId><AvailabilityZone>us-east-1a</AvailabilityZone>
            <LifecycleState>InService</LifecycleState><HealthStatus>Healthy</HealthStatus></member>
          <member><InstanceId>i-2</InstanceId><LifecycleState>Terminating:Wait</LifecycleState>
            <HealthStatus>Healthy</HealthStatus></member>
        </Instances>
      </member>
      <member>
        <AutoScalingGroupName>old</AutoScalingGroupName>
        <Status>Delete in progress</Status>
        <Instances/>
      </member>
    </AutoScalingGroups>
    <NextToken>n2</NextToken>
  </DescribeAutoScalingGroupsResult>
  <ResponseMetadata><RequestId>r</RequestId></ResponseMetadata>
</DescribeAutoScalingGroupsResponse>)");
  ASSERT_TRUE(page) << page.error().message;
  ASSERT_EQ(page->groups.size(), 2u);
  EXPECT_EQ(page->nextToken, "n2");
  const auto& g = page->groups[0];
  EXPECT_EQ(g.name, "web-asg");
  ASSERT_EQ(g.instances.size(), 2u);
  EXPECT_EQ(g.instances[0].lifecycleState, "InService");
  EXPECT_EQ(g.instances[0].availabilityZone, "us-east-1a");
  EXPECT_EQ(g.instances[1].lifecycleState, "Terminating:Wait");
  EXPECT_EQ(page->groups[1].status, "Delete in progress");
  EXPECT_FALSE(parseDescribeAutoScalingGroups(
      "<DescribeAutoScalingGroupsResponse><DescribeAutoScalingGroupsResult><AutoScalingGroups>"
      "<member><AutoScalingGroupName>g</AutoScalingGroupName><Instances><member><InstanceId>i-1"
      "</InstanceId></member></Instances></member></AutoScalingGroups>"
      "</DescribeAutoScalingGroupsResult></DescribeAutoScalingGroupsResponse>"))
      << "an instance without its lifecycle state";
  EXPECT_FALSE(parseDescribeAutoScalingGroups("<DescribeAutoScalingGroupsResponse/>"));
}

TEST(Ec2Xml, RequestParametersAsBotocoreSerializesThem) {
  const std::vector<api::Ec2Filter> filters = {{"tag:role", {"web", "web-canary"}},
                                               {"instance-state-name", {"running"}}};
  EXPECT_EQ(describeInstancesParams(filters, "", 1000),
            (QueryParams{{"Filter.1.Name", "tag:role"},
                         {"Filter.1.Value.1", "web"},
                         {"Filter.1.Value.2", "web-canary"},
                         {"Filter.2.Name", "instance-state-name"},
                         {"Filter.2.Value.1", "running"},
                         {"MaxResults", "1000"}}));
  EXPECT_EQ(describeInstancesParams({}, "t", 5),
            (QueryParams{{"MaxResults", "5"}, {"NextToken", "t"}}));
  EXPECT_EQ(
      describeSpotFleetInstancesParams("sfr-1", "t", 1000),
      (QueryParams{{"SpotFleetRequestId", "sfr-1"}, {"MaxResults", "1000"}, {"NextToken", "t"}}));
  EXPECT_EQ(describeSpotFleetRequestsParams({"sfr-1", "sfr-2"}, "", 1000),
            (QueryParams{{"SpotFleetRequestId.1", "sfr-1"}, {"SpotFleetRequestId.2", "sfr-2"}}));
  EXPECT_EQ(describeAutoScalingGroupsParams({"a", "b"}, "n", 100),
            (QueryParams{{"AutoScalingGroupNames.member.1", "a"},
                         {"AutoScalingGroupNames.member.2", "b"},
                         {"MaxRecords", "100"},
                         {"NextToken", "n"}}));
}

TEST(SqsXml, ReceiveMessage) {
  auto messages = parseReceiveMessage(R"(
<ReceiveMessageResponse xmlns="http://queue.amazonaws.com/doc/2012-11-05/">
  <ReceiveMessageResult>
    <Message>
      <MessageId>5fea7756-0ea4-451a-a703-a558b933e274</MessageId>
      <ReceiptHandle>MbZj6wDWli+JvwwJaBV+3dcjk2YW2vA3+STFFljTM8tJJg6HRG6PYSasuWXPJB+Cw</ReceiptHandle>
      <MD5OfBody>fafb00f5732ab283681e124bf8747ed1</MD5OfBody>
      <Body>{"detail-type":"x"}</Body>
      <Attribute><Name>SenderId</Name><Value>195004372649</Value></Attribute>
      <Attribute><Name>ApproximateReceiveCount</Name><Value>3</Value></Attribute>
    </Message>
    <Message><MessageId>m2</MessageId><ReceiptHandle>h2</ReceiptHandle><Body>hello &amp; bye</Body></Message>
  </ReceiveMessageResult>
  <ResponseMetadata><RequestId>b6633655-283d-45b4-aee4-4e84e0ae6afa</RequestId></ResponseMetadata>
</ReceiveMessageResponse>)");
  ASSERT_TRUE(messages) << messages.error().message;
  ASSERT_EQ(messages->size(), 2u);
  EXPECT_EQ((*messages)[0].messageId, "5fea7756-0ea4-451a-a703-a558b933e274");
  EXPECT_EQ((*messages)[0].body, R"({"detail-type":"x"})");
  EXPECT_EQ((*messages)[0].receiveCount, 3);
  EXPECT_EQ((*messages)[1].body, "hello & bye");
  EXPECT_EQ((*messages)[1].receiveCount, 0);

  auto none = parseReceiveMessage(
      "<ReceiveMessageResponse><ReceiveMessageResult/></ReceiveMessageResponse>");
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
  EXPECT_FALSE(parseReceiveMessage(
      "<ReceiveMessageResponse><ReceiveMessageResult><Message><MessageId>m</MessageId>"
      "</Message></ReceiveMessageResult></ReceiveMessageResponse>"))
      << "no receipt handle: it could never be deleted";
}

TEST(SqsXml, GetQueueAttributesAndDelete) {
  auto attributes = parseGetQueueAttributes(
      "<GetQueueAttributesResponse><GetQueueAttributesResult>"
      "<Attribute><Name>QueueArn</Name><Value>arn:aws:sqs:us-east-1:1:q</Value></Attribute>"
      "<Attribute><Name>ApproximateNumberOfMessages</Name><Value>0</Value></Attribute>"
      "</GetQueueAttributesResult></GetQueueAttributesResponse>");
  ASSERT_TRUE(attributes);
  EXPECT_EQ(attributes->at("QueueArn"), "arn:aws:sqs:us-east-1:1:q");
  EXPECT_TRUE(
      parseDeleteMessage("<DeleteMessageResponse><ResponseMetadata/></DeleteMessageResponse>"));
  EXPECT_FALSE(parseDeleteMessage("<ReceiveMessageResponse/>"));
}

}  // namespace
}  // namespace endpointbinder::aws
