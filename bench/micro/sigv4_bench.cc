// SigV4 signing of a typical ELBv2 RegisterTargets request: one binding's 8 addresses, sent as
// the Query client sends it (POST /, form body, ECS task-role credentials with a session
// token). BM_SignRegisterTargets signs a request built outside the loop (the signature is
// recomputed each time, as on every attempt); BM_EncodeAndSignRegisterTargets also builds
// the parameters and the form body, which is the whole per-attempt CPU cost before the
// network. Arg = targets in the call (8 typical, 200 = the chunk size).
#include <benchmark/benchmark.h>

#include <chrono>
#include <string>

#include "bench/micro/bench_targets.h"
#include "controller/aws/elbv2_xml.h"
#include "controller/aws/query_client.h"
#include "controller/aws/sigv4.h"

namespace endpointbinder::bench {
namespace {

constexpr const char* kArn =
    "arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup/opensearch-dash/"
    "4ab4dba084c2bb5c";
constexpr const char* kEndpoint = "https://elasticloadbalancing.ap-northeast-1.amazonaws.com/";

aws::Credentials taskRoleCredentials() {
  aws::Credentials credentials;
  credentials.accessKeyId = "ASIAIOSFODNN7EXAMPLE";
  credentials.secretAccessKey = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
  // Real session tokens are ~1 KB of base64.
  credentials.sessionToken = std::string(1024, 'T');
  credentials.providerName = "container";
  return credentials;
}

aws::SigningParams signingParams() {
  aws::SigningParams params;
  params.region = "ap-northeast-1";
  params.service = "elasticloadbalancing";
  params.time = core::WallTime{std::chrono::seconds(1'700'000'000)};
  return params;
}

aws::HttpRequest registerRequest(const std::string& body) {
  aws::HttpRequest request;
  request.method = "POST";
  request.url = kEndpoint;
  request.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded; charset=utf-8");
  request.body = body;
  return request;
}

void BM_SignRegisterTargets(benchmark::State& state) {
  const auto count = static_cast<std::uint32_t>(state.range(0));
  const std::string body =
      aws::encodeQueryBody("RegisterTargets", aws::kElbv2ApiVersion,
                           aws::registerTargetsParams(kArn, makeTargets(0, count)));
  const aws::Credentials credentials = taskRoleCredentials();
  const aws::SigningParams params = signingParams();
  const aws::HttpRequest unsignedRequest = registerRequest(body);
  for (auto _ : state) {
    aws::HttpRequest request = unsignedRequest;
    aws::SigningResult result = aws::signRequest(request, credentials, params);
    benchmark::DoNotOptimize(result);
    benchmark::DoNotOptimize(request);
  }
  state.counters["body_bytes"] = static_cast<double>(body.size());
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

void BM_EncodeAndSignRegisterTargets(benchmark::State& state) {
  const auto count = static_cast<std::uint32_t>(state.range(0));
  const auto targets = makeTargets(0, count);
  const aws::Credentials credentials = taskRoleCredentials();
  const aws::SigningParams params = signingParams();
  for (auto _ : state) {
    const std::string body = aws::encodeQueryBody("RegisterTargets", aws::kElbv2ApiVersion,
                                                  aws::registerTargetsParams(kArn, targets));
    aws::HttpRequest request = registerRequest(body);
    aws::SigningResult result = aws::signRequest(request, credentials, params);
    benchmark::DoNotOptimize(result);
    benchmark::DoNotOptimize(request);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

BENCHMARK(BM_SignRegisterTargets)->Arg(8)->Arg(200)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_EncodeAndSignRegisterTargets)->Arg(8)->Arg(200)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace endpointbinder::bench
