// The default chain (order, remembering the winner, reporting) and the credentials cache
// (refresh ahead of expiry, single flight, serving still-valid credentials, concurrency), then
// makeDefaultCredentialsChain end to end against local impersonating servers.
#include "controller/aws/credentials_chain.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <thread>

#include "controller/aws/cpprest_transport.h"
#include "controller/aws/credentials_json.h"
#include "tests/support/aws_local_server.h"
#include "tests/support/fake_http_transport.h"

namespace endpointbinder::aws {
namespace {

using namespace std::chrono_literals;
using testing::LocalHttpServer;
using testing::RecordedRequest;
using testing::SharedManualClock;
using testing::TempDir;
using Vars = std::map<std::string, std::string>;

Credentials makeCredentials(std::string keyId, std::optional<core::WallTime> expiration) {
  Credentials c;
  c.accessKeyId = std::move(keyId);
  c.secretAccessKey = "secret-" + c.accessKeyId;
  c.sessionToken = "token-" + c.accessKeyId;
  c.expiration = expiration;
  c.providerName = "scripted";
  return c;
}

// A provider whose answers are scripted; after the script it repeats `fallback`.
class ScriptedProvider final : public CredentialsProvider {
 public:
  explicit ScriptedProvider(core::Result<Credentials> fallback) : fallback_(std::move(fallback)) {}

  core::Result<Credentials> credentials() override {
    const int concurrent = ++inFlight_;
    int seen = maxInFlight_.load();
    while (concurrent > seen && !maxInFlight_.compare_exchange_weak(seen, concurrent)) {
    }
    if (delay_.count() > 0) std::this_thread::sleep_for(delay_);
    core::Result<Credentials> result = fallback_;
    {
      std::unique_lock lock(mu_);
      gateOpen_.wait(lock, [&] { return !gated_; });
      ++calls_;
      if (!script_.empty()) {
        result = script_.front();
        script_.pop_front();
      } else if (generator_) {
        result = generator_(calls_);
      }
    }
    --inFlight_;
    return result;
  }

  void push(core::Result<Credentials> result) {
    std::lock_guard lock(mu_);
    script_.push_back(std::move(result));
  }
  void setGenerator(std::function<core::Result<Credentials>(int)> generator) {
    std::lock_guard lock(mu_);
    generator_ = std::move(generator);
  }
  void setDelay(std::chrono::milliseconds delay) { delay_ = delay; }
  // While gated, calls block inside credentials() (to hold a refresh "in flight").
  void gate(bool closed) {
    std::lock_guard lock(mu_);
    gated_ = closed;
    gateOpen_.notify_all();
  }
  int calls() const {
    std::lock_guard lock(mu_);
    return calls_;
  }
  int maxInFlight() const { return maxInFlight_.load(); }
  int inFlight() const { return inFlight_.load(); }

