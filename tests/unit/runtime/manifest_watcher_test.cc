// ManifestWatcher against real directories and inotify. These tests use real time: each waits
// for an outcome with a generous bound (kBound) and never sleeps to let something happen,
// except to space out the writes of a burst.
#include "controller/runtime/manifest_watcher.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <fstream>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "controller/core/clock.h"
#include "controller/core/log.h"

namespace endpointbinder::runtime {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;
using ::testing::Contains;
using ::testing::IsEmpty;

constexpr auto kBound = seconds(10);

class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "eb-watch-XXXXXX").string();
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

std::string targetGroupBinding(const std::string& name, const std::string& address) {
  return fmt::format(R"(apiVersion: endpointbinder.io/v1alpha1
kind: TargetGroupBinding
metadata: {{name: {0}}}
spec:
  targetGroupARN: arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup/{0}/{1:016x}
  targetType: ip
  source: {{static: {{addresses: [{2}]}}}}
)",
                     name, std::hash<std::string>{}(name), address);
}

// Collects the diffs reported by a watcher and lets the test wait for one it expects.
class Diffs {
 public:
  ManifestWatcher::OnChange callback() {
    return [this](const ManifestDiff& diff) {
      std::lock_guard lock(mu_);
      diffs_.push_back(diff);
      cv_.notify_all();
    };
  }

  // Waits until some diff from index `from` on satisfies `match`; returns its index or -1.
  int waitFor(std::size_t from, const std::function<bool(const ManifestDiff&)>& match) {
    std::unique_lock lock(mu_);
    int found = -1;
    cv_.wait_for(lock, kBound, [&] {
      for (std::size_t i = from; i < diffs_.size(); ++i) {
        if (match(diffs_[i])) {
          found = static_cast<int>(i);
          return true;
        }
      }
      return false;
    });
    return found;
  }

  std::size_t size() const {
    std::lock_guard lock(mu_);
    return diffs_.size();
  }
  std::vector<ManifestDiff> all() const {
    std::lock_guard lock(mu_);
    return diffs_;
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<ManifestDiff> diffs_;
};

bool has(const std::vector<std::string>& keys, const std::string& key) {
  return std::find(keys.begin(), keys.end(), key) != keys.end();
}

std::string addressOf(const StoredTargetGroupBinding& stored) {
  const auto* source = std::get_if<api::StaticSource>(&stored.binding->spec.source);
  if (stored.stale || source == nullptr || source->addresses.empty()) return "";
  return source->addresses.front().toString();
}

// Keeps every message logged, for tests that check what an operator would read.
class CapturingLogger final : public core::Logger {
 public:
  bool enabled(core::LogLevel) const override { return true; }
  void log(core::LogLevel, std::string_view message,
           std::initializer_list<core::LogField> fields) override {
    std::string line(message);
    for (const auto& f : fields) line += " " + f.key + "=" + f.value;
    std::lock_guard lock(mu_);
    lines_.push_back(std::move(line));
  }
  std::vector<std::string> lines() const {
    std::lock_guard lock(mu_);
    return lines_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::string> lines_;
};

// The index of the first line containing `text`, or -1.
int lineWith(const std::vector<std::string>& lines, const std::string& text) {
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].find(text) != std::string::npos) return static_cast<int>(i);
  }
  return -1;
}

// Polls `condition` until it holds or kBound passes (for state that has no callback).
bool eventually(const std::function<bool()>& condition) {
  core::RealClock clock;
  auto deadline = clock.now() + kBound;
  while (!condition()) {
    if (clock.now() > deadline) return false;
    std::this_thread::sleep_for(milliseconds(10));
  }
  return true;
}

class ManifestWatcherTest : public ::testing::Test {
 protected:
  // Fast settings; no periodic rescan unless a test asks, so inotify alone must do the work.
  static ManifestWatcherOptions fastOptions() {
    ManifestWatcherOptions options;
    options.debounce = milliseconds(50);
    options.maxDelay = milliseconds(1000);
    options.rescanInterval = milliseconds(0);
    return options;
  }

