// Value syntax helpers: durations, percentages, ARNs, hostnames, names, labels and AWS ids.
#include "api/syntax.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace endpointbinder::api {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;
using testing::HasSubstr;

TEST(ParseDuration, AcceptsGoStyleUnitsLargestFirst) {
  struct Case {
    const char* text;
    Duration want;
  };
  const Case cases[] = {
      {"0s", Duration::zero()},
      {"0ms", Duration::zero()},
      {"500ms", milliseconds(500)},
      {"90s", seconds(90)},
      {"3m", minutes(3)},
      {"1h30m", minutes(90)},
      {"24h", hours(24)},
      {"1h2m3s4ms", hours(1) + minutes(2) + seconds(3) + milliseconds(4)},
      {"05s", seconds(5)},
      {"1h0m", hours(1)},
      {"100000h", hours(100000)},
  };
  for (const Case& c : cases) {
    auto got = parseDuration(c.text);
    ASSERT_TRUE(got.has_value()) << c.text << ": " << got.error();
    EXPECT_EQ(*got, c.want) << c.text;
  }
}

TEST(ParseDuration, RejectsWithAReasonNamingTheProblem) {
  struct Case {
    const char* text;
    const char* reason;
  };
  const Case cases[] = {
      {"", "write a duration"},
      {"90", "missing unit after \"90\""},
      {"0", "missing unit"},
      {"5d", "unknown unit \"d\""},
      {"5sec", "unknown unit \"sec\""},
      {"5us", "unknown unit \"us\""},
      {"5M", "unknown unit \"M\""},
      {"1.5h", "fractions are not supported"},
      {".5s", "fractions are not supported"},
      {"-30s", "negative durations are not allowed"},
      {"+30s", "expected a number followed by a unit"},
      {"s", "expected a number followed by a unit"},
      {"30m1h", "each unit may appear once, largest first"},
      {"1s1s", "each unit may appear once"},
      {"5ms5s", "each unit may appear once"},
      {"3 minutes", "spaces are not allowed"},
      {"99999999999999999999h", "too large"},
      {"300000000000h", "too large"},
  };
  for (const Case& c : cases) {
    auto got = parseDuration(c.text);
    ASSERT_FALSE(got.has_value()) << c.text;
    EXPECT_THAT(got.error(), HasSubstr(c.reason)) << c.text;
    EXPECT_THAT(got.error(), HasSubstr("invalid duration \"")) << c.text;
  }
}

TEST(FormatDuration, IsTheShortestTextThatParsesBack) {
  EXPECT_EQ(formatDuration(Duration::zero()), "0s");
  EXPECT_EQ(formatDuration(seconds(90)), "1m30s");
  EXPECT_EQ(formatDuration(minutes(90)), "1h30m");
  EXPECT_EQ(formatDuration(milliseconds(500)), "500ms");
  EXPECT_EQ(formatDuration(hours(24)), "24h");
  for (int64_t ms : {int64_t{0}, int64_t{1}, int64_t{999}, int64_t{1000}, int64_t{61001},
                     int64_t{3'600'000}, int64_t{86'399'999}, int64_t{123'456'789}}) {
    auto parsed = parseDuration(formatDuration(milliseconds(ms)));
    ASSERT_TRUE(parsed.has_value()) << ms;
    EXPECT_EQ(parsed->count(), ms);
  }
}

TEST(ParsePercent, AcceptsWholePercentagesUpTo100) {
  for (int value : {0, 1, 50, 99, 100}) {
    auto got = parsePercent(std::to_string(value) + "%");
    ASSERT_TRUE(got.has_value()) << value;
    EXPECT_TRUE(got->isPercent);
    EXPECT_EQ(got->value, value);
  }
}

TEST(ParsePercent, RejectsOverflowAndMalformedText) {
  EXPECT_EQ(parsePercent("150%").error(), "\"150%\" exceeds 100%");
  EXPECT_EQ(parsePercent("101%").error(), "\"101%\" exceeds 100%");
  EXPECT_THAT(parsePercent("99999999999999999999%").error(), HasSubstr("exceeds 100%"));
  EXPECT_THAT(parsePercent("5").error(), HasSubstr("without quotes for a count"));
  for (const char* text : {"half", "%", "50 %", "050%", "-5%", "5.5%", "50%%", ""}) {
    auto got = parsePercent(text);
    ASSERT_FALSE(got.has_value()) << text;
    EXPECT_THAT(got.error(), HasSubstr("neither a count nor a percentage")) << text;
  }
}

constexpr const char* kArn =
    "arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup/f-iot-alb-tg/"
    "4ab4dba084c2bb5c";