 private:
  mutable std::mutex mu_;
  std::condition_variable gateOpen_;
  bool gated_ = false;
  std::deque<core::Result<Credentials>> script_;
  std::function<core::Result<Credentials>(int)> generator_;
  core::Result<Credentials> fallback_;
  int calls_ = 0;
  std::atomic<int> inFlight_{0};
  std::atomic<int> maxInFlight_{0};
  std::chrono::milliseconds delay_{0};
};

std::unexpected<core::Error> notConfigured(const std::string& why) {
  return std::unexpected(credentialsNotConfigured(why));
}

// ---------------------------------------------------------------- chain

TEST(CredentialsChain, FirstConfiguredProviderWinsAndIsRemembered) {
  auto first = std::make_shared<ScriptedProvider>(notConfigured("first: not set"));
  auto second = std::make_shared<ScriptedProvider>(notConfigured("second: not set"));
  auto third = std::make_shared<ScriptedProvider>(makeCredentials("THIRD", std::nullopt));
  auto fourth = std::make_shared<ScriptedProvider>(makeCredentials("FOURTH", std::nullopt));
  CredentialsChain chain(
      {{"first", first}, {"second", second}, {"third", third}, {"fourth", fourth}});

  auto credentials = chain.credentials();
  ASSERT_TRUE(credentials.has_value());
  EXPECT_EQ(credentials->accessKeyId, "THIRD");
  EXPECT_EQ(chain.selectedProvider(), "third");
  EXPECT_EQ(fourth->calls(), 0);

  // Later calls go straight to the provider that worked.
  ASSERT_TRUE(chain.credentials().has_value());
  EXPECT_EQ(first->calls(), 1);
  EXPECT_EQ(second->calls(), 1);
  EXPECT_EQ(third->calls(), 2);
}

TEST(CredentialsChain, ConfiguredButFailingProviderStopsTheChain) {
  auto env = std::make_shared<ScriptedProvider>(
      notConfigured("environment: AWS_ACCESS_KEY_ID is not set"));
  auto container = std::make_shared<ScriptedProvider>(
      core::makeError(core::ErrorKind::kRetryable, "container: endpoint answered HTTP 500",
                      "ContainerCredentialsUnavailable"));
  auto imds = std::make_shared<ScriptedProvider>(makeCredentials("IMDS", std::nullopt));
  CredentialsChain chain({{"environment", env}, {"container", container}, {"imds", imds}});

  auto credentials = chain.credentials();
  ASSERT_FALSE(credentials.has_value());
  EXPECT_EQ(credentials.error().code, "ContainerCredentialsUnavailable");
  EXPECT_EQ(credentials.error().kind, core::ErrorKind::kRetryable);
  EXPECT_NE(credentials.error().message.find("AWS_ACCESS_KEY_ID is not set"), std::string::npos);
  EXPECT_EQ(imds->calls(), 0) << "must not fall through to another identity";
  EXPECT_EQ(chain.selectedProvider(), "");
}

TEST(CredentialsChain, NothingConfiguredListsEveryReason) {
  CredentialsChain chain(
      {{"a", std::make_shared<ScriptedProvider>(notConfigured("a: reason one"))},
       {"b", std::make_shared<ScriptedProvider>(notConfigured("b: reason two"))}});
  auto credentials = chain.credentials();
  ASSERT_FALSE(credentials.has_value());
  EXPECT_EQ(credentials.error().kind, core::ErrorKind::kAuth);
  EXPECT_EQ(credentials.error().code, "NoCredentials");
  EXPECT_NE(credentials.error().message.find("a: reason one; b: reason two"), std::string::npos)
      << credentials.error().message;
}

TEST(CredentialsChain, RememberedProviderGoingAwayIsARetryableFailure) {
  auto imds = std::make_shared<ScriptedProvider>(notConfigured("imds: unreachable"));
  imds->push(makeCredentials("IMDS", std::nullopt));
  auto later = std::make_shared<ScriptedProvider>(makeCredentials("OTHER", std::nullopt));
  CredentialsChain chain({{"imds", imds}, {"later", later}});
  ASSERT_TRUE(chain.credentials().has_value());
  auto again = chain.credentials();
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().kind, core::ErrorKind::kRetryable);
  EXPECT_EQ(later->calls(), 0);
}

// ---------------------------------------------------------------- cache, one thread

class CacheTest : public ::testing::Test {
 protected:
  core::WallTime in(std::chrono::minutes minutes) { return clock_.wallNow() + minutes; }

  core::ManualClock clock_;
  std::shared_ptr<ScriptedProvider> source_ = std::make_shared<ScriptedProvider>(
      core::makeError(core::ErrorKind::kRetryable, "source down", "Down"));
  CachingCredentialsProvider cache_{source_, clock_};
};

TEST_F(CacheTest, CredentialsWithoutExpirationAreFetchedOnce) {
  source_->push(makeCredentials("STATIC", std::nullopt));
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(cache_.credentials().has_value());
    clock_.advance(24h);
  }
  EXPECT_EQ(source_->calls(), 1);
}

TEST_F(CacheTest, RefreshesInsideTheAdvisoryWindowBeforeExpiry) {
  source_->push(makeCredentials("ONE", in(60min)));
  EXPECT_EQ(cache_.credentials()->accessKeyId, "ONE");
  clock_.advance(44min);  // 16 min left: still fresh
  EXPECT_EQ(cache_.credentials()->accessKeyId, "ONE");
  EXPECT_EQ(source_->calls(), 1);

  clock_.advance(2min);  // 14 min left: advisory window
  source_->push(makeCredentials("TWO", in(60min)));
  EXPECT_EQ(cache_.credentials()->accessKeyId, "TWO");
  EXPECT_EQ(source_->calls(), 2);
  EXPECT_EQ(cache_.credentials()->accessKeyId, "TWO");
  EXPECT_EQ(source_->calls(), 2);
}

