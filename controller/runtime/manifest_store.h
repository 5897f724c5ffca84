// ManifestStore: the desired state — every binding loaded from the configured manifest paths
// (files or directories), keyed by "namespace/name" per kind, with the last good spec kept
// when a manifest turns invalid.
//
// reload() re-reads every path through api::loadManifests and returns what changed. Its rules
// exist so that a bad edit, a flaky read or a file caught half written never deregisters
// anything (API.md "Bad input"):
//   - A binding produced validly now is stored as it is now; it is "updated" when its
//     generation, its origin file (a move between files is an update, not remove + add) or
//     its stale state changed.
//   - A binding that is no longer produced is KEPT with its last good spec, flagged stale,
//     whenever the reload is not complete: any file failed to read or to decode (the binding
//     may have moved into it), a configured path could not be read (a directory caught
//     mid-swap), an entry vanished during the walk, or a file that still exists on disk was
//     not read. Its stale errors are its own file's when it has some, otherwise those of the
//     reload. A broken file anywhere therefore freezes every deletion.
//   - A binding no longer produced by a complete reload (no error at all) is PENDING
//     DELETION, not deleted: a truncated file caught before its writer finished reads as
//     valid and empty. It stays stored and served unchanged (get() and targetGroupBindings()
//     return it, so it is reconciled as before), with pendingDeletionSince set. Only a later
//     complete reload at least `deletionSettle` after the first one that still lacks it
//     reports it removed. A binding that comes back meanwhile is simply no longer pending
//     (and "updated" only if it changed). ManifestDiff::confirmDeletionsAt says when to
//     reload to confirm; ManifestWatcher schedules that reload itself.
//   - The same holds for bindings the store never knew: a process that starts while a file is
//     half written never sees the binding in it, yet something outside the manifests (an owner
//     tag on a target group) may still name it. settled() turns true once a complete reload at
//     least `deletionSettle` after the first complete one has happened; before that, a binding
//     the store does not know proves nothing. ManifestDiff::settleCheckAt says when to reload.
// The loader is injectable (api::loadManifests by default) so tests can feed exact sets.
// ManifestStoreOptions::remoteLoader reads paths that are not files (s3://, S3ManifestLoader).
//
// Thread-safety: every method is thread-safe. reload() calls are serialised with each other;
// readers are never blocked by the file I/O of a reload.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "api/decode.h"
#include "api/diagnostic.h"
#include "api/manifest.h"
#include "controller/core/clock.h"

namespace endpointbinder::runtime {

// One binding as the store holds it.
template <typename T>
struct StoredBinding {
  // The last good object: metadata, spec, generation, origin. Immutable and shared: the
  // reconciler and the status API hold a TargetGroupBinding's very object instead of copies
  // of it (at 1,000 bindings each copy was about 1 MB). Never null.
  std::shared_ptr<const T> binding;
  bool stale = false;  // its manifest is currently invalid or unreadable; `binding` is older
  api::Diagnostics staleErrors;  // why it is stale (empty unless stale)
  // Set while the binding is pending deletion: when a complete reload first lacked it.
  std::optional<core::MonoTime> pendingDeletionSince;

  // The first error, "file:line:col: path: message", plus "(and N more)"; empty unless stale.
  std::string staleReason() const {
    if (staleErrors.empty()) return {};
    std::string reason = staleErrors.front().toString();
    if (staleErrors.size() > 1) {
      reason += " (and " + std::to_string(staleErrors.size() - 1) + " more)";
    }
    return reason;
  }
};
using StoredTargetGroupBinding = StoredBinding<api::TargetGroupBinding>;
using StoredDnsRecordBinding = StoredBinding<api::DnsRecordBinding>;

// Keys ("namespace/name") of one kind that changed in a reload, each list sorted.
struct KeyChanges {
  std::vector<std::string> added;
  std::vector<std::string> updated;  // generation, origin file or stale state changed
  std::vector<std::string> removed;  // deletion confirmed: no longer stored
  // Not changes of the desired state (the binding is still stored as it was), so not part of
  // empty(): absent from this complete reload for the first time, and back after being so.
  std::vector<std::string> pendingDeletion;
  std::vector<std::string> deletionCancelled;

