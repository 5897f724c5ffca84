// S3 manifests for `run --manifests s3://bucket/prefix/`: the S3 client (on AwsSetup's shared
// transport and credentials, endpoint AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL / --aws-endpoint-url
// as every service, path-style on a configured endpoint) and the S3ManifestLoader that the
// ManifestStore reads through. Polled every --s3-poll-interval (no inotify for S3): one
// ListObjectsV2 per 1,000 objects per poll, a GetObject only for an object whose ETag changed.
// Thread-safety: build once; the loader and client are safe for concurrent use.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "controller/aws/s3_client.h"
#include "controller/core/error.h"
#include "controller/main/aws_setup.h"
#include "controller/runtime/s3_manifest_loader.h"

namespace endpointbinder::cli {

// True when `manifest` names an S3 location ("s3://...").
bool isS3Manifest(std::string_view manifest);

// Checks --manifests when some name S3: all must then be valid s3://bucket/prefix/ URLs
// (mixing files and S3 is refused). Returns the message of the first problem, or "" when fine.
std::string checkS3Manifests(const std::vector<std::string>& manifests);

struct S3Manifests {
  aws::ResolvedEndpoint endpoint;
  std::unique_ptr<aws::S3Client> client;
  std::unique_ptr<runtime::S3ManifestLoader> loader;
};

// Builds the client and loader. Fails when no endpoint can be resolved (no region).
core::Result<std::unique_ptr<S3Manifests>> buildS3Manifests(AwsSetup& aws);

}  // namespace endpointbinder::cli
