#include "controller/runtime/manifest_store.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace endpointbinder::runtime {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;

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

// A manifest directory published the way git-sync publishes a revision: the files are
// written to a new directory under .worktrees, a new symlink to it is renamed over `current`,
// then the previous revision is removed.
class GitSyncRoot {
 public:
  explicit GitSyncRoot(fs::path root) : root_(std::move(root)) {}
  fs::path link() const { return root_ / "current"; }

  void publish(const std::map<std::string, std::string>& files) {
    const fs::path name = fs::path(".worktrees") / std::to_string(++revision_);
    for (const auto& [file, text] : files) writeFile(root_ / name / file, text);
    const fs::path tmp = root_ / ".current.tmp";
    fs::remove(tmp);
    fs::create_symlink(name, tmp);
    fs::rename(tmp, link());
    if (previous_) fs::remove_all(*previous_);
    previous_ = root_ / name;
  }

 private:
  fs::path root_;
  int revision_ = 0;
  std::optional<fs::path> previous_;
};

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
    return binding ? binding->binding->generation : "<absent>";
  }

  // Reloads `after` the previous reload, on the test's own time line.
  ManifestDiff reload(ManifestStore& store, milliseconds after = milliseconds(100)) {
    now_ += after;
    return store.reload(now_);
  }
  // A reload one deletion settle later: confirms what the previous clean reload left pending.
  ManifestDiff reloadSettled(ManifestStore& store) {
    return reload(store, store.options().deletionSettle);
  }

  TempDir temp_;
  core::MonoTime now_{};
};

TEST_F(ManifestStoreTest, InitialLoadReadsEveryFileOfADirectory) {
  writeFile(file("a.yaml"), documents({targetGroupBinding("team-a", "web", "10.0.0.1"),
                                       targetGroupBinding("team-a", "api", "10.0.0.2")}));
  writeFile(file("nested/b.yml"), targetGroupBinding("default", "search", "10.0.0.3"));
  writeFile(file("notes.txt"), "not a manifest");
  ManifestStore store({dir()});
  EXPECT_FALSE(store.loaded());

  ManifestDiff diff = reload(store);
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
  EXPECT_EQ(web->binding->metadata.name, "web");
  EXPECT_EQ(web->binding->origin.file, file("a.yaml").string());
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
  reload(store);
  ManifestDiff diff = reload(store);
  EXPECT_FALSE(diff.changed());
  // A comment moves the document, but the spec (generation) is the same.
  writeFile(file("a.yaml"), "# a comment\n" + targetGroupBinding("default", "web", "10.0.0.1"));
  diff = reload(store);
  EXPECT_FALSE(diff.changed());
  EXPECT_EQ(store.get("default/web")->binding->origin.line, 2);  // but the origin is current
}

TEST_F(ManifestStoreTest, AddModifyAndDeleteFiles) {
  writeFile(file("a.yaml"), targetGroupBinding("default", "a", "10.0.0.1"));
  ManifestStore store({dir()});
  reload(store);
  std::string before = generationOf(store, "default/a");

  writeFile(file("b.yaml"), targetGroupBinding("default", "b", "10.0.0.2"));
  ManifestDiff diff = reload(store);
  EXPECT_THAT(diff.targetGroupBindings.added, ElementsAre("default/b"));
  EXPECT_THAT(diff.targetGroupBindings.updated, IsEmpty());
  EXPECT_THAT(diff.targetGroupBindings.removed, IsEmpty());

  writeFile(file("a.yaml"), targetGroupBinding("default", "a", "10.0.0.9"));
  diff = reload(store);
  EXPECT_THAT(diff.targetGroupBindings.added, IsEmpty());
  EXPECT_THAT(diff.targetGroupBindings.updated, ElementsAre("default/a"));
  EXPECT_NE(generationOf(store, "default/a"), before);

  fs::remove(file("b.yaml"));
  diff = reload(store);  // first seen absent: pending, still served
  EXPECT_THAT(diff.targetGroupBindings.removed, IsEmpty());
  EXPECT_THAT(diff.targetGroupBindings.pendingDeletion, ElementsAre("default/b"));
  EXPECT_FALSE(diff.changed());
  ASSERT_TRUE(store.get("default/b").has_value());
  EXPECT_TRUE(store.get("default/b")->pendingDeletionSince.has_value());
  diff = reloadSettled(store);
  EXPECT_THAT(diff.targetGroupBindings.removed, ElementsAre("default/b"));
  EXPECT_THAT(diff.targetGroupBindings.updated, IsEmpty());
  EXPECT_EQ(store.get("default/b"), std::nullopt);
  EXPECT_THAT(keysOf(store.targetGroupBindings()), ElementsAre("default/a"));
}

