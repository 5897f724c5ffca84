// `run`: the controller. Every flag also reads an ENDPOINT_BINDER_* environment variable,
// because containers (ECS task definitions) are configured that way.
#include <malloc.h>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <thread>

#include "api/syntax.h"
#include "controller/aws/cpprest_transport.h"
#include "controller/core/record_plan.h"
#include "controller/dns/ares_resolver.h"
#include "controller/main/aws_setup.h"
#include "controller/main/cli.h"
#include "controller/main/leader_setup.h"
#include "controller/main/notify_setup.h"
#include "controller/main/s3_setup.h"
#include "controller/runtime/controller.h"
#include "controller/runtime/json_logger.h"
#include "controller/runtime/metrics.h"
#include "controller/runtime/shutdown_watchdog.h"
#include "controller/server/health_server.h"
#include "controller/server/metrics_server.h"

namespace endpointbinder::cli {

namespace {

constexpr auto kMallocTrimPeriod = std::chrono::seconds(60);
// Threads of cpprest's I/O pool (see where it is set).
constexpr size_t kCpprestThreads = 2;
// After SIGTERM the process ends at the latest this long after --shutdown-grace (the promise is
// grace + 2 s; the rest is for the exit itself).
constexpr auto kHardStopMargin = std::chrono::milliseconds(1500);

using core::LogLevel;

struct RunFlags {
  std::vector<std::string> manifests;
  bool dryRun = false;
  int workers = 4;
  std::string resyncPeriod = "5m";
  std::string deregistrationWindow = "1m";
  std::string metricsAddr = "0.0.0.0:8080";
  std::string healthAddr = "0.0.0.0:8081";
  std::vector<std::string> dnsServers;
  std::string dnsTimeout = "2s";
  std::string controllerId = "endpoint-binder";
  std::string logFormat = "json";
  std::string logLevel = "info";
  std::string manifestRescan = "30s";
  std::string s3PollInterval = "30s";
  std::string manifestDeletionSettle = "5s";
  std::string shutdownGrace = "8s";
  std::string instancePollInterval = "60s";
  std::string eventsQueueUrl;
  AwsFlags aws;
  std::string awsAttemptTimeout = "10s";
  NotifyFlags notify;
  LeaderFlags leader;
};

// Adds an option bound to an ENDPOINT_BINDER_<NAME> variable (name from the flag).
template <typename T>
CLI::Option* flag(CLI::App* cmd, const std::string& name, T& value, const std::string& help) {
  std::string env = "ENDPOINT_BINDER_";
  for (char c : name.substr(2)) env += c == '-' ? '_' : static_cast<char>(std::toupper(c));
  return cmd->add_option(name, value, help)->envname(env)->capture_default_str();
}

// Parses a duration flag ("90s", "5m"); on failure explains which flag and why.
std::optional<api::Duration> durationFlag(CliContext& ctx, const char* name,
                                          const std::string& text, api::Duration min) {
  auto d = api::parseDuration(text);
  if (!d) {
    ctx.err << "error: " << name << ": " << d.error() << "\n";
    return std::nullopt;
  }
  if (*d < min) {
    ctx.err << "error: " << name << ": " << text << " is below the minimum "
            << api::formatDuration(min) << "\n";
    return std::nullopt;
  }
  return *d;
}

class Readiness final : public server::ReadinessSource {
 public:
  Readiness(const runtime::Controller& controller, aws::CredentialsProvider& credentials,
            const LeaderSetup* leader = nullptr)
      : controller_(controller), credentials_(credentials), leader_(leader) {}
  server::ReadinessReport readiness() const override {
    server::ReadinessReport report;
    const auto r = controller_.readiness();
    report.manifestsLoaded = r.manifestsLoaded;
    report.pendingBindings = r.pendingBindings;
    auto creds = credentials_.credentials();  // cached by the chain; cheap
    report.credentialsObtained = creds.has_value();
    if (!creds) report.credentialsError = creds.error().message;
    if (leader_) report.leader = leader_->report();
    return report;
  }

