#include "api/decode.h"

#include <sys/stat.h>

#include <algorithm>
#include <climits>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>

#include "api/generation.h"
#include "api/suggest.h"
#include "api/syntax.h"
#include "api/yaml_tree.h"

namespace endpointbinder::api {

namespace {

namespace fs = std::filesystem;

// A manifest repository holds small files; anything this large is a mistake (or an attack on
// the controller's memory), reported instead of read.
constexpr uintmax_t kMaxFileBytes = 16 * 1024 * 1024;

constexpr int64_t kInt32Max = INT32_MAX;
constexpr Duration kSecond = std::chrono::seconds(1);
constexpr Duration kHour = std::chrono::hours(1);
constexpr Duration kDay = std::chrono::hours(24);

const std::vector<std::string_view> kSourceKinds = {"dns", "static", "ec2", "spotFleet",
                                                    "autoScalingGroup"};
const std::vector<std::string_view> kEc2States = {"pending",    "running",  "shutting-down",
                                                  "terminated", "stopping", "stopped"};
const std::vector<std::string_view> kEvents = {"Registered", "Deregistered", "Blocked", "Conflict",
                                               "Failing"};

// ---- field paths and positions ----

bool isPlainPathKey(std::string_view key) {
  if (key.empty()) return false;
  return std::all_of(key.begin(), key.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
  });
}

// "spec.policy" + "prune"; keys that are not plain identifiers are bracketed and quoted:
// metadata.labels["app.kubernetes.io/name"].
std::string childPath(const std::string& parent, std::string_view key) {
  if (!isPlainPathKey(key)) return parent + "[" + quoteForMessage(key) + "]";
  if (parent.empty()) return std::string(key);
  return parent + "." + std::string(key);
}

std::string itemPath(const std::string& parent, size_t index) {
  return parent + "[" + std::to_string(index) + "]";
}

std::string formatPosition(YamlPosition position) {
  return std::to_string(position.line) + ":" + std::to_string(position.column);
}

std::string joinNames(const std::vector<std::string_view>& names) {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += ", ";
    out += names[i];
  }
  return out;
}

// A value at a field path: a mapping entry (key set), a list item, or absent (node null).
struct Field {
  const YamlNode* node = nullptr;
  const YamlNode* key = nullptr;
  std::string path;

  explicit operator bool() const { return node != nullptr; }

  // Bad values are reported at the value. An empty value ("port:") has no text of its own
  // and yaml-cpp places it at the next token, often on a later line: point at the key.
  YamlPosition position() const {
    if (key != nullptr && node->kind == YamlNodeKind::kNull &&
        (node->position.line != key->position.line || node->position.line == 0)) {
      return key->position;
    }
    return node->position;
  }
  YamlPosition keyPosition() const { return key != nullptr ? key->position : node->position; }
};

// Scalar text for a message, cut when long (a number can have a million digits).
std::string shortText(std::string_view text) {
  constexpr size_t kMax = 40;
  if (text.size() <= kMax) return std::string(text);
  return std::string(text.substr(0, kMax)) + "...";
}

// How a value looks, for "expected X, got Y" messages.
std::string describe(const YamlNode& node) {
  switch (node.kind) {
    case YamlNodeKind::kNull:
      return "null";
    case YamlNodeKind::kSequence:
      return "a list";
    case YamlNodeKind::kMapping:
      return "a mapping";
    case YamlNodeKind::kScalar:
      break;
  }
  switch (node.scalarType()) {
    case YamlScalarType::kNull:
      return "null";
    case YamlScalarType::kBool:
      return "boolean " + node.value;
    case YamlScalarType::kInt:
      return "integer " + shortText(node.value);
    case YamlScalarType::kFloat:
      return "number " + shortText(node.value);
    case YamlScalarType::kString:
    case YamlScalarType::kUnsupportedTag:
      break;
  }
  return "string " + quoteForMessage(node.value);
}

// "ap-northeast-1a" and the Local Zone "us-west-2-lax-1a" are in their region's name space.
bool inRegion(std::string_view zone, std::string_view region) {
  if (!zone.starts_with(region)) return false;
  const std::string_view rest = zone.substr(region.size());
  return rest.size() == 1 || rest.starts_with('-');
}

// ---- the per-document decoder ----

// Typed reads of YAML values for one file. Every read that fails reports a diagnostic and
// returns nullopt; errorCount() lets a caller tell whether everything since a point decoded
// cleanly (a document with any error yields no object).
class Decoder {
 public:
  Decoder(const std::string& file, Diagnostics& diagnostics)
      : file_(file), diagnostics_(diagnostics) {}

  size_t errorCount() const { return errors_; }

  void report(YamlPosition position, std::string path, std::string message) {
    diagnostics_.push_back(
        {file_, position.line, position.column, std::move(path), std::move(message)});
    ++errors_;
  }
  void report(const Field& field, std::string message) {
    report(field.position(), field.path, std::move(message));
  }

  // Reports an explicit YAML tag (the API uses none) and returns false.
  bool checkTag(const Field& field) {
    if (!field.node->hasUnsupportedTag()) return true;
    report(field, "unsupported YAML tag " + quoteForMessage(field.node->tag));
    return false;
  }

  bool expect(const Field& field, YamlNodeKind kind, std::string_view what) {
    if (!checkTag(field)) return false;
    if (field.node->kind == kind) return true;
    report(field, "expected " + std::string(what) + ", got " + describe(*field.node));
    return false;
  }

  std::optional<std::string> readString(const Field& field) {
    if (!checkTag(field)) return std::nullopt;
    const YamlNode& node = *field.node;
    if (node.kind == YamlNodeKind::kScalar && node.scalarType() == YamlScalarType::kString) {
      return node.value;
    }
    std::string message = "expected a string, got " + describe(node);
    if (node.kind == YamlNodeKind::kScalar) message += " (quote it to make it a string)";
    report(field, std::move(message));
    return std::nullopt;
  }

  std::optional<bool> readBool(const Field& field) {
    if (!checkTag(field)) return std::nullopt;
    const YamlNode& node = *field.node;
    if (node.kind == YamlNodeKind::kScalar && node.scalarType() == YamlScalarType::kBool) {
      return node.value[0] == 't' || node.value[0] == 'T';
    }
    report(field, "expected a boolean (true or false), got " + describe(node));
    return std::nullopt;
  }

  std::optional<int64_t> readInt(const Field& field, int64_t min, int64_t max) {
    if (!checkTag(field)) return std::nullopt;
    const YamlNode& node = *field.node;
    if (node.kind != YamlNodeKind::kScalar || node.scalarType() != YamlScalarType::kInt) {
      report(field, "expected an integer, got " + describe(node));
      return std::nullopt;
    }
    return checkRange(field, yamlIntegerValue(node.value), min, max);
  }

