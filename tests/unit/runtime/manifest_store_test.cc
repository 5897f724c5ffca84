#include "controller/runtime/manifest_store.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace endpointbinder::runtime {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// A fresh directory under the system temp dir, removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "eb-store-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

void writeFile(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::trunc);
  out << text;
}

// A valid TargetGroupBinding with a static source. Each key gets its own target group ARN
// (two bindings naming one target group is a validation error).
std::string targetGroupBinding(const std::string& ns, const std::string& name,
                               const std::string& address) {
  return fmt::format(R"(apiVersion: endpointbinder.io/v1alpha1
kind: TargetGroupBinding
metadata:
  name: {0}
  namespace: {1}
spec:
  targetGroupARN: arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup/{0}/{2:016x}
  targetType: ip
  source:
    static:
      addresses: [{3}]
)",
                     name, ns, std::hash<std::string>{}(ns + "/" + name), address);
}

std::string dnsRecordBinding(const std::string& ns, const std::string& name, int ttl) {
  return fmt::format(R"(apiVersion: endpointbinder.io/v1alpha1
kind: DNSRecordBinding
metadata: {{name: {0}, namespace: {1}}}
spec:
  hostedZoneId: Z0123456789ABCDEFGHIJ
  source: {{ec2: {{filters: [{{name: "tag:dns", values: ["true"]}}]}}}}
  record: {{type: A, ttl: {2}}}
)",
                     name, ns, ttl);
}

std::string documents(const std::vector<std::string>& docs) {
  std::string out;
  for (const auto& doc : docs) out += (out.empty() ? "" : "---\n") + doc;
  return out;
}

std::vector<std::string> keysOf(const std::map<std::string, StoredTargetGroupBinding>& bindings) {
  std::vector<std::string> keys;
  for (const auto& [key, binding] : bindings) keys.push_back(key);
  return keys;
}

class ManifestStoreTest : public ::testing::Test {
 protected:
  fs::path dir() const { return temp_.path() / "manifests"; }
  fs::path file(const std::string& name) const { return dir() / name; }
  std::string generationOf(const ManifestStore& store, const std::string& key) {
    auto binding = store.get(key);
    return binding ? binding->binding.generation : "<absent>";
  }

  TempDir temp_;
};

TEST_F(ManifestStoreTest, InitialLoadReadsEveryFileOfADirectory) {
  writeFile(file("a.yaml"), documents({targetGroupBinding("team-a", "web", "10.0.0.1"),
                                       targetGroupBinding("team-a", "api", "10.0.0.2")}));
  writeFile(file("nested/b.yml"), targetGroupBinding("default", "search", "10.0.0.3"));
  writeFile(file("notes.txt"), "not a manifest");
  ManifestStore store({dir()});
  EXPECT_FALSE(store.loaded());

  ManifestDiff diff = store.reload();
  EXPECT_THAT(diff.targetGroupBindings.added,
              ElementsAre("default/search", "team-a/api", "team-a/web"));
  EXPECT_THAT(diff.targetGroupBindings.updated, IsEmpty());
  EXPECT_THAT(diff.targetGroupBindings.removed, IsEmpty());
  EXPECT_THAT(diff.errors, IsEmpty());
  EXPECT_TRUE(diff.changed());
  EXPECT_FALSE(diff.readFailed);
  EXPECT_TRUE(store.loaded());

  auto web = store.get("team-a/web");
  ASSERT_TRUE(web.has_value());
  EXPECT_FALSE(web->stale);
  EXPECT_EQ(web->binding.metadata.name, "web");
  EXPECT_EQ(web->binding.origin.file, file("a.yaml").string());
  EXPECT_EQ(store.get("team-a/nope"), std::nullopt);

  auto stats = store.stats();
  EXPECT_EQ(stats.reloads, 1u);
  EXPECT_EQ(stats.files, 2u);
  EXPECT_EQ(stats.targetGroupBindings, 3u);
  EXPECT_EQ(stats.errors, 0u);
}

