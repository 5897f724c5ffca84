// LeaderSetup: `run`'s leader election (--leader-election-table; off by default, since one
// replica needs no table): its flags, their checks, and the DynamoDB lease store and
// runtime::LeaderElection built from them.
//
// Flags (each also read from ENDPOINT_BINDER_<NAME>):
//   --leader-election-table           the DynamoDB table (partition key leaseName, S); empty: off
//   --leader-election-lease-name      the item naming this deployment's lease (default: the
//                                     controller id, so two deployments can share a table)
//   --leader-election-identity        this replica's holder id (default: host name + random)
//   --leader-election-lease-duration  15s   a standby takes over after the lease stayed
//   --leader-election-renew-deadline  10s   unrenewed this long; a leader stops writing when
//   --leader-election-retry-period     2s   it could not renew for the deadline; renew/read
//                                           period
// The timings must satisfy core::leaseTimingProblem, and one AWS write attempt
// (--aws-attempt-timeout) plus a retry period must fit in the lease duration (a write attempt
// may only start when it ends, even at its timeout, before a standby may take over).
// Thread-safety: as runtime::LeaderElection; build and stop from one thread.
#pragma once

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "controller/aws/dynamodb_lease.h"
#include "controller/main/aws_setup.h"
#include "controller/main/cli.h"
#include "controller/runtime/leader_election.h"
#include "controller/server/health_server.h"

namespace endpointbinder::cli {

struct LeaderFlags {
  std::string table;
  std::string leaseName;
  std::string identity;
  std::string leaseDuration = "15s";
  std::string renewDeadline = "10s";
  std::string retryPeriod = "2s";
};

// Adds the flags above to `cmd`.
void addLeaderElectionFlags(CLI::App* cmd, LeaderFlags& flags);

struct LeaderSettings {
  bool enabled = false;
  std::string table;
  std::string leaseName;
  std::string identity;
  core::LeaseTiming timing;
  // One DynamoDB attempt: a quarter of the renew deadline, at most --aws-attempt-timeout.
  std::chrono::milliseconds attemptTimeout{0};
};

// Checks the flags; on a problem prints "error: --flag: why" to ctx.err and returns nullopt.
std::optional<LeaderSettings> parseLeaderFlags(CliContext& ctx, const LeaderFlags& flags,
                                               const std::string& controllerId,
                                               std::chrono::nanoseconds awsAttemptTimeout);

class LeaderSetup {
 public:
  // The lease store over aws.dynamoDb and the election (not started).
  LeaderSetup(const LeaderSettings& settings, AwsSetup& aws, const core::Clock& clock,
              core::Logger& log, runtime::ControllerMetrics* metrics,
              std::chrono::nanoseconds writeAllowance);

  runtime::LeaderElection& election() { return *election_; }
  // What /readyz and /leader show.
  server::LeaderReport report() const;

 private:
  std::unique_ptr<aws::DynamoDbLeaseStore> store_;
  std::unique_ptr<runtime::LeaderElection> election_;
};

// The ELBv2 client's beforeSend hook for `slot`, which `run` fills once the election exists:
// until then (and after it is cleared) write attempts are refused.
std::function<core::Result<void>(std::string_view)> leaderWriteFence(
    std::shared_ptr<std::atomic<runtime::LeaderElection*>> slot);

}  // namespace endpointbinder::cli