  // A short deletion settle, so that tests which delete do not wait the default 5 s.
  static ManifestStoreOptions fastStoreOptions() { return ManifestStoreOptions{milliseconds(300)}; }

  std::unique_ptr<ManifestWatcher> startWatcher(ManifestStore& store,
                                                ManifestWatcherOptions options) {
    auto watcher =
        std::make_unique<ManifestWatcher>(store, clock_, log_, diffs_.callback(), options);
    auto started = watcher->start();
    EXPECT_TRUE(started.has_value());
    return watcher;
  }

  TempDir temp_;
  core::RealClock clock_;
  core::NullLogger log_;
  Diffs diffs_;
};

TEST_F(ManifestWatcherTest, ReportsTheInitialLoadAndThenEveryChange) {
  fs::path dir = temp_.path() / "manifests";
  writeFile(dir / "a.yaml", targetGroupBinding("a", "10.0.0.1"));
  ManifestStore store({dir}, &api::loadManifests, fastStoreOptions());
  auto watcher = startWatcher(store, fastOptions());

  ASSERT_EQ(diffs_.waitFor(
                0, [](const auto& d) { return has(d.targetGroupBindings.added, "default/a"); }),
            0);
  EXPECT_TRUE(watcher->stats().inotifyActive);
  EXPECT_GT(watcher->stats().watches, 0u);

  // Add, in a new subdirectory (which must get a watch of its own).
  writeFile(dir / "team/b.yaml", targetGroupBinding("b", "10.0.0.2"));
  std::size_t mark = diffs_.size();
  ASSERT_GE(diffs_.waitFor(
                mark, [](const auto& d) { return has(d.targetGroupBindings.added, "default/b"); }),
            0);
  // Modify a file in that new subdirectory.
  mark = diffs_.size();
  writeFile(dir / "team/b.yaml", targetGroupBinding("b", "10.0.0.22"));
  ASSERT_GE(
      diffs_.waitFor(mark,
                     [](const auto& d) { return has(d.targetGroupBindings.updated, "default/b"); }),
      0);
  // Delete.
  mark = diffs_.size();
  fs::remove(dir / "a.yaml");
  ASSERT_GE(
      diffs_.waitFor(mark,
                     [](const auto& d) { return has(d.targetGroupBindings.removed, "default/a"); }),
      0);
  EXPECT_EQ(watcher->stats().rescans, 0u);
  EXPECT_GT(watcher->stats().events, 0u);
}

TEST_F(ManifestWatcherTest, InvalidEditIsReportedAndKeepsTheLastGoodSpec) {
  fs::path dir = temp_.path() / "manifests";
  writeFile(dir / "a.yaml", targetGroupBinding("a", "10.0.0.1"));
  ManifestStore store({dir});
  auto watcher = startWatcher(store, fastOptions());
  ASSERT_EQ(diffs_.waitFor(0, [](const auto& d) { return d.changed(); }), 0);
  std::string good = store.get("default/a")->binding->generation;

  writeFile(dir / "a.yaml", targetGroupBinding("a", "10.0.0.1.5"));
  int i = diffs_.waitFor(1, [](const auto& d) { return !d.errors.empty(); });
  ASSERT_GE(i, 1);
  auto diff = diffs_.all()[i];
  EXPECT_THAT(diff.targetGroupBindings.removed, IsEmpty());
  EXPECT_GT(diff.errors.front().line, 0);
  EXPECT_GT(diff.errors.front().column, 0);
  EXPECT_TRUE(store.get("default/a")->stale);
  EXPECT_EQ(store.get("default/a")->binding->generation, good);
}

