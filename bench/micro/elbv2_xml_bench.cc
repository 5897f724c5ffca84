// Parsing DescribeTargetHealth for a target group of 1,000 targets, the largest response a
// resync reads (AWS's default target limit per group). The document is built once, in the
// exact shape ELBv2 (2015-12-01) returns: <member> with HealthCheckPort, TargetHealth
// (State, and Reason/Description when not healthy) and Target (Id, Port, and AvailabilityZone
// for IPs outside the VPC), then ResponseMetadata/RequestId. The mix of states is a steady
// group with a little movement: 90% healthy, 4% initial, 3% draining, 2% unhealthy, 1% unused.
#include <benchmark/benchmark.h>

#include <string>

#include "bench/micro/bench_targets.h"
#include "controller/aws/elbv2_xml.h"

namespace endpointbinder::bench {
namespace {

struct HealthLine {
  const char* state;
  const char* reason;       // empty when healthy
  const char* description;  // empty when healthy
};

HealthLine healthFor(std::uint32_t i) {
  switch (i % 100) {
    case 0:
    case 1:
    case 2:
    case 3:
      return {"initial", "Elb.RegistrationInProgress", "Target registration is in progress"};
    case 4:
    case 5:
    case 6:
      return {"draining", "Target.DeregistrationInProgress",
              "Target deregistration is in progress"};
    case 7:
    case 8:
      return {"unhealthy", "Target.Timeout", "Request timed out"};
    case 9:
      return {"unused", "Target.NotInUse",
              "Target group is not configured to receive traffic from the load balancer"};
    default:
      return {"healthy", "", ""};
  }
}

std::string describeTargetHealthXml(std::uint32_t count) {
  std::string xml =
      "<DescribeTargetHealthResponse "
      "xmlns=\"http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/\">\n"
      "  <DescribeTargetHealthResult>\n"
      "    <TargetHealthDescriptions>\n";
  for (std::uint32_t i = 0; i < count; ++i) {
    const HealthLine health = healthFor(i);
    xml += "      <member>\n        <HealthCheckPort>443</HealthCheckPort>\n";
    xml += "        <TargetHealth>\n";
    if (*health.reason != '\0') {
      xml += std::string("          <Reason>") + health.reason + "</Reason>\n";
      xml += std::string("          <Description>") + health.description + "</Description>\n";
    }
    xml += std::string("          <State>") + health.state + "</State>\n";
    xml += "        </TargetHealth>\n        <Target>\n";
    // Every tenth target is an address outside the VPC, registered with AZ "all".
    if (i % 10 == 5) xml += "          <AvailabilityZone>all</AvailabilityZone>\n";
    xml += "          <Port>443</Port>\n";
    xml += "          <Id>" + nthAddress(i) + "</Id>\n";
    xml += "        </Target>\n      </member>\n";
  }
  xml +=
      "    </TargetHealthDescriptions>\n"
      "  </DescribeTargetHealthResult>\n"
      "  <ResponseMetadata>\n"
      "    <RequestId>5f3ab7a1-1f0e-4a0c-9a57-2d6c3c1e9f10</RequestId>\n"
      "  </ResponseMetadata>\n"
      "</DescribeTargetHealthResponse>\n";
  return xml;
}

void BM_ParseDescribeTargetHealth(benchmark::State& state) {
  const auto count = static_cast<std::uint32_t>(state.range(0));
  const std::string xml = describeTargetHealthXml(count);
  std::size_t parsed = 0;
  for (auto _ : state) {
    auto targets = aws::parseDescribeTargetHealth(xml);
    if (!targets) {
      state.SkipWithError(targets.error().toString().c_str());
      break;
    }
    parsed = targets->size();
    benchmark::DoNotOptimize(targets);
  }
  if (parsed != count) state.SkipWithError("parsed a different number of targets");
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * count);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * xml.size()));
  state.counters["targets"] = count;
  state.counters["xml_bytes"] = static_cast<double>(xml.size());
}

BENCHMARK(BM_ParseDescribeTargetHealth)->Arg(8)->Arg(1000)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace endpointbinder::bench
