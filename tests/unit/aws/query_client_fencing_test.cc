// QueryClientHooks::beforeSend, leader election's per-attempt write fencing: asked before every
// attempt (retries included, after their backoff), and a refusal ends the call unsent.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "controller/aws/query_client.h"
#include "tests/support/fake_http_transport.h"

namespace endpointbinder::aws {
namespace {

using testing::FakeCredentialsProvider;
using testing::FakeHttpTransport;

constexpr const char* kOkBody =
    "<RegisterTargetsResponse><RegisterTargetsResult/><ResponseMetadata><RequestId>ok-1"
    "</RequestId></ResponseMetadata></RegisterTargetsResponse>";

struct Harness {
  core::ManualClock clock;
  FakeHttpTransport transport;
  FakeCredentialsProvider credentials;
  std::vector<std::string> asked;
  bool allow = true;

  QueryClient client() {
    QueryServiceOptions options;
    options.service = "elasticloadbalancing";
    options.region = "ap-northeast-1";
    options.endpoint = "https://elasticloadbalancing.ap-northeast-1.amazonaws.com";
    options.apiVersion = "2015-12-01";
    QueryClientHooks hooks;
    hooks.random = [] { return 0.5; };
    hooks.sleep = [this](std::chrono::nanoseconds d) {
      clock.advance(d);
      allow = false;  // the lease is lost while the retry waits
    };
    hooks.beforeSend = [this](std::string_view action) -> core::Result<void> {
      asked.emplace_back(action);
      if (allow) return {};
      return core::makeError(core::ErrorKind::kRetryable, "this replica does not lead",
                             "NotLeader");
    };
    return QueryClient(options, transport, credentials, clock, hooks);
  }
};

TEST(QueryClientFencing, EveryAttemptAsksAndARefusalEndsTheCallUnsent) {
  Harness h;
  h.transport.pushXml(200, kOkBody);
  auto client = h.client();
  ASSERT_TRUE(client.call("RegisterTargets", {}));
  EXPECT_EQ(h.asked, std::vector<std::string>{"RegisterTargets"});

  // A throttled attempt is retried only if the fence still allows it after the backoff.
  h.transport.pushAwsError(400, "Throttling", "Rate exceeded");
  auto refused = client.call("DeregisterTargets", {});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, "NotLeader");
  EXPECT_EQ(h.transport.requestCount(), 2u) << "the retry was never sent";
  EXPECT_EQ(h.asked.size(), 3u);

  // Refused up front: nothing reaches the transport.
  auto none = client.call("AddTags", {});
  ASSERT_FALSE(none);
  EXPECT_EQ(h.transport.requestCount(), 2u);
}

}  // namespace
}  // namespace endpointbinder::aws
