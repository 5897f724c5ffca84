#include "controller/aws/elbv2_xml.h"

#include <gtest/gtest.h>

namespace endpointbinder::aws {
namespace {

constexpr std::string_view kTargetGroups = R"(<?xml version="1.0" encoding="UTF-8"?>
<DescribeTargetGroupsResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/">
  <DescribeTargetGroupsResult>
    <TargetGroups>
      <member>
        <TargetGroupArn>arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup/f-iot-alb-tg/4ab4dba084c2bb5c</TargetGroupArn>
        <TargetGroupName>f-iot-alb-tg</TargetGroupName>
        <Protocol>HTTPS</Protocol>
        <Port>443</Port>
        <VpcId>vpc-0abc</VpcId>
        <HealthCheckProtocol>HTTPS</HealthCheckProtocol>
        <HealthCheckPort>traffic-port</HealthCheckPort>
        <HealthCheckEnabled>true</HealthCheckEnabled>
        <Matcher><HttpCode>200</HttpCode></Matcher>
        <LoadBalancerArns>
          <member>arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:loadbalancer/app/a/1</member>
          <member>arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:loadbalancer/app/b/2</member>
        </LoadBalancerArns>
        <TargetType>ip</TargetType>
        <IpAddressType>ipv4</IpAddressType>
      </member>
      <member>
        <TargetGroupArn>arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup/lambda/9</TargetGroupArn>
        <TargetGroupName>lambda</TargetGroupName>
        <LoadBalancerArns/>
        <TargetType>lambda</TargetType>
      </member>
    </TargetGroups>
    <NextMarker>bWFya2VyLTI=</NextMarker>
  </DescribeTargetGroupsResult>
  <ResponseMetadata><RequestId>5bd2e7c2-0000-4e1e-a3f9-2f6b0e1b4c3d</RequestId></ResponseMetadata>
</DescribeTargetGroupsResponse>)";

TEST(Elbv2XmlTest, ParsesTargetGroupsAndMarker) {
  auto page = parseDescribeTargetGroups(kTargetGroups);
  ASSERT_TRUE(page.has_value()) << page.error().message;
  ASSERT_EQ(page->targetGroups.size(), 2u);
  const TargetGroupInfo& tg = page->targetGroups[0];
  EXPECT_EQ(tg.arn,
            "arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup/f-iot-alb-tg/"
            "4ab4dba084c2bb5c");
  EXPECT_EQ(tg.name, "f-iot-alb-tg");
  EXPECT_EQ(tg.protocol, "HTTPS");
  EXPECT_EQ(tg.port, 443);
  EXPECT_EQ(tg.vpcId, "vpc-0abc");
  EXPECT_EQ(tg.targetType, "ip");
  EXPECT_EQ(tg.loadBalancerArns.size(), 2u);
  EXPECT_EQ(page->targetGroups[1].port, 0);
  EXPECT_EQ(page->targetGroups[1].targetType, "lambda");
  EXPECT_TRUE(page->targetGroups[1].loadBalancerArns.empty());
  EXPECT_EQ(page->nextMarker, "bWFya2VyLTI=");
}

TEST(Elbv2XmlTest, ParsesIpAddressTypeDefaultingToIpv4) {
  auto page = parseDescribeTargetGroups(kTargetGroups);
  ASSERT_TRUE(page.has_value()) << page.error().message;
  ASSERT_EQ(page->targetGroups.size(), 2u);
  EXPECT_EQ(page->targetGroups[0].ipAddressType, "ipv4");
  EXPECT_EQ(page->targetGroups[1].ipAddressType, "ipv4");  // Lambda: no member, AWS's default

  auto v6 = parseDescribeTargetGroups(
      "<DescribeTargetGroupsResponse><DescribeTargetGroupsResult><TargetGroups><member>"
      "<TargetGroupArn>arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/v6/1</TargetGroupArn>"
      "<TargetType>ip</TargetType><IpAddressType>ipv6</IpAddressType>"
      "</member></TargetGroups></DescribeTargetGroupsResult></DescribeTargetGroupsResponse>");
  ASSERT_TRUE(v6.has_value()) << v6.error().message;
  ASSERT_EQ(v6->targetGroups.size(), 1u);
  EXPECT_EQ(v6->targetGroups[0].ipAddressType, "ipv6");
}

TEST(Elbv2XmlTest, LastPageHasNoMarkerAndEmptyListIsFine) {
  auto page = parseDescribeTargetGroups(
      "<DescribeTargetGroupsResponse><DescribeTargetGroupsResult><TargetGroups/>"
      "</DescribeTargetGroupsResult></DescribeTargetGroupsResponse>");
  ASSERT_TRUE(page.has_value());
  EXPECT_TRUE(page->targetGroups.empty());
  EXPECT_TRUE(page->nextMarker.empty());
}

constexpr std::string_view kTargetHealth =
    R"(<DescribeTargetHealthResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/">
  <DescribeTargetHealthResult>
    <TargetHealthDescriptions>
      <member>
        <Target><Id>10.0.1.5</Id><Port>443</Port><AvailabilityZone>ap-northeast-1a</AvailabilityZone></Target>
        <HealthCheckPort>443</HealthCheckPort>
        <TargetHealth><State>healthy</State></TargetHealth>
      </member>
      <member>
        <Target><Id>10.0.2.9</Id><Port>443</Port></Target>
        <TargetHealth>
          <State>draining</State>
          <Reason>Target.DeregistrationInProgress</Reason>
          <Description>Target deregistration is in progress</Description>
        </TargetHealth>
      </member>
      <member>
        <Target><Id>192.168.7.1</Id><Port>8443</Port><AvailabilityZone>all</AvailabilityZone></Target>
        <TargetHealth><State>unhealthy.draining</State><Reason>Target.Timeout</Reason></TargetHealth>
      </member>
      <member>
        <Target><Id>10.0.3.3</Id><Port>443</Port></Target>
        <TargetHealth><State>quantum-superposition</State></TargetHealth>
      </member>
      <member>
        <Target><Id>arn:aws:lambda:ap-northeast-1:123456789012:function:f</Id></Target>
        <TargetHealth><State>unavailable</State><Reason>Target.HealthCheckDisabled</Reason></TargetHealth>
      </member>
    </TargetHealthDescriptions>
  </DescribeTargetHealthResult>
  <ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata>
</DescribeTargetHealthResponse>)";

