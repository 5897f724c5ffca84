// YAML text as a small tree that remembers where everything came from: the only place the
// project touches yaml-cpp.
//
// Built from yaml-cpp's event parser rather than YAML::Node so that every key and value keeps
// its 1-based line and column, duplicate keys stay visible (YAML::Node hides the later one),
// plain and quoted scalars are told apart ("443" is a string, 443 an integer), and a syntax
// error in one document leaves the documents before it usable. Plain scalars are resolved
// with the YAML 1.2 core schema, so `on`, `yes` and `no` are strings, not booleans as in
// YAML 1.1. yaml-cpp exceptions never escape: they become a YamlSyntaxError.
//
// Aliases are not copied: an alias is a second pointer to the anchored node, so a document may
// be a graph with cycles ("&a [*a]"). Consumers walk it by a fixed schema, never recursively
// over arbitrary structure.
// Thread-safety: documents are immutable after parsing and may be read concurrently;
// parseYamlStream is a free function, safe to call concurrently.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace endpointbinder::api {

struct YamlPosition {
  int line = 0;    // 1-based
  int column = 0;  // 1-based
};

enum class YamlNodeKind { kNull, kScalar, kSequence, kMapping };

// What a scalar means under the YAML 1.2 core schema.
enum class YamlScalarType { kNull, kBool, kInt, kFloat, kString, kUnsupportedTag };

struct YamlNode {
  YamlNodeKind kind = YamlNodeKind::kNull;
  YamlPosition position;
  // yaml-cpp's tag: "?" for plain untagged nodes, "!" for quoted scalars and block scalars,
  // otherwise the explicit tag ("tag:yaml.org,2002:str" for "!!str").
  std::string tag;
  std::string value;                                                 // scalars only
  std::vector<const YamlNode*> items;                                // sequences, in order
  std::vector<std::pair<const YamlNode*, const YamlNode*>> entries;  // mappings: duplicates kept

  // Null nodes are kNull; scalars are resolved by the core schema (plain) or are strings
  // (quoted, block, "!!str"); other explicit tags are kUnsupportedTag. Collections: kString
  // is never returned for them; callers check `kind` first.
  YamlScalarType scalarType() const;
  // True for collections carrying an explicit tag (which the manifest API never uses).
  bool hasUnsupportedTag() const;
};

// One document of a stream. Owns its nodes; move-only.
class YamlDocument {
 public:
  YamlDocument() = default;
  YamlDocument(YamlDocument&&) = default;
  YamlDocument& operator=(YamlDocument&&) = default;

  // Never null after parsing; a document with no content ("---" alone) has a kNull root.
  const YamlNode* root() const { return root_; }
  YamlPosition position() const { return position_; }  // of the document start

 private:
  friend class YamlDocumentBuilder;
  std::vector<std::unique_ptr<YamlNode>> nodes_;
  const YamlNode* root_ = nullptr;
  YamlPosition position_;
};

struct YamlSyntaxError {
  YamlPosition position;  // where yaml-cpp stopped
  std::string message;    // yaml-cpp's text, e.g. "end of map not found"
};

struct YamlStream {
  std::vector<YamlDocument> documents;   // every complete document before any error
  std::optional<YamlSyntaxError> error;  // parsing stops at the first syntax error
};

YamlStream parseYamlStream(std::string_view text);

// Integer value of a kInt scalar (decimal, 0o octal or 0x hex, optional sign for decimal).
// nullopt when the text does not fit in 64 bits.
std::optional<int64_t> yamlIntegerValue(std::string_view text);

}  // namespace endpointbinder::api
