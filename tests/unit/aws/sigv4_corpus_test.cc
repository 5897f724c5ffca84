// The official AWS SigV4 test corpus (aws-c-auth's aws-signing-test-suite/v4): every case's
// canonical request, string to sign, signature and signed request must match exactly.
// The corpus lives beside the checkout ($EB_SHARED_DIR/testdata/...); when it is absent the
// tests report themselves skipped with the reason instead of passing.
#include <cpprest/json.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "controller/aws/sigv4.h"

namespace endpointbinder::aws {
namespace {

namespace fs = std::filesystem;

fs::path corpusDir() {
  const char* shared = std::getenv("EB_SHARED_DIR");
  const fs::path base =
      shared != nullptr && *shared != '\0' ? fs::path(shared) : fs::path("../shared");
  return base / "testdata" / "aws-signing-test-suite" / "v4";
}

std::vector<std::string> corpusCases() {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(corpusDir(), ec)) {
    if (entry.is_directory() && fs::exists(entry.path() / "context.json")) {
      names.push_back(entry.path().filename().string());
    }
  }
  std::sort(names.begin(), names.end());
  if (names.empty()) names.push_back("");  // one placeholder that reports the skip
  return names;
}

std::string readFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

struct RawRequest {
  std::string method;
  std::string target;  // path and query as written in the request line
  Headers headers;
  std::string body;
};

// Parses the corpus's request files: "METHOD target HTTP/1.1", "Name:value" lines (a line that
// starts with whitespace continues the previous value, kept with its line break), a blank line,
// then the body. The target may contain spaces ("GET /example space/ HTTP/1.1").
RawRequest parseRawRequest(const std::string& text) {
  RawRequest request;
  size_t pos = 0;
  auto nextLine = [&](std::string& line) {
    if (pos > text.size()) return false;
    auto end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    line = text.substr(pos, end - pos);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    pos = end + 1;
    return true;
  };
  std::string line;
  nextLine(line);
  const auto firstSpace = line.find(' ');
  const auto lastSpace = line.rfind(' ');
  request.method = line.substr(0, firstSpace);
  request.target = line.substr(firstSpace + 1, lastSpace - firstSpace - 1);
  while (nextLine(line)) {
    if (line.empty()) break;
    if (line.front() == ' ' || line.front() == '\t') {
      request.headers.back().second += "\n" + line;
      continue;
    }
    const auto colon = line.find(':');
    request.headers.emplace_back(line.substr(0, colon), line.substr(colon + 1));
  }
  if (pos < text.size()) request.body = text.substr(pos);
  return request;
}

core::WallTime parseTimestamp(const std::string& text) {
  // "2015-08-30T12:36:00Z"
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  EXPECT_EQ(std::sscanf(text.c_str(), "%d-%d-%dT%d:%d:%dZ", &y, &mo, &d, &h, &mi, &s), 6);
  using namespace std::chrono;
  const sys_days day = year{y} / month{static_cast<unsigned>(mo)} / static_cast<unsigned>(d);
  return core::WallTime{day} + hours{h} + minutes{mi} + seconds{s};
}

std::vector<std::pair<std::string, std::string>> normalisedHeaders(const Headers& headers) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [name, value] : headers) {
    std::string lower = name;
    std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
    out.emplace_back(lower, value);
  }
  std::sort(out.begin(), out.end());
  return out;
}

class SigV4CorpusTest : public ::testing::TestWithParam<std::string> {};

TEST_P(SigV4CorpusTest, MatchesOfficialVectors) {
  if (GetParam().empty()) {
    GTEST_SKIP() << "SigV4 corpus not found at " << corpusDir()
                 << " (set EB_SHARED_DIR to the shared/ folder beside the checkout)";
  }
  const fs::path dir = corpusDir() / GetParam();
  const auto context = web::json::value::parse(readFile(dir / "context.json"));
  const auto& creds = context.at("credentials");

  Credentials credentials;
  credentials.accessKeyId = creds.at("access_key_id").as_string();
  credentials.secretAccessKey = creds.at("secret_access_key").as_string();
  if (creds.has_field("token")) credentials.sessionToken = creds.at("token").as_string();

  SigningParams params;
  params.region = context.at("region").as_string();
  params.service = context.at("service").as_string();
  params.time = parseTimestamp(context.at("timestamp").as_string());
  params.normalizePath = context.at("normalize").as_bool();
  params.signBody = context.has_field("sign_body") && context.at("sign_body").as_bool();
  params.omitSessionTokenFromSignature =
      context.has_field("omit_session_token") && context.at("omit_session_token").as_bool();

  const RawRequest raw = parseRawRequest(readFile(dir / "request.txt"));
  HttpRequest request;
  request.method = raw.method;
  request.url = "https://" + std::string(findHeader(raw.headers, "host")) + raw.target;
  request.headers = raw.headers;
  request.body = raw.body;

  const SigningResult result = signRequest(request, credentials, params);

  EXPECT_EQ(result.canonicalRequest, readFile(dir / "header-canonical-request.txt"));
  EXPECT_EQ(result.stringToSign, readFile(dir / "header-string-to-sign.txt"));
  EXPECT_EQ(result.signature, readFile(dir / "header-signature.txt"));

  const RawRequest expected = parseRawRequest(readFile(dir / "header-signed-request.txt"));
  EXPECT_EQ(result.authorization, findHeader(expected.headers, "authorization"));
  EXPECT_EQ(findHeader(request.headers, "authorization"), result.authorization);
  EXPECT_EQ(normalisedHeaders(request.headers), normalisedHeaders(expected.headers));
  EXPECT_EQ(request.body, expected.body);
}

INSTANTIATE_TEST_SUITE_P(Corpus, SigV4CorpusTest, ::testing::ValuesIn(corpusCases()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string name = info.param.empty() ? "CorpusMissing" : info.param;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

TEST(SigV4Corpus, HasEveryCase) {
  const auto cases = corpusCases();
  if (cases.size() == 1 && cases.front().empty()) {
    GTEST_SKIP() << "SigV4 corpus not found at " << corpusDir();
  }
  EXPECT_EQ(cases.size(), 38u) << "the v4 corpus has 38 cases; a missing case would go untested";
}

}  // namespace
}  // namespace endpointbinder::aws
