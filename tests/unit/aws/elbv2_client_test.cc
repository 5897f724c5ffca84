#include "controller/aws/elbv2_client.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "tests/support/fake_http_transport.h"

namespace endpointbinder::aws {
namespace {

using std::chrono::nanoseconds;
using testing::decodeForm;
using testing::FakeCredentialsProvider;
using testing::FakeHttpTransport;
using testing::formValue;

constexpr std::string_view kArn =
    "arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup/tg/4ab4dba084c2bb5c";

std::string emptyResponse(std::string_view action) {
  return fmt::format(
      "<{0}Response xmlns=\"http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/\">"
      "<{0}Result/><ResponseMetadata><RequestId>ok</RequestId></ResponseMetadata></{0}Response>",
      action);
}

std::string targetGroupsPage(const std::vector<std::string>& arns, std::string_view marker) {
  std::string members;
  for (const std::string& arn : arns) {
    members += fmt::format(
        "<member><TargetGroupArn>{}</TargetGroupArn><TargetGroupName>n</TargetGroupName>"
        "<Protocol>HTTP</Protocol><Port>80</Port><TargetType>ip</TargetType></member>",
        arn);
  }
  return fmt::format(
      "<DescribeTargetGroupsResponse><DescribeTargetGroupsResult><TargetGroups>{}</TargetGroups>"
      "{}</DescribeTargetGroupsResult></DescribeTargetGroupsResponse>",
      members, marker.empty() ? "" : fmt::format("<NextMarker>{}</NextMarker>", marker));
}

std::vector<core::Target> makeTargets(int n) {
  std::vector<core::Target> targets;
  for (int i = 0; i < n; ++i) {
    core::Target t{fmt::format("10.0.{}.{}", i / 250, i % 250 + 1), 443, std::nullopt};
    if (i % 2 == 1) t.availabilityZone = "all";
    targets.push_back(t);
  }
  return targets;
}

struct ClientHarness {
  core::ManualClock clock;
  FakeHttpTransport transport;
  FakeCredentialsProvider credentials;
  CountingObserver observer;
  Elbv2Client client;

  ClientHarness()
      : client(elbv2ServiceOptions("ap-northeast-1"), transport, credentials, clock,
               QueryClientHooks{nullptr, &observer, nullptr, [] { return 0.5; },
                                [this](nanoseconds d) { clock.advance(d); }}) {}

