// Each credential provider against what it reads: environment variables, files in a temp dir,
// and local servers on 127.0.0.1 impersonating STS, the ECS container credentials endpoint and
// IMDSv2.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <functional>

#include "controller/aws/cpprest_transport.h"
#include "controller/aws/credentials_container.h"
#include "controller/aws/credentials_environment.h"
#include "controller/aws/credentials_imds.h"
#include "controller/aws/credentials_json.h"
#include "controller/aws/credentials_shared_files.h"
#include "controller/aws/credentials_web_identity.h"
#include "tests/support/aws_local_server.h"
#include "tests/support/fake_http_transport.h"

namespace endpointbinder::aws {
namespace {

using namespace std::chrono_literals;
using testing::LocalHttpServer;
using testing::RecordedRequest;
using testing::TempDir;
using Vars = std::map<std::string, std::string>;

const CredentialsSleepFn kNoSleep = [](std::chrono::milliseconds) {};

std::unique_ptr<CpprestTransport> realTransport() {
  auto transport = CpprestTransport::create({});
  return transport ? std::move(*transport) : nullptr;
}

// An environment with the shared files pointed into `dir`, so ~/.aws never leaks in.
Environment envIn(const TempDir& dir, Vars vars = {}) {
  vars.try_emplace("AWS_CONFIG_FILE", (dir.path() / "config").string());
  vars.try_emplace("AWS_SHARED_CREDENTIALS_FILE", (dir.path() / "credentials").string());
  vars.try_emplace("HOME", dir.path().string());
  return Environment(vars);
}

HttpResponse respond(int status, std::string body, std::string contentType = "text/plain") {
  HttpResponse response;
  response.status = status;
  response.headers = {{"Content-Type", std::move(contentType)}};
  response.body = std::move(body);
  return response;
}

std::string credentialsJson(const std::string& keyId, const std::string& expiration) {
  return R"({"AccessKeyId":")" + keyId + R"(","SecretAccessKey":"secret-)" + keyId +
         R"(","Token":"token-)" + keyId + R"(","Expiration":")" + expiration + R"("})";
}

void expectNoSecrets(const core::Error& error, std::initializer_list<std::string> secrets) {
  for (const auto& secret : secrets) {
    EXPECT_EQ(error.message.find(secret), std::string::npos) << error.message;
    EXPECT_EQ(error.code.find(secret), std::string::npos) << error.code;
  }
}

// ---------------------------------------------------------------- environment

TEST(EnvironmentProvider, ReadsKeysTokenAndExpiration) {
  EnvironmentCredentialsProvider provider(
      Environment(Vars{{"AWS_ACCESS_KEY_ID", "AKIDENV"},
                       {"AWS_SECRET_ACCESS_KEY", "env-secret"},
                       {"AWS_SESSION_TOKEN", "env-token"},
                       {"AWS_CREDENTIAL_EXPIRATION", "2030-01-01T00:00:00Z"}}));
  auto credentials = provider.credentials();
  ASSERT_TRUE(credentials.has_value());
  EXPECT_EQ(credentials->accessKeyId, "AKIDENV");
  EXPECT_EQ(credentials->secretAccessKey, "env-secret");
  EXPECT_EQ(credentials->sessionToken, "env-token");
  EXPECT_EQ(credentials->expiration, parseIso8601("2030-01-01T00:00:00Z"));
  EXPECT_EQ(credentials->providerName, "environment");
}

TEST(EnvironmentProvider, SecurityTokenVariableWinsAsInBotocore) {
  EnvironmentCredentialsProvider provider(Environment(Vars{{"AWS_ACCESS_KEY_ID", "A"},
                                                           {"AWS_SECRET_ACCESS_KEY", "S"},
                                                           {"AWS_SECURITY_TOKEN", "legacy"},
                                                           {"AWS_SESSION_TOKEN", "modern"}}));
  EXPECT_EQ(provider.credentials()->sessionToken, "legacy");
}

TEST(EnvironmentProvider, NotConfiguredPartialAndBadExpiration) {
  auto missing =
      EnvironmentCredentialsProvider(Environment(Vars{{"AWS_ACCESS_KEY_ID", ""}})).credentials();
  ASSERT_FALSE(missing.has_value());
  EXPECT_TRUE(isCredentialsNotConfigured(missing.error()));

  auto partial =
      EnvironmentCredentialsProvider(Environment(Vars{{"AWS_ACCESS_KEY_ID", "A"}})).credentials();
  ASSERT_FALSE(partial.has_value());
  EXPECT_EQ(partial.error().kind, core::ErrorKind::kAuth);
  EXPECT_EQ(partial.error().code, "PartialCredentials");

  auto badExpiry =
      EnvironmentCredentialsProvider(Environment(Vars{{"AWS_ACCESS_KEY_ID", "A"},
                                                      {"AWS_SECRET_ACCESS_KEY", "S"},
                                                      {"AWS_CREDENTIAL_EXPIRATION", "soon"}}))
          .credentials();
  ASSERT_FALSE(badExpiry.has_value());
  EXPECT_EQ(badExpiry.error().code, "InvalidCredentials");
}

// ---------------------------------------------------------------- shared files

TEST(SharedFilesProvider, CredentialsFileBeatsConfigFile) {
  TempDir dir;
  dir.write("credentials",
            "[default]\naws_access_key_id = AKIDCREDS\naws_secret_access_key = creds-secret\n"
            "aws_session_token = creds-token\n");
  dir.write("config", "[default]\naws_access_key_id = AKIDCONFIG\naws_secret_access_key = x\n");
  auto credentials = SharedFilesCredentialsProvider(envIn(dir)).credentials();
  ASSERT_TRUE(credentials.has_value()) << credentials.error().toString();
  EXPECT_EQ(credentials->accessKeyId, "AKIDCREDS");
  EXPECT_EQ(credentials->secretAccessKey, "creds-secret");
  EXPECT_EQ(credentials->sessionToken, "creds-token");
  EXPECT_FALSE(credentials->expiration.has_value());
  EXPECT_EQ(credentials->providerName, "shared-files");
}

TEST(SharedFilesProvider, NamedProfileFromConfigFileWithComments) {
  TempDir dir;
  dir.write("credentials",
            "[default]\naws_access_key_id = AKIDDEFAULT\naws_secret_access_key = d\n");
  dir.write("config",
            "# team profiles\n[profile ops]\n; keys for ops\naws_access_key_id = AKIDOPS\n"
            "aws_secret_access_key = ops-secret\n");
  auto credentials =
      SharedFilesCredentialsProvider(envIn(dir, {{"AWS_PROFILE", "ops"}})).credentials();
  ASSERT_TRUE(credentials.has_value()) << credentials.error().toString();
  EXPECT_EQ(credentials->accessKeyId, "AKIDOPS");
  EXPECT_EQ(credentials->secretAccessKey, "ops-secret");
}