TEST_F(ManifestStoreTest, DocumentDeletedFromAValidFileIsRemoved) {
  writeFile(file("a.yaml"), documents({targetGroupBinding("default", "a", "10.0.0.1"),
                                       targetGroupBinding("default", "b", "10.0.0.2")}));
  ManifestStore store({dir()});
  reload(store);
  writeFile(file("a.yaml"), targetGroupBinding("default", "a", "10.0.0.1"));
  ManifestDiff diff = reload(store);
  EXPECT_THAT(diff.targetGroupBindings.pendingDeletion, ElementsAre("default/b"));
  diff = reloadSettled(store);
  EXPECT_THAT(diff.targetGroupBindings.removed, ElementsAre("default/b"));
  EXPECT_THAT(diff.targetGroupBindings.updated, IsEmpty());
}

TEST_F(ManifestStoreTest, InvalidEditKeepsLastGoodSpecAndPointsAtTheError) {
  writeFile(file("a.yaml"), documents({targetGroupBinding("default", "web", "10.0.0.1"),
                                       targetGroupBinding("default", "api", "10.0.0.2")}));
  writeFile(file("other.yaml"), targetGroupBinding("default", "other", "10.0.0.3"));
  ManifestStore store({dir()});
  reload(store);
  std::string good = generationOf(store, "default/web");

  // A typo in the first document ("sorce" on line 9) and a changed address in the second.
  std::string typo = targetGroupBinding("default", "web", "10.0.0.5");
  typo.replace(typo.find("  source:"), 9, "  sorce:");
  writeFile(file("a.yaml"), documents({typo, targetGroupBinding("default", "api", "10.0.0.7")}));
  ManifestDiff diff = reload(store);

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
  EXPECT_EQ(web->binding->generation, good);  // the last good spec
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
  diff = reload(store);
  EXPECT_FALSE(diff.changed());

  // Fixed, with a new spec: updated, no longer stale.
  writeFile(file("a.yaml"), documents({targetGroupBinding("default", "web", "10.0.0.5"),
                                       targetGroupBinding("default", "api", "10.0.0.7")}));
  diff = reload(store);
  EXPECT_THAT(diff.targetGroupBindings.updated, ElementsAre("default/web"));
  EXPECT_THAT(diff.errors, IsEmpty());
  EXPECT_TRUE(diff.errorsChanged);
  web = store.get("default/web");
  EXPECT_FALSE(web->stale);
  EXPECT_THAT(web->staleErrors, IsEmpty());
  EXPECT_NE(web->binding->generation, good);
  EXPECT_EQ(store.stats().staleBindings, 0u);
}

TEST_F(ManifestStoreTest, UnparseableFileKeepsEveryBindingItHad) {
  writeFile(file("a.yaml"), documents({targetGroupBinding("default", "a", "10.0.0.1"),
                                       targetGroupBinding("default", "b", "10.0.0.2")}));
  ManifestStore store({dir()});
  reload(store);
  writeFile(file("a.yaml"), "apiVersion: [unclosed\n  kind: {\n");
  ManifestDiff diff = reload(store);
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
  reload(store);
  writeFile(file("a.yaml"), "kind: [\n");
  reload(store);
  ASSERT_TRUE(store.get("default/a")->stale);
  fs::remove(file("a.yaml"));
  ManifestDiff diff = reload(store);
  EXPECT_THAT(diff.targetGroupBindings.pendingDeletion, ElementsAre("default/a"));
  diff = reloadSettled(store);
  EXPECT_THAT(diff.targetGroupBindings.removed, ElementsAre("default/a"));
  EXPECT_THAT(diff.errors, IsEmpty());
}

TEST_F(ManifestStoreTest, BindingMovedBetweenFilesIsAnUpdate) {
  writeFile(file("a.yaml"), targetGroupBinding("default", "web", "10.0.0.1"));
  ManifestStore store({dir()});
  reload(store);
  fs::remove(file("a.yaml"));
  writeFile(file("moved/web.yaml"), targetGroupBinding("default", "web", "10.0.0.1"));
  ManifestDiff diff = reload(store);
  EXPECT_THAT(diff.targetGroupBindings.added, IsEmpty());
  EXPECT_THAT(diff.targetGroupBindings.removed, IsEmpty());
  EXPECT_THAT(diff.targetGroupBindings.updated, ElementsAre("default/web"));
  EXPECT_EQ(store.get("default/web")->binding->origin.file, file("moved/web.yaml").string());
}