  std::vector<std::vector<std::pair<std::string, std::string>>> sentForms() const {
    std::vector<std::vector<std::pair<std::string, std::string>>> forms;
    for (const HttpRequest& request : transport.requests())
      forms.push_back(decodeForm(request.body));
    return forms;
  }
};

TEST(Elbv2ClientTest, DefaultEndpointIsRegional) {
  ClientHarness h;
  EXPECT_EQ(h.client.queryClient().options().endpoint,
            "https://elasticloadbalancing.ap-northeast-1.amazonaws.com");
  EXPECT_EQ(h.client.queryClient().options().service, "elasticloadbalancing");
  EXPECT_EQ(h.client.queryClient().options().apiVersion, "2015-12-01");
  EXPECT_EQ(elbv2ServiceOptions("us-east-1", "http://127.0.0.1:4566").endpoint,
            "http://127.0.0.1:4566");
}

TEST(Elbv2ClientTest, RegistersInChunksOf200WithPortAndZonePerTarget) {
  ClientHarness h;
  for (int i = 0; i < 3; ++i) h.transport.pushXml(200, emptyResponse("RegisterTargets"));
  const std::vector<core::Target> targets = makeTargets(450);
  ASSERT_TRUE(h.client.registerTargets(std::string(kArn), targets).has_value());

  const auto forms = h.sentForms();
  ASSERT_EQ(forms.size(), 3u);
  size_t next = 0;
  for (size_t call = 0; call < forms.size(); ++call) {
    const auto& form = forms[call];
    ASSERT_GE(form.size(), 3u);
    EXPECT_EQ(form[0], (std::pair<std::string, std::string>{"Action", "RegisterTargets"}));
    EXPECT_EQ(form[1], (std::pair<std::string, std::string>{"Version", "2015-12-01"}));
    EXPECT_EQ(form[2], (std::pair<std::string, std::string>{"TargetGroupArn", std::string(kArn)}));
    const size_t expectedCount = call < 2 ? 200 : 50;
    size_t member = 0;
    for (size_t i = 3; i < form.size();) {
      ++member;
      const core::Target& t = targets[next++];
      const std::string prefix = fmt::format("Targets.member.{}.", member);
      ASSERT_EQ(form[i], (std::pair<std::string, std::string>{prefix + "Id", t.id}));
      ASSERT_EQ(form[i + 1], (std::pair<std::string, std::string>{prefix + "Port", "443"}));
      i += 2;
      if (t.availabilityZone) {
        ASSERT_EQ(form[i],
                  (std::pair<std::string, std::string>{prefix + "AvailabilityZone", "all"}));
        ++i;
      }
    }
    EXPECT_EQ(member, expectedCount);
  }
  EXPECT_EQ(next, targets.size());
  // The exact wire form of the first member.
  EXPECT_NE(h.transport.requests()[0].body.find(
                "&Targets.member.1.Id=10.0.0.1&Targets.member.1.Port=443&Targets.member.2.Id="
                "10.0.0.2&Targets.member.2.Port=443&Targets.member.2.AvailabilityZone=all&"),
            std::string::npos);
}

TEST(Elbv2ClientTest, DeregisterUsesTheSameShape) {
  ClientHarness h;
  h.transport.pushXml(200, emptyResponse("DeregisterTargets"));
  ASSERT_TRUE(h.client.deregisterTargets(std::string(kArn), {{"10.0.0.9", 8080, std::nullopt}})
                  .has_value());
  ASSERT_EQ(h.transport.requestCount(), 1u);
  EXPECT_EQ(h.transport.requests()[0].body,
            "Action=DeregisterTargets&Version=2015-12-01&TargetGroupArn=arn%3Aaws%3A"
            "elasticloadbalancing%3Aap-northeast-1%3A123456789012%3Atargetgroup%2Ftg%2F"
            "4ab4dba084c2bb5c&Targets.member.1.Id=10.0.0.9&Targets.member.1.Port=8080");
}

TEST(Elbv2ClientTest, EmptyInputsMakeNoCalls) {
  ClientHarness h;
  EXPECT_TRUE(h.client.registerTargets(std::string(kArn), {}).has_value());
  EXPECT_TRUE(h.client.deregisterTargets(std::string(kArn), {}).has_value());
  EXPECT_TRUE(h.client.addTags(std::string(kArn), {}).has_value());
  EXPECT_TRUE(h.client.describeTags({}).value().empty());
  EXPECT_TRUE(h.client.describeTargetGroups({}).value().empty());
  EXPECT_EQ(h.transport.requestCount(), 0u);
}

TEST(Elbv2ClientTest, AChunkFailureStopsTheRest) {
  ClientHarness h;
  h.transport.pushXml(200, emptyResponse("RegisterTargets"));
  h.transport.pushAwsError(400, "InvalidTarget", "The IP address 8.8.8.8 is not allowed", "r2");
  auto result = h.client.registerTargets(std::string(kArn), makeTargets(500));
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().kind, core::ErrorKind::kTerminal);
  EXPECT_EQ(result.error().code, "InvalidTarget");
  EXPECT_EQ(result.error().requestId, "r2");
  EXPECT_EQ(h.transport.requestCount(), 2u);
}

TEST(Elbv2ClientTest, DescribeTargetGroupsFollowsMarkers) {
  ClientHarness h;
  h.transport.pushXml(200, targetGroupsPage({"arn:1", "arn:2"}, "page2"));
  h.transport.pushXml(200, targetGroupsPage({"arn:3"}, "page3"));
  h.transport.pushXml(200, targetGroupsPage({}, ""));
  auto groups = h.client.describeTargetGroups({"arn:1", "arn:2", "arn:3"});
  ASSERT_TRUE(groups.has_value()) << groups.error().toString();
  ASSERT_EQ(groups->size(), 3u);
  EXPECT_EQ((*groups)[2].arn, "arn:3");
  EXPECT_EQ((*groups)[0].port, 80);

  const auto requests = h.transport.requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(requests[0].body,
            "Action=DescribeTargetGroups&Version=2015-12-01&TargetGroupArns.member.1=arn%3A1&"
            "TargetGroupArns.member.2=arn%3A2&TargetGroupArns.member.3=arn%3A3&PageSize=400");
  EXPECT_EQ(formValue(requests[0].body, "Marker"), std::nullopt);
  EXPECT_EQ(formValue(requests[1].body, "Marker"), "page2");
  EXPECT_EQ(formValue(requests[2].body, "Marker"), "page3");
  EXPECT_EQ(formValue(requests[2].body, "PageSize"), "400");
}

TEST(Elbv2ClientTest, RepeatedMarkerIsAnErrorNotALoop) {
  ClientHarness h;
  h.transport.pushXml(200, targetGroupsPage({"arn:1"}, "same"));
  h.transport.pushXml(200, targetGroupsPage({"arn:1"}, "same"));
  auto groups = h.client.describeTargetGroups({"arn:1"});
  ASSERT_FALSE(groups.has_value());
  EXPECT_EQ(groups.error().code, "MalformedResponse");
  EXPECT_EQ(h.transport.requestCount(), 2u);
}

TEST(Elbv2ClientTest, MissingTargetGroupIsNotFound) {
  ClientHarness h;
  h.transport.pushAwsError(400, "TargetGroupNotFound", "One or more target groups not found",
                           "nf-1");
  auto result = h.client.describeTargetHealth("arn:missing");
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().kind, core::ErrorKind::kNotFound);
  EXPECT_EQ(result.error().code, "TargetGroupNotFound");
  EXPECT_EQ(result.error().requestId, "nf-1");
  EXPECT_EQ(h.transport.requestCount(), 1u);
  EXPECT_EQ(h.transport.requests()[0].body,
            "Action=DescribeTargetHealth&Version=2015-12-01&TargetGroupArn=arn%3Amissing");
}