  // `value` nullopt means it did not fit in 64 bits; its sign decides which bound it breaks.
  std::optional<int64_t> checkRange(const Field& field, std::optional<int64_t> value, int64_t min,
                                    int64_t max) {
    const std::string text = shortText(field.node->value);
    if (!value) value = field.node->value.starts_with('-') ? INT64_MIN : INT64_MAX;
    if (*value < min) {
      report(field, text + " is below the minimum " + std::to_string(min));
      return std::nullopt;
    }
    if (*value > max) {
      report(field, text + " exceeds the maximum " + std::to_string(max));
      return std::nullopt;
    }
    return value;
  }

  std::optional<Duration> readDuration(const Field& field, Duration min, Duration max) {
    if (!checkTag(field)) return std::nullopt;
    const YamlNode& node = *field.node;
    if (node.kind == YamlNodeKind::kScalar && node.scalarType() == YamlScalarType::kInt) {
      report(field, "expected a duration such as \"90s\", got integer " + shortText(node.value) +
                        " (add a unit: \"" + shortText(node.value) + "s\")");
      return std::nullopt;
    }
    if (node.kind != YamlNodeKind::kScalar || node.scalarType() != YamlScalarType::kString) {
      report(field, "expected a duration such as \"90s\", got " + describe(node));
      return std::nullopt;
    }
    auto duration = parseDuration(node.value);
    if (!duration) {
      report(field, duration.error());
      return std::nullopt;
    }
    if (*duration < min) {
      report(field, shortText(node.value) + " is below the minimum " + formatDuration(min));
      return std::nullopt;
    }
    if (*duration > max) {
      report(field, shortText(node.value) + " exceeds the maximum " + formatDuration(max));
      return std::nullopt;
    }
    return *duration;
  }

  std::optional<std::string> readEnum(const Field& field,
                                      const std::vector<std::string_view>& allowed) {
    auto text = readString(field);
    if (!text) return std::nullopt;
    if (std::find(allowed.begin(), allowed.end(), *text) != allowed.end()) return text;
    std::string message = quoteForMessage(*text) + " is not one of " + joinNames(allowed);
    if (auto suggestion = closestMatch(*text, allowed)) {
      message += "; did you mean " + quoteForMessage(*suggestion) + "?";
    }
    report(field, std::move(message));
    return std::nullopt;
  }

  // The items of a list. An empty list is an error unless `allowEmpty`.
  std::optional<std::vector<Field>> readList(const Field& field, bool allowEmpty = false) {
    if (!expect(field, YamlNodeKind::kSequence, "a list")) return std::nullopt;
    if (field.node->items.empty() && !allowEmpty) {
      report(field, "must not be empty");
      return std::nullopt;
    }
    std::vector<Field> items;
    for (size_t i = 0; i < field.node->items.size(); ++i) {
      items.push_back({field.node->items[i], nullptr, itemPath(field.path, i)});
    }
    return items;
  }

  // A list of strings, each passed through `check` (nullopt from it = already reported);
  // duplicates are reported at the later item.
  template <typename Check>
  std::optional<std::vector<std::string>> readUniqueStrings(const Field& field, Check check) {
    auto items = readList(field);
    if (!items) return std::nullopt;
    std::vector<std::string> values;
    std::map<std::string, const Field*> seen;
    bool ok = true;
    for (const Field& item : *items) {
      auto value = check(item);
      if (!value) {
        ok = false;
        continue;
      }
      if (auto [it, inserted] = seen.emplace(*value, &item); !inserted) {
        report(item, "duplicate " + quoteForMessage(*value) + " (first at " +
                         formatPosition(it->second->position()) + ")");
        ok = false;
        continue;
      }
      values.push_back(*value);
    }
    if (!ok) return std::nullopt;
    return values;
  }

 private:
  const std::string& file_;
  Diagnostics& diagnostics_;
  size_t errors_ = 0;
};

// A mapping read against its known keys. Construction reports a value that is not a
// mapping, keys that are not strings, duplicate keys and unknown keys (with a suggestion).
// With no known keys given the mapping is open (labels): every string key is accepted.
class Mapping {
 public:
  Mapping(Decoder& decoder, const Field& self, std::vector<std::string_view> known,
          bool open = false)
      : decoder_(decoder), self_(self), known_(std::move(known)) {
    valid_ = decoder.expect(self, YamlNodeKind::kMapping, "a mapping");
    if (!valid_) return;
    for (const auto& [key, value] : self.node->entries) {
      if (key->kind != YamlNodeKind::kScalar || key->scalarType() != YamlScalarType::kString) {
        decoder.report(key->position, self.path, "keys must be strings, got " + describe(*key));
        continue;
      }
      Field field{value, key, childPath(self.path, key->value)};
      if (const Field* found = find(key->value)) {
        decoder.report(key->position, field.path,
                       "duplicate key " + quoteForMessage(key->value) + " (first at " +
                           formatPosition(found->key->position) + ")");
        continue;
      }
      if (!open && std::find(known_.begin(), known_.end(), key->value) == known_.end()) {
        std::string message = "unknown field " + quoteForMessage(key->value);
        if (auto suggestion = closestMatch(key->value, known_)) {
          message += "; did you mean " + quoteForMessage(*suggestion) + "?";
        } else {
          message += " (known fields: " + joinNames(known_) + ")";
        }
        decoder.report(key->position, field.path, std::move(message));
        ++unknown_;
        continue;
      }
      index_.emplace(key->value, fields_.size());
      fields_.emplace_back(key->value, std::move(field));
    }
  }

  bool valid() const { return valid_; }
  const Field& self() const { return self_; }
  size_t unknownCount() const { return unknown_; }
  const std::vector<std::pair<std::string, Field>>& fields() const { return fields_; }

  // The value of `key`, or an absent Field carrying the path.
  Field get(std::string_view key) const {
    if (const Field* found = find(key)) return *found;
    return {nullptr, nullptr, childPath(self_.path, key)};
  }

  // Like get(), but reports a missing key at the mapping.
  Field required(std::string_view key) const {
    Field field = get(key);
    if (!field && valid_) {
      decoder_.report(self_.node->position, field.path, "required field is missing");
    }
    return field;
  }

 private:
  const Field* find(std::string_view key) const {
    const auto found = index_.find(key);
    return found == index_.end() ? nullptr : &fields_[found->second].second;
  }

  Decoder& decoder_;
  Field self_;
  std::vector<std::string_view> known_;
  std::vector<std::pair<std::string, Field>> fields_;
  std::map<std::string, size_t, std::less<>> index_;  // into fields_; mappings can be huge
  bool valid_ = false;
  size_t unknown_ = 0;
};

// Where cross-object checks point, recorded while decoding.
struct DecodedObject {
  std::variant<TargetGroupBinding, DnsRecordBinding> object;
  std::string file;
  YamlPosition namePosition;
  YamlPosition arnPosition;  // TargetGroupBinding only
};

