// Controller: the running endpoint-binder — manifests in, reconciled target groups out.
//
// Owns the pieces of ARCHITECTURE.md's data flow and their threads:
//   ManifestWatcher (inotify + rescan) ─┐
//   DnsWatcher (per-hostname refresh) ──┤
//   InstanceInventory (EC2/ASG polls) ──┼─▶ WorkQueue ─▶ N workers ─▶ Reconciler
//     ▲ EventQueueReader (SQS events)   │
//   resync (each binding once a round) ─┘  (ResyncPacer; behind event keys in the queue)
// DNSRecordBindings share the queue and the workers under keys "records:<ns>/<name>" and are
// reconciled by the RecordReconciler (Route 53) instead of the Reconciler (ELBv2).
// The inventory exists when the EC2 and Auto Scaling clients are given, the event reader when
// a queue client and ControllerOptions::events.queueUrl are.
// The AWS client, DNS resolver, metrics and logger are injected; the HTTP servers live in the
// server layer and read StatusStore / readiness() from here.
// Thread-safety: start() and stop() from one thread; status(), readiness() and
// lastHeartbeat() from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "controller/aws/elbv2.h"
#include "controller/aws/instances.h"
#include "controller/aws/sqs.h"
#include "controller/core/clock.h"
#include "controller/core/log.h"
#include "controller/dns/dns_watcher.h"
#include "controller/dns/random.h"
#include "controller/dns/resolver.h"
#include "controller/runtime/binding_sources.h"
#include "controller/runtime/binding_status.h"
#include "controller/runtime/event_queue_reader.h"
#include "controller/runtime/instance_inventory.h"
#include "controller/runtime/manifest_store.h"
#include "controller/runtime/manifest_watcher.h"
#include "controller/runtime/observed_cache.h"
#include "controller/runtime/reconciler.h"
#include "controller/runtime/record_reconciler.h"
#include "controller/runtime/work_queue.h"
#include "controller/runtime/write_gate.h"

namespace endpointbinder::runtime {

class ControllerMetrics;

struct ControllerOptions {
  std::vector<std::filesystem::path> manifests;
  int workers = 4;
  ReconcilerOptions reconciler;  // controllerId, dryRun, resyncPeriod
  // Resync re-checks per second at most (each is one DescribeTargetHealth); a round is
  // stretched beyond resyncPeriod when the bindings need more. 0: no limit. `run` passes half
  // the client's DescribeTargetHealth rate, leaving the other half to event-driven reconciles.
  double resyncMaxPerSecond = 0;
  ManifestWatcherOptions manifestWatcher;
  ManifestStoreOptions manifestStore;  // deletionSettle
  dns::DnsWatcherOptions dnsWatcher;
  WorkQueueOptions queue;
  InventoryOptions instances;  // pollInterval (--instance-poll-interval)
  EventReaderOptions events;   // queueUrl (--events-queue-url): empty means no event reader
};

// A reconcile in flight, for shutdown diagnostics.
struct RunningReconcile {
  std::string key;  // "namespace/name"
  std::chrono::nanoseconds age{0};
};

// "prod/web (12.3s), prod/api (0.4s)": for logs.
std::string describeRunning(const std::vector<RunningReconcile>& running);

struct ControllerReadiness {
  bool manifestsLoaded = false;
  std::vector<std::string> pendingBindings;  // neither synced nor failed yet
};

class Controller {
 public:
  struct Deps {
    const core::Clock& clock;
    core::Logger& log;
    aws::TargetGroupApi& api;
    dns::Resolver& resolver;
    dns::Random& random;
    ControllerMetrics* metrics = nullptr;  // optional
    // Instance sources (ec2, spotFleet, autoScalingGroup): both or neither. Without them such
    // bindings report a failing source.
    aws::Ec2Api* ec2 = nullptr;
    aws::AutoScalingApi* autoScaling = nullptr;
    // The events queue (with options.events.queueUrl), and how to cut its long poll short at
    // stop() (e.g. shut its transport down). Optional.
    aws::QueueApi* eventQueue = nullptr;
    std::function<void()> interruptEventQueue = nullptr;
    // Told of every sync, conflict and failure (the notifier); must not block. Optional.
    ReconcileObserver* observer = nullptr;
    // Leader election (optional): without it this replica always writes.
    const WriteGate* writeGate = nullptr;
    // Route 53 (DNSRecordBindings). Optional: without it such bindings are only validated.
    aws::Route53Api* route53 = nullptr;
    // Target groups of other accounts (spec.assumeRoleARN). Optional: without it such
    // bindings fail.
    aws::AccountApis* accounts = nullptr;
  };

  Controller(Deps deps, ControllerOptions options);
  ~Controller();
  Controller(const Controller&) = delete;
  Controller& operator=(const Controller&) = delete;

  // Loads the manifests and starts every thread. Fails when a watcher cannot start.
  core::Result<void> start();
  // Stops taking new work, lets in-flight reconciles (and their writes) finish for up to
  // `drain`, then stops every thread. Idempotent. When reconciles are still running after
  // `drain`, logs which and calls `abandon` first: it must make whatever they wait for return
  // (run cancels the in-flight AWS requests), since stop() then waits for them to end.
  // Returns whether every reconcile finished within `drain` (false: writes were abandoned
  // and may still reach AWS).
  bool stop(std::chrono::nanoseconds drain = std::chrono::seconds(8),
            const std::function<void()>& abandon = {});

  // Looks at every binding again now, each from a fresh read of its target group: a new
  // leader converges at once instead of at the next resync. Thread-safe.
  void resyncAll();

  // The reconciles in flight now, oldest first. Thread-safe.
  std::vector<RunningReconcile> running() const;

  const StatusStore& status() const { return status_; }
  ControllerReadiness readiness() const;
  // The control loop's last sign of life (the tick thread; withheld while a reconcile is stuck).
  core::MonoTime lastHeartbeat() const;

 private:
  void onManifestChange(const ManifestDiff& diff);
  void workerLoop();
  void tickLoop();
  std::optional<DesiredBinding> desired(const std::string& key) const;
  // Keys of the stored bindings (pending deletions included) that name target group `arn`.
  std::vector<std::string> bindingsNaming(const std::string& arn) const;

  Deps deps_;
  ControllerOptions options_;
  StatusStore status_;
  WorkQueue queue_;
  ManifestStore store_;
  std::unique_ptr<dns::WatcherObserver> dnsObserver_;  // feeds DNS lookups into metrics
  dns::DnsWatcher dnsWatcher_;
  std::unique_ptr<InstanceInventory> inventory_;   // null without EC2 access
  std::unique_ptr<EventQueueReader> eventReader_;  // null without an events queue
  BindingSources sources_;
  ObservedCache observed_;
  Reconciler reconciler_;
  std::unique_ptr<RecordReconciler> recordReconciler_;  // null without Route 53 access
  std::unique_ptr<ManifestWatcher> manifestWatcher_;

  std::vector<std::thread> workers_;
  std::thread ticker_;
  std::mutex tickMu_;
  std::condition_variable tickCv_;
  bool stopping_ = false;  // guarded by tickMu_
  bool started_ = false;
  std::atomic<core::MonoTime::rep> heartbeat_{0};
  mutable std::mutex runningMu_;
  std::map<std::string, core::MonoTime> running_;  // guarded by runningMu_: key -> started
};

}  // namespace endpointbinder::runtime
