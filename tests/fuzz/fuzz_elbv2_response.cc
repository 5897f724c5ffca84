// libFuzzer target for every parser of ELBv2 Query responses and AWS error documents: the
// input is untrusted bytes from the network, so each parser must return a value or an Error
// and never crash, hang or read out of bounds. Seeds: tests/fuzz/corpus/fuzz_elbv2_response/.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "controller/aws/elbv2_xml.h"
#include "controller/aws/query_client.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace endpointbinder::aws;
  const std::string_view xml(reinterpret_cast<const char*>(data), size);

  (void)parseDescribeTargetGroups(xml);
  if (auto targets = parseDescribeTargetHealth(xml)) {
    for (const auto& observed : *targets) {
      // Every parsed target must be usable as a planner key.
      (void)observed.target.key();
    }
  }
  (void)parseDescribeTags(xml);
  (void)parseEmptyResponse(xml, "RegisterTargets");

  HttpResponse response;
  response.status = size > 0 ? 400 + data[0] % 200 : 500;
  response.headers = {{"Content-Type", "text/html"}, {"x-amzn-RequestId", "fuzz"}};
  response.body.assign(xml);
  const endpointbinder::core::Error error = parseQueryError(response, "DescribeTargetHealth");
  (void)error.toString();
  return 0;
}
