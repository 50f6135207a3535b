// Unit tests for control/esgctl/args.h: option parsing, number formats and shell word splitting.
#include "control/esgctl/args.h"

#include <gtest/gtest.h>

namespace esg::esgctl {
namespace {

TEST(ParseArgsTest, ValuesSwitchesAndPositionals) {
  ParsedArgs args;
  std::string error;
  ASSERT_TRUE(ParseArgs({"reload", "--release", "/srv/a", "x", "--timeout=2.5", "--quick", "--", "y"},
                        {"--release", "--timeout"}, {"--quick"}, &args, &error))
      << error;
  EXPECT_EQ(args.values.at("--release"), "/srv/a");
  EXPECT_EQ(args.values.at("--timeout"), "2.5");
  EXPECT_EQ(args.values.at("--quick"), "1");
  EXPECT_EQ(args.positionals, (std::vector<std::string>{"x", "--", "y"}));
}

TEST(ParseArgsTest, AnInlineValueMayBeEmptyOrContainEquals) {
  ParsedArgs args;
  std::string error;
  ASSERT_TRUE(ParseArgs({"reload", "--release=", "--timeout=a=b"}, {"--release", "--timeout"}, {}, &args, &error));
  EXPECT_EQ(args.values.at("--release"), "");
  EXPECT_EQ(args.values.at("--timeout"), "a=b");
}

TEST(ParseArgsTest, TheLastOfARepeatedOptionWins) {
  ParsedArgs args;
  std::string error;
  ASSERT_TRUE(ParseArgs({"events", "--count", "1", "--count", "2"}, {"--count"}, {}, &args, &error));
  EXPECT_EQ(args.values.at("--count"), "2");
}

TEST(ParseArgsTest, UnknownOptionNamesTheCommand) {
  ParsedArgs args;
  std::string error;
  EXPECT_FALSE(ParseArgs({"stop", "--force"}, {}, {"--quick"}, &args, &error));
  EXPECT_EQ(error, "no such option for 'stop': --force");
  error.clear();
  EXPECT_FALSE(ParseArgs({"stop", "--force=1"}, {}, {"--quick"}, &args, &error));
  EXPECT_EQ(error, "no such option for 'stop': --force");
}

TEST(ParseArgsTest, AValueOptionAtTheEndNeedsAValue) {
  ParsedArgs args;
  std::string error;
  EXPECT_FALSE(ParseArgs({"reload", "--timeout"}, {"--timeout"}, {}, &args, &error));
  EXPECT_EQ(error, "option --timeout needs a value");
}

TEST(ParseIntTest, AcceptsOnlyAWholeNumberInRange) {
  long v = -7;
  EXPECT_TRUE(ParseInt("1", 1, 10000, &v));
  EXPECT_EQ(v, 1);
  EXPECT_TRUE(ParseInt("10000", 1, 10000, &v));
  EXPECT_EQ(v, 10000);
  // strtol's leading blanks and sign are accepted (they cannot come from the shell's word splitting).
  EXPECT_TRUE(ParseInt(" +3", 1, 10000, &v));
  EXPECT_EQ(v, 3);
  for (const char* bad : {"", "0", "10001", "-1", "1.5", "3x", "3 ", "99999999999999999999999"}) {
    v = -7;
    EXPECT_FALSE(ParseInt(bad, 1, 10000, &v)) << bad;
    EXPECT_EQ(v, -7) << bad;
  }
}

TEST(ParseSecondsTest, AcceptsOnlyAFinitePositiveNumber) {
  double v = -7;
  EXPECT_TRUE(ParseSeconds("2.5", &v));
  EXPECT_DOUBLE_EQ(v, 2.5);
  EXPECT_TRUE(ParseSeconds("30", &v));
  EXPECT_DOUBLE_EQ(v, 30);
  for (const char* bad : {"", "0", "-1", "nan", "inf", "1e400", "2s", "soon"}) {
    v = -7;
    EXPECT_FALSE(ParseSeconds(bad, &v)) << bad;
    EXPECT_DOUBLE_EQ(v, -7) << bad;
  }
}

TEST(SplitWordsTest, WhitespaceSeparatesAndQuotesGroup) {
  Words words;
  ASSERT_TRUE(SplitWords("  reload\t--release '/srv/my app'  \"a'b\" \"\" x\"y z\"", &words));
  EXPECT_EQ(words, (Words{"reload", "--release", "/srv/my app", "a'b", "", "xy z"}));
  ASSERT_TRUE(SplitWords("   ", &words));
  EXPECT_TRUE(words.empty());
}

TEST(SplitWordsTest, AnUnclosedQuoteIsAnError) {
  Words words;
  EXPECT_FALSE(SplitWords("reload --release '/srv/app", &words));
  EXPECT_FALSE(SplitWords("\"", &words));
}

}  // namespace
}  // namespace esg::esgctl
