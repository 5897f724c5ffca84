#include "controller/runtime/manifest_watcher.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <exception>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <system_error>
#include <unordered_map>
#include <vector>

#include "api/decode.h"
#include "controller/core/thread_name.h"

namespace endpointbinder::runtime {

namespace fs = std::filesystem;

namespace {

// Any change to a directory's entries or to a file's contents.
constexpr std::uint32_t kDirectoryMask = IN_CREATE | IN_DELETE | IN_MODIFY | IN_CLOSE_WRITE |
                                         IN_MOVED_FROM | IN_MOVED_TO | IN_ATTRIB | IN_DELETE_SELF |
                                         IN_MOVE_SELF | IN_ONLYDIR;
constexpr std::uint32_t kFileMask =
    IN_MODIFY | IN_CLOSE_WRITE | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF;
constexpr int kMaxSymlinkDepth = 8;
constexpr int kMaxDirectoryDepth = 64;

bool isHidden(const fs::path& path) {
  std::string name = path.filename().string();
  return !name.empty() && name.front() == '.';
}

fs::path cleanPath(const fs::path& path) {
  std::error_code ec;
  fs::path absolute = fs::absolute(path, ec);
  if (ec) absolute = path;
  absolute = absolute.lexically_normal();
  if (!absolute.has_filename() && absolute.has_parent_path() && absolute != absolute.root_path()) {
    absolute = absolute.parent_path();
  }
  return absolute;
}

}  // namespace

// The set of inotify watches and what each is for. Rebuilt from the filesystem by arm(), which
// adds watches for what is there now and removes the ones no longer needed.
class ManifestWatcher::Watches {
 public:
  Watches(int fd, std::size_t maxWatches, core::Logger& log)
      : fd_(fd), maxWatches_(maxWatches), log_(log) {}

  // Re-resolves `paths` and re-arms. Returns the number of watches that could not be added.
  std::uint64_t arm(const std::vector<fs::path>& paths) {
    wanted_.clear();
    for (const auto& path : paths) {
      fs::path clean = cleanPath(path);
      watchEntry(clean);
      watchSymlinksOn(clean, 0);
      std::error_code ec;
      auto status = fs::status(clean, ec);
      if (ec) continue;
      if (fs::is_directory(status)) {
        std::set<fs::path> visited;
        watchTree(clean, 0, visited);
      } else {
        // The file itself: a file reached through a symlink changes where its parent's
        // watch cannot see it.
        fs::path real = fs::canonical(clean, ec);
        if (!ec) want(real, kFileMask, std::nullopt);
      }
    }

    std::uint64_t failures = 0;
    std::set<fs::path> failed;
    std::unordered_map<int, Interest> next;
    for (auto& [path, interest] : wanted_) {
      int wd = next.size() < maxWatches_ ? inotify_add_watch(fd_, path.c_str(), interest.mask) : -1;
      if (wd < 0) {
        ++failures;
        failed.insert(path);
        if (!failedPaths_.contains(path)) {
          std::string error = next.size() < maxWatches_ ? std::strerror(errno) : "too many watches";
          log_.log(core::LogLevel::kWarn, "cannot watch manifest path; relying on rescans",
                   {core::field("path", path.string()), core::field("error", error)});
        }
        continue;
      }
      auto [it, fresh] = next.emplace(wd, interest);
      if (!fresh) {
        // Two spellings of one inode share a watch: its mask must cover both.
        it->second.merge(interest);
        inotify_add_watch(fd_, path.c_str(), it->second.mask);
      }
    }
    failedPaths_ = std::move(failed);
    for (const auto& [wd, interest] : byWd_) {
      if (!next.contains(wd)) inotify_rm_watch(fd_, wd);
    }
    byWd_ = std::move(next);
    return failures;
  }

  // Whether an event on `wd` for entry `name` calls for a reload.
  bool relevant(int wd, std::uint32_t mask, const char* name) {
    auto it = byWd_.find(wd);
    if (it == byWd_.end()) return false;  // a watch we removed ourselves
    if (mask & IN_IGNORED) {              // the watched thing is gone
      byWd_.erase(it);
      return true;
    }
    if (!it->second.names) return true;
    if (mask & (IN_DELETE_SELF | IN_MOVE_SELF)) return true;
    return name != nullptr && it->second.names->contains(name);
  }

  std::size_t size() const { return byWd_.size(); }