  bool empty() const { return added.empty() && updated.empty() && removed.empty(); }
};

struct ManifestDiff {
  KeyChanges targetGroupBindings;
  KeyChanges dnsRecordBindings;
  api::Diagnostics errors;     // every problem of this reload; empty when all is well
  bool errorsChanged = false;  // `errors` differ from the previous reload's
  bool readFailed = false;     // some path could not be read; bindings under it were kept
  // Every path read and no error anywhere: only such a reload starts or confirms a deletion.
  bool complete = false;
  // When a reload could next confirm a pending deletion; nullopt when none is pending.
  std::optional<core::MonoTime> confirmDeletionsAt;
  // When a reload could make the store settled(); nullopt once it is.
  std::optional<core::MonoTime> settleCheckAt;

  // True when a binding changed or the set of errors changed: worth telling someone.
  bool changed() const {
    return !targetGroupBindings.empty() || !dnsRecordBindings.empty() || errorsChanged;
  }
};

struct ManifestStoreStats {
  std::uint64_t reloads = 0;
  std::uint64_t reloadsWithErrors = 0;  // reloads that reported at least one error
  std::uint64_t readFailures = 0;       // reloads in which some path could not be read
  // As of the last reload:
  std::size_t files = 0;                // manifest files read
  std::size_t filesWithErrors = 0;      // distinct files (or paths) named by an error
  std::size_t errors = 0;               // diagnostics
  std::size_t targetGroupBindings = 0;  // stored, stale ones included
  std::size_t dnsRecordBindings = 0;
  std::size_t staleBindings = 0;     // of both kinds
  std::size_t pendingDeletions = 0;  // of both kinds
};

using ManifestLoader = std::function<api::ManifestSet(const std::vector<std::filesystem::path>&)>;

struct ManifestStoreOptions {
  // A deletion is confirmed by a complete reload at least this long after the first complete
  // reload that lacked the binding: longer than any writer takes to rewrite a file in place.
  std::chrono::milliseconds deletionSettle{5000};
  // For paths that are not on this disk (s3://bucket/prefix/, S3ManifestLoader): when set it
  // is used instead of the constructor's loader, and the store looks at no path on disk. The
  // loader must then report a path it could not read (a failed listing) as a line-0
  // diagnostic whose file is that path exactly as configured, and one object it could not
  // read as a line-0 diagnostic of that object: the same rules as unreadable directories and
  // files then apply (nothing under them is taken as deleted).
  ManifestLoader remoteLoader = {};
};

class ManifestStore {
 public:
  using Loader = ManifestLoader;

  // `paths`: manifest files and directories, as given on the command line. Loads nothing
  // until reload().
  explicit ManifestStore(std::vector<std::filesystem::path> paths,
                         Loader loader = &api::loadManifests, ManifestStoreOptions options = {});

  ManifestStore(const ManifestStore&) = delete;
  ManifestStore& operator=(const ManifestStore&) = delete;

  // Re-reads every path and applies the rules above; `now` (the caller's clock, taken before
  // reading) times pending deletions. Never throws: a loader exception is reported as an
  // error of every path, and everything is kept.
  ManifestDiff reload(core::MonoTime now);

  const std::vector<std::filesystem::path>& paths() const { return paths_; }
  const ManifestStoreOptions& options() const { return options_; }

  // Snapshots, keyed by "namespace/name".
  std::map<std::string, StoredTargetGroupBinding> targetGroupBindings() const;
  std::map<std::string, StoredDnsRecordBinding> dnsRecordBindings() const;
  // Keys of the TargetGroupBindings (pending deletions and stale ones included) naming `arn`.
  std::vector<std::string> targetGroupBindingKeysFor(const std::string& arn) const;
  // The TargetGroupBinding with this key, or nullopt.
  std::optional<StoredTargetGroupBinding> get(const std::string& key) const;
  std::optional<StoredDnsRecordBinding> getDnsRecordBinding(const std::string& key) const;

  // The errors of the last reload.
  api::Diagnostics errors() const;
  // True once a reload has read every configured path (file errors allowed): before that the
  // store may not know of every binding, so callers must not act on absence.
  bool loaded() const;
  // True once absence from the store is as good as a confirmed deletion for any key, known
  // or not (see the header comment).
  bool settled() const;
  ManifestStoreStats stats() const;

 private:
  std::vector<std::filesystem::path> paths_;
  Loader loader_;
  ManifestStoreOptions options_;

  std::mutex reloadMu_;  // serialises reload(); taken before mu_
  mutable std::mutex mu_;
  std::map<std::string, StoredTargetGroupBinding> targetGroupBindings_;
  std::map<std::string, StoredDnsRecordBinding> dnsRecordBindings_;
  api::Diagnostics errors_;
  bool loaded_ = false;
  std::optional<core::MonoTime> firstCompleteAt_;
  bool settled_ = false;
  ManifestStoreStats stats_;
};

}  // namespace endpointbinder::runtime
