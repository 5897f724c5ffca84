#include "api/warnings.h"

#include <variant>

namespace endpointbinder::api {

Diagnostics manifestWarnings(const ManifestSet& set) {
  Diagnostics warnings;
  for (const auto& binding : set.targetGroupBindings) {
    const auto* dns = std::get_if<DnsSource>(&binding.spec.source);
    if (dns == nullptr || dns->hostname.find('.') != std::string::npos) continue;
    warnings.push_back(Diagnostic{
        binding.origin.file, binding.origin.line, binding.origin.column, "spec.source.dns.hostname",
        "\"" + dns->hostname +
            "\" is a single-label name: it is looked up exactly as written, never with the "
            "search domains of /etc/resolv.conf, so it resolves only if DNS has that very "
            "name; write the fully qualified name (e.g. \"" +
            dns->hostname + ".example.internal\")"});
  }
  return warnings;
}

}  // namespace endpointbinder::api
