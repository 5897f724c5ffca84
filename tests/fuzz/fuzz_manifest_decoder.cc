// libFuzzer target: decodeManifests over arbitrary bytes. Manifests come from a git repository
// anyone with commit rights can write to, so the decoder must never crash, hang, leak or
// throw on any input, and its result must stay self-consistent: every diagnostic names the
// file with a sane position, every returned object has a 16-hex-digit generation that
// matches its spec, and a document either yields an object or a diagnostic.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "api/decode.h"
#include "api/generation.h"

namespace {

void check(bool condition) {
  if (!condition) __builtin_trap();
}

bool isGeneration(const std::string& text) {
  if (text.size() != 16) return false;
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace endpointbinder::api;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const ManifestSet set = decodeManifests(text, "fuzz.yaml");
  check(set.files.size() == 1 && set.files[0] == "fuzz.yaml");
  for (const Diagnostic& diagnostic : set.errors) {
    check(diagnostic.file == "fuzz.yaml");
    check(diagnostic.line >= 0 && diagnostic.column >= 0);
    check(!diagnostic.message.empty());
    check(!diagnostic.toString().empty());
  }
  for (const TargetGroupBinding& binding : set.targetGroupBindings) {
    check(isGeneration(binding.generation));
    check(binding.generation == specGeneration(binding.spec));
    check(!binding.metadata.name.empty() && binding.metadata.name.size() <= 63);
    check(binding.spec.policy.maxDeregistrationsPerSync.resolve(10) >= 0);
  }
  for (const DnsRecordBinding& binding : set.dnsRecordBindings) {
    check(isGeneration(binding.generation));
    check(binding.generation == specGeneration(binding.spec));
  }
  return 0;
}
