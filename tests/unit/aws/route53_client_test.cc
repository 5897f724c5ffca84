// Route53Client over a scripted transport: the REST paths and signing, ListResourceRecordSets
// paging (name/type/identifier continuation), alias and routing-policy sets reported as
// special, the change batch document (XML escaping), InvalidChangeBatch messages, retries of
// Throttling and PriorRequestNotComplete, kNotFound and kAuth, malformed responses, and the
// shared Route 53 rate-limit budget.
#include "controller/aws/route53_client.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <pugixml.hpp>

#include "controller/aws/url.h"
#include "tests/support/fake_http_transport.h"

namespace endpointbinder::aws {
namespace {

using std::chrono::nanoseconds;
using ::testing::ElementsAre;
using testing::FakeCredentialsProvider;
using testing::FakeHttpTransport;
using ::testing::HasSubstr;

constexpr std::string_view kNs = "xmlns=\"https://route53.amazonaws.com/doc/2013-04-01/\"";

std::string simpleSet(std::string_view name, std::string_view type,
                      const std::vector<std::string>& values, int ttl = 60) {
  std::string records;
  for (const std::string& value : values) {
    records += "<ResourceRecord><Value>" + value + "</Value></ResourceRecord>";
  }
  return fmt::format(
      "<ResourceRecordSet><Name>{}</Name><Type>{}</Type><TTL>{}</TTL>"
      "<ResourceRecords>{}</ResourceRecords></ResourceRecordSet>",
      name, type, ttl, records);
}

std::string listPage(const std::string& sets, std::string_view nextName = {},
                     std::string_view nextType = {}, std::string_view nextIdentifier = {}) {
  std::string tail = "<IsTruncated>false</IsTruncated>";
  if (!nextName.empty()) {
    tail = fmt::format(
        "<IsTruncated>true</IsTruncated><NextRecordName>{}</NextRecordName>"
        "<NextRecordType>{}</NextRecordType>",
        nextName, nextType);
    if (!nextIdentifier.empty()) {
      tail += fmt::format("<NextRecordIdentifier>{}</NextRecordIdentifier>", nextIdentifier);
    }
  }
  return fmt::format(
      "<?xml version=\"1.0\"?>\n<ListResourceRecordSetsResponse {}><ResourceRecordSets>{}"
      "</ResourceRecordSets>{}<MaxItems>2</MaxItems></ListResourceRecordSetsResponse>",
      kNs, sets, tail);
}

std::string changeInfo(std::string_view operation, std::string_view status) {
  return fmt::format(
      "<?xml version=\"1.0\"?>\n<{0}Response {1}><ChangeInfo><Id>/change/C2682N5HXP0BZ4</Id>"
      "<Status>{2}</Status><SubmittedAt>2026-12-04T17:00:00.000Z</SubmittedAt>"
      "<Comment>c</Comment></ChangeInfo></{0}Response>",
      operation, kNs, status);
}

std::string route53Error(std::string_view code, std::string_view message) {
  return fmt::format(
      "<?xml version=\"1.0\"?>\n<ErrorResponse {}><Error><Type>Sender</Type><Code>{}</Code>"
      "<Message>{}</Message></Error><RequestId>rid-err</RequestId></ErrorResponse>",
      kNs, code, message);
}

struct Harness {
  core::ManualClock clock;
  FakeHttpTransport transport;
  FakeCredentialsProvider credentials;
  CountingObserver observer;
  Route53Client client;

  explicit Harness(int maxItems = 300)
      : client(
            [&] {
              auto options = route53ServiceOptions("", "", RetryOptions{.maxAttempts = 3});
              options.maxItems = maxItems;
              return options;
            }(),
            transport, credentials, clock,
            QueryClientHooks{nullptr, &observer, nullptr, [] { return 0.5; },
                             [this](nanoseconds d) { clock.advance(d); }}) {}

