// The YAML adapter: positions, YAML 1.2 core scalar resolution, duplicate keys, aliases and
// syntax errors that leave earlier documents usable.
#include "api/yaml_tree.h"

#include <gtest/gtest.h>

namespace endpointbinder::api {
namespace {

const YamlNode* valueOf(const YamlNode* map, const std::string& key) {
  for (const auto& [k, v] : map->entries) {
    if (k->value == key) return v;
  }
  return nullptr;
}

TEST(ParseYamlStream, RecordsOneBasedPositionsOfKeysAndValues) {
  const YamlStream stream = parseYamlStream("a: 1\nb:\n  c: \"x\"\n  d: [p, q]\n");
  ASSERT_FALSE(stream.error);
  ASSERT_EQ(stream.documents.size(), 1u);
  const YamlNode* root = stream.documents[0].root();
  ASSERT_EQ(root->kind, YamlNodeKind::kMapping);
  EXPECT_EQ(root->position.line, 1);
  EXPECT_EQ(root->position.column, 1);
  const YamlNode* b = valueOf(root, "b");
  ASSERT_NE(b, nullptr);
  const auto& [cKey, cValue] = b->entries[0];
  EXPECT_EQ(cKey->position.line, 3);
  EXPECT_EQ(cKey->position.column, 3);
  EXPECT_EQ(cValue->position.line, 3);
  EXPECT_EQ(cValue->position.column, 6);
  const YamlNode* d = valueOf(b, "d");
  ASSERT_EQ(d->kind, YamlNodeKind::kSequence);
  ASSERT_EQ(d->items.size(), 2u);
  EXPECT_EQ(d->items[1]->value, "q");
  EXPECT_EQ(d->items[1]->position.column, 10);
}

TEST(ParseYamlStream, ResolvesPlainScalarsWithTheYaml12CoreSchema) {
  const YamlStream stream = parseYamlStream(
      "[~, null, true, False, TRUE, yes, no, on, off, 1, -7, +3, 0o17, 0x1F, 010, 1.5, .5, 1e3, "
      ".inf, -.Inf, .nan, 1_000, 0b1, 12:30, 2024-01-01, \"1\", '2', !!str 3, abc, 1.2.3, !x y]");
  ASSERT_FALSE(stream.error);
  const auto& items = stream.documents[0].root()->items;
  using T = YamlScalarType;
  const T want[] = {T::kNull,          T::kNull,   T::kBool,   T::kBool,   T::kBool,   T::kString,
                    T::kString,        T::kString, T::kString, T::kInt,    T::kInt,    T::kInt,
                    T::kInt,           T::kInt,    T::kInt,    T::kFloat,  T::kFloat,  T::kFloat,
                    T::kFloat,         T::kFloat,  T::kFloat,  T::kString, T::kString, T::kString,
                    T::kString,        T::kString, T::kString, T::kString, T::kString, T::kString,
                    T::kUnsupportedTag};
  ASSERT_EQ(items.size(), std::size(want));
  for (size_t i = 0; i < items.size(); ++i) {
    EXPECT_EQ(items[i]->scalarType(), want[i]) << "item " << i << " \"" << items[i]->value << "\"";
  }
}

TEST(YamlIntegerValue, ParsesDecimalOctalAndHexWithOverflowDetection) {
  EXPECT_EQ(yamlIntegerValue("0"), 0);
  EXPECT_EQ(yamlIntegerValue("-7"), -7);
  EXPECT_EQ(yamlIntegerValue("+3"), 3);
  EXPECT_EQ(yamlIntegerValue("010"), 10);
  EXPECT_EQ(yamlIntegerValue("0o17"), 15);
  EXPECT_EQ(yamlIntegerValue("0x1F"), 31);
  EXPECT_EQ(yamlIntegerValue("9223372036854775807"), INT64_MAX);
  EXPECT_EQ(yamlIntegerValue("-9223372036854775808"), INT64_MIN);
  EXPECT_EQ(yamlIntegerValue("9223372036854775808"), std::nullopt);
  EXPECT_EQ(yamlIntegerValue("-9223372036854775809"), std::nullopt);
  EXPECT_EQ(yamlIntegerValue("99999999999999999999999"), std::nullopt);
  EXPECT_EQ(yamlIntegerValue("0o8"), std::nullopt);
  EXPECT_EQ(yamlIntegerValue(""), std::nullopt);
}

TEST(ParseYamlStream, KeepsDuplicateKeysInOrder) {
  const YamlStream stream = parseYamlStream("port: 1\nport: 2\n");
  ASSERT_FALSE(stream.error);
  const auto& entries = stream.documents[0].root()->entries;
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].second->value, "1");
  EXPECT_EQ(entries[1].second->value, "2");
  EXPECT_EQ(entries[1].first->position.line, 2);
}

