// AWS Signature Version 4 (header signing). Pure: the signing time is a parameter.
// Thread-safety: free functions.
#pragma once

#include <string>

#include "controller/aws/credentials.h"
#include "controller/aws/http.h"
#include "controller/core/clock.h"

namespace endpointbinder::aws {

struct SigningParams {
  std::string region;   // "ap-northeast-1"; "us-east-1" for Route 53
  std::string service;  // "elasticloadbalancing", "sts", "route53", "ec2", "autoscaling"
  core::WallTime time;
  bool normalizePath = true;   // RFC 3986 dot-segment removal (false only for S3)
  bool signBody = false;       // add x-amz-content-sha256 (S3 style); ELBv2/STS/EC2 do not
};

struct SigningResult {
  std::string canonicalRequest;
  std::string stringToSign;
  std::string signature;      // lowercase hex
  std::string authorization;  // the Authorization header value
};

// Adds X-Amz-Date, X-Amz-Security-Token (when credentials carry one), Host (when absent) and
// Authorization to `request`, and returns the intermediate strings for tests and debugging.
SigningResult signRequest(HttpRequest& request, const Credentials& credentials,
                          const SigningParams& params);

}  // namespace endpointbinder::aws
