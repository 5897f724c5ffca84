#include "controller/main/leader_setup.h"

#include <algorithm>
#include <atomic>
#include <cctype>

#include "api/syntax.h"

namespace endpointbinder::cli {

namespace {

void addFlag(CLI::App* cmd, const std::string& name, std::string& value, const std::string& help) {
  std::string env = "ENDPOINT_BINDER_";
  for (char c : name.substr(2)) env += c == '-' ? '_' : static_cast<char>(std::toupper(c));
  cmd->add_option(name, value, help)->envname(env)->capture_default_str();
}

std::optional<std::chrono::nanoseconds> duration(CliContext& ctx, const char* name,
                                                 const std::string& text) {
  auto d = api::parseDuration(text);
  if (!d) {
    ctx.err << "error: " << name << ": " << d.error() << "\n";
    return std::nullopt;
  }
  if (*d < std::chrono::milliseconds(100)) {
    ctx.err << "error: " << name << ": " << text << " is below the minimum 100ms\n";
    return std::nullopt;
  }
  return std::chrono::duration_cast<std::chrono::nanoseconds>(*d);
}

// DynamoDB table names: 3-255 characters of [a-zA-Z0-9_.-].
bool validTableName(const std::string& name) {
  return name.size() >= 3 && name.size() <= 255 && std::ranges::all_of(name, [](char c) {
           return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
         });
}

}  // namespace

void addLeaderElectionFlags(CLI::App* cmd, LeaderFlags& flags) {
  addFlag(cmd, "--leader-election-table", flags.table,
          "DynamoDB table for leader election between replicas (partition key leaseName, "
          "string); empty: off, this replica always writes");
  addFlag(cmd, "--leader-election-lease-name", flags.leaseName,
          "The lease item's key in the table (default: --controller-id)");
  addFlag(cmd, "--leader-election-identity", flags.identity,
          "This replica's holder id in the lease (default: host name and a random suffix)");
  addFlag(cmd, "--leader-election-lease-duration", flags.leaseDuration,
          "A standby takes over when the lease went unrenewed this long");
  addFlag(cmd, "--leader-election-renew-deadline", flags.renewDeadline,
          "The leader stops writing when it could not renew for this long (< lease duration)");
  addFlag(cmd, "--leader-election-retry-period", flags.retryPeriod,
          "The leader renews, and a standby reads the lease, this often");
}

std::optional<LeaderSettings> parseLeaderFlags(CliContext& ctx, const LeaderFlags& flags,
                                               const std::string& controllerId,
                                               std::chrono::nanoseconds awsAttemptTimeout) {
  LeaderSettings settings;
  if (flags.table.empty()) return settings;
  if (!validTableName(flags.table)) {
    ctx.err << "error: --leader-election-table: \"" << flags.table
            << "\" is not a DynamoDB table name (3-255 of a-z A-Z 0-9 _ - .)\n";
    return std::nullopt;
  }
  const auto lease = duration(ctx, "--leader-election-lease-duration", flags.leaseDuration);
  const auto renew = duration(ctx, "--leader-election-renew-deadline", flags.renewDeadline);
  const auto retry = duration(ctx, "--leader-election-retry-period", flags.retryPeriod);
  if (!lease || !renew || !retry) return std::nullopt;
  settings.timing = core::LeaseTiming{*lease, *renew, *retry};
  if (auto problem = core::leaseTimingProblem(settings.timing)) {
    ctx.err << "error: --leader-election-*: " << *problem << "\n";
    return std::nullopt;
  }
  if (awsAttemptTimeout + *retry >= *lease) {
    ctx.err << "error: --aws-attempt-timeout: one AWS write attempt plus the retry period "
               "must fit in --leader-election-lease-duration "
            << flags.leaseDuration
            << " (a write may only start when it ends before a standby may take over)\n";
    return std::nullopt;
  }
  settings.enabled = true;
  settings.table = flags.table;
  settings.leaseName = flags.leaseName.empty() ? controllerId : flags.leaseName;
  settings.identity = flags.identity.empty() ? runtime::defaultLeaderIdentity() : flags.identity;
  settings.attemptTimeout = std::clamp(
      std::chrono::duration_cast<std::chrono::milliseconds>(*renew / 4),
      std::chrono::milliseconds(100),
      std::max(std::chrono::milliseconds(100),
               std::chrono::duration_cast<std::chrono::milliseconds>(awsAttemptTimeout)));
  return settings;
}

LeaderSetup::LeaderSetup(const LeaderSettings& settings, AwsSetup& aws, const core::Clock& clock,
                         core::Logger& log, runtime::ControllerMetrics* metrics,
                         std::chrono::nanoseconds writeAllowance)
    : store_(std::make_unique<aws::DynamoDbLeaseStore>(*aws.dynamoDb, settings.table,
                                                       settings.leaseName)),
      election_(std::make_unique<runtime::LeaderElection>(
          runtime::LeaderElection::Deps{*store_, clock, log, metrics},
          runtime::LeaderElectionOptions{settings.identity, settings.timing, writeAllowance,
                                         settings.table, settings.leaseName})) {}

server::LeaderReport LeaderSetup::report() const {
  const auto status = election_->status();
  server::LeaderReport report;
  report.identity = status.identity;
  report.leading = status.leading;
  report.term = status.term;
  report.holder = status.holder;
  report.description = election_->describeLeader();
  report.table = status.table;
  report.leaseName = status.leaseName;
  report.lastError = status.lastError;
  report.unchangedForSeconds = std::chrono::duration<double>(status.unchangedFor).count();
  return report;
}

std::function<core::Result<void>(std::string_view)> leaderWriteFence(
    std::shared_ptr<std::atomic<runtime::LeaderElection*>> slot) {
  return [slot = std::move(slot)](std::string_view action) -> core::Result<void> {
    if (auto* election = slot->load()) return election->admitAttempt(action);
    if (action == "RegisterTargets" || action == "DeregisterTargets" || action == "AddTags" ||
        action == "RemoveTags") {
      return core::makeError(core::ErrorKind::kRetryable,
                             std::string(action) + " not sent: leader election is not running",
                             "NotLeader");
    }
    return {};
  };
}

}  // namespace endpointbinder::cli
