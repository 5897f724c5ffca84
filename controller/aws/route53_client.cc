#include "controller/aws/route53_client.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <pugixml.hpp>
#include <utility>

#include "controller/aws/query_client.h"
#include "controller/aws/query_xml.h"
#include "controller/aws/sigv4.h"

namespace endpointbinder::aws {
namespace {

constexpr std::string_view kGetHostedZone = "GetHostedZone";
constexpr std::string_view kListResourceRecordSets = "ListResourceRecordSets";
constexpr std::string_view kChangeResourceRecordSets = "ChangeResourceRecordSets";
constexpr std::string_view kGetChange = "GetChange";
// 3 million record sets at 300 a page: far above any zone's quota, low enough that a service
// (or proxy) cycling between pages cannot hold a caller forever.
constexpr int kMaxRecordSetPages = 10'000;

std::unexpected<core::Error> invalidInput(std::string message) {
  return core::makeError(core::ErrorKind::kTerminal, std::move(message), "InvalidInput");
}

// Route 53 ids are short strings of letters and digits; they go into a URL path as they are.
core::Result<std::string> checkedId(std::string_view operation, std::string_view what,
                                    std::string_view raw) {
  std::string id = stripRoute53IdPrefix(raw);
  const bool plain = !id.empty() && id.size() <= 32 && std::ranges::all_of(id, [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
  });
  if (!plain) {
    return invalidInput(fmt::format("{}: {} \"{}\" is not 1-32 letters and digits", operation, what,
                                    sanitizeResponseText(raw, 80)));
  }
  return id;
}

bool hasControlCharacter(std::string_view text) {
  return std::ranges::any_of(text, [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return (u < 0x20 && c != '\t' && c != '\n' && c != '\r') || u == 0x7f;
  });
}

std::string_view actionName(ChangeAction action) {
  switch (action) {
    case ChangeAction::kCreate:
      return "CREATE";
    case ChangeAction::kDelete:
      return "DELETE";
    case ChangeAction::kUpsert:
      return "UPSERT";
  }
  return "UPSERT";
}

// "1" -> 1; nullopt for anything that is not a non-negative decimal integer.
std::optional<std::int64_t> parseCount(std::string_view text) {
  std::int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || value < 0) {
    return std::nullopt;
  }
  return value;
}

// Elements whose presence makes a set an alias or a routing-policy set.
constexpr std::string_view kSpecialElements[] = {
    "AliasTarget",
    "SetIdentifier",
    "Weight",
    "Region",
    "Failover",
    "GeoLocation",
    "GeoProximityLocation",
    "MultiValueAnswer",
    "CidrRoutingConfig",
    "TrafficPolicyInstanceId",
};

core::Result<ResourceRecordSet> parseRecordSet(pugi::xml_node node, int index) {
  ResourceRecordSet set;
  set.name = node.child_value("Name");
  set.type = node.child_value("Type");
  if (set.name.empty() || set.type.empty()) {
    return malformedResponse(kListResourceRecordSets,
                             fmt::format("record set {} has no Name or Type", index));
  }
  const auto where = [&] {
    return fmt::format("record set {} ({} {})", index, sanitizeResponseText(set.name, 255),
                       sanitizeResponseText(set.type, 16));
  };
  set.setIdentifier = node.child_value("SetIdentifier");
  for (std::string_view element : kSpecialElements) {
    if (node.child(std::string(element).c_str())) set.special = true;
  }
  if (const pugi::xml_node ttl = node.child("TTL")) {
    const auto value = parseCount(ttl.child_value());
    if (!value) {
      return malformedResponse(kListResourceRecordSets,
                               fmt::format("{} has TTL \"{}\", not a number", where(),
                                           sanitizeResponseText(ttl.child_value(), 32)));
    }
    set.ttl = *value;
  }
  if (set.special) return set;  // values of alias and routing-policy sets are not ours to read
  int valueIndex = 0;
  for (const pugi::xml_node record : node.child("ResourceRecords").children("ResourceRecord")) {
    ++valueIndex;
    const pugi::xml_node value = record.child("Value");
    if (!value) {
      return malformedResponse(
          kListResourceRecordSets,
          fmt::format("{} has a ResourceRecord ({}) without Value", where(), valueIndex));
    }
    set.values.emplace_back(value.child_value());
  }
  if (set.values.empty()) {
    return malformedResponse(
        kListResourceRecordSets,
        fmt::format("{} has neither ResourceRecords nor AliasTarget", where()));
  }
  if (!node.child("TTL")) {
    return malformedResponse(kListResourceRecordSets, fmt::format("{} has no TTL", where()));
  }
  return set;
}

SignedServiceOptions senderOptions(const Route53ServiceOptions& options) {
  SignedServiceOptions sender;
  sender.service = std::string(kRoute53SigningName);
  sender.region = options.region;
  sender.rateLimitWait = options.rateLimitWait;
  sender.retry = options.retry;
  sender.correctClockSkew = true;
  sender.adaptiveMode = true;
  return sender;
}

}  // namespace

