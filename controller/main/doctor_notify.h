// `doctor`'s notification checks, once per destination the manifests name:
//  - Slack webhook: the SSM parameter is readable and decrypts (a SecureString holding an https
//    URL), and the webhook's host is resolvable and reachable through HTTPS_PROXY/NO_PROXY (a
//    GET of its origin "/": any HTTP answer proves DNS, the route and TLS; nothing is posted);
//  - SNS topic: GetTopicAttributes answers (it exists, the Region's endpoint is reachable).
// Each failure carries a hint for private subnets (VPC endpoints for ssm and sns; a NAT gateway
// or an HTTPS proxy for Slack). Nothing printed ever holds the webhook URL: only the parameter
// name and the webhook's host and port.
// Thread-safety: single-threaded, like every command.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "api/decode.h"
#include "controller/core/clock.h"
#include "controller/core/log.h"
#include "controller/main/aws_setup.h"

namespace endpointbinder::cli {

struct DoctorLine {
  enum class Kind { kOk, kWarn, kFail };
  Kind kind = Kind::kOk;
  std::string what;
  std::string hint{};  // for failures
};

std::vector<DoctorLine> checkNotifications(const api::ManifestSet& manifests, const AwsSetup& aws,
                                           const std::string& caBundle,
                                           std::chrono::milliseconds timeout,
                                           const core::Clock& clock, core::Logger& log);

}  // namespace endpointbinder::cli