TEST_F(CacheTest, FailedAdvisoryRefreshKeepsServingAndBacksOff) {
  source_->push(makeCredentials("ONE", in(60min)));
  ASSERT_TRUE(cache_.credentials().has_value());
  clock_.advance(46min);
  EXPECT_EQ(cache_.credentials()->accessKeyId, "ONE");  // refresh failed: cached value
  EXPECT_EQ(source_->calls(), 2);
  EXPECT_EQ(cache_.credentials()->accessKeyId, "ONE");  // backing off: no new attempt
  EXPECT_EQ(source_->calls(), 2);
  clock_.advance(11s);
  source_->push(makeCredentials("TWO", in(60min)));
  EXPECT_EQ(cache_.credentials()->accessKeyId, "TWO");
  EXPECT_EQ(source_->calls(), 3);
}

TEST_F(CacheTest, MandatoryWindowServesUntilExpiryThenFails) {
  source_->push(makeCredentials("ONE", in(60min)));
  ASSERT_TRUE(cache_.credentials().has_value());
  clock_.advance(55min);  // 5 min left: mandatory window, source down
  EXPECT_EQ(cache_.credentials()->accessKeyId, "ONE");
  clock_.advance(6min);  // expired
  auto expired = cache_.credentials();
  ASSERT_FALSE(expired.has_value());
  EXPECT_EQ(expired.error().code, "Down");
  const int calls = source_->calls();
  EXPECT_FALSE(cache_.credentials().has_value());
  EXPECT_EQ(source_->calls(), calls) << "failures are not retried before the back-off";
}

TEST_F(CacheTest, FirstFailureIsReturnedAndRetriedAfterBackOff) {
  auto first = cache_.credentials();
  ASSERT_FALSE(first.has_value());
  EXPECT_EQ(first.error().code, "Down");
  EXPECT_FALSE(cache_.credentials().has_value());
  EXPECT_EQ(source_->calls(), 1);
  clock_.advance(10s);
  source_->push(makeCredentials("LATE", in(60min)));
  EXPECT_EQ(cache_.credentials()->accessKeyId, "LATE");
}

TEST_F(CacheTest, AlreadyExpiredCredentialsAreAnError) {
  source_->push(makeCredentials("STALE", in(-1min)));
  auto result = cache_.credentials();
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code, "ExpiredCredentials");
}

TEST_F(CacheTest, ConfigurableWindows) {
  CachingOptions options;
  options.advisoryRefresh = 5min;
  options.mandatoryRefresh = 1min;
  CachingCredentialsProvider cache(source_, clock_, options);
  source_->push(makeCredentials("ONE", in(20min)));
  ASSERT_TRUE(cache.credentials().has_value());
  clock_.advance(14min);  // 6 min left: fresh with these windows
  ASSERT_TRUE(cache.credentials().has_value());
  EXPECT_EQ(source_->calls(), 1);
  clock_.advance(2min);
  source_->push(makeCredentials("TWO", in(20min)));
  EXPECT_EQ(cache.credentials()->accessKeyId, "TWO");
}

// ---------------------------------------------------------------- cache, many threads

TEST(CacheConcurrency, AdvisoryRefreshDoesNotBlockOtherCallers) {
  SharedManualClock clock;
  auto source = std::make_shared<ScriptedProvider>(makeCredentials("X", std::nullopt));
  source->push(makeCredentials("ONE", clock.wallNow() + 60min));
  CachingCredentialsProvider cache(source, clock);
  ASSERT_TRUE(cache.credentials().has_value());
  clock.advance(47min);  // 13 min left: advisory window

  source->gate(true);
  source->push(makeCredentials("TWO", clock.wallNow() + 60min));
  std::thread refresher([&] { EXPECT_EQ(cache.credentials()->accessKeyId, "TWO"); });
  while (source->inFlight() == 0) std::this_thread::sleep_for(1ms);
  // A refresh is in flight; everyone else gets the still-valid cached value at once.
  for (int i = 0; i < 5; ++i) EXPECT_EQ(cache.credentials()->accessKeyId, "ONE");
  source->gate(false);
  refresher.join();
  EXPECT_EQ(cache.credentials()->accessKeyId, "TWO");
  EXPECT_EQ(source->calls(), 2);
}