TEST_F(ManifestStoreTest, MissingDirectoryKeepsEverything) {
  writeFile(file("a.yaml"), targetGroupBinding("default", "a", "10.0.0.1"));
  writeFile(file("b.yaml"), targetGroupBinding("default", "b", "10.0.0.2"));
  ManifestStore store({dir()});
  reload(store);

  fs::rename(dir(), temp_.path() / "elsewhere");  // e.g. caught in the middle of a swap
  ManifestDiff diff = reload(store);
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
  diff = reload(store);
  EXPECT_THAT(diff.targetGroupBindings.removed, IsEmpty());
  EXPECT_THAT(diff.targetGroupBindings.added, IsEmpty());
  EXPECT_THAT(diff.targetGroupBindings.updated, ElementsAre("default/a", "default/b"));
  EXPECT_FALSE(store.get("default/a")->stale);
  EXPECT_FALSE(diff.readFailed);
}

TEST_F(ManifestStoreTest, NotLoadedUntilEveryPathCouldBeRead) {
  ManifestStore store({dir()});
  ManifestDiff diff = reload(store);
  EXPECT_FALSE(store.loaded());
  EXPECT_TRUE(diff.readFailed);
  EXPECT_EQ(diff.errors.size(), 1u);
  writeFile(file("a.yaml"), targetGroupBinding("default", "a", "10.0.0.1"));
  diff = reload(store);
  EXPECT_TRUE(store.loaded());
  EXPECT_THAT(diff.targetGroupBindings.added, ElementsAre("default/a"));
}

TEST_F(ManifestStoreTest, OneUnreadablePathDoesNotFreezeTheOthers) {
  fs::path single = temp_.path() / "single.yaml";
  writeFile(single, targetGroupBinding("default", "single", "10.0.0.1"));
  writeFile(file("a.yaml"), targetGroupBinding("default", "a", "10.0.0.2"));
  ManifestStore store({single, dir()});
  reload(store);
  ASSERT_EQ(store.targetGroupBindings().size(), 2u);

  fs::remove(single);
  writeFile(file("b.yaml"), targetGroupBinding("default", "b", "10.0.0.3"));
  ManifestDiff diff = reload(store);
  EXPECT_THAT(diff.targetGroupBindings.added, ElementsAre("default/b"));
  EXPECT_THAT(diff.targetGroupBindings.removed, IsEmpty());
  EXPECT_TRUE(store.get("default/single")->stale);
  EXPECT_TRUE(diff.readFailed);
}

TEST_F(ManifestStoreTest, DuplicateKeyAcrossFilesKeepsTheLastGoodSpec) {
  writeFile(file("a.yaml"), targetGroupBinding("default", "web", "10.0.0.1"));
  ManifestStore store({dir()});
  reload(store);
  // Someone copies the manifest: the decoder drops both copies and reports both files.
  writeFile(file("b.yaml"), targetGroupBinding("default", "web", "10.0.0.2"));
  ManifestDiff diff = reload(store);
  EXPECT_THAT(diff.targetGroupBindings.removed, IsEmpty());
  EXPECT_FALSE(diff.errors.empty());
  auto web = store.get("default/web");
  ASSERT_TRUE(web.has_value());
  EXPECT_TRUE(web->stale);
  EXPECT_EQ(web->binding->origin.file, file("a.yaml").string());
}