TEST(SharedFilesProvider, ReportsWhatItCannotUse) {
  TempDir dir;
  {
    auto none = SharedFilesCredentialsProvider(envIn(dir)).credentials();
    ASSERT_FALSE(none.has_value());
    EXPECT_TRUE(isCredentialsNotConfigured(none.error())) << none.error().toString();
    EXPECT_NE(none.error().message.find("(absent)"), std::string::npos);
  }
  {
    auto missing =
        SharedFilesCredentialsProvider(envIn(dir, {{"AWS_PROFILE", "ghost"}})).credentials();
    ASSERT_FALSE(missing.has_value());
    EXPECT_EQ(missing.error().code, "ProfileNotFound");
  }
  dir.write("credentials", "[default]\naws_access_key_id = AKID\n");
  {
    auto partial = SharedFilesCredentialsProvider(envIn(dir)).credentials();
    ASSERT_FALSE(partial.has_value());
    EXPECT_EQ(partial.error().code, "PartialCredentials");
  }
  dir.write("credentials", "");
  for (const char* profile :
       {"[default]\nrole_arn = arn:aws:iam::1:role/r\nsource_profile = base\n",
        "[default]\ncredential_process = /bin/echo secret\n",
        "[default]\nsso_start_url = https://x.awsapps.com/start\n"}) {
    dir.write("config", profile);
    auto unsupported = SharedFilesCredentialsProvider(envIn(dir)).credentials();
    ASSERT_FALSE(unsupported.has_value()) << profile;
    EXPECT_EQ(unsupported.error().code, "UnsupportedProfile") << profile;
    EXPECT_EQ(unsupported.error().kind, core::ErrorKind::kAuth);
  }
  dir.write("config",
            "[default]\nrole_arn = arn:aws:iam::1:role/r\nweb_identity_token_file = /t\n");
  auto webIdentity = SharedFilesCredentialsProvider(envIn(dir)).credentials();
  ASSERT_FALSE(webIdentity.has_value());
  EXPECT_TRUE(isCredentialsNotConfigured(webIdentity.error()));

  dir.write("config", "[default]\naws_secret_access_key = very-secret-value\nbroken line\n");
  auto malformed = SharedFilesCredentialsProvider(envIn(dir)).credentials();
  ASSERT_FALSE(malformed.has_value());
  EXPECT_EQ(malformed.error().code, "InvalidConfigFile");
  expectNoSecrets(malformed.error(), {"very-secret-value"});
}

// ---------------------------------------------------------------- web identity (STS)

// Impersonates STS's AssumeRoleWithWebIdentity: checks the request shape and answers with
// credentials derived from the token it received.
class FakeSts {
 public:
  FakeSts() : server_([this](const RecordedRequest& r) { return handle(r); }) {}

  std::string url() const { return server_.baseUrl(); }
  LocalHttpServer& server() { return server_; }
  std::atomic<int> failuresBeforeSuccess{0};
  std::atomic<int> failureStatus{500};
  std::string expiration = "2030-01-01T00:00:00Z";

 private:
  HttpResponse handle(const RecordedRequest& r) {
    if (failuresBeforeSuccess > 0) {
      --failuresBeforeSuccess;
      return respond(failureStatus, testing::awsErrorXml("InternalFailure", "try again", "rid-500"),
                     "text/xml");
    }
    if (r.method != "POST" || r.target != "/" ||
        testing::formValue(r.body, "Action") != "AssumeRoleWithWebIdentity" ||
        testing::formValue(r.body, "Version") != "2011-06-15") {
      return respond(400, testing::awsErrorXml("InvalidAction", "bad request shape", "rid-400"),
                     "text/xml");
    }
    const auto token = testing::formValue(r.body, "WebIdentityToken").value_or("");
    if (token.empty() || token == "revoked-token") {
      return respond(400,
                     testing::awsErrorXml("InvalidIdentityToken", "Token is not valid", "rid-bad"),
                     "text/xml");
    }
    const auto session = testing::formValue(r.body, "RoleSessionName").value_or("");
    return respond(
        200,
        "<AssumeRoleWithWebIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n"
        "  <AssumeRoleWithWebIdentityResult>\n"
        "    "
        "<SubjectFromWebIdentityToken>system:serviceaccount:ns:sa</SubjectFromWebIdentityToken>\n"
        "    <AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/binder/" +
            session + "</Arn><AssumedRoleId>AROAEXAMPLE:" + session +
            "</AssumedRoleId></AssumedRoleUser>\n"
            "    <Credentials>\n"
            "      <SessionToken>session-for-" +
            token +
            "</SessionToken>\n"
            "      <SecretAccessKey>secret-for-" +
            token +
            "</SecretAccessKey>\n"
            "      <Expiration>" +
            expiration +
            "</Expiration>\n"
            "      <AccessKeyId>ASIAWEBIDENTITY</AccessKeyId>\n"
            "    </Credentials>\n"
            "    <Audience>sts.amazonaws.com</Audience>\n"
            "  </AssumeRoleWithWebIdentityResult>\n"
            "  <ResponseMetadata><RequestId>rid-ok</RequestId></ResponseMetadata>\n"
            "</AssumeRoleWithWebIdentityResponse>\n",
        "text/xml");
  }

  LocalHttpServer server_;
};

class WebIdentityTest : public ::testing::Test {
 protected:
  WebIdentityCredentialsProvider provider(Vars vars) {
    WebIdentityOptions options;
    options.stsEndpoint = sts_.url();
    options.sleep = kNoSleep;
    options.timeout = 5s;
    return WebIdentityCredentialsProvider(envIn(dir_, std::move(vars)), options, *transport_,
                                          clock_);
  }

  TempDir dir_;
  FakeSts sts_;
  std::unique_ptr<CpprestTransport> transport_ = realTransport();
  core::ManualClock clock_;
};

TEST_F(WebIdentityTest, ExchangesTokenFileForRoleCredentials) {
  const auto tokenFile = dir_.write("token", "jwt-token-1\n");
  auto p = provider({{"AWS_WEB_IDENTITY_TOKEN_FILE", tokenFile},
                     {"AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/binder"},
                     {"AWS_ROLE_SESSION_NAME", "my session"}});
  auto credentials = p.credentials();
  ASSERT_TRUE(credentials.has_value()) << credentials.error().toString();
  EXPECT_EQ(credentials->accessKeyId, "ASIAWEBIDENTITY");
  EXPECT_EQ(credentials->secretAccessKey, "secret-for-jwt-token-1");
  EXPECT_EQ(credentials->sessionToken, "session-for-jwt-token-1");
  EXPECT_EQ(credentials->expiration, parseIso8601("2030-01-01T00:00:00Z"));
  EXPECT_EQ(credentials->providerName, "web-identity");

  ASSERT_EQ(sts_.server().requestCount(), 1u);
  const auto request = sts_.server().requests().front();
  EXPECT_TRUE(findHeader(request.headers, "authorization").empty()) << "must be unsigned";
  EXPECT_TRUE(findHeader(request.headers, "x-amz-security-token").empty());
  EXPECT_EQ(findHeader(request.headers, "content-type"),
            "application/x-www-form-urlencoded; charset=utf-8");
  EXPECT_EQ(testing::formValue(request.body, "RoleArn"), "arn:aws:iam::123456789012:role/binder");
  EXPECT_EQ(testing::formValue(request.body, "RoleSessionName"), "my session");
  EXPECT_NE(request.body.find("RoleSessionName=my%20session"), std::string::npos);
}