 private:
  const runtime::Controller& controller_;
  aws::CredentialsProvider& credentials_;
  const LeaderSetup* leader_;
};

int runController(CliContext& ctx, const RunFlags& flags) {
  if (flags.manifests.empty()) {
    ctx.err << "error: --manifests: give at least one manifest file or directory "
               "(or ENDPOINT_BINDER_MANIFESTS)\n";
    return kExitUsage;
  }
  auto level = runtime::parseLogLevel(flags.logLevel);
  if (!level) {
    ctx.err << "error: --log-level: \"" << flags.logLevel
            << "\" is not debug, info, warn or error\n";
    return kExitUsage;
  }
  const auto resync =
      durationFlag(ctx, "--resync-period", flags.resyncPeriod, std::chrono::seconds(1));
  const auto dnsTimeout =
      durationFlag(ctx, "--dns-timeout", flags.dnsTimeout, std::chrono::milliseconds(50));
  const auto deregistrationWindow = durationFlag(
      ctx, "--deregistration-window", flags.deregistrationWindow, std::chrono::seconds(1));
  const auto rescan =
      durationFlag(ctx, "--manifest-rescan-period", flags.manifestRescan, std::chrono::seconds(0));
  const auto settle = durationFlag(ctx, "--manifest-deletion-settle", flags.manifestDeletionSettle,
                                   std::chrono::seconds(1));
  const auto grace =
      durationFlag(ctx, "--shutdown-grace", flags.shutdownGrace, std::chrono::seconds(0));
  const auto attempt = durationFlag(ctx, "--aws-attempt-timeout", flags.awsAttemptTimeout,
                                    std::chrono::milliseconds(100));
  const auto instancePoll = durationFlag(ctx, "--instance-poll-interval",
                                         flags.instancePollInterval, std::chrono::seconds(1));
  if (!resync || !dnsTimeout || !deregistrationWindow || !rescan || !settle || !grace || !attempt ||
      !instancePoll)
    return kExitUsage;
  if (!flags.eventsQueueUrl.empty() && !flags.eventsQueueUrl.starts_with("https://") &&
      !flags.eventsQueueUrl.starts_with("http://")) {
    ctx.err << "error: --events-queue-url: \"" << flags.eventsQueueUrl
            << "\" is not a queue URL (https://sqs.<region>.amazonaws.com/<account>/<name>)\n";
    return kExitUsage;
  }
  if (flags.workers < 1 || flags.workers > 64) {
    ctx.err << "error: --workers: " << flags.workers << " is outside 1..64\n";
    return kExitUsage;
  }
  const auto leaderSettings = parseLeaderFlags(ctx, flags.leader, flags.controllerId, *attempt);
  if (!leaderSettings) return kExitUsage;
  // Manifests from S3 (s3_setup.h): every --manifests is then an s3:// location.
  const bool s3 = isS3Manifest(flags.manifests.front());
  if (auto problem = checkS3Manifests(flags.manifests); !problem.empty()) {
    ctx.err << "error: --manifests: " << problem << "\n";
    return kExitUsage;
  }
  const auto s3Poll =
      durationFlag(ctx, "--s3-poll-interval", flags.s3PollInterval, std::chrono::seconds(1));
  if (!s3Poll) return kExitUsage;

  // Signals are taken by the main thread only: block them before any thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  // Two malloc arenas, set before any thread starts (issue 15). glibc's default allows 8 per
  // core, one per thread that allocates, and each keeps the pages freed into it: at 1,000
  // bindings 15 arenas held 26-40 MiB for about 15 MB in use. The threads allocate little and
  // seldom at once, so two arenas add no measurable contention (bench/README.md).
  // MALLOC_ARENA_MAX in the environment wins (glibc reads it; mallopt would override it).
  if (std::getenv("MALLOC_ARENA_MAX") == nullptr) mallopt(M_ARENA_MAX, 2);
  // Blocks of 256 KiB and more (a /metrics exposition is 3 MB at 1,000 bindings, a large
  // DescribeTargetHealth answer or manifest file a few hundred kB) get their own mapping and go
  // back to the kernel when freed. glibc's default threshold rises with every such block freed
  // (up to 32 MiB), after which they land in the heap and leave holes that stay resident.
  if (std::getenv("MALLOC_MMAP_THRESHOLD_") == nullptr) mallopt(M_MMAP_THRESHOLD, 256 * 1024);

  // cpprest's shared pool defaults to 40 threads. Our workers block on their own requests, so
  // the pool only runs I/O completions and their short continuations, which two threads keep
  // up with (thousands a second). More threads cost CPU, not just memory: asio hands each
  // completion to another idle thread, and at 1,000 bindings those hand-offs (futex wake-ups)
  // were a tenth of the controller's CPU with 10 threads (bench/README.md).
  aws::setCpprestThreads(kCpprestThreads);

  core::RealClock clock;
  runtime::StreamLogger log(
      std::cerr, clock,
      flags.logFormat == "text" ? runtime::LogFormat::kText : runtime::LogFormat::kJson, *level);
  // Declared before everything it may have to outlast: armed on SIGTERM, it ends the process
  // if shutdown (destructors included) overruns its deadline.
  runtime::ShutdownWatchdog watchdog(log, kExitFailure);
  auto registry = std::make_shared<prometheus::Registry>();
  runtime::ControllerMetrics metrics(registry, {EB_VERSION, EB_GIT_COMMIT});

  auto awsFlags = flags.aws;
  awsFlags.attemptTimeout = std::chrono::duration_cast<std::chrono::milliseconds>(*attempt);
  // With leader election every ELBv2 and Route 53 write attempt asks the election first
  // (leader_setup.h).
  auto electionSlot = std::make_shared<std::atomic<runtime::LeaderElection*>>(nullptr);
  if (leaderSettings->enabled) {
    awsFlags.elbv2BeforeSend = leaderWriteFence(electionSlot);
    awsFlags.route53BeforeSend = leaderWriteFence(electionSlot);
    awsFlags.dynamoDbAttemptTimeout = leaderSettings->attemptTimeout;
  }
  awsFlags.roleSessionName = aws::roleSessionNameFor(flags.controllerId);
  auto aws = buildAwsSetup(awsFlags, clock, log, &metrics);
  if (!aws) {
    log.log(LogLevel::kError, "cannot set up AWS access",
            {core::field("error", aws.error().message)});
    return kExitFailure;
  }

  // Notifications: their own transport and threads, so a slow or dead destination never holds
  // up a reconcile. Declared before the controller, which reports into it, and outlives it.
  NotifyTimings notifyTimings;
  {
    const auto window = durationFlag(ctx, "--notify-coalesce-window", flags.notify.coalesceWindow,
                                     std::chrono::seconds(0));
    const auto interval = durationFlag(ctx, "--notify-min-interval", flags.notify.minInterval,
                                       std::chrono::seconds(0));
    const auto timeout =
        durationFlag(ctx, "--notify-timeout", flags.notify.timeout, std::chrono::milliseconds(100));
    const auto refresh = durationFlag(ctx, "--notify-webhook-refresh", flags.notify.urlRefresh,
                                      std::chrono::seconds(1));
    if (!window || !interval || !timeout || !refresh) return kExitUsage;
    notifyTimings = {*window, *interval,
                     std::chrono::duration_cast<std::chrono::milliseconds>(*timeout), *refresh};
  }
  auto notify =
      NotifySetup::build(**aws, flags.notify.caBundle, clock, log, &metrics, notifyTimings.timeout);
  if (!notify) {
    log.log(LogLevel::kError, "cannot set up notifications",
            {core::field("error", notify.error().message)});
    return kExitFailure;
  }
  runtime::NotificationMetrics notificationMetrics(*registry);
  runtime::NotifierOptions notifierOptions;
  for (auto* delivery : {&notifierOptions.slack, &notifierOptions.sns}) {
    delivery->coalesceWindow = notifyTimings.coalesceWindow;
    delivery->minInterval = notifyTimings.minInterval;
  }
  // With leader election only the leader notifies.
  const bool electing = leaderSettings->enabled;
  runtime::Notifier notifier(
      runtime::Notifier::Deps{clock, log,
                              (*notify)->destinationFactory(notifyTimings, flags.controllerId),
                              &notificationMetrics, nullptr,
                              [electing, electionSlot] {
                                const auto* election = electionSlot->load();
                                return !electing || (election && election->currentTerm());
                              }},
      notifierOptions);
  notifier.start();

  dns::AresResolverOptions resolverOptions;
  for (const auto& text : flags.dnsServers) {
    auto server = dns::parseServerAddress(text);
    if (!server) {
      ctx.err << "error: --dns-server: " << server.error().message << "\n";
      return kExitUsage;
    }
    resolverOptions.servers.push_back(*server);
  }
  resolverOptions.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(*dnsTimeout);
  resolverOptions.deadline = resolverOptions.timeout * 3;
  auto resolver = dns::AresResolver::create(resolverOptions, clock);
  if (!resolver) {
    log.log(LogLevel::kError, "cannot set up DNS resolution",
            {core::field("error", resolver.error().message)});
    return kExitFailure;
  }
  dns::StdRandom random;

  runtime::ControllerOptions options;
  for (const auto& m : flags.manifests) options.manifests.emplace_back(m);
  options.workers = flags.workers;
  options.reconciler.controllerId = flags.controllerId;
  options.reconciler.dryRun = flags.dryRun;
  options.reconciler.resyncPeriod = *resync;
  options.reconciler.deregistrationWindow = *deregistrationWindow;
  // Re-checks (the resync round's and the re-reads after writes) come out at half the
  // DescribeTargetHealth budget at most (the smaller of its own and the global bucket), so that
  // reads for changes still find tokens; the round takes kRoundShareOfResyncBudget of that.
  const auto& limits = (*aws)->rateLimiter->options();
  double readRate = limits.forAction("DescribeTargetHealth").rate;
  if (limits.global) readRate = std::min(readRate, limits.global->rate);
  options.resyncMaxPerSecond = readRate / 2;
  options.manifestWatcher.rescanInterval =
      std::chrono::duration_cast<std::chrono::milliseconds>(*rescan);
  options.manifestStore.deletionSettle =
      std::chrono::duration_cast<std::chrono::milliseconds>(*settle);
  options.instances.pollInterval = *instancePoll;
  // S3 manifests: polled by the watcher's rescan (no inotify, no disk fingerprint), read
  // through the loader, which GETs only objects whose ETag changed.
  std::unique_ptr<S3Manifests> s3Manifests;
  if (s3) {
    auto built = buildS3Manifests(**aws);
    if (!built) {
      log.log(LogLevel::kError, "cannot set up S3 for the manifests",
              {core::field("error", built.error().message)});
      return kExitFailure;
    }
    s3Manifests = std::move(*built);
    options.manifestStore.remoteLoader = s3Manifests->loader->asLoader();
    options.manifestWatcher.useInotify = false;
    options.manifestWatcher.fingerprintRescans = false;
    options.manifestWatcher.rescanInterval =
        std::chrono::duration_cast<std::chrono::milliseconds>(*s3Poll);
    // A deploy rewrites a prefix object by object over seconds (`aws s3 sync`, rm then cp):
    // a deletion is confirmed only by a read at least two polls after the first that lacked
    // the binding, whatever --manifest-deletion-settle says.
    options.manifestStore.deletionSettle =
        std::max(options.manifestStore.deletionSettle,
                 std::chrono::duration_cast<std::chrono::milliseconds>(2 * *s3Poll));
    log.log(LogLevel::kInfo, "reading manifests from S3",
            {core::field("s3Endpoint", s3Manifests->endpoint.url),
             core::field("pollSeconds",
                         static_cast<long long>(
                             std::chrono::duration_cast<std::chrono::seconds>(*s3Poll).count())),
             core::field("deletionSettleSeconds",
                         static_cast<long long>(std::chrono::duration_cast<std::chrono::seconds>(
                                                    options.manifestStore.deletionSettle)
                                                    .count()))});
  }
  options.events.queueUrl = flags.eventsQueueUrl;
  auto& sqsTransport = *(*aws)->sqsTransport;
  std::unique_ptr<LeaderSetup> leader;
  if (leaderSettings->enabled) {
    leader = std::make_unique<LeaderSetup>(*leaderSettings, **aws, clock, log, &metrics, *attempt);
    electionSlot->store(&leader->election());
  }
  // Route 53 for DNSRecordBindings: without it (no endpoint for the partition) they are only
  // validated, and said so in the log.
  auto route53 = (*aws)->route53();
  if (!route53) {
    log.log(LogLevel::kWarn, "Route 53 unavailable: DNSRecordBindings will not be reconciled",
            {core::field("error", route53.error().toString())});
  }
  runtime::Controller controller(
      runtime::Controller::Deps{clock, log, *(*aws)->elbv2, **resolver, random, &metrics,
                                (*aws)->ec2.get(), (*aws)->autoScaling.get(), (*aws)->sqs.get(),
                                [&sqsTransport] { sqsTransport.shutDown(); }, &notifier,
                                leader ? &leader->election() : nullptr,
                                route53 ? *route53 : nullptr, (*aws)->accounts.get()},
      options);

  auto metricsServer = server::MetricsServer::start(
      server::MetricsServerOptions{flags.metricsAddr, "/metrics", 2}, [&] {
        auto collectables = metrics.collectables();
        collectables.push_back(
            std::make_shared<runtime::ProcessCollector>(runtime::ProcessCollector::Options{}));
        return collectables;
      }());
  if (!metricsServer) {
    log.log(LogLevel::kError, "cannot serve metrics",
            {core::field("error", metricsServer.error().message)});
    return kExitFailure;
  }
  server::Heartbeat heartbeat(clock);
  Readiness readiness(controller, *(*aws)->credentials, leader.get());
  auto healthServer = server::HealthServer::start(
      server::HealthRoutes::Deps{clock, heartbeat, readiness, controller.status()},
      server::HealthServerOptions{flags.healthAddr, std::chrono::minutes(2)});
  if (!healthServer) {
    log.log(LogLevel::kError, "cannot serve health",
            {core::field("error", healthServer.error().message)});
    return kExitFailure;
  }
  if (leader) {
    // A new leader looks at every binding at once, from fresh reads of the target groups.
    leader->election().start({[&controller](std::uint64_t) { controller.resyncAll(); }, nullptr});
  }
  if (auto started = controller.start(); !started) {
    log.log(LogLevel::kError, "cannot start the controller",
            {core::field("error", started.error().message)});
    if (leader) {
      // Before the controller and the election are destroyed (in that order): the election
      // thread must not call into a destroyed controller, nor the notifier into the election.
      leader->election().closeGate();
      leader->election().stop(/*release=*/true);
      electionSlot->store(nullptr);
    }
    return kExitFailure;
  }
  log.log(
      LogLevel::kInfo, "serving",
      {core::field("metrics", (*metricsServer)->url()),
       core::field("health", (*healthServer)->url()), core::field("region", (*aws)->config.region),
       core::field("elbv2Endpoint", (*aws)->elbv2Endpoint.url),
       core::field("ec2Endpoint", (*aws)->ec2Endpoint.url),
       core::field("eventsQueue", flags.eventsQueueUrl.empty() ? "none" : flags.eventsQueueUrl)});

  // Main thread: keep the heartbeat honest, hand freed memory back, and wait for a signal.
  auto nextTrim = clock.now() + kMallocTrimPeriod;
  while (true) {
    timespec tick{1, 0};
    const int sig = sigtimedwait(&signals, nullptr, &tick);
    if (clock.now() - controller.lastHeartbeat() < std::chrono::seconds(10)) heartbeat.beat();
    if (clock.now() >= nextTrim) {
      // glibc keeps memory freed inside its per-thread arenas (a cold start or a burst of
      // changes allocates on every worker) resident for good; malloc_trim returns the free
      // pages to the kernel. A few milliseconds a minute; about 8 MiB at 1,000 bindings.
      malloc_trim(0);
      nextTrim = clock.now() + kMallocTrimPeriod;
    }
    if (sig == SIGTERM || sig == SIGINT) {
      log.log(LogLevel::kInfo, "shutting down: finishing in-flight work",
              {core::field("signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"),
               core::field("graceSeconds",
                           static_cast<long long>(
                               std::chrono::duration_cast<std::chrono::seconds>(*grace).count()))});
      break;
    }
  }
  // Within the grace in-flight reconciles finish their writes; then the AWS requests they still
  // wait for are cancelled, and the watchdog ends whatever cannot be.
  auto& transport = *(*aws)->transport;
  watchdog.arm(clock.now() + *grace + kHardStopMargin, [&] {
    const auto requests = transport.describeInFlight();
    std::string listed;
    for (const auto& r : requests) listed += (listed.empty() ? "" : ", ") + r;
    const auto reconciles = runtime::describeRunning(controller.running());
    return "reconciles: " + (reconciles.empty() ? std::string("none") : reconciles) +
           "; AWS requests: " + (listed.empty() ? std::string("none") : listed);
  });
  const auto hardStop = clock.now() + *grace + kHardStopMargin;
  // A leader stops writing at once, lets in-flight reconciles end, then frees the lease so a
  // standby takes over within a retry period; with writes abandoned (possibly still on their
  // way to AWS) the lease is left to lapse instead.
  if (leader) leader->election().closeGate();
  const bool drained = controller.stop(*grace, [&] { transport.shutDown(); });
  if (leader) {
    watchdog.setDescribe([] { return std::string("releasing the leader-election lease"); });
    leader->election().stop(/*release=*/drained);
  }
  // What the last reconciles reported goes out if the time left allows (at most 2 s); sends
  // still hanging then are cancelled.
  watchdog.setDescribe([] { return std::string("sending the last notifications"); });
  notifier.stop(
      std::clamp<std::chrono::nanoseconds>(hardStop - std::chrono::seconds(1) - clock.now(),
                                           std::chrono::seconds(0), std::chrono::seconds(2)),
      [&] { (*notify)->transport().shutDown(); });
  watchdog.setDescribe([] { return std::string("closing the health and metrics servers"); });
  healthServer->reset();
  metricsServer->reset();
  log.log(LogLevel::kInfo, "stopped", {});
  // The controller, resolver and AWS clients are destroyed on return, still under the watchdog.
  watchdog.setDescribe([] { return std::string("releasing the AWS and DNS clients"); });
  return kExitOk;
}

}  // namespace

void registerRunCommand(CLI::App& app, CliContext& ctx) {
  auto flags = std::make_shared<RunFlags>();
  auto* cmd = app.add_subcommand(
      "run", "Run the controller: keep target groups in step with their sources");
  flag(cmd, "--manifests", flags->manifests,
       "Manifest file or directory, or s3://bucket/prefix/ (repeatable; env: comma-separated)")
      ->delimiter(',');
  cmd->add_flag("--dry-run", flags->dryRun, "Plan and report, never write to AWS")
      ->envname("ENDPOINT_BINDER_DRY_RUN");
  flag(cmd, "--workers", flags->workers, "Bindings reconciled in parallel");
  flag(cmd, "--resync-period", flags->resyncPeriod, "Re-read every target group this often");
  flag(cmd, "--deregistration-window", flags->deregistrationWindow,
       "policy.maxDeregistrationsPerSync counts the deregistrations of this sliding window");
  flag(cmd, "--metrics-addr", flags->metricsAddr,
       "Prometheus metrics listen address (path /metrics)");
  flag(cmd, "--health-addr", flags->healthAddr, "Health and status API listen address");
  flag(cmd, "--dns-server", flags->dnsServers,
       "DNS server HOST[:PORT] (repeatable; default /etc/resolv.conf)")
      ->delimiter(',');
  flag(cmd, "--dns-timeout", flags->dnsTimeout, "Timeout of one DNS query try");
  flag(cmd, "--controller-id", flags->controllerId,
       "Owner id written to target group tags and Route 53 ownership records")
      ->check(runtime::controllerIdProblem);
  flag(cmd, "--log-format", flags->logFormat, "json | text")
      ->check(CLI::IsMember({"json", "text"}));
  flag(cmd, "--log-level", flags->logLevel, "debug | info | warn | error");
  flag(cmd, "--manifest-rescan-period", flags->manifestRescan,
       "Re-read manifests this often besides inotify (0 = never)");
  flag(cmd, "--s3-poll-interval", flags->s3PollInterval,
       "With --manifests s3://...: list the prefix this often (objects are read only when their "
       "ETag changed)");
  flag(cmd, "--manifest-deletion-settle", flags->manifestDeletionSettle,
       "A binding gone from the manifests is deleted once a second clean read this much later "
       "agrees");
  flag(cmd, "--shutdown-grace", flags->shutdownGrace,
       "On SIGTERM, wait this long for in-flight writes (the process exits within grace + 2s)");
  flag(cmd, "--aws-region", flags->aws.region,
       "AWS Region (default: AWS_REGION, AWS_DEFAULT_REGION, profile)");
  flag(cmd, "--aws-endpoint-url", flags->aws.endpointUrl,
       "Endpoint URL for every AWS service (default: AWS_ENDPOINT_URL*)");
  flag(cmd, "--aws-rate-limits", flags->aws.rateLimits,
       "Client-side limits, ACTION=RATE:BURST for ELBv2 (RegisterTargets=4:20,Describe*=10:40), "
       "SERVICE:ACTION=RATE:BURST for ec2, autoscaling, sqs, route53 (ec2:Describe*=10:50)");
  flag(cmd, "--aws-attempt-timeout", flags->awsAttemptTimeout, "Timeout of one AWS HTTP attempt");
  addLeaderElectionFlags(cmd, flags->leader);
  flag(cmd, "--notify-coalesce-window", flags->notify.coalesceWindow,
       "Events of one binding within this window become one notification");
  flag(cmd, "--notify-min-interval", flags->notify.minInterval,
       "At most one notification per binding and destination this often (later events wait and "
       "are summarised)");
  flag(cmd, "--notify-timeout", flags->notify.timeout,
       "Timeout of one notification request (webhook POST, SNS Publish, SSM read)");
  flag(cmd, "--notify-webhook-refresh", flags->notify.urlRefresh,
       "Re-read Slack webhook URLs from SSM this often (and at once on HTTP 403/404/410)");
  flag(cmd, "--notify-ca-bundle", flags->notify.caBundle,
       "PEM CA bundle for notification HTTPS (default: AWS_CA_BUNDLE, else the system store)");
  flag(cmd, "--instance-poll-interval", flags->instancePollInterval,
       "Read EC2 instances, Spot Fleets and Auto Scaling groups this often (one shared round)");
  flag(cmd, "--events-queue-url", flags->eventsQueueUrl,
       "SQS queue of EC2/Auto Scaling EventBridge events, read for instance changes within "
       "seconds (default: none, polling only)");
  cmd->callback([&ctx, flags] { ctx.exitCode = runController(ctx, *flags); });
}

}  // namespace endpointbinder::cli