// git-sync publishes each revision as a new directory and swaps a symlink to it atomically:
// root/current -> rev-1 becomes root/current -> rev-2 by rename(tmp-link, current).
void swapLink(const fs::path& root, const std::string& target) {
  fs::path tmp = root / "tmp-link";
  fs::create_directory_symlink(target, tmp);
  fs::rename(tmp, root / "current");
}

TEST_F(ManifestWatcherTest, FollowsAGitSyncStyleSymlinkSwap) {
  fs::path root = temp_.path() / "git";
  writeFile(root / "rev-1/a.yaml", targetGroupBinding("a", "10.0.0.1"));
  writeFile(root / "rev-1/sub/s.yaml", targetGroupBinding("s", "10.0.0.3"));
  fs::create_directory_symlink("rev-1", root / "current");
  ManifestStore store({root / "current"}, &api::loadManifests, fastStoreOptions());
  auto watcher = startWatcher(store, fastOptions());
  ASSERT_EQ(diffs_.waitFor(0, [](const auto& d) { return d.changed(); }), 0);
  ASSERT_EQ(store.targetGroupBindings().size(), 2u);

  for (int revision = 2; revision <= 3; ++revision) {
    SCOPED_TRACE(revision);
    std::string rev = "rev-" + std::to_string(revision);
    std::string address = "10.0.1." + std::to_string(revision);
    writeFile(root / rev / "a.yaml", targetGroupBinding("a", address));
    writeFile(root / rev / ("b" + std::to_string(revision) + ".yaml"),
              targetGroupBinding("b" + std::to_string(revision), "10.0.0.2"));
    swapLink(root, rev);
    fs::remove_all(root / ("rev-" + std::to_string(revision - 1)));

    std::string added = "default/b" + std::to_string(revision);
    ASSERT_TRUE(eventually([&] {
      auto bindings = store.targetGroupBindings();
      return bindings.size() == 2 && bindings.contains(added) &&
             addressOf(bindings.at("default/a")) == address;
    }));

    // The watches now follow the new revision: an in-place edit there is seen by inotify.
    std::size_t mark = diffs_.size();
    writeFile(root / rev / "a.yaml", targetGroupBinding("a", "10.0.2.1"));
    ASSERT_GE(
        diffs_.waitFor(
            mark, [](const auto& d) { return has(d.targetGroupBindings.updated, "default/a"); }),
        0);
  }
  // "a" existed in every revision: no reload may ever have removed it.
  for (const auto& diff : diffs_.all()) {
    EXPECT_FALSE(has(diff.targetGroupBindings.removed, "default/a"));
  }
  EXPECT_EQ(watcher->stats().rescans, 0u);
}

TEST_F(ManifestWatcherTest, FollowsASwapOfASymlinkAboveTheConfiguredPath) {
  // --manifests root/current/deploy: the link that changes is a parent of the path.
  fs::path root = temp_.path() / "git";
  writeFile(root / "rev-1/deploy/a.yaml", targetGroupBinding("a", "10.0.0.1"));
  fs::create_directory_symlink("rev-1", root / "current");
  ManifestStore store({root / "current/deploy"}, &api::loadManifests, fastStoreOptions());
  auto watcher = startWatcher(store, fastOptions());
  ASSERT_EQ(diffs_.waitFor(0, [](const auto& d) { return d.changed(); }), 0);

  writeFile(root / "rev-2/deploy/a.yaml", targetGroupBinding("a", "10.0.0.1"));
  writeFile(root / "rev-2/deploy/b.yaml", targetGroupBinding("b", "10.0.0.2"));
  swapLink(root, "rev-2");
  ASSERT_GE(diffs_.waitFor(
                1, [](const auto& d) { return has(d.targetGroupBindings.added, "default/b"); }),
            1);
  std::size_t mark = diffs_.size();
  fs::remove(root / "rev-2/deploy/b.yaml");
  ASSERT_GE(
      diffs_.waitFor(mark,
                     [](const auto& d) { return has(d.targetGroupBindings.removed, "default/b"); }),
      0);
}

