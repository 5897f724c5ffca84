// URL parsing, proxy selection and NO_PROXY matching (pure functions).
#include "controller/aws/proxy.h"

#include <gtest/gtest.h>

#include "controller/aws/url.h"

namespace endpointbinder::aws {
namespace {

TEST(ParseUrl, SplitsComponents) {
  auto url = parseUrl("HTTPS://User:Pa%40ss@Example.COM:8443/a/b%20c?x=1&y=2#frag");
  ASSERT_TRUE(url.has_value());
  EXPECT_EQ(url->scheme, "https");
  EXPECT_EQ(url->userinfo, "User:Pa%40ss");
  EXPECT_EQ(url->host, "example.com");
  EXPECT_EQ(url->port, 8443);
  EXPECT_EQ(url->path, "/a/b%20c");
  EXPECT_EQ(url->query, "x=1&y=2");
  EXPECT_TRUE(url->hasQuery);
  EXPECT_EQ(url->origin(), "https://example.com:8443");
}

TEST(ParseUrl, DefaultsAndIpv6) {
  auto url = parseUrl("http://[fd00:ec2::23]/creds");
  ASSERT_TRUE(url.has_value());
  EXPECT_EQ(url->host, "fd00:ec2::23");
  EXPECT_EQ(url->effectivePort(), 80);
  EXPECT_EQ(url->hostForHeader(), "[fd00:ec2::23]");
  EXPECT_EQ(url->origin(), "http://[fd00:ec2::23]");

  auto bare = parseUrl("https://sts.us-east-1.amazonaws.com");
  ASSERT_TRUE(bare.has_value());
  EXPECT_EQ(bare->path, "/");
  EXPECT_FALSE(bare->hasQuery);
  EXPECT_EQ(bare->effectivePort(), 443);
  EXPECT_FALSE(bare->hasNonDefaultPort());
  EXPECT_FALSE(parseUrl("https://h:443/")->hasNonDefaultPort());
}

TEST(ParseUrl, RejectsMalformed) {
  for (const char* text : {"", "example.com", "ftp://x/", "https://", "https://:80/",
                           "https://host:0/", "https://host:65536/", "https://host:12a/",
                           "https://ho st/", "https://host\r\n/", "https://exa$mple.com/",
                           "https://host%2f/", "http://[::1/", "http://[zz]/", "http://host:/"}) {
    auto url = parseUrl(text);
    EXPECT_FALSE(url.has_value()) << text;
    if (!url) {
      EXPECT_EQ(url.error().code, "InvalidUrl");
    }
  }
}

TEST(ParseUrl, ErrorNeverRepeatsUserinfo) {
  auto url = parseUrl("https://user:hunter2@host:99999/");
  ASSERT_FALSE(url.has_value());
  EXPECT_EQ(url.error().message.find("hunter2"), std::string::npos);
}

TEST(IsIpLiteral, Recognises) {
  EXPECT_TRUE(isIpLiteral("169.254.170.2"));
  EXPECT_TRUE(isIpLiteral("::1"));
  EXPECT_TRUE(isIpLiteral("fd00:ec2::23"));
  EXPECT_FALSE(isIpLiteral("localhost"));
  EXPECT_FALSE(isIpLiteral("1.2.3"));
  EXPECT_FALSE(isIpLiteral("[::1]"));
}

struct NoProxyCase {
  const char* noProxy;
  const char* host;
  int port;
  bool bypass;
};

class NoProxyTest : public ::testing::TestWithParam<NoProxyCase> {};

TEST_P(NoProxyTest, Matches) {
  const auto& c = GetParam();
  EXPECT_EQ(noProxyMatches(c.noProxy, c.host, c.port), c.bypass)
      << "NO_PROXY=" << c.noProxy << " host=" << c.host << ":" << c.port;
}

INSTANTIATE_TEST_SUITE_P(
    Table, NoProxyTest,
    ::testing::Values(NoProxyCase{"", "example.com", 443, false},
                      NoProxyCase{"*", "anything", 443, true},
                      NoProxyCase{"example.com", "example.com", 443, true},
                      NoProxyCase{"example.com", "api.example.com", 443, true},
                      NoProxyCase{"example.com", "badexample.com", 443, false},
                      NoProxyCase{".example.com", "api.example.com", 443, true},
                      NoProxyCase{".example.com", "example.com", 443, true},
                      NoProxyCase{"*.example.com", "a.b.example.com", 443, true},
                      NoProxyCase{"EXAMPLE.com", "Api.Example.COM", 443, true},
                      NoProxyCase{" foo , example.com ", "example.com", 443, true},
                      NoProxyCase{"example.com.", "example.com", 443, true},
                      NoProxyCase{"example.com", "example.com.", 443, true},
                      NoProxyCase{"example.com:8443", "example.com", 8443, true},
                      NoProxyCase{"example.com:8443", "example.com", 443, false},
                      NoProxyCase{"example.com:bad", "example.com", 443, false},
                      NoProxyCase{"169.254.169.254", "169.254.169.254", 80, true},
                      NoProxyCase{"169.254.169.254", "169.254.169.25", 80, false},
                      NoProxyCase{"169.254.169.254:80", "169.254.169.254", 80, true},
                      NoProxyCase{"169.254.169.254:80", "169.254.169.254", 8080, false},
                      NoProxyCase{"169.254.0.0/16", "169.254.170.2", 80, true},
                      NoProxyCase{"10.0.0.0/8", "11.0.0.1", 80, false},
                      NoProxyCase{"10.0.0.0/8", "internal.example", 80, false},
                      NoProxyCase{"0.0.0.0/0", "203.0.113.9", 80, true},
                      NoProxyCase{"10.1.2.3/32", "10.1.2.3", 80, true},
                      NoProxyCase{"10.1.2.3/33", "10.1.2.3", 80, false},
                      NoProxyCase{"::1", "::1", 80, true}, NoProxyCase{"[::1]", "::1", 80, true},
                      NoProxyCase{"[::1]:8080", "::1", 8080, true},
                      NoProxyCase{"[::1]:8080", "::1", 80, false},
                      NoProxyCase{"fd00:ec2::/32", "fd00:ec2::254", 80, true},
                      NoProxyCase{"fd00:ec2::/32", "fd00:ec3::254", 80, false},
                      NoProxyCase{"10.0.0.0/8", "fd00::1", 80, false},
                      NoProxyCase{"amazonaws.com", "sts.us-east-1.amazonaws.com", 443, true},
                      NoProxyCase{"com", "amazonaws.com", 443, true},
                      NoProxyCase{",,,", "example.com", 443, false},
                      NoProxyCase{".", "example.com", 443, false}));

TEST(ProxySettings, LowercaseWinsAndSchemeDefaultsToHttp) {
  const Environment env(
      std::map<std::string, std::string>{{"HTTPS_PROXY", "http://upper:1"},
                                         {"https_proxy", "proxy.internal:3128"},
                                         {"HTTP_PROXY", "http://plain:8080"},
                                         {"NO_PROXY", "169.254.169.254,.internal"}});
  const auto settings = proxySettingsFromEnvironment(env);
  EXPECT_EQ(settings.httpsProxy, "proxy.internal:3128");
  EXPECT_EQ(settings.httpProxy, "http://plain:8080");

  EXPECT_EQ(proxyFor(settings, *parseUrl("https://elasticloadbalancing.eu-west-1.amazonaws.com/")),
            "http://proxy.internal:3128");
  EXPECT_EQ(proxyFor(settings, *parseUrl("http://example.com/")), "http://plain:8080");
  EXPECT_EQ(proxyFor(settings, *parseUrl("http://169.254.169.254/latest/api/token")), "");
  EXPECT_EQ(proxyFor(settings, *parseUrl("https://vpce.internal/")), "");
}

TEST(ProxySettings, EmptyVariablesMeanDirect) {
  const Environment env(std::map<std::string, std::string>{{"HTTPS_PROXY", ""}});
  const auto settings = proxySettingsFromEnvironment(env);
  EXPECT_EQ(proxyFor(settings, *parseUrl("https://example.com/")), "");
}

}  // namespace
}  // namespace endpointbinder::aws
