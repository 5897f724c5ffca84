#include "controller/runtime/manifest_store.h"

#include <algorithm>
#include <exception>
#include <fstream>
#include <set>
#include <system_error>
#include <utility>

namespace endpointbinder::runtime {

namespace fs = std::filesystem;

namespace {

// Paths are compared in one spelling: lexically normal, generic separators, no trailing '/'.
std::string normalPath(const std::string& path) {
  std::string normal = fs::path(path).lexically_normal().generic_string();
  while (normal.size() > 1 && normal.back() == '/') normal.pop_back();
  return normal;
}

// True if `path` is `scope` or lies inside it (both normal).
bool isAtOrUnder(const std::string& path, const std::string& scope) {
  if (path == scope) return true;
  if (scope == "/") return path.starts_with('/');
  if (scope == ".") return !path.starts_with('/') && !path.starts_with("../");
  return path.size() > scope.size() && path.starts_with(scope) && path[scope.size()] == '/';
}

api::Diagnostic pathDiagnostic(const std::string& path, std::string message) {
  return api::Diagnostic{path, 0, 0, "", std::move(message)};
}

// Why a configured path cannot be read, or nullopt if it can.
std::optional<api::Diagnostic> checkReadable(const fs::path& path) {
  std::error_code ec;
  auto status = fs::status(path, ec);
  if (status.type() == fs::file_type::not_found) {
    return pathDiagnostic(path.string(), "cannot read: no such file or directory");
  }
  if (ec) return pathDiagnostic(path.string(), "cannot read: " + ec.message());
  if (fs::is_directory(status)) {
    fs::directory_iterator it(path, ec);
    if (ec) return pathDiagnostic(path.string(), "cannot read directory: " + ec.message());
    return std::nullopt;
  }
  std::ifstream in(path);
  if (!in) return pathDiagnostic(path.string(), "cannot open file");
  return std::nullopt;
}

std::vector<std::string> toStrings(const api::Diagnostics& diagnostics) {
  std::vector<std::string> out;
  out.reserve(diagnostics.size());
  for (const auto& d : diagnostics) out.push_back(d.toString());
  return out;
}

// What one reload found wrong, indexed by the question the merge asks: which errors (if any)
// stop a binding that came from `file` from being removed?
class ReloadProblems {
 public:
  // `onDisk` false: the paths are remote (ManifestStoreOptions::remoteLoader) and a file the
  // loader did not list is gone; nothing is looked up on disk.
  ReloadProblems(const api::ManifestSet& set, const std::vector<api::Diagnostic>& unreadableRoots,
                 bool onDisk)
      : onDisk_(onDisk) {
    for (const auto& file : set.files) filesRead_.insert(normalPath(file));
    for (const auto& d : set.errors) {
      // Line 0: the file or directory itself could not be read; it covers everything in it.
      if (d.line == 0) {
        unreadable_.emplace_back(normalPath(d.file), d);
      } else {
        byFile_[normalPath(d.file)].push_back(d);
      }
    }
    for (const auto& d : unreadableRoots) unreadable_.emplace_back(normalPath(d.file), d);
  }

  // The errors of `originFile` itself, or of a path holding it; empty if there are none.
  const api::Diagnostics& covering(const std::string& originFile) {
    std::string file = normalPath(originFile);
    if (auto it = covering_.find(file); it != covering_.end()) return it->second;
    api::Diagnostics out;
    if (auto it = byFile_.find(file); it != byFile_.end()) out = it->second;
    for (const auto& [scope, d] : unreadable_) {
      if (isAtOrUnder(file, scope)) out.push_back(d);
    }
    if (out.empty() && onDisk_ && !filesRead_.contains(file) && mayStillExist(originFile)) {
      // The walk missed a file that is there (it changed under us): not a deletion.
      auto d = pathDiagnostic(originFile,
                              "exists but was not read (changed during the reload?); keeping "
                              "its bindings until the next reload");
      unsettled_.push_back(d);
      out.push_back(std::move(d));
    }
    return covering_.emplace(std::move(file), std::move(out)).first->second;
  }