TEST(ParseTargetGroupArn, SplitsAValidArnIntoItsParts) {
  auto arn = parseTargetGroupArn(kArn);
  ASSERT_TRUE(arn.has_value()) << arn.error();
  EXPECT_EQ(arn->text, kArn);
  EXPECT_EQ(arn->partition, "aws");
  EXPECT_EQ(arn->region, "ap-northeast-1");
  EXPECT_EQ(arn->account, "123456789012");
  EXPECT_EQ(arn->name, "f-iot-alb-tg");
  EXPECT_EQ(arn->id, "4ab4dba084c2bb5c");
}

TEST(ParseTargetGroupArn, AcceptsEveryPartitionAndNameShape) {
  for (const char* arn : {
           "arn:aws-cn:elasticloadbalancing:cn-north-1:123456789012:targetgroup/a/0123456789abcdef",
           "arn:aws-us-gov:elasticloadbalancing:us-gov-west-1:123456789012:targetgroup/A-1/"
           "0123456789abcdef",
           "arn:aws-iso:elasticloadbalancing:us-iso-east-1:123456789012:targetgroup/x/"
           "0123456789abcdef",
           "arn:aws-iso-b:elasticloadbalancing:us-isob-east-1:123456789012:targetgroup/"
           "abcdefghijklmnopqrstuvwxyz012345/0123456789abcdef",
       }) {
    EXPECT_TRUE(parseTargetGroupArn(arn).has_value()) << arn;
  }
}

TEST(ParseTargetGroupArn, NamesTheBadPart) {
  struct Case {
    std::string arn;
    const char* reason;
  };
  const std::string tail = ":123456789012:targetgroup/web/0123456789abcdef";
  const Case cases[] = {
      {"web", "is not a target group ARN"},
      {"arn:aws:elasticloadbalancing:ap-northeast-1:123456789012", "is not a target group ARN"},
      {"arn:awz:elasticloadbalancing:ap-northeast-1" + tail, "unknown partition \"awz\""},
      {"arn:aws-iso-bb:elasticloadbalancing:ap-northeast-1" + tail, "unknown partition"},
      {"arn:aws:ec2:ap-northeast-1" + tail, "service \"ec2\" is not elasticloadbalancing"},
      {"arn:aws:elasticloadbalancing:ap-northeast" + tail, "region \"ap-northeast\""},
      {"arn:aws:elasticloadbalancing:Ap-northeast-1" + tail, "region"},
      {"arn:aws:elasticloadbalancing:tokyo-1" + tail, "region"},
      {"arn:aws:elasticloadbalancing:ap-northeast-1:12345678901:targetgroup/web/0123456789abcdef",
       "account \"12345678901\" is not 12 digits"},
      {"arn:aws:elasticloadbalancing:ap-northeast-1:12345678901a:targetgroup/web/0123456789abcdef",
       "account"},
      {"arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:loadbalancer/app/web/"
       "0123456789abcdef",
       "is not a target group (targetgroup/<name>/<id>)"},
      {"arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup/web",
       "is not a target group"},
      {"arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup//0123456789abcdef",
       "must be 1 to 32 characters"},
      {"arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup/"
       "abcdefghijklmnopqrstuvwxyz0123456/0123456789abcdef",
       "must be 1 to 32 characters"},
      {"arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup/web_1/"
       "0123456789abcdef",
       "may contain only letters, digits and hyphens"},
      {"arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup/web-/"
       "0123456789abcdef",
       "must not start or end with a hyphen"},
      {"arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup/web/0123456789abcde",
       "is not 16 lowercase hexadecimal digits"},
      {"arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup/web/"
       "0123456789ABCDEF",
       "is not 16 lowercase hexadecimal digits"},
  };
  for (const Case& c : cases) {
    auto got = parseTargetGroupArn(c.arn);
    ASSERT_FALSE(got.has_value()) << c.arn;
    EXPECT_THAT(got.error(), HasSubstr(c.reason)) << c.arn;
  }
}

TEST(CheckSnsTopicArn, AcceptsStandardAndFifoTopics) {
  EXPECT_TRUE(checkSnsTopicArn("arn:aws:sns:ap-northeast-1:123456789012:ops").has_value());
  EXPECT_TRUE(checkSnsTopicArn("arn:aws:sns:ap-northeast-1:123456789012:o_p-s.fifo").has_value());
  EXPECT_THAT(checkSnsTopicArn("arn:aws:sqs:ap-northeast-1:123456789012:ops").error(),
              HasSubstr("service \"sqs\" is not sns"));
  EXPECT_THAT(checkSnsTopicArn("arn:aws:sns:ap-northeast-1:123456789012:a.b").error(),
              HasSubstr("topic name"));
  EXPECT_THAT(checkSnsTopicArn("arn:aws:sns:ap-northeast-1:123456789012:.fifo").error(),
              HasSubstr("topic name"));
  EXPECT_THAT(checkSnsTopicArn("ops").error(), HasSubstr("is not an SNS topic ARN"));
}

