// Health and status server over real HTTP on loopback (cpprest client): /healthz, /readyz, the
// read-only status API, 404, 405, and the request size limits (431, 413).
#include "controller/server/health_server.h"

#include <arpa/inet.h>
#include <cpprest/http_client.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <stdexcept>

#include "controller/server/status_json.h"

namespace endpointbinder::server {
namespace {

using runtime::BindingStatus;
using runtime::ConditionStatus;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

// A clock tests move by hand while the server's threads read it.
class SharedManualClock final : public core::Clock {
 public:
  core::MonoTime now() const override {
    return core::MonoTime(std::chrono::nanoseconds(nanos_.load()));
  }
  core::WallTime wallNow() const override {
    return core::WallTime(std::chrono::seconds(1'700'000'000)) +
           std::chrono::duration_cast<core::WallTime::duration>(
               std::chrono::nanoseconds(nanos_.load()));
  }
  void advance(std::chrono::nanoseconds by) { nanos_ += by.count(); }

 private:
  std::atomic<std::int64_t> nanos_{1'000'000'000};
};

class FakeReadiness final : public ReadinessSource {
 public:
  ReadinessReport readiness() const override {
    std::lock_guard lock(mu_);
    if (fail_) throw std::runtime_error("readiness exploded");
    return report_;
  }
  void set(ReadinessReport report) {
    std::lock_guard lock(mu_);
    report_ = std::move(report);
  }
  void fail() {
    std::lock_guard lock(mu_);
    fail_ = true;
  }

 private:
  mutable std::mutex mu_;
  ReadinessReport report_;
  bool fail_ = false;
};

// A TCP socket bound and listening on 127.0.0.1 at an ephemeral port, for as long as it lives.
class ListeningSocket {
 public:
  ListeningSocket() : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = 0;
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
        ::listen(fd_, 1) != 0) {
      throw std::runtime_error("cannot bind a loopback socket");
    }
    socklen_t length = sizeof(address);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
  }
  ~ListeningSocket() { ::close(fd_); }
  int port() const { return port_; }

 private:
  int fd_;
  int port_ = 0;
};

// cpprest cannot report an ephemeral port: take one the kernel just handed out.
int freeLoopbackPort() { return ListeningSocket().port(); }

struct Reply {
  int status = 0;
  std::string contentType;
  std::string allow;
  std::string body;
};

BindingStatus makeStatus(std::string ns, std::string name,
                         std::string kind = "TargetGroupBinding") {
  BindingStatus s;
  s.kind = std::move(kind);
  s.ns = std::move(ns);
  s.name = std::move(name);
  s.generation = "00000000000000a1";
  s.observedGeneration = "00000000000000a1";
  s.specJson = R"({"targetGroupARN":"arn:tg/)" + s.name + R"(","port":443})";
  s.targetGroupArn = "arn:tg/" + s.name;
  s.conditions = {{"Ready", ConditionStatus::kTrue, "Converged", "all registered",
                   core::WallTime(std::chrono::seconds(1'700'000'000))}};
  s.counts.desired = 2;
  s.counts.registered = 2;
  s.counts.healthy = 1;
  s.lastSyncTime = core::WallTime(std::chrono::seconds(1'700'000'030));
  s.creationTime = core::WallTime(std::chrono::seconds(1'699'000'000));
  s.events = {{core::WallTime(std::chrono::seconds(1'700'000'030)), runtime::EventType::kNormal,
               "Registered", "registered 2 targets", 1}};
  return s;
}

class HealthServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const auto& s :
         {makeStatus("prod", "web"), makeStatus("prod", "api"), makeStatus("staging", "web"),
          makeStatus("prod", "names", "DNSRecordBinding")}) {
      store_.update(s.ns + "/" + s.name, [&](BindingStatus& into) { into = s; });
    }
    HealthServerOptions options;
    options.address = "127.0.0.1:" + std::to_string(freeLoopbackPort());
    options.heartbeatStaleAfter = 2min;
    auto server = HealthServer::start({clock_, heartbeat_, readiness_, store_}, options);
    ASSERT_TRUE(server) << server.error().message;
    server_ = std::move(*server);
    client_ = std::make_unique<web::http::client::http_client>(server_->url());
  }

  Reply request(const web::http::method& method, const std::string& path) {
    auto response = client_->request(method, path).get();
    Reply reply;
    reply.status = response.status_code();
    reply.contentType = response.headers().content_type();
    if (response.headers().has("Allow")) reply.allow = response.headers()["Allow"];
    reply.body = response.extract_utf8string(/*ignore_content_type=*/true).get();
    return reply;
  }
  Reply get(const std::string& path) { return request(web::http::methods::GET, path); }

  web::json::value getJson(const std::string& path, int expectedStatus = 200) {
    auto reply = get(path);
    EXPECT_EQ(reply.status, expectedStatus) << path << ": " << reply.body;
    EXPECT_EQ(reply.contentType, "application/json") << path;
    return web::json::value::parse(reply.body);
  }

  SharedManualClock clock_;
  Heartbeat heartbeat_{clock_};
  FakeReadiness readiness_;
  runtime::StatusStore store_;
  std::unique_ptr<HealthServer> server_;
  std::unique_ptr<web::http::client::http_client> client_;
};

TEST_F(HealthServerTest, HealthzFollowsTheHeartbeat) {
  auto reply = get("/healthz");
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.body, "ok");
  EXPECT_EQ(reply.contentType, "text/plain; charset=utf-8");

  clock_.advance(119s);
  EXPECT_EQ(get("/healthz").status, 200);  // within the limit

  clock_.advance(31s);  // 150s since construction, the implicit first beat
  reply = get("/healthz");
  EXPECT_EQ(reply.status, 503);
  EXPECT_EQ(reply.body, "unhealthy: no control-loop heartbeat for 150s (limit 120s)\n");

  heartbeat_.beat();
  EXPECT_EQ(get("/healthz").status, 200);
  EXPECT_EQ(get("/healthz/").status, 200);         // trailing slash
  EXPECT_EQ(get("/healthz?verbose").status, 200);  // query ignored
}

TEST_F(HealthServerTest, ReadyzListsWhatIsMissing) {
  auto reply = get("/readyz");
  EXPECT_EQ(reply.status, 503);
  EXPECT_EQ(reply.body,
            "[-]manifests: not loaded yet\n"
            "[-]credentials: not obtained\n"
            "[+]bindings ok\n"
            "readyz check failed\n");

  readiness_.set({true,
                  false,
                  "no credentials in the chain (env, web identity, ECS, IMDS)",
                  {"prod/web", "prod/api"}});
  reply = get("/readyz");
  EXPECT_EQ(reply.status, 503);
  EXPECT_EQ(reply.body,
            "[+]manifests ok\n"
            "[-]credentials: not obtained: no credentials in the chain (env, web identity, ECS, "
            "IMDS)\n"
            "[-]bindings: 2 not yet synced or failed: prod/web, prod/api\n"
            "readyz check failed\n");

  readiness_.set({true, true, "", {"prod/web"}});
  reply = get("/readyz");
  EXPECT_EQ(reply.status, 503);
  EXPECT_THAT(reply.body, HasSubstr("[+]credentials ok\n[-]bindings: 1 not yet synced or failed: "
                                    "prod/web\n"));

  readiness_.set({true, true, "", {}});
  reply = get("/readyz");
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.body, "ok");
}

TEST_F(HealthServerTest, ReadyzAndLeaderSayWhoLeads) {
  // Without leader election: no line, and /leader is 404.
  readiness_.set({true, true, "", {}});
  EXPECT_EQ(get("/readyz").body, "ok");
  EXPECT_EQ(get("/leader").status, 404);

  LeaderReport leader;
  leader.identity = "replica-b";
  leader.leading = false;
  leader.term = 7;
  leader.holder = "replica-a";
  leader.description = "replica-a leads (term 7)";
  leader.table = "leases";
  leader.leaseName = "eb";
  leader.unchangedForSeconds = 0.5;
  ReadinessReport report{true, true, "", {}};
  report.leader = leader;
  readiness_.set(report);
  auto reply = get("/readyz");
  EXPECT_EQ(reply.status, 200) << "a standby is ready";
  EXPECT_EQ(reply.body, "ok\n[+]leader-election: replica-a leads (term 7)\n");
  report.pendingBindings = {"prod/web"};
  readiness_.set(report);
  reply = get("/readyz");
  EXPECT_EQ(reply.status, 503);
  EXPECT_THAT(reply.body, HasSubstr("[+]leader-election: replica-a leads (term 7)\nreadyz check "
                                    "failed\n"));

  const auto json = getJson("/leader");
  EXPECT_EQ(json.at("identity").as_string(), "replica-b");
  EXPECT_FALSE(json.at("leading").as_bool());
  EXPECT_EQ(json.at("term").as_number().to_uint64(), 7u);
  EXPECT_EQ(json.at("holder").as_string(), "replica-a");
  EXPECT_EQ(json.at("leader").as_string(), "replica-a leads (term 7)");
  EXPECT_EQ(json.at("table").as_string(), "leases");
  EXPECT_EQ(json.at("leaseName").as_string(), "eb");
}

TEST_F(HealthServerTest, ReadyzCapsALongPendingList) {
  ReadinessReport report{true, true, "", {}};
  for (int i = 0; i < 25; ++i) report.pendingBindings.push_back("ns/b" + std::to_string(i));
  readiness_.set(report);
  auto reply = get("/readyz");
  EXPECT_EQ(reply.status, 503);
  EXPECT_THAT(reply.body, HasSubstr("[-]bindings: 25 not yet synced or failed: ns/b0, ns/b1, "));
  EXPECT_THAT(reply.body, HasSubstr(", ns/b19, and 5 more\n"));
  EXPECT_THAT(reply.body, ::testing::Not(HasSubstr("ns/b20")));
}

TEST_F(HealthServerTest, ListsTargetGroupBindings) {
  auto list = getJson("/apis/endpointbinder.io/v1alpha1/targetgroupbindings");
  EXPECT_EQ(list.at("apiVersion").as_string(), "endpointbinder.io/v1alpha1");
  EXPECT_EQ(list.at("kind").as_string(), "TargetGroupBindingList");
  auto items = bindingListFromJson(list);
  ASSERT_TRUE(items) << items.error().message;
  ASSERT_EQ(items->size(), 3u);  // sorted by key; the DNSRecordBinding is not one of them
  EXPECT_EQ((*items)[0].ns + "/" + (*items)[0].name, "prod/api");
  EXPECT_EQ((*items)[1].ns + "/" + (*items)[1].name, "prod/web");
  EXPECT_EQ((*items)[2].ns + "/" + (*items)[2].name, "staging/web");

  auto inProd =
      bindingListFromJson(getJson("/apis/endpointbinder.io/v1alpha1/targetgroupbindings/prod"));
  ASSERT_TRUE(inProd);
  EXPECT_EQ(inProd->size(), 2u);
  auto inNowhere =
      bindingListFromJson(getJson("/apis/endpointbinder.io/v1alpha1/targetgroupbindings/nowhere"));
  ASSERT_TRUE(inNowhere);
  EXPECT_TRUE(inNowhere->empty());
}

TEST_F(HealthServerTest, DnsRecordBindingsAreListedByKind) {
  auto list = getJson("/apis/endpointbinder.io/v1alpha1/dnsrecordbindings");
  EXPECT_EQ(list.at("kind").as_string(), "DNSRecordBindingList");
  ASSERT_EQ(list.at("items").size(), 1u);
  EXPECT_EQ(list.at("items").at(0).at("metadata").at("name").as_string(), "names");

  store_.erase("prod/names");
  list = getJson("/apis/endpointbinder.io/v1alpha1/dnsrecordbindings");
  EXPECT_EQ(list.at("items").size(), 0u);
}

TEST_F(HealthServerTest, GetsOneBinding) {
  // The body is exactly status_json's rendering (cpprest's parser would sort the keys).
  EXPECT_EQ(get("/apis/endpointbinder.io/v1alpha1/targetgroupbindings/prod/web").body,
            bindingToJson(*store_.get("prod/web")).serialize());
  auto object = getJson("/apis/endpointbinder.io/v1alpha1/targetgroupbindings/prod/web");
  EXPECT_EQ(object.at("kind").as_string(), "TargetGroupBinding");
  EXPECT_EQ(object.at("metadata").at("namespace").as_string(), "prod");
  EXPECT_EQ(object.at("spec").at("port").as_integer(), 443);
  EXPECT_EQ(object.at("status").at("conditions").at(0).at("lastTransitionTime").as_string(),
            "2023-11-14T22:13:20Z");
  EXPECT_EQ(object.at("status").at("targets").at("registered").as_integer(), 2);
  auto parsed = bindingFromJson(object);
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(parsed->targetGroupArn, "arn:tg/web");

  // The object changes with the store.
  store_.update("prod/web", [](BindingStatus& s) { s.lastError = "boom"; });
  object = getJson("/apis/endpointbinder.io/v1alpha1/targetgroupbindings/prod/web");
  EXPECT_EQ(object.at("status").at("lastError").as_string(), "boom");
}

TEST_F(HealthServerTest, UnknownBindingOrPathIs404Status) {
  auto reply = get("/apis/endpointbinder.io/v1alpha1/targetgroupbindings/prod/nope");
  EXPECT_EQ(reply.status, 404);
  EXPECT_EQ(reply.contentType, "application/json");
  EXPECT_EQ(reply.body,
            R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",)"
            R"("message":"targetgroupbindings.endpointbinder.io \"prod/nope\" not found",)"
            R"("reason":"NotFound","code":404})");
  // A DNSRecordBinding is not a TargetGroupBinding.
  getJson("/apis/endpointbinder.io/v1alpha1/targetgroupbindings/prod/names", 404);
  getJson("/apis/endpointbinder.io/v1alpha1/dnsrecordbindings/prod/web", 404);
  for (const char* path :
       {"/", "/metrics", "/healthzz", "/apis", "/apis/endpointbinder.io/v1alpha1",
        "/apis/endpointbinder.io/v1beta1/targetgroupbindings",
        "/apis/other.io/v1alpha1/targetgroupbindings", "/apis/endpointbinder.io/v1alpha1/pods",
        "/apis/endpointbinder.io/v1alpha1/targetgroupbindings/prod/web/extra"}) {
    auto body = getJson(path, 404);
    EXPECT_EQ(body.at("reason").as_string(), "NotFound") << path;
    EXPECT_EQ(body.at("code").as_integer(), 404) << path;
  }
}

TEST_F(HealthServerTest, OtherMethodsAre405) {
  using web::http::methods;
  for (const auto& method : {methods::POST, methods::PUT, methods::DEL, methods::PATCH}) {
    for (const char* path :
         {"/healthz", "/readyz", "/apis/endpointbinder.io/v1alpha1/targetgroupbindings",
          "/apis/endpointbinder.io/v1alpha1/targetgroupbindings/prod/web"}) {
      auto reply = request(method, path);
      EXPECT_EQ(reply.status, 405) << method << " " << path;
      EXPECT_EQ(reply.allow, "GET") << method << " " << path;
      auto body = web::json::value::parse(reply.body);
      EXPECT_EQ(body.at("reason").as_string(), "MethodNotAllowed");
      EXPECT_EQ(body.at("code").as_integer(), 405);
    }
  }
  // Nothing was changed by them.
  EXPECT_TRUE(store_.get("prod/web"));
  EXPECT_EQ(request(methods::POST, "/nothing-here").status, 404);
}

TEST_F(HealthServerTest, OversizedRequestsAre431And413WithAStatusBody) {
  web::http::http_request bigHead(web::http::methods::GET);
  bigHead.set_request_uri("/readyz");
  bigHead.headers().add("X-Padding", std::string(HealthServer::kMaxHeadBytes + 1, 'a'));
  auto response = client_->request(bigHead).get();
  EXPECT_EQ(response.status_code(), 431);
  auto body = web::json::value::parse(response.extract_utf8string(true).get());
  EXPECT_EQ(body.at("kind").as_string(), "Status");
  EXPECT_EQ(body.at("code").as_integer(), 431);
  EXPECT_EQ(body.at("reason").as_string(), "RequestEntityTooLarge");
  EXPECT_THAT(body.at("message").as_string(), HasSubstr("larger than 16384 bytes"));

  web::http::http_request bigBody(web::http::methods::GET);
  bigBody.set_request_uri("/healthz");
  bigBody.set_body(std::vector<unsigned char>(HealthServer::kMaxBodyBytes + 1, 'b'));
  response = client_->request(bigBody).get();
  EXPECT_EQ(response.status_code(), 413);
  body = web::json::value::parse(response.extract_utf8string(true).get());
  EXPECT_EQ(body.at("reason").as_string(), "RequestEntityTooLarge");
  EXPECT_THAT(body.at("message").as_string(), HasSubstr("larger than 65536 bytes"));

  // Within the limits the same requests are answered.
  web::http::http_request fine(web::http::methods::GET);
  fine.set_request_uri("/healthz");
  fine.headers().add("X-Padding", std::string(1000, 'a'));
  fine.set_body(std::vector<unsigned char>(1000, 'b'));
  EXPECT_EQ(client_->request(fine).get().status_code(), 200);
}

TEST_F(HealthServerTest, AFailingReadinessSourceIs500) {
  readiness_.fail();
  auto reply = get("/readyz");
  EXPECT_EQ(reply.status, 500);
  EXPECT_THAT(reply.body, HasSubstr("readiness exploded"));
  EXPECT_EQ(get("/healthz").status, 200);  // the server keeps serving
}

TEST(HealthServerStartTest, RejectsBadAddressesAndBusyPorts) {
  SharedManualClock clock;
  Heartbeat heartbeat(clock);
  FakeReadiness readiness;
  runtime::StatusStore store;
  HealthRoutes::Deps deps{clock, heartbeat, readiness, store};
  for (const char* address : {"127.0.0.1:0", "127.0.0.1", "127.0.0.1:", ":8081", "127.0.0.1:http",
                              "127.0.0.1:65536", "127.0.0.1:99999999999999999999"}) {
    auto server = HealthServer::start(deps, {address, 2min});
    ASSERT_FALSE(server) << address;
    EXPECT_EQ(server.error().kind, core::ErrorKind::kTerminal);
    EXPECT_THAT(server.error().message, HasSubstr(address));
  }

  ListeningSocket busy;
  const auto address = "127.0.0.1:" + std::to_string(busy.port());
  auto server = HealthServer::start(deps, {address, 2min});
  ASSERT_FALSE(server) << "started on a port that is in use";
  EXPECT_THAT(server.error().message, HasSubstr("cannot serve health on " + address));
}

TEST(HealthServerStartTest, StopsListeningWhenDestroyed) {
  SharedManualClock clock;
  Heartbeat heartbeat(clock);
  FakeReadiness readiness;
  runtime::StatusStore store;
  const auto address = "127.0.0.1:" + std::to_string(freeLoopbackPort());
  {
    auto server = HealthServer::start({clock, heartbeat, readiness, store}, {address, 2min});
    ASSERT_TRUE(server) << server.error().message;
    EXPECT_EQ((*server)->url(), "http://" + address);
  }
  // The port is free again: a second server can take it.
  auto again = HealthServer::start({clock, heartbeat, readiness, store}, {address, 2min});
  ASSERT_TRUE(again) << again.error().message;
  web::http::client::http_client client((*again)->url());
  EXPECT_EQ(client.request(web::http::methods::GET, "/healthz").get().status_code(), 200);
}

}  // namespace
}  // namespace endpointbinder::server