TEST(CacheConcurrency, MandatoryRefreshIsSharedByWaitingCallers) {
  SharedManualClock clock;
  auto source = std::make_shared<ScriptedProvider>(makeCredentials("X", std::nullopt));
  source->push(makeCredentials("ONE", clock.wallNow() + 60min));
  CachingCredentialsProvider cache(source, clock);
  ASSERT_TRUE(cache.credentials().has_value());
  clock.advance(58min);  // mandatory window

  source->gate(true);
  source->push(makeCredentials("TWO", clock.wallNow() + 60min));
  std::vector<std::thread> threads;
  std::atomic<int> sawTwo{0};
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      if (cache.credentials()->accessKeyId == "TWO") ++sawTwo;
    });
  }
  while (source->inFlight() == 0) std::this_thread::sleep_for(1ms);
  std::this_thread::sleep_for(20ms);
  source->gate(false);
  for (auto& t : threads) t.join();
  EXPECT_EQ(sawTwo.load(), 8);
  EXPECT_EQ(source->calls(), 2) << "one refresh for all waiting callers";
}

TEST(CacheConcurrency, ManyThreadsWhileTimeRunsOneRefreshAtATime) {
  SharedManualClock clock;
  auto source = std::make_shared<ScriptedProvider>(makeCredentials("X", std::nullopt));
  source->setDelay(2ms);
  source->setGenerator([&](int call) -> core::Result<Credentials> {
    if (call % 5 == 0) return core::makeError(core::ErrorKind::kRetryable, "flaky", "Flaky");
    return makeCredentials("K" + std::to_string(call), clock.wallNow() + 30min);
  });
  CachingCredentialsProvider cache(source, clock);
  ASSERT_TRUE(cache.credentials().has_value());

  std::atomic<bool> stop{false};
  std::atomic<int> failures{0};
  std::atomic<int> successes{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 16; ++t) {
    threads.emplace_back([&] {
      while (!stop) {
        auto credentials = cache.credentials();
        if (!credentials) {
          ++failures;
          continue;
        }
        ++successes;
        std::this_thread::sleep_for(50us);
        // Never expired, always complete.
        if (!credentials->expiration || *credentials->expiration <= clock.wallNow() ||
            credentials->secretAccessKey != "secret-" + credentials->accessKeyId) {
          ++failures;
        }
      }
    });
  }
  // 300 simulated minutes in 10-second steps: the 15-minute advisory window spans 90 steps of
  // real time, ample for a refresh even on a loaded machine.
  for (int step = 0; step < 1800; ++step) {
    clock.advance(10s);
    std::this_thread::sleep_for(1ms);
  }
  stop = true;
  for (auto& t : threads) t.join();

  EXPECT_EQ(failures.load(), 0);
  EXPECT_GT(successes.load(), 1000);
  EXPECT_EQ(source->maxInFlight(), 1) << "refreshes must never overlap";
  // 300 minutes of 30-minute credentials refreshed 15 minutes early: about 20 refreshes, plus
  // the flaky ones -- not one per call.
  EXPECT_LT(source->calls(), 60);
  EXPECT_GT(source->calls(), 10);
}

// ---------------------------------------------------------------- default chain, end to end

HttpResponse jsonResponse(int status, std::string body) {
  HttpResponse response;
  response.status = status;
  response.headers = {{"Content-Type", "application/json"}};
  response.body = std::move(body);
  return response;
}

std::string credentialsJson(const std::string& keyId, core::WallTime expiration) {
  return R"({"AccessKeyId":")" + keyId + R"(","SecretAccessKey":"secret-)" + keyId +
         R"(","Token":"token-)" + keyId + R"(","Expiration":")" + formatIso8601(expiration) +
         R"("})";
}

class DefaultChainTest : public ::testing::Test {
 protected:
  Environment env(Vars vars) {
    vars.try_emplace("AWS_CONFIG_FILE", (dir_.path() / "config").string());
    vars.try_emplace("AWS_SHARED_CREDENTIALS_FILE", (dir_.path() / "credentials").string());
    vars.try_emplace("HOME", dir_.path().string());
    return Environment(vars);
  }

  ChainOptions options(Vars vars, HttpTransport& transport) {
    ChainOptions o{.environment = env(std::move(vars)), .transport = transport, .clock = clock_};
    o.webIdentity.sleep = [](std::chrono::milliseconds) {};
    o.container.sleep = [](std::chrono::milliseconds) {};
    o.imds.sleep = [](std::chrono::milliseconds) {};
    o.imds.maxAttempts = 1;
    return o;
  }

  TempDir dir_;
  SharedManualClock clock_;
  std::unique_ptr<CpprestTransport> transport_ = std::move(*CpprestTransport::create({}));
};

