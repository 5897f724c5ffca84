// Decoding manifests: YAML text -> validated, defaulted binding objects.
//
// Strict: unknown fields (with a "did you mean" suggestion), wrong types, out-of-range
// values, malformed durations/ARNs/hostnames/addresses/CIDRs/labels, duplicate keys,
// duplicate namespace/name, two bindings naming one target group, unknown apiVersion/kind.
// Every problem is reported (not only the first) as a Diagnostic with file, line, column and
// field path. A document with errors yields no object; the other documents and files are
// still returned, so one bad manifest never stops the others. A YAML syntax error is one
// diagnostic at the parser's position; the complete documents before it are still decoded.
// Objects clashing across documents (same kind and namespace/name, or one target group in
// two TargetGroupBindings) are all reported and all dropped, never "first wins".
// YAML is read with the 1.2 core schema. The exact rules, defaults and messages are in
// api/REFERENCE.md; api/schema/endpointbinder.schema.json restates them for editors.
// Thread-safety: free functions over their arguments; safe to call concurrently.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/diagnostic.h"
#include "api/manifest.h"

namespace endpointbinder::api {

struct ManifestSet {
  std::vector<TargetGroupBinding> targetGroupBindings;
  std::vector<DnsRecordBinding> dnsRecordBindings;
  Diagnostics errors;
  std::vector<std::string> files;  // every file read, in order

  bool ok() const { return errors.empty(); }
};

// Decodes every YAML document of one file's text. `fileName` is used in diagnostics only.
// Cross-object checks (duplicates) apply within this text only.
ManifestSet decodeManifests(std::string_view text, const std::string& fileName);

// One manifest file whose text the caller fetched itself (an S3 object): its text, or why it
// could not be read.
struct ManifestText {
  std::string file;  // the name in origins and diagnostics, e.g. "s3://bucket/key"
  std::string text;
  std::optional<std::string> readError;  // set: reported at line 0, as an unreadable file is
};

// Decodes the texts, in order, as loadManifests decodes the files it reads (a readError is a
// diagnostic at line 0 of that file), then applies the cross-object checks over them all.
ManifestSet decodeManifestTexts(const std::vector<ManifestText>& texts);

// Reads files and directories (walked recursively for *.yaml / *.yml in sorted order;
// hidden files and directories skipped; symlinks followed) and decodes them all, then
// applies the cross-object checks over the whole set. A path that does not exist or
// cannot be read, or a file over 16 MiB, is a diagnostic (line 0), not an exception. A file
// reached twice (named twice, or through a symlink) is read once. Diagnostics are ordered
// by file (in reading order), then line and column.
// Each path, and each directory below it, is resolved (symlinks) once, when the walk enters
// it, and read through that resolved path: a symlinked root swapped during the walk (git-sync)
// cannot mix two revisions in one result. Origins and diagnostics keep the spelling given
// (the configured path joined with entry names). An entry that vanishes between being listed
// and being read (a revision removed under the walk) is a diagnostic (line 0): the result is
// incomplete, and callers must not take what is missing from it as deleted.
ManifestSet loadManifests(const std::vector<std::filesystem::path>& paths);

// A hash of what loadManifests would read from `paths`: every file's path, device, inode,
// size and modification and change times, every unreadable path, in walking order, and the
// path each root resolved to. It changes when a file is edited, added, removed or renamed, or
// a symlinked directory is swapped (git-sync), without reading any file: a periodic rescan
// compares it and decodes only on a change. (An edit that keeps size, mtime and ctime to the
// nanosecond is not seen; inotify still is.)
uint64_t manifestTreeFingerprint(const std::vector<std::filesystem::path>& paths);

}  // namespace endpointbinder::api