TEST_F(ManifestWatcherTest, PeriodicRescanFindsWhatInotifyCannotSee) {
  // The manifest is a symlink to a file outside every watched directory: editing that file in
  // place produces no event the watcher receives.
  fs::path dir = temp_.path() / "manifests";
  fs::path outside = temp_.path() / "outside/real.yaml";
  writeFile(outside, targetGroupBinding("a", "10.0.0.1"));
  fs::create_directories(dir);
  fs::create_symlink(outside, dir / "a.yaml");
  ManifestStore store({dir});
  auto options = fastOptions();
  options.rescanInterval = milliseconds(300);
  auto watcher = startWatcher(store, options);
  ASSERT_EQ(diffs_.waitFor(0, [](const auto& d) { return d.changed(); }), 0);
  auto eventsBefore = watcher->stats().events;

  writeFile(outside, targetGroupBinding("a", "10.0.0.9"));
  ASSERT_GE(diffs_.waitFor(
                1, [](const auto& d) { return has(d.targetGroupBindings.updated, "default/a"); }),
            1);
  auto stats = watcher->stats();
  EXPECT_GE(stats.rescans, 1u);
  EXPECT_EQ(stats.events, eventsBefore);  // it really was the rescan
}

TEST_F(ManifestWatcherTest, RescansAloneWhenInotifyIsOff) {
  fs::path dir = temp_.path() / "manifests";
  writeFile(dir / "a.yaml", targetGroupBinding("a", "10.0.0.1"));
  ManifestStore store({dir});
  auto options = fastOptions();
  options.useInotify = false;
  options.rescanInterval = milliseconds(200);
  auto watcher = startWatcher(store, options);
  ASSERT_EQ(diffs_.waitFor(0, [](const auto& d) { return d.changed(); }), 0);
  EXPECT_FALSE(watcher->stats().inotifyActive);
  EXPECT_EQ(watcher->stats().watches, 0u);

  writeFile(dir / "b.yaml", targetGroupBinding("b", "10.0.0.2"));
  ASSERT_GE(diffs_.waitFor(
                1, [](const auto& d) { return has(d.targetGroupBindings.added, "default/b"); }),
            1);
  EXPECT_GE(watcher->stats().rescans, 1u);
}

TEST_F(ManifestWatcherTest, RescansDecodeOnlyWhenAFileChanged) {
  fs::path dir = temp_.path() / "manifests";
  writeFile(dir / "a.yaml", targetGroupBinding("a", "10.0.0.1"));
  std::atomic<int> loads{0};
  ManifestStore store({dir}, [&](const std::vector<fs::path>& paths) {
    ++loads;
    return api::loadManifests(paths);
  });
  auto options = fastOptions();
  options.useInotify = false;
  options.rescanInterval = milliseconds(50);
  auto watcher = startWatcher(store, options);
  ASSERT_EQ(diffs_.waitFor(0, [](const auto& d) { return d.changed(); }), 0);
  ASSERT_TRUE(eventually([&] { return watcher->stats().rescansUnchanged >= 3; }));
  EXPECT_EQ(loads.load(), 1) << "an unchanged tree must not be decoded again";

  writeFile(dir / "a.yaml", targetGroupBinding("a", "10.0.0.9"));
  ASSERT_GE(diffs_.waitFor(
                1, [](const auto& d) { return has(d.targetGroupBindings.updated, "default/a"); }),
            1);
  EXPECT_EQ(loads.load(), 2);
  EXPECT_EQ(watcher->stats().rescans, 1u);
}