TEST(ParseYamlStream, AliasesShareTheAnchoredNodeEvenInCycles) {
  const YamlStream stream = parseYamlStream("a: &x {k: v}\nb: *x\nc: &s [*s]\n");
  ASSERT_FALSE(stream.error);
  const YamlNode* root = stream.documents[0].root();
  EXPECT_EQ(valueOf(root, "a"), valueOf(root, "b"));
  const YamlNode* c = valueOf(root, "c");
  ASSERT_EQ(c->items.size(), 1u);
  EXPECT_EQ(c->items[0], c);
}

TEST(ParseYamlStream, SplitsDocumentsAndKeepsEmptyOnes) {
  const YamlStream stream = parseYamlStream("a: 1\n---\n# only a comment\n---\nb: 2\n...\n");
  ASSERT_FALSE(stream.error);
  ASSERT_EQ(stream.documents.size(), 3u);
  EXPECT_EQ(stream.documents[1].root()->kind, YamlNodeKind::kNull);
  EXPECT_EQ(stream.documents[2].root()->entries[0].first->value, "b");
  EXPECT_EQ(stream.documents[2].root()->position.line, 5);
}

TEST(ParseYamlStream, ASyntaxErrorStopsParsingButKeepsEarlierDocuments) {
  const YamlStream stream = parseYamlStream("a: 1\n---\nb: [1, 2\n---\nc: 3\n");
  ASSERT_TRUE(stream.error);
  EXPECT_EQ(stream.error->position.line, 4);
  EXPECT_EQ(stream.error->message, "end of sequence flow not found");
  ASSERT_EQ(stream.documents.size(), 1u);
  EXPECT_EQ(stream.documents[0].root()->entries[0].first->value, "a");
}

TEST(ParseYamlStream, ReportsUnknownAliasesAndTabIndentation) {
  EXPECT_TRUE(parseYamlStream("a: *nope\n").error);
  EXPECT_TRUE(parseYamlStream("a:\n\tb: 1\n").error);
  EXPECT_FALSE(parseYamlStream("").error);
  EXPECT_TRUE(parseYamlStream("").documents.empty());
}

// yaml-cpp 0.7 never consumes a top-level "," and would return empty documents forever.
TEST(ParseYamlStream, StopsWhenTheParserMakesNoProgress) {
  for (const char* text : {",", "#\n,", "a: 1\n---\n,\n"}) {
    const YamlStream stream = parseYamlStream(text);
    ASSERT_TRUE(stream.error) << text;
    EXPECT_EQ(stream.error->message, "unexpected \",\" (the parser made no progress)") << text;
    EXPECT_LE(stream.documents.size(), 3u) << text;  // at most one spurious empty document
  }
  const YamlStream stream = parseYamlStream("a: 1\n---\n,\n");
  EXPECT_EQ(stream.error->position.line, 3);
  EXPECT_EQ(stream.documents[0].root()->entries[0].first->value, "a");
}

}  // namespace
}  // namespace endpointbinder::api
