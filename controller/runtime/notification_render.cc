#include "controller/runtime/notification_render.h"

#include <cpprest/json.h>

#include <algorithm>

#include "controller/runtime/json_logger.h"

namespace endpointbinder::runtime {
namespace {

using web::json::value;

// Slack's limits (Block Kit reference), and the Chatbot description kept well inside SNS's.
constexpr size_t kHeaderLimit = 150;
constexpr size_t kSectionLimit = 3000;
constexpr size_t kFieldLimit = 2000;
constexpr size_t kTextLimit = 3000;
constexpr size_t kMaxBlocks = 50;
constexpr size_t kChatbotTitleLimit = 250;
constexpr size_t kChatbotDescriptionLimit = 4000;

// At most `limit` bytes (so at most `limit` characters), cut at a UTF-8 boundary, "…" appended
// when cut.
std::string clip(std::string text, size_t limit) {
  if (text.size() <= limit) return text;
  static constexpr std::string_view kEllipsis = "…";
  size_t cut = limit > kEllipsis.size() ? limit - kEllipsis.size() : 0;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  text.resize(cut);
  text += kEllipsis;
  return text;
}

// "10.0.1.5:443, 10.0.1.6:443 and 3 more"
std::string targetList(const NoticeEvent& event, bool code) {
  std::string out;
  for (size_t i = 0; i < event.targets.size(); ++i) {
    if (i) out += ", ";
    out += code ? "`" + escapeMrkdwn(event.targets[i]) + "`" : event.targets[i];
  }
  const int more = event.count - static_cast<int>(event.targets.size());
  if (more > 0) out += " and " + std::to_string(more) + " more";
  return out;
}

// "Registered 2 targets", "Blocked: MinTargets", "Failing", ...
std::string eventHeadline(const NoticeEvent& event) {
  const std::string name = noticeKindName(event.kind);
  switch (event.kind) {
    case NoticeKind::kRegistered:
    case NoticeKind::kDeregistered:
      return name + " " + countedNoun(static_cast<size_t>(event.count), "target");
    case NoticeKind::kBlocked:
      return name + " by " + event.reason;
    case NoticeKind::kRecovered:
      return name + " from " + event.reason;
    case NoticeKind::kFailing:
      return name + " (" + event.reason + ")";
    case NoticeKind::kConflict:
      break;
  }
  return name;
}

std::string countsText(const TargetCounts& c) {
  return std::to_string(c.registered) + " registered (" + std::to_string(c.healthy) + " healthy, " +
         std::to_string(c.unhealthy) + " unhealthy, " + std::to_string(c.initial) + " initial), " +
         std::to_string(c.draining) + " draining; the source lists " + std::to_string(c.desired);
}

std::string title(const Notice& notice) {
  std::string out = notice.context.key + ":";
  const char* separator = " ";
  for (const auto& e : notice.events) {
    out += separator + eventHeadline(e);
    separator = ", ";
  }
  return out;
}

// The most pressing event decides the icon.
const char* icon(const Notice& notice) {
  const auto kinds = notice.kinds();
  auto has = [&](NoticeKind k) { return std::find(kinds.begin(), kinds.end(), k) != kinds.end(); };
  if (has(NoticeKind::kFailing) || has(NoticeKind::kConflict)) return ":rotating_light:";
  if (has(NoticeKind::kBlocked)) return ":warning:";
  if (has(NoticeKind::kRecovered)) return ":white_check_mark:";
  return ":arrows_counterclockwise:";
}

// The markdown body of one event: the headline with its targets, then why.
std::string eventMarkdown(const NoticeEvent& event) {
  std::string text = "*" + escapeMrkdwn(eventHeadline(event)) + "*";
  if (!event.targets.empty()) text += ": " + targetList(event, true);
  if (!event.detail.empty()) {
    const char* label = event.kind == NoticeKind::kFailing ? "_Last error:_ " : "_Why:_ ";
    if (event.kind == NoticeKind::kConflict || event.kind == NoticeKind::kRecovered) label = "";
    text += "\n" + std::string(label) + escapeMrkdwn(event.detail);
  }
  return text;
}

std::vector<std::string> nextSteps(const Notice& notice, const RenderOptions&) {
  std::vector<std::string> steps;
  const auto kinds = notice.kinds();
  auto has = [&](NoticeKind k) { return std::find(kinds.begin(), kinds.end(), k) != kinds.end(); };
  if (has(NoticeKind::kFailing) || has(NoticeKind::kConflict) || has(NoticeKind::kBlocked)) {
    steps.push_back("Run `endpoint-binder describe " + notice.context.key +
                    "` for conditions, the last plan and events");
  }
  if (has(NoticeKind::kConflict)) {
    steps.push_back("Check the endpointbinder.io/owner tag of the target group");
  }
  return steps;
}

value stringArray(const std::vector<std::string>& items) {
  value array = value::array(items.size());
  for (size_t i = 0; i < items.size(); ++i) array[i] = value::string(items[i]);
  return array;
}

value mrkdwn(std::string text, size_t limit) {
  value object = value::object(true);
  object["type"] = value::string("mrkdwn");
  object["text"] = value::string(clip(std::move(text), limit));
  return object;
}

// SNS subjects: ASCII printable, one line, < 100 characters.
std::string subjectText(std::string_view text) {
  std::string out;
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f) {
      out.push_back(c);
    } else if (u >= 0x80 && (u & 0xC0) != 0x80) {
      out.push_back('?');  // one per non-ASCII character, not per byte
    }
  }
  if (out.size() > aws::kSnsMaxSubjectLength) {
    out.resize(aws::kSnsMaxSubjectLength - 3);
    out += "...";
  }
  return out;
}

}  // namespace