TEST(NormalizeHostname, LowercasesAndStripsOneTrailingDot) {
  EXPECT_EQ(normalizeHostname("Internal-Web.ELB.amazonaws.com.").value(),
            "internal-web.elb.amazonaws.com");
  EXPECT_EQ(normalizeHostname("localhost").value(), "localhost");
  EXPECT_EQ(normalizeHostname("1password.com").value(), "1password.com");
  EXPECT_EQ(normalizeHostname("a.b-c.d1").value(), "a.b-c.d1");
  const std::string label63(63, 'a');
  EXPECT_TRUE(normalizeHostname(label63 + ".example.com").has_value());
  // 253 characters is the limit, without the trailing dot.
  std::string longest = label63 + "." + label63 + "." + label63 + "." + std::string(61, 'b');
  ASSERT_EQ(longest.size(), 253u);
  EXPECT_TRUE(normalizeHostname(longest).has_value());
  EXPECT_TRUE(normalizeHostname(longest + ".").has_value());
  EXPECT_THAT(normalizeHostname(longest + "c").error(), HasSubstr("longer than 253"));
}

TEST(NormalizeHostname, RejectsWhatIsNotAnRfc1123Name) {
  struct Case {
    std::string text;
    const char* reason;
  };
  const Case cases[] = {
      {"", "must not be empty"},
      {"10.0.0.5", "is an IP address, not a hostname"},
      {"fd00::1", "is an IP address"},
      {"10.0.0.5.", "last label \"5\" is all digits"},
      {"1.2.3", "all digits"},
      {"a_b.example.com", "contains \"_\""},
      {"a b.example.com", "contains \" \""},
      {"caf\xc3\xa9.example.com", "contains a non-ASCII character"},
      {"web..example.com", "has an empty label"},
      {".example.com", "has an empty label"},
      {"example.com..", "has an empty label"},
      {"-web.example.com", "label \"-web\" starts or ends with \"-\""},
      {"web-.example.com", "starts or ends with"},
      {std::string(64, 'a') + ".com", "is longer than 63 characters"},
  };
  for (const Case& c : cases) {
    auto got = normalizeHostname(c.text);
    ASSERT_FALSE(got.has_value()) << c.text;
    EXPECT_THAT(got.error(), HasSubstr(c.reason)) << c.text;
  }
}

TEST(CheckDns1123Label, FollowsKubernetesNames) {
  for (const char* ok : {"a", "web", "web-1", "0", "1a", "a-b-c"}) {
    EXPECT_TRUE(checkDns1123Label(ok).has_value()) << ok;
  }
  EXPECT_TRUE(checkDns1123Label(std::string(63, 'a')).has_value());
  EXPECT_THAT(checkDns1123Label(std::string(64, 'a')).error(), HasSubstr("longer than 63"));
  EXPECT_EQ(checkDns1123Label("").error(), "must not be empty");
  for (const char* bad : {"Web", "web_1", "-web", "web-", "web.1", "wéb"}) {
    EXPECT_THAT(checkDns1123Label(bad).error(), HasSubstr("is not a DNS-1123 label")) << bad;
  }
}

TEST(CheckLabels, KeysHaveAnOptionalDnsPrefixAndAQualifiedName) {
  for (const char* ok :
       {"team", "app.kubernetes.io/name", "a", "A_b.c-D", "example.com/x", "a-1.b/c"}) {
    EXPECT_TRUE(checkLabelKey(ok).has_value()) << ok;
  }
  EXPECT_TRUE(checkLabelKey(std::string(63, 'k')).has_value());
  EXPECT_THAT(checkLabelKey(std::string(64, 'k')).error(), HasSubstr("longer than 63"));
  EXPECT_THAT(checkLabelKey(std::string(254, 'p') + "/k").error(), HasSubstr("longer than 253"));
  EXPECT_THAT(checkLabelKey("Example.com/x").error(), HasSubstr("DNS-1123 subdomain"));
  EXPECT_THAT(checkLabelKey("/x").error(), HasSubstr("DNS-1123 subdomain"));
  EXPECT_THAT(checkLabelKey("a..b/x").error(), HasSubstr("DNS-1123 subdomain"));
  for (const char* bad : {"", "-team", "team-", "a/b/c", "example.com/", "te am"}) {
    EXPECT_FALSE(checkLabelKey(bad).has_value()) << bad;
  }
}

TEST(CheckLabels, ValuesMayBeEmptyOrAQualifiedName) {
  for (const char* ok : {"", "v", "production-engineering", "1.2.3", "A_b"}) {
    EXPECT_TRUE(checkLabelValue(ok).has_value()) << ok;
  }
  EXPECT_THAT(checkLabelValue(std::string(64, 'v')).error(), HasSubstr("longer than 63"));
  for (const char* bad : {"a b", "-v", "v.", "a/b"}) {
    EXPECT_THAT(checkLabelValue(bad).error(), HasSubstr("is not a valid label value")) << bad;
  }
}