TEST_F(ManifestStoreTest, ReloadWithoutChangesReportsNothing) {
  writeFile(file("a.yaml"), targetGroupBinding("default", "web", "10.0.0.1"));
  ManifestStore store({dir()});
  store.reload();
  ManifestDiff diff = store.reload();
  EXPECT_FALSE(diff.changed());
  // A comment moves the document, but the spec (generation) is the same.
  writeFile(file("a.yaml"), "# a comment\n" + targetGroupBinding("default", "web", "10.0.0.1"));
  diff = store.reload();
  EXPECT_FALSE(diff.changed());
  EXPECT_EQ(store.get("default/web")->binding.origin.line, 2);  // but the origin is current
}

TEST_F(ManifestStoreTest, AddModifyAndDeleteFiles) {
  writeFile(file("a.yaml"), targetGroupBinding("default", "a", "10.0.0.1"));
  ManifestStore store({dir()});
  store.reload();
  std::string before = generationOf(store, "default/a");

  writeFile(file("b.yaml"), targetGroupBinding("default", "b", "10.0.0.2"));
  ManifestDiff diff = store.reload();
  EXPECT_THAT(diff.targetGroupBindings.added, ElementsAre("default/b"));
  EXPECT_THAT(diff.targetGroupBindings.updated, IsEmpty());
  EXPECT_THAT(diff.targetGroupBindings.removed, IsEmpty());

  writeFile(file("a.yaml"), targetGroupBinding("default", "a", "10.0.0.9"));
  diff = store.reload();
  EXPECT_THAT(diff.targetGroupBindings.added, IsEmpty());
  EXPECT_THAT(diff.targetGroupBindings.updated, ElementsAre("default/a"));
  EXPECT_NE(generationOf(store, "default/a"), before);

  fs::remove(file("b.yaml"));
  diff = store.reload();
  EXPECT_THAT(diff.targetGroupBindings.removed, ElementsAre("default/b"));
  EXPECT_THAT(diff.targetGroupBindings.updated, IsEmpty());
  EXPECT_EQ(store.get("default/b"), std::nullopt);
  EXPECT_THAT(keysOf(store.targetGroupBindings()), ElementsAre("default/a"));
}

TEST_F(ManifestStoreTest, DocumentDeletedFromAValidFileIsRemoved) {
  writeFile(file("a.yaml"), documents({targetGroupBinding("default", "a", "10.0.0.1"),
                                       targetGroupBinding("default", "b", "10.0.0.2")}));
  ManifestStore store({dir()});
  store.reload();
  writeFile(file("a.yaml"), targetGroupBinding("default", "a", "10.0.0.1"));
  ManifestDiff diff = store.reload();
  EXPECT_THAT(diff.targetGroupBindings.removed, ElementsAre("default/b"));
  EXPECT_THAT(diff.targetGroupBindings.updated, IsEmpty());
}

