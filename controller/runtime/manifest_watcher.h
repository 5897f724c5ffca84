// ManifestWatcher: reloads a ManifestStore when its manifest paths change and reports each
// reload that changed something to a callback, on a thread of its own.
//
// Two triggers, so that nothing is missed for long:
//   - inotify: every directory under each configured path (recursively, hidden ones skipped)
//     is watched for create/delete/modify/move/close_write/attrib; the directory holding each
//     configured path, and every symlink on the way to it, is watched for changes of that one
//     entry. A directory swapped atomically through a symlink — git-sync publishes a revision
//     by rename(tmp-link, "current") — is therefore seen, and since every reload first
//     re-resolves the paths and re-arms the watches, the new revision is watched from then on.
//   - a periodic rescan (default 30 s) for what inotify cannot see (a file symlinked from an
//     unwatched place, an event queue overflow, inotify unavailable or out of watches; each of
//     those is logged and counted). It stats every manifest file and reloads only when
//     api::manifestTreeFingerprint changed: decoding 1,000 bindings every 30 s was a good part
//     of an idle controller's CPU.
// Events are debounced: a reload happens once no event has arrived for `debounce` (200 ms),
// or at the latest `maxDelay` after the first one, so one git checkout is one reload.
// The first reload happens right after start(), on the watcher thread.
// Deletions are confirmed by a second read (ManifestStore): after a reload that leaves a
// binding pending deletion, the watcher reloads again at ManifestDiff::confirmDeletionsAt by
// itself (whatever the fingerprint says, and never sooner than `debounce` after the last
// reload), so a deletion takes about the store's deletionSettle, not a rescan period. Each
// step is logged: "binding absent from manifests; deleting after confirmation", then
// "binding deletion confirmed" or "binding back in manifests; deletion cancelled".
//
// Thread-safety: start(), stop(), requestReload() and stats() may be called from any thread;
// `onChange` runs on the watcher thread, one call at a time. stop() must not be called from
// `onChange`.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>

#include "controller/core/clock.h"
#include "controller/core/error.h"
#include "controller/core/log.h"
#include "controller/runtime/manifest_store.h"

namespace endpointbinder::runtime {

struct ManifestWatcherOptions {
  std::chrono::milliseconds debounce{200};          // quiet time after the last event
  std::chrono::milliseconds maxDelay{2000};         // bound on a reload's delay under a stream
  std::chrono::milliseconds rescanInterval{30000};  // periodic reload; zero disables it
  bool useInotify = true;                           // false: periodic rescans only
  std::size_t maxWatches = 8192;                    // directories watched at most
  // false: every periodic rescan reloads, without api::manifestTreeFingerprint (paths that
  // are not files, e.g. s3://, whose loader has a cheap change check of its own: ETags).
  bool fingerprintRescans = true;
};

struct ManifestWatcherStats {
  std::uint64_t reloads = 0;           // every reload (events, rescans, requests, the first)
  std::uint64_t changes = 0;           // onChange calls
  std::uint64_t events = 0;            // inotify events that called for a reload
  std::uint64_t rescans = 0;           // reloads caused by the periodic rescan
  std::uint64_t rescansUnchanged = 0;  // periodic rescans that found nothing changed (no reload)
  std::uint64_t overflows = 0;         // inotify queue overflows
  std::uint64_t watchErrors = 0;       // failed inotify_add_watch calls (and watches over the cap)
  std::uint64_t callbackErrors = 0;    // exceptions thrown by onChange
  std::size_t watches = 0;             // directories and files currently watched
  bool inotifyActive = false;          // false: running on periodic rescans only
  // Deletion confirmation (see above):
  std::uint64_t confirmations = 0;       // reloads scheduled to confirm pending deletions
  std::uint64_t deletionsPending = 0;    // bindings that became pending deletion
  std::uint64_t deletionsCancelled = 0;  // pending deletions whose binding came back
  std::uint64_t deletionsConfirmed = 0;  // bindings reported removed
};

class ManifestWatcher {
 public:
  using OnChange = std::function<void(const ManifestDiff&)>;

  // `store`, `clock` and `log` must outlive the watcher. `onChange` receives every reload
  // whose diff changed() (bindings added/updated/removed or the set of errors changed).
  ManifestWatcher(ManifestStore& store, const core::Clock& clock, core::Logger& log,
                  OnChange onChange, ManifestWatcherOptions options = {});
  // Stops the thread. REQUIRES: no other thread is inside a method.
  ~ManifestWatcher();

  ManifestWatcher(const ManifestWatcher&) = delete;
  ManifestWatcher& operator=(const ManifestWatcher&) = delete;

  // Starts the watcher thread, which arms the watches and reloads at once. If inotify cannot
  // be initialised the watcher runs on periodic rescans alone (logged, inotifyActive false).
  // Fails only if the thread or its wake-up descriptor cannot be created, or if it is running
  // already. A stopped watcher may be started again.
  core::Result<void> start();

  // Stops the thread and waits for it (at most one reload and onChange call in progress).
  // Idempotent.
  void stop();

  // Asks for a reload (e.g. on SIGHUP), debounced like an inotify event.
  void requestReload();

  ManifestWatcherStats stats() const;

 private:
  class Watches;

  void run();
  void reloadNow(bool rescan);
  void logDeletions(const ManifestDiff& diff);
  void wake();

  // Watcher thread only:
  std::optional<std::uint64_t> lastFingerprint_;  // before the last reload
  std::optional<core::MonoTime> confirmAt_;       // reload then to confirm pending deletions

  ManifestStore& store_;
  const core::Clock& clock_;
  core::Logger& log_;
  OnChange onChange_;
  ManifestWatcherOptions options_;

  std::atomic<int> wakeFd_{-1};  // eventfd waking poll(): set by the first start(), closed
                                 // by the destructor
  std::atomic<bool> stopping_{false};
  std::atomic<bool> reloadRequested_{false};
  std::thread thread_;
  std::mutex lifecycleMu_;  // start()/stop()

  mutable std::mutex statsMu_;
  ManifestWatcherStats stats_;
};

}  // namespace endpointbinder::runtime