TEST(CheckAwsIdentifiers, AvailabilityZones) {
  for (const char* ok :
       {"all", "ap-northeast-1a", "us-gov-west-1b", "us-west-2-lax-1a", "cn-north-1d"}) {
    EXPECT_TRUE(checkAvailabilityZone(ok).has_value()) << ok;
  }
  for (const char* bad : {"", "ALL", "ap-northeast-1", "apne1-az1", "tokyo-1a", "ap-northeast-1A",
                          "us-west-2-lax-a"}) {
    EXPECT_FALSE(checkAvailabilityZone(bad).has_value()) << bad;
  }
}

TEST(CheckAwsIdentifiers, HostedZonesSpotFleetsAndGroups) {
  EXPECT_TRUE(checkHostedZoneId("Z1").has_value());
  EXPECT_TRUE(checkHostedZoneId("Z0123456789ABCDEFGHIJ").has_value());
  EXPECT_TRUE(checkHostedZoneId("Z" + std::string(32, 'A')).has_value());
  for (const std::string& bad : std::vector<std::string>{
           "", "Z", "z123", "Z12a", "/hostedzone/Z123", "Z" + std::string(33, 'A')}) {
    EXPECT_FALSE(checkHostedZoneId(bad).has_value()) << bad;
  }
  EXPECT_TRUE(checkSpotFleetRequestId("sfr-0d4b0a3e-5c1f-4c9e-9a7b-2f6e8d1c3b5a").has_value());
  for (const char* bad :
       {"sfr-123", "0d4b0a3e-5c1f-4c9e-9a7b-2f6e8d1c3b5a",
        "sfr-0D4B0A3E-5C1F-4C9E-9A7B-2F6E8D1C3B5A", "sfr-0d4b0a3e-5c1f-4c9e-9a7b-2f6e8d1c3b5a-1"}) {
    EXPECT_FALSE(checkSpotFleetRequestId(bad).has_value()) << bad;
  }
  EXPECT_TRUE(checkAutoScalingGroupName("web asg #1").has_value());
  EXPECT_TRUE(checkAutoScalingGroupName(std::string(255, 'g')).has_value());
  EXPECT_FALSE(checkAutoScalingGroupName(std::string(256, 'g')).has_value());
  EXPECT_FALSE(checkAutoScalingGroupName("").has_value());
  EXPECT_FALSE(checkAutoScalingGroupName("a\tb").has_value());
  // Limits count characters, not bytes: 255 two-byte characters are fine.
  std::string wide;
  for (int i = 0; i < 255; ++i) wide += "\xc3\xa9";
  EXPECT_TRUE(checkAutoScalingGroupName(wide).has_value());
}

TEST(CheckAwsIdentifiers, SsmParametersAndRecordNames) {
  for (const char* ok : {"/endpoint-binder/slack", "/a", "/a.b_c-d/e"}) {
    EXPECT_TRUE(checkSsmParameterName(ok).has_value()) << ok;
  }
  for (const char* bad : {"", "/", "slack", "/a//b", "/a/", "/a b"}) {
    EXPECT_FALSE(checkSsmParameterName(bad).has_value()) << bad;
  }
  EXPECT_FALSE(checkSsmParameterName("/" + std::string(1011, 'a')).has_value());
  for (const char* ok : {"instance-id", "tag:Name", "tag:aws:autoscaling:groupName", "tag:a b"}) {
    EXPECT_TRUE(checkRecordNameFrom(ok).has_value()) << ok;
  }
  EXPECT_THAT(checkRecordNameFrom("tag:").error(), HasSubstr("needs a tag key"));
  EXPECT_THAT(checkRecordNameFrom("tag:" + std::string(129, 'k')).error(),
              HasSubstr("longer than 128"));
  EXPECT_THAT(checkRecordNameFrom("Name").error(), HasSubstr("is not \"instance-id\""));
}

TEST(QuoteForMessage, EscapesAndTruncatesAtACharacterBoundary) {
  EXPECT_EQ(quoteForMessage("a\"b\\c\n\x01"), "\"a\\\"b\\\\c\\n\\x01\"");
  const std::string longText = std::string(79, 'x') + "\xc3\xa9" + "tail";
  const std::string quoted = quoteForMessage(longText);
  EXPECT_EQ(quoted, "\"" + std::string(79, 'x') + "...\"");
  EXPECT_EQ(codePointCount("\xc3\xa9t\xe2\x82\xac"), 3u);
  EXPECT_EQ(codePointCount("\xff\xfe"), 2u);
}

}  // namespace
}  // namespace endpointbinder::api
