// Route53Client: Route53Api (route53.h) over Route 53's REST-XML API, version 2013-04-01, on
// the global endpoint (https://route53.amazonaws.com, signed for us-east-1 and service
// "route53"; config.h resolves it, AWS_ENDPOINT_URL_ROUTE_53 / AWS_ENDPOINT_URL included):
//   GET  /2013-04-01/hostedzone/{Id}                     GetHostedZone (zone and its VPCs)
//   GET  /2013-04-01/hostedzone/{Id}/rrset?maxitems=N    ListResourceRecordSets, continued with
//        &name=&type=&identifier= from NextRecordName/NextRecordType/NextRecordIdentifier
//        while IsTruncated
//   POST /2013-04-01/hostedzone/{Id}/rrset/              ChangeResourceRecordSets (XML body)
//   GET  /2013-04-01/change/{Id}                          GetChange
// Every call goes through a SignedSender (signed_sender.h): SigV4, standard-mode retries
// (Throttling, PriorRequestNotComplete, 5xx and transport failures are retried), clock-skew
// correction, and the caller's rate limiter, whose buckets are named by operation
// (route53RateLimits(): all four share one budget under Route 53's 5 requests per second).
//
// Errors: <ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/></ErrorResponse>
// as the Query protocol's (parseQueryError): NoSuchHostedZone and NoSuchChange are kNotFound,
// AccessDenied kAuth. ChangeResourceRecordSets refusals come as
// <InvalidChangeBatch><Messages><Message/>…</Messages><RequestId/></InvalidChangeBatch>
// (kTerminal, code InvalidChangeBatch, the messages joined with "; ").
// Ids are accepted and returned without their "/hostedzone/" and "/change/" prefixes; an id
// that is not 1-32 letters and digits is refused before anything is sent (it goes into a path).
// A response that is not what the call returns is kRetryable "MalformedResponse" naming the
// call and what is missing (query_xml.h's convention).
// Thread-safety: Route53Client may be used concurrently; the builders and parsers are pure.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "controller/aws/config.h"
#include "controller/aws/credentials.h"
#include "controller/aws/http.h"
#include "controller/aws/rate_limiter.h"
#include "controller/aws/retry.h"
#include "controller/aws/route53.h"
#include "controller/aws/signed_sender.h"
#include "controller/core/clock.h"
#include "controller/core/error.h"

namespace endpointbinder::aws {

inline constexpr std::string_view kRoute53SigningName = "route53";
inline constexpr std::string_view kRoute53ApiVersion = "2013-04-01";
inline constexpr std::string_view kRoute53Namespace =
    "https://route53.amazonaws.com/doc/2013-04-01/";

struct Route53ServiceOptions {
  std::string endpoint = "https://route53.amazonaws.com";  // scheme://host[:port], no path
  std::string region = "us-east-1";                        // the signing region
  std::chrono::milliseconds attemptTimeout{10'000};
  std::chrono::milliseconds rateLimitWait{60'000};
  RetryOptions retry;
  int maxItems = 300;  // ListResourceRecordSets page size (Route 53 returns at most 300)
};

// Options for `endpoint` (empty: AWS's global one) signed for `signingRegion` (empty:
// us-east-1).
Route53ServiceOptions route53ServiceOptions(std::string endpoint, std::string signingRegion,
                                            RetryOptions retry = {});

// Route 53's endpoint under `config`: config.endpoint(kRoute53) (--aws-endpoint-url,
// AWS_ENDPOINT_URL_ROUTE_53, AWS_ENDPOINT_URL, the profile's, else the partition's global
// one), but always signed for the partition's Route 53 Region (us-east-1 outside China,
// GovCloud and the ISO partitions). Other custom endpoints are signed for the configured
// Region, like botocore; Route 53 (and the emulator) accept no scope but the global one,
// whatever Region the controller runs in.
core::Result<ResolvedEndpoint> route53Endpoint(const AwsConfig& config);

// Route 53 allows 5 requests per second per account, all actions together: one shared budget
// of 4 per second with a burst of 5, so the controller stays under it with a margin for other
// tools of the account.
RateLimitOptions route53RateLimits();

// "Z0123" for "Z0123" or "/hostedzone/Z0123"; "C9" for "/change/C9". Others unchanged.
std::string stripRoute53IdPrefix(std::string_view id);

// Escapes & < > " ' for XML text and attributes; tab, LF and CR become character references
// (they would be normalized away otherwise).
std::string xmlEscape(std::string_view text);

// The ChangeResourceRecordSetsRequest document. Fails (kTerminal "InvalidInput") without
// building anything when `changes` is empty, a set is special (alias or routing policy: never
// written here), has no name, type or values, or a name, value or the comment holds a control
// character other than tab, LF and CR (XML 1.0 cannot carry it).
core::Result<std::string> changeBatchXml(const std::vector<RecordChange>& changes,
                                         std::string_view comment);

// One ListResourceRecordSets page; `next*` are set while it is truncated.
struct RecordSetPage {
  std::vector<ResourceRecordSet> sets;
  bool truncated = false;
  std::string nextName;
  std::string nextType;
  std::string nextIdentifier;  // only after sets with a SetIdentifier
};

// The parsers of 2xx bodies (see the header comment for their errors).
core::Result<HostedZoneInfo> parseGetHostedZone(std::string_view xml);
core::Result<RecordSetPage> parseListResourceRecordSets(std::string_view xml);
// `operation` is "ChangeResourceRecordSets" or "GetChange" (the response root is
// <{operation}Response>).
core::Result<ChangeInfo> parseChangeInfo(std::string_view xml, std::string_view operation);

// A non-2xx answer as an Error (`operation` prefixes the message).
core::Error parseRoute53Error(const HttpResponse& response, std::string_view operation);

class Route53Client final : public Route53Api {
 public:
  Route53Client(Route53ServiceOptions options, HttpTransport& transport,
                CredentialsProvider& credentials, const core::Clock& clock,
                QueryClientHooks hooks = {});

  core::Result<HostedZoneInfo> getHostedZone(const std::string& zoneId) override;
  core::Result<std::vector<ResourceRecordSet>> listResourceRecordSets(
      const std::string& zoneId) override;
  core::Result<ChangeInfo> changeResourceRecordSets(const std::string& zoneId,
                                                    const std::vector<RecordChange>& changes,
                                                    const std::string& comment) override;
  core::Result<ChangeInfo> getChange(const std::string& changeId) override;

  const Route53ServiceOptions& options() const { return options_; }

 private:
  // One signed call to `path` (already encoded, with its query) and its 2xx answer.
  core::Result<BodyResponse> call(std::string_view operation, std::string method,
                                  const std::string& path, std::string body = {});

  const Route53ServiceOptions options_;
  SignedSender sender_;
};

}  // namespace endpointbinder::aws
