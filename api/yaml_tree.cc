#include "api/yaml_tree.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/exceptions.h>
#include <yaml-cpp/mark.h>
#include <yaml-cpp/parser.h>

#include <map>
#include <sstream>

namespace endpointbinder::api {

namespace {

constexpr std::string_view kStrTag = "tag:yaml.org,2002:str";

bool isDecimalDigit(char c) { return c >= '0' && c <= '9'; }
bool isOctal(char c) { return c >= '0' && c <= '7'; }
bool isHex(char c) { return isDecimalDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

template <typename Pred>
bool nonEmptyAllOf(std::string_view text, Pred pred) {
  if (text.empty()) return false;
  for (char c : text) {
    if (!pred(c)) return false;
  }
  return true;
}

// YAML 1.2 core schema, tag:yaml.org,2002:int.
bool isCoreInt(std::string_view text) {
  if (text.starts_with("0o")) return nonEmptyAllOf(text.substr(2), isOctal);
  if (text.starts_with("0x")) return nonEmptyAllOf(text.substr(2), isHex);
  if (!text.empty() && (text[0] == '-' || text[0] == '+')) text.remove_prefix(1);
  return nonEmptyAllOf(text, isDecimalDigit);
}

// YAML 1.2 core schema, tag:yaml.org,2002:float:
//   [-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?
//   [-+]? \. ( inf | Inf | INF ),  \. ( nan | NaN | NAN )
bool isCoreFloat(std::string_view text) {
  if (text == ".nan" || text == ".NaN" || text == ".NAN") return true;
  if (!text.empty() && (text[0] == '-' || text[0] == '+')) text.remove_prefix(1);
  if (text == ".inf" || text == ".Inf" || text == ".INF") return true;
  size_t i = 0;
  size_t intDigits = 0;
  while (i < text.size() && isDecimalDigit(text[i])) ++i, ++intDigits;
  if (i < text.size() && text[i] == '.') {
    ++i;
    size_t fracDigits = 0;
    while (i < text.size() && isDecimalDigit(text[i])) ++i, ++fracDigits;
    if (intDigits == 0 && fracDigits == 0) return false;
  } else if (intDigits == 0) {
    return false;
  }
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    if (i < text.size() && (text[i] == '-' || text[i] == '+')) ++i;
    size_t expDigits = 0;
    while (i < text.size() && isDecimalDigit(text[i])) ++i, ++expDigits;
    if (expDigits == 0) return false;
  }
  return i == text.size();
}

YamlPosition toPosition(const YAML::Mark& mark) {
  if (mark.is_null()) return {};
  return {mark.line + 1, mark.column + 1};
}

// Thrown from the event handler to stop a yaml-cpp parse that has run past any size a real
// document of the input could have (yaml-cpp 0.7 loops on some inputs, e.g. a lone ",").
struct NodeBudgetExceeded {
  YAML::Mark mark;
};

}  // namespace

YamlScalarType YamlNode::scalarType() const {
  if (kind == YamlNodeKind::kNull) return YamlScalarType::kNull;
  if (kind != YamlNodeKind::kScalar) return YamlScalarType::kString;
  if (tag == "!" || tag == kStrTag) return YamlScalarType::kString;
  if (tag != "?") return YamlScalarType::kUnsupportedTag;
  // yaml-cpp reports plain null forms ("~", "null", empty) as null events already; these
  // remain for safety when a future yaml-cpp changes that.
  if (value.empty() || value == "~" || value == "null" || value == "Null" || value == "NULL") {
    return YamlScalarType::kNull;
  }
  if (value == "true" || value == "True" || value == "TRUE" || value == "false" ||
      value == "False" || value == "FALSE") {
    return YamlScalarType::kBool;
  }
  if (isCoreInt(value)) return YamlScalarType::kInt;
  if (isCoreFloat(value)) return YamlScalarType::kFloat;
  return YamlScalarType::kString;
}

bool YamlNode::hasUnsupportedTag() const {
  if (kind == YamlNodeKind::kScalar) return scalarType() == YamlScalarType::kUnsupportedTag;
  if (kind == YamlNodeKind::kNull) return false;
  return tag != "?" && tag != "!";
}

std::optional<int64_t> yamlIntegerValue(std::string_view text) {
  int base = 10;
  bool negative = false;
  if (text.starts_with("0o")) {
    base = 8;
    text.remove_prefix(2);
  } else if (text.starts_with("0x")) {
    base = 16;
    text.remove_prefix(2);
  } else if (!text.empty() && (text[0] == '-' || text[0] == '+')) {
    negative = text[0] == '-';
    text.remove_prefix(1);
  }
  if (text.empty()) return std::nullopt;
  // Accumulate as a negative number so INT64_MIN is representable.
  int64_t value = 0;
  const int64_t limit = INT64_MIN;
  for (char c : text) {
    int digit = 0;
    if (isDecimalDigit(c)) {
      digit = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      digit = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
      digit = c - 'A' + 10;
    } else {
      return std::nullopt;
    }
    if (digit >= base) return std::nullopt;
    if (value < (limit + digit) / base) return std::nullopt;
    value = value * base - digit;
  }
  if (!negative) {
    if (value == INT64_MIN) return std::nullopt;
    value = -value;
  }
  return value;
}

// Receives one document's parser events and links them into a YamlDocument. Collections are
// kept on an explicit stack, so nesting depth costs no native stack (yaml-cpp itself limits
// depth and throws DeepRecursion).
class YamlDocumentBuilder : public YAML::EventHandler {
 public:
  // `nodesLeft` is shared by every document of a stream.
  explicit YamlDocumentBuilder(size_t& nodesLeft) : nodesLeft_(nodesLeft) {}