TEST(Elbv2XmlTest, ParsesTargetHealthIncludingUnknownStates) {
  auto targets = parseDescribeTargetHealth(kTargetHealth);
  ASSERT_TRUE(targets.has_value()) << targets.error().message;
  ASSERT_EQ(targets->size(), 5u);
  const auto& t = *targets;
  EXPECT_EQ(t[0].target, (core::Target{"10.0.1.5", 443, "ap-northeast-1a"}));
  EXPECT_EQ(t[0].state, core::TargetState::kHealthy);
  EXPECT_TRUE(t[0].reason.empty());
  EXPECT_EQ(t[1].state, core::TargetState::kDraining);
  EXPECT_EQ(t[1].reason, "Target.DeregistrationInProgress");
  EXPECT_EQ(t[1].description, "Target deregistration is in progress");
  EXPECT_FALSE(t[1].target.availabilityZone.has_value());
  EXPECT_EQ(t[2].target.availabilityZone, "all");
  EXPECT_EQ(t[2].state, core::TargetState::kUnhealthyDraining);
  EXPECT_EQ(t[3].state, core::TargetState::kUnknown);
  EXPECT_EQ(t[4].target.port, 0);
  EXPECT_EQ(t[4].state, core::TargetState::kUnavailable);
}

TEST(Elbv2XmlTest, MalformedInputIsAnErrorNotACrash) {
  const std::pair<std::string_view, std::string_view> cases[] = {
      {"", "not well-formed"},
      {"<DescribeTargetHealthResponse><DescribeTargetHealthResult>", "not well-formed"},
      {"<html><body>proxy</body></html>", "root element is <html>"},
      {"<DescribeTargetHealthResponse/>", "no <DescribeTargetHealthResult>"},
      {"<DescribeTargetHealthResponse><DescribeTargetHealthResult><TargetHealthDescriptions>"
       "<member><TargetHealth><State>healthy</State></TargetHealth></member>"
       "</TargetHealthDescriptions></DescribeTargetHealthResult></DescribeTargetHealthResponse>",
       "description 1 has no Target/Id"},
      {"<DescribeTargetHealthResponse><DescribeTargetHealthResult><TargetHealthDescriptions>"
       "<member><Target><Id>10.0.0.1</Id><Port>http</Port></Target><TargetHealth><State>healthy"
       "</State></TargetHealth></member></TargetHealthDescriptions></DescribeTargetHealthResult>"
       "</DescribeTargetHealthResponse>",
       "description 1 has a bad Port"},
      {"<DescribeTargetHealthResponse><DescribeTargetHealthResult><TargetHealthDescriptions>"
       "<member><Target><Id>10.0.0.1</Id><Port>70000</Port></Target><TargetHealth><State>healthy"
       "</State></TargetHealth></member></TargetHealthDescriptions></DescribeTargetHealthResult>"
       "</DescribeTargetHealthResponse>",
       "bad Port"},
      {"<DescribeTargetHealthResponse><DescribeTargetHealthResult><TargetHealthDescriptions>"
       "<member><Target><Id>10.0.0.1</Id></Target></member></TargetHealthDescriptions>"
       "</DescribeTargetHealthResult></DescribeTargetHealthResponse>",
       "has no TargetHealth/State"},
  };
  for (const auto& [xml, expected] : cases) {
    auto targets = parseDescribeTargetHealth(xml);
    ASSERT_FALSE(targets.has_value()) << xml;
    EXPECT_EQ(targets.error().code, "MalformedResponse");
    EXPECT_EQ(targets.error().kind, core::ErrorKind::kRetryable);
    EXPECT_NE(targets.error().message.find(expected), std::string::npos) << targets.error().message;
  }
  auto noArn = parseDescribeTargetGroups(
      "<DescribeTargetGroupsResponse><DescribeTargetGroupsResult><TargetGroups><member>"
      "<TargetGroupName>x</TargetGroupName></member></TargetGroups></DescribeTargetGroupsResult>"
      "</DescribeTargetGroupsResponse>");
  ASSERT_FALSE(noArn.has_value());
  EXPECT_NE(noArn.error().message.find("no TargetGroupArn"), std::string::npos);
}