TEST_F(ManifestStoreTest, InvalidEditKeepsLastGoodSpecAndPointsAtTheError) {
  writeFile(file("a.yaml"), documents({targetGroupBinding("default", "web", "10.0.0.1"),
                                       targetGroupBinding("default", "api", "10.0.0.2")}));
  writeFile(file("other.yaml"), targetGroupBinding("default", "other", "10.0.0.3"));
  ManifestStore store({dir()});
  store.reload();
  std::string good = generationOf(store, "default/web");

  // A typo in the first document ("sorce" on line 9) and a changed address in the second.
  std::string typo = targetGroupBinding("default", "web", "10.0.0.5");
  typo.replace(typo.find("  source:"), 9, "  sorce:");
  writeFile(file("a.yaml"), documents({typo, targetGroupBinding("default", "api", "10.0.0.7")}));
  ManifestDiff diff = store.reload();

  EXPECT_THAT(diff.targetGroupBindings.removed, IsEmpty());
  EXPECT_THAT(diff.targetGroupBindings.added, IsEmpty());
  // "web" became stale; "api" is valid in the same file and takes its new spec.
  EXPECT_THAT(diff.targetGroupBindings.updated, ElementsAre("default/api", "default/web"));
  ASSERT_FALSE(diff.errors.empty());
  EXPECT_TRUE(diff.errorsChanged);
  EXPECT_FALSE(diff.readFailed);

  auto web = store.get("default/web");
  ASSERT_TRUE(web.has_value());
  EXPECT_TRUE(web->stale);
  EXPECT_EQ(web->binding.generation, good);  // the last good spec
  ASSERT_FALSE(web->staleErrors.empty());
  bool pointsAtTypo = false;
  for (const auto& error : web->staleErrors) {
    EXPECT_EQ(error.file, file("a.yaml").string());
    if (error.line == 9 && error.column == 3 && error.path == "spec.sorce") pointsAtTypo = true;
  }
  EXPECT_TRUE(pointsAtTypo) << web->staleReason();
  EXPECT_THAT(web->staleReason(), HasSubstr(file("a.yaml").string() + ":"));
  EXPECT_FALSE(store.get("default/api")->stale);
  EXPECT_FALSE(store.get("default/other")->stale);
  EXPECT_EQ(store.errors().size(), diff.errors.size());
  auto stats = store.stats();
  EXPECT_EQ(stats.staleBindings, 1u);
  EXPECT_EQ(stats.filesWithErrors, 1u);
  EXPECT_EQ(stats.reloadsWithErrors, 1u);

  // The same errors again: nothing new to report.
  diff = store.reload();
  EXPECT_FALSE(diff.changed());

  // Fixed, with a new spec: updated, no longer stale.
  writeFile(file("a.yaml"), documents({targetGroupBinding("default", "web", "10.0.0.5"),
                                       targetGroupBinding("default", "api", "10.0.0.7")}));
  diff = store.reload();
  EXPECT_THAT(diff.targetGroupBindings.updated, ElementsAre("default/web"));
  EXPECT_THAT(diff.errors, IsEmpty());
  EXPECT_TRUE(diff.errorsChanged);
  web = store.get("default/web");
  EXPECT_FALSE(web->stale);
  EXPECT_THAT(web->staleErrors, IsEmpty());
  EXPECT_NE(web->binding.generation, good);
  EXPECT_EQ(store.stats().staleBindings, 0u);
}

TEST_F(ManifestStoreTest, UnparseableFileKeepsEveryBindingItHad) {
  writeFile(file("a.yaml"), documents({targetGroupBinding("default", "a", "10.0.0.1"),
                                       targetGroupBinding("default", "b", "10.0.0.2")}));
  ManifestStore store({dir()});
  store.reload();
  writeFile(file("a.yaml"), "apiVersion: [unclosed\n  kind: {\n");
  ManifestDiff diff = store.reload();
  EXPECT_THAT(diff.targetGroupBindings.removed, IsEmpty());
  EXPECT_THAT(diff.targetGroupBindings.updated, ElementsAre("default/a", "default/b"));
  ASSERT_FALSE(diff.errors.empty());
  EXPECT_GT(diff.errors.front().line, 0);
  EXPECT_TRUE(store.get("default/a")->stale);
  EXPECT_TRUE(store.get("default/b")->stale);
}

TEST_F(ManifestStoreTest, StaleBindingIsRemovedWhenItsFileIsDeleted) {
  writeFile(file("a.yaml"), targetGroupBinding("default", "a", "10.0.0.1"));
  ManifestStore store({dir()});
  store.reload();
  writeFile(file("a.yaml"), "kind: [\n");
  store.reload();
  ASSERT_TRUE(store.get("default/a")->stale);
  fs::remove(file("a.yaml"));
  ManifestDiff diff = store.reload();
  EXPECT_THAT(diff.targetGroupBindings.removed, ElementsAre("default/a"));
  EXPECT_THAT(diff.errors, IsEmpty());
}