TEST_F(DefaultChainTest, EnvironmentFirstWithoutAnyNetwork) {
  testing::FakeHttpTransport noNetwork;  // any request would fail the test loudly
  auto chain =
      makeDefaultCredentialsChain(options({{"AWS_ACCESS_KEY_ID", "AKIDENV"},
                                           {"AWS_SECRET_ACCESS_KEY", "s"},
                                           {"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/creds"}},
                                          noNetwork));
  auto credentials = chain->credentials();
  ASSERT_TRUE(credentials.has_value()) << credentials.error().toString();
  EXPECT_EQ(credentials->accessKeyId, "AKIDENV");
  EXPECT_EQ(credentials->providerName, "environment");
  EXPECT_EQ(noNetwork.requestCount(), 0u);
}

TEST_F(DefaultChainTest, SharedFilesBeforeContainer) {
  dir_.write("credentials", "[default]\naws_access_key_id = AKIDFILE\naws_secret_access_key = f\n");
  testing::FakeHttpTransport noNetwork;
  auto chain = makeDefaultCredentialsChain(
      options({{"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/creds"}}, noNetwork));
  EXPECT_EQ(chain->credentials()->providerName, "shared-files");
  EXPECT_EQ(noNetwork.requestCount(), 0u);
}

TEST_F(DefaultChainTest, ContainerCredentialsAreRefreshedBeforeExpiry) {
  std::atomic<int> served{0};
  LocalHttpServer endpoint([&](const RecordedRequest& r) {
    if (r.target != "/v2/credentials/task") return jsonResponse(404, "{}");
    const int n = ++served;
    return jsonResponse(200,
                        credentialsJson("ASIATASK" + std::to_string(n), clock_.wallNow() + 20min));
  });
  auto o = options({{"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/task"},
                    {"AWS_EC2_METADATA_DISABLED", "true"}},
                   *transport_);
  o.containerRelativeUriBase = endpoint.baseUrl();
  auto chain = makeDefaultCredentialsChain(o);

  EXPECT_EQ(chain->credentials()->accessKeyId, "ASIATASK1");
  clock_.advance(4min);  // 16 min left
  EXPECT_EQ(chain->credentials()->accessKeyId, "ASIATASK1");
  EXPECT_EQ(served.load(), 1);
  clock_.advance(2min);  // 14 min left: refreshed ahead of expiry
  EXPECT_EQ(chain->credentials()->accessKeyId, "ASIATASK2");
  EXPECT_EQ(served.load(), 2);
}

TEST_F(DefaultChainTest, WebIdentityUsesTheStsEndpointFromTheEnvironment) {
  std::atomic<int> calls{0};
  LocalHttpServer sts([&](const RecordedRequest& r) {
    ++calls;
    const auto token = testing::formValue(r.body, "WebIdentityToken").value_or("");
    HttpResponse response;
    response.status = 200;
    response.headers = {{"Content-Type", "text/xml"}};
    response.body =
        "<AssumeRoleWithWebIdentityResponse><AssumeRoleWithWebIdentityResult><Credentials>"
        "<AccessKeyId>ASIAWI</AccessKeyId><SecretAccessKey>s-" +
        token + "</SecretAccessKey><SessionToken>t</SessionToken><Expiration>" +
        formatIso8601(clock_.wallNow() + 60min) +
        "</Expiration></Credentials></AssumeRoleWithWebIdentityResult>"
        "</AssumeRoleWithWebIdentityResponse>";
    return response;
  });
  const auto tokenFile = dir_.write("token", "oidc-jwt");
  auto chain = makeDefaultCredentialsChain(options({{"AWS_WEB_IDENTITY_TOKEN_FILE", tokenFile},
                                                    {"AWS_ROLE_ARN", "arn:aws:iam::1:role/r"},
                                                    {"AWS_REGION", "eu-west-1"},
                                                    {"AWS_ENDPOINT_URL_STS", sts.baseUrl()}},
                                                   *transport_));
  auto credentials = chain->credentials();
  ASSERT_TRUE(credentials.has_value()) << credentials.error().toString();
  EXPECT_EQ(credentials->providerName, "web-identity");
  EXPECT_EQ(credentials->secretAccessKey, "s-oidc-jwt");
  EXPECT_EQ(calls.load(), 1);
}