TEST_F(ManifestStoreTest, KindsAreKeyedSeparately) {
  writeFile(file("a.yaml"), documents({targetGroupBinding("team", "web", "10.0.0.1"),
                                       dnsRecordBinding("team", "web", 60)}));
  ManifestStore store({dir()});
  ManifestDiff diff = reload(store);
  EXPECT_THAT(diff.targetGroupBindings.added, ElementsAre("team/web"));
  EXPECT_THAT(diff.dnsRecordBindings.added, ElementsAre("team/web"));

  writeFile(file("a.yaml"), documents({targetGroupBinding("team", "web", "10.0.0.1"),
                                       dnsRecordBinding("team", "web", 300)}));
  diff = reload(store);
  EXPECT_TRUE(diff.targetGroupBindings.empty());
  EXPECT_THAT(diff.dnsRecordBindings.updated, ElementsAre("team/web"));
  ASSERT_TRUE(store.getDnsRecordBinding("team/web").has_value());
  EXPECT_EQ(store.getDnsRecordBinding("team/web")->binding->spec.record.ttl, 300);
  EXPECT_EQ(store.dnsRecordBindings().size(), 1u);

  writeFile(file("a.yaml"), targetGroupBinding("team", "web", "10.0.0.1"));
  diff = reload(store);
  EXPECT_THAT(diff.dnsRecordBindings.pendingDeletion, ElementsAre("team/web"));
  EXPECT_THAT(diff.targetGroupBindings.pendingDeletion, IsEmpty());
  diff = reloadSettled(store);
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
  reload(store);
  fail = true;
  ManifestDiff diff = reload(store);
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
  reload(store);
  skipA = true;
  ManifestDiff diff = reload(store);
  EXPECT_THAT(diff.targetGroupBindings.removed, IsEmpty());
  EXPECT_TRUE(store.get("default/a")->stale);
  ASSERT_EQ(diff.errors.size(), 1u);
  EXPECT_EQ(diff.errors[0].file, file("a.yaml").string());

  // Once it is really gone, it is a deletion.
  fs::remove(file("a.yaml"));
  diff = reload(store);
  EXPECT_THAT(diff.targetGroupBindings.pendingDeletion, ElementsAre("default/a"));
  diff = reloadSettled(store);
  EXPECT_THAT(diff.targetGroupBindings.removed, ElementsAre("default/a"));
}

// --- Deletion safety: a deletion is seen on two clean reads, settled. ---

TEST_F(ManifestStoreTest, DeletionIsConfirmedBySecondCleanReadAfterTheSettle) {
  writeFile(file("a.yaml"), targetGroupBinding("default", "a", "10.0.0.1"));
  writeFile(file("b.yaml"), targetGroupBinding("default", "b", "10.0.0.2"));
  ManifestStore store({dir()}, &api::loadManifests, ManifestStoreOptions{seconds(5)});
  reload(store);
  const auto before = store.get("default/b");
  ASSERT_TRUE(before.has_value());

  fs::remove(file("b.yaml"));
  ManifestDiff diff = reload(store);
  const core::MonoTime firstAbsent = now_;
  EXPECT_TRUE(diff.complete);
  EXPECT_THAT(diff.targetGroupBindings.removed, IsEmpty());
  EXPECT_THAT(diff.targetGroupBindings.pendingDeletion, ElementsAre("default/b"));
  EXPECT_FALSE(diff.changed());  // nothing for the controller to do yet
  EXPECT_EQ(diff.confirmDeletionsAt, firstAbsent + seconds(5));
  // Still served exactly as before, so the controller keeps reconciling it.
  auto pending = store.get("default/b");
  ASSERT_TRUE(pending.has_value());
  EXPECT_EQ(pending->binding->generation, before->binding->generation);
  EXPECT_FALSE(pending->stale);
  EXPECT_EQ(pending->pendingDeletionSince, firstAbsent);
  EXPECT_THAT(keysOf(store.targetGroupBindings()), ElementsAre("default/a", "default/b"));
  EXPECT_EQ(store.stats().pendingDeletions, 1u);

  // Clean reads before the settle do not confirm it, nor restart its clock.
  diff = reload(store, seconds(2));
  EXPECT_THAT(diff.targetGroupBindings.removed, IsEmpty());
  EXPECT_THAT(diff.targetGroupBindings.pendingDeletion, IsEmpty());  // reported once
  EXPECT_EQ(diff.confirmDeletionsAt, firstAbsent + seconds(5));
  diff = store.reload(firstAbsent + seconds(5) - milliseconds(1));
  EXPECT_THAT(diff.targetGroupBindings.removed, IsEmpty());
  EXPECT_TRUE(store.get("default/b").has_value());

  diff = store.reload(firstAbsent + seconds(5));
  EXPECT_THAT(diff.targetGroupBindings.removed, ElementsAre("default/b"));
  EXPECT_TRUE(diff.changed());
  EXPECT_EQ(diff.confirmDeletionsAt, std::nullopt);
  EXPECT_EQ(store.get("default/b"), std::nullopt);
  EXPECT_EQ(store.stats().pendingDeletions, 0u);
}