TEST(Elbv2XmlTest, ParsesTags) {
  auto tags = parseDescribeTags(
      R"(<DescribeTagsResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/">
  <DescribeTagsResult>
    <TagDescriptions>
      <member>
        <ResourceArn>arn:tg/a</ResourceArn>
        <Tags>
          <member><Key>endpoint-binder.io/owner</Key><Value>prod/iot</Value></member>
          <member><Key>empty</Key></member>
        </Tags>
      </member>
      <member><ResourceArn>arn:tg/b</ResourceArn><Tags/></member>
    </TagDescriptions>
  </DescribeTagsResult>
  <ResponseMetadata><RequestId>t-1</RequestId></ResponseMetadata>
</DescribeTagsResponse>)");
  ASSERT_TRUE(tags.has_value()) << tags.error().message;
  ASSERT_EQ(tags->size(), 2u);
  EXPECT_EQ(tags->at("arn:tg/a"), (Tags{{"endpoint-binder.io/owner", "prod/iot"}, {"empty", ""}}));
  EXPECT_TRUE(tags->at("arn:tg/b").empty());

  auto keyless = parseDescribeTags(
      "<DescribeTagsResponse><DescribeTagsResult><TagDescriptions><member><ResourceArn>a"
      "</ResourceArn><Tags><member><Value>v</Value></member></Tags></member></TagDescriptions>"
      "</DescribeTagsResult></DescribeTagsResponse>");
  ASSERT_FALSE(keyless.has_value());
  EXPECT_NE(keyless.error().message.find("without Key"), std::string::npos);
}

TEST(Elbv2XmlTest, EmptyResponsesCheckTheRoot) {
  EXPECT_TRUE(parseEmptyResponse("<RegisterTargetsResponse><RegisterTargetsResult/>"
                                 "<ResponseMetadata><RequestId>x</RequestId></ResponseMetadata>"
                                 "</RegisterTargetsResponse>",
                                 "RegisterTargets")
                  .has_value());
  EXPECT_FALSE(parseEmptyResponse("<DeregisterTargetsResponse/>", "RegisterTargets").has_value());
  EXPECT_FALSE(parseEmptyResponse("OK", "AddTags").has_value());
}

TEST(Elbv2XmlTest, BuildsParametersLikeTheQuerySerializer) {
  EXPECT_EQ(describeTargetGroupsParams({"a", "b"}, "", 400),
            (QueryParams{{"TargetGroupArns.member.1", "a"},
                         {"TargetGroupArns.member.2", "b"},
                         {"PageSize", "400"}}));
  EXPECT_EQ(describeTargetGroupsParams({"a"}, "m", 400),
            (QueryParams{{"TargetGroupArns.member.1", "a"}, {"Marker", "m"}, {"PageSize", "400"}}));
  EXPECT_EQ(registerTargetsParams("tg", {{"10.0.0.1", 443, std::nullopt},
                                         {"192.168.0.1", 80, "all"},
                                         {"i-0abc", 0, std::nullopt}}),
            (QueryParams{{"TargetGroupArn", "tg"},
                         {"Targets.member.1.Id", "10.0.0.1"},
                         {"Targets.member.1.Port", "443"},
                         {"Targets.member.2.Id", "192.168.0.1"},
                         {"Targets.member.2.Port", "80"},
                         {"Targets.member.2.AvailabilityZone", "all"},
                         {"Targets.member.3.Id", "i-0abc"}}));
  EXPECT_EQ(describeTagsParams({"x", "y"}),
            (QueryParams{{"ResourceArns.member.1", "x"}, {"ResourceArns.member.2", "y"}}));
  EXPECT_EQ(addTagsParams("tg", {{"k1", "v1"}, {"k2", ""}}),
            (QueryParams{{"ResourceArns.member.1", "tg"},
                         {"Tags.member.1.Key", "k1"},
                         {"Tags.member.1.Value", "v1"},
                         {"Tags.member.2.Key", "k2"},
                         {"Tags.member.2.Value", ""}}));
}

}  // namespace
}  // namespace endpointbinder::aws
