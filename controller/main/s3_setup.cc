#include "controller/main/s3_setup.h"

namespace endpointbinder::cli {

bool isS3Manifest(std::string_view manifest) { return manifest.starts_with("s3://"); }

std::string checkS3Manifests(const std::vector<std::string>& manifests) {
  bool anyS3 = false;
  bool anyFile = false;
  for (const auto& m : manifests) (isS3Manifest(m) ? anyS3 : anyFile) = true;
  if (!anyS3) return {};
  if (anyFile) {
    return "give either manifest files and directories or s3:// locations, not both";
  }
  for (const auto& m : manifests) {
    if (!aws::parseS3Url(m)) {
      return "\"" + m +
             "\" is not an S3 location: expected s3://bucket/prefix/ (bucket: 3-63 of a-z 0-9 . -)";
    }
  }
  return {};
}

core::Result<std::unique_ptr<S3Manifests>> buildS3Manifests(AwsSetup& aws) {
  auto endpoint = aws.config.endpoint(aws::AwsService::kS3);
  if (!endpoint) return std::unexpected(endpoint.error());
  aws::S3ServiceOptions options;
  options.region = endpoint->signingRegion.empty() ? aws.config.region : endpoint->signingRegion;
  // AWS's own endpoint: the client addresses buckets virtual-hosted; a configured one
  // (VPC interface endpoint, emulator) path-style.
  if (endpoint->source != "default") options.endpoint = endpoint->url;
  options.attemptTimeout = aws.attemptTimeout;
  options.retry = aws.retry;
  auto out = std::make_unique<S3Manifests>();
  out->endpoint = *endpoint;
  out->client = std::make_unique<aws::S3Client>(std::move(options), *aws.transport,
                                                *aws.credentials, *aws.clock, aws.hooks);
  out->loader = std::make_unique<runtime::S3ManifestLoader>(*out->client);
  return out;
}

}  // namespace endpointbinder::cli