const char* kindOf(const DecodedObject& decoded) {
  return decoded.object.index() == 0 ? kKindTargetGroupBinding : kKindDnsRecordBinding;
}

const ObjectMeta& metadataOf(const DecodedObject& decoded) {
  return std::visit([](const auto& o) -> const ObjectMeta& { return o.metadata; }, decoded.object);
}

// Decodes the documents of one file into objects; reports into `diagnostics`.
class DocumentDecoder {
 public:
  DocumentDecoder(const std::string& file, Diagnostics& diagnostics)
      : file_(file), d_(file_, diagnostics) {}

  // Appends the object of `document` to `out` when it has no errors. Empty documents
  // (a stray "---", a file of comments) are skipped.
  void decode(const YamlDocument& document, std::vector<DecodedObject>& out) {
    const YamlNode* root = document.root();
    if (root == nullptr || root->kind == YamlNodeKind::kNull) return;
    const size_t errorsBefore = d_.errorCount();
    namePosition_ = {};
    arnPosition_ = {};
    staticAddresses_.clear();
    spotInterruptionField_ = {};

    if (root->kind != YamlNodeKind::kMapping) {
      d_.report(root->position, "",
                "a manifest must be a mapping with apiVersion, kind, metadata and spec, got " +
                    describe(*root));
      return;
    }
    const Mapping top(d_, Field{root, nullptr, ""},
                      {"apiVersion", "kind", "metadata", "spec", "status"});
    if (!top.valid()) return;
    if (const Field apiVersion = top.required("apiVersion")) {
      if (auto text = d_.readString(apiVersion); text && *text != kApiVersion) {
        d_.report(apiVersion, "unknown apiVersion " + quoteForMessage(*text) + "; expected \"" +
                                  kApiVersion + "\"");
      }
    }
    std::optional<std::string> kind;
    if (const Field kindField = top.required("kind")) kind = readKind(kindField);
    if (const Field status = top.get("status")) {
      d_.report(status.keyPosition(), status.path,
                "status is written by the controller and must not be set in a manifest");
    }
    std::optional<ObjectMeta> metadata;
    if (const Field field = top.required("metadata")) metadata = decodeMetadata(field);
    const Field spec = kind ? top.required("spec") : Field{};

    SourceLocation origin{file_, root->position.line, root->position.column};
    if (kind == kKindTargetGroupBinding) {
      std::optional<TargetGroupBindingSpec> decoded;
      if (spec) decoded = decodeTargetGroupBindingSpec(spec);
      if (d_.errorCount() != errorsBefore || !decoded || !metadata) return;
      TargetGroupBinding binding{*metadata, std::move(*decoded), "", origin};
      binding.generation = specGeneration(binding.spec);
      out.push_back({std::move(binding), file_, namePosition_, arnPosition_});
    } else if (kind == kKindDnsRecordBinding) {
      std::optional<DnsRecordBindingSpec> decoded;
      if (spec) decoded = decodeDnsRecordBindingSpec(spec);
      if (d_.errorCount() != errorsBefore || !decoded || !metadata) return;
      DnsRecordBinding binding{*metadata, std::move(*decoded), "", origin};
      binding.generation = specGeneration(binding.spec);
      out.push_back({std::move(binding), file_, namePosition_, {}});
    }
  }

 private:
  std::optional<std::string> readKind(const Field& field) {
    const std::vector<std::string_view> kinds = {kKindTargetGroupBinding, kKindDnsRecordBinding};
    auto text = d_.readString(field);
    if (!text) return std::nullopt;
    if (std::find(kinds.begin(), kinds.end(), *text) != kinds.end()) return text;
    std::string message = "unknown kind " + quoteForMessage(*text);
    if (auto suggestion = closestMatch(*text, kinds)) {
      message += "; did you mean " + quoteForMessage(*suggestion) + "?";
    } else {
      message += " (" + joinNames(kinds) + ")";
    }
    d_.report(field, std::move(message));
    return std::nullopt;
  }

  // ---- metadata ----

  std::optional<ObjectMeta> decodeMetadata(const Field& field) {
    const Mapping m(d_, field, {"name", "namespace", "labels", "annotations"});
    if (!m.valid()) return std::nullopt;
    ObjectMeta meta;
    bool ok = true;
    if (const Field name = m.required("name")) {
      namePosition_ = name.position();
      ok &= readChecked(name, checkDns1123Label, meta.name);
    } else {
      ok = false;
    }
    if (const Field ns = m.get("namespace")) ok &= readChecked(ns, checkDns1123Label, meta.ns);
    if (const Field labels = m.get("labels")) ok &= readStringMap(labels, true, meta.labels);
    if (const Field annotations = m.get("annotations")) {
      ok &= readStringMap(annotations, false, meta.annotations);
    }
    if (!ok) return std::nullopt;
    return meta;
  }

  // Reads a string and passes it through `check`; true when both succeed.
  template <typename CheckFn>
  bool readChecked(const Field& field, CheckFn check, std::string& out) {
    auto text = d_.readString(field);
    if (!text) return false;
    if (auto result = check(*text); !result) {
      d_.report(field, result.error());
      return false;
    }
    out = std::move(*text);
    return true;
  }

  bool readStringMap(const Field& field, bool labelValues,
                     std::map<std::string, std::string>& out) {
    const Mapping m(d_, field, {}, /*open=*/true);
    if (!m.valid()) return false;
    bool ok = true;
    for (const auto& [key, value] : m.fields()) {
      if (auto check = checkLabelKey(key); !check) {
        d_.report(value.keyPosition(), value.path, check.error());
        ok = false;
        continue;
      }
      std::string text;
      ok &= labelValues ? readChecked(value, checkLabelValue, text)
                        : readChecked(
                              value, [](std::string_view) { return Check{}; }, text);
      out[key] = std::move(text);
    }
    return ok && m.unknownCount() == 0;
  }

  // ---- TargetGroupBinding ----

