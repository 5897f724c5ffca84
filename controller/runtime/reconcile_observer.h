// ReconcileObserver: what one reconcile reported about a binding, handed to observers outside
// the control loop (notifications). The reconciler stays free of their I/O: it calls
// onReconciled() on its worker thread after the status is updated, once per
//   - completed sync (kSynced): what was written, what is held and why, the counts after it;
//   - conflict (kConflict): the target group is claimed by someone else (every reconcile that
//     finds it so, not only the first: observers decide what is news);
//   - failed reconcile of a binding in the manifests (kFailed): the error.
// Contract for implementations: return at once. Copy what is needed (the spans and the
// binding point into the reconciler's locals, valid during the call only) and hand it to a
// thread of your own; never block, call AWS or wait on a lock held across I/O: a slow observer
// would slow every binding.
// Thread-safety: called concurrently for different bindings, never concurrently for one.
#pragma once

#include <span>
#include <string>

#include "api/manifest.h"
#include "controller/core/clock.h"
#include "controller/core/error.h"
#include "controller/core/planner.h"
#include "controller/runtime/binding_status.h"

namespace endpointbinder::runtime {

struct ReconcileReport {
  enum class Kind { kSynced, kConflict, kFailed };
  Kind kind = Kind::kSynced;
  const api::TargetGroupBinding* binding = nullptr;  // never null in a call
  core::WallTime time{};

  // kSynced. `registered`/`deregistered` are what this sync wrote (empty in --dry-run or when
  // nothing changed); `held` every change the plan held back (grace periods included).
  bool applied = false;
  std::span<const core::Target> registered{};
  std::span<const core::Target> deregistered{};
  std::span<const core::HeldTarget> held{};
  std::span<const core::Target> listed{};  // the source's listing the plan worked from
  TargetCounts counts{};                   // the group as it stands after the sync
  bool sourceFailing = false;
  std::string_view sourceMessage{};  // the SourceResolved condition's message

  // kConflict: the Conflict condition's message. kFailed: unused (see error).
  std::string_view message{};
  // kFailed: what failed.
  const core::Error* error = nullptr;
};

class ReconcileObserver {
 public:
  virtual ~ReconcileObserver() = default;
  // See the header comment: must return at once.
  virtual void onReconciled(const ReconcileReport& report) = 0;
};

}  // namespace endpointbinder::runtime
