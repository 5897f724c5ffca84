// The helpers in http.h: HTTP Date parsing (for clock-skew correction) and secret redaction
// (for the container credentials URI).
#include "controller/aws/http.h"

#include <gtest/gtest.h>

namespace endpointbinder::aws {
namespace {

using std::chrono::seconds;
using std::chrono::system_clock;

system_clock::time_point unix(long long s) { return system_clock::time_point(seconds(s)); }

TEST(ParseHttpDate, ReadsTheThreeFormatsOfRfc9110) {
  // 784111777 = 1994-11-06T08:49:37Z, RFC 9110's example.
  EXPECT_EQ(parseHttpDate("Sun, 06 Nov 1994 08:49:37 GMT"), unix(784111777));
  EXPECT_EQ(parseHttpDate("Sunday, 06-Nov-94 08:49:37 GMT"), unix(784111777));
  EXPECT_EQ(parseHttpDate("Sun Nov  6 08:49:37 1994"), unix(784111777));
  EXPECT_EQ(parseHttpDate(" Tue, 14 Nov 2023 22:13:20 GMT "), unix(1'700'000'000));
  EXPECT_EQ(parseHttpDate("Thu, 29 Feb 2024 23:59:59 GMT"), unix(1'709'251'199));
}

TEST(ParseHttpDate, RefusesAnythingElse) {
  for (const char* text :
       {"", "yesterday", "Tue, 14 Nov 2023 22:13:20 UTC", "Tue, 14 Nov 2023 22:13:20",
        "Tue, 14 Foo 2023 22:13:20 GMT", "Tue, 14 Nov 2023 25:13:20 GMT",
        "Tue, 14 Nov 2023 22-13-20 GMT", "Tue, 1x Nov 2023 22:13:20 GMT", "2023-11-14T22:13:20Z",
        "Tue, 00 Nov 2023 22:13:20 GMT"}) {
    EXPECT_FALSE(parseHttpDate(text).has_value()) << text;
  }
}

TEST(Redaction, KeepsTheOriginAndHidesPathAndQuery) {
  EXPECT_EQ(redactedUrl("http://169.254.170.2/v2/credentials/abc?x=1"),
            "http://169.254.170.2/<redacted path>");
  EXPECT_EQ(redactedUrl("https://[fd00:ec2::23]:8443/v1/credentials"),
            "https://[fd00:ec2::23]:8443/<redacted path>");
  EXPECT_EQ(redactedUrl("not a url /secret"), "<redacted URL>");

  std::string text = "GET /v2/credentials/abc failed; retried /v2/credentials/abc";
  redactSecret(text, "/v2/credentials/abc", "<redacted path>");
  EXPECT_EQ(text, "GET <redacted path> failed; retried <redacted path>");
  std::string shortSecret = "a/b/c";
  redactSecret(shortSecret, "/b", "<x>");  // too short to be a secret worth garbling text for
  EXPECT_EQ(shortSecret, "a/b/c");
  std::string selfReferential = "secret secret";
  redactSecret(selfReferential, "secret", "<secret>");  // terminates
  EXPECT_EQ(selfReferential, "<secret> <secret>");
}

}  // namespace
}  // namespace endpointbinder::aws
