// libFuzzer target for the parsers of EC2, Auto Scaling and SQS Query responses (instance
// sources and the events queue): untrusted bytes from the network, so each parser must return
// a value or an Error and never crash, hang or read out of bounds.
// Seeds: tests/fuzz/corpus/fuzz_instance_response/.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "controller/aws/ec2_xml.h"
#include "controller/aws/sqs_client.h"
#include "controller/core/instance.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace endpointbinder;
  const std::string_view xml(reinterpret_cast<const char*>(data), size);
  if (auto page = aws::parseDescribeInstances(xml)) {
    // Every parsed instance must be usable by the filter evaluator and the index.
    const core::InstanceIndex index(page->instances);
    (void)index.matching({{"tag:role", {"web"}}, {"private-ip-address", {"10.*"}}}, {"running"});
  }
  (void)aws::parseDescribeSpotFleetInstances(xml);
  (void)aws::parseDescribeSpotFleetRequests(xml);
  (void)aws::parseDescribeAutoScalingGroups(xml);
  (void)aws::parseReceiveMessage(xml);
  (void)aws::parseGetQueueAttributes(xml);
  (void)aws::parseDeleteMessage(xml);
  (void)core::ec2WildcardMatch(xml.substr(0, size / 2), xml.substr(size / 2));
  return 0;
}