  YamlDocument take() { return std::move(document_); }
  const YAML::Mark& startMark() const { return start_; }

  void OnDocumentStart(const YAML::Mark& mark) override {
    start_ = mark;
    document_.position_ = toPosition(mark);
  }
  void OnDocumentEnd() override {
    if (document_.root_ == nullptr) {
      YamlNode* empty = newNode(YamlNodeKind::kNull, YAML::Mark(), "");
      empty->position = document_.position_;
      document_.root_ = empty;
    }
  }

  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    YamlNode* node = newNode(YamlNodeKind::kNull, mark, "");
    registerAnchor(anchor, node);
    attach(node);
  }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    auto found = anchors_.find(anchor);
    if (found != anchors_.end()) {
      attach(found->second);
      return;
    }
    // yaml-cpp rejects unknown anchors before calling us; keep the tree well-formed anyway.
    attach(newNode(YamlNodeKind::kNull, mark, ""));
  }
  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                const std::string& value) override {
    YamlNode* node = newNode(YamlNodeKind::kScalar, mark, tag);
    node->value = value;
    registerAnchor(anchor, node);
    attach(node);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value /*style*/) override {
    openCollection(YamlNodeKind::kSequence, mark, tag, anchor);
  }
  void OnSequenceEnd() override { closeCollection(); }
  void OnMapStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value /*style*/) override {
    openCollection(YamlNodeKind::kMapping, mark, tag, anchor);
  }
  void OnMapEnd() override { closeCollection(); }

 private:
  struct Open {
    YamlNode* node;
    const YamlNode* pendingKey;  // mappings: the key waiting for its value
  };

  YamlNode* newNode(YamlNodeKind kind, const YAML::Mark& mark, const std::string& tag) {
    if (nodesLeft_ == 0) throw NodeBudgetExceeded{mark};
    --nodesLeft_;
    auto node = std::make_unique<YamlNode>();
    node->kind = kind;
    node->position = toPosition(mark);
    node->tag = tag;
    document_.nodes_.push_back(std::move(node));
    return document_.nodes_.back().get();
  }

  void registerAnchor(YAML::anchor_t anchor, const YamlNode* node) {
    if (anchor != 0) anchors_[anchor] = node;
  }

  void attach(const YamlNode* node) {
    if (stack_.empty()) {
      if (document_.root_ == nullptr) document_.root_ = node;
      return;
    }
    Open& top = stack_.back();
    if (top.node->kind == YamlNodeKind::kSequence) {
      top.node->items.push_back(node);
    } else if (top.pendingKey == nullptr) {
      top.pendingKey = node;
    } else {
      top.node->entries.emplace_back(top.pendingKey, node);
      top.pendingKey = nullptr;
    }
  }

  void openCollection(YamlNodeKind kind, const YAML::Mark& mark, const std::string& tag,
                      YAML::anchor_t anchor) {
    YamlNode* node = newNode(kind, mark, tag);
    registerAnchor(anchor, node);
    attach(node);
    stack_.push_back({node, nullptr});
  }

  void closeCollection() {
    if (!stack_.empty()) stack_.pop_back();
  }

  size_t& nodesLeft_;
  YAML::Mark start_;
  YamlDocument document_;
  std::vector<Open> stack_;
  std::map<YAML::anchor_t, const YamlNode*> anchors_;
};

YamlStream parseYamlStream(std::string_view text) {
  YamlStream stream;
  std::istringstream input{std::string(text)};
  // Every node but an implicit null consumes at least one byte, and an implicit null comes
  // with a key or an indicator of its own, so real input never needs more than this.
  size_t nodesLeft = 2 * text.size() + 64;
  const auto stuck = [&](const YAML::Mark& mark) {
    const bool inText = mark.pos >= 0 && static_cast<size_t>(mark.pos) < text.size();
    const unsigned char c = inText ? static_cast<unsigned char>(text[mark.pos]) : 0;
    std::string what = "unexpected input";
    if (c >= 0x20 && c < 0x7f) what = std::string("unexpected \"") + static_cast<char>(c) + "\"";
    stream.error = YamlSyntaxError{toPosition(mark), what + " (the parser made no progress)"};
  };
  try {
    YAML::Parser parser(input);
    int previousStart = -1;
    while (true) {
      YamlDocumentBuilder builder(nodesLeft);
      if (!parser.HandleNextDocument(builder)) break;
      // A document must consume input: yaml-cpp 0.7 returns empty documents forever at the
      // same place for some malformed input (a lone ",").
      if (builder.startMark().pos == previousStart) {
        stuck(builder.startMark());
        break;
      }
      previousStart = builder.startMark().pos;
      stream.documents.push_back(builder.take());
    }
  } catch (const NodeBudgetExceeded& e) {
    stuck(e.mark);
  } catch (const YAML::Exception& e) {
    stream.error = YamlSyntaxError{toPosition(e.mark), e.msg};
  } catch (const std::exception& e) {
    // yaml-cpp documents only YAML::Exception, but its stream code can surface standard ones.
    stream.error = YamlSyntaxError{{}, e.what()};
  }
  return stream;
}

}  // namespace endpointbinder::api