  // Diagnostics made up by covering(), to be reported with the loader's.
  const api::Diagnostics& unsettled() const { return unsettled_; }

 private:
  // False only when the file is certainly gone; "cannot tell" keeps the binding.
  static bool mayStillExist(const std::string& file) {
    std::error_code ec;
    auto status = fs::status(file, ec);
    if (status.type() == fs::file_type::not_found) return false;
    if (ec) return true;
    return fs::is_regular_file(status);
  }

  bool onDisk_;
  std::set<std::string> filesRead_;
  std::map<std::string, api::Diagnostics> byFile_;
  std::vector<std::pair<std::string, api::Diagnostic>> unreadable_;
  std::map<std::string, api::Diagnostics> covering_;  // by normal path, memoised
  api::Diagnostics unsettled_;
};

// What the merge of one kind needs to know about the whole reload.
struct ReloadContext {
  ReloadProblems& problems;
  core::MonoTime now;
  std::chrono::milliseconds deletionSettle;
  bool complete = false;    // no error anywhere: absence may start or confirm a deletion
  api::Diagnostics errors;  // every error of the reload, when it is not complete

  // Why a binding absent from an incomplete reload is kept.
  api::Diagnostics keptBecause(const std::string& originFile) {
    const api::Diagnostics& own = problems.covering(originFile);
    if (!own.empty()) return own;
    api::Diagnostics out{pathDiagnostic(
        originFile,
        "no longer defined here, but the manifests did not read cleanly (it may have moved "
        "into a file with errors); kept until every manifest reads without error")};
    out.insert(out.end(), errors.begin(), errors.end());
    return out;
  }
};

template <typename T>
void sortKeys(std::vector<T>& keys) {
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
}

// Looks at every stored binding that `produced` lacks, so that files the walk missed are
// known (ReloadProblems::unsettled) before deciding whether the reload is complete.
template <typename T>
void examineAbsent(const std::map<std::string, StoredBinding<T>>& stored,
                   const std::vector<T>& produced, ReloadProblems& problems) {
  std::set<std::string> keys;
  for (const T& binding : produced) keys.insert(binding.metadata.key());
  for (const auto& [key, entry] : stored) {
    if (!keys.contains(key)) problems.covering(entry.binding->origin.file);
  }
}

// The bindings of one kind after this reload: those produced now, plus the old ones the
// rules say to keep. Records what changed in `changes`.
template <typename T>
std::map<std::string, StoredBinding<T>> mergeKind(
    const std::map<std::string, StoredBinding<T>>& stored, const std::vector<T>& produced,
    ReloadContext& context, KeyChanges& changes) {
  std::map<std::string, StoredBinding<T>> next;
  for (const T& binding : produced) {
    std::string key = binding.metadata.key();
    if (next.contains(key)) continue;  // the decoder reports duplicates; first one wins
    auto old = stored.find(key);
    if (old == stored.end()) {
      changes.added.push_back(key);
    } else {
      if (old->second.stale || old->second.binding->generation != binding.generation ||
          normalPath(old->second.binding->origin.file) != normalPath(binding.origin.file)) {
        changes.updated.push_back(key);
      }
      if (old->second.pendingDeletionSince) changes.deletionCancelled.push_back(key);
    }
    next.emplace(std::move(key),
                 StoredBinding<T>{std::make_shared<const T>(binding), false, {}, std::nullopt});
  }
  for (const auto& [key, entry] : stored) {
    if (next.contains(key)) continue;
    if (context.complete) {
      // Absent from a clean read: a deletion once a second clean read, settled, agrees.
      StoredBinding<T> kept = entry;  // served unchanged meanwhile
      if (!entry.pendingDeletionSince) {
        kept.pendingDeletionSince = context.now;
        changes.pendingDeletion.push_back(key);
      } else if (context.now - *entry.pendingDeletionSince >= context.deletionSettle) {
        changes.removed.push_back(key);
        continue;
      }
      next.emplace(key, std::move(kept));
      continue;
    }
    // An incomplete read proves nothing about absence: keep it, stale, and still pending if
    // it was (a later clean read may confirm that).
    api::Diagnostics errors = context.keptBecause(entry.binding->origin.file);
    if (!entry.stale || toStrings(entry.staleErrors) != toStrings(errors)) {
      changes.updated.push_back(key);
    }
    next.emplace(
        key, StoredBinding<T>{entry.binding, true, std::move(errors), entry.pendingDeletionSince});
  }
  sortKeys(changes.added);
  sortKeys(changes.updated);
  sortKeys(changes.removed);
  sortKeys(changes.pendingDeletion);
  sortKeys(changes.deletionCancelled);
  return next;
}

// The earliest time a pending deletion among `stored` was first seen, if any.
template <typename T>
std::optional<core::MonoTime> earliestPending(const std::map<std::string, StoredBinding<T>>& stored,
                                              std::optional<core::MonoTime> earliest) {
  for (const auto& [key, entry] : stored) {
    if (entry.pendingDeletionSince && (!earliest || *entry.pendingDeletionSince < *earliest)) {
      earliest = entry.pendingDeletionSince;
    }
  }
  return earliest;
}

template <typename T>
std::size_t countPending(const std::map<std::string, StoredBinding<T>>& stored) {
  return static_cast<std::size_t>(std::count_if(
      stored.begin(), stored.end(), [](const auto& kv) { return kv.second.pendingDeletionSince; }));
}

template <typename T>
std::size_t countStale(const std::map<std::string, StoredBinding<T>>& stored) {
  return static_cast<std::size_t>(
      std::count_if(stored.begin(), stored.end(), [](const auto& kv) { return kv.second.stale; }));
}

}  // namespace

ManifestStore::ManifestStore(std::vector<fs::path> paths, Loader loader,
                             ManifestStoreOptions options)
    : paths_(std::move(paths)),
      loader_(options.remoteLoader ? options.remoteLoader : std::move(loader)),
      options_(std::move(options)) {}

ManifestDiff ManifestStore::reload(core::MonoTime now) {
  std::lock_guard reloadLock(reloadMu_);

  const bool onDisk = !options_.remoteLoader;
  std::vector<api::Diagnostic> unreadableRoots;
  for (const auto& path : paths_) {
    if (!onDisk) break;
    if (auto problem = checkReadable(path)) unreadableRoots.push_back(std::move(*problem));
  }
  api::ManifestSet set;
  try {
    set = loader_(paths_);
  } catch (const std::exception& e) {
    set = api::ManifestSet{};
    unreadableRoots.clear();
    for (const auto& path : paths_) {
      unreadableRoots.push_back(
          pathDiagnostic(path.string(), std::string("cannot load: ") + e.what()));
    }
  }
  // A configured path the decoder could not read counts as unreadable too (it may have
  // vanished between the check above and the walk).
  bool rootFailed = !unreadableRoots.empty();
  for (const auto& d : set.errors) {
    if (d.line != 0) continue;
    for (const auto& path : paths_) {
      if (normalPath(d.file) == normalPath(path.string())) rootFailed = true;
    }
  }

  ReloadProblems problems(set, unreadableRoots, onDisk);
  // Only reload() writes the maps and reloads are serialised, so reading them here without
  // mu_ is safe; mu_ is taken only to publish, keeping readers clear of the file checks.
  examineAbsent(targetGroupBindings_, set.targetGroupBindings, problems);
  examineAbsent(dnsRecordBindings_, set.dnsRecordBindings, problems);

  ManifestDiff diff;
  diff.errors = set.errors;
  for (auto& d : unreadableRoots) {
    bool reported = std::any_of(set.errors.begin(), set.errors.end(), [&](const auto& e) {
      return e.line == 0 && normalPath(e.file) == normalPath(d.file);
    });
    if (!reported) diff.errors.push_back(d);
  }
  for (const auto& d : problems.unsettled()) diff.errors.push_back(d);
  diff.complete = diff.errors.empty();
  diff.readFailed = rootFailed || std::any_of(diff.errors.begin(), diff.errors.end(),
                                              [](const auto& d) { return d.line == 0; });

  ReloadContext context{problems, now, options_.deletionSettle, diff.complete,
                        diff.complete ? api::Diagnostics{} : diff.errors};
  auto targetGroupBindings =
      mergeKind(targetGroupBindings_, set.targetGroupBindings, context, diff.targetGroupBindings);
  auto dnsRecordBindings =
      mergeKind(dnsRecordBindings_, set.dnsRecordBindings, context, diff.dnsRecordBindings);
  if (auto since = earliestPending(dnsRecordBindings, earliestPending(targetGroupBindings, {}))) {
    // After a clean read, when the oldest pending deletion has settled; after an incomplete
    // one, a settle from now (a fix of a broken file is also an event of its own).
    diff.confirmDeletionsAt =
        diff.complete ? *since + options_.deletionSettle : now + options_.deletionSettle;
  }

  std::set<std::string> filesWithErrors;
  for (const auto& d : diff.errors) filesWithErrors.insert(normalPath(d.file));

  std::lock_guard lock(mu_);
  if (diff.complete) {
    if (!firstCompleteAt_) firstCompleteAt_ = now;
    if (now - *firstCompleteAt_ >= options_.deletionSettle) settled_ = true;
  }
  if (!settled_) {
    diff.settleCheckAt = firstCompleteAt_ && diff.complete
                             ? *firstCompleteAt_ + options_.deletionSettle
                             : now + options_.deletionSettle;
  }
  targetGroupBindings_ = std::move(targetGroupBindings);
  dnsRecordBindings_ = std::move(dnsRecordBindings);
  diff.errorsChanged = toStrings(diff.errors) != toStrings(errors_);
  errors_ = diff.errors;
  if (!rootFailed) loaded_ = true;

  ++stats_.reloads;
  if (!diff.errors.empty()) ++stats_.reloadsWithErrors;
  if (diff.readFailed) ++stats_.readFailures;
  stats_.files = set.files.size();
  stats_.filesWithErrors = filesWithErrors.size();
  stats_.errors = diff.errors.size();
  stats_.targetGroupBindings = targetGroupBindings_.size();
  stats_.dnsRecordBindings = dnsRecordBindings_.size();
  stats_.staleBindings = countStale(targetGroupBindings_) + countStale(dnsRecordBindings_);
  stats_.pendingDeletions = countPending(targetGroupBindings_) + countPending(dnsRecordBindings_);
  return diff;
}

std::map<std::string, StoredTargetGroupBinding> ManifestStore::targetGroupBindings() const {
  std::lock_guard lock(mu_);
  return targetGroupBindings_;
}

std::map<std::string, StoredDnsRecordBinding> ManifestStore::dnsRecordBindings() const {
  std::lock_guard lock(mu_);
  return dnsRecordBindings_;
}

std::optional<StoredTargetGroupBinding> ManifestStore::get(const std::string& key) const {
  std::lock_guard lock(mu_);
  auto it = targetGroupBindings_.find(key);
  if (it == targetGroupBindings_.end()) return std::nullopt;
  return it->second;
}

std::optional<StoredDnsRecordBinding> ManifestStore::getDnsRecordBinding(
    const std::string& key) const {
  std::lock_guard lock(mu_);
  auto it = dnsRecordBindings_.find(key);
  if (it == dnsRecordBindings_.end()) return std::nullopt;
  return it->second;
}

api::Diagnostics ManifestStore::errors() const {
  std::lock_guard lock(mu_);
  return errors_;
}

std::vector<std::string> ManifestStore::targetGroupBindingKeysFor(const std::string& arn) const {
  std::lock_guard lock(mu_);
  std::vector<std::string> keys;
  for (const auto& [key, stored] : targetGroupBindings_) {
    if (stored.binding->spec.targetGroupArn.text == arn) keys.push_back(key);
  }
  return keys;
}

bool ManifestStore::settled() const {
  std::lock_guard lock(mu_);
  return settled_;
}

bool ManifestStore::loaded() const {
  std::lock_guard lock(mu_);
  return loaded_;
}

ManifestStoreStats ManifestStore::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

}  // namespace endpointbinder::runtime
