// libFuzzer target for every parser of Route 53 REST-XML responses and error documents: the
// input is untrusted bytes from the network, so each parser must return a value or an Error
// and never crash, hang or read out of bounds. Every record set parsed from a listing is
// written back into a change batch, which must then be well-formed XML (or refused as input).
// Seeds: tests/fuzz/corpus/fuzz_route53_response/.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <pugixml.hpp>
#include <string_view>

#include "controller/aws/route53_client.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace endpointbinder::aws;
  const std::string_view xml(reinterpret_cast<const char*>(data), size);

  (void)parseGetHostedZone(xml);
  (void)parseChangeInfo(xml, "GetChange");
  (void)parseChangeInfo(xml, "ChangeResourceRecordSets");
  if (auto page = parseListResourceRecordSets(xml)) {
    std::vector<RecordChange> changes;
    for (const ResourceRecordSet& set : page->sets) {
      if (!set.special) changes.push_back({ChangeAction::kDelete, set});
    }
    if (auto batch = changeBatchXml(changes, "fuzz"); batch) {
      pugi::xml_document doc;
      if (!doc.load_buffer(batch->data(), batch->size())) std::abort();
    }
  }

  HttpResponse response;
  response.status = size > 0 ? 400 + data[0] % 200 : 500;
  response.headers = {{"Content-Type", "text/xml"}, {"x-amzn-RequestId", "fuzz"}};
  response.body.assign(xml);
  const endpointbinder::core::Error error = parseRoute53Error(response, "ChangeResourceRecordSets");
  (void)error.toString();
  return 0;
}