 private:
  struct Interest {
    fs::path path;
    std::uint32_t mask = 0;
    std::optional<std::set<std::string>> names;  // nullopt: every entry

    void merge(const Interest& other) {
      mask |= other.mask;
      if (!names || !other.names) {
        names.reset();
      } else {
        names->insert(other.names->begin(), other.names->end());
      }
    }
  };

  void want(const fs::path& path, std::uint32_t mask, std::optional<std::string> name) {
    Interest interest{path, mask, std::nullopt};
    if (name) interest.names = std::set<std::string>{*name};
    auto [it, fresh] = wanted_.emplace(path, interest);
    if (!fresh) it->second.merge(interest);
  }

  // Watches the directory holding `path` for changes of that entry (created, deleted, renamed
  // over: how a symlink swap or an editor's save looks). If the directory does not exist,
  // watches the nearest ancestor that does, for the entry leading towards `path`.
  void watchEntry(const fs::path& path) {
    fs::path entry = path;
    for (int i = 0; i < 64 && entry.has_parent_path() && entry != entry.root_path(); ++i) {
      std::error_code ec;
      fs::path parent = fs::canonical(entry.parent_path(), ec);
      if (!ec && fs::is_directory(parent, ec)) {
        want(parent, kDirectoryMask, entry.filename().string());
        return;
      }
      entry = entry.parent_path();
    }
  }

  // Every symlink on the way to `path` (in any component) is an entry whose replacement
  // changes what `path` means: watch each, and follow each link's target the same way.
  void watchSymlinksOn(const fs::path& path, int depth) {
    if (depth > kMaxSymlinkDepth) return;
    fs::path prefix = path.root_path();
    for (const auto& component : path.relative_path()) {
      prefix /= component;
      std::error_code ec;
      if (!fs::is_symlink(fs::symlink_status(prefix, ec)) || ec) continue;
      watchEntry(prefix);
      fs::path target = fs::read_symlink(prefix, ec);
      if (ec) continue;
      fs::path resolved = target.is_absolute() ? target : prefix.parent_path() / target;
      watchSymlinksOn(cleanPath(resolved), depth + 1);
    }
  }

  // `directory` and every directory below it (hidden ones skipped, symlinks followed).
  void watchTree(const fs::path& directory, int depth, std::set<fs::path>& visited) {
    std::error_code ec;
    fs::path real = fs::canonical(directory, ec);
    if (ec || depth > kMaxDirectoryDepth || !visited.insert(real).second) return;
    want(real, kDirectoryMask, std::nullopt);
    for (fs::directory_iterator it(real, ec), end; !ec && it != end; it.increment(ec)) {
      if (isHidden(it->path())) continue;
      std::error_code statusError;
      if (fs::is_directory(it->path(), statusError)) watchTree(it->path(), depth + 1, visited);
    }
  }

