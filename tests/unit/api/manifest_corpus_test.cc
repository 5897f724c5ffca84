// The manifest corpus: every file under tests/testdata/manifests/valid decodes cleanly, and
// every case under .../invalid produces exactly the diagnostics (file:line:column: path:
// message) and returns exactly the objects its NAME.expected file lists:
//   # comment
//   returns: <Kind> <namespace>/<name>     (objects that survive; none when absent)
//   <file>:<line>:<column>: <path>: <message>   (one per diagnostic, in order)
// File names in diagnostics are relative to the invalid/ directory.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "api/decode.h"

namespace endpointbinder::api {
namespace {

namespace fs = std::filesystem;

fs::path sourceDir() {
  const char* dir = std::getenv("EB_SOURCE_DIR");
  return dir != nullptr ? fs::path(dir) : fs::current_path();
}

fs::path corpusDir(const char* which) { return sourceDir() / "tests/testdata/manifests" / which; }

std::vector<std::string> entries(const fs::path& dir, bool expectedOnly) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    const bool isExpected = name.ends_with(".expected");
    if (expectedOnly == isExpected) names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::string testName(const testing::TestParamInfo<std::string>& info) {
  std::string name = info.param;
  for (const char* suffix : {".expected", ".yaml", ".yml"}) {
    if (name.ends_with(suffix)) name.resize(name.size() - std::string(suffix).size());
  }
  std::replace_if(
      name.begin(), name.end(), [](char c) { return !std::isalnum(c); }, '_');
  return name;
}

void replaceAll(std::string& text, const std::string& from, const std::string& to) {
  for (size_t pos = text.find(from); pos != std::string::npos; pos = text.find(from, pos)) {
    text.replace(pos, from.size(), to);
    pos += to.size();
  }
}

std::vector<std::string> returnedObjects(const ManifestSet& set) {
  std::vector<std::string> lines;
  for (const auto& b : set.targetGroupBindings) {
    lines.push_back("returns: TargetGroupBinding " + b.metadata.key());
  }
  for (const auto& b : set.dnsRecordBindings) {
    lines.push_back("returns: DNSRecordBinding " + b.metadata.key());
  }
  return lines;
}

class InvalidManifest : public testing::TestWithParam<std::string> {};

TEST_P(InvalidManifest, ReportsExactlyTheExpectedDiagnostics) {
  const fs::path dir = corpusDir("invalid");
  const std::string expectedFile = GetParam();
  const std::string name = expectedFile.substr(0, expectedFile.size() - 9);
  fs::path input = dir / (name + ".yaml");
  if (!fs::exists(input)) input = dir / name;
  ASSERT_TRUE(fs::exists(input)) << "no input for " << expectedFile;

  std::vector<std::string> expected;
  std::ifstream in(dir / expectedFile);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && !line.starts_with("#")) expected.push_back(line);
  }

  const ManifestSet set = loadManifests({input});
  std::vector<std::string> actual = returnedObjects(set);
  const std::string prefix = (dir / "").string();
  for (const Diagnostic& diagnostic : set.errors) {
    std::string line = diagnostic.toString();
    replaceAll(line, prefix, "");
    actual.push_back(line);
  }
  EXPECT_FALSE(set.ok());
  EXPECT_EQ(actual, expected);
}

INSTANTIATE_TEST_SUITE_P(Corpus, InvalidManifest,
                         testing::ValuesIn(entries(corpusDir("invalid"), true)), testName);

TEST(InvalidManifestCorpus, HasAtLeast45CasesEachWithAnInput) {
  const auto expected = entries(corpusDir("invalid"), true);
  EXPECT_GE(expected.size(), 45u);
  // Every input has an expectation, so no case silently goes unchecked.
  for (const std::string& input : entries(corpusDir("invalid"), false)) {
    const std::string stem = input.ends_with(".yaml") ? input.substr(0, input.size() - 5) : input;
    EXPECT_TRUE(fs::exists(corpusDir("invalid") / (stem + ".expected"))) << input;
  }
}

class ValidManifest : public testing::TestWithParam<std::string> {};

TEST_P(ValidManifest, DecodesWithoutErrors) {
  const ManifestSet set = loadManifests({corpusDir("valid") / GetParam()});
  for (const Diagnostic& diagnostic : set.errors) ADD_FAILURE() << diagnostic.toString();
  EXPECT_GT(set.targetGroupBindings.size() + set.dnsRecordBindings.size(), 0u);
}

INSTANTIATE_TEST_SUITE_P(Corpus, ValidManifest,
                         testing::ValuesIn(entries(corpusDir("valid"), false)), testName);

TEST(ValidManifestCorpus, CoversEverySourceKindAndBothKinds) {
  const ManifestSet set = loadManifests({corpusDir("valid")});
  ASSERT_TRUE(set.ok());
  std::vector<std::string> kinds;
  for (const auto& b : set.targetGroupBindings) kinds.push_back(sourceKindName(b.spec.source));
  for (const auto& b : set.dnsRecordBindings) kinds.push_back(sourceKindName(b.spec.source));
  for (const char* kind : {"dns", "static", "ec2", "spotFleet", "autoScalingGroup"}) {
    EXPECT_NE(std::find(kinds.begin(), kinds.end(), kind), kinds.end()) << kind;
  }
  EXPECT_FALSE(set.dnsRecordBindings.empty());
  EXPECT_FALSE(set.targetGroupBindings.empty());
}

TEST(ExampleManifests, AllValidOnePerScenario) {
  const ManifestSet set = loadManifests({sourceDir() / "manifests/examples"});
  for (const Diagnostic& diagnostic : set.errors) ADD_FAILURE() << diagnostic.toString();
  EXPECT_EQ(set.files.size(), 5u);
  EXPECT_EQ(set.targetGroupBindings.size(), 4u);
  EXPECT_EQ(set.dnsRecordBindings.size(), 1u);
}

}  // namespace
}  // namespace endpointbinder::api
