#include "controller/dns/answer_parser.h"

#include <ares.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <climits>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace endpointbinder::dns {
namespace {

constexpr size_t kHeaderSize = 12;
constexpr uint16_t kTypeCname = 5;
constexpr uint16_t kClassIn = 1;
// c-ares takes lengths as int; DNS messages never exceed 65535 bytes (TCP length prefix).
constexpr size_t kMaxMessage = 65535;

uint16_t read16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }
uint32_t read32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

// RFC 2181 section 8: a TTL with the most significant bit set is treated as zero.
int64_t sanitizeTtl(int64_t ttl) { return (ttl < 0 || ttl > INT32_MAX) ? 0 : ttl; }

std::string lowercase(std::string name) {
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (!name.empty() && name.back() == '.') name.pop_back();
  return name;
}

ResolveOutcome malformed(const char* why) {
  return ResolveOutcome::failure(ResolveStatus::kError, std::string("malformed answer: ") + why);
}

// A name at `at` in `message`, expanded (compression pointers followed by c-ares, which
// bounds them); `length` receives its encoded length in place. nullopt when malformed.
std::optional<std::string> expandName(std::span<const uint8_t> message, size_t at, long* length) {
  if (at >= message.size()) return std::nullopt;
  char* expanded = nullptr;
  const int status = ares_expand_name(message.data() + at, message.data(),
                                      static_cast<int>(message.size()), &expanded, length);
  if (status != ARES_SUCCESS || expanded == nullptr) return std::nullopt;
  std::string name = lowercase(expanded);
  ares_free_string(expanded);
  if (*length <= 0 || static_cast<size_t>(*length) > message.size() - at) return std::nullopt;
  return name;
}

struct CnameRecord {
  std::string owner;
  std::string target;
  int64_t ttl = 0;
};

struct Walk {
  std::string question;
  std::vector<CnameRecord> cnames;
};

// The question name and every CNAME record of the answer section. Every offset is checked
// against the buffer before it is read.
std::optional<Walk> walkAnswer(std::span<const uint8_t> message) {
  Walk walk;
  const uint16_t questions = read16(message.data() + 4);
  const uint16_t answers = read16(message.data() + 6);
  if (questions != 1) return std::nullopt;
  size_t at = kHeaderSize;
  long length = 0;
  auto question = expandName(message, at, &length);
  if (!question) return std::nullopt;
  walk.question = *question;
  at += static_cast<size_t>(length);
  if (message.size() - at < 4) return std::nullopt;
  at += 4;  // QTYPE, QCLASS
  for (uint16_t i = 0; i < answers; ++i) {
    auto owner = expandName(message, at, &length);
    if (!owner) return std::nullopt;
    at += static_cast<size_t>(length);
    if (message.size() - at < 10) return std::nullopt;
    const uint16_t type = read16(message.data() + at);
    const uint16_t klass = read16(message.data() + at + 2);
    const uint32_t ttl = read32(message.data() + at + 4);
    const uint16_t rdlength = read16(message.data() + at + 8);
    at += 10;
    if (message.size() - at < rdlength) return std::nullopt;
    if (type == kTypeCname && klass == kClassIn) {
      long targetLength = 0;
      auto target = expandName(message, at, &targetLength);
      if (!target || static_cast<size_t>(targetLength) > rdlength) return std::nullopt;
      walk.cnames.push_back({std::move(*owner), std::move(*target), sanitizeTtl(ttl)});
    }
    at += rdlength;
  }
  return walk;
}

// Follows CNAMEs from the question name; a loop or a chain longer than the records present
// simply ends the walk (the address parse then finds no data).
void followChain(const Walk& walk, Answer& answer, int64_t& minTtl) {
  std::string current = walk.question;
  for (size_t hops = 0; hops < walk.cnames.size(); ++hops) {
    auto next = std::find_if(walk.cnames.begin(), walk.cnames.end(),
                             [&](const CnameRecord& r) { return r.owner == current; });
    if (next == walk.cnames.end()) return;
    if (std::find(answer.cnameChain.begin(), answer.cnameChain.end(), next->target) !=
            answer.cnameChain.end() ||
        next->target == walk.question) {
      return;
    }
    answer.cnameChain.push_back(next->target);
    minTtl = std::min(minTtl, next->ttl);
    current = next->target;
  }
}

