// ISO-8601 timestamps and the credential JSON of the container endpoint and IMDS.
#include "controller/aws/credentials_json.h"

#include <gtest/gtest.h>

#include <chrono>

namespace endpointbinder::aws {
namespace {

using namespace std::chrono;

core::WallTime utc(int y, unsigned mo, unsigned d, int h, int mi, int s) {
  return core::WallTime{sys_days{year{y} / month{mo} / day{d}}} + hours{h} + minutes{mi} +
         seconds{s};
}

TEST(Iso8601, ParsesAwsForms) {
  EXPECT_EQ(parseIso8601("2024-05-01T12:34:56Z"), utc(2024, 5, 1, 12, 34, 56));
  EXPECT_EQ(parseIso8601("2024-05-01t12:34:56z"), utc(2024, 5, 1, 12, 34, 56));
  EXPECT_EQ(parseIso8601("2024-05-01T12:34:56.250Z"),
            utc(2024, 5, 1, 12, 34, 56) + milliseconds(250));
  EXPECT_EQ(parseIso8601("2024-05-01T12:34:56.123456789123Z"),
            utc(2024, 5, 1, 12, 34, 56) + nanoseconds(123456789));
  EXPECT_EQ(parseIso8601("2024-05-01T14:34:56+02:00"), utc(2024, 5, 1, 12, 34, 56));
  EXPECT_EQ(parseIso8601("2024-05-01T05:34:56-0700"), utc(2024, 5, 1, 12, 34, 56));
  EXPECT_EQ(parseIso8601("2024-02-29T00:00:00Z"), utc(2024, 2, 29, 0, 0, 0));
  EXPECT_EQ(parseIso8601("2016-12-31T23:59:60Z"), utc(2017, 1, 1, 0, 0, 0));
}

TEST(Iso8601, RejectsEverythingElse) {
  for (const char* text :
       {"", "2024-05-01", "2024-05-01T12:34:56", "2024-05-01 12:34:56Z", "2024-13-01T00:00:00Z",
        "2023-02-29T00:00:00Z", "2024-05-01T24:00:00Z", "2024-05-01T12:60:00Z",
        "2024-05-01T12:34:61Z", "2024-05-01T12:34:56.Z", "2024-05-01T12:34:56ZZ",
        "2024-05-01T12:34:56+25:00", "24-05-01T12:34:56Z", "2024-5-01T12:34:56Z",
        "2024-05-01T12:34:56Z ", "+2024-05-01T12:34:56Z", "1714566896"}) {
    EXPECT_FALSE(parseIso8601(text).has_value()) << text;
  }
}

TEST(Iso8601, FormatRoundTrips) {
  const auto time = utc(2031, 12, 31, 23, 59, 59);
  EXPECT_EQ(formatIso8601(time), "2031-12-31T23:59:59Z");
  EXPECT_EQ(parseIso8601(formatIso8601(time)), time);
  EXPECT_EQ(formatIso8601(time + milliseconds(999)), "2031-12-31T23:59:59Z");
}

TEST(CredentialsJson, ParsesContainerDocument) {
  auto credentials = parseCredentialsJson(
      R"({"RoleArn":"arn:aws:iam::123456789012:role/task","AccessKeyId":"ASIAEXAMPLE",)"
      R"("SecretAccessKey":"secret/key+1","Token":"token==","Expiration":"2030-01-02T03:04:05Z"})",
      "container");
  ASSERT_TRUE(credentials.has_value()) << credentials.error().toString();
  EXPECT_EQ(credentials->accessKeyId, "ASIAEXAMPLE");
  EXPECT_EQ(credentials->secretAccessKey, "secret/key+1");
  EXPECT_EQ(credentials->sessionToken, "token==");
  EXPECT_EQ(credentials->expiration, utc(2030, 1, 2, 3, 4, 5));
  EXPECT_EQ(credentials->providerName, "container");
}

TEST(CredentialsJson, ParsesImdsDocument) {
  auto credentials = parseCredentialsJson(
      "{\n  \"Code\" : \"Success\",\n  \"LastUpdated\" : \"2030-01-02T02:00:00Z\",\n"
      "  \"Type\" : \"AWS-HMAC\",\n  \"AccessKeyId\" : \"ASIAIMDS\",\n"
      "  \"SecretAccessKey\" : \"imds-secret\",\n  \"Token\" : \"imds-token\",\n"
      "  \"Expiration\" : \"2030-01-02T08:00:00Z\"\n}",
      "imds");
  ASSERT_TRUE(credentials.has_value()) << credentials.error().toString();
  EXPECT_EQ(credentials->accessKeyId, "ASIAIMDS");
  EXPECT_EQ(credentials->expiration, utc(2030, 1, 2, 8, 0, 0));
}

TEST(CredentialsJson, ErrorsNameTheProblemButNoValues) {
  struct Case {
    const char* body;
    const char* expected;
  };
  const Case cases[] = {
      {"", "malformed JSON"},
      {"{", "malformed JSON"},
      {"not json", "malformed JSON"},
      {"[1,2]", "not a JSON object"},
      {R"({"SecretAccessKey":"sekrit","Token":"t","Expiration":"2030-01-02T03:04:05Z"})",
       "missing string member AccessKeyId"},
      {R"({"AccessKeyId":"A","SecretAccessKey":"sekrit","Expiration":"2030-01-02T03:04:05Z"})",
       "missing string member Token"},
      {R"({"AccessKeyId":"A","SecretAccessKey":"sekrit","Token":"t"})",
       "missing string member Expiration"},
      {R"({"AccessKeyId":5,"SecretAccessKey":"sekrit","Token":"t","Expiration":"x"})",
       "missing string member AccessKeyId"},
      {R"({"AccessKeyId":"","SecretAccessKey":"sekrit","Token":"t","Expiration":"x"})",
       "empty member AccessKeyId"},
      {R"({"AccessKeyId":"A","SecretAccessKey":"sekrit","Token":"t","Expiration":"tomorrow"})",
       "Expiration is not an ISO-8601 time"},
      {R"({"Code":"AssumeRoleUnauthorizedAccess","Message":"sekrit"})",
       "error code AssumeRoleUnauthorizedAccess"},
  };
  for (const auto& c : cases) {
    auto result = parseCredentialsJson(c.body, "imds");
    ASSERT_FALSE(result.has_value()) << c.body;
    EXPECT_EQ(result.error().kind, core::ErrorKind::kRetryable);
    EXPECT_EQ(result.error().code, "InvalidCredentialsResponse");
    EXPECT_NE(result.error().message.find(c.expected), std::string::npos)
        << c.body << " -> " << result.error().message;
    EXPECT_EQ(result.error().message.find("sekrit"), std::string::npos);
    EXPECT_EQ(result.error().message.rfind("imds: ", 0), 0u);
  }
}

TEST(CredentialsJson, SurvivesHostileDocuments) {
  EXPECT_FALSE(parseCredentialsJson(std::string(100000, '['), "x").has_value());
  EXPECT_FALSE(
      parseCredentialsJson(std::string(100, '[') + std::string(100, ']'), "x").has_value());
  EXPECT_FALSE(parseCredentialsJson(std::string(70 * 1024, ' ') + "{}", "x").has_value());
  EXPECT_FALSE(parseCredentialsJson(std::string("{\"a\":\"\0\"}", 9), "x").has_value());
  EXPECT_FALSE(parseCredentialsJson("{\"AccessKeyId\":\"\\ud800\"}", "x").has_value());
}

TEST(DescribeCredentials, MasksKeyIdAndNeverShowsSecrets) {
  Credentials credentials;
  credentials.accessKeyId = "ASIAABCDEFGHWXYZ";
  credentials.secretAccessKey = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
  credentials.sessionToken = "FwoGZXIvYXdzEBYaDH-session-token";
  credentials.expiration = utc(2030, 1, 2, 3, 4, 5);
  credentials.providerName = "imds";
  const std::string text = describeCredentials(credentials);
  EXPECT_EQ(text,
            "provider=imds accessKeyId=ASIA\u2026WXYZ session=yes expires=2030-01-02T03:04:05Z");
  EXPECT_EQ(text.find(credentials.secretAccessKey), std::string::npos);
  EXPECT_EQ(text.find(credentials.sessionToken), std::string::npos);
  EXPECT_EQ(text.find("ABCDEFGH"), std::string::npos);

  Credentials longTerm;
  longTerm.accessKeyId = "AKID";
  longTerm.secretAccessKey = "s";
  EXPECT_EQ(describeCredentials(longTerm),
            "provider=unknown accessKeyId=\u2026 session=no expires=never");
}

TEST(NotConfigured, IsRecognisedByKindAndCode) {
  const auto error = credentialsNotConfigured("x: not set");
  EXPECT_TRUE(isCredentialsNotConfigured(error));
  EXPECT_EQ(error.kind, core::ErrorKind::kNotFound);
  core::Error other = error;
  other.kind = core::ErrorKind::kAuth;
  EXPECT_FALSE(isCredentialsNotConfigured(other));
}

}  // namespace
}  // namespace endpointbinder::aws
