// Region, endpoint and retry configuration, and the shared config file parser. Expected default
// endpoints were checked against botocore 1.43's endpoint rules for the same inputs.
#include "controller/aws/config.h"

#include <gtest/gtest.h>

#include "controller/aws/shared_config.h"
#include "tests/support/aws_local_server.h"

namespace endpointbinder::aws {
namespace {

using testing::TempDir;
using Vars = std::map<std::string, std::string>;

// An environment whose shared files live in `dir` (absent unless written), so the developer's
// own ~/.aws never leaks into a test.
Environment envIn(const TempDir& dir, Vars vars = {}) {
  vars.try_emplace("AWS_CONFIG_FILE", (dir.path() / "config").string());
  vars.try_emplace("AWS_SHARED_CREDENTIALS_FILE", (dir.path() / "credentials").string());
  vars.try_emplace("HOME", dir.path().string());
  return Environment(vars);
}

std::string urlOf(const AwsConfig& config, AwsService service) {
  auto endpoint = config.endpoint(service);
  return endpoint ? endpoint->url : "error:" + endpoint.error().code;
}

TEST(ConfigRegion, Precedence) {
  TempDir dir;
  dir.write("config", "[default]\nregion = eu-central-1\n");
  {
    auto config = loadAwsConfig(envIn(dir));
    ASSERT_TRUE(config.has_value());
    EXPECT_EQ(config->region, "eu-central-1");
    EXPECT_EQ(config->regionSource, "profile default");
  }
  {
    auto config = loadAwsConfig(envIn(dir, {{"AWS_DEFAULT_REGION", "eu-west-2"}}));
    EXPECT_EQ(config->region, "eu-west-2");
    EXPECT_EQ(config->regionSource, "AWS_DEFAULT_REGION");
  }
  {
    auto config = loadAwsConfig(
        envIn(dir, {{"AWS_DEFAULT_REGION", "eu-west-2"}, {"AWS_REGION", "ap-northeast-1"}}));
    EXPECT_EQ(config->region, "ap-northeast-1");
    EXPECT_EQ(config->regionSource, "AWS_REGION");
  }
  {
    ConfigOverrides overrides;
    overrides.region = "sa-east-1";
    auto config = loadAwsConfig(envIn(dir, {{"AWS_REGION", "ap-northeast-1"}}), overrides);
    EXPECT_EQ(config->region, "sa-east-1");
    EXPECT_EQ(config->regionSource, "--aws-region");
  }
  {
    // An empty variable counts as unset, as in the SDKs.
    auto config = loadAwsConfig(envIn(dir, {{"AWS_REGION", ""}}));
    EXPECT_EQ(config->region, "eu-central-1");
  }
}

TEST(ConfigRegion, NamedProfileRegion) {
  TempDir dir;
  dir.write("config", "[default]\nregion = eu-central-1\n\n[profile prod]\nregion = us-west-2\n");
  auto config = loadAwsConfig(envIn(dir, {{"AWS_PROFILE", "prod"}}));
  ASSERT_TRUE(config.has_value());
  EXPECT_EQ(config->profile, "prod");
  EXPECT_EQ(config->region, "us-west-2");
  EXPECT_EQ(config->regionSource, "profile prod");
}

TEST(ConfigRegion, MissingExplicitProfileIsAnError) {
  TempDir dir;
  dir.write("config", "[default]\nregion = eu-central-1\n");
  auto config = loadAwsConfig(envIn(dir, {{"AWS_PROFILE", "nope"}}));
  ASSERT_FALSE(config.has_value());
  EXPECT_EQ(config.error().code, "ProfileNotFound");
}

TEST(ConfigRegion, RejectsRegionThatCouldInjectIntoAHost) {
  TempDir dir;
  for (const char* bad : {"eu-west-1.evil.com", "eu west", "eu-west-1/", "-eu"}) {
    auto config = loadAwsConfig(envIn(dir, {{"AWS_REGION", bad}}));
    ASSERT_FALSE(config.has_value()) << bad;
    EXPECT_EQ(config.error().code, "InvalidRegion");
  }
}

TEST(ConfigRegion, NoRegionFailsRegionalServicesOnly) {
  TempDir dir;
  auto config = loadAwsConfig(envIn(dir));
  ASSERT_TRUE(config.has_value());
  EXPECT_EQ(config->region, "");
  EXPECT_EQ(urlOf(*config, AwsService::kElasticLoadBalancingV2), "error:NoRegion");
  EXPECT_EQ(urlOf(*config, AwsService::kRoute53), "https://route53.amazonaws.com");
  EXPECT_EQ(urlOf(*config, AwsService::kSts), "https://sts.amazonaws.com");
}

struct DefaultEndpointCase {
  AwsService service;
  const char* region;
  bool fips;
  const char* url;
  const char* signingRegion;
};

class DefaultEndpointTest : public ::testing::TestWithParam<DefaultEndpointCase> {};

TEST_P(DefaultEndpointTest, MatchesBotocoreRules) {
  const auto& c = GetParam();
  auto endpoint = defaultEndpoint(c.service, c.region, c.fips);
  ASSERT_TRUE(endpoint.has_value());
  EXPECT_EQ(endpoint->url, c.url);
  EXPECT_EQ(endpoint->signingRegion, c.signingRegion);
  EXPECT_EQ(endpoint->signingName, describeService(c.service).signingName);
}

using S = AwsService;
INSTANTIATE_TEST_SUITE_P(
    Botocore, DefaultEndpointTest,
    ::testing::Values(
        DefaultEndpointCase{S::kElasticLoadBalancingV2, "ap-northeast-1", false,
                            "https://elasticloadbalancing.ap-northeast-1.amazonaws.com",
                            "ap-northeast-1"},
        DefaultEndpointCase{S::kElasticLoadBalancingV2, "us-east-1", true,
                            "https://elasticloadbalancing-fips.us-east-1.amazonaws.com",
                            "us-east-1"},
        DefaultEndpointCase{S::kElasticLoadBalancingV2, "cn-north-1", false,
                            "https://elasticloadbalancing.cn-north-1.amazonaws.com.cn",
                            "cn-north-1"},
        DefaultEndpointCase{S::kElasticLoadBalancingV2, "cn-northwest-1", true,
                            "https://elasticloadbalancing-fips.cn-northwest-1.amazonaws.com.cn",
                            "cn-northwest-1"},
        DefaultEndpointCase{S::kElasticLoadBalancingV2, "us-gov-west-1", true,
                            "https://elasticloadbalancing.us-gov-west-1.amazonaws.com",
                            "us-gov-west-1"},
        DefaultEndpointCase{S::kElasticLoadBalancingV2, "us-iso-east-1", false,
                            "https://elasticloadbalancing.us-iso-east-1.c2s.ic.gov",
                            "us-iso-east-1"},
        DefaultEndpointCase{S::kElasticLoadBalancingV2, "us-isob-east-1", true,
                            "https://elasticloadbalancing-fips.us-isob-east-1.sc2s.sgov.gov",
                            "us-isob-east-1"},
        DefaultEndpointCase{S::kSts, "eu-west-3", false, "https://sts.eu-west-3.amazonaws.com",
                            "eu-west-3"},
        DefaultEndpointCase{S::kSts, "ca-central-1", true,
                            "https://sts-fips.ca-central-1.amazonaws.com", "ca-central-1"},
        DefaultEndpointCase{S::kSts, "cn-north-1", false, "https://sts.cn-north-1.amazonaws.com.cn",
                            "cn-north-1"},
        DefaultEndpointCase{S::kSts, "us-gov-west-1", true,
                            "https://sts.us-gov-west-1.amazonaws.com", "us-gov-west-1"},
        DefaultEndpointCase{S::kRoute53, "ap-northeast-1", false, "https://route53.amazonaws.com",
                            "us-east-1"},
        DefaultEndpointCase{S::kRoute53, "us-west-2", true, "https://route53-fips.amazonaws.com",
                            "us-east-1"},
        DefaultEndpointCase{S::kRoute53, "cn-north-1", false, "https://route53.amazonaws.com.cn",
                            "cn-northwest-1"},
        DefaultEndpointCase{S::kRoute53, "us-gov-west-1", true,
                            "https://route53.us-gov.amazonaws.com", "us-gov-west-1"},
        DefaultEndpointCase{S::kRoute53, "us-iso-east-1", false, "https://route53.c2s.ic.gov",
                            "us-iso-east-1"},
        DefaultEndpointCase{S::kEc2, "eu-west-3", false, "https://ec2.eu-west-3.amazonaws.com",
                            "eu-west-3"},
        DefaultEndpointCase{S::kEc2, "us-west-2", true, "https://ec2-fips.us-west-2.amazonaws.com",
                            "us-west-2"},
        DefaultEndpointCase{S::kAutoScaling, "cn-northwest-1", false,
                            "https://autoscaling.cn-northwest-1.amazonaws.com.cn",
                            "cn-northwest-1"},
        DefaultEndpointCase{S::kAutoScaling, "us-east-1", true,
                            "https://autoscaling-fips.us-east-1.amazonaws.com", "us-east-1"}));

TEST(ConfigEndpoints, FipsFromEnvironmentOrProfile) {
  TempDir dir;
  {
    auto config =
        loadAwsConfig(envIn(dir, {{"AWS_REGION", "eu-west-1"}, {"AWS_USE_FIPS_ENDPOINT", "TRUE"}}));
    EXPECT_TRUE(config->useFipsEndpoint);
    EXPECT_EQ(urlOf(*config, S::kElasticLoadBalancingV2),
              "https://elasticloadbalancing-fips.eu-west-1.amazonaws.com");
  }
  {
    auto config =
        loadAwsConfig(envIn(dir, {{"AWS_REGION", "eu-west-1"}, {"AWS_USE_FIPS_ENDPOINT", "yes"}}));
    EXPECT_FALSE(config->useFipsEndpoint) << "only \"true\" enables it, as in botocore";
  }
  dir.write("config", "[default]\nuse_fips_endpoint = true\n");
  {
    auto config = loadAwsConfig(envIn(dir, {{"AWS_REGION", "eu-west-1"}}));
    EXPECT_TRUE(config->useFipsEndpoint);
    auto off = loadAwsConfig(
        envIn(dir, {{"AWS_REGION", "eu-west-1"}, {"AWS_USE_FIPS_ENDPOINT", "false"}}));
    EXPECT_FALSE(off->useFipsEndpoint) << "the environment beats the profile";
  }
}

TEST(ConfigEndpoints, PerServiceVariableBeatsGlobalVariable) {
  TempDir dir;
  auto config = loadAwsConfig(
      envIn(dir, {{"AWS_REGION", "eu-west-1"},
                  {"AWS_ENDPOINT_URL", "http://localhost:4566/"},
                  {"AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2", "http://127.0.0.1:5000"},
                  {"AWS_ENDPOINT_URL_STS", "https://sts.internal.example"},
                  {"AWS_ENDPOINT_URL_ROUTE_53", "http://r53.local:8080/base/"},
                  {"AWS_ENDPOINT_URL_EC2", "http://ec2.local"},
                  {"AWS_ENDPOINT_URL_AUTO_SCALING", "http://asg.local"}}));
  ASSERT_TRUE(config.has_value()) << config.error().toString();
  auto elb = config->endpoint(S::kElasticLoadBalancingV2);
  EXPECT_EQ(elb->url, "http://127.0.0.1:5000");
  EXPECT_EQ(elb->source, "AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2");
  EXPECT_EQ(elb->signingRegion, "eu-west-1");
  EXPECT_EQ(elb->signingName, "elasticloadbalancing");
  EXPECT_EQ(urlOf(*config, S::kSts), "https://sts.internal.example");
  EXPECT_EQ(urlOf(*config, S::kRoute53), "http://r53.local:8080/base");
  EXPECT_EQ(urlOf(*config, S::kEc2), "http://ec2.local");
  EXPECT_EQ(urlOf(*config, S::kAutoScaling), "http://asg.local");

  auto onlyGlobal = loadAwsConfig(
      envIn(dir, {{"AWS_REGION", "eu-west-1"}, {"AWS_ENDPOINT_URL", "http://localhost:4566/"}}));
  auto route53 = onlyGlobal->endpoint(S::kRoute53);
  EXPECT_EQ(route53->url, "http://localhost:4566");
  EXPECT_EQ(route53->source, "AWS_ENDPOINT_URL");
  EXPECT_EQ(route53->signingRegion, "eu-west-1") << "custom endpoints sign for the region";
  EXPECT_EQ(route53->signingName, "route53");
}

TEST(ConfigEndpoints, CommandLineBeatsEnvironment) {
  TempDir dir;
  ConfigOverrides overrides;
  overrides.endpointUrl = "http://emulator:9000";
  overrides.serviceEndpointUrls[S::kSts] = "http://sts-emulator:9001";
  auto config = loadAwsConfig(
      envIn(dir, {{"AWS_REGION", "eu-west-1"},
                  {"AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2", "http://from-env:1"}}),
      overrides);
  ASSERT_TRUE(config.has_value());
  EXPECT_EQ(urlOf(*config, S::kElasticLoadBalancingV2), "http://emulator:9000");
  EXPECT_EQ(config->endpoint(S::kElasticLoadBalancingV2)->source, "--aws-endpoint-url");
  EXPECT_EQ(urlOf(*config, S::kSts), "http://sts-emulator:9001");
}

TEST(ConfigEndpoints, ProfileEndpointAndIgnoreSwitch) {
  TempDir dir;
  dir.write("config", "[default]\nendpoint_url = http://profile-endpoint:7000\n");
  auto config = loadAwsConfig(envIn(dir, {{"AWS_REGION", "eu-west-1"}}));
  EXPECT_EQ(urlOf(*config, S::kEc2), "http://profile-endpoint:7000");

  auto ignored = loadAwsConfig(envIn(dir, {{"AWS_REGION", "eu-west-1"},
                                           {"AWS_ENDPOINT_URL_EC2", "http://x:1"},
                                           {"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true"}}));
  EXPECT_EQ(urlOf(*ignored, S::kEc2), "https://ec2.eu-west-1.amazonaws.com");
}

TEST(ConfigEndpoints, RejectsBadEndpointUrls) {
  TempDir dir;
  for (const char* bad :
       {"localhost:4566", "ftp://x", "http://user:pw@host", "http://h/?q=1", "http://h/#f"}) {
    auto config =
        loadAwsConfig(envIn(dir, {{"AWS_REGION", "eu-west-1"}, {"AWS_ENDPOINT_URL_STS", bad}}));
    ASSERT_FALSE(config.has_value()) << bad;
    EXPECT_EQ(config.error().code, "InvalidEndpointUrl") << bad;
    EXPECT_EQ(config.error().message.find("pw"), std::string::npos);
  }
}

TEST(ConfigRetries, DefaultsEnvironmentAndProfile) {
  TempDir dir;
  auto defaults = loadAwsConfig(envIn(dir));
  EXPECT_EQ(defaults->maxAttempts, 3);
  EXPECT_EQ(defaults->retryMode, RetryMode::kStandard);

  dir.write("config", "[default]\nmax_attempts = 7\nretry_mode = adaptive\n");
  auto profile = loadAwsConfig(envIn(dir));
  EXPECT_EQ(profile->maxAttempts, 7);
  EXPECT_EQ(profile->retryMode, RetryMode::kAdaptive);

  auto env = loadAwsConfig(envIn(dir, {{"AWS_MAX_ATTEMPTS", "5"}, {"AWS_RETRY_MODE", "standard"}}));
  EXPECT_EQ(env->maxAttempts, 5);
  EXPECT_EQ(env->retryMode, RetryMode::kStandard);

  for (const char* bad : {"0", "-1", "three", "2.5"}) {
    auto config = loadAwsConfig(envIn(dir, {{"AWS_MAX_ATTEMPTS", bad}}));
    EXPECT_FALSE(config.has_value()) << bad;
  }
  EXPECT_FALSE(loadAwsConfig(envIn(dir, {{"AWS_RETRY_MODE", "fast"}})).has_value());
}

TEST(SharedConfigParser, BotocoreDialect) {
  auto ini = parseIni(
      "# comment\n"
      "; another\n"
      "[default]\n"
      "AWS_Access_Key_ID = AKID\n"
      "aws_secret_access_key=se#cret ; not a comment\n"
      "region: eu-west-1\r\n"
      "s3 =\n"
      "    max_concurrent_requests = 10\n"
      "    addressing_style = path\n"
      "\n"
      "[profile with space]\n"
      "key = a = b\n",
      "test");
  ASSERT_TRUE(ini.has_value()) << ini.error().toString();
  const auto& section = ini->sections.at("default");
  EXPECT_EQ(section.at("aws_access_key_id"), "AKID");
  EXPECT_EQ(section.at("aws_secret_access_key"), "se#cret ; not a comment");
  EXPECT_EQ(section.at("region"), "eu-west-1");
  EXPECT_EQ(section.at("s3"), "\nmax_concurrent_requests = 10\naddressing_style = path");
  EXPECT_EQ(ini->sections.at("profile with space").at("key"), "a = b");
}

TEST(SharedConfigParser, ErrorsNameTheLineNotTheContent) {
  struct Case {
    const char* text;
    int line;
  };
  for (const Case& c : {Case{"key = secretvalue\n", 1}, Case{"[a]\nsecretvalue\n", 2},
                        Case{"[a]\n= secretvalue\n", 2}, Case{"[a]\nk = 1\nk = secretvalue\n", 3},
                        Case{"[a]\n[a]\n", 2}, Case{"[unterminated\n", 1}}) {
    auto ini = parseIni(c.text, "/path/config");
    ASSERT_FALSE(ini.has_value()) << c.text;
    EXPECT_EQ(ini.error().code, "InvalidConfigFile");
    EXPECT_NE(ini.error().message.find("/path/config line " + std::to_string(c.line)),
              std::string::npos)
        << ini.error().message;
    EXPECT_EQ(ini.error().message.find("secretvalue"), std::string::npos);
  }
}

TEST(SharedConfigFiles, ProfilesFromBothFiles) {
  TempDir dir;
  dir.write("config",
            "[default]\nregion = a\n[profile dev]\nregion = b\n[profile \"quoted\"]\nregion = c\n"
            "[sso-session x]\nk = v\n[plain]\nregion = d\n");
  dir.write("credentials", "[default]\naws_access_key_id = A\n[profile dev]\nx = y\n");
  auto files = loadSharedConfigFiles(envIn(dir));
  ASSERT_TRUE(files.has_value()) << files.error().toString();
  EXPECT_TRUE(files->configFound);
  EXPECT_TRUE(files->credentialsFound);
  EXPECT_EQ(configProfileValue(*files, "default", "region"), "a");
  EXPECT_EQ(configProfileValue(*files, "dev", "region"), "b");
  EXPECT_EQ(configProfileValue(*files, "quoted", "region"), "c");
  EXPECT_FALSE(files->configProfiles.contains("plain"));
  EXPECT_FALSE(files->configProfiles.contains("x"));
  // The credentials file takes section names literally.
  EXPECT_TRUE(files->credentialsProfiles.contains("profile dev"));
}

TEST(SharedConfigFiles, DefaultPathsUnderHome) {
  TempDir dir;
  dir.write(".aws/config", "[default]\nregion = home-region-1\n");
  auto config = loadAwsConfig(Environment(Vars{{"HOME", dir.path().string()}}));
  ASSERT_TRUE(config.has_value()) << config.error().toString();
  EXPECT_EQ(config->region, "home-region-1");
}

TEST(SharedConfigFiles, MissingFilesAreEmptyButUnreadableOnesFail) {
  TempDir dir;
  auto files = loadSharedConfigFiles(envIn(dir));
  ASSERT_TRUE(files.has_value());
  EXPECT_FALSE(files->configFound);
  EXPECT_FALSE(files->credentialsFound);

  std::filesystem::create_directories(dir.path() / "config");  // a directory, not a file
  auto broken = loadSharedConfigFiles(envIn(dir));
  ASSERT_FALSE(broken.has_value());
  EXPECT_EQ(broken.error().code, "InvalidConfigFile");
}

}  // namespace
}  // namespace endpointbinder::aws
