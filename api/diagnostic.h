// Diagnostic: one problem found in a manifest, located precisely enough for a human to fix it.
#pragma once

#include <string>
#include <vector>

namespace endpointbinder::api {

struct Diagnostic {
  std::string file;     // as given on the command line or found in a directory walk
  int line = 0;         // 1-based; 0 when the problem is the file itself (unreadable)
  int column = 0;       // 1-based
  std::string path;     // field path, e.g. "spec.policy.maxDeregistrationsPerSync"; may be empty
  std::string message;  // what is wrong, in the user's terms

  // "manifests/opensearch.yaml:14:7: spec.policy.maxDeregistrationsPerSync: "150%" exceeds 100%"
  std::string toString() const;
};

using Diagnostics = std::vector<Diagnostic>;

}  // namespace endpointbinder::api