  std::optional<TargetGroupBindingSpec> decodeTargetGroupBindingSpec(const Field& field) {
    const Mapping m(d_, field,
                    {"targetGroupARN", "targetType", "port", "availabilityZone", "source", "policy",
                     "notifications", "assumeRoleARN", "externalId"});
    if (!m.valid()) return std::nullopt;
    const size_t errorsBefore = d_.errorCount();
    TargetGroupBindingSpec spec;
    std::optional<TargetGroupArn> arn;
    if (const Field f = m.required("targetGroupARN")) {
      arnPosition_ = f.position();
      if (auto text = d_.readString(f)) {
        auto parsed = parseTargetGroupArn(*text);
        if (parsed) {
          arn = *parsed;
          spec.targetGroupArn = std::move(*parsed);
        } else {
          d_.report(f, parsed.error());
        }
      }
    }
    const Field targetType = m.get("targetType");
    bool targetTypeOk = true;
    if (targetType) {
      auto value = d_.readEnum(targetType, {"ip", "instance"});
      targetTypeOk = value.has_value();
      if (value) spec.targetType = *value == "ip" ? TargetType::kIp : TargetType::kInstance;
    }
    if (const Field f = m.get("port")) {
      if (auto port = d_.readInt(f, 1, 65535)) spec.port = static_cast<int>(*port);
    }
    const Field zone = m.get("availabilityZone");
    if (zone) {
      std::string text;
      if (readChecked(zone, checkAvailabilityZone, text)) spec.availabilityZone = text;
    }
    std::optional<Source> source;
    if (const Field f = m.required("source")) source = decodeSource(f, /*instancesOnly=*/false);
    if (const Field f = m.get("policy")) {
      if (auto policy = decodePolicy(f)) spec.policy = std::move(*policy);
    } else {
      spec.policy.allowedCidrs = defaultAllowedCidrs();
    }
    if (const Field f = m.get("notifications")) {
      if (auto items = d_.readList(f, /*allowEmpty=*/true)) {
        for (const Field& item : *items) {
          if (auto notification = decodeNotification(item)) {
            spec.notifications.push_back(std::move(*notification));
          }
        }
      }
    }

    const Field roleField = m.get("assumeRoleARN");
    std::optional<RoleArn> role;
    if (roleField) {
      if (auto text = d_.readString(roleField)) {
        if (auto parsed = parseRoleArn(*text)) {
          role = std::move(*parsed);
        } else {
          d_.report(roleField, parsed.error());
        }
      }
    }
    const Field externalIdField = m.get("externalId");
    std::string externalId;
    const bool externalIdOk =
        externalIdField && readChecked(externalIdField, checkExternalId, externalId);
    if (role) spec.assumeRole = AssumeRole{*role, externalIdOk ? externalId : ""};

    // Cross-field rules, checked only over fields that decoded cleanly.
    if (externalIdField && !roleField) {
      d_.report(externalIdField, "externalId is sent to STS AssumeRole: it needs assumeRoleARN");
    }
    // ELBv2 has no resource policies: only the target group's own account may change it, so
    // the role must be of that account (and partition).
    if (role && arn && (role->account != arn->account || role->partition != arn->partition)) {
      d_.report(roleField, "the role is in account " + role->account + " (" + role->partition +
                               ") but the target group in account " + arn->account + " (" +
                               arn->partition +
                               "): only a role of the target group's own account can change it");
    }
    if (source && targetTypeOk && spec.targetType == TargetType::kInstance &&
        (std::holds_alternative<DnsSource>(*source) ||
         std::holds_alternative<StaticSource>(*source))) {
      d_.report(targetType,
                "targetType \"instance\" needs an ec2, spotFleet or autoScalingGroup source, "
                "not " +
                    std::string(sourceKindName(*source)));
    }
    if (source && spotInterruptionField_ &&
        (std::holds_alternative<DnsSource>(*source) ||
         std::holds_alternative<StaticSource>(*source))) {
      d_.report(spotInterruptionField_,
                "deregisterOnSpotInterruption is only for ec2, spotFleet and autoScalingGroup "
                "sources, not " +
                    std::string(sourceKindName(*source)));
    }
    if (spec.availabilityZone && targetTypeOk && spec.targetType == TargetType::kInstance) {
      d_.report(zone, "availabilityZone is only allowed with targetType \"ip\"");
    } else if (spec.availabilityZone && *spec.availabilityZone != "all" && arn &&
               !inRegion(*spec.availabilityZone, arn->region)) {
      d_.report(zone, "availability zone " + quoteForMessage(*spec.availabilityZone) +
                          " is not in the target group's region " + quoteForMessage(arn->region));
    }
    if (source && std::holds_alternative<StaticSource>(*source) &&
        d_.errorCount() == errorsBefore) {
      for (const auto& [address, item] : staticAddresses_) {
        const auto& allowed = spec.policy.allowedCidrs;
        if (std::none_of(allowed.begin(), allowed.end(),
                         [&](const Cidr& cidr) { return cidr.contains(address); })) {
          d_.report(item, address.toString() +
                              " is outside policy.allowedCIDRs, so it would never be registered");
        }
      }
    }
    if (!source || d_.errorCount() != errorsBefore) return std::nullopt;
    spec.source = std::move(*source);
    return spec;
  }

  std::optional<Policy> decodePolicy(const Field& field) {
    const Mapping m(d_, field,
                    {"deregistrationGracePeriod", "unhealthyGracePeriod", "prune", "minTargets",
                     "maxDeregistrationsPerSync", "requireHealthyReplacements", "allowedCIDRs",
                     "deletionPolicy", "deregisterOnSpotInterruption"});
    if (!m.valid()) return std::nullopt;
    const size_t errorsBefore = d_.errorCount();
    Policy policy;
    if (const Field f = m.get("deregistrationGracePeriod")) {
      if (auto value = d_.readDuration(f, Duration::zero(), kDay)) {
        policy.deregistrationGracePeriod = *value;
      }
    }
    if (const Field f = m.get("unhealthyGracePeriod")) {
      if (auto value = d_.readDuration(f, Duration::zero(), kDay)) {
        policy.unhealthyGracePeriod = *value;
      }
    }
    if (const Field f = m.get("prune")) {
      if (auto value = d_.readBool(f)) policy.prune = *value;
    }
    if (const Field f = m.get("minTargets")) {
      if (auto value = d_.readInt(f, 0, kInt32Max)) policy.minTargets = static_cast<int>(*value);
    }
    if (const Field f = m.get("maxDeregistrationsPerSync")) {
      if (auto value = readCountOrPercent(f)) policy.maxDeregistrationsPerSync = *value;
    }
    if (const Field f = m.get("requireHealthyReplacements")) {
      if (auto value = d_.readBool(f)) policy.requireHealthyReplacements = *value;
    }
    if (const Field f = m.get("allowedCIDRs")) {
      if (auto cidrs = readCidrs(f)) policy.allowedCidrs = std::move(*cidrs);
    } else {
      policy.allowedCidrs = defaultAllowedCidrs();
    }
    if (const Field f = m.get("deletionPolicy")) {
      if (auto value = d_.readEnum(f, {"Retain", "Deregister"})) {
        policy.deletionPolicy =
            *value == "Retain" ? DeletionPolicy::kRetain : DeletionPolicy::kDeregister;
      }
    }
    if (const Field f = m.get("deregisterOnSpotInterruption")) {
      if (auto value = d_.readBool(f)) policy.deregisterOnSpotInterruption = *value;
      spotInterruptionField_ = f;
    }
    if (d_.errorCount() != errorsBefore) return std::nullopt;
    return policy;
  }