  int fd_;
  std::size_t maxWatches_;
  core::Logger& log_;
  std::map<fs::path, Interest> wanted_;
  std::unordered_map<int, Interest> byWd_;
  std::set<fs::path> failedPaths_;
};

ManifestWatcher::ManifestWatcher(ManifestStore& store, const core::Clock& clock, core::Logger& log,
                                 OnChange onChange, ManifestWatcherOptions options)
    : store_(store), clock_(clock), log_(log), onChange_(std::move(onChange)), options_(options) {}

ManifestWatcher::~ManifestWatcher() {
  stop();
  if (wakeFd_ >= 0) close(wakeFd_);
}

core::Result<void> ManifestWatcher::start() {
  std::lock_guard lock(lifecycleMu_);
  if (thread_.joinable()) {
    return core::makeError(core::ErrorKind::kTerminal, "manifest watcher already started");
  }
  // Created once and kept until destruction, so requestReload() never sees a closed descriptor.
  if (wakeFd_ < 0) {
    int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (fd < 0) {
      return core::makeError(core::ErrorKind::kRetryable,
                             std::string("manifest watcher: eventfd: ") + std::strerror(errno));
    }
    wakeFd_ = fd;
  }
  stopping_ = false;
  try {
    thread_ = std::thread([this] { run(); });
  } catch (const std::system_error& e) {
    return core::makeError(core::ErrorKind::kRetryable,
                           std::string("manifest watcher: cannot start thread: ") + e.what());
  }
  return {};
}

void ManifestWatcher::stop() {
  std::lock_guard lock(lifecycleMu_);
  stopping_ = true;
  wake();
  if (thread_.joinable()) thread_.join();
}

void ManifestWatcher::requestReload() {
  reloadRequested_ = true;
  wake();
}

void ManifestWatcher::wake() {
  int fd = wakeFd_.load();
  if (fd < 0) return;
  std::uint64_t one = 1;
  [[maybe_unused]] auto n = write(fd, &one, sizeof one);
}

ManifestWatcherStats ManifestWatcher::stats() const {
  std::lock_guard lock(statsMu_);
  return stats_;
}

void ManifestWatcher::reloadNow(bool rescan) {
  if (options_.fingerprintRescans) {
    // Taken before reading, so a change made while reading shows at the next rescan.
    const std::uint64_t fingerprint = api::manifestTreeFingerprint(store_.paths());
    if (rescan && lastFingerprint_ == fingerprint) {
      std::lock_guard lock(statsMu_);
      ++stats_.rescansUnchanged;
      return;
    }
    lastFingerprint_ = fingerprint;
  }
  const core::MonoTime started = clock_.now();
  ManifestDiff diff = store_.reload(started);
  confirmAt_ = diff.confirmDeletionsAt;
  if (diff.settleCheckAt && (!confirmAt_ || *diff.settleCheckAt < *confirmAt_)) {
    confirmAt_ = diff.settleCheckAt;
  }
  if (confirmAt_) confirmAt_ = std::max(*confirmAt_, started + options_.debounce);
  {
    std::lock_guard lock(statsMu_);
    ++stats_.reloads;
    if (rescan) ++stats_.rescans;
    if (diff.changed()) ++stats_.changes;
  }
  logDeletions(diff);
  if (!diff.changed() || !onChange_) return;
  try {
    onChange_(diff);
  } catch (const std::exception& e) {
    {
      std::lock_guard lock(statsMu_);
      ++stats_.callbackErrors;
    }
    log_.log(core::LogLevel::kError, "manifest change handler failed",
             {core::field("error", std::string(e.what()))});
  }
}

void ManifestWatcher::logDeletions(const ManifestDiff& diff) {
  const auto settleMs = static_cast<long long>(store_.options().deletionSettle.count());
  std::uint64_t pending = 0;
  std::uint64_t cancelled = 0;
  std::uint64_t confirmed = 0;
  for (const auto& [kind, changes] :
       {std::pair<const char*, const KeyChanges*>{"TargetGroupBinding", &diff.targetGroupBindings},
        {"DNSRecordBinding", &diff.dnsRecordBindings}}) {
    for (const auto& key : changes->pendingDeletion) {
      log_.log(core::LogLevel::kInfo, "binding absent from manifests; deleting after confirmation",
               {core::field("binding", key), core::field("kind", kind),
                core::field("deletionSettleMs", settleMs)});
    }
    for (const auto& key : changes->deletionCancelled) {
      log_.log(core::LogLevel::kInfo, "binding back in manifests; deletion cancelled",
               {core::field("binding", key), core::field("kind", kind)});
    }
    for (const auto& key : changes->removed) {
      log_.log(core::LogLevel::kInfo,
               "binding deletion confirmed: absent from manifests on two reads, settled",
               {core::field("binding", key), core::field("kind", kind),
                core::field("deletionSettleMs", settleMs)});
    }
    pending += changes->pendingDeletion.size();
    cancelled += changes->deletionCancelled.size();
    confirmed += changes->removed.size();
  }
  std::lock_guard lock(statsMu_);
  stats_.deletionsPending += pending;
  stats_.deletionsCancelled += cancelled;
  stats_.deletionsConfirmed += confirmed;
}

void ManifestWatcher::run() {
  core::nameThisThread("eb-manifests");
  int inotifyFd = -1;
  if (options_.useInotify) {
    inotifyFd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (inotifyFd < 0) {
      log_.log(core::LogLevel::kWarn, "inotify unavailable; watching manifests by rescans only",
               {core::field("error", std::string(std::strerror(errno))),
                core::field("rescan_interval_ms",
                            static_cast<long long>(options_.rescanInterval.count()))});
    }
  }
  std::optional<Watches> watches;
  if (inotifyFd >= 0) watches.emplace(inotifyFd, options_.maxWatches, log_);

  auto rearm = [&] {
    if (!watches) return;
    std::uint64_t failures = watches->arm(store_.paths());
    std::lock_guard lock(statsMu_);
    stats_.watchErrors += failures;
    stats_.watches = watches->size();
  };
  {
    std::lock_guard lock(statsMu_);
    stats_.inotifyActive = watches.has_value();
  }

  const bool rescans = options_.rescanInterval > std::chrono::milliseconds::zero();
  // Arm before reading, so a change made while reading is an event afterwards.
  rearm();
  reloadNow(false);
  core::MonoTime nextRescan = clock_.now() + options_.rescanInterval;
  bool pending = false;         // events seen, reload not done yet
  core::MonoTime firstEvent{};  // of the pending burst
  core::MonoTime lastEvent{};

  alignas(struct inotify_event) char buffer[16 * 1024];
  while (!stopping_) {
    core::MonoTime now = clock_.now();
    std::optional<core::MonoTime> deadline;
    if (rescans) deadline = nextRescan;
    if (confirmAt_) deadline = deadline ? std::min(*deadline, *confirmAt_) : *confirmAt_;
    if (pending) {
      core::MonoTime due = std::min(lastEvent + options_.debounce, firstEvent + options_.maxDelay);
      deadline = deadline ? std::min(*deadline, due) : due;
    }
    int timeoutMs = -1;
    if (deadline) {
      auto remaining = std::chrono::ceil<std::chrono::milliseconds>(*deadline - now).count();
      timeoutMs = static_cast<int>(std::clamp<long long>(remaining, 0, INT_MAX));
    }

    pollfd fds[2] = {{wakeFd_.load(), POLLIN, 0}, {inotifyFd, POLLIN, 0}};
    int ready = poll(fds, inotifyFd >= 0 ? 2 : 1, timeoutMs);
    if (ready < 0 && errno != EINTR) {
      log_.log(core::LogLevel::kError, "manifest watcher: poll failed",
               {core::field("error", std::string(std::strerror(errno)))});
      break;
    }
    if (stopping_) break;
    now = clock_.now();
    bool eventSeen = false;
    if (ready > 0 && (fds[0].revents & POLLIN)) {
      std::uint64_t count = 0;
      [[maybe_unused]] auto n = read(fds[0].fd, &count, sizeof count);
      if (reloadRequested_.exchange(false)) eventSeen = true;
    }
    if (ready > 0 && inotifyFd >= 0 && (fds[1].revents & POLLIN)) {
      std::uint64_t relevant = 0;
      std::uint64_t overflows = 0;
      for (;;) {
        ssize_t length = read(inotifyFd, buffer, sizeof buffer);
        if (length <= 0) break;
        for (char* p = buffer; p < buffer + length;) {
          auto* event = reinterpret_cast<struct inotify_event*>(p);
          p += sizeof(struct inotify_event) + event->len;
          if (event->mask & IN_Q_OVERFLOW) {
            ++overflows;
            ++relevant;
          } else if (watches->relevant(event->wd, event->mask,
                                       event->len > 0 ? event->name : nullptr)) {
            ++relevant;
          }
        }
      }
      if (overflows > 0) {
        log_.log(core::LogLevel::kWarn, "inotify queue overflowed; reloading manifests", {});
      }
      if (relevant > 0) {
        eventSeen = true;
        std::lock_guard lock(statsMu_);
        stats_.events += relevant;
        stats_.overflows += overflows;
      }
    }
    if (eventSeen) {
      if (!pending) firstEvent = now;
      pending = true;
      lastEvent = now;
    }

    if (pending &&
        (now >= lastEvent + options_.debounce || now >= firstEvent + options_.maxDelay)) {
      pending = false;
      rearm();
      reloadNow(false);
      nextRescan = clock_.now() + options_.rescanInterval;
    } else if (confirmAt_ && now >= *confirmAt_) {
      // A second read to confirm deletions: never skipped for an unchanged fingerprint.
      {
        std::lock_guard lock(statsMu_);
        ++stats_.confirmations;
      }
      rearm();
      reloadNow(false);
    } else if (rescans && now >= nextRescan) {
      rearm();
      reloadNow(true);
      nextRescan = clock_.now() + options_.rescanInterval;
    }
  }
  if (inotifyFd >= 0) close(inotifyFd);
}

}  // namespace endpointbinder::runtime
