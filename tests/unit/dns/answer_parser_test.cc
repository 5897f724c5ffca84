// parseAddressAnswer over hand-built wire messages: answers, CNAME chains and TTLs, every
// RCODE, and malformed input (which must give kError, never a crash).
#include "controller/dns/answer_parser.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace endpointbinder::dns {
namespace {

constexpr uint16_t kA = 1;
constexpr uint16_t kCname = 5;
constexpr uint16_t kAaaa = 28;

// Builds a DNS response: header, one question, answer records. Counts are filled in by
// bytes(); rawCounts() overrides them for malformed messages.
class Message {
 public:
  explicit Message(std::string question, uint16_t qtype = kA, int rcode = 0)
      : question_(std::move(question)), qtype_(qtype), rcode_(rcode) {}

  Message& flags(uint16_t value) {
    flags_ = value;
    return *this;
  }
  Message& a(const std::string& owner, uint32_t ttl, const std::string& address) {
    auto ip = api::IpAddress::parse(address);
    std::vector<uint8_t> rdata(ip->bytes().begin(), ip->bytes().begin() + 4);
    return record(owner, kA, ttl, rdata);
  }
  Message& aaaa(const std::string& owner, uint32_t ttl, const std::string& address) {
    auto ip = api::IpAddress::parse(address);
    std::vector<uint8_t> rdata(ip->bytes().begin(), ip->bytes().end());
    return record(owner, kAaaa, ttl, rdata);
  }
  Message& cname(const std::string& owner, uint32_t ttl, const std::string& target) {
    return record(owner, kCname, ttl, encodeName(target));
  }
  Message& record(const std::string& owner, uint16_t type, uint32_t ttl,
                  const std::vector<uint8_t>& rdata) {
    auto name = encodeName(owner);
    answers_.insert(answers_.end(), name.begin(), name.end());
    put16(answers_, type);
    put16(answers_, 1);
    put16(answers_, static_cast<uint16_t>(ttl >> 16));
    put16(answers_, static_cast<uint16_t>(ttl));
    put16(answers_, static_cast<uint16_t>(rdata.size()));
    answers_.insert(answers_.end(), rdata.begin(), rdata.end());
    ++answerCount_;
    return *this;
  }
  Message& rawCounts(uint16_t questions, uint16_t answers) {
    questionOverride_ = questions;
    answerOverride_ = answers;
    return *this;
  }

  std::vector<uint8_t> bytes() const {
    std::vector<uint8_t> out;
    put16(out, 0x1234);
    put16(out, static_cast<uint16_t>(flags_ | rcode_));
    put16(out, questionOverride_.value_or(1));
    put16(out, answerOverride_.value_or(answerCount_));
    put16(out, 0);
    put16(out, 0);
    auto name = encodeName(question_);
    out.insert(out.end(), name.begin(), name.end());
    put16(out, qtype_);
    put16(out, 1);
    out.insert(out.end(), answers_.begin(), answers_.end());
    return out;
  }

  static std::vector<uint8_t> encodeName(const std::string& name) {
    std::vector<uint8_t> out;
    size_t start = 0;
    while (start < name.size()) {
      size_t dot = name.find('.', start);
      if (dot == std::string::npos) dot = name.size();
      out.push_back(static_cast<uint8_t>(dot - start));
      out.insert(out.end(), name.begin() + static_cast<long>(start),
                 name.begin() + static_cast<long>(dot));
      start = dot + 1;
    }
    out.push_back(0);
    return out;
  }

 private:
  static void put16(std::vector<uint8_t>& out, uint16_t value) {
    out.push_back(static_cast<uint8_t>(value >> 8));
    out.push_back(static_cast<uint8_t>(value));
  }