  std::string path(size_t i) const {
    auto url = parseUrl(transport.requests().at(i).url);
    EXPECT_TRUE(url);
    return url ? url->path + (url->hasQuery ? "?" + url->query : "") : "";
  }
};

TEST(Route53Client, DefaultsToTheGlobalEndpointSignedForUsEast1) {
  const auto options = route53ServiceOptions("", "");
  EXPECT_EQ(options.endpoint, "https://route53.amazonaws.com");
  EXPECT_EQ(options.region, "us-east-1");
  EXPECT_EQ(route53ServiceOptions("http://127.0.0.1:4566/", "eu-west-1").endpoint,
            "http://127.0.0.1:4566");
  EXPECT_EQ(stripRoute53IdPrefix("/hostedzone/Z1"), "Z1");
  EXPECT_EQ(stripRoute53IdPrefix("/change/C9"), "C9");
  EXPECT_EQ(stripRoute53IdPrefix("Z1"), "Z1");
}

TEST(Route53Client, ACustomEndpointIsStillSignedForTheGlobalRegion) {
  const auto endpointFor = [](std::map<std::string, std::string> vars) {
    vars.try_emplace("AWS_CONFIG_FILE", "/nonexistent-eb-route53-test/config");
    vars.try_emplace("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent-eb-route53-test/credentials");
    vars.try_emplace("HOME", "/nonexistent-eb-route53-test");
    auto config = loadAwsConfig(Environment(vars));
    EXPECT_TRUE(config) << config.error().toString();
    auto endpoint = route53Endpoint(*config);
    EXPECT_TRUE(endpoint) << endpoint.error().toString();
    return *endpoint;
  };
  const ResolvedEndpoint global = endpointFor({{"AWS_REGION", "eu-west-1"}});
  EXPECT_EQ(global.url, "https://route53.amazonaws.com");
  EXPECT_EQ(global.signingRegion, "us-east-1");
  const ResolvedEndpoint custom = endpointFor(
      {{"AWS_REGION", "eu-west-1"}, {"AWS_ENDPOINT_URL_ROUTE_53", "http://127.0.0.1:4566"}});
  EXPECT_EQ(custom.url, "http://127.0.0.1:4566");
  EXPECT_EQ(custom.signingRegion, "us-east-1");
  EXPECT_EQ(custom.signingName, "route53");
  EXPECT_EQ(endpointFor({{"AWS_REGION", "cn-north-1"}, {"AWS_ENDPOINT_URL", "http://127.0.0.1:1"}})
                .signingRegion,
            "cn-northwest-1");
}

TEST(Route53Client, GetsAHostedZoneWithItsVpcs) {
  Harness h;
  h.transport.pushXml(
      200, fmt::format("<GetHostedZoneResponse {}><HostedZone><Id>/hostedzone/Z0123ABC</Id>"
                       "<Name>corp.internal.</Name><CallerReference>r</CallerReference>"
                       "<Config><PrivateZone>true</PrivateZone></Config>"
                       "<ResourceRecordSetCount>7</ResourceRecordSetCount></HostedZone>"
                       "<VPCs><VPC><VPCRegion>eu-west-1</VPCRegion><VPCId>vpc-0a1b2c3d"
                       "</VPCId></VPC><VPC><VPCRegion>us-east-1</VPCRegion><VPCId>"
                       "vpc-11112222</VPCId></VPC></VPCs></GetHostedZoneResponse>",
                       kNs));
  auto zone = h.client.getHostedZone("/hostedzone/Z0123ABC");
  ASSERT_TRUE(zone) << zone.error().toString();
  EXPECT_EQ(zone->id, "Z0123ABC");
  EXPECT_EQ(zone->name, "corp.internal.");
  EXPECT_TRUE(zone->privateZone);
  EXPECT_EQ(zone->recordSetCount, 7);
  ASSERT_EQ(zone->vpcs.size(), 2u);
  EXPECT_EQ(zone->vpcs[0].region, "eu-west-1");
  EXPECT_EQ(zone->vpcs[1].vpcId, "vpc-11112222");

  const HttpRequest request = h.transport.requests().at(0);
  EXPECT_EQ(request.method, "GET");
  EXPECT_EQ(request.url, "https://route53.amazonaws.com/2013-04-01/hostedzone/Z0123ABC");
  const std::string_view authorization = findHeader(request.headers, "Authorization");
  EXPECT_THAT(std::string(authorization), HasSubstr("/us-east-1/route53/aws4_request"));
  EXPECT_EQ(h.observer.calls("GetHostedZone", CallOutcome::kSuccess), 1);
}

TEST(Route53Client, ListsEveryPageContinuingWithNameTypeAndIdentifier) {
  Harness h(2);
  h.transport.pushXml(200, listPage(simpleSet("a.corp.internal.", "A", {"10.0.0.1"}) +
                                        simpleSet("a.corp.internal.", "AAAA", {"fd00::1"}),
                                    "b.corp.internal.", "A"));
  h.transport.pushXml(
      200, listPage(simpleSet("b.corp.internal.", "A", {"10.0.0.2", "10.0.0.3"}) +
                        "<ResourceRecordSet><Name>b.corp.internal.</Name><Type>TXT</Type>"
                        "<SetIdentifier>blue</SetIdentifier><Weight>10</Weight><TTL>60</TTL>"
                        "<ResourceRecords><ResourceRecord><Value>\"x\"</Value></ResourceRecord>"
                        "</ResourceRecords></ResourceRecordSet>",
                    "b.corp.internal.", "TXT", "green"));
  h.transport.pushXml(200, listPage(simpleSet("\\052.corp.internal.", "TXT", {"\"w\""}, 300)));

  auto sets = h.client.listResourceRecordSets("Z0123ABC");
  ASSERT_TRUE(sets) << sets.error().toString();
  ASSERT_EQ(sets->size(), 5u);
  EXPECT_EQ((*sets)[0], (ResourceRecordSet{"a.corp.internal.", "A", 60, {"10.0.0.1"}, "", false}));
  EXPECT_EQ((*sets)[2].values, (std::vector<std::string>{"10.0.0.2", "10.0.0.3"}));
  EXPECT_TRUE((*sets)[3].special);
  EXPECT_EQ((*sets)[3].setIdentifier, "blue");
  EXPECT_TRUE((*sets)[3].values.empty());
  EXPECT_EQ((*sets)[4].name, "\\052.corp.internal.");  // Route 53's escape kept as it is
  EXPECT_EQ((*sets)[4].ttl, 300);

  ASSERT_EQ(h.transport.requestCount(), 3u);
  EXPECT_EQ(h.path(0), "/2013-04-01/hostedzone/Z0123ABC/rrset?maxitems=2");
  EXPECT_EQ(h.path(1),
            "/2013-04-01/hostedzone/Z0123ABC/rrset?maxitems=2&name=b.corp.internal.&type=A");
  EXPECT_EQ(h.path(2),
            "/2013-04-01/hostedzone/Z0123ABC/rrset?identifier=green&maxitems=2"
            "&name=b.corp.internal.&type=TXT");
}

TEST(Route53Client, ReportsAliasAndRoutingPolicySetsAsSpecial) {
  const std::string alias =
      "<ResourceRecordSet><Name>lb.corp.internal.</Name><Type>A</Type><AliasTarget>"
      "<HostedZoneId>Z35SXDOTRQ7X7K</HostedZoneId><DNSName>x.elb.amazonaws.com.</DNSName>"
      "<EvaluateTargetHealth>false</EvaluateTargetHealth></AliasTarget></ResourceRecordSet>";
  const auto routed = [](std::string_view element) {
    return fmt::format(
        "<ResourceRecordSet><Name>r.corp.internal.</Name><Type>A</Type>"
        "<SetIdentifier>s</SetIdentifier>{}<TTL>60</TTL><ResourceRecords><ResourceRecord>"
        "<Value>10.0.0.9</Value></ResourceRecord></ResourceRecords></ResourceRecordSet>",
        element);
  };
  const std::string multivalue =
      "<ResourceRecordSet><Name>m.corp.internal.</Name><Type>A</Type>"
      "<MultiValueAnswer>true</MultiValueAnswer><TTL>60</TTL><ResourceRecords><ResourceRecord>"
      "<Value>10.0.0.8</Value></ResourceRecord></ResourceRecords></ResourceRecordSet>";
  auto page = parseListResourceRecordSets(listPage(
      alias + routed("<Region>eu-west-1</Region>") + routed("<Failover>PRIMARY</Failover>") +
      routed("<GeoLocation><CountryCode>JP</CountryCode></GeoLocation>") + multivalue +
      simpleSet("plain.corp.internal.", "A", {"10.0.0.1"})));
  ASSERT_TRUE(page) << page.error().toString();
  ASSERT_EQ(page->sets.size(), 6u);
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_TRUE(page->sets[i].special) << i;
    EXPECT_TRUE(page->sets[i].values.empty()) << i;
  }
  EXPECT_FALSE(page->sets[5].special);
  EXPECT_EQ(page->sets[0].name, "lb.corp.internal.");
  EXPECT_EQ(page->sets[0].ttl, 0);
}

TEST(Route53Client, WritesAnEscapedChangeBatch) {
  Harness h;
  h.transport.pushXml(200, changeInfo("ChangeResourceRecordSets", "PENDING"));
  const std::vector<RecordChange> changes = {
      {ChangeAction::kUpsert,
       {"web.corp.internal.", "TXT", 60, {"\"a=b & c<d>\"", "\"it's \\\"quoted\\\"\""}, "", false}},
      {ChangeAction::kDelete, {"old.corp.internal.", "A", 30, {"10.0.0.1"}, "", false}},
      {ChangeAction::kCreate, {"new.corp.internal.", "AAAA", 60, {"fd00::1"}, "", false}},
  };
  auto info = h.client.changeResourceRecordSets("/hostedzone/Z0123ABC", changes,
                                                "endpoint-binder: ns/web <1>");
  ASSERT_TRUE(info) << info.error().toString();
  EXPECT_EQ(info->id, "C2682N5HXP0BZ4");
  EXPECT_EQ(info->status, "PENDING");
  EXPECT_EQ(info->submittedAt, "2026-12-04T17:00:00.000Z");

  const HttpRequest request = h.transport.requests().at(0);
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(h.path(0), "/2013-04-01/hostedzone/Z0123ABC/rrset/");
  EXPECT_THAT(request.body, HasSubstr("&quot;a=b &amp; c&lt;d&gt;&quot;"));
  EXPECT_THAT(request.body, HasSubstr("<Comment>endpoint-binder: ns/web &lt;1&gt;</Comment>"));

  // The document reads back (with an XML parser) as exactly what was asked for.
  pugi::xml_document doc;
  ASSERT_TRUE(doc.load_buffer(request.body.data(), request.body.size()));
  const pugi::xml_node root = doc.child("ChangeResourceRecordSetsRequest");
  EXPECT_STREQ(root.attribute("xmlns").value(), "https://route53.amazonaws.com/doc/2013-04-01/");
  std::vector<std::string> actions;
  std::vector<std::string> firstValues;
  for (const pugi::xml_node change : root.child("ChangeBatch").child("Changes").children()) {
    actions.emplace_back(change.child_value("Action"));
    const pugi::xml_node set = change.child("ResourceRecordSet");
    // Route 53 validates against its schema: Name, Type, TTL, ResourceRecords in this order.
    std::vector<std::string> order;
    for (const pugi::xml_node child : set.children()) order.emplace_back(child.name());
    EXPECT_THAT(order, ElementsAre("Name", "Type", "TTL", "ResourceRecords"));
    for (const pugi::xml_node record : set.child("ResourceRecords").children()) {
      firstValues.emplace_back(record.child_value("Value"));
    }
  }
  EXPECT_THAT(actions, ElementsAre("UPSERT", "DELETE", "CREATE"));
  EXPECT_THAT(firstValues,
              ElementsAre("\"a=b & c<d>\"", "\"it's \\\"quoted\\\"\"", "10.0.0.1", "fd00::1"));
}

TEST(Route53Client, RefusesBatchesItCannotWriteBeforeSending) {
  Harness h;
  ResourceRecordSet alias{"lb.corp.internal.", "A", 0, {}, "", true};
  auto special = h.client.changeResourceRecordSets("Z1", {{ChangeAction::kDelete, alias}}, "");
  ASSERT_FALSE(special);
  EXPECT_EQ(special.error().code, "InvalidInput");
  EXPECT_THAT(special.error().message, HasSubstr("change 1 (DELETE lb.corp.internal. A)"));
  auto empty = h.client.changeResourceRecordSets("Z1", {}, "");
  ASSERT_FALSE(empty);
  EXPECT_THAT(empty.error().message, HasSubstr("no changes"));
  ResourceRecordSet control{"x.corp.internal.", "TXT", 60, {std::string("\"a\x01\"")}, "", false};
  EXPECT_FALSE(h.client.changeResourceRecordSets("Z1", {{ChangeAction::kUpsert, control}}, ""));
  auto badId = h.client.getHostedZone("../../change/C1");
  ASSERT_FALSE(badId);
  EXPECT_EQ(badId.error().kind, core::ErrorKind::kTerminal);
  EXPECT_THAT(badId.error().message, HasSubstr("GetHostedZone: hosted zone id"));
  EXPECT_EQ(h.transport.requestCount(), 0u);
}

TEST(Route53Client, InvalidChangeBatchCarriesRoute53sMessages) {
  Harness h;
  h.transport.pushXml(
      400,
      fmt::format("<?xml version=\"1.0\"?>\n<InvalidChangeBatch {}><Messages>"
                  "<Message>[Tried to delete resource record set [name='old.corp.internal.', "
                  "type='A'] but the values provided do not match the current values]"
                  "</Message><Message>[Tried to create resource record set "
                  "[name='new.corp.internal.', type='AAAA'] but it already exists]</Message>"
                  "</Messages><RequestId>rid-icb</RequestId></InvalidChangeBatch>",
                  kNs),
      "");
  auto info = h.client.changeResourceRecordSets(
      "Z1", {{ChangeAction::kDelete, {"old.corp.internal.", "A", 30, {"10.0.0.1"}, "", false}}},
      "");
  ASSERT_FALSE(info);
  EXPECT_EQ(info.error().kind, core::ErrorKind::kTerminal);
  EXPECT_EQ(info.error().code, "InvalidChangeBatch");
  EXPECT_EQ(info.error().httpStatus, 400);
  EXPECT_EQ(info.error().requestId, "rid-icb");
  EXPECT_THAT(info.error().message,
              HasSubstr("ChangeResourceRecordSets: [Tried to delete resource record set "
                        "[name='old.corp.internal.', type='A'] but the values provided do not "
                        "match the current values]; [Tried to create"));
  EXPECT_EQ(h.transport.requestCount(), 1u);  // never retried

  // The older form: an ErrorResponse with code InvalidChangeBatch.
  h.transport.pushXml(400, route53Error("InvalidChangeBatch", "RRSet already exists"));
  auto older = h.client.changeResourceRecordSets(
      "Z1", {{ChangeAction::kCreate, {"new.corp.internal.", "A", 30, {"10.0.0.1"}, "", false}}},
      "");
  ASSERT_FALSE(older);
  EXPECT_EQ(older.error().code, "InvalidChangeBatch");
  EXPECT_EQ(older.error().kind, core::ErrorKind::kTerminal);
  EXPECT_EQ(older.error().message, "ChangeResourceRecordSets: RRSet already exists");
}

TEST(Route53Client, RetriesThrottlingAndPriorRequestNotComplete) {
  Harness h;
  h.transport.pushXml(400, route53Error("Throttling", "Rate exceeded"));
  h.transport.pushXml(400, route53Error("PriorRequestNotComplete", "busy"));
  h.transport.pushXml(200, changeInfo("ChangeResourceRecordSets", "PENDING"));
  auto info = h.client.changeResourceRecordSets(
      "Z1", {{ChangeAction::kUpsert, {"a.corp.internal.", "A", 60, {"10.0.0.1"}, "", false}}}, "");
  ASSERT_TRUE(info) << info.error().toString();
  EXPECT_EQ(h.transport.requestCount(), 3u);
  EXPECT_EQ(h.observer.attempts("ChangeResourceRecordSets", CallOutcome::kThrottled), 2);
  // Every attempt is signed anew and carries the same document.
  const auto requests = h.transport.requests();
  EXPECT_EQ(requests[0].body, requests[2].body);

  h.transport.pushXml(400, route53Error("PriorRequestNotComplete", "busy"));
  h.transport.pushXml(400, route53Error("PriorRequestNotComplete", "busy"));
  h.transport.pushXml(400, route53Error("PriorRequestNotComplete", "busy"));
  auto busy = h.client.getChange("C1");
  ASSERT_FALSE(busy);
  EXPECT_EQ(busy.error().kind, core::ErrorKind::kRetryable);
  EXPECT_EQ(busy.error().message, "GetChange: busy (gave up after 3 attempts)");
}

TEST(Route53Client, UnknownZonesAndChangesAreNotFoundAndAccessDeniedIsAuth) {
  Harness h;
  h.transport.pushXml(404, route53Error("NoSuchHostedZone", "No hosted zone found with ID: Z9"));
  auto zone = h.client.getHostedZone("Z9");
  ASSERT_FALSE(zone);
  EXPECT_EQ(zone.error().kind, core::ErrorKind::kNotFound);
  EXPECT_EQ(zone.error().code, "NoSuchHostedZone");
  EXPECT_EQ(zone.error().requestId, "rid-err");
  EXPECT_EQ(zone.error().message, "GetHostedZone: No hosted zone found with ID: Z9");

  h.transport.pushXml(404, route53Error("NoSuchChange",
                                        "A change with the specified id does "
                                        "not exist."));
  auto change = h.client.getChange("/change/C404");
  ASSERT_FALSE(change);
  EXPECT_EQ(change.error().kind, core::ErrorKind::kNotFound);
  EXPECT_EQ(h.path(1), "/2013-04-01/change/C404");

  h.transport.pushXml(403, route53Error("AccessDenied", "not authorized"));
  auto denied = h.client.listResourceRecordSets("Z1");
  ASSERT_FALSE(denied);
  EXPECT_EQ(denied.error().kind, core::ErrorKind::kAuth);
  EXPECT_EQ(h.transport.requestCount(), 3u);  // none retried
}

TEST(Route53Client, MalformedResponsesNameTheCallAndWhatIsMissing) {
  Harness h;
  h.transport.pushXml(200, "<html>proxy</html", "rid-proxy");
  h.transport.pushXml(200, "<html>proxy</html", "rid-proxy");
  h.transport.pushXml(200, "<html>proxy</html", "rid-proxy");
  auto notXml = h.client.getHostedZone("Z1");
  ASSERT_FALSE(notXml);
  EXPECT_EQ(notXml.error().code, "MalformedResponse");
  EXPECT_EQ(notXml.error().kind, core::ErrorKind::kRetryable);
  EXPECT_EQ(notXml.error().requestId, "rid-proxy");
  EXPECT_THAT(notXml.error().message, HasSubstr("GetHostedZone response: not well-formed XML"));

  const auto message = [](const auto& result) {
    return result ? std::string("(parsed)") : result.error().message;
  };
  EXPECT_EQ(message(parseGetHostedZone(
                fmt::format("<GetHostedZoneResponse {}><HostedZone><Name>x.</Name></HostedZone>"
                            "</GetHostedZoneResponse>",
                            kNs))),
            "GetHostedZone response: HostedZone has no Id");
  EXPECT_EQ(message(parseListResourceRecordSets("<GetHostedZoneResponse/>")),
            "ListResourceRecordSets response: root element is <GetHostedZoneResponse>, expected "
            "<ListResourceRecordSetsResponse>");
  EXPECT_EQ(message(parseListResourceRecordSets(
                "<ListResourceRecordSetsResponse><IsTruncated>false</IsTruncated>"
                "</ListResourceRecordSetsResponse>")),
            "ListResourceRecordSets response: no ResourceRecordSets");
  EXPECT_EQ(message(parseListResourceRecordSets(
                listPage("<ResourceRecordSet><Name>a.</Name><Type>A</Type><TTL>60</TTL>"
                         "</ResourceRecordSet>"))),
            "ListResourceRecordSets response: record set 1 (a. A) has neither ResourceRecords "
            "nor AliasTarget");
  EXPECT_EQ(message(parseListResourceRecordSets(listPage(simpleSet("a.", "A", {"10.0.0.1"}) +
                                                         "<ResourceRecordSet><Type>A</Type>"
                                                         "</ResourceRecordSet>"))),
            "ListResourceRecordSets response: record set 2 has no Name or Type");
  EXPECT_EQ(message(parseListResourceRecordSets(listPage(simpleSet("a.", "A", {"1"}, -5)))),
            "ListResourceRecordSets response: record set 1 (a. A) has TTL \"-5\", not a number");
  EXPECT_EQ(message(parseListResourceRecordSets(
                fmt::format("<ListResourceRecordSetsResponse><ResourceRecordSets/><IsTruncated>true"
                            "</IsTruncated></ListResourceRecordSetsResponse>"))),
            "ListResourceRecordSets response: truncated without NextRecordName and "
            "NextRecordType");
  EXPECT_EQ(message(parseChangeInfo("<GetChangeResponse><ChangeInfo><Id>C1</Id><Status>DONE"
                                    "</Status></ChangeInfo></GetChangeResponse>",
                                    "GetChange")),
            "GetChange response: ChangeInfo has Status \"DONE\", not PENDING or INSYNC");
  EXPECT_EQ(message(parseChangeInfo("<GetChangeResponse/>", "GetChange")),
            "GetChange response: no ChangeInfo");
}

TEST(Route53Client, StopsAPageThatDoesNotMoveForward) {
  Harness h(1);
  const std::string page =
      listPage(simpleSet("a.corp.internal.", "A", {"10.0.0.1"}), "b.corp.internal.", "A");
  h.transport.pushXml(200, page);
  h.transport.pushXml(200, page);
  auto sets = h.client.listResourceRecordSets("Z1");
  ASSERT_FALSE(sets);
  EXPECT_EQ(sets.error().code, "MalformedResponse");
  EXPECT_THAT(sets.error().message, HasSubstr("truncated without progress"));
  EXPECT_EQ(h.transport.requestCount(), 2u);
}

TEST(Route53Client, OneBudgetForAllActionsUnderFivePerSecond) {
  const RateLimitOptions limits = route53RateLimits();
  ASSERT_TRUE(limits.global);
  EXPECT_LT(limits.global->rate, 5.0);
  EXPECT_LE(limits.global->burst, 5.0);
  for (std::string_view action :
       {"GetHostedZone", "ListResourceRecordSets", "ChangeResourceRecordSets", "GetChange"}) {
    EXPECT_LT(limits.forAction(action).rate, 5.0) << action;
  }

  // Six calls at once: five go in the burst, the sixth waits for the shared bucket.
  core::ManualClock clock;
  FakeHttpTransport transport;
  FakeCredentialsProvider credentials;
  CountingObserver observer;
  RateLimiter limiter(limits, clock, [&](nanoseconds d) { clock.advance(d); });
  Route53Client client(route53ServiceOptions("", ""), transport, credentials, clock,
                       QueryClientHooks{&limiter, &observer, nullptr, [] { return 0.5; },
                                        [&](nanoseconds d) { clock.advance(d); }});
  const core::MonoTime start = clock.now();
  for (int i = 0; i < 6; ++i) {
    transport.pushXml(200, changeInfo("GetChange", "INSYNC"));
    ASSERT_TRUE(i % 2 == 0 ? client.getChange("C1") : client.getChange("C2"));
    if (i < 5) {
      EXPECT_EQ(clock.now(), start) << i;
    }
  }
  EXPECT_GE(clock.now() - start, std::chrono::milliseconds(250));
}

}  // namespace
}  // namespace endpointbinder::aws
