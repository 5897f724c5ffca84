// S3, the two reads `--manifests s3://bucket/prefix/` needs: ListObjectsV2 (every page; key,
// ETag, size) and GetObject (the body, capped). REST protocol: GET requests signed with SigV4
// for service "s3" with the payload hash in x-amz-content-sha256 (S3 requires it);
// virtual-hosted addressing (https://<bucket>.s3.<region>.amazonaws.com/<key>) on AWS's
// endpoints, path-style (<endpoint>/<bucket>/<key>) on a configured one (AWS_ENDPOINT_URL_S3,
// an emulator) and for bucket names with dots (TLS wildcard certificates do not cover them).
// Standard-mode retries as every client (SignedSender, retry.h): throttling (SlowDown, 503)
// and 5xx.
// Errors: <Error><Code/><Message/><RequestId/></Error>; NoSuchBucket and NoSuchKey are
// kNotFound, AccessDenied kAuth.
//
// Keys are sent as they are: object keys must use only A-Z a-z 0-9 - _ . ~ and '/', which need
// no escaping (isPlainS3Key); S3ManifestLoader reports other keys instead of reading them.
// Thread-safety: S3Client may be used concurrently; the builders and parsers are pure.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "controller/aws/credentials.h"
#include "controller/aws/http.h"
#include "controller/aws/query_client.h"
#include "controller/aws/retry.h"
#include "controller/aws/signed_sender.h"
#include "controller/core/clock.h"
#include "controller/core/error.h"

namespace endpointbinder::aws {

struct S3Object {
  std::string key;
  std::string etag;  // as S3 gives it, quotes included
  std::int64_t size = 0;
};

struct S3ObjectBody {
  std::string body;
  std::string etag;
};

// "s3://bucket/prefix/" -> bucket "bucket", prefix "prefix/". nullopt unless it starts with
// s3:// and names a valid bucket (3-63 of a-z 0-9 . -, starting and ending with a letter or
// digit); the prefix may be empty.
struct S3Location {
  std::string bucket;
  std::string prefix;
};
std::optional<S3Location> parseS3Url(std::string_view url);

// True for keys made only of A-Z a-z 0-9 - _ . ~ /.
bool isPlainS3Key(std::string_view key);

class S3Api {
 public:
  virtual ~S3Api() = default;
  // Every object whose key starts with `prefix`, in key order.
  virtual core::Result<std::vector<S3Object>> listObjects(const std::string& bucket,
                                                          const std::string& prefix) = 0;
  // The object's content; kTerminal "ObjectTooLarge" when it is over `maxBytes`.
  virtual core::Result<S3ObjectBody> getObject(const std::string& bucket, const std::string& key,
                                               std::size_t maxBytes) = 0;
};

struct S3ServiceOptions {
  std::string region;    // for signing and the default endpoint
  std::string endpoint;  // empty: AWS's (virtual-hosted); else path-style on this URL
  std::chrono::milliseconds attemptTimeout{10'000};
  RetryOptions retry;
};

// The URL of `key` in `bucket` ("" for the bucket itself) with `query` (already encoded).
std::string s3Url(const S3ServiceOptions& options, const std::string& bucket,
                  const std::string& key, const std::string& query = {});

// One ListObjectsV2 page.
struct S3ListPage {
  std::vector<S3Object> objects;
  std::optional<std::string> nextContinuationToken;  // set while truncated
};
// Parses a ListBucketResult. kRetryable "MalformedResponse" when it is not one.
core::Result<S3ListPage> parseListObjectsV2(std::string_view xml);

// A non-2xx answer as an Error (`operation` prefixes the message).
core::Error parseS3Error(const HttpResponse& response, std::string_view operation);

class S3Client final : public S3Api {
 public:
  S3Client(S3ServiceOptions options, HttpTransport& transport, CredentialsProvider& credentials,
           const core::Clock& clock, QueryClientHooks hooks = {});

  core::Result<std::vector<S3Object>> listObjects(const std::string& bucket,
                                                  const std::string& prefix) override;
  core::Result<S3ObjectBody> getObject(const std::string& bucket, const std::string& key,
                                       std::size_t maxBytes) override;

 private:
  // One GET with retries; the 2xx response.
  core::Result<HttpResponse> get(std::string_view operation, const std::string& url);

  const S3ServiceOptions options_;
  SignedSender sender_;
};

}  // namespace endpointbinder::aws
