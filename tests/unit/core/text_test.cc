// Tests for core/text.h: the ASCII helpers the flag, config, URL and header parsers share.
#include "controller/core/text.h"

#include <gtest/gtest.h>

#include <string>

#include "controller/core/instance.h"

namespace endpointbinder::core {
namespace {

TEST(Trimmed, StripsOnlyTheGivenCharactersAtBothEnds) {
  EXPECT_EQ(trimmed(" \t a b \t "), "a b");
  EXPECT_EQ(trimmed("\n a \n"), "\n a \n");  // the default strips spaces and tabs only
  EXPECT_EQ(trimmed("\n a \r\n", kAsciiWhitespace), "a");
  EXPECT_EQ(trimmed("\v\fa\f", " \t\r\f\v"), "a");
  EXPECT_EQ(trimmed("xxaxx", "x"), "a");
}

TEST(Trimmed, NothingButStrippedCharactersLeavesAnEmptyView) {
  EXPECT_EQ(trimmed(""), "");
  EXPECT_EQ(trimmed(" \t \t"), "");
  EXPECT_TRUE(trimmed(" ", " ").empty());
  static_assert(trimmed("  a ") == "a", "usable in constant expressions");
}

TEST(AsciiLower, LowersAsciiLettersOnlyWhateverTheLocale) {
  EXPECT_EQ(asciiLower("Content-Type: ABC xyz 09"), "content-type: abc xyz 09");
  EXPECT_EQ(asciiLower("\xC3\x84@[`{"), "\xC3\x84@[`{");  // UTF-8 and the bytes around A-Z, a-z
  EXPECT_EQ(asciiLower(""), "");
}

TEST(PrintableAscii, ReplacesEveryByteOutsideThePrintableRangeAndCuts) {
  EXPECT_EQ(printableAscii("ok ~"), "ok ~");
  EXPECT_EQ(printableAscii(std::string("a\0b\x1f\x7f\xC3\xA9", 7)), "a?b????");
  EXPECT_EQ(printableAscii("a\nb", std::string_view::npos, ' '), "a b");
  EXPECT_EQ(printableAscii("abcdef", 3), "abc");
  EXPECT_EQ(printableAscii("ab", 10), "ab");
  EXPECT_EQ(printableAscii("abc", 0), "");
}

TEST(IsInstanceId, AcceptsEc2sShortAndLongIdsOnly) {
  EXPECT_TRUE(isInstanceId("i-0123456789abcdef0"));
  EXPECT_TRUE(isInstanceId("i-1234abcd"));
  EXPECT_TRUE(isInstanceId("i-0"));
  EXPECT_FALSE(isInstanceId("i-"));
  EXPECT_FALSE(isInstanceId("i-0123456789abcdef01"));  // 18 digits
  EXPECT_FALSE(isInstanceId("i-0123456789ABCDEF0"));   // EC2 writes IDs in lowercase
  EXPECT_FALSE(isInstanceId("j-1234abcd"));
  EXPECT_FALSE(isInstanceId("i-1234abcg"));
  EXPECT_FALSE(isInstanceId(""));
}

}  // namespace
}  // namespace endpointbinder::core