  std::string question_;
  uint16_t qtype_;
  int rcode_;
  uint16_t flags_ = 0x8180;  // QR, RD, RA
  std::vector<uint8_t> answers_;
  uint16_t answerCount_ = 0;
  std::optional<uint16_t> questionOverride_;
  std::optional<uint16_t> answerOverride_;
};

ResolveOutcome parseV4(const std::vector<uint8_t>& bytes) {
  return parseAddressAnswer(bytes, api::AddressFamily::kIPv4);
}
ResolveOutcome parseV6(const std::vector<uint8_t>& bytes) {
  return parseAddressAnswer(bytes, api::AddressFamily::kIPv6);
}

std::vector<std::string> texts(const Answer& answer) {
  std::vector<std::string> out;
  for (const auto& address : answer.addresses) out.push_back(address.toString());
  return out;
}

TEST(AnswerParserTest, AAnswerIsSortedDeduplicatedWithMinimumTtl) {
  auto bytes = Message("db.test")
                   .a("db.test", 60, "10.0.0.9")
                   .a("db.test", 30, "10.0.0.1")
                   .a("db.test", 45, "10.0.0.9")
                   .bytes();
  auto outcome = parseV4(bytes);
  ASSERT_EQ(outcome.status, ResolveStatus::kOk) << outcome.message;
  EXPECT_EQ(texts(outcome.answer), (std::vector<std::string>{"10.0.0.1", "10.0.0.9"}));
  EXPECT_EQ(outcome.answer.ttl, std::chrono::seconds(30));
  EXPECT_TRUE(outcome.answer.cnameChain.empty());
}

TEST(AnswerParserTest, AaaaAnswerUsesCanonicalText) {
  auto bytes = Message("v6.test", kAaaa)
                   .aaaa("v6.test", 20, "fd00:0:0:0:0:0:0:1")
                   .aaaa("v6.test", 10, "FD00::A")
                   .bytes();
  auto outcome = parseV6(bytes);
  ASSERT_EQ(outcome.status, ResolveStatus::kOk) << outcome.message;
  EXPECT_EQ(texts(outcome.answer), (std::vector<std::string>{"fd00::1", "fd00::a"}));
  EXPECT_EQ(outcome.answer.ttl, std::chrono::seconds(10));
}

TEST(AnswerParserTest, CnameChainIsFollowedAndItsTtlsCount) {
  auto bytes = Message("Alias.TEST")
                   .cname("alias.test", 9, "middle.test")
                   .cname("middle.test", 3, "final.test")
                   .a("final.test", 60, "10.0.0.7")
                   .bytes();
  auto outcome = parseV4(bytes);
  ASSERT_EQ(outcome.status, ResolveStatus::kOk) << outcome.message;
  EXPECT_EQ(texts(outcome.answer), (std::vector<std::string>{"10.0.0.7"}));
  EXPECT_EQ(outcome.answer.ttl, std::chrono::seconds(3));
  EXPECT_EQ(outcome.answer.cnameChain, (std::vector<std::string>{"middle.test", "final.test"}));
}

TEST(AnswerParserTest, AddressTtlBelowCnameTtlWins) {
  auto bytes = Message("alias.test")
                   .cname("alias.test", 300, "final.test")
                   .a("final.test", 7, "10.0.0.7")
                   .bytes();
  auto outcome = parseV4(bytes);
  ASSERT_EQ(outcome.status, ResolveStatus::kOk) << outcome.message;
  EXPECT_EQ(outcome.answer.ttl, std::chrono::seconds(7));
}

TEST(AnswerParserTest, CnameLoopEndsWithoutData) {
  auto bytes = Message("a.test").cname("a.test", 5, "b.test").cname("b.test", 5, "a.test").bytes();
  EXPECT_EQ(parseV4(bytes).status, ResolveStatus::kNoData);
}

TEST(AnswerParserTest, TtlWithTopBitSetCountsAsZero) {
  auto bytes = Message("db.test").a("db.test", 0x80000000u, "10.0.0.1").bytes();
  auto outcome = parseV4(bytes);
  ASSERT_EQ(outcome.status, ResolveStatus::kOk) << outcome.message;
  EXPECT_EQ(outcome.answer.ttl, std::chrono::seconds(0));
}

TEST(AnswerParserTest, NoRecordOfTheFamilyIsNoData) {
  EXPECT_EQ(parseV4(Message("db.test").bytes()).status, ResolveStatus::kNoData);
  auto onlyV6 = Message("db.test").aaaa("db.test", 5, "fd00::1").bytes();
  EXPECT_EQ(parseV4(onlyV6).status, ResolveStatus::kNoData);
  auto onlyV4 = Message("db.test", kAaaa).a("db.test", 5, "10.0.0.1").bytes();
  EXPECT_EQ(parseV6(onlyV4).status, ResolveStatus::kNoData);
}

TEST(AnswerParserTest, AddressesOfAnotherNameAreNotTheAnswer) {
  auto bytes = Message("db.test").a("elsewhere.test", 5, "10.0.0.1").bytes();
  EXPECT_NE(parseV4(bytes).status, ResolveStatus::kOk);
}

TEST(AnswerParserTest, RcodesMapToStatuses) {
  EXPECT_EQ(parseV4(Message("x.test", kA, 3).bytes()).status, ResolveStatus::kNxDomain);
  EXPECT_EQ(parseV4(Message("x.test", kA, 2).bytes()).status, ResolveStatus::kServFail);
  EXPECT_EQ(parseV4(Message("x.test", kA, 5).bytes()).status, ResolveStatus::kRefused);
  auto notImp = parseV4(Message("x.test", kA, 4).bytes());
  EXPECT_EQ(notImp.status, ResolveStatus::kError);
  EXPECT_NE(notImp.message.find("NOTIMP"), std::string::npos);
  // An NXDOMAIN that carries records is still NXDOMAIN.
  auto withRecords = Message("x.test", kA, 3).a("x.test", 5, "10.0.0.1").bytes();
  EXPECT_EQ(parseV4(withRecords).status, ResolveStatus::kNxDomain);
}

TEST(AnswerParserTest, MalformedMessagesAreErrors) {
  const auto good = Message("db.test").a("db.test", 5, "10.0.0.1").bytes();
  ASSERT_EQ(parseV4(good).status, ResolveStatus::kOk);

  std::vector<std::pair<std::string, std::vector<uint8_t>>> cases;
  cases.emplace_back("empty", std::vector<uint8_t>{});
  cases.emplace_back("short header", std::vector<uint8_t>(good.begin(), good.begin() + 11));
  for (size_t cut = 12; cut < good.size(); ++cut) {
    cases.emplace_back("cut at " + std::to_string(cut),
                       std::vector<uint8_t>(good.begin(), good.begin() + static_cast<long>(cut)));
  }
  cases.emplace_back("query, not response",
                     Message("db.test").flags(0x0100).a("db.test", 5, "10.0.0.1").bytes());
  cases.emplace_back("truncated TC",
                     Message("db.test").flags(0x8380).a("db.test", 5, "10.0.0.1").bytes());
  cases.emplace_back("more answers claimed",
                     Message("db.test").a("db.test", 5, "10.0.0.1").rawCounts(1, 3).bytes());
  cases.emplace_back("no question",
                     Message("db.test").a("db.test", 5, "10.0.0.1").rawCounts(0, 1).bytes());
  {
    // The answer's owner is a compression pointer to itself.
    auto bytes = Message("db.test").bytes();
    const auto self = static_cast<uint8_t>(bytes.size());
    std::vector<uint8_t> record = {0xC0, self, 0, 1, 0, 1, 0, 0, 0, 5, 0, 4, 10, 0, 0, 1};
    bytes.insert(bytes.end(), record.begin(), record.end());
    bytes[7] = 1;
    cases.emplace_back("pointer loop", bytes);
  }
  {
    // A pointer past the end of the message.
    auto bytes = Message("db.test").bytes();
    std::vector<uint8_t> record = {0xC0, 0xFF, 0, 1, 0, 1, 0, 0, 0, 5, 0, 4, 10, 0, 0, 1};
    bytes.insert(bytes.end(), record.begin(), record.end());
    bytes[7] = 1;
    cases.emplace_back("pointer past end", bytes);
  }
  {
    // An A record whose rdlength claims more than is there.
    auto bytes = good;
    bytes[bytes.size() - 5] = 0x40;
    cases.emplace_back("rdlength past end", bytes);
  }
  for (const auto& [name, bytes] : cases) {
    auto outcome = parseV4(bytes);
    EXPECT_EQ(outcome.status, ResolveStatus::kError) << name << ": " << outcome.message;
    EXPECT_FALSE(outcome.message.empty()) << name;
  }
}

// Random mutations of valid messages: every result is a well-formed outcome. Under ASan
// (EB_SANITIZE) this also proves no out-of-bounds read; the fuzz target goes further.
TEST(AnswerParserTest, MutatedMessagesNeverCrash) {
  const std::vector<std::vector<uint8_t>> seeds = {
      Message("db.test").a("db.test", 5, "10.0.0.1").a("db.test", 6, "10.0.0.2").bytes(),
      Message("alias.test")
          .cname("alias.test", 9, "final.test")
          .a("final.test", 60, "10.0.0.7")
          .bytes(),
      Message("v6.test", kAaaa).aaaa("v6.test", 20, "fd00::1").bytes(),
  };
  std::mt19937 rng(20240601);
  int ok = 0;
  for (int round = 0; round < 20000; ++round) {
    auto bytes = seeds[static_cast<size_t>(round) % seeds.size()];
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits && !bytes.empty(); ++e) {
      switch (rng() % 3) {
        case 0:
          bytes[rng() % bytes.size()] = static_cast<uint8_t>(rng());
          break;
        case 1:
          bytes.resize(rng() % (bytes.size() + 1));
          break;
        case 2:
          bytes.insert(bytes.begin() + static_cast<long>(rng() % (bytes.size() + 1)),
                       static_cast<uint8_t>(rng()));
      }
    }
    for (auto family : {api::AddressFamily::kIPv4, api::AddressFamily::kIPv6}) {
      auto outcome = parseAddressAnswer(bytes, family);
      if (outcome.ok()) {
        ++ok;
        ASSERT_FALSE(outcome.answer.addresses.empty());
        for (const auto& address : outcome.answer.addresses) {
          ASSERT_EQ(address.isV4(), family == api::AddressFamily::kIPv4);
        }
      } else {
        ASSERT_FALSE(outcome.message.empty());
      }
    }
  }
  EXPECT_GT(ok, 0);  // the mutations did not all destroy the message
}

}  // namespace
}  // namespace endpointbinder::dns