Route53ServiceOptions route53ServiceOptions(std::string endpoint, std::string signingRegion,
                                            RetryOptions retry) {
  Route53ServiceOptions options;
  if (!endpoint.empty()) options.endpoint = std::move(endpoint);
  while (options.endpoint.ends_with('/')) options.endpoint.pop_back();
  if (!signingRegion.empty()) options.region = std::move(signingRegion);
  options.retry = retry;
  return options;
}

core::Result<ResolvedEndpoint> route53Endpoint(const AwsConfig& config) {
  auto endpoint = config.endpoint(AwsService::kRoute53);
  if (!endpoint) return std::unexpected(endpoint.error());
  auto global = defaultEndpoint(AwsService::kRoute53, config.region, config.useFipsEndpoint);
  if (!global) return std::unexpected(global.error());
  endpoint->signingRegion = global->signingRegion;
  return endpoint;
}

RateLimitOptions route53RateLimits() {
  RateLimitOptions options;
  options.readDefault = BucketSpec{4.0, 5.0};
  options.writeDefault = BucketSpec{4.0, 5.0};
  options.perAction.clear();
  options.global = BucketSpec{4.0, 5.0};
  return options;
}

std::string stripRoute53IdPrefix(std::string_view id) {
  for (std::string_view prefix : {"/hostedzone/", "/change/"}) {
    if (id.starts_with(prefix)) return std::string(id.substr(prefix.size()));
  }
  return std::string(id);
}

std::string xmlEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      case '\t':
        out += "&#9;";
        break;
      case '\n':
        out += "&#10;";
        break;
      case '\r':
        out += "&#13;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

core::Result<std::string> changeBatchXml(const std::vector<RecordChange>& changes,
                                         std::string_view comment) {
  constexpr std::string_view kOperation = kChangeResourceRecordSets;
  if (changes.empty()) return invalidInput(fmt::format("{}: no changes", kOperation));
  if (hasControlCharacter(comment)) {
    return invalidInput(fmt::format("{}: the comment holds a control character", kOperation));
  }
  std::string xml = fmt::format(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<ChangeResourceRecordSetsRequest xmlns=\"{}\"><ChangeBatch>",
      kRoute53Namespace);
  if (!comment.empty()) xml += fmt::format("<Comment>{}</Comment>", xmlEscape(comment));
  xml += "<Changes>";
  int index = 0;
  for (const RecordChange& change : changes) {
    ++index;
    const ResourceRecordSet& set = change.set;
    const std::string where =
        fmt::format("{}: change {} ({} {} {})", kOperation, index, actionName(change.action),
                    sanitizeResponseText(set.name, 255), sanitizeResponseText(set.type, 16));
    if (set.special) {
      return invalidInput(where + ": an alias or routing-policy set is never written here");
    }
    if (set.name.empty() || set.type.empty()) return invalidInput(where + ": no name or type");
    if (set.values.empty()) return invalidInput(where + ": no values");
    if (hasControlCharacter(set.name) || hasControlCharacter(set.type) ||
        hasControlCharacter(set.setIdentifier) ||
        std::ranges::any_of(set.values, hasControlCharacter)) {
      return invalidInput(where + ": a name or value holds a control character");
    }
    xml +=
        fmt::format("<Change><Action>{}</Action><ResourceRecordSet><Name>{}</Name><Type>{}</Type>",
                    actionName(change.action), xmlEscape(set.name), xmlEscape(set.type));
    if (!set.setIdentifier.empty()) {
      xml += fmt::format("<SetIdentifier>{}</SetIdentifier>", xmlEscape(set.setIdentifier));
    }
    xml += fmt::format("<TTL>{}</TTL><ResourceRecords>", set.ttl);
    for (const std::string& value : set.values) {
      xml += fmt::format("<ResourceRecord><Value>{}</Value></ResourceRecord>", xmlEscape(value));
    }
    xml += "</ResourceRecords></ResourceRecordSet></Change>";
  }
  xml += "</Changes></ChangeBatch></ChangeResourceRecordSetsRequest>";
  return xml;
}