ResolveOutcome rcodeOutcome(int rcode) {
  switch (rcode) {
    case 2:
      return ResolveOutcome::failure(ResolveStatus::kServFail, "SERVFAIL");
    case 3:
      return ResolveOutcome::failure(ResolveStatus::kNxDomain, "NXDOMAIN");
    case 5:
      return ResolveOutcome::failure(ResolveStatus::kRefused, "REFUSED");
    case 1:
      return ResolveOutcome::failure(ResolveStatus::kError, "FORMERR from the server");
    case 4:
      return ResolveOutcome::failure(ResolveStatus::kError, "NOTIMP from the server");
    default:
      return ResolveOutcome::failure(ResolveStatus::kError, "RCODE " + std::to_string(rcode));
  }
}

}  // namespace

ResolveOutcome parseAddressAnswer(std::span<const uint8_t> message, api::AddressFamily family) {
  if (message.size() < kHeaderSize) return malformed("shorter than a DNS header");
  if (message.size() > kMaxMessage) return malformed("longer than 65535 bytes");
  const uint8_t flags1 = message[2];
  const uint8_t flags2 = message[3];
  if ((flags1 & 0x80) == 0) return malformed("not a response");
  if ((flags1 & 0x02) != 0) return malformed("truncated (TC) message");
  const int rcode = flags2 & 0x0F;
  if (rcode != 0) return rcodeOutcome(rcode);

  auto walk = walkAnswer(message);
  if (!walk) return malformed("bad question or answer section");

  // Each address record takes at least 16 bytes on the wire, so this bound never drops one.
  const int capacity = static_cast<int>(message.size() / 16) + 1;
  const int length = static_cast<int>(message.size());
  const bool v4 = family == api::AddressFamily::kIPv4;
  Answer answer;
  int64_t minTtl = INT64_MAX;
  int count = capacity;
  int status = ARES_SUCCESS;
  if (v4) {
    std::vector<ares_addrttl> records(static_cast<size_t>(capacity));
    status = ares_parse_a_reply(message.data(), length, nullptr, records.data(), &count);
    if (status == ARES_SUCCESS) {
      for (int i = 0; i < std::clamp(count, 0, capacity); ++i) {
        std::array<uint8_t, 16> bytes{};
        std::memcpy(bytes.data(), &records[static_cast<size_t>(i)].ipaddr, 4);
        answer.addresses.push_back(api::IpAddress::fromBytes(api::AddressFamily::kIPv4, bytes));
        minTtl = std::min(minTtl, sanitizeTtl(records[static_cast<size_t>(i)].ttl));
      }
    }
  } else {
    std::vector<ares_addr6ttl> records(static_cast<size_t>(capacity));
    status = ares_parse_aaaa_reply(message.data(), length, nullptr, records.data(), &count);
    if (status == ARES_SUCCESS) {
      for (int i = 0; i < std::clamp(count, 0, capacity); ++i) {
        std::array<uint8_t, 16> bytes{};
        std::memcpy(bytes.data(), &records[static_cast<size_t>(i)].ip6addr, 16);
        answer.addresses.push_back(api::IpAddress::fromBytes(api::AddressFamily::kIPv6, bytes));
        minTtl = std::min(minTtl, sanitizeTtl(records[static_cast<size_t>(i)].ttl));
      }
    }
  }
  if (status == ARES_ENODATA || (status == ARES_SUCCESS && answer.addresses.empty())) {
    return ResolveOutcome::failure(ResolveStatus::kNoData,
                                   std::string("no ") + (v4 ? "A" : "AAAA") + " records");
  }
  if (status != ARES_SUCCESS) {
    return malformed(ares_strerror(status));
  }

  followChain(*walk, answer, minTtl);
  std::sort(answer.addresses.begin(), answer.addresses.end());
  answer.addresses.erase(std::unique(answer.addresses.begin(), answer.addresses.end()),
                         answer.addresses.end());
  answer.ttl = std::chrono::seconds(minTtl == INT64_MAX ? 0 : minTtl);
  return ResolveOutcome::success(std::move(answer));
}

}  // namespace endpointbinder::dns
