#include "controller/runtime/s3_manifest_loader.h"

#include <fmt/format.h>

#include <set>
#include <utility>

#include "controller/core/text.h"

namespace endpointbinder::runtime {

namespace {

// True for the keys read as manifests: *.yaml / *.yml, no hidden segment below the prefix.
bool isManifestKey(std::string_view key, std::string_view prefix) {
  if (!key.ends_with(".yaml") && !key.ends_with(".yml")) return false;
  // Only what lies below the configured prefix counts: a hidden prefix the user named
  // (".manifests") is read. A prefix without a trailing '/' may end inside a segment: the rest
  // of that segment continues a name the user gave, so it is not checked either.
  const std::string_view rest = key.substr(std::min(prefix.size(), key.size()));
  std::size_t start = 0;
  bool first = true;
  while (start <= rest.size()) {
    const auto end = rest.find('/', start);
    const std::string_view segment =
        rest.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    const bool continuesPrefix = first && !prefix.empty() && !prefix.ends_with('/');
    if (!continuesPrefix && segment.starts_with('.')) return false;
    if (end == std::string_view::npos) break;
    start = end + 1;
    first = false;
  }
  return true;
}

std::string tooLarge(std::int64_t size, std::size_t limit) {
  return fmt::format("object is {} bytes, larger than {} MiB; not a manifest", size, limit >> 20);
}

}  // namespace

S3ManifestLoader::S3ManifestLoader(aws::S3Api& s3, S3ManifestLoaderOptions options)
    : s3_(s3), options_(options) {}

api::ManifestSet S3ManifestLoader::load(const std::vector<std::filesystem::path>& locations) {
  std::lock_guard loadLock(loadMu_);
  S3ManifestLoaderStats delta;
  ++delta.loads;

  // What to read, in order: one entry per object (or per failed location).
  struct Entry {
    std::string name;  // "s3://bucket/key"
    std::string bucket;
    std::string key;
    std::string etag;
    std::int64_t size = 0;
    std::optional<std::string> error;  // known before any GET
  };
  std::vector<Entry> entries;
  std::vector<std::string> failedScopes;  // "s3://bucket/prefix" of failed listings
  std::set<std::string> seen;
  std::string listing;
  bool listFailed = false;
  bool uncacheable = false;  // an object without an ETag: every load reads it again
  for (const auto& location : locations) {
    const std::string configured = location.string();
    const auto parsed = aws::parseS3Url(configured);
    if (!parsed) {
      entries.push_back({configured,
                         {},
                         {},
                         {},
                         0,
                         "not an S3 location: expected s3://bucket/prefix/ (bucket: 3-63 of a-z "
                         "0-9 . -)"});
      listFailed = true;
      continue;
    }
    ++delta.lists;
    auto objects = s3_.listObjects(parsed->bucket, parsed->prefix);
    if (!objects) {
      ++delta.listFailures;
      listFailed = true;
      failedScopes.push_back("s3://" + parsed->bucket + "/" + parsed->prefix);
      entries.push_back({configured, {}, {}, {}, 0, "cannot list: " + objects.error().toString()});
      continue;
    }
    std::size_t manifests = 0;
    for (const auto& object : *objects) {
      if (!isManifestKey(object.key, parsed->prefix)) continue;
      ++manifests;
      // A key shown in a file name: printable ASCII only (a key may hold anything).
      std::string name = "s3://" + parsed->bucket + "/" + core::printableAscii(object.key);
      if (!seen.insert(name).second) continue;  // listed by two overlapping locations
      listing += name + '\n' + object.etag + '\n' + std::to_string(object.size) + '\n';
      if (object.etag.empty()) uncacheable = true;  // S3-compatible stores may omit it
      Entry entry{std::move(name), parsed->bucket, object.key,
                  object.etag,     object.size,    std::nullopt};
      if (!aws::isPlainS3Key(object.key)) {
        entry.error =
            "object key holds characters other than A-Z a-z 0-9 - _ . ~ /; rename the object";
      } else if (object.size < 0 ||
                 static_cast<std::uint64_t>(object.size) > options_.maxObjectBytes) {
        entry.error = tooLarge(object.size, options_.maxObjectBytes);
      }
      entries.push_back(std::move(entry));
    }
    // A location that held manifests and now lists none is far more often a deploy caught
    // between "rm" and "cp" (or a wrong prefix) than a wish to delete every binding: it is an
    // unreadable location until it lists one again. To delete everything it defined, leave
    // one empty .yaml object there.
    auto& had = hadManifests_[configured];
    if (manifests == 0 && had) {
      listFailed = true;
      failedScopes.push_back("s3://" + parsed->bucket + "/" + parsed->prefix);
      entries.push_back({configured,
                         {},
                         {},
                         {},
                         0,
                         "lists no manifests any more (it had some): nothing it defined is "
                         "deleted until it lists one again; to delete them all, leave an empty "
                         ".yaml object there"});
      continue;
    }
    if (manifests > 0) had = true;
  }

  api::ManifestSet set;
  if (!listFailed && !uncacheable && lastListing_ == listing) {
    set = lastSet_;  // nothing changed since a load that read everything
  } else {
    std::vector<api::ManifestText> texts;
    std::map<std::string, Cached> nextCache;
    bool getFailed = false;
    for (auto& entry : entries) {
      api::ManifestText text{entry.name, {}, entry.error};
      if (!entry.error) {
        auto cached = cache_.find(entry.name);
        if (cached != cache_.end() && !entry.etag.empty() && cached->second.etag == entry.etag) {
          text.text = cached->second.text;
          nextCache.insert(*cached);
        } else {
          ++delta.gets;
          auto body = s3_.getObject(entry.bucket, entry.key, options_.maxObjectBytes);
          // The object as listed must come back whole: a short body under the listed ETag
          // would otherwise be cached and decoded again by every later load (a binding
          // missing from it would then be confirmed deleted).
          if (body && (body->etag.empty() || body->etag == entry.etag) &&
              static_cast<std::int64_t>(body->body.size()) != entry.size) {
            body = core::makeError(
                core::ErrorKind::kRetryable,
                fmt::format("read {} bytes, the listing says {}", body->body.size(), entry.size),
                "IncompleteBody");
          }
          if (body) {
            // The GET's ETag describes the body read (the object may have changed since the
            // listing): the next listing then shows whether it changed again. Without an ETag
            // nothing is cached (an edit could not be told apart).
            Cached fresh{body->etag.empty() ? entry.etag : body->etag, body->body};
            text.text = fresh.text;
            if (!fresh.etag.empty()) nextCache[entry.name] = std::move(fresh);
          } else {
            ++delta.getFailures;
            getFailed = true;
            // ObjectTooLarge: it grew past the limit after the listing.
            text.readError = body.error().code == "ObjectTooLarge"
                                 ? fmt::format("object is larger than {} MiB; not a manifest",
                                               options_.maxObjectBytes >> 20)
                                 : "cannot read: " + body.error().toString();
            // The old text is not used (its bindings stay stale in the store), but kept: a
            // later GET replaces it.
            if (cached != cache_.end()) nextCache.insert(*cached);
          }
        }
      }
      texts.push_back(std::move(text));
    }
    // Objects under a location that could not be listed stay cached for the next load.
    for (const auto& [name, cached] : cache_) {
      for (const auto& scope : failedScopes) {
        if (name.starts_with(scope)) nextCache.insert({name, cached});
      }
    }
    cache_ = std::move(nextCache);
    set = api::decodeManifestTexts(texts);
    ++delta.decodes;
    if (!listFailed && !getFailed) {
      lastListing_ = listing;
      lastSet_ = set;
    } else {
      lastListing_.reset();
    }
  }

  std::lock_guard lock(statsMu_);
  stats_.loads += delta.loads;
  stats_.lists += delta.lists;
  stats_.listFailures += delta.listFailures;
  stats_.gets += delta.gets;
  stats_.getFailures += delta.getFailures;
  stats_.decodes += delta.decodes;
  stats_.objects = seen.size();
  return set;
}

S3ManifestLoaderStats S3ManifestLoader::stats() const {
  std::lock_guard lock(statsMu_);
  return stats_;
}

}  // namespace endpointbinder::runtime
