// MetricsServer on an ephemeral loopback port, scraped over real HTTP, with its request size
// limits.
#include "controller/server/metrics_server.h"

#include <cpprest/http_client.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "controller/runtime/metrics.h"

namespace endpointbinder::server {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

struct Scrape {
  int status = 0;
  std::string contentType;
  std::string body;
};

Scrape scrape(const std::string& base, const std::string& path) {
  web::http::client::http_client client(base);
  auto response = client.request(web::http::methods::GET, path).get();
  return {response.status_code(), response.headers().content_type(),
          response.extract_utf8string(/*ignore_content_type=*/true).get()};
}

std::string baseUrl(const MetricsServer& server) {
  return "http://127.0.0.1:" + std::to_string(server.port());
}

TEST(MetricsServerTest, ServesControllerAndProcessMetricsOnAnEphemeralPort) {
  auto registry = std::make_shared<prometheus::Registry>();
  runtime::ControllerMetrics metrics(registry, {"0.1.0", "deadbeef"});
  auto collectables = metrics.collectables();
  collectables.push_back(std::make_shared<runtime::ProcessCollector>());
  auto server = MetricsServer::start({"127.0.0.1:0", "/metrics", 1}, collectables);
  ASSERT_TRUE(server) << server.error().message;
  ASSERT_GT((*server)->port(), 0);
  EXPECT_EQ((*server)->url(), "http://127.0.0.1:" + std::to_string((*server)->port()) + "/metrics");

  auto first = scrape(baseUrl(**server), "/metrics");
  EXPECT_EQ(first.status, 200);
  EXPECT_THAT(first.contentType, HasSubstr("text/plain"));
  EXPECT_THAT(first.body,
              HasSubstr("endpointbinder_build_info{commit=\"deadbeef\",version=\"0.1.0\"} 1\n"));
  EXPECT_THAT(first.body, HasSubstr("\nprocess_resident_memory_bytes "));
  EXPECT_THAT(first.body, HasSubstr("\nprocess_open_fds "));
  EXPECT_THAT(first.body, Not(HasSubstr("endpointbinder_reconcile_total{")));

  // Later changes show in the next scrape.
  metrics.reconcileFinished("prod", "web", runtime::ReconcileOutcome::kSuccess,
                            std::chrono::milliseconds(5));
  auto second = scrape(baseUrl(**server), "/metrics");
  EXPECT_THAT(second.body, HasSubstr("endpointbinder_reconcile_total{name=\"web\",namespace="
                                     "\"prod\",result=\"success\"} 1\n"));
}

TEST(MetricsServerTest, CustomPath) {
  auto registry = std::make_shared<prometheus::Registry>();
  runtime::ControllerMetrics metrics(registry);
  auto server = MetricsServer::start({"127.0.0.1:0", "/internal/metrics", 1}, {registry});
  ASSERT_TRUE(server) << server.error().message;
  EXPECT_THAT(scrape(baseUrl(**server), "/internal/metrics").body,
              HasSubstr("endpointbinder_build_info{commit=\"unknown\",version=\"unknown\"} 1"));
  EXPECT_EQ(scrape(baseUrl(**server), "/metrics").status, 404);
}

TEST(MetricsServerTest, OversizedRequestsAre431And413) {
  auto registry = std::make_shared<prometheus::Registry>();
  runtime::ControllerMetrics metrics(registry);
  auto server = MetricsServer::start({"127.0.0.1:0", "/metrics", 1}, {registry});
  ASSERT_TRUE(server) << server.error().message;
  web::http::client::http_client client(baseUrl(**server));

  web::http::http_request bigHead(web::http::methods::GET);
  bigHead.set_request_uri("/metrics");
  bigHead.headers().add("X-Padding", std::string(MetricsServer::kMaxHeadBytes + 1, 'a'));
  EXPECT_EQ(client.request(bigHead).get().status_code(), 431);

  web::http::http_request bigBody(web::http::methods::GET);
  bigBody.set_request_uri("/metrics");
  bigBody.set_body(std::vector<unsigned char>(MetricsServer::kMaxBodyBytes + 1, 'b'));
  EXPECT_EQ(client.request(bigBody).get().status_code(), 413);

  EXPECT_EQ(scrape(baseUrl(**server), "/metrics").status, 200);
  EXPECT_EQ(client.request(web::http::methods::POST, "/metrics").get().status_code(), 405);
}

TEST(MetricsServerTest, ABusyPortOrABadAddressIsAnError) {
  auto registry = std::make_shared<prometheus::Registry>();
  auto first = MetricsServer::start({"127.0.0.1:0", "/metrics", 1}, {registry});
  ASSERT_TRUE(first) << first.error().message;
  const auto taken = "127.0.0.1:" + std::to_string((*first)->port());
  auto second = MetricsServer::start({taken, "/metrics", 1}, {registry});
  ASSERT_FALSE(second) << "bound a port that is in use";
  EXPECT_EQ(second.error().kind, core::ErrorKind::kTerminal);
  EXPECT_THAT(second.error().message, HasSubstr("cannot serve metrics on " + taken));

  for (const char* address : {"", "127.0.0.1", "127.0.0.1:", "127.0.0.1:http"}) {
    auto server = MetricsServer::start({address, "/metrics", 1}, {registry});
    ASSERT_FALSE(server) << address;
    EXPECT_THAT(server.error().message, HasSubstr("is not host:port"));
  }
  auto badPath = MetricsServer::start({"127.0.0.1:0", "metrics", 1}, {registry});
  ASSERT_FALSE(badPath);
  EXPECT_THAT(badPath.error().message, HasSubstr("must start with /"));
}

}  // namespace
}  // namespace endpointbinder::server