TEST_F(ManifestStoreTest, BindingMovedBetweenFilesIsAnUpdate) {
  writeFile(file("a.yaml"), targetGroupBinding("default", "web", "10.0.0.1"));
  ManifestStore store({dir()});
  store.reload();
  fs::remove(file("a.yaml"));
  writeFile(file("moved/web.yaml"), targetGroupBinding("default", "web", "10.0.0.1"));
  ManifestDiff diff = store.reload();
  EXPECT_THAT(diff.targetGroupBindings.added, IsEmpty());
  EXPECT_THAT(diff.targetGroupBindings.removed, IsEmpty());
  EXPECT_THAT(diff.targetGroupBindings.updated, ElementsAre("default/web"));
  EXPECT_EQ(store.get("default/web")->binding.origin.file, file("moved/web.yaml").string());
}

TEST_F(ManifestStoreTest, MissingDirectoryKeepsEverything) {
  writeFile(file("a.yaml"), targetGroupBinding("default", "a", "10.0.0.1"));
  writeFile(file("b.yaml"), targetGroupBinding("default", "b", "10.0.0.2"));
  ManifestStore store({dir()});
  store.reload();

  fs::rename(dir(), temp_.path() / "elsewhere");  // e.g. caught in the middle of a swap
  ManifestDiff diff = store.reload();
  EXPECT_THAT(diff.targetGroupBindings.removed, IsEmpty());
  EXPECT_THAT(diff.targetGroupBindings.updated, ElementsAre("default/a", "default/b"));
  EXPECT_TRUE(diff.readFailed);
  ASSERT_EQ(diff.errors.size(), 1u);
  EXPECT_EQ(diff.errors[0].file, dir().string());
  EXPECT_EQ(diff.errors[0].line, 0);
  EXPECT_TRUE(store.loaded());
  auto a = store.get("default/a");
  ASSERT_TRUE(a.has_value());
  EXPECT_TRUE(a->stale);
  EXPECT_THAT(a->staleReason(), HasSubstr(dir().string()));
  EXPECT_EQ(store.stats().readFailures, 1u);

  fs::rename(temp_.path() / "elsewhere", dir());
  diff = store.reload();
  EXPECT_THAT(diff.targetGroupBindings.removed, IsEmpty());
  EXPECT_THAT(diff.targetGroupBindings.added, IsEmpty());
  EXPECT_THAT(diff.targetGroupBindings.updated, ElementsAre("default/a", "default/b"));
  EXPECT_FALSE(store.get("default/a")->stale);
  EXPECT_FALSE(diff.readFailed);
}

TEST_F(ManifestStoreTest, NotLoadedUntilEveryPathCouldBeRead) {
  ManifestStore store({dir()});
  ManifestDiff diff = store.reload();
  EXPECT_FALSE(store.loaded());
  EXPECT_TRUE(diff.readFailed);
  EXPECT_EQ(diff.errors.size(), 1u);
  writeFile(file("a.yaml"), targetGroupBinding("default", "a", "10.0.0.1"));
  diff = store.reload();
  EXPECT_TRUE(store.loaded());
  EXPECT_THAT(diff.targetGroupBindings.added, ElementsAre("default/a"));
}

TEST_F(ManifestStoreTest, OneUnreadablePathDoesNotFreezeTheOthers) {
  fs::path single = temp_.path() / "single.yaml";
  writeFile(single, targetGroupBinding("default", "single", "10.0.0.1"));
  writeFile(file("a.yaml"), targetGroupBinding("default", "a", "10.0.0.2"));
  ManifestStore store({single, dir()});
  store.reload();
  ASSERT_EQ(store.targetGroupBindings().size(), 2u);

  fs::remove(single);
  writeFile(file("b.yaml"), targetGroupBinding("default", "b", "10.0.0.3"));
  ManifestDiff diff = store.reload();
  EXPECT_THAT(diff.targetGroupBindings.added, ElementsAre("default/b"));
  EXPECT_THAT(diff.targetGroupBindings.removed, IsEmpty());
  EXPECT_TRUE(store.get("default/single")->stale);
  EXPECT_TRUE(diff.readFailed);
}

