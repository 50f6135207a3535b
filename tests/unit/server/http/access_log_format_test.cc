// Unit tests for server/http/access_log_format: compiling gunicorn-style formats and rendering lines.
#include "server/http/access_log_format.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

namespace esg::http {
namespace {

std::string Render(std::string_view spec, const AccessLogEntry& entry) {
  AccessLogFormat format;
  std::string error;
  EXPECT_TRUE(AccessLogFormat::Compile(spec, &format, &error)) << error;
  std::string out;
  format.Render(entry, &out);
  return out;
}

std::string CompileError(std::string_view spec) {
  AccessLogFormat format;
  std::string error;
  EXPECT_FALSE(AccessLogFormat::Compile(spec, &format, &error)) << spec;
  return error;
}

AccessLogEntry Sample() {
  AccessLogEntry e;
  e.client_host = "10.0.0.7";
  e.client_text = "10.0.0.7:5000";
  e.method = "GET";
  e.target = "/a%20b/c?x=1&y=2";
  e.http_minor = 1;
  e.status = 200;
  e.body_bytes = 12;
  e.seconds = 1.2345678;
  e.response_head = "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nX-Trace: abc\r\n\r\n";
  return e;
}

TEST(AccessLogFormatTest, SimpleAtoms) {
  AccessLogEntry e = Sample();
  EXPECT_EQ(Render("%(h)s %(l)s %(m)s %(U)s %(q)s %(H)s %(s)s %(B)s %(b)s", e),
            "10.0.0.7 - GET /a b/c x=1&y=2 HTTP/1.1 200 12 12");
  EXPECT_EQ(Render("\"%(r)s\"", e), "\"GET /a%20b/c?x=1&y=2 HTTP/1.1\"");
  e.http_minor = 0;
  EXPECT_EQ(Render("%(H)s", e), "HTTP/1.0");
}

TEST(AccessLogFormatTest, LiteralsAndPercent) {
  EXPECT_EQ(Render("100%% done: %(s)s!", Sample()), "100% done: 200!");
  EXPECT_EQ(Render("no atoms at all", Sample()), "no atoms at all");
}

TEST(AccessLogFormatTest, BytesOrDashForEmptyBody) {
  AccessLogEntry e = Sample();
  e.body_bytes = 0;
  EXPECT_EQ(Render("%(b)s %(B)s", e), "- 0");
}

TEST(AccessLogFormatTest, Durations) {
  AccessLogEntry e = Sample();
  EXPECT_EQ(Render("%(T)s %(M)s %(D)s %(L)s", e), "1 1234 1234567 1.234567");
  AccessLogFormat format;
  std::string error;
  ASSERT_TRUE(AccessLogFormat::Compile("%(D)s", &format, &error));
  EXPECT_TRUE(format.needs_duration());
  ASSERT_TRUE(AccessLogFormat::Compile("%(h)s", &format, &error));
  EXPECT_FALSE(format.needs_duration());
  EXPECT_FALSE(format.needs_time());
}

TEST(AccessLogFormatTest, ClfTime) {
  setenv("TZ", "UTC", 1);
  tzset();
  AccessLogEntry e = Sample();
  e.unix_micros = int64_t{971186136} * 1000000;  // 2000-10-10 13:55:36 UTC
  EXPECT_EQ(Render("%(t)s", e), "[10/Oct/2000:13:55:36 +0000]");
}

TEST(AccessLogFormatTest, Pid) {
  EXPECT_EQ(Render("%(p)s", Sample()), "<" + std::to_string(getpid()) + ">");
}

TEST(AccessLogFormatTest, RequestHeadersAndDerivedAtoms) {
  AccessLogFormat format;
  std::string error;
  ASSERT_TRUE(AccessLogFormat::Compile("%({X-Request-ID}i)s|%(f)s|%(a)s|%(u)s|%({x-missing}i)s", &format, &error));
  ASSERT_EQ(format.request_headers(),
            (std::vector<std::string>{"x-request-id", "referer", "user-agent", "authorization", "x-missing"}));
  std::vector<std::string> values = {"req-1", "http://r/", "curl/8", "Basic YWxpY2U6c2VjcmV0", ""};
  AccessLogEntry e = Sample();
  e.request_headers = &values;
  std::string out;
  format.Render(e, &out);
  EXPECT_EQ(out, "req-1|http://r/|curl/8|alice|-");
}

TEST(AccessLogFormatTest, UserIsDashWithoutBasicAuth) {
  AccessLogFormat format;
  std::string error;
  ASSERT_TRUE(AccessLogFormat::Compile("%(u)s", &format, &error));
  for (std::string auth : {"", "Bearer abc", "Basic !!!", "Basic Og=="}) {
    std::vector<std::string> values = {auth};
    AccessLogEntry e = Sample();
    e.request_headers = &values;
    std::string out;
    format.Render(e, &out);
    EXPECT_EQ(out, "-") << auth;
  }
}

TEST(AccessLogFormatTest, ResponseHeaders) {
  EXPECT_EQ(Render("%({content-type}o)s %({x-trace}o)s %({absent}o)s", Sample()), "text/plain abc -");
}

TEST(AccessLogFormatTest, EnvironmentVariables) {
  setenv("ESG_TEST_ACCESS_VAR", "blue \"sky\"", 1);
  EXPECT_EQ(Render("%({ESG_TEST_ACCESS_VAR}e)s %({esg_test_access_var}e)s %({ESG_TEST_NOT_SET}e)s", Sample()),
            "blue \\\"sky\\\" blue \\\"sky\\\" -");
}

TEST(AccessLogFormatTest, HostileValuesAreEscaped) {
  std::vector<std::string> values = {std::string("a\r\nINFO: forged\" \\ \x1b[31m \xff\xfe end", 31)};
  AccessLogFormat format;
  std::string error;
  ASSERT_TRUE(AccessLogFormat::Compile("%({x-evil}i)s", &format, &error));
  AccessLogEntry e = Sample();
  e.request_headers = &values;
  std::string out;
  format.Render(e, &out);
  EXPECT_EQ(out, "a\\x0d\\x0aINFO: forged\\\" \\\\ \\x1b[31m \\xff\\xfe end");
  for (char c : out) EXPECT_TRUE(c >= 0x20 && c < 0x7f) << static_cast<int>(c);
}

TEST(AccessLogFormatTest, HeaderAtomIsBounded) {
  std::vector<std::string> values = {std::string(100000, 'a')};
  AccessLogFormat format;
  std::string error;
  ASSERT_TRUE(AccessLogFormat::Compile("%({x-big}i)s", &format, &error));
  AccessLogEntry e = Sample();
  e.request_headers = &values;
  std::string out;
  format.Render(e, &out);
  EXPECT_EQ(out.size(), AccessLogFormat::kMaxHeaderBytes);
}

TEST(AccessLogFormatTest, DecodedPathStaysEscaped) {
  AccessLogEntry e = Sample();
  e.target = "/x%0d%0aINFO:%22%ff%zz%";
  EXPECT_EQ(Render("%(U)s", e), "/x\\x0d\\x0aINFO:\\\"\\xff%zz%");
}

TEST(AccessLogFormatTest, JsonPreset) {
  AccessLogFormat format;
  std::string error;
  ASSERT_TRUE(AccessLogFormat::Compile("json", &format, &error));
  EXPECT_TRUE(format.json());
  EXPECT_TRUE(format.needs_duration());
  ASSERT_EQ(format.request_headers(), (std::vector<std::string>{"user-agent", "x-request-id"}));
  std::vector<std::string> values = {std::string("ag\"ent\\\n\xc3", 9), ""};
  AccessLogEntry e = Sample();
  e.unix_micros = int64_t{971186136} * 1000000 + 42;
  e.request_headers = &values;
  std::string out;
  format.Render(e, &out);
  EXPECT_EQ(out,
            "{\"time\":\"2000-10-10T13:55:36.000042Z\",\"client\":\"10.0.0.7:5000\",\"method\":\"GET\","
            "\"path\":\"/a%20b/c\",\"query\":\"x=1&y=2\",\"protocol\":\"HTTP/1.1\",\"status\":200,"
            "\"bytes\":12,\"duration\":1.234567,\"user_agent\":\"ag\\\"ent\\\\\\\\\\\\x0a\\\\xc3\","
            "\"request_id\":null}");
}

TEST(AccessLogFormatTest, RefusesUnknownAtomsAndMalformedFormats) {
  EXPECT_NE(CompileError("%(x)s").find("unknown atom '%(x)s'"), std::string::npos);
  EXPECT_NE(CompileError("%(hh)s").find("unknown atom"), std::string::npos);
  EXPECT_NE(CompileError("%(h)d").find("must end with 's'"), std::string::npos);
  EXPECT_NE(CompileError("%(h)").find("must end with 's'"), std::string::npos);
  EXPECT_NE(CompileError("%(h").find("no closing ')'"), std::string::npos);
  EXPECT_NE(CompileError("50% off").find("'%%'"), std::string::npos);
  EXPECT_NE(CompileError("trailing %").find("'%%'"), std::string::npos);
  EXPECT_NE(CompileError("%({}i)s").find("names no header"), std::string::npos);
  EXPECT_NE(CompileError("%({x}z)s").find("unknown atom"), std::string::npos);
  EXPECT_FALSE(CompileError("").empty());
}

TEST(AccessLogFormatTest, FindResponseHeaderStopsAtTheHeadEnd) {
  std::string_view value;
  EXPECT_FALSE(FindResponseHeader("HTTP/1.1 200 OK\r\n\r\nx: body", "x", &value));
  EXPECT_FALSE(FindResponseHeader("", "x", &value));
  ASSERT_TRUE(FindResponseHeader("HTTP/1.1 200 OK\r\nA:\t v\r\n\r\n", "a", &value));
  EXPECT_EQ(value, "v");
}

}  // namespace
}  // namespace esg::http