  std::optional<CountOrPercent> readCountOrPercent(const Field& field) {
    if (!d_.checkTag(field)) return std::nullopt;
    const YamlNode& node = *field.node;
    if (node.kind == YamlNodeKind::kScalar && node.scalarType() == YamlScalarType::kInt) {
      auto count = d_.checkRange(field, yamlIntegerValue(node.value), 0, kInt32Max);
      if (!count) return std::nullopt;
      return CountOrPercent{false, static_cast<int>(*count)};
    }
    if (node.kind == YamlNodeKind::kScalar && node.scalarType() == YamlScalarType::kString) {
      auto percent = parsePercent(node.value);
      if (!percent) {
        d_.report(field, percent.error());
        return std::nullopt;
      }
      return *percent;
    }
    d_.report(field,
              "expected a count such as 5 or a percentage such as \"50%\", got " + describe(node));
    return std::nullopt;
  }

  std::optional<std::vector<Cidr>> readCidrs(const Field& field) {
    auto items = d_.readList(field);
    if (!items) return std::nullopt;
    std::vector<Cidr> cidrs;
    std::map<Cidr, const Field*> seen;
    bool ok = true;
    for (const Field& item : *items) {
      auto text = d_.readString(item);
      if (!text) {
        ok = false;
        continue;
      }
      std::string why;
      auto cidr = Cidr::parse(*text, &why);
      if (!cidr) {
        d_.report(item, "invalid CIDR " + quoteForMessage(*text) + ": " + why);
        ok = false;
        continue;
      }
      if (auto [it, inserted] = seen.emplace(*cidr, &item); !inserted) {
        d_.report(item, "duplicate CIDR " + cidr->toString() + " (first at " +
                            formatPosition(it->second->position()) + ")");
        ok = false;
        continue;
      }
      cidrs.push_back(*cidr);
    }
    if (!ok) return std::nullopt;
    return cidrs;
  }

  std::optional<Notification> decodeNotification(const Field& field) {
    const Mapping m(d_, field, {"slackWebhookSecretRef", "snsTopicARN", "on"});
    if (!m.valid()) return std::nullopt;
    const size_t errorsBefore = d_.errorCount();
    Notification notification;
    const Field slack = m.get("slackWebhookSecretRef");
    const Field sns = m.get("snsTopicARN");
    if (slack) {
      const Mapping ref(d_, slack, {"ssmParameter"});
      if (const Field parameter = ref.valid() ? ref.required("ssmParameter") : Field{}) {
        std::string text;
        if (readChecked(parameter, checkSsmParameterName, text)) {
          notification.slackWebhookSsmParameter = text;
        }
      }
    }
    if (sns) {
      std::string text;
      if (readChecked(sns, checkSnsTopicArn, text)) notification.snsTopicArn = text;
    }
    if (!slack && !sns) {
      d_.report(m.self(), "one of slackWebhookSecretRef or snsTopicARN is required");
    } else if (slack && sns) {
      d_.report(m.self(), "set only one of slackWebhookSecretRef and snsTopicARN per entry");
    }
    if (const Field on = m.get("on")) {
      auto events =
          d_.readUniqueStrings(on, [&](const Field& item) { return d_.readEnum(item, kEvents); });
      if (events) {
        for (const std::string& event : *events) {
          const auto index = std::find(kEvents.begin(), kEvents.end(), event) - kEvents.begin();
          notification.on.push_back(static_cast<NotificationEvent>(index));
        }
      }
    } else {
      for (size_t i = 0; i < kEvents.size(); ++i) {
        notification.on.push_back(static_cast<NotificationEvent>(i));
      }
    }
    if (d_.errorCount() != errorsBefore) return std::nullopt;
    return notification;
  }

  // ---- sources ----

  std::optional<Source> decodeSource(const Field& field, bool instancesOnly) {
    const Mapping m(d_, field, kSourceKinds);
    if (!m.valid()) return std::nullopt;
    const size_t errorsBefore = d_.errorCount();
    std::vector<std::string_view> present;
    std::optional<Source> source;
    for (std::string_view kind : kSourceKinds) {
      const Field f = m.get(kind);
      if (!f) continue;
      present.push_back(kind);
      if (instancesOnly && (kind == "dns" || kind == "static")) {
        d_.report(f.keyPosition(), f.path,
                  "a DNSRecordBinding needs an ec2, spotFleet or autoScalingGroup source");
        continue;
      }
      std::optional<Source> decoded;
      if (kind == "dns") {
        decoded = decodeDnsSource(f);
      } else if (kind == "static") {
        decoded = decodeStaticSource(f);
      } else if (kind == "ec2") {
        decoded = decodeEc2Source(f);
      } else if (kind == "spotFleet") {
        decoded = decodeSpotFleetSource(f);
      } else {
        decoded = decodeAutoScalingGroupSource(f);
      }
      if (!source) source = std::move(decoded);
    }
    if (present.empty() && m.unknownCount() == 0) {
      d_.report(m.self(), "exactly one of " + joinNames(kSourceKinds) + " is required");
    } else if (present.size() > 1) {
      d_.report(m.self(), "exactly one source kind is allowed, found " +
                              std::to_string(present.size()) + ": " + joinNames(present));
    }
    if (d_.errorCount() != errorsBefore) return std::nullopt;
    return source;
  }

  std::optional<Source> decodeDnsSource(const Field& field) {
    const Mapping m(d_, field,
                    {"hostname", "addressFamilies", "lookupsPerRefresh", "minRefreshInterval",
                     "maxRefreshInterval"});
    if (!m.valid()) return std::nullopt;
    const size_t errorsBefore = d_.errorCount();
    DnsSource dns;
    if (const Field f = m.required("hostname")) {
      if (auto text = d_.readString(f)) {
        auto host = normalizeHostname(*text);
        if (host) {
          dns.hostname = *host;
        } else {
          d_.report(f, host.error());
        }
      }
    }
    if (const Field f = m.get("addressFamilies")) {
      auto families = d_.readUniqueStrings(f, [&](const Field& item) {
        return d_.readEnum(item, {"IPv4", "IPv6", "both"});
      });
      if (families) {
        const bool both = std::find(families->begin(), families->end(), "both") != families->end();
        if (both && families->size() > 1) {
          d_.report(f, "\"both\" cannot be combined with IPv4 or IPv6");
        }
        dns.ipv4 = both || std::find(families->begin(), families->end(), "IPv4") != families->end();
        dns.ipv6 = both || std::find(families->begin(), families->end(), "IPv6") != families->end();
      }
    }
    if (const Field f = m.get("lookupsPerRefresh")) {
      if (auto value = d_.readInt(f, 1, 16)) dns.lookupsPerRefresh = static_cast<int>(*value);
    }
    const Field minField = m.get("minRefreshInterval");
    const Field maxField = m.get("maxRefreshInterval");
    bool intervalsOk = true;
    if (minField) {
      auto value = d_.readDuration(minField, kSecond, kHour);
      intervalsOk &= value.has_value();
      if (value) dns.minRefreshInterval = *value;
    }
    if (maxField) {
      auto value = d_.readDuration(maxField, kSecond, kHour);
      intervalsOk &= value.has_value();
      if (value) dns.maxRefreshInterval = *value;
    }
    if (intervalsOk && dns.minRefreshInterval > dns.maxRefreshInterval) {
      const std::string minText = formatDuration(dns.minRefreshInterval);
      const std::string maxText = formatDuration(dns.maxRefreshInterval);
      if (minField) {
        d_.report(minField, "minRefreshInterval " + minText + " exceeds maxRefreshInterval " +
                                maxText + (maxField ? "" : " (the default)"));
      } else {
        d_.report(maxField, "maxRefreshInterval " + maxText + " is below minRefreshInterval " +
                                minText + " (the default)");
      }
    }
    if (d_.errorCount() != errorsBefore) return std::nullopt;
    return dns;
  }