TEST_F(ManifestStoreTest, SettledOnlyAfterACleanReadASettleAfterTheFirst) {
  // A binding the first read missed (its file half written) was never known; only a clean
  // read a settle later makes its absence count.
  writeFile(file("a.yaml"), targetGroupBinding("default", "a", "10.0.0.1"));
  ManifestStore store({dir()}, &api::loadManifests, ManifestStoreOptions{seconds(5)});
  const core::MonoTime first = now_;
  ManifestDiff diff = store.reload(first);
  EXPECT_FALSE(store.settled());
  EXPECT_EQ(diff.settleCheckAt, first + seconds(5));
  diff = store.reload(first + seconds(2));
  EXPECT_FALSE(store.settled());
  EXPECT_EQ(diff.settleCheckAt, first + seconds(5));
  writeFile(file("broken.yaml"), "kind: [\n");
  diff = store.reload(first + seconds(6));
  EXPECT_FALSE(store.settled()) << "an incomplete read proves nothing";
  EXPECT_EQ(diff.settleCheckAt, first + seconds(11));
  fs::remove(file("broken.yaml"));
  diff = store.reload(first + seconds(7));
  EXPECT_TRUE(store.settled());
  EXPECT_EQ(diff.settleCheckAt, std::nullopt);
}

TEST_F(ManifestStoreTest, BindingThatComesBackIsNoLongerPendingAndNotAddedAgain) {
  const std::string text = targetGroupBinding("default", "web", "10.0.0.1");
  writeFile(file("a.yaml"), text);
  ManifestStore store({dir()});
  reload(store);
  fs::remove(file("a.yaml"));
  ASSERT_THAT(reload(store).targetGroupBindings.pendingDeletion, ElementsAre("default/web"));

  writeFile(file("a.yaml"), text);
  ManifestDiff diff = reload(store);
  EXPECT_THAT(diff.targetGroupBindings.deletionCancelled, ElementsAre("default/web"));
  EXPECT_THAT(diff.targetGroupBindings.added, IsEmpty());
  EXPECT_THAT(diff.targetGroupBindings.updated, IsEmpty());  // same generation, same file
  EXPECT_FALSE(diff.changed());
  EXPECT_EQ(diff.confirmDeletionsAt, std::nullopt);
  EXPECT_EQ(store.get("default/web")->pendingDeletionSince, std::nullopt);

  // Long after, nothing is removed; a new absence starts a new settle.
  diff = reloadSettled(store);
  EXPECT_TRUE(diff.targetGroupBindings.removed.empty());
  fs::remove(file("a.yaml"));
  EXPECT_THAT(reload(store).targetGroupBindings.pendingDeletion, ElementsAre("default/web"));
  EXPECT_THAT(reload(store).targetGroupBindings.removed, IsEmpty());
  // Back with a new spec in another file: an update, as any move or edit.
  writeFile(file("b.yaml"), targetGroupBinding("default", "web", "10.0.0.9"));
  diff = reload(store);
  EXPECT_THAT(diff.targetGroupBindings.deletionCancelled, ElementsAre("default/web"));
  EXPECT_THAT(diff.targetGroupBindings.updated, ElementsAre("default/web"));
  EXPECT_THAT(diff.targetGroupBindings.added, IsEmpty());
}