// Remote manifests (s3://): nothing on disk to fingerprint, so every rescan reloads and the
// loader's own change check (ETags) decides what to read.
TEST_F(ManifestWatcherTest, RemoteManifestsReloadOnEveryRescan) {
  std::atomic<int> loads{0};
  std::atomic<int> version{1};
  ManifestStoreOptions storeOptions;
  storeOptions.remoteLoader = [&](const std::vector<fs::path>& paths) {
    ++loads;
    EXPECT_EQ(paths, std::vector<fs::path>{"s3://manifests/prod/"});
    return api::decodeManifests(
        targetGroupBinding("a", version.load() == 1 ? "10.0.0.1" : "10.0.0.9"),
        "s3://manifests/prod/a.yaml");
  };
  ManifestStore store({"s3://manifests/prod/"}, {}, storeOptions);
  auto options = fastOptions();
  options.useInotify = false;
  options.fingerprintRescans = false;
  options.rescanInterval = milliseconds(50);
  auto watcher = startWatcher(store, options);
  ASSERT_EQ(diffs_.waitFor(0, [](const auto& d) { return d.changed(); }), 0);
  ASSERT_TRUE(eventually([&] { return watcher->stats().rescans >= 3; }));
  EXPECT_EQ(watcher->stats().rescansUnchanged, 0u);
  EXPECT_TRUE(store.errors().empty()) << "no path is looked up on disk";
  version = 2;
  ASSERT_GE(diffs_.waitFor(
                1, [](const auto& d) { return has(d.targetGroupBindings.updated, "default/a"); }),
            1);
  EXPECT_GE(loads.load(), 4);
}

TEST_F(ManifestWatcherTest, DebounceMakesOneReloadOfABurst) {
  fs::path dir = temp_.path() / "manifests";
  writeFile(dir / "seed.yaml", targetGroupBinding("seed", "10.0.0.1"));
  ManifestStore store({dir});
  auto options = fastOptions();
  options.debounce = milliseconds(1000);  // far longer than the gaps in the burst below
  options.maxDelay = seconds(20);
  auto watcher = startWatcher(store, options);
  ASSERT_EQ(diffs_.waitFor(0, [](const auto& d) { return d.changed(); }), 0);
  auto reloadsBefore = watcher->stats().reloads;

  constexpr int kFiles = 10;
  for (int i = 0; i < kFiles; ++i) {
    writeFile(dir / ("f" + std::to_string(i) + ".yaml"),
              targetGroupBinding("f" + std::to_string(i), "10.0.0.2"));
    std::this_thread::sleep_for(milliseconds(20));  // spread the burst over ~200 ms
  }
  int i = diffs_.waitFor(1, [](const auto& d) {
    return d.targetGroupBindings.added.size() == static_cast<std::size_t>(kFiles);
  });
  ASSERT_EQ(i, 1) << "the burst was split over several reloads";
  EXPECT_EQ(diffs_.size(), 2u);
  EXPECT_EQ(watcher->stats().reloads, reloadsBefore + 1);
}

TEST_F(ManifestWatcherTest, MaxDelayBoundsTheWaitUnderAStreamOfEvents) {
  fs::path dir = temp_.path() / "manifests";
  writeFile(dir / "a.yaml", targetGroupBinding("a", "10.0.0.1"));
  ManifestStore store({dir});
  auto options = fastOptions();
  options.debounce = milliseconds(400);
  options.maxDelay = milliseconds(500);
  auto watcher = startWatcher(store, options);
  ASSERT_EQ(diffs_.waitFor(0, [](const auto& d) { return d.changed(); }), 0);

  // Events every 50 ms for ~1.5 s: the debounce alone would never fire during the stream.
  for (int i = 0; i < 30; ++i) {
    writeFile(dir / ("f" + std::to_string(i) + ".yaml"),
              targetGroupBinding("f" + std::to_string(i), "10.0.0.2"));
    std::this_thread::sleep_for(milliseconds(50));
  }
  EXPECT_GE(diffs_.size(), 2u) << "no reload during the stream";
}

