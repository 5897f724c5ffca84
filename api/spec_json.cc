#include "api/spec_json.h"

#include <variant>

#include "api/syntax.h"

namespace endpointbinder::api {

namespace {

// Length of the well-formed UTF-8 sequence starting at text[i], or 0 when it is not one.
size_t utf8SequenceLength(std::string_view text, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char lead = byte(i);
  size_t length = 0;
  unsigned char min = 0x80;
  unsigned char max = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) min = 0xA0;  // overlong
    if (lead == 0xED) max = 0x9F;  // UTF-16 surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) min = 0x90;  // overlong
    if (lead == 0xF4) max = 0x8F;  // above U+10FFFF
  } else {
    return 0;
  }
  if (i + length > text.size()) return 0;
  if (byte(i + 1) < min || byte(i + 1) > max) return 0;
  for (size_t k = 2; k < length; ++k) {
    if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return 0;
  }
  return length;
}

// A tiny ordered JSON object writer: enough for specs, without a JSON library in api/.
class Object {
 public:
  Object& raw(std::string_view key, const std::string& json) {
    out_ += out_.empty() ? "{" : ",";
    out_ += jsonQuote(key) + ":" + json;
    return *this;
  }
  Object& str(std::string_view key, std::string_view value) { return raw(key, jsonQuote(value)); }
  Object& num(std::string_view key, long long value) { return raw(key, std::to_string(value)); }
  Object& boolean(std::string_view key, bool value) { return raw(key, value ? "true" : "false"); }
  std::string done() const { return out_.empty() ? "{}" : out_ + "}"; }

 private:
  std::string out_;
};

template <typename T, typename F>
std::string array(const std::vector<T>& items, F toJson) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += ",";
    out += toJson(items[i]);
  }
  return out + "]";
}

std::string sourceJson(const Source& source) {
  Object kind;
  if (const auto* dns = std::get_if<DnsSource>(&source)) {
    std::vector<std::string> families;
    if (dns->ipv4) families.push_back("IPv4");
    if (dns->ipv6) families.push_back("IPv6");
    kind.str("hostname", dns->hostname)
        .raw("addressFamilies", array(families, [](const std::string& f) { return jsonQuote(f); }))
        .num("lookupsPerRefresh", dns->lookupsPerRefresh)
        .str("minRefreshInterval", formatDuration(dns->minRefreshInterval))
        .str("maxRefreshInterval", formatDuration(dns->maxRefreshInterval));
  } else if (const auto* fixed = std::get_if<StaticSource>(&source)) {
    kind.raw("addresses",
             array(fixed->addresses, [](const IpAddress& a) { return jsonQuote(a.toString()); }));
  } else if (const auto* ec2 = std::get_if<Ec2Source>(&source)) {
    kind.raw("filters",
             array(ec2->filters,
                   [](const Ec2Filter& f) {
                     return Object()
                         .str("name", f.name)
                         .raw("values",
                              array(f.values, [](const std::string& v) { return jsonQuote(v); }))
                         .done();
                   }))
        .raw("states", array(ec2->states, [](const std::string& s) { return jsonQuote(s); }));
  } else if (const auto* fleet = std::get_if<SpotFleetSource>(&source)) {
    kind.str("requestId", fleet->requestId);
  } else if (const auto* asg = std::get_if<AutoScalingGroupSource>(&source)) {
    kind.str("name", asg->name);
  }
  return Object().raw(sourceKindName(source), kind.done()).done();
}

}  // namespace

std::string jsonQuote(std::string_view text) {
  constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x80) {
      const size_t length = utf8SequenceLength(text, i);
      if (length == 0) {
        out += "\\ufffd";
        ++i;
      } else {
        out.append(text.substr(i, length));
        i += length;
      }
      continue;
    }
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out += "\\u00";
          out += kHex[c >> 4];
          out += kHex[c & 0xF];
        } else {
          out += static_cast<char>(c);
        }
    }
    ++i;
  }
  out += '"';
  return out;
}

std::string specToJson(const TargetGroupBindingSpec& spec) {
  const auto& p = spec.policy;
  Object policy;
  policy.str("deregistrationGracePeriod", formatDuration(p.deregistrationGracePeriod))
      .str("unhealthyGracePeriod", formatDuration(p.unhealthyGracePeriod))
      .boolean("prune", p.prune)
      .num("minTargets", p.minTargets)
      .raw("maxDeregistrationsPerSync", p.maxDeregistrationsPerSync.isPercent
                                            ? jsonQuote(p.maxDeregistrationsPerSync.toString())
                                            : std::to_string(p.maxDeregistrationsPerSync.value))
      .boolean("requireHealthyReplacements", p.requireHealthyReplacements)
      .raw("allowedCIDRs",
           array(p.allowedCidrs, [](const Cidr& c) { return jsonQuote(c.toString()); }))
      .str("deletionPolicy", p.deletionPolicy == DeletionPolicy::kRetain ? "Retain" : "Deregister");
  if (!std::holds_alternative<DnsSource>(spec.source) &&
      !std::holds_alternative<StaticSource>(spec.source)) {
    policy.boolean("deregisterOnSpotInterruption", deregistersOnSpotInterruption(spec));
  }
  Object out;
  out.str("targetGroupARN", spec.targetGroupArn.text)
      .str("targetType", spec.targetType == TargetType::kIp ? "ip" : "instance");
  if (spec.port) out.num("port", *spec.port);
  if (spec.availabilityZone) out.str("availabilityZone", *spec.availabilityZone);
  if (spec.assumeRole) {
    out.str("assumeRoleARN", spec.assumeRole->role.text);
    // An external id is not a secret (AWS: it guards against the confused deputy, not
    // against someone who reads it), but there is no need to print it: say whether one is set.
    if (!spec.assumeRole->externalId.empty()) out.str("externalId", "(set)");
  }
  out.raw("source", sourceJson(spec.source)).raw("policy", policy.done());
  return out.done();
}

}  // namespace endpointbinder::api
