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
  ReloadProblems(const api::ManifestSet& set, const std::vector<api::Diagnostic>& unreadableRoots) {
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

  // The errors that keep a binding from `originFile`; empty if it may be removed.
  api::Diagnostics covering(const std::string& originFile) {
    std::string file = normalPath(originFile);
    api::Diagnostics out;
    if (auto it = byFile_.find(file); it != byFile_.end()) out = it->second;
    for (const auto& [scope, d] : unreadable_) {
      if (isAtOrUnder(file, scope)) out.push_back(d);
    }
    if (out.empty() && !filesRead_.contains(file) && mayStillExist(originFile)) {
      // The walk missed a file that is there (it changed under us): not a deletion.
      auto [it, fresh] = unsettled_.try_emplace(
          file, pathDiagnostic(originFile,
                               "exists but was not read (changed during the reload?); keeping "
                               "its bindings until the next reload"));
      out.push_back(it->second);
    }
    return out;
  }

  // Diagnostics made up by covering(), to be reported with the loader's.
  api::Diagnostics unsettled() const {
    api::Diagnostics out;
    for (const auto& [file, d] : unsettled_) out.push_back(d);
    return out;
  }

 private:
  // False only when the file is certainly gone; "cannot tell" keeps the binding.
  static bool mayStillExist(const std::string& file) {
    std::error_code ec;
    auto status = fs::status(file, ec);
    if (status.type() == fs::file_type::not_found) return false;
    if (ec) return true;
    return fs::is_regular_file(status);
  }

  std::set<std::string> filesRead_;
  std::map<std::string, api::Diagnostics> byFile_;
  std::vector<std::pair<std::string, api::Diagnostic>> unreadable_;
  std::map<std::string, api::Diagnostic> unsettled_;
};

template <typename T>
void sortKeys(std::vector<T>& keys) {
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
}

// The bindings of one kind after this reload: those produced now, plus the old ones the
// rules say to keep. Records what changed in `changes`.
template <typename T>
std::map<std::string, StoredBinding<T>> mergeKind(
    const std::map<std::string, StoredBinding<T>>& stored, const std::vector<T>& produced,
    ReloadProblems& problems, KeyChanges& changes) {
  std::map<std::string, StoredBinding<T>> next;
  for (const T& binding : produced) {
    std::string key = binding.metadata.key();
    if (next.contains(key)) continue;  // the decoder reports duplicates; first one wins
    auto old = stored.find(key);
    if (old == stored.end()) {
      changes.added.push_back(key);
    } else if (old->second.stale || old->second.binding.generation != binding.generation ||
               normalPath(old->second.binding.origin.file) != normalPath(binding.origin.file)) {
      changes.updated.push_back(key);
    }
    next.emplace(std::move(key), StoredBinding<T>{binding, false, {}});
  }
  for (const auto& [key, entry] : stored) {
    if (next.contains(key)) continue;
    api::Diagnostics errors = problems.covering(entry.binding.origin.file);
    if (errors.empty()) {
      changes.removed.push_back(key);
      continue;
    }
    if (!entry.stale || toStrings(entry.staleErrors) != toStrings(errors)) {
      changes.updated.push_back(key);
    }
    next.emplace(key, StoredBinding<T>{entry.binding, true, std::move(errors)});
  }
  sortKeys(changes.added);
  sortKeys(changes.updated);
  sortKeys(changes.removed);
  return next;
}

template <typename T>
std::size_t countStale(const std::map<std::string, StoredBinding<T>>& stored) {
  return static_cast<std::size_t>(
      std::count_if(stored.begin(), stored.end(), [](const auto& kv) { return kv.second.stale; }));
}

}  // namespace

ManifestStore::ManifestStore(std::vector<fs::path> paths, Loader loader)
    : paths_(std::move(paths)), loader_(std::move(loader)) {}

ManifestDiff ManifestStore::reload() {
  std::lock_guard reloadLock(reloadMu_);

  std::vector<api::Diagnostic> unreadableRoots;
  for (const auto& path : paths_) {
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

  // Only reload() writes the maps and reloads are serialised, so reading them here without
  // mu_ is safe; mu_ is taken only to publish, keeping readers clear of the file checks.
  ManifestDiff diff;
  ReloadProblems problems(set, unreadableRoots);
  auto targetGroupBindings =
      mergeKind(targetGroupBindings_, set.targetGroupBindings, problems, diff.targetGroupBindings);
  auto dnsRecordBindings =
      mergeKind(dnsRecordBindings_, set.dnsRecordBindings, problems, diff.dnsRecordBindings);

  diff.errors = set.errors;
  for (auto& d : unreadableRoots) {
    bool reported = std::any_of(set.errors.begin(), set.errors.end(), [&](const auto& e) {
      return e.line == 0 && normalPath(e.file) == normalPath(d.file);
    });
    if (!reported) diff.errors.push_back(d);
  }
  for (auto& d : problems.unsettled()) diff.errors.push_back(std::move(d));
  diff.readFailed = rootFailed || std::any_of(diff.errors.begin(), diff.errors.end(),
                                              [](const auto& d) { return d.line == 0; });
  std::set<std::string> filesWithErrors;
  for (const auto& d : diff.errors) filesWithErrors.insert(normalPath(d.file));

  std::lock_guard lock(mu_);
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

bool ManifestStore::loaded() const {
  std::lock_guard lock(mu_);
  return loaded_;
}

ManifestStoreStats ManifestStore::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

}  // namespace endpointbinder::runtime