core::Result<HostedZoneInfo> parseGetHostedZone(std::string_view xml) {
  pugi::xml_document doc;
  auto root = responseRoot(doc, xml, kGetHostedZone);
  if (!root) return std::unexpected(std::move(root.error()));
  const pugi::xml_node zone = root->child("HostedZone");
  if (!zone) return malformedResponse(kGetHostedZone, "no HostedZone");
  HostedZoneInfo info;
  info.id = stripRoute53IdPrefix(zone.child_value("Id"));
  info.name = zone.child_value("Name");
  if (info.id.empty()) return malformedResponse(kGetHostedZone, "HostedZone has no Id");
  if (info.name.empty()) return malformedResponse(kGetHostedZone, "HostedZone has no Name");
  const std::string_view privateZone = zone.child("Config").child_value("PrivateZone");
  if (!privateZone.empty() && privateZone != "true" && privateZone != "false") {
    return malformedResponse(kGetHostedZone, fmt::format("PrivateZone is \"{}\", not true or false",
                                                         sanitizeResponseText(privateZone, 32)));
  }
  info.privateZone = privateZone == "true";
  if (const pugi::xml_node count = zone.child("ResourceRecordSetCount")) {
    const auto value = parseCount(count.child_value());
    if (!value) {
      return malformedResponse(kGetHostedZone,
                               fmt::format("ResourceRecordSetCount is \"{}\", not a number",
                                           sanitizeResponseText(count.child_value(), 32)));
    }
    info.recordSetCount = *value;
  }
  int index = 0;
  for (const pugi::xml_node vpc : root->child("VPCs").children("VPC")) {
    ++index;
    HostedZoneVpc entry{vpc.child_value("VPCRegion"), vpc.child_value("VPCId")};
    if (entry.region.empty() || entry.vpcId.empty()) {
      return malformedResponse(kGetHostedZone,
                               fmt::format("VPC {} has no VPCRegion or VPCId", index));
    }
    info.vpcs.push_back(std::move(entry));
  }
  return info;
}

core::Result<RecordSetPage> parseListResourceRecordSets(std::string_view xml) {
  pugi::xml_document doc;
  auto root = responseRoot(doc, xml, kListResourceRecordSets);
  if (!root) return std::unexpected(std::move(root.error()));
  const pugi::xml_node sets = root->child("ResourceRecordSets");
  if (!sets) return malformedResponse(kListResourceRecordSets, "no ResourceRecordSets");
  RecordSetPage page;
  int index = 0;
  for (const pugi::xml_node node : sets.children("ResourceRecordSet")) {
    auto set = parseRecordSet(node, ++index);
    if (!set) return std::unexpected(std::move(set.error()));
    page.sets.push_back(std::move(*set));
  }
  const std::string_view truncated = root->child_value("IsTruncated");
  if (truncated != "true" && truncated != "false") {
    return malformedResponse(kListResourceRecordSets,
                             fmt::format("IsTruncated is \"{}\", not true or false",
                                         sanitizeResponseText(truncated, 32)));
  }
  page.truncated = truncated == "true";
  if (page.truncated) {
    page.nextName = root->child_value("NextRecordName");
    page.nextType = root->child_value("NextRecordType");
    page.nextIdentifier = root->child_value("NextRecordIdentifier");
    if (page.nextName.empty() || page.nextType.empty()) {
      return malformedResponse(kListResourceRecordSets,
                               "truncated without NextRecordName and NextRecordType");
    }
  }
  return page;
}