TEST_F(ManifestStoreTest, DuplicateKeyAcrossFilesKeepsTheLastGoodSpec) {
  writeFile(file("a.yaml"), targetGroupBinding("default", "web", "10.0.0.1"));
  ManifestStore store({dir()});
  store.reload();
  // Someone copies the manifest: the decoder drops both copies and reports both files.
  writeFile(file("b.yaml"), targetGroupBinding("default", "web", "10.0.0.2"));
  ManifestDiff diff = store.reload();
  EXPECT_THAT(diff.targetGroupBindings.removed, IsEmpty());
  EXPECT_FALSE(diff.errors.empty());
  auto web = store.get("default/web");
  ASSERT_TRUE(web.has_value());
  EXPECT_TRUE(web->stale);
  EXPECT_EQ(web->binding.origin.file, file("a.yaml").string());
}

TEST_F(ManifestStoreTest, KindsAreKeyedSeparately) {
  writeFile(file("a.yaml"), documents({targetGroupBinding("team", "web", "10.0.0.1"),
                                       dnsRecordBinding("team", "web", 60)}));
  ManifestStore store({dir()});
  ManifestDiff diff = store.reload();
  EXPECT_THAT(diff.targetGroupBindings.added, ElementsAre("team/web"));
  EXPECT_THAT(diff.dnsRecordBindings.added, ElementsAre("team/web"));

  writeFile(file("a.yaml"), documents({targetGroupBinding("team", "web", "10.0.0.1"),
                                       dnsRecordBinding("team", "web", 300)}));
  diff = store.reload();
  EXPECT_TRUE(diff.targetGroupBindings.empty());
  EXPECT_THAT(diff.dnsRecordBindings.updated, ElementsAre("team/web"));
  ASSERT_TRUE(store.getDnsRecordBinding("team/web").has_value());
  EXPECT_EQ(store.getDnsRecordBinding("team/web")->binding.spec.record.ttl, 300);
  EXPECT_EQ(store.dnsRecordBindings().size(), 1u);

  writeFile(file("a.yaml"), targetGroupBinding("team", "web", "10.0.0.1"));
  diff = store.reload();
  EXPECT_THAT(diff.dnsRecordBindings.removed, ElementsAre("team/web"));
  EXPECT_TRUE(diff.targetGroupBindings.empty());
}

TEST_F(ManifestStoreTest, LoaderExceptionKeepsEverything) {
  writeFile(file("a.yaml"), targetGroupBinding("default", "a", "10.0.0.1"));
  bool fail = false;
  ManifestStore store({dir()}, [&](const std::vector<fs::path>& paths) {
    if (fail) throw std::runtime_error("boom");
    return api::loadManifests(paths);
  });
  store.reload();
  fail = true;
  ManifestDiff diff = store.reload();
  EXPECT_THAT(diff.targetGroupBindings.removed, IsEmpty());
  EXPECT_TRUE(diff.readFailed);
  ASSERT_EQ(diff.errors.size(), 1u);
  EXPECT_THAT(diff.errors[0].message, HasSubstr("boom"));
  EXPECT_TRUE(store.get("default/a")->stale);
}

TEST_F(ManifestStoreTest, FileMissedByTheWalkButStillPresentIsKept) {
  writeFile(file("a.yaml"), targetGroupBinding("default", "a", "10.0.0.1"));
  writeFile(file("b.yaml"), targetGroupBinding("default", "b", "10.0.0.2"));
  bool skipA = false;
  // Simulates a walk racing a checkout: a.yaml is on disk but the walk did not see it.
  ManifestStore store({dir()}, [&](const std::vector<fs::path>& paths) {
    if (!skipA) return api::loadManifests(paths);
    return api::loadManifests({file("b.yaml")});
  });
  store.reload();
  skipA = true;
  ManifestDiff diff = store.reload();
  EXPECT_THAT(diff.targetGroupBindings.removed, IsEmpty());
  EXPECT_TRUE(store.get("default/a")->stale);
  ASSERT_EQ(diff.errors.size(), 1u);
  EXPECT_EQ(diff.errors[0].file, file("a.yaml").string());

  // Once it is really gone, it is a deletion.
  fs::remove(file("a.yaml"));
  diff = store.reload();
  EXPECT_THAT(diff.targetGroupBindings.removed, ElementsAre("default/a"));
}

}  // namespace
}  // namespace endpointbinder::runtime
