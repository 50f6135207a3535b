// Unit tests for control/esgctl/output.h: the value formats every table uses. Whole tables and JSON
// objects are pinned by the golden files of the command tests.
#include "control/esgctl/output.h"

#include <gtest/gtest.h>

#include <sstream>

namespace esg::esgctl {
namespace {

google::protobuf::Duration Duration(int64_t seconds, int32_t nanos = 0) {
  google::protobuf::Duration d;
  d.set_seconds(seconds);
  d.set_nanos(nanos);
  return d;
}

TEST(OutputTest, Durations) {
  EXPECT_EQ(FormatDuration(Duration(0)), "0.0s");
  EXPECT_EQ(FormatDuration(Duration(12, 500000000)), "12.5s");
  EXPECT_EQ(FormatDuration(Duration(59, 940000000)), "59.9s");
  EXPECT_EQ(FormatDuration(Duration(187)), "3m07s");
  EXPECT_EQ(FormatDuration(Duration(3599)), "59m59s");
  EXPECT_EQ(FormatDuration(Duration(7500)), "2h05m");
}

TEST(OutputTest, Bytes) {
  EXPECT_EQ(FormatBytes(0), "0K");
  EXPECT_EQ(FormatBytes(900 << 10), "900K");
  EXPECT_EQ(FormatBytes(1 << 20), "1.0M");
  EXPECT_EQ(FormatBytes(5ull << 29), "2.5G");
}

TEST(OutputTest, EnumWords) {
  EXPECT_EQ(EnumWord("WORKER_STATE_READY", "WORKER_STATE_"), "ready");
  EXPECT_EQ(EnumWord("OTHER", "WORKER_STATE_"), "other");
}

TEST(OutputTest, JsonStringsEscapeQuotesBackslashesAndControls) {
  EXPECT_EQ(JsonString("plain"), "\"plain\"");
  EXPECT_EQ(JsonString("a\"b\\c\nd\x01"), "\"a\\\"b\\\\c\\u000ad\\u0001\"");
  EXPECT_EQ(JsonString("caf\xc3\xa9"), "\"caf\xc3\xa9\"");  // UTF-8 passes through
}

TEST(OutputTest, StatusCodeNames) {
  EXPECT_EQ(StatusCodeName(grpc::StatusCode::OK), "OK");
  EXPECT_EQ(StatusCodeName(grpc::StatusCode::FAILED_PRECONDITION), "FAILED_PRECONDITION");
  EXPECT_EQ(StatusCodeName(grpc::StatusCode::UNAUTHENTICATED), "UNAUTHENTICATED");
  EXPECT_EQ(StatusCodeName(static_cast<grpc::StatusCode>(99)), "UNKNOWN");
}

TEST(OutputTest, ColumnsAlignTwoSpacesAfterTheLongestHead) {
  EXPECT_EQ(AlignedColumns({{"a", "first"}, {"longer head", "second"}, {"b", ""}}),
            "  a            first\n"
            "  longer head  second\n"
            "  b            \n");
  EXPECT_EQ(AlignedColumns({}), "");
}

TEST(OutputTest, UsageErrorsAreHumanEvenForJson) {
  std::ostringstream err;
  WriteUsageError(err, "scale takes N");
  EXPECT_EQ(err.str(), "esgctl: scale takes N\n");
}

}  // namespace
}  // namespace esg::esgctl
