// S3Client over a scripted transport: s3:// URLs, addressing (virtual-hosted on AWS, path-style
// on a configured endpoint or for dotted buckets), SigV4 with the payload hash, ListObjectsV2
// pagination, the body cap, and errors.
#include "controller/aws/s3_client.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "controller/aws/sigv4.h"
#include "tests/support/fake_http_transport.h"

namespace endpointbinder::aws {
namespace {

using testing::FakeCredentialsProvider;
using testing::FakeHttpTransport;
using ::testing::HasSubstr;

HttpResponse xml(int status, std::string body, Headers headers = {}) {
  HttpResponse response;
  response.status = status;
  response.headers = std::move(headers);
  response.headers.emplace_back("Content-Type", "application/xml");
  response.body = std::move(body);
  return response;
}

std::string listing(const std::vector<std::pair<std::string, std::string>>& objects,
                    const std::string& next = "") {
  std::string out = "<?xml version=\"1.0\"?><ListBucketResult><Name>b</Name>";
  for (const auto& [key, etag] : objects) {
    out += "<Contents><Key>" + key + "</Key><ETag>" + etag + "</ETag><Size>12</Size></Contents>";
  }
  out += next.empty() ? "<IsTruncated>false</IsTruncated>"
                      : "<IsTruncated>true</IsTruncated><NextContinuationToken>" + next +
                            "</NextContinuationToken>";
  return out + "</ListBucketResult>";
}

struct Harness {
  core::ManualClock clock;
  FakeHttpTransport transport;
  FakeCredentialsProvider credentials;

  S3Client client(std::string endpoint = {}) {
    S3ServiceOptions options;
    options.region = "ap-northeast-1";
    options.endpoint = std::move(endpoint);
    QueryClientHooks hooks;
    hooks.random = [] { return 0.5; };
    hooks.sleep = [this](std::chrono::nanoseconds d) { clock.advance(d); };
    return S3Client(options, transport, credentials, clock, hooks);
  }
};

TEST(S3Url, ParsesBucketAndPrefix) {
  auto location = parseS3Url("s3://manifests-prod/clusters/a/");
  ASSERT_TRUE(location);
  EXPECT_EQ(location->bucket, "manifests-prod");
  EXPECT_EQ(location->prefix, "clusters/a/");
  EXPECT_EQ(parseS3Url("s3://bucket")->prefix, "");
  EXPECT_FALSE(parseS3Url("https://bucket/x"));
  EXPECT_FALSE(parseS3Url("s3://Upper/x"));
  EXPECT_FALSE(parseS3Url("s3://ab/x"));
  EXPECT_FALSE(parseS3Url("s3://-bucket/x"));
  EXPECT_TRUE(isPlainS3Key("prod/web.yaml"));
  EXPECT_FALSE(isPlainS3Key("prod/my web.yaml"));
  EXPECT_FALSE(isPlainS3Key(""));
}

TEST(S3Url, AddressingStyles) {
  S3ServiceOptions aws{"eu-west-1", "", {}, {}};
  EXPECT_EQ(s3Url(aws, "bucket", "a/b.yaml"), "https://bucket.s3.eu-west-1.amazonaws.com/a/b.yaml");
  EXPECT_EQ(s3Url(aws, "my.bucket", "k"), "https://s3.eu-west-1.amazonaws.com/my.bucket/k");
  S3ServiceOptions local{"eu-west-1", "http://127.0.0.1:4566/", {}, {}};
  EXPECT_EQ(s3Url(local, "bucket", "", "list-type=2"), "http://127.0.0.1:4566/bucket/?list-type=2");
}

TEST(S3Client, ListsEveryPageSignedWithThePayloadHash) {
  Harness h;
  h.transport.push(xml(200, listing({{"p/b.yaml", "\"e2\""}}, "token/+=")));
  h.transport.push(xml(200, listing({{"p/a.yaml", "\"e1\""}})));
  auto objects = h.client().listObjects("bucket", "p/");
  ASSERT_TRUE(objects) << objects.error().toString();
  ASSERT_EQ(objects->size(), 2u);
  EXPECT_EQ((*objects)[0].key, "p/a.yaml") << "sorted by key";
  EXPECT_EQ((*objects)[0].etag, "\"e1\"");
  EXPECT_EQ((*objects)[0].size, 12);

  const auto requests = h.transport.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].method, "GET");
  EXPECT_EQ(requests[0].url,
            "https://bucket.s3.ap-northeast-1.amazonaws.com/?list-type=2&prefix=p%2F");
  EXPECT_EQ(requests[1].url,
            "https://bucket.s3.ap-northeast-1.amazonaws.com/"
            "?continuation-token=token%2F%2B%3D&list-type=2&prefix=p%2F");
  EXPECT_EQ(findHeader(requests[0].headers, "x-amz-content-sha256"), sha256Hex(""));
  EXPECT_THAT(std::string(findHeader(requests[0].headers, "Authorization")),
              HasSubstr("/ap-northeast-1/s3/aws4_request"));
  EXPECT_THAT(std::string(findHeader(requests[0].headers, "Authorization")),
              HasSubstr("x-amz-content-sha256"));
}