core::Result<ChangeInfo> parseChangeInfo(std::string_view xml, std::string_view operation) {
  pugi::xml_document doc;
  auto root = responseRoot(doc, xml, operation);
  if (!root) return std::unexpected(std::move(root.error()));
  const pugi::xml_node node = root->child("ChangeInfo");
  if (!node) return malformedResponse(operation, "no ChangeInfo");
  ChangeInfo info;
  info.id = stripRoute53IdPrefix(node.child_value("Id"));
  info.status = node.child_value("Status");
  info.submittedAt = node.child_value("SubmittedAt");
  if (info.id.empty()) return malformedResponse(operation, "ChangeInfo has no Id");
  if (info.status != "PENDING" && info.status != "INSYNC") {
    return malformedResponse(operation,
                             fmt::format("ChangeInfo has Status \"{}\", not PENDING or INSYNC",
                                         sanitizeResponseText(info.status, 32)));
  }
  return info;
}

core::Error parseRoute53Error(const HttpResponse& response, std::string_view operation) {
  pugi::xml_document doc;
  const pugi::xml_node root =
      doc.load_buffer(response.body.data(), response.body.size(), pugi::parse_default)
          ? doc.document_element()
          : pugi::xml_node();
  if (std::string_view(root.name()) != "InvalidChangeBatch") {
    return parseQueryError(response, operation);  // <ErrorResponse>, or not an AWS document
  }
  // A change batch Route 53 refused: one message per problem (botocore's "messages"), or a
  // single <Message>.
  std::vector<std::string> messages;
  for (const pugi::xml_node message : root.child("Messages").children("Message")) {
    if (std::string text = sanitizeResponseText(message.child_value(), 512); !text.empty()) {
      messages.push_back(std::move(text));
    }
  }
  if (messages.empty()) {
    if (std::string text = sanitizeResponseText(root.child_value("Message"), 1024); !text.empty()) {
      messages.push_back(std::move(text));
    }
  }
  core::Error error;
  error.kind = core::ErrorKind::kTerminal;
  error.code = "InvalidChangeBatch";
  error.httpStatus = response.status;
  error.requestId = sanitizeResponseText(findHeader(response.headers, "x-amzn-RequestId"), 128);
  if (const std::string bodyId = sanitizeResponseText(root.child_value("RequestId"), 128);
      !bodyId.empty()) {
    error.requestId = bodyId;
  }
  std::string joined;
  for (const std::string& message : messages) {
    if (joined.size() >= 2048) break;
    if (!joined.empty()) joined += "; ";
    joined += message;
  }
  error.message = fmt::format("{}: {}", operation, joined.empty() ? "InvalidChangeBatch" : joined);
  return error;
}

Route53Client::Route53Client(Route53ServiceOptions options, HttpTransport& transport,
                             CredentialsProvider& credentials, const core::Clock& clock,
                             QueryClientHooks hooks)
    : options_(std::move(options)),
      sender_(senderOptions(options_), parseRoute53Error, transport, credentials, clock,
              std::move(hooks)) {}

core::Result<BodyResponse> Route53Client::call(std::string_view operation, std::string method,
                                               const std::string& path, std::string body) {
  HttpRequest request;
  request.method = std::move(method);
  request.url = options_.endpoint + path;
  if (!body.empty()) request.headers.emplace_back("Content-Type", "application/xml");
  request.body = std::move(body);
  request.timeout = options_.attemptTimeout;
  return sender_.sendForBody(operation, request);
}