TEST_F(WebIdentityTest, RereadsTheTokenFileEveryTime) {
  const auto tokenFile = dir_.write("token", "first");
  auto p = provider({{"AWS_WEB_IDENTITY_TOKEN_FILE", tokenFile}, {"AWS_ROLE_ARN", "arn:r"}});
  EXPECT_EQ(p.credentials()->secretAccessKey, "secret-for-first");
  dir_.write("token", "second");
  EXPECT_EQ(p.credentials()->secretAccessKey, "secret-for-second");
}

TEST_F(WebIdentityTest, SettingsFromProfileWithEnvironmentOverride) {
  const auto tokenFile = dir_.write("token", "profile-token");
  dir_.write("config", "[profile irsa]\nweb_identity_token_file = " + tokenFile +
                           "\nrole_arn = arn:aws:iam::1:role/from-profile\n");
  auto fromProfile = provider({{"AWS_PROFILE", "irsa"}});
  ASSERT_TRUE(fromProfile.credentials().has_value());
  EXPECT_EQ(testing::formValue(sts_.server().requests().back().body, "RoleArn"),
            "arn:aws:iam::1:role/from-profile");
  // Default session name: endpoint-binder-<unix seconds of the injected clock>.
  EXPECT_EQ(testing::formValue(sts_.server().requests().back().body, "RoleSessionName"),
            "endpoint-binder-1700000000");

  auto overridden =
      provider({{"AWS_PROFILE", "irsa"}, {"AWS_ROLE_ARN", "arn:aws:iam::1:role/env"}});
  ASSERT_TRUE(overridden.credentials().has_value());
  EXPECT_EQ(testing::formValue(sts_.server().requests().back().body, "RoleArn"),
            "arn:aws:iam::1:role/env");
}

TEST_F(WebIdentityTest, StsRejectionIsAuthErrorWithoutTheToken) {
  const auto tokenFile = dir_.write("token", "revoked-token");
  auto p = provider({{"AWS_WEB_IDENTITY_TOKEN_FILE", tokenFile}, {"AWS_ROLE_ARN", "arn:r"}});
  auto credentials = p.credentials();
  ASSERT_FALSE(credentials.has_value());
  EXPECT_EQ(credentials.error().kind, core::ErrorKind::kAuth);
  EXPECT_EQ(credentials.error().code, "InvalidIdentityToken");
  EXPECT_EQ(credentials.error().requestId, "rid-bad");
  EXPECT_EQ(credentials.error().httpStatus, 400);
  expectNoSecrets(credentials.error(), {"revoked-token"});
  EXPECT_EQ(sts_.server().requestCount(), 1u) << "auth errors are not retried";
}

TEST_F(WebIdentityTest, ServerErrorsAreRetriedThenReported) {
  const auto tokenFile = dir_.write("token", "tok");
  auto p = provider({{"AWS_WEB_IDENTITY_TOKEN_FILE", tokenFile}, {"AWS_ROLE_ARN", "arn:r"}});
  sts_.failuresBeforeSuccess = 2;
  ASSERT_TRUE(p.credentials().has_value());
  EXPECT_EQ(sts_.server().requestCount(), 3u);

  sts_.failuresBeforeSuccess = 10;
  auto failed = p.credentials();
  ASSERT_FALSE(failed.has_value());
  EXPECT_EQ(failed.error().kind, core::ErrorKind::kRetryable);
  EXPECT_EQ(failed.error().code, "InternalFailure");
  EXPECT_EQ(failed.error().httpStatus, 500);
  EXPECT_EQ(sts_.server().requestCount(), 6u);
}

TEST_F(WebIdentityTest, ConfigurationErrors) {
  auto notConfigured = provider({}).credentials();
  ASSERT_FALSE(notConfigured.has_value());
  EXPECT_TRUE(isCredentialsNotConfigured(notConfigured.error()));

  auto noRole = provider({{"AWS_WEB_IDENTITY_TOKEN_FILE", "/x"}}).credentials();
  ASSERT_FALSE(noRole.has_value());
  EXPECT_EQ(noRole.error().code, "InvalidConfig");

  auto noFile = provider({{"AWS_WEB_IDENTITY_TOKEN_FILE", (dir_.path() / "absent").string()},
                          {"AWS_ROLE_ARN", "arn:r"}})
                    .credentials();
  ASSERT_FALSE(noFile.has_value());
  EXPECT_EQ(noFile.error().code, "WebIdentityTokenUnreadable");

  const auto empty = dir_.write("empty", "\n");
  auto emptyFile =
      provider({{"AWS_WEB_IDENTITY_TOKEN_FILE", empty}, {"AWS_ROLE_ARN", "arn:r"}}).credentials();
  ASSERT_FALSE(emptyFile.has_value());
  EXPECT_EQ(emptyFile.error().code, "WebIdentityTokenUnreadable");
  EXPECT_EQ(sts_.server().requestCount(), 0u);
}

TEST(StsResponseParser, MalformedAndIncompleteResponses) {
  auto notXml = parseStsCredentialsResponse(200, "<<<", "web-identity");
  ASSERT_FALSE(notXml.has_value());
  EXPECT_EQ(notXml.error().code, "InvalidCredentialsResponse");

  auto incomplete = parseStsCredentialsResponse(
      200,
      "<AssumeRoleWithWebIdentityResponse><AssumeRoleWithWebIdentityResult><Credentials>"
      "<AccessKeyId>A</AccessKeyId><SecretAccessKey>sekrit</SecretAccessKey>"
      "</Credentials></AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>",
      "web-identity");
  ASSERT_FALSE(incomplete.has_value());
  EXPECT_EQ(incomplete.error().code, "InvalidCredentialsResponse");
  expectNoSecrets(incomplete.error(), {"sekrit"});

  auto throttled = parseStsCredentialsResponse(
      400, testing::awsErrorXml("Throttling", "Rate exceeded", "rid"), "web-identity");
  ASSERT_FALSE(throttled.has_value());
  EXPECT_EQ(throttled.error().kind, core::ErrorKind::kRetryable);

  auto idp = parseStsCredentialsResponse(
      400, testing::awsErrorXml("IDPCommunicationError", "idp down", "rid"), "web-identity");
  EXPECT_EQ(idp.error().kind, core::ErrorKind::kRetryable);

  auto html = parseStsCredentialsResponse(502, "<html>bad gateway</html>", "web-identity");
  ASSERT_FALSE(html.has_value());
  EXPECT_EQ(html.error().kind, core::ErrorKind::kRetryable);
  EXPECT_EQ(html.error().code, "HttpStatus502");
}