// The binding moves into a file that does not decode: it must never count as deleted, however
// long the file stays broken, and whatever deletionSettle says.
TEST_F(ManifestStoreTest, BindingMovedIntoABrokenFileIsNeverDeleted) {
  writeFile(file("a.yaml"), targetGroupBinding("default", "web", "10.0.0.1"));
  writeFile(file("b.yaml"), targetGroupBinding("default", "other", "10.0.0.2"));
  ManifestStore store({dir()});
  reload(store);
  const std::string good = generationOf(store, "default/web");

  // Moved into b.yaml with a typo; a.yaml keeps nothing (valid, empty).
  std::string typo = targetGroupBinding("default", "web", "10.0.0.1");
  typo.replace(typo.find("  source:"), 9, "  sorce:");
  writeFile(file("b.yaml"), documents({targetGroupBinding("default", "other", "10.0.0.2"), typo}));
  writeFile(file("a.yaml"), "");
  for (int i = 0; i < 4; ++i) {
    ManifestDiff diff = reloadSettled(store);
    EXPECT_FALSE(diff.complete);
    EXPECT_THAT(diff.targetGroupBindings.removed, IsEmpty());
    EXPECT_THAT(diff.targetGroupBindings.pendingDeletion, IsEmpty());
    EXPECT_EQ(diff.confirmDeletionsAt, std::nullopt);
    auto web = store.get("default/web");
    ASSERT_TRUE(web.has_value());
    EXPECT_TRUE(web->stale);
    EXPECT_EQ(web->binding->generation, good);
    EXPECT_EQ(web->pendingDeletionSince, std::nullopt);
    EXPECT_THAT(web->staleReason(), HasSubstr("no longer defined here"));
    EXPECT_THAT(web->staleReason(), HasSubstr("more"));  // and the errors of b.yaml
    if (i == 0) {
      EXPECT_THAT(diff.targetGroupBindings.updated, ElementsAre("default/web"));
    }
  }

  // Fixed in its new file: there it is, moved, not stale.
  writeFile(file("b.yaml"), documents({targetGroupBinding("default", "other", "10.0.0.2"),
                                       targetGroupBinding("default", "web", "10.0.0.1")}));
  ManifestDiff diff = reload(store);
  EXPECT_TRUE(diff.complete);
  EXPECT_THAT(diff.targetGroupBindings.updated, ElementsAre("default/web"));
  EXPECT_THAT(diff.targetGroupBindings.removed, IsEmpty());
  EXPECT_FALSE(store.get("default/web")->stale);
  EXPECT_EQ(store.get("default/web")->binding->origin.file, file("b.yaml").string());
}

// A real deletion made while another file is broken waits for every file to read cleanly, and
// then for the settle: two clean reads.
TEST_F(ManifestStoreTest, AnyBrokenFileFreezesDeletions) {
  writeFile(file("a.yaml"), targetGroupBinding("default", "a", "10.0.0.1"));
  writeFile(file("c.yaml"), targetGroupBinding("default", "c", "10.0.0.3"));
  ManifestStore store({dir()});
  reload(store);
  fs::remove(file("a.yaml"));
  writeFile(file("c.yaml"), "kind: [\n");
  for (int i = 0; i < 3; ++i) {
    ManifestDiff diff = reloadSettled(store);
    EXPECT_THAT(diff.targetGroupBindings.removed, IsEmpty());
    EXPECT_THAT(diff.targetGroupBindings.pendingDeletion, IsEmpty());
    ASSERT_TRUE(store.get("default/a").has_value());
    EXPECT_TRUE(store.get("default/a")->stale);
  }
  writeFile(file("c.yaml"), targetGroupBinding("default", "c", "10.0.0.3"));
  ManifestDiff diff = reload(store);
  EXPECT_THAT(diff.targetGroupBindings.pendingDeletion, ElementsAre("default/a"));
  EXPECT_THAT(diff.targetGroupBindings.removed, IsEmpty());
  diff = reloadSettled(store);
  EXPECT_THAT(diff.targetGroupBindings.removed, ElementsAre("default/a"));
}

// A pending deletion is not confirmed by a read with errors, even long after; the next clean
// read confirms it.
TEST_F(ManifestStoreTest, IncompleteReadNeverConfirmsAPendingDeletion) {
  writeFile(file("a.yaml"), targetGroupBinding("default", "a", "10.0.0.1"));
  writeFile(file("c.yaml"), targetGroupBinding("default", "c", "10.0.0.3"));
  ManifestStore store({dir()});
  reload(store);
  fs::remove(file("a.yaml"));
  ASSERT_THAT(reload(store).targetGroupBindings.pendingDeletion, ElementsAre("default/a"));
  const auto since = store.get("default/a")->pendingDeletionSince;

  writeFile(file("c.yaml"), "kind: [\n");
  ManifestDiff diff = reloadSettled(store);
  EXPECT_THAT(diff.targetGroupBindings.removed, IsEmpty());
  EXPECT_EQ(store.get("default/a")->pendingDeletionSince, since);
  // Asks for another look a settle later, not at once.
  EXPECT_EQ(diff.confirmDeletionsAt, now_ + store.options().deletionSettle);

  writeFile(file("c.yaml"), targetGroupBinding("default", "c", "10.0.0.3"));
  diff = reload(store);
  EXPECT_THAT(diff.targetGroupBindings.removed, ElementsAre("default/a"));
}