TEST(Elbv2ClientTest, DescribeTargetHealthParses) {
  ClientHarness h;
  h.transport.pushXml(
      200,
      "<DescribeTargetHealthResponse><DescribeTargetHealthResult><TargetHealthDescriptions>"
      "<member><Target><Id>10.0.0.1</Id><Port>443</Port></Target><TargetHealth><State>initial"
      "</State><Reason>Elb.RegistrationInProgress</Reason></TargetHealth></member>"
      "</TargetHealthDescriptions></DescribeTargetHealthResult></DescribeTargetHealthResponse>");
  auto targets = h.client.describeTargetHealth(std::string(kArn));
  ASSERT_TRUE(targets.has_value());
  ASSERT_EQ(targets->size(), 1u);
  EXPECT_EQ((*targets)[0].state, core::TargetState::kInitial);
  EXPECT_EQ((*targets)[0].reason, "Elb.RegistrationInProgress");
}

TEST(Elbv2ClientTest, MalformedSuccessBodyKeepsTheRequestId) {
  ClientHarness h;
  h.transport.pushXml(200, "<DescribeTargetHealthResponse><oops", "req-77");
  auto targets = h.client.describeTargetHealth(std::string(kArn));
  ASSERT_FALSE(targets.has_value());
  EXPECT_EQ(targets.error().code, "MalformedResponse");
  EXPECT_EQ(targets.error().requestId, "req-77");
  EXPECT_EQ(targets.error().httpStatus, 200);
}

TEST(Elbv2ClientTest, DescribeTagsSplitsAtTwentyArns) {
  ClientHarness h;
  std::vector<std::string> arns;
  for (int i = 0; i < 45; ++i) arns.push_back(fmt::format("arn:tg/{}", i));
  h.transport.setHandler([](const HttpRequest& request) -> core::Result<HttpResponse> {
    std::string members;
    for (const auto& [key, value] : decodeForm(request.body)) {
      if (!key.starts_with("ResourceArns.member.")) continue;
      members += fmt::format(
          "<member><ResourceArn>{0}</ResourceArn><Tags><member><Key>name</Key><Value>{0}</Value>"
          "</member></Tags></member>",
          value);
    }
    HttpResponse response;
    response.status = 200;
    response.body = fmt::format(
        "<DescribeTagsResponse><DescribeTagsResult><TagDescriptions>{}</TagDescriptions>"
        "</DescribeTagsResult></DescribeTagsResponse>",
        members);
    return response;
  });
  auto tags = h.client.describeTags(arns);
  ASSERT_TRUE(tags.has_value()) << tags.error().toString();
  EXPECT_EQ(tags->size(), 45u);
  EXPECT_EQ(tags->at("arn:tg/44").at("name"), "arn:tg/44");

  const auto forms = h.sentForms();
  ASSERT_EQ(forms.size(), 3u);
  const size_t expected[] = {20, 20, 5};
  for (size_t call = 0; call < 3; ++call) {
    EXPECT_EQ(forms[call].size(), 2 + expected[call]);
    EXPECT_EQ(forms[call][2].first, "ResourceArns.member.1");
    EXPECT_EQ(forms[call][2].second, arns[call * 20]);
  }
}

TEST(Elbv2ClientTest, AddTagsSendsEveryTag) {
  ClientHarness h;
  h.transport.pushXml(200, emptyResponse("AddTags"));
  ASSERT_TRUE(
      h.client.addTags(std::string(kArn), {{"owner", "prod/iot"}, {"note", "a b"}}).has_value());
  EXPECT_EQ(h.transport.requests().at(0).body,
            "Action=AddTags&Version=2015-12-01&ResourceArns.member.1=arn%3Aaws%3A"
            "elasticloadbalancing%3Aap-northeast-1%3A123456789012%3Atargetgroup%2Ftg%2F"
            "4ab4dba084c2bb5c&Tags.member.1.Key=note&Tags.member.1.Value=a%20b&"
            "Tags.member.2.Key=owner&Tags.member.2.Value=prod%2Fiot");
  EXPECT_EQ(h.observer.calls("AddTags", CallOutcome::kSuccess), 1);
}

TEST(Elbv2ClientTest, RetriedWriteIsCountedOnce) {
  ClientHarness h;
  h.transport.pushAwsError(400, "Throttling", "Rate exceeded");
  h.transport.pushXml(200, emptyResponse("RegisterTargets"));
  ASSERT_TRUE(h.client.registerTargets(std::string(kArn), makeTargets(3)).has_value());
  EXPECT_EQ(h.transport.requestCount(), 2u);
  EXPECT_EQ(h.transport.requests()[0].body, h.transport.requests()[1].body);
  const auto totals = h.observer.totals("RegisterTargets");
  EXPECT_EQ(totals.calls, 1);
  EXPECT_EQ(totals.attempts, 2);
  EXPECT_EQ(totals.retries, 1);
}

}  // namespace
}  // namespace endpointbinder::aws
