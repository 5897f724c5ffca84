// Tests for core::Error: kind names and the one-line text used in logs and status.
#include "controller/core/error.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace endpointbinder::core {
namespace {

TEST(ErrorKindName, EveryKindHasADistinctName) {
  EXPECT_STREQ(errorKindName(ErrorKind::kRetryable), "Retryable");
  EXPECT_STREQ(errorKindName(ErrorKind::kTerminal), "Terminal");
  EXPECT_STREQ(errorKindName(ErrorKind::kAuth), "Auth");
  EXPECT_STREQ(errorKindName(ErrorKind::kNotFound), "NotFound");
  EXPECT_STREQ(errorKindName(ErrorKind::kConflict), "Conflict");
  std::set<std::string> names;
  for (auto kind : {ErrorKind::kRetryable, ErrorKind::kTerminal, ErrorKind::kAuth,
                    ErrorKind::kNotFound, ErrorKind::kConflict}) {
    names.insert(errorKindName(kind));
  }
  EXPECT_EQ(names.size(), 5u);
}

struct ToStringCase {
  const char* name;
  Error error;
  const char* want;
};

class ErrorToString : public testing::TestWithParam<ToStringCase> {};

TEST_P(ErrorToString, Formats) { EXPECT_EQ(GetParam().error.toString(), GetParam().want); }

INSTANTIATE_TEST_SUITE_P(
    Table, ErrorToString,
    testing::Values(
        ToStringCase{"All",
                     {ErrorKind::kRetryable, "Rate exceeded", "Throttling", "1234", 400},
                     "Throttling: Rate exceeded (request id 1234, HTTP 400)"},
        ToStringCase{"MessageOnly", {ErrorKind::kTerminal, "bad port", "", "", 0}, "bad port"},
        ToStringCase{"CodeOnly", {ErrorKind::kRetryable, "", "SERVFAIL", "", 0}, "SERVFAIL"},
        ToStringCase{"CodeAndStatus",
                     {ErrorKind::kRetryable, "", "Throttling", "", 400},
                     "Throttling (HTTP 400)"},
        ToStringCase{"RequestIdOnlyDetail",
                     {ErrorKind::kNotFound, "no such group", "TargetGroupNotFound", "abc-1", 0},
                     "TargetGroupNotFound: no such group (request id abc-1)"},
        ToStringCase{"StatusWithoutCode",
                     {ErrorKind::kRetryable, "service unavailable", "", "", 503},
                     "service unavailable (HTTP 503)"},
        ToStringCase{"NothingButKind", {ErrorKind::kAuth, "", "", "", 0}, "Auth"},
        ToStringCase{
            "KindWithStatus", {ErrorKind::kConflict, "", "", "", 409}, "Conflict (HTTP 409)"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(MakeError, BuildsAnUnexpectedWithKindMessageAndCode) {
  Result<int> result = makeError(ErrorKind::kAuth, "token expired", "ExpiredToken");
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().kind, ErrorKind::kAuth);
  EXPECT_EQ(result.error().message, "token expired");
  EXPECT_EQ(result.error().code, "ExpiredToken");
  EXPECT_TRUE(result.error().requestId.empty());
  EXPECT_EQ(result.error().httpStatus, 0);
  EXPECT_EQ(result.error().toString(), "ExpiredToken: token expired");
}

}  // namespace
}  // namespace endpointbinder::core