// `generator > m.yaml`: the file is truncated, then written in several slow chunks, and
// reloads read it empty and half written in between. Three such rewrites never delete.
TEST_F(ManifestStoreTest, FileRewrittenSlowlyInPlaceIsNeverDeleted) {
  const std::string text = documents({targetGroupBinding("default", "a", "10.0.0.1"),
                                      targetGroupBinding("default", "b", "10.0.0.2")});
  writeFile(file("m.yaml"), text);
  ManifestStore store({dir()});
  reload(store);
  const std::string generationA = generationOf(store, "default/a");
  const std::string generationB = generationOf(store, "default/b");

  // Chunks end after the first document (a valid file without "b"), then mid-document.
  const std::size_t second = text.find("---\n") + 4;
  const std::vector<std::string> chunks = {text.substr(0, second), text.substr(second, 60),
                                           text.substr(second + 60)};
  bool sawPending = false;
  for (int rewrite = 0; rewrite < 3; ++rewrite) {
    std::ofstream out(file("m.yaml"), std::ios::trunc);
    std::vector<ManifestDiff> diffs{reload(store, seconds(1))};  // read empty
    EXPECT_TRUE(diffs.back().complete);
    for (const auto& chunk : chunks) {
      out << chunk << std::flush;
      diffs.push_back(reload(store, seconds(1)));
    }
    out.close();
    diffs.push_back(reload(store, seconds(1)));
    std::vector<std::string> cancelled;
    for (const auto& diff : diffs) {
      EXPECT_THAT(diff.targetGroupBindings.removed, IsEmpty());
      EXPECT_THAT(diff.targetGroupBindings.added, IsEmpty());
      sawPending = sawPending || !diff.targetGroupBindings.pendingDeletion.empty();
      for (const auto& key : diff.targetGroupBindings.deletionCancelled) cancelled.push_back(key);
    }
    // Empty: both pending. First chunk: "a" is back. Last chunk: "b" is back.
    EXPECT_THAT(diffs.front().targetGroupBindings.pendingDeletion,
                ElementsAre("default/a", "default/b"));
    EXPECT_THAT(cancelled, ElementsAre("default/a", "default/b"));
    EXPECT_EQ(generationOf(store, "default/a"), generationA);
    EXPECT_EQ(generationOf(store, "default/b"), generationB);
    EXPECT_FALSE(store.get("default/b")->pendingDeletionSince.has_value());
  }
  EXPECT_TRUE(sawPending);  // the empty read was taken for a deletion, and only pending
  EXPECT_THAT(reloadSettled(store).targetGroupBindings.removed, IsEmpty());
}

// A binding moves between files from one git-sync revision to the next while revisions are
// published as fast as possible: every read sees one whole revision (or knows it did not), so
// the binding is never even pending deletion.
TEST_F(ManifestStoreTest, GitSyncSwapsNeverMixRevisions) {
  GitSyncRoot git(temp_.path() / "git");
  const std::string web = targetGroupBinding("default", "web", "10.0.0.1");
  const std::string api = targetGroupBinding("default", "api", "10.0.0.2");
  const std::map<std::string, std::string> layouts[2] = {
      {{"a.yaml", documents({api, web})}},
      {{"a.yaml", api}, {"b.yaml", web}},
  };
  git.publish(layouts[0]);
  ManifestStore store({git.link()});
  reload(store);
  ASSERT_THAT(keysOf(store.targetGroupBindings()), ElementsAre("default/api", "default/web"));

  std::atomic<bool> stop{false};
  std::thread publisher([&] {
    for (int i = 1; !stop; ++i) git.publish(layouts[i % 2]);
  });
  int incomplete = 0;
  for (int i = 0; i < 1000; ++i) {
    ManifestDiff diff = reload(store, seconds(1));
    EXPECT_THAT(diff.targetGroupBindings.removed, IsEmpty());
    EXPECT_THAT(diff.targetGroupBindings.pendingDeletion, IsEmpty());
    if (!diff.complete) ++incomplete;
  }
  stop = true;
  publisher.join();

  ManifestDiff diff = reload(store);
  EXPECT_TRUE(diff.complete) << incomplete;
  EXPECT_THAT(keysOf(store.targetGroupBindings()), ElementsAre("default/api", "default/web"));
  // Origins keep the configured spelling, not the revision directory's.
  EXPECT_THAT(store.get("default/web")->binding->origin.file, StartsWith(git.link().string()));
}

}  // namespace
}  // namespace endpointbinder::runtime
