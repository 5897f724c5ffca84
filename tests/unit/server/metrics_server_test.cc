// MetricsServer on an ephemeral loopback port, scraped over real HTTP, with its request size
// limits, and its body byte-identical to prometheus-cpp's TextSerializer over Collect().
#include "controller/server/metrics_server.h"

#include <cpprest/http_client.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <prometheus/text_serializer.h>

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

// The body is written straight from the per-binding values (runtime::appendMetricsText): over
// HTTP it must be byte for byte what prometheus-cpp serialized from Collect() before.
TEST(MetricsServerTest, ServesExactlyWhatTextSerializerWritesForManyBindings) {
  auto registry = std::make_shared<prometheus::Registry>();
  runtime::ControllerMetrics metrics(registry, {"0.1.0", "deadbeef"});
  for (int i = 0; i < 1000; ++i) {
    const std::string name =
        (i % 10 == 0 ? "odd\"name\\with\nnewline-" : "web-") + std::to_string(i);
    const std::string ns = "team-" + std::to_string(i % 13);
    metrics.reconcileFinished(ns, name, runtime::ReconcileOutcome::kSuccess,
                              std::chrono::milliseconds(i));
    metrics.setTargets(ns, name, runtime::TargetCounts{i % 9, i % 8, i % 7, 1, 0, 0, 0, 0});
    metrics.setHeldOperations(ns, name, {{"MinTargets", i % 3}});
    metrics.setLastSuccessfulSync(ns, name, 1.7e9 + i / 7.0);
    metrics.setCondition(ns, name, "Ready", runtime::ConditionStatus::kTrue);
  }
  auto collectables = metrics.collectables();
  auto server = MetricsServer::start({"127.0.0.1:0", "/metrics", 1}, collectables);
  ASSERT_TRUE(server) << server.error().message;

  std::vector<prometheus::MetricFamily> families;
  for (const auto& collectable : collectables) {
    for (auto& family : collectable->Collect()) families.push_back(std::move(family));
  }
  const auto expected = prometheus::TextSerializer().Serialize(families);
  const auto served = scrape(baseUrl(**server), "/metrics");
  EXPECT_EQ(served.status, 200);
  ASSERT_EQ(served.body.size(), expected.size());
  EXPECT_TRUE(served.body == expected) << "the served exposition differs from TextSerializer's";
  EXPECT_THAT(served.body, HasSubstr("name=\"odd\\\"name\\\\with\\nnewline-0\""));
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