TEST_F(ManifestWatcherTest, RequestReloadReloads) {
  fs::path dir = temp_.path() / "manifests";
  writeFile(dir / "a.yaml", targetGroupBinding("a", "10.0.0.1"));
  ManifestStore store({dir});
  auto options = fastOptions();
  options.useInotify = false;  // nothing but the request can trigger a reload
  auto watcher = startWatcher(store, options);
  ASSERT_EQ(diffs_.waitFor(0, [](const auto& d) { return d.changed(); }), 0);

  writeFile(dir / "b.yaml", targetGroupBinding("b", "10.0.0.2"));
  watcher->requestReload();
  ASSERT_GE(diffs_.waitFor(
                1, [](const auto& d) { return has(d.targetGroupBindings.added, "default/b"); }),
            1);
}

TEST_F(ManifestWatcherTest, StopReturnsPromptlyAndStartTwiceFails) {
  fs::path dir = temp_.path() / "manifests";
  writeFile(dir / "a.yaml", targetGroupBinding("a", "10.0.0.1"));
  ManifestStore store({dir});
  ManifestWatcherOptions options;  // defaults: a 30 s rescan that poll() would sleep towards
  auto watcher = startWatcher(store, options);
  ASSERT_EQ(diffs_.waitFor(0, [](const auto& d) { return d.changed(); }), 0);
  EXPECT_FALSE(watcher->start().has_value());

  auto begin = clock_.now();
  watcher->stop();
  EXPECT_LT(clock_.now() - begin, seconds(5));
  watcher->stop();  // idempotent

  // A stopped watcher can start again; its first reload finds what changed meanwhile.
  writeFile(dir / "b.yaml", targetGroupBinding("b", "10.0.0.2"));
  ASSERT_TRUE(watcher->start().has_value());
  ASSERT_GE(diffs_.waitFor(
                1, [](const auto& d) { return has(d.targetGroupBindings.added, "default/b"); }),
            1);
}

TEST_F(ManifestWatcherTest, ThrowingCallbackIsCountedAndTheWatcherGoesOn) {
  fs::path dir = temp_.path() / "manifests";
  writeFile(dir / "a.yaml", targetGroupBinding("a", "10.0.0.1"));
  ManifestStore store({dir});
  int calls = 0;
  ManifestWatcher watcher(
      store, clock_, log_,
      [&](const ManifestDiff&) {
        ++calls;
        throw std::runtime_error("handler bug");
      },
      fastOptions());
  ASSERT_TRUE(watcher.start().has_value());
  ASSERT_TRUE(eventually([&] { return watcher.stats().callbackErrors == 1; }));
  writeFile(dir / "b.yaml", targetGroupBinding("b", "10.0.0.2"));
  ASSERT_TRUE(eventually([&] { return watcher.stats().callbackErrors == 2; }));
  watcher.stop();
  EXPECT_EQ(calls, 2);
}