TEST_F(DefaultChainTest, ImdsIsTheLastResort) {
  LocalHttpServer imds([](const RecordedRequest& r) {
    if (r.target == "/latest/api/token") return jsonResponse(200, "tok");
    if (findHeader(r.headers, "x-aws-ec2-metadata-token") != "tok") return jsonResponse(401, "");
    if (r.target == "/latest/meta-data/iam/security-credentials/") return jsonResponse(200, "role");
    return jsonResponse(200, R"({"Code":"Success","AccessKeyId":"ASIAEC2","SecretAccessKey":"s",)"
                             R"("Token":"t","Expiration":"2099-01-01T00:00:00Z"})");
  });
  auto o = options({}, *transport_);
  o.imdsEndpoint = imds.baseUrl();
  auto chain = makeDefaultCredentialsChain(o);
  auto credentials = chain->credentials();
  ASSERT_TRUE(credentials.has_value()) << credentials.error().toString();
  EXPECT_EQ(credentials->providerName, "imds");
}

TEST_F(DefaultChainTest, NothingAnywhereIsReportedProviderByProvider) {
  auto chain =
      makeDefaultCredentialsChain(options({{"AWS_EC2_METADATA_DISABLED", "true"}}, *transport_));
  auto credentials = chain->credentials();
  ASSERT_FALSE(credentials.has_value());
  EXPECT_EQ(credentials.error().code, "NoCredentials");
  EXPECT_EQ(credentials.error().kind, core::ErrorKind::kAuth);
  for (const char* name :
       {"environment:", "web-identity:", "shared-files:", "container:", "imds:"}) {
    EXPECT_NE(credentials.error().message.find(name), std::string::npos)
        << name << " missing from: " << credentials.error().message;
  }
}

TEST_F(DefaultChainTest, FailingContainerDoesNotFallThroughToImds) {
  std::atomic<int> imdsCalls{0};
  LocalHttpServer imds([&](const RecordedRequest&) {
    ++imdsCalls;
    return jsonResponse(200, "tok");
  });
  LocalHttpServer container([](const RecordedRequest&) { return jsonResponse(500, "{}"); });
  auto o = options({{"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/creds"}}, *transport_);
  o.containerRelativeUriBase = container.baseUrl();
  o.imdsEndpoint = imds.baseUrl();
  auto chain = makeDefaultCredentialsChain(o);
  auto credentials = chain->credentials();
  ASSERT_FALSE(credentials.has_value());
  EXPECT_EQ(credentials.error().code, "ContainerCredentialsUnavailable");
  EXPECT_EQ(imdsCalls.load(), 0);
}

TEST_F(DefaultChainTest, AFailingContainerEndpointNeverShowsTheSecretPath) {
  const std::string secret = "/v2/credentials/9b2d44c1-task-secret";
  LocalHttpServer failing([](const RecordedRequest&) { return jsonResponse(500, "{}"); });
  for (const std::string& base :
       {"http://127.0.0.1:" + std::to_string(testing::unusedLocalPort()), failing.baseUrl()}) {
    auto o = options({{"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", secret}}, *transport_);
    o.containerRelativeUriBase = base;
    auto chain = makeDefaultCredentialsChain(o);
    for (int call = 0; call < 2; ++call) {  // the fresh error, then the cached one
      auto credentials = chain->credentials();
      ASSERT_FALSE(credentials.has_value());
      EXPECT_EQ(credentials.error().message.find("9b2d44c1"), std::string::npos)
          << credentials.error().message;
      EXPECT_NE(credentials.error().message.find("container:"), std::string::npos)
          << credentials.error().message;
    }
  }
}

TEST_F(DefaultChainTest, ErrorsAreScrubbedWhicheverProviderWroteThem) {
  // web-identity fails first and names its token file, whose path happens to hold the container
  // secret: the chain's error is scrubbed all the same.
  const std::string secret = "/v2/credentials/e5e5f00d-task-secret";
  testing::FakeHttpTransport noNetwork;
  auto chain = makeDefaultCredentialsChain(
      options({{"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", secret},
               {"AWS_WEB_IDENTITY_TOKEN_FILE", dir_.path().string() + secret},
               {"AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/binder"}},
              noNetwork));
  auto credentials = chain->credentials();
  ASSERT_FALSE(credentials.has_value());
  EXPECT_EQ(credentials.error().code, "WebIdentityTokenUnreadable");
  EXPECT_EQ(credentials.error().message.find("e5e5f00d"), std::string::npos)
      << credentials.error().message;
  EXPECT_NE(credentials.error().message.find("<redacted path>"), std::string::npos)
      << credentials.error().message;
}

}  // namespace
}  // namespace endpointbinder::aws