// ---------------------------------------------------------------- container (ECS/Fargate)

// Impersonates the ECS agent / EKS Pod Identity endpoint: answers GET <path> with credentials
// when the Authorization header matches `requiredToken` (when set), 401 otherwise.
class FakeContainerEndpoint {
 public:
  FakeContainerEndpoint() : server_([this](const RecordedRequest& r) { return handle(r); }) {}

  std::string base() const { return server_.baseUrl(); }
  LocalHttpServer& server() { return server_; }
  void requireToken(std::string token) {
    std::lock_guard lock(mu_);
    requiredToken_ = std::move(token);
  }
  void setBody(int status, std::string body) {
    std::lock_guard lock(mu_);
    status_ = status;
    body_ = std::move(body);
  }

 private:
  HttpResponse handle(const RecordedRequest& r) {
    std::lock_guard lock(mu_);
    if (r.method != "GET") return respond(405, "");
    if (!requiredToken_.empty() && findHeader(r.headers, "authorization") != requiredToken_) {
      return respond(401, R"({"code":"AccessDenied","message":"bad token"})", "application/json");
    }
    return respond(status_, body_, "application/json");
  }

  std::mutex mu_;
  std::string requiredToken_;
  int status_ = 200;
  std::string body_ = credentialsJson("ASIACONTAINER", "2030-01-01T00:00:00Z");
  LocalHttpServer server_;
};

class ContainerTest : public ::testing::Test {
 protected:
  ContainerCredentialsProvider provider(Vars vars) {
    ContainerOptions options;
    options.relativeUriBase = endpoint_.base();
    options.sleep = kNoSleep;
    options.timeout = 5s;
    return ContainerCredentialsProvider(envIn(dir_, std::move(vars)), options, *transport_);
  }

  TempDir dir_;
  FakeContainerEndpoint endpoint_;
  std::unique_ptr<CpprestTransport> transport_ = realTransport();
};

TEST_F(ContainerTest, RelativeUriGoesToTheTaskMetadataHost) {
  auto credentials =
      provider({{"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/abc-123"}})
          .credentials();
  ASSERT_TRUE(credentials.has_value()) << credentials.error().toString();
  EXPECT_EQ(credentials->accessKeyId, "ASIACONTAINER");
  EXPECT_EQ(credentials->secretAccessKey, "secret-ASIACONTAINER");
  EXPECT_EQ(credentials->sessionToken, "token-ASIACONTAINER");
  EXPECT_EQ(credentials->providerName, "container");
  ASSERT_EQ(endpoint_.server().requestCount(), 1u);
  const auto request = endpoint_.server().requests().front();
  EXPECT_EQ(request.target, "/v2/credentials/abc-123");
  EXPECT_EQ(findHeader(request.headers, "accept"), "application/json");
  EXPECT_TRUE(findHeader(request.headers, "authorization").empty());
}

TEST_F(ContainerTest, FullUriWithAuthorizationToken) {
  endpoint_.requireToken("Bearer pod-identity-token");
  auto credentials = provider({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", endpoint_.base() + "/creds"},
                               {"AWS_CONTAINER_AUTHORIZATION_TOKEN", "Bearer pod-identity-token"}})
                         .credentials();
  ASSERT_TRUE(credentials.has_value()) << credentials.error().toString();
  EXPECT_EQ(endpoint_.server().requests().front().target, "/creds");
}

TEST_F(ContainerTest, TokenFileWinsAndIsRereadEachCall) {
  const auto tokenFile = dir_.write("eks-token", "file-token-1");
  endpoint_.requireToken("file-token-1");
  auto p = provider({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", endpoint_.base() + "/creds"},
                     {"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", tokenFile},
                     {"AWS_CONTAINER_AUTHORIZATION_TOKEN", "env-token"}});
  ASSERT_TRUE(p.credentials().has_value());
  dir_.write("eks-token", "file-token-2");
  endpoint_.requireToken("file-token-2");
  ASSERT_TRUE(p.credentials().has_value());
}

TEST_F(ContainerTest, WrongTokenIsDeniedWithoutRetrying) {
  endpoint_.requireToken("right");
  auto credentials = provider({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", endpoint_.base() + "/c"},
                               {"AWS_CONTAINER_AUTHORIZATION_TOKEN", "wrong-token-value"}})
                         .credentials();
  ASSERT_FALSE(credentials.has_value());
  EXPECT_EQ(credentials.error().kind, core::ErrorKind::kAuth);
  EXPECT_EQ(credentials.error().code, "ContainerCredentialsDenied");
  EXPECT_EQ(credentials.error().httpStatus, 401);
  expectNoSecrets(credentials.error(), {"wrong-token-value"});
  EXPECT_EQ(endpoint_.server().requestCount(), 1u);
}