core::Result<HostedZoneInfo> Route53Client::getHostedZone(const std::string& zoneId) {
  auto id = checkedId(kGetHostedZone, "hosted zone id", zoneId);
  if (!id) return std::unexpected(std::move(id.error()));
  auto response =
      call(kGetHostedZone, "GET", fmt::format("/{}/hostedzone/{}", kRoute53ApiVersion, *id));
  if (!response) return std::unexpected(std::move(response.error()));
  auto parsed = parseGetHostedZone(response->body);
  if (!parsed) return std::unexpected(withRequestId(std::move(parsed.error()), *response));
  return std::move(*parsed);
}

core::Result<std::vector<ResourceRecordSet>> Route53Client::listResourceRecordSets(
    const std::string& zoneId) {
  auto id = checkedId(kListResourceRecordSets, "hosted zone id", zoneId);
  if (!id) return std::unexpected(std::move(id.error()));
  std::vector<ResourceRecordSet> out;
  std::string name;
  std::string type;
  std::string identifier;
  for (int pages = 0;; ++pages) {
    if (pages == kMaxRecordSetPages) {
      return core::makeError(core::ErrorKind::kTerminal,
                             fmt::format("{}: more than {} pages in hosted zone {}",
                                         kListResourceRecordSets, kMaxRecordSetPages, *id),
                             "TooManyRecordSets");
    }
    // Query parameters in canonical (sorted) order, values encoded as SigV4 wants.
    std::string path = fmt::format("/{}/hostedzone/{}/rrset?", kRoute53ApiVersion, *id);
    if (!identifier.empty()) path += "identifier=" + uriEncode(identifier) + "&";
    path += fmt::format("maxitems={}", std::clamp(options_.maxItems, 1, 300));
    if (!name.empty()) path += "&name=" + uriEncode(name) + "&type=" + uriEncode(type);
    auto response = call(kListResourceRecordSets, "GET", path);
    if (!response) return std::unexpected(std::move(response.error()));
    auto page = parseListResourceRecordSets(response->body);
    if (!page) return std::unexpected(withRequestId(std::move(page.error()), *response));
    for (auto& set : page->sets) out.push_back(std::move(set));
    if (!page->truncated) return out;
    if (page->sets.empty() ||
        (page->nextName == name && page->nextType == type && page->nextIdentifier == identifier)) {
      // A page that does not move forward would be asked for again forever.
      return std::unexpected(
          withRequestId(malformedResponse(kListResourceRecordSets,
                                          fmt::format("truncated without progress (next is {} {})",
                                                      sanitizeResponseText(page->nextName, 255),
                                                      sanitizeResponseText(page->nextType, 16)))
                            .error(),
                        *response));
    }
    name = std::move(page->nextName);
    type = std::move(page->nextType);
    identifier = std::move(page->nextIdentifier);
  }
}

core::Result<ChangeInfo> Route53Client::changeResourceRecordSets(
    const std::string& zoneId, const std::vector<RecordChange>& changes,
    const std::string& comment) {
  auto id = checkedId(kChangeResourceRecordSets, "hosted zone id", zoneId);
  if (!id) return std::unexpected(std::move(id.error()));
  auto body = changeBatchXml(changes, comment);
  if (!body) return std::unexpected(std::move(body.error()));
  auto response =
      call(kChangeResourceRecordSets, "POST",
           fmt::format("/{}/hostedzone/{}/rrset/", kRoute53ApiVersion, *id), std::move(*body));
  if (!response) return std::unexpected(std::move(response.error()));
  auto parsed = parseChangeInfo(response->body, kChangeResourceRecordSets);
  if (!parsed) return std::unexpected(withRequestId(std::move(parsed.error()), *response));
  return std::move(*parsed);
}

core::Result<ChangeInfo> Route53Client::getChange(const std::string& changeId) {
  auto id = checkedId(kGetChange, "change id", changeId);
  if (!id) return std::unexpected(std::move(id.error()));
  auto response = call(kGetChange, "GET", fmt::format("/{}/change/{}", kRoute53ApiVersion, *id));
  if (!response) return std::unexpected(std::move(response.error()));
  auto parsed = parseChangeInfo(response->body, kGetChange);
  if (!parsed) return std::unexpected(withRequestId(std::move(parsed.error()), *response));
  return std::move(*parsed);
}

}  // namespace endpointbinder::aws