// A deletion is reported only after the settle, by a reload the watcher schedules itself: no
// rescan runs here, and nothing changes on disk after the deletion.
TEST_F(ManifestWatcherTest, DeletionIsConfirmedByAReloadOfItsOwnAfterTheSettle) {
  fs::path dir = temp_.path() / "manifests";
  writeFile(dir / "a.yaml", targetGroupBinding("a", "10.0.0.1"));
  writeFile(dir / "b.yaml", targetGroupBinding("b", "10.0.0.2"));
  constexpr auto kSettle = milliseconds(600);
  ManifestStore store({dir}, &api::loadManifests, ManifestStoreOptions{kSettle});
  CapturingLogger log;
  ManifestWatcher watcher(store, clock_, log, diffs_.callback(), fastOptions());
  ASSERT_TRUE(watcher.start().has_value());
  ASSERT_EQ(diffs_.waitFor(0, [](const auto& d) { return d.changed(); }), 0);

  const auto deleted = clock_.now();
  fs::remove(dir / "b.yaml");
  int i = diffs_.waitFor(
      1, [](const auto& d) { return has(d.targetGroupBindings.removed, "default/b"); });
  ASSERT_GE(i, 1);
  EXPECT_GE(clock_.now() - deleted, kSettle);  // a lower bound: no machine is too fast for it
  watcher.stop();

  const auto all = diffs_.all();
  for (int j = 1; j < i; ++j) {
    EXPECT_THAT(all[j].targetGroupBindings.removed, IsEmpty());
  }
  EXPECT_EQ(store.get("default/b"), std::nullopt);
  ASSERT_TRUE(store.get("default/a").has_value());
  auto stats = watcher.stats();
  EXPECT_EQ(stats.rescans, 0u);
  EXPECT_GE(stats.confirmations, 1u);
  EXPECT_EQ(stats.deletionsPending, 1u);
  EXPECT_EQ(stats.deletionsConfirmed, 1u);
  auto lines = log.lines();
  int pending = lineWith(lines, "binding absent from manifests; deleting after confirmation");
  int confirmed = lineWith(lines, "binding deletion confirmed");
  ASSERT_GE(pending, 0);
  ASSERT_GE(confirmed, 0);
  EXPECT_LT(pending, confirmed);
  EXPECT_NE(lines[pending].find("binding=default/b"), std::string::npos) << lines[pending];
}

// `generator > a.yaml`, three times: truncated, then written in chunks with reloads reading the
// file empty and half written in between. The binding is pending, then stale, then back; it
// is never reported removed.
TEST_F(ManifestWatcherTest, FileTruncatedAndRewrittenSlowlyIsNeverDeleted) {
  fs::path dir = temp_.path() / "manifests";
  const std::string text = targetGroupBinding("a", "10.0.0.1");
  writeFile(dir / "a.yaml", text);
  writeFile(dir / "other.yaml", targetGroupBinding("other", "10.0.0.2"));
  // Far longer than this test: whatever the machine's load, a confirmation cannot come due.
  ManifestStore store({dir}, &api::loadManifests, ManifestStoreOptions{seconds(60)});
  auto watcher = startWatcher(store, fastOptions());
  ASSERT_EQ(diffs_.waitFor(0, [](const auto& d) { return d.changed(); }), 0);

  auto a = [&] { return store.get("default/a"); };
  for (int rewrite = 0; rewrite < 3; ++rewrite) {
    SCOPED_TRACE(rewrite);
    std::ofstream out(dir / "a.yaml", std::ios::trunc);
    // Read empty: a valid file without the binding. Pending, still served.
    ASSERT_TRUE(eventually([&] { return a() && a()->pendingDeletionSince.has_value(); }));
    // Half written: an invalid file. Kept, stale, still pending.
    out << text.substr(0, 60) << std::flush;
    ASSERT_TRUE(eventually([&] { return a() && a()->stale; }));
    EXPECT_TRUE(a()->pendingDeletionSince.has_value());
    auto reloads = watcher->stats().reloads;
    out << text.substr(60, 80) << std::flush;
    ASSERT_TRUE(eventually([&] { return watcher->stats().reloads > reloads; }));
    // Finished: back, neither stale nor pending.
    out << text.substr(140) << std::flush;
    out.close();
    ASSERT_TRUE(
        eventually([&] { return a() && !a()->stale && !a()->pendingDeletionSince.has_value(); }));
  }
  const auto all = diffs_.all();
  for (std::size_t i = 0; i < all.size(); ++i) {
    EXPECT_THAT(all[i].targetGroupBindings.removed, IsEmpty());
    if (i > 0) {
      EXPECT_FALSE(has(all[i].targetGroupBindings.added, "default/a"));
    }
  }
  auto stats = watcher->stats();
  EXPECT_EQ(stats.deletionsPending, 3u);
  EXPECT_EQ(stats.deletionsCancelled, 3u);
  EXPECT_EQ(stats.deletionsConfirmed, 0u);
}

}  // namespace
}  // namespace endpointbinder::runtime
