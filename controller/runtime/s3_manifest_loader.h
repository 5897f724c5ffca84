// S3ManifestLoader: the manifests under s3://bucket/prefix/ locations, read for ManifestStore
// (as its ManifestStoreOptions::remoteLoader) with the same rules as manifest files.
//
// Each load() lists every configured location (ListObjectsV2, every page) and GETs only the
// objects whose ETag differs from the one it holds: an unchanged bucket costs one listing (a
// request per 1,000 objects) and no GET. Keys ending in .yaml or .yml are manifests; others,
// and keys with a path segment starting with '.' (hidden, as in directories), are skipped.
// Each object is a file named "s3://bucket/key" in origins and diagnostics, decoded with
// api::decodeManifestTexts, so cross-object checks span every object of every location.
//
// Failures are those of unreadable files and directories, so ManifestStore never takes
// anything as deleted while a read fails:
//   - a failed listing (network, AccessDenied, NoSuchBucket) is a line-0 diagnostic of the
//     location exactly as configured: the location counts as unreadable, every binding under
//     it is kept (stale), and the objects it held stay cached for the next load;
//   - a failed GET is a line-0 diagnostic of that object ("cannot read: ..."): its bindings
//     are kept with their last good spec (stale), and it is fetched again next load;
//   - an object over `maxObjectBytes` (16 MiB, as files) or whose key holds characters other
//     than A-Z a-z 0-9 - _ . ~ / (aws::isPlainS3Key) is a line-0 diagnostic of that object,
//     and is not fetched.
//   - a GET whose body is not the listed size (for the listed ETag) is a failed GET: a short
//     body is never cached, so a later load reads the object again;
//   - a location that listed manifests once and lists none now is a failed listing (a deploy
//     caught between "aws s3 rm" and "aws s3 cp", or a wrong prefix, must not delete every
//     binding); to delete all it defined, leave one empty .yaml object there.
// Hidden segments count only below the configured prefix (a prefix ".manifests/" is read).
// Objects without an ETag (some S3-compatible stores) are never cached: every load reads them.
// A load whose listings all succeeded and whose (key, ETag, size) list equals the previous
// load's, with no GET having failed then, returns the previous result without decoding again.
//
// Thread-safety: load() calls are serialised internally; stats() may be called any time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "api/decode.h"
#include "controller/aws/s3_client.h"
#include "controller/runtime/manifest_store.h"

namespace endpointbinder::runtime {

struct S3ManifestLoaderOptions {
  std::size_t maxObjectBytes = 16 * 1024 * 1024;  // as loadManifests' limit for files
};

struct S3ManifestLoaderStats {
  std::uint64_t loads = 0;
  std::uint64_t lists = 0;  // listObjects calls (each may be several pages)
  std::uint64_t listFailures = 0;
  std::uint64_t gets = 0;  // getObject calls
  std::uint64_t getFailures = 0;
  std::uint64_t decodes = 0;  // loads that decoded (the others reused the last result)
  std::size_t objects = 0;    // manifest objects as of the last load
};

class S3ManifestLoader {
 public:
  // `s3` must outlive the loader.
  explicit S3ManifestLoader(aws::S3Api& s3, S3ManifestLoaderOptions options = {});

  S3ManifestLoader(const S3ManifestLoader&) = delete;
  S3ManifestLoader& operator=(const S3ManifestLoader&) = delete;

  // Reads every location ("s3://bucket/prefix/"); a path that is not an s3:// URL is a
  // line-0 diagnostic of that path. Never throws for S3 failures.
  api::ManifestSet load(const std::vector<std::filesystem::path>& locations);

  // load() as a ManifestStore loader; the loader must outlive the returned function.
  ManifestLoader asLoader() {
    return [this](const std::vector<std::filesystem::path>& locations) { return load(locations); };
  }

  S3ManifestLoaderStats stats() const;

 private:
  struct Cached {
    std::string etag;
    std::string text;
  };

  std::mutex loadMu_;  // serialises load()
  aws::S3Api& s3_;
  const S3ManifestLoaderOptions options_;
  std::map<std::string, Cached> cache_;  // by "s3://bucket/key"; guarded by loadMu_
  // The last load's (key, ETag) listing and result, when it may be reused (loadMu_).
  std::optional<std::string> lastListing_;
  api::ManifestSet lastSet_;
  // Locations that listed at least one manifest once: listing none later is refused.
  std::map<std::string, bool> hadManifests_;  // guarded by loadMu_

  mutable std::mutex statsMu_;
  S3ManifestLoaderStats stats_;
};

}  // namespace endpointbinder::runtime