  std::optional<Source> decodeStaticSource(const Field& field) {
    const Mapping m(d_, field, {"addresses"});
    if (!m.valid()) return std::nullopt;
    const size_t errorsBefore = d_.errorCount();
    StaticSource source;
    if (const Field f = m.required("addresses")) {
      if (auto items = d_.readList(f)) {
        std::map<IpAddress, YamlPosition> seen;
        for (const Field& item : *items) {
          auto text = d_.readString(item);
          if (!text) continue;
          auto address = IpAddress::parse(*text);
          if (!address) {
            d_.report(item, quoteForMessage(*text) + " is not an IPv4 or IPv6 address");
            continue;
          }
          if (auto [it, inserted] = seen.emplace(*address, item.position()); !inserted) {
            d_.report(item, "duplicate address " + address->toString() + " (first at " +
                                formatPosition(it->second) + ")");
            continue;
          }
          source.addresses.push_back(*address);
          staticAddresses_.emplace_back(*address, item);
        }
      }
    }
    if (d_.errorCount() != errorsBefore) return std::nullopt;
    return source;
  }

  std::optional<Source> decodeEc2Source(const Field& field) {
    const Mapping m(d_, field, {"filters", "states"});
    if (!m.valid()) return std::nullopt;
    const size_t errorsBefore = d_.errorCount();
    Ec2Source source;
    if (const Field f = m.required("filters")) {
      if (auto items = d_.readList(f)) {
        for (const Field& item : *items) {
          if (auto filter = decodeEc2Filter(item)) source.filters.push_back(std::move(*filter));
        }
      }
    }
    if (const Field f = m.get("states")) {
      auto states =
          d_.readUniqueStrings(f, [&](const Field& item) { return d_.readEnum(item, kEc2States); });
      if (states) source.states = std::move(*states);
    }
    if (d_.errorCount() != errorsBefore) return std::nullopt;
    return source;
  }

  std::optional<Ec2Filter> decodeEc2Filter(const Field& field) {
    const Mapping m(d_, field, {"name", "values"});
    if (!m.valid()) return std::nullopt;
    const size_t errorsBefore = d_.errorCount();
    Ec2Filter filter;
    if (const Field f = m.required("name")) {
      if (auto name = d_.readString(f)) {
        if (name->empty()) {
          d_.report(f, "must not be empty");
        } else if (*name == "instance-state-name") {
          d_.report(f, "filter \"instance-state-name\" is set by source.ec2.states; use states");
        } else {
          filter.name = std::move(*name);
        }
      }
    }
    if (const Field f = m.required("values")) {
      if (auto items = d_.readList(f)) {
        for (const Field& item : *items) {
          auto value = d_.readString(item);
          if (value && value->empty()) {
            d_.report(item, "must not be empty");
          } else if (value) {
            filter.values.push_back(std::move(*value));
          }
        }
      }
    }
    if (d_.errorCount() != errorsBefore) return std::nullopt;
    return filter;
  }

  std::optional<Source> decodeSpotFleetSource(const Field& field) {
    const Mapping m(d_, field, {"requestId"});
    if (!m.valid()) return std::nullopt;
    SpotFleetSource source;
    const Field f = m.required("requestId");
    if (!f || !readChecked(f, checkSpotFleetRequestId, source.requestId)) return std::nullopt;
    return source;
  }

  std::optional<Source> decodeAutoScalingGroupSource(const Field& field) {
    const Mapping m(d_, field, {"name"});
    if (!m.valid()) return std::nullopt;
    AutoScalingGroupSource source;
    const Field f = m.required("name");
    if (!f || !readChecked(f, checkAutoScalingGroupName, source.name)) return std::nullopt;
    return source;
  }

  // ---- DNSRecordBinding ----

  std::optional<DnsRecordBindingSpec> decodeDnsRecordBindingSpec(const Field& field) {
    const Mapping m(d_, field,
                    {"hostedZoneId", "reverseHostedZoneId", "source", "record", "policy"});
    if (!m.valid()) return std::nullopt;
    const size_t errorsBefore = d_.errorCount();
    DnsRecordBindingSpec spec;
    if (const Field f = m.required("hostedZoneId")) {
      readChecked(f, checkHostedZoneId, spec.hostedZoneId);
    }
    if (const Field f = m.get("reverseHostedZoneId")) {
      std::string zone;
      readChecked(f, checkHostedZoneId, zone);
      spec.reverseHostedZoneId = zone;
    }
    std::optional<Source> source;
    if (const Field f = m.required("source")) source = decodeSource(f, /*instancesOnly=*/true);
    if (const Field f = m.get("record")) {
      const Mapping record(d_, f, {"nameFrom", "type", "ttl"});
      if (record.valid()) {
        if (const Field nameFrom = record.get("nameFrom")) {
          readChecked(nameFrom, checkRecordNameFrom, spec.record.nameFrom);
        }
        if (const Field type = record.get("type")) {
          if (auto value = d_.readEnum(type, {"A", "AAAA"})) {
            spec.record.type = *value == "A" ? RecordType::kA : RecordType::kAAAA;
          }
        }
        if (const Field ttl = record.get("ttl")) {
          if (auto value = d_.readInt(ttl, 0, kInt32Max)) {
            spec.record.ttl = static_cast<int>(*value);
          }
        }
      }
    }
    if (const Field f = m.get("policy")) {
      const Mapping policy(d_, f,
                           {"deregistrationGracePeriod", "prune", "minRecords",
                            "maxDeletionsPerSync", "deletionPolicy"});
      if (policy.valid()) {
        if (const Field grace = policy.get("deregistrationGracePeriod")) {
          if (auto value = d_.readDuration(grace, Duration::zero(), kDay)) {
            spec.policy.deregistrationGracePeriod = *value;
          }
        }
        if (const Field prune = policy.get("prune")) {
          if (auto value = d_.readBool(prune)) spec.policy.prune = *value;
        }
        if (const Field min = policy.get("minRecords")) {
          if (auto value = d_.readInt(min, 0, kInt32Max)) {
            spec.policy.minRecords = static_cast<int>(*value);
          }
        }
        if (const Field cap = policy.get("maxDeletionsPerSync")) {
          if (auto value = readCountOrPercent(cap)) spec.policy.maxDeletionsPerSync = *value;
        }
        if (const Field deletion = policy.get("deletionPolicy")) {
          if (auto value = d_.readEnum(deletion, {"Retain", "Delete"})) {
            spec.policy.deletionPolicy =
                *value == "Retain" ? DeletionPolicy::kRetain : DeletionPolicy::kDeregister;
          }
        }
      }
    }
    if (!source || d_.errorCount() != errorsBefore) return std::nullopt;
    spec.source = std::move(*source);
    return spec;
  }