TEST_F(ContainerTest, TokenWithLineBreakIsRefusedBeforeAnyRequest) {
  for (const char* token : {"abc\r\nX-Injected: 1", "abc\n", "\rabc"}) {
    auto credentials = provider({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", endpoint_.base() + "/c"},
                                 {"AWS_CONTAINER_AUTHORIZATION_TOKEN", token}})
                           .credentials();
    ASSERT_FALSE(credentials.has_value());
    EXPECT_EQ(credentials.error().code, "InvalidAuthorizationToken");
  }
  const auto tokenFile = dir_.write("token-with-newline", "good\nbad");
  auto fromFile = provider({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", endpoint_.base() + "/c"},
                            {"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", tokenFile}})
                      .credentials();
  ASSERT_FALSE(fromFile.has_value());
  EXPECT_EQ(fromFile.error().code, "InvalidAuthorizationToken");

  auto missingFile = provider({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", endpoint_.base() + "/c"},
                               {"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "/nonexistent/token"}})
                         .credentials();
  ASSERT_FALSE(missingFile.has_value());
  EXPECT_EQ(missingFile.error().code, "InvalidAuthorizationToken");
  EXPECT_EQ(endpoint_.server().requestCount(), 0u);
}

TEST_F(ContainerTest, HttpToOtherHostsIsRefusedBeforeAnyRequest) {
  for (const char* url : {"http://10.0.0.1/creds", "http://169.254.169.254/latest/",
                          "http://example.com/creds", "not a url"}) {
    auto credentials = provider({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", url}}).credentials();
    ASSERT_FALSE(credentials.has_value()) << url;
    EXPECT_EQ(credentials.error().code, "InvalidContainerCredentialsUri") << url;
  }
  auto relative =
      provider({{"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "@evil.example/x"}}).credentials();
  ASSERT_FALSE(relative.has_value());
  EXPECT_EQ(relative.error().code, "InvalidContainerCredentialsUri");
}

TEST(ContainerUrlPolicy, AllowedHosts) {
  for (const char* url : {"https://any.example.com/creds", "http://127.0.0.1:8080/x",
                          "http://127.1.2.3/x", "http://localhost/x", "http://[::1]/x",
                          "http://169.254.170.2/v2/credentials", "http://169.254.170.23/v1/creds",
                          "http://[fd00:ec2::23]/v1/creds", "http://[::ffff:127.0.0.1]/x"}) {
    EXPECT_TRUE(isAllowedContainerCredentialsUrl(url)) << url;
  }
  for (const char* url : {"http://169.254.170.3/x", "http://169.254.169.254/x", "http://10.0.0.1/",
                          "http://[fd00:ec2::254]/", "http://localhost.evil.com/",
                          "http://user:pw@127.0.0.1/", "ftp://127.0.0.1/", "127.0.0.1/x"}) {
    EXPECT_FALSE(isAllowedContainerCredentialsUrl(url)) << url;
  }
}

TEST_F(ContainerTest, ServerErrorsAndBadBodiesAreRetriedThenReported) {
  auto p = provider({{"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/creds"}});
  endpoint_.setBody(500, "{}");
  auto serverError = p.credentials();
  ASSERT_FALSE(serverError.has_value());
  EXPECT_EQ(serverError.error().kind, core::ErrorKind::kRetryable);
  EXPECT_EQ(serverError.error().code, "ContainerCredentialsUnavailable");
  EXPECT_EQ(endpoint_.server().requestCount(), 3u);

  endpoint_.setBody(200, "{\"AccessKeyId\": \"A\", \"SecretAccessKey\": \"leaky\"");
  auto badJson = p.credentials();
  ASSERT_FALSE(badJson.has_value());
  EXPECT_EQ(badJson.error().code, "InvalidCredentialsResponse");
  expectNoSecrets(badJson.error(), {"leaky"});

  endpoint_.setBody(
      200, R"({"AccessKeyId":"A","SecretAccessKey":"leaky","Expiration":"2030-01-01T00:00:00Z"})");
  auto missingField = p.credentials();
  ASSERT_FALSE(missingField.has_value());
  EXPECT_NE(missingField.error().message.find("Token"), std::string::npos);
  expectNoSecrets(missingField.error(), {"leaky"});

  auto notConfigured = provider({}).credentials();
  EXPECT_TRUE(isCredentialsNotConfigured(notConfigured.error()));
}

// ---------------------------------------------------------------- IMDSv2

// Impersonates IMDSv2: PUT /latest/api/token (TTL header required) issues a token; every GET
// without that token gets 401, as on an instance with IMDSv2 required.
class FakeImds {
 public:
  FakeImds() : server_([this](const RecordedRequest& r) { return handle(r); }) {}
  ~FakeImds() { releaseHungTokenRequests(); }

  std::string base() const { return server_.baseUrl(); }
  LocalHttpServer& server() { return server_; }

  // Token requests get no answer until released (or for 10 s), as when the response is
  // dropped by a hop limit of 1 on its way to a container behind a bridge.
  void hangTokenRequests() {
    std::lock_guard lock(hangMu_);
    hang_ = true;
  }
  void releaseHungTokenRequests() {
    std::lock_guard lock(hangMu_);
    hang_ = false;
    hangReleased_.notify_all();
  }

  std::mutex mu;
  std::string role = "binder-instance-role";
  int tokenStatus = 200;  // 403/404/405 make clients fall back to IMDSv1
  int credentialStatus = 200;
  std::string credentialBody = credentialsJson("ASIAIMDS", "2030-01-01T00:00:00Z");
  bool requireToken = true;

 private:
  HttpResponse handle(const RecordedRequest& r) {
    if (r.target == "/latest/api/token") {
      std::unique_lock lock(hangMu_);
      hangReleased_.wait_for(lock, 10s, [&] { return !hang_; });
    }
    std::lock_guard lock(mu);
    if (r.target == "/latest/api/token") {
      if (r.method != "PUT") return respond(405, "");
      if (findHeader(r.headers, "x-aws-ec2-metadata-token-ttl-seconds") != "21600") {
        return respond(400, "missing TTL");
      }
      if (tokenStatus != 200) return respond(tokenStatus, "");
      return respond(200, "imds-session-token");
    }
    if (requireToken && findHeader(r.headers, "x-aws-ec2-metadata-token") != "imds-session-token") {
      return respond(401, "");
    }
    const std::string prefix = "/latest/meta-data/iam/security-credentials/";
    if (r.method == "GET" && r.target == prefix) {
      return role.empty() ? respond(404, "") : respond(200, role + "\n");
    }
    if (r.method == "GET" && r.target == prefix + role) {
      return respond(credentialStatus, credentialBody);
    }
    return respond(404, "");
  }

  std::mutex hangMu_;
  std::condition_variable hangReleased_;
  bool hang_ = false;  // guarded by hangMu_
  LocalHttpServer server_;
};

class ImdsTest : public ::testing::Test {
 protected:
  ImdsCredentialsProvider provider(Vars vars = {}, std::string endpoint = {},
                                   std::chrono::milliseconds timeout = 2s) {
    ImdsOptions options;
    options.endpoint = endpoint.empty() ? imds_.base() : endpoint;
    options.sleep = kNoSleep;
    options.timeout = timeout;
    return ImdsCredentialsProvider(Environment(vars), options, *transport_);
  }

  FakeImds imds_;
  std::unique_ptr<CpprestTransport> transport_ = realTransport();
};

TEST_F(ImdsTest, FakeRequiresTheToken) {
  // The impersonation is faithful: without the session token IMDS says 401.
  auto response = transport_->send(
      {"GET", imds_.base() + "/latest/meta-data/iam/security-credentials/", {}, "", 2s});
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 401);
}

TEST_F(ImdsTest, TokenThenRoleThenCredentials) {
  auto credentials = provider().credentials();
  ASSERT_TRUE(credentials.has_value()) << credentials.error().toString();
  EXPECT_EQ(credentials->accessKeyId, "ASIAIMDS");
  EXPECT_EQ(credentials->providerName, "imds");
  const auto requests = imds_.server().requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(requests[0].method, "PUT");
  EXPECT_EQ(requests[0].target, "/latest/api/token");
  EXPECT_EQ(requests[1].target, "/latest/meta-data/iam/security-credentials/");
  EXPECT_EQ(requests[2].target, "/latest/meta-data/iam/security-credentials/binder-instance-role");
  for (size_t i = 1; i < requests.size(); ++i) {
    EXPECT_EQ(findHeader(requests[i].headers, "x-aws-ec2-metadata-token"), "imds-session-token");
  }
}

TEST_F(ImdsTest, EndpointFromEnvironment) {
  // The options endpoint is empty here, so the environment decides.
  ImdsOptions options;
  options.sleep = kNoSleep;
  ImdsCredentialsProvider fromEnv(
      Environment(Vars{{"AWS_EC2_METADATA_SERVICE_ENDPOINT", imds_.base() + "/"}}), options,
      *transport_);
  EXPECT_EQ(fromEnv.endpoint(), imds_.base());
  ASSERT_TRUE(fromEnv.credentials().has_value());

  ImdsCredentialsProvider defaults(Environment{}, options, *transport_);
  EXPECT_EQ(defaults.endpoint(), "http://169.254.169.254");
  ImdsCredentialsProvider ipv6(
      Environment(Vars{{"AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "IPv6"}}), options, *transport_);
  EXPECT_EQ(ipv6.endpoint(), "http://[fd00:ec2::254]");
}

TEST_F(ImdsTest, DisabledMakesNoRequest) {
  auto credentials = provider({{"AWS_EC2_METADATA_DISABLED", "TRUE"}}).credentials();
  ASSERT_FALSE(credentials.has_value());
  EXPECT_TRUE(isCredentialsNotConfigured(credentials.error()));
  EXPECT_EQ(imds_.server().requestCount(), 0u);
}

TEST_F(ImdsTest, NoRoleAttachedIsNotConfigured) {
  {
    std::lock_guard lock(imds_.mu);
    imds_.role.clear();
  }
  auto credentials = provider().credentials();
  ASSERT_FALSE(credentials.has_value());
  EXPECT_TRUE(isCredentialsNotConfigured(credentials.error()));
  EXPECT_NE(credentials.error().message.find("no IAM role"), std::string::npos);
}

TEST_F(ImdsTest, UnreachableIsNotConfigured) {
  const std::string nowhere = "http://127.0.0.1:" + std::to_string(testing::unusedLocalPort());
  auto credentials = provider({}, nowhere).credentials();
  ASSERT_FALSE(credentials.has_value());
  EXPECT_TRUE(isCredentialsNotConfigured(credentials.error())) << credentials.error().toString();
  EXPECT_NE(credentials.error().message.find("ConnectionError"), std::string::npos);
}

TEST_F(ImdsTest, FallsBackToV1OnlyWhenAllowed) {
  {
    std::lock_guard lock(imds_.mu);
    imds_.tokenStatus = 403;
    imds_.requireToken = false;
  }
  auto v1 = provider().credentials();
  ASSERT_TRUE(v1.has_value()) << v1.error().toString();
  EXPECT_TRUE(
      findHeader(imds_.server().requests().back().headers, "x-aws-ec2-metadata-token").empty());

  auto disabled = provider({{"AWS_EC2_METADATA_V1_DISABLED", "true"}}).credentials();
  ASSERT_FALSE(disabled.has_value());
  EXPECT_EQ(disabled.error().code, "ImdsV1Disabled");
}

// A token request that gets no answer (hop limit 1, ECS on EC2 with bridge networking) is
// followed, as in botocore, by IMDSv1 at once: one PUT, then GETs without a token.
TEST_F(ImdsTest, TokenTimeoutFallsBackToV1) {
  {
    std::lock_guard lock(imds_.mu);
    imds_.requireToken = false;
  }
  imds_.hangTokenRequests();
  auto credentials = provider({}, {}, 500ms).credentials();
  imds_.releaseHungTokenRequests();
  ASSERT_TRUE(credentials.has_value()) << credentials.error().toString();
  EXPECT_EQ(credentials->accessKeyId, "ASIAIMDS");
  const auto requests = imds_.server().requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(requests[0].method, "PUT");
  for (size_t i = 1; i < requests.size(); ++i) {
    EXPECT_EQ(requests[i].method, "GET");
    EXPECT_TRUE(findHeader(requests[i].headers, "x-aws-ec2-metadata-token").empty());
  }
}

void expectHopLimitAdvice(const std::string& message) {
  for (const char* part :
       {"HttpPutResponseHopLimit", "hop limit", "--http-put-response-hop-limit 2", "ECS task role",
        "/latest/api/token", "got no answer within 500 ms"}) {
    EXPECT_NE(message.find(part), std::string::npos) << "no \"" << part << "\" in: " << message;
  }
}

// When the token times out and the instance requires IMDSv2 (a GET without a token answers
// 401), the error says the hop limit is the likely cause and how to fix it.
TEST_F(ImdsTest, TokenTimeoutWithV1DisabledOnTheInstanceNamesTheHopLimit) {
  imds_.hangTokenRequests();  // requireToken stays true: IMDSv1 answers 401
  auto credentials = provider({}, {}, 500ms).credentials();
  imds_.releaseHungTokenRequests();
  ASSERT_FALSE(credentials.has_value());
  EXPECT_EQ(credentials.error().code, "ImdsV1Disabled");
  EXPECT_EQ(credentials.error().kind, core::ErrorKind::kAuth);
  EXPECT_NE(credentials.error().message.find("IMDSv1 is disabled on this instance"),
            std::string::npos)
      << credentials.error().message;
  EXPECT_NE(credentials.error().message.find("HTTP 401"), std::string::npos);
  expectHopLimitAdvice(credentials.error().message);
  EXPECT_EQ(imds_.server().requestCount(), 2u) << "a 401 without a token is not retried";
}

// AWS_EC2_METADATA_V1_DISABLED=true: no fallback, and the error says why there was no token.
TEST_F(ImdsTest, TokenTimeoutWithV1DisabledByTheEnvironmentSendsNoGet) {
  {
    std::lock_guard lock(imds_.mu);
    imds_.requireToken = false;
  }
  imds_.hangTokenRequests();
  auto credentials = provider({{"AWS_EC2_METADATA_V1_DISABLED", "true"}}, {}, 500ms).credentials();
  imds_.releaseHungTokenRequests();
  ASSERT_FALSE(credentials.has_value());
  EXPECT_EQ(credentials.error().code, "ImdsV1Disabled");
  EXPECT_NE(credentials.error().message.find("AWS_EC2_METADATA_V1_DISABLED=true"),
            std::string::npos)
      << credentials.error().message;
  expectHopLimitAdvice(credentials.error().message);
  EXPECT_EQ(imds_.server().requestCount(), 1u);
}

// botocore's ec2_metadata_v1_disabled profile key; the environment variable, when set, wins.
TEST_F(ImdsTest, V1DisabledByTheConfigFileUnlessTheEnvironmentSaysOtherwise) {
  {
    std::lock_guard lock(imds_.mu);
    imds_.tokenStatus = 404;
    imds_.requireToken = false;
  }
  TempDir dir;
  dir.write("config", "[profile ops]\nec2_metadata_v1_disabled = true\n");
  const std::string configFile = (dir.path() / "config").string();
  Vars vars{{"AWS_CONFIG_FILE", configFile}, {"AWS_PROFILE", "ops"}};
  auto disabled = provider(vars).credentials();
  ASSERT_FALSE(disabled.has_value());
  EXPECT_EQ(disabled.error().code, "ImdsV1Disabled");
  EXPECT_NE(disabled.error().message.find("ec2_metadata_v1_disabled = true in profile ops of " +
                                          configFile),
            std::string::npos)
      << disabled.error().message;
  EXPECT_NE(disabled.error().message.find("answered HTTP 404"), std::string::npos);
  EXPECT_EQ(disabled.error().message.find("hop limit"), std::string::npos)
      << "a token endpoint that answers is not a hop-limit problem";

  vars["AWS_EC2_METADATA_V1_DISABLED"] = "false";
  auto allowed = provider(vars).credentials();
  ASSERT_TRUE(allowed.has_value()) << allowed.error().toString();
}

// The token rules of botocore's IMDSFetcher._fetch_metadata_token, outcome by outcome.
TEST(ImdsProvider, TokenOutcomesFollowBotocore) {
  struct Case {
    std::string name;
    std::function<core::Result<HttpResponse>()> tokenAnswer;
    size_t tokenRequests;  // with 3 attempts
    bool fallsBackToV1;    // else: no GET at all, and no credentials
  };
  auto transportError = [](std::string code) {
    return [code]() -> core::Result<HttpResponse> {
      return std::unexpected(
          core::Error{core::ErrorKind::kRetryable, code + ": simulated", code, {}, 0});
    };
  };
  auto status = [](int code) {
    return [code]() -> core::Result<HttpResponse> { return respond(code, ""); };
  };
  const std::vector<Case> cases = {
      {"read timeout: IMDSv1 at once", transportError("RequestTimeout"), 1, true},
      {"connect timeout: retried, then IMDSv1", transportError("ConnectTimeout"), 3, true},
      {"connection error: retried, then IMDSv1", transportError("ConnectionError"), 3, true},
      {"500: retried, then IMDSv1", status(500), 3, true},
      {"200 with an empty token: retried, then IMDSv1", status(200), 3, true},
      {"403: IMDSv1 at once", status(403), 1, true},
      {"404: IMDSv1 at once", status(404), 1, true},
      {"405: IMDSv1 at once", status(405), 1, true},
      {"400: no credentials", status(400), 1, false},
      {"terminal transport error: no credentials",
       []() -> core::Result<HttpResponse> {
         return std::unexpected(
             core::Error{core::ErrorKind::kTerminal, "bad URL", "InvalidUrl", {}, 0});
       },
       1, false},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    testing::FakeHttpTransport transport;
    transport.setHandler([&](const HttpRequest& request) -> core::Result<HttpResponse> {
      if (request.method == "PUT") return c.tokenAnswer();
      if (!findHeader(request.headers, "x-aws-ec2-metadata-token").empty()) {
        return respond(400, "a token nobody issued");
      }
      if (request.url.ends_with("/security-credentials/")) return respond(200, "role\n");
      return respond(200, credentialsJson("ASIAV1", "2030-01-01T00:00:00Z"));
    });
    ImdsOptions options;
    options.endpoint = "http://169.254.169.254";
    options.sleep = kNoSleep;
    auto credentials = ImdsCredentialsProvider(Environment{}, options, transport).credentials();
    size_t puts = 0;
    for (const auto& request : transport.requests()) puts += request.method == "PUT" ? 1 : 0;
    EXPECT_EQ(puts, c.tokenRequests);
    if (c.fallsBackToV1) {
      ASSERT_TRUE(credentials.has_value()) << credentials.error().toString();
      EXPECT_EQ(credentials->accessKeyId, "ASIAV1");
    } else {
      ASSERT_FALSE(credentials.has_value());
      EXPECT_TRUE(isCredentialsNotConfigured(credentials.error()))
          << credentials.error().toString();
      EXPECT_EQ(transport.requestCount(), puts) << "no GET after this token outcome";
    }
  }
}

TEST_F(ImdsTest, BadCredentialDocumentsAreErrors) {
  {
    std::lock_guard lock(imds_.mu);
    imds_.credentialBody = R"({"Code":"AssumeRoleUnauthorizedAccess","Message":"denied"})";
  }
  auto denied = provider().credentials();
  ASSERT_FALSE(denied.has_value());
  EXPECT_EQ(denied.error().code, "InvalidCredentialsResponse");
  EXPECT_NE(denied.error().message.find("AssumeRoleUnauthorizedAccess"), std::string::npos);
  {
    std::lock_guard lock(imds_.mu);
    imds_.credentialBody = "{not json";
  }
  EXPECT_EQ(provider().credentials().error().code, "InvalidCredentialsResponse");
  {
    std::lock_guard lock(imds_.mu);
    imds_.credentialStatus = 500;
  }
  auto unavailable = provider().credentials();
  ASSERT_FALSE(unavailable.has_value());
  EXPECT_EQ(unavailable.error().code, "ImdsUnavailable");
  EXPECT_EQ(unavailable.error().kind, core::ErrorKind::kRetryable);
}

TEST(ImdsProvider, MalformedRoleNameIsRefused) {
  testing::FakeHttpTransport transport;
  transport.setHandler([](const HttpRequest& request) -> core::Result<HttpResponse> {
    if (request.method == "PUT") return respond(200, "tok");
    return respond(200, "../../../latest/user-data\n");
  });
  ImdsOptions options;
  options.endpoint = "http://169.254.169.254";
  options.sleep = kNoSleep;
  auto credentials = ImdsCredentialsProvider(Environment{}, options, transport).credentials();
  ASSERT_FALSE(credentials.has_value());
  EXPECT_EQ(credentials.error().code, "InvalidCredentialsResponse");
  EXPECT_EQ(transport.requestCount(), 2u);
}

// ---------------------------------------------------------------- metadata secrets and proxies

// The secret part of a container credentials URI, and of a Pod Identity token.
constexpr const char* kSecretPath = "/v2/credentials/7f3e91aa-task-credentials-id";
constexpr const char* kSecretQuery = "?sig=c0ffee42secret";
constexpr const char* kSecretToken = "Bearer pod-identity-d00dfeed";

void expectNoContainerSecrets(const core::Error& error) {
  expectNoSecrets(error, {"7f3e91aa", "task-credentials-id", "c0ffee42secret", "d00dfeed"});
}

TEST_F(ContainerTest, FailingEndpointsNeverShowTheSecretPath) {
  // Refused: nothing listens at the relative URI's base.
  ContainerOptions refusedOptions;
  const std::string refusedBase = "http://127.0.0.1:" + std::to_string(testing::unusedLocalPort());
  refusedOptions.relativeUriBase = refusedBase;
  refusedOptions.sleep = kNoSleep;
  refusedOptions.timeout = 2s;
  auto refused = ContainerCredentialsProvider(
                     envIn(dir_, {{"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", kSecretPath}}),
                     refusedOptions, *transport_)
                     .credentials();
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, "ConnectionError");
  expectNoContainerSecrets(refused.error());
  EXPECT_NE(refused.error().message.find(refusedBase + "/<redacted path>"), std::string::npos)
      << refused.error().message;

  // Hanging: the full URI's endpoint never answers within the timeout.
  testing::RawTcpServer silent(testing::RawTcpServer::Mode::kSilent);
  ContainerOptions hangingOptions;
  hangingOptions.sleep = kNoSleep;
  hangingOptions.timeout = 300ms;
  hangingOptions.maxAttempts = 2;
  const std::string silentBase = "http://127.0.0.1:" + std::to_string(silent.port());
  auto hanging =
      ContainerCredentialsProvider(
          envIn(dir_,
                {{"AWS_CONTAINER_CREDENTIALS_FULL_URI", silentBase + kSecretPath + kSecretQuery},
                 {"AWS_CONTAINER_AUTHORIZATION_TOKEN", kSecretToken}}),
          hangingOptions, *transport_)
          .credentials();
  ASSERT_FALSE(hanging.has_value());
  EXPECT_EQ(hanging.error().kind, core::ErrorKind::kRetryable);
  expectNoContainerSecrets(hanging.error());

  // Answering 500 and 403.
  for (int status : {500, 403}) {
    endpoint_.setBody(status, "{}");
    auto failed = provider({{"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", kSecretPath}}).credentials();
    ASSERT_FALSE(failed.has_value());
    EXPECT_EQ(failed.error().httpStatus, status);
    expectNoContainerSecrets(failed.error());
  }
}

TEST_F(ContainerTest, SecretsAreScrubbedEvenFromATransportThatEchoesThem) {
  testing::FakeHttpTransport echoing;
  echoing.setHandler([](const HttpRequest& request) -> core::Result<HttpResponse> {
    return std::unexpected(
        core::Error{core::ErrorKind::kTerminal,
                    "cannot GET " + request.url + " with " +
                        std::string(findHeader(request.headers, "authorization")),
                    "Echo",
                    {},
                    0});
  });
  ContainerOptions options;
  options.sleep = kNoSleep;
  auto failed = ContainerCredentialsProvider(
                    envIn(dir_, {{"AWS_CONTAINER_CREDENTIALS_FULL_URI",
                                  std::string("http://127.0.0.1:9") + kSecretPath + kSecretQuery},
                                 {"AWS_CONTAINER_AUTHORIZATION_TOKEN", kSecretToken}}),
                    options, echoing)
                    .credentials();
  ASSERT_FALSE(failed.has_value());
  expectNoContainerSecrets(failed.error());
  EXPECT_NE(failed.error().message.find("http://127.0.0.1:9/<redacted path>"), std::string::npos)
      << failed.error().message;
  ASSERT_EQ(echoing.requestCount(), 1u);
  EXPECT_TRUE(echoing.requests()[0].secretPath);
  EXPECT_TRUE(echoing.requests()[0].bypassProxy);
}

TEST_F(ContainerTest, NeverGoesThroughTheProxy) {
  testing::RawTcpServer proxy(testing::RawTcpServer::Mode::kRespondOk);
  const std::string proxyUrl = "http://127.0.0.1:" + std::to_string(proxy.port());
  CpprestTransportOptions transportOptions;
  transportOptions.environment =
      Environment(Vars{{"HTTP_PROXY", proxyUrl}, {"HTTPS_PROXY", proxyUrl}});
  auto proxied = std::move(*CpprestTransport::create(transportOptions));
  ContainerOptions options;
  options.sleep = kNoSleep;
  options.timeout = 5s;
  auto credentials =
      ContainerCredentialsProvider(
          envIn(dir_, {{"AWS_CONTAINER_CREDENTIALS_FULL_URI", endpoint_.base() + kSecretPath}}),
          options, *proxied)
          .credentials();
  ASSERT_TRUE(credentials.has_value()) << credentials.error().toString();
  EXPECT_EQ(endpoint_.server().requestCount(), 1u);
  EXPECT_EQ(proxy.acceptedConnections(), 0) << "the credentials request went to the proxy";
}

TEST_F(ImdsTest, NeverGoesThroughTheProxy) {
  testing::RawTcpServer proxy(testing::RawTcpServer::Mode::kRespondOk);
  const std::string proxyUrl = "http://127.0.0.1:" + std::to_string(proxy.port());
  CpprestTransportOptions transportOptions;
  transportOptions.environment =
      Environment(Vars{{"HTTP_PROXY", proxyUrl}, {"HTTPS_PROXY", proxyUrl}});
  auto proxied = std::move(*CpprestTransport::create(transportOptions));
  ImdsOptions options;
  options.endpoint = imds_.base();
  options.sleep = kNoSleep;
  options.timeout = 5s;
  auto credentials = ImdsCredentialsProvider(Environment{}, options, *proxied).credentials();
  ASSERT_TRUE(credentials.has_value()) << credentials.error().toString();
  EXPECT_EQ(imds_.server().requestCount(), 3u);
  EXPECT_EQ(proxy.acceptedConnections(), 0) << "an IMDS request went to the proxy";
}

TEST(ContainerRedaction, ScrubsEverySecretOfTheConfiguration) {
  const Environment env(Vars{
      {"AWS_CONTAINER_CREDENTIALS_FULL_URI", "https://auth.example:8443/v1/creds/abcdef?k=qwerty"},
      {"AWS_CONTAINER_AUTHORIZATION_TOKEN", "tok-123456"}});
  EXPECT_EQ(redactContainerCredentialsSecrets(
                "GET https://auth.example:8443/v1/creds/abcdef?k=qwerty: refused; "
                "path /v1/creds/abcdef, bare v1/creds/abcdef, query k=qwerty, token tok-123456",
                env),
            "GET https://auth.example:8443/<redacted path>: refused; path /<redacted path>, bare "
            "<redacted path>, query <redacted query>, token <redacted token>");
  const Environment relative(Vars{{"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/abc-9876"}});
  EXPECT_EQ(
      redactContainerCredentialsSecrets("GET http://169.254.170.2/v2/abc-9876 failed", relative),
      "GET http://169.254.170.2/<redacted path> failed");
  EXPECT_EQ(redactContainerCredentialsSecrets("nothing secret here", Environment{}),
            "nothing secret here");
}

}  // namespace
}  // namespace endpointbinder::aws
