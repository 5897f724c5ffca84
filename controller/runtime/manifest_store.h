// ManifestStore: the desired state — every binding loaded from the configured manifest paths
// (files or directories), keyed by "namespace/name" per kind, with the last good spec kept
// when a manifest turns invalid.
//
// reload() re-reads every path through api::loadManifests and returns what changed. Its rules
// exist so that a bad edit or a flaky read never deregisters anything (API.md "Bad input"):
//   - A binding produced validly now is stored as it is now; it is "updated" when its
//     generation, its origin file (a move between files is an update, not remove + add) or
//     its stale state changed.
//   - A binding that is no longer produced, but whose origin file now has errors, is KEPT
//     with its last good spec and flagged stale with those errors.
//   - A binding whose origin is under a path that could not be read (a configured path that
//     is missing or unreadable, e.g. a directory caught mid-swap; or a file or directory the
//     decoder reports as unreadable) is KEPT and flagged stale: a read error never deletes.
//   - A binding whose origin file was not read but still exists on disk (it changed during
//     the walk) is KEPT and flagged stale; the next reload settles it.
//   - Otherwise a binding no longer produced is removed: its file was deleted, or the
//     document was deleted from a file that is valid now.
// The loader is injectable (api::loadManifests by default) so tests can feed exact sets.
//
// Thread-safety: every method is thread-safe. reload() calls are serialised with each other;
// readers are never blocked by the file I/O of a reload.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "api/decode.h"
#include "api/diagnostic.h"
#include "api/manifest.h"

namespace endpointbinder::runtime {

// One binding as the store holds it.
template <typename T>
struct StoredBinding {
  T binding;           // the last good object: metadata, spec, generation, origin
  bool stale = false;  // its manifest is currently invalid or unreadable; `binding` is older
  api::Diagnostics staleErrors;  // why it is stale (empty unless stale)

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
  std::vector<std::string> removed;

  bool empty() const { return added.empty() && updated.empty() && removed.empty(); }
};

struct ManifestDiff {
  KeyChanges targetGroupBindings;
  KeyChanges dnsRecordBindings;
  api::Diagnostics errors;     // every problem of this reload; empty when all is well
  bool errorsChanged = false;  // `errors` differ from the previous reload's
  bool readFailed = false;     // some path could not be read; bindings under it were kept

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
  std::size_t staleBindings = 0;  // of both kinds
};

class ManifestStore {
 public:
  using Loader = std::function<api::ManifestSet(const std::vector<std::filesystem::path>&)>;

  // `paths`: manifest files and directories, as given on the command line. Loads nothing
  // until reload().
  explicit ManifestStore(std::vector<std::filesystem::path> paths,
                         Loader loader = &api::loadManifests);

  ManifestStore(const ManifestStore&) = delete;
  ManifestStore& operator=(const ManifestStore&) = delete;

  // Re-reads every path and applies the rules above. Never throws: a loader exception is
  // reported as an error of every path, and everything is kept.
  ManifestDiff reload();

  const std::vector<std::filesystem::path>& paths() const { return paths_; }

  // Snapshots, keyed by "namespace/name".
  std::map<std::string, StoredTargetGroupBinding> targetGroupBindings() const;
  std::map<std::string, StoredDnsRecordBinding> dnsRecordBindings() const;
  // The TargetGroupBinding with this key, or nullopt.
  std::optional<StoredTargetGroupBinding> get(const std::string& key) const;
  std::optional<StoredDnsRecordBinding> getDnsRecordBinding(const std::string& key) const;

  // The errors of the last reload.
  api::Diagnostics errors() const;
  // True once a reload has read every configured path (file errors allowed): before that the
  // store may not know of every binding, so callers must not act on absence.
  bool loaded() const;
  ManifestStoreStats stats() const;

 private:
  std::vector<std::filesystem::path> paths_;
  Loader loader_;

  std::mutex reloadMu_;  // serialises reload(); taken before mu_
  mutable std::mutex mu_;
  std::map<std::string, StoredTargetGroupBinding> targetGroupBindings_;
  std::map<std::string, StoredDnsRecordBinding> dnsRecordBindings_;
  api::Diagnostics errors_;
  bool loaded_ = false;
  ManifestStoreStats stats_;
};

}  // namespace endpointbinder::runtime