  std::string file_;
  Decoder d_;
  YamlPosition namePosition_;
  YamlPosition arnPosition_;
  std::vector<std::pair<IpAddress, Field>> staticAddresses_;
  Field spotInterruptionField_;  // policy.deregisterOnSpotInterruption, when given
};

// ---- accumulating a run: files, objects, diagnostics in a stable order ----

// One decoding run over any number of files: collects objects and diagnostics, then
// applies the cross-object checks and orders the diagnostics by file and position.
class Run {
 public:
  void decodeText(std::string_view text, const std::string& file) {
    noteFile(file);
    set_.files.push_back(file);
    YamlStream stream = parseYamlStream(text);
    DocumentDecoder decoder(file, set_.errors);
    for (const YamlDocument& document : stream.documents) decoder.decode(document, objects_);
    if (stream.error) {
      set_.errors.push_back({file, stream.error->position.line, stream.error->position.column, "",
                             "YAML syntax error: " + stream.error->message});
    }
  }

  void reportFile(const std::string& file, std::string message) {
    noteFile(file);
    set_.errors.push_back({file, 0, 0, "", std::move(message)});
  }

  ManifestSet finish() {
    checkDuplicateNames();
    checkSharedTargetGroups();
    for (size_t i = 0; i < objects_.size(); ++i) {
      if (dropped_.contains(i)) continue;
      std::visit(
          [this](auto& object) {
            using T = std::decay_t<decltype(object)>;
            if constexpr (std::is_same_v<T, TargetGroupBinding>) {
              set_.targetGroupBindings.push_back(std::move(object));
            } else {
              set_.dnsRecordBindings.push_back(std::move(object));
            }
          },
          objects_[i].object);
    }
    // File order first (as read), then position; equal positions keep their report order.
    std::stable_sort(set_.errors.begin(), set_.errors.end(),
                     [this](const Diagnostic& a, const Diagnostic& b) {
                       const size_t rankA = fileRank_.at(a.file);
                       const size_t rankB = fileRank_.at(b.file);
                       if (rankA != rankB) return rankA < rankB;
                       if (a.line != b.line) return a.line < b.line;
                       return a.column < b.column;
                     });
    return std::move(set_);
  }

 private:
  void noteFile(const std::string& file) { fileRank_.emplace(file, fileRank_.size()); }

  static std::string where(const DecodedObject& object, YamlPosition position) {
    return object.file + ":" + formatPosition(position);
  }

  // The other members of a group of clashing objects, as "a, b, c and 7 more": bounded, so a
  // file of thousands of copies does not make thousands of thousand-item messages.
  template <typename Describe>
  static std::string others(const std::vector<size_t>& group, size_t self, Describe describe) {
    constexpr size_t kListed = 3;
    std::string out;
    size_t listed = 0;
    for (size_t j : group) {
      if (j == self) continue;
      if (listed == kListed) {
        return out + " and " + std::to_string(group.size() - 1 - kListed) + " more";
      }
      out += (listed++ == 0 ? "" : ", ") + describe(j);
    }
    return out;
  }

  // Every object sharing a kind and namespace/name is reported and dropped: keeping either
  // would let file order decide which spec the controller acts on.
  void checkDuplicateNames() {
    std::map<std::pair<std::string, std::string>, std::vector<size_t>> byKey;
    for (size_t i = 0; i < objects_.size(); ++i) {
      byKey[{kindOf(objects_[i]), metadataOf(objects_[i]).key()}].push_back(i);
    }
    for (const auto& [key, indices] : byKey) {
      if (indices.size() < 2) continue;
      for (size_t i : indices) {
        const std::string elsewhere = others(
            indices, i, [this](size_t j) { return where(objects_[j], objects_[j].namePosition); });
        const DecodedObject& object = objects_[i];
        report(object, object.namePosition, "metadata.name",
               "duplicate " + key.first + " " + quoteForMessage(key.second) + " (also defined at " +
                   elsewhere + ")");
        dropped_.insert(i);
      }
    }
  }

  void checkSharedTargetGroups() {
    std::map<std::string, std::vector<size_t>> byArn;
    for (size_t i = 0; i < objects_.size(); ++i) {
      if (const auto* binding = std::get_if<TargetGroupBinding>(&objects_[i].object)) {
        byArn[binding->spec.targetGroupArn.text].push_back(i);
      }
    }
    for (const auto& [arn, indices] : byArn) {
      if (indices.size() < 2) continue;
      for (size_t i : indices) {
        const std::string elsewhere = others(indices, i, [this](size_t j) {
          return quoteForMessage(metadataOf(objects_[j]).key()) + " (" +
                 where(objects_[j], objects_[j].arnPosition) + ")";
        });
        const DecodedObject& object = objects_[i];
        report(object, object.arnPosition, "spec.targetGroupARN",
               "target group is also bound by TargetGroupBinding " + elsewhere);
        dropped_.insert(i);
      }
    }
  }

  void report(const DecodedObject& object, YamlPosition position, std::string path,
              std::string message) {
    set_.errors.push_back(
        {object.file, position.line, position.column, std::move(path), std::move(message)});
  }

  ManifestSet set_;
  std::vector<DecodedObject> objects_;
  std::set<size_t> dropped_;
  std::map<std::string, size_t> fileRank_;
};

bool isManifestFile(const fs::path& path) {
  const std::string extension = path.extension().string();
  return extension == ".yaml" || extension == ".yml";
}

bool isHidden(const fs::path& path) {
  const std::string name = path.filename().string();
  return !name.empty() && name[0] == '.';
}

// Walks the paths given to loadManifests: calls `onFile` for every manifest file and
// `onProblem` for every path it cannot read, instead of throwing (every std::filesystem call
// takes an error_code). Shared by loading and fingerprinting, so both see the same files.
//
// Every directory, the configured root first, is resolved (fs::canonical) once, when the walk
// enters it, and listed and read through that resolved path: a symlink swapped during the walk
// (git-sync publishing a revision by renaming its link) cannot make one walk read half of one
// revision and half of the next. Callbacks get both the path to read (`real`) and the path
// as the user spells it (`shown`: the configured path joined with the entry names), which
// names origins and diagnostics so that they stay the same from one revision to the next.
class ManifestTreeWalker {
 public:
  using FileFn = std::function<void(const fs::path& real, const fs::path& shown)>;
  using ProblemFn = std::function<void(const std::string& path, const std::string& message)>;