std::string escapeMrkdwn(std::string_view text) {
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
      default:
        out.push_back(c);
    }
  }
  return out;
}

std::string renderPlainText(const Notice& notice) {
  std::string text = notice.context.key + ":";
  const char* separator = " ";
  for (const auto& e : notice.events) {
    text += separator + eventHeadline(e);
    if (!e.targets.empty()) text += " (" + targetList(e, false) + ")";
    separator = "; ";
  }
  text += ". Target group " + notice.context.targetGroupName;
  if (notice.context.counts) text += ": " + countsText(*notice.context.counts);
  text += ".";
  return text;
}

std::string renderSlack(const Notice& notice, const RenderOptions& options) {
  std::vector<value> blocks;
  {
    value header = value::object(true);
    header["type"] = value::string("header");
    value text = value::object(true);
    text["type"] = value::string("plain_text");
    text["text"] =
        value::string(clip(std::string(icon(notice)) + " " + title(notice), kHeaderLimit));
    text["emoji"] = value::boolean(true);
    header["text"] = text;
    blocks.push_back(header);
  }
  for (const auto& event : notice.events) {
    if (blocks.size() >= kMaxBlocks - 2) break;
    value section = value::object(true);
    section["type"] = value::string("section");
    section["text"] = mrkdwn(eventMarkdown(event), kSectionLimit);
    blocks.push_back(section);
  }
  {
    std::vector<value> fields;
    fields.push_back(
        mrkdwn("*Target group*\n" + escapeMrkdwn(notice.context.targetGroupName), kFieldLimit));
    if (notice.context.counts) {
      fields.push_back(mrkdwn("*Targets now*\n" + escapeMrkdwn(countsText(*notice.context.counts)),
                              kFieldLimit));
    }
    fields.push_back(mrkdwn("*Source*\n" + escapeMrkdwn(notice.context.source), kFieldLimit));
    value section = value::object(true);
    section["type"] = value::string("section");
    section["fields"] = value::array(fields);
    blocks.push_back(section);
  }
  {
    value context = value::object(true);
    context["type"] = value::string("context");
    context["elements"] =
        value::array({mrkdwn("controller `" + escapeMrkdwn(options.controllerId) + "` · " +
                                 escapeMrkdwn(notice.context.targetGroupArn) + " · " +
                                 formatRfc3339(notice.context.time, false),
                             kSectionLimit)});
    blocks.push_back(context);
  }
  value payload = value::object(true);
  payload["text"] = value::string(clip(renderPlainText(notice), kTextLimit));
  payload["blocks"] = value::array(blocks);
  return payload.serialize();
}

aws::SnsPublishRequest renderSns(const Notice& notice, const std::string& topicArn,
                                 const RenderOptions& options) {
  aws::SnsPublishRequest request;
  request.topicArn = topicArn;
  std::string kindsText;
  std::vector<std::string> kindNames;
  for (const auto kind : notice.kinds()) {
    kindNames.emplace_back(noticeKindName(kind));
    kindsText += (kindsText.empty() ? "" : ", ") + kindNames.back();
  }
  request.subject = subjectText("endpoint-binder: " + notice.context.key + " " + kindsText);

  std::string description;
  for (const auto& event : notice.events) {
    description += eventMarkdown(event) + "\n";
  }
  description += "*Target group:* " + escapeMrkdwn(notice.context.targetGroupName);
  if (notice.context.counts) {
    description += "\n*Targets now:* " + escapeMrkdwn(countsText(*notice.context.counts));
  }
  description += "\n*Source:* " + escapeMrkdwn(notice.context.source);

  value content = value::object(true);
  content["textType"] = value::string("client-markdown");
  content["title"] =
      value::string(clip(std::string(icon(notice)) + " " + title(notice), kChatbotTitleLimit));
  content["description"] = value::string(clip(description, kChatbotDescriptionLimit));
  if (const auto steps = nextSteps(notice, options); !steps.empty()) {
    content["nextSteps"] = stringArray(steps);
  }
  std::vector<std::string> keywords = {"endpoint-binder", notice.context.ns};
  keywords.insert(keywords.end(), kindNames.begin(), kindNames.end());
  content["keywords"] = stringArray(keywords);

  value context = value::object(true);
  context["binding"] = value::string(notice.context.key);
  context["namespace"] = value::string(notice.context.ns);
  context["targetGroup"] = value::string(notice.context.targetGroupName);
  context["controllerId"] = value::string(options.controllerId);
  value metadata = value::object(true);
  metadata["threadId"] = value::string("endpoint-binder/" + notice.context.key);
  metadata["summary"] = value::string(clip(renderPlainText(notice), kChatbotTitleLimit));
  metadata["eventType"] = value::string(kindsText);
  metadata["relatedResources"] = stringArray({notice.context.targetGroupArn});
  metadata["additionalContext"] = context;

  value message = value::object(true);
  message["version"] = value::string("1.0");
  message["source"] = value::string("custom");
  message["id"] = value::string(notice.id());
  message["content"] = content;
  message["metadata"] = metadata;
  request.message = message.serialize();

  value eventTypes = stringArray(kindNames);
  request.attributes = {
      {"binding", "String", notice.context.key},
      {"namespace", "String", notice.context.ns},
      {"eventType", "String.Array", eventTypes.serialize()},
      {"targetGroup", "String", notice.context.targetGroupName},
  };
  if (topicArn.ends_with(".fifo")) {
    request.messageGroupId = notice.context.key;
    request.deduplicationId = notice.id();
  }
  return request;
}

}  // namespace endpointbinder::runtime