TEST(S3Client, GetsAnObjectWithItsEtagAndCapsItsSize) {
  Harness h;
  h.transport.push(xml(200, "kind: TargetGroupBinding\n", {{"ETag", "\"abc\""}}));
  h.transport.push(xml(200, std::string(100, 'x')));
  auto client = h.client("http://127.0.0.1:9000");
  auto object = client.getObject("bucket", "p/web.yaml", 1024);
  ASSERT_TRUE(object) << object.error().toString();
  EXPECT_EQ(object->body, "kind: TargetGroupBinding\n");
  EXPECT_EQ(object->etag, "\"abc\"");
  EXPECT_EQ(h.transport.requests()[0].url, "http://127.0.0.1:9000/bucket/p/web.yaml");
  auto big = client.getObject("bucket", "p/big.yaml", 10);
  ASSERT_FALSE(big);
  EXPECT_EQ(big.error().code, "ObjectTooLarge");
  auto odd = client.getObject("bucket", "p/my web.yaml", 10);
  ASSERT_FALSE(odd);
  EXPECT_EQ(odd.error().code, "UnsupportedKey");
  EXPECT_EQ(h.transport.requestCount(), 2u) << "an odd key is never requested";
}

TEST(S3Client, ErrorsSayWhatToDo) {
  Harness h;
  h.transport.push(xml(404,
                       "<Error><Code>NoSuchBucket</Code><Message>The specified bucket does "
                       "not exist</Message><RequestId>r1</RequestId></Error>"));
  h.transport.push(xml(403,
                       "<Error><Code>AccessDenied</Code><Message>Access Denied</Message>"
                       "</Error>"));
  h.transport.push(xml(503, "<Error><Code>SlowDown</Code><Message>Reduce</Message></Error>"));
  h.transport.push(xml(200, listing({})));
  auto client = h.client();
  auto missing = client.listObjects("bucket", "");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().kind, core::ErrorKind::kNotFound);
  EXPECT_EQ(missing.error().requestId, "r1");
  EXPECT_THAT(missing.error().message, HasSubstr("ListObjectsV2: The specified bucket"));
  auto denied = client.listObjects("bucket", "");
  ASSERT_FALSE(denied);
  EXPECT_EQ(denied.error().kind, core::ErrorKind::kAuth);
  auto retried = client.listObjects("bucket", "");
  ASSERT_TRUE(retried) << "SlowDown is retried";
  EXPECT_TRUE(retried->empty());
  EXPECT_FALSE(parseListObjectsV2("<nope/>"));
  EXPECT_FALSE(
      parseListObjectsV2("<ListBucketResult><IsTruncated>true</IsTruncated>"
                         "</ListBucketResult>"));
}

}  // namespace
}  // namespace endpointbinder::aws