  ManifestTreeWalker(FileFn onFile, ProblemFn onProblem)
      : onFile_(std::move(onFile)), onProblem_(std::move(onProblem)) {}

  // Returns the resolved path read for `path` (empty if it could not be resolved).
  fs::path load(const fs::path& path) {
    std::error_code ec;
    const fs::path real = fs::canonical(path, ec);
    if (ec) {
      onProblem_(path.string(), "cannot read: " + ec.message());
      return {};
    }
    const fs::file_status status = fs::status(real, ec);
    if (ec || !fs::exists(status)) {
      onProblem_(path.string(), "cannot read: " + (ec ? ec.message() : "does not exist"));
      return {};
    }
    if (fs::is_directory(status)) {
      walk(path, path);
    } else {
      file(real, path);
    }
    return real;
  }

 private:
  // Depth-first in name order, which sorts the files of the whole tree by path. Directories
  // reached twice (through symlinks) are read once, which also ends symlink cycles.
  void walk(const fs::path& directory, const fs::path& shown) {
    std::error_code ec;
    const fs::path real = fs::canonical(directory, ec);
    if (ec) {
      onProblem_(shown.string(), "cannot read directory: " + ec.message());
      return;
    }
    if (!visitedDirectories_.insert(real).second) return;
    walkResolved(real, shown);
    // Swapped while we read it (git-sync removes the old revision after publishing the new
    // one, so what we listed may have been half deleted): the walk saw an unknown part of it.
    const fs::path now = fs::canonical(directory, ec);
    if (ec || now != real) {
      onProblem_(shown.string(), "cannot read: it changed while being read (now " +
                                     (ec ? ec.message() : "leads to " + now.string()) +
                                     "); read again next time");
    }
  }

  void walkResolved(const fs::path& real, const fs::path& shown) {
    std::error_code ec;
    std::vector<fs::directory_entry> entries;
    for (fs::directory_iterator it(real, ec), end; !ec && it != end; it.increment(ec)) {
      entries.push_back(*it);
    }
    if (ec) {
      onProblem_(shown.string(), "cannot list directory: " + ec.message());
      return;
    }
    std::sort(entries.begin(), entries.end());
    for (const fs::directory_entry& entry : entries) {
      const fs::path& path = entry.path();
      if (isHidden(path)) continue;
      const fs::path shownEntry = shown / path.filename();
      const fs::file_status status = fs::status(path, ec);
      if (ec) {
        if (vanished(entry)) {
          onProblem_(shownEntry.string(),
                     "cannot read: it vanished while the manifests were being read");
        } else if (isManifestFile(path)) {
          onProblem_(shownEntry.string(), "cannot read: " + ec.message());
        }
        continue;
      }
      if (fs::is_directory(status)) {
        walk(path, shownEntry);
      } else if (fs::is_regular_file(status) && isManifestFile(path)) {
        file(path, shownEntry);
      }
    }
  }

  // True if `entry`, listed a moment ago, is gone now and might have held manifests: the walk
  // missed part of the tree. A plain file that is not a manifest (an editor's probe file)
  // does not count, nor does a symlink that is there but leads nowhere (that is not a change).
  static bool vanished(const fs::directory_entry& entry) {
    std::error_code ec;
    const fs::file_type listedAs = entry.symlink_status(ec).type();  // from the listing
    if (listedAs == fs::file_type::regular && !isManifestFile(entry.path())) return false;
    return fs::symlink_status(entry.path(), ec).type() == fs::file_type::not_found;
  }

  // A file reached twice (named twice, or through a symlink) counts once.
  void file(const fs::path& path, const fs::path& shown) {
    std::error_code ec;
    const fs::path canonical = fs::weakly_canonical(path, ec);
    if (!ec && !files_.insert(canonical).second) return;
    onFile_(path, shown);
  }

  FileFn onFile_;
  ProblemFn onProblem_;
  std::set<fs::path> visitedDirectories_;
  std::set<fs::path> files_;
};

// Reads one manifest file into a Run: `path` is read, `shown` names it.
void readManifestFile(Run& run, const fs::path& path, const fs::path& shown) {
  std::error_code ec;
  const std::string name = shown.string();
  const uintmax_t size = fs::file_size(path, ec);
  if (ec) {
    run.reportFile(name, "cannot read: " + ec.message());
    return;
  }
  if (size > kMaxFileBytes) {
    run.reportFile(name, "file is larger than " + std::to_string(kMaxFileBytes >> 20) +
                             " MiB; not a manifest");
    return;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in.is_open()) {
    run.reportFile(name, "cannot read: cannot open the file");
    return;
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (!in.good() && !in.eof()) {
    run.reportFile(name, "cannot read: I/O error");
    return;
  }
  run.decodeText(text.str(), name);
}

}  // namespace

ManifestSet decodeManifests(std::string_view text, const std::string& fileName) {
  Run run;
  run.decodeText(text, fileName);
  return run.finish();
}

ManifestSet decodeManifestTexts(const std::vector<ManifestText>& texts) {
  Run run;
  for (const auto& text : texts) {
    if (text.readError) {
      run.reportFile(text.file, *text.readError);
    } else {
      run.decodeText(text.text, text.file);
    }
  }
  return run.finish();
}

ManifestSet loadManifests(const std::vector<std::filesystem::path>& paths) {
  Run run;
  ManifestTreeWalker walker(
      [&](const fs::path& path, const fs::path& shown) { readManifestFile(run, path, shown); },
      [&](const std::string& path, const std::string& message) { run.reportFile(path, message); });
  for (const auto& path : paths) walker.load(path);
  return run.finish();
}

uint64_t manifestTreeFingerprint(const std::vector<std::filesystem::path>& paths) {
  // One line per file or problem; fnv1a64 (generation.h) of the whole listing.
  std::string listing;
  ManifestTreeWalker walker(
      [&](const fs::path& path, const fs::path& shown) {
        struct stat info {};
        if (::stat(path.c_str(), &info) != 0) {
          listing += shown.string() + "\tunreadable\n";
          return;
        }
        listing += shown.string();
        for (const long long field :
             {static_cast<long long>(info.st_dev), static_cast<long long>(info.st_ino),
              static_cast<long long>(info.st_size), static_cast<long long>(info.st_mtim.tv_sec),
              static_cast<long long>(info.st_mtim.tv_nsec),
              static_cast<long long>(info.st_ctim.tv_sec),
              static_cast<long long>(info.st_ctim.tv_nsec)}) {
          listing += '\t' + std::to_string(field);
        }
        listing += '\n';
      },
      [&](const std::string& path, const std::string& message) {
        listing += path + "\t" + message + "\n";
      });
  // The resolved roots too: a swapped symlink is a change even where the files look alike.
  for (const auto& path : paths) listing += "root\t" + walker.load(path).string() + "\n";
  return fnv1a64(listing);
}

}  // namespace endpointbinder::api
