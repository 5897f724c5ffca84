#include "controller/aws/query_xml.h"

#include <fmt/format.h>

#include <string>

namespace endpointbinder::aws {

std::unexpected<core::Error> malformedResponse(std::string_view action, std::string_view what) {
  return core::makeError(core::ErrorKind::kRetryable, fmt::format("{} response: {}", action, what),
                         "MalformedResponse");
}

core::Result<pugi::xml_node> responseRoot(pugi::xml_document& doc, std::string_view xml,
                                          std::string_view action) {
  const pugi::xml_parse_result parsed =
      doc.load_buffer(xml.data(), xml.size(), pugi::parse_default);
  if (!parsed) {
    return malformedResponse(action, fmt::format("not well-formed XML ({} at offset {})",
                                                 parsed.description(), parsed.offset));
  }
  const pugi::xml_node root = doc.document_element();
  const std::string expectedRoot = fmt::format("{}Response", action);
  if (expectedRoot != root.name()) {
    return malformedResponse(
        action, fmt::format("root element is <{}>, expected <{}>",
                            std::string_view(root.name()).substr(0, 64), expectedRoot));
  }
  return root;
}

}  // namespace endpointbinder::aws
