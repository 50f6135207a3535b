// Unit tests for the request parser (server/http/parser.h): heads, bodies, pipelining pauses, limits
// and the inputs that must be rejected — fed whole and byte by byte.
#include "server/http/parser.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace esg::http {
namespace {

struct Recorder : RequestHandler {
  std::vector<RequestHead> heads;
  std::string body;
  int complete = 0;
  void OnRequestHead(RequestHead& head) override { heads.push_back(head); }
  void OnRequestBody(std::string_view chunk) override { body.append(chunk); }
  void OnRequestComplete() override { ++complete; }
};

// Feeds `input` in pieces of `step` bytes (0: whole), resuming after each paused message.
// Returns the error status (0 when none).
int FeedAll(const std::string& input, size_t step, Recorder* rec, ParserLimits limits = {}) {
  auto parser = MakeRequestParser(limits, rec);
  size_t pos = 0;
  while (pos < input.size()) {
    size_t len = step ? std::min(step, input.size() - pos) : input.size() - pos;
    size_t consumed = 0;
    ParseResult r = parser->Feed(input.data() + pos, len, &consumed);
    pos += consumed;
    if (r == ParseResult::kError) return parser->error().status;
    if (r == ParseResult::kPaused) parser->Resume();
  }
  return 0;
}

class ParserTest : public ::testing::TestWithParam<size_t> {};

TEST_P(ParserTest, ParsesHeadWithLowercaseNamesOrderAndDuplicates) {
  Recorder rec;
  std::string req = "GET /a%20b?x=1&y HTTP/1.1\r\nHost: h\r\nX-A: 1\r\nx-a: 2\r\nUser-Agent: t  \r\n\r\n";
  ASSERT_EQ(FeedAll(req, GetParam(), &rec), 0);
  ASSERT_EQ(rec.heads.size(), 1u);
  const RequestHead& h = rec.heads[0];
  EXPECT_EQ(h.method, "GET");
  EXPECT_EQ(h.path(), "/a%20b");
  EXPECT_EQ(h.query_string(), "x=1&y");
  ASSERT_EQ(h.header_count, 4u);
  EXPECT_EQ(h.headers[1].name, "x-a");
  EXPECT_EQ(h.headers[1].value, "1");
  EXPECT_EQ(h.headers[2].name, "x-a");
  EXPECT_EQ(h.headers[2].value, "2");
  EXPECT_EQ(h.headers[3].value, "t");  // trailing whitespace is not part of the value
  EXPECT_TRUE(h.keep_alive);
  EXPECT_EQ(rec.complete, 1);
}

TEST_P(ParserTest, StreamsContentLengthAndChunkedBodies) {
  Recorder rec;
  std::string req =
      "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello"
      "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\n\r\n";
  ASSERT_EQ(FeedAll(req, GetParam(), &rec), 0);
  EXPECT_EQ(rec.body, "helloabcde");
  ASSERT_EQ(rec.heads.size(), 2u);
  EXPECT_EQ(rec.heads[0].content_length, 5);
  EXPECT_TRUE(rec.heads[1].chunked);
  EXPECT_EQ(rec.complete, 2);
}

TEST_P(ParserTest, PausesAfterEachPipelinedMessage) {
  Recorder rec;
  auto parser = MakeRequestParser({}, &rec);
  std::string two = "GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n";
  size_t consumed = 0;
  EXPECT_EQ(parser->Feed(two.data(), two.size(), &consumed), ParseResult::kPaused);
  EXPECT_EQ(consumed, two.size() / 2);
  EXPECT_EQ(rec.heads.size(), 1u);
  parser->Resume();
  size_t rest = 0;
  EXPECT_EQ(parser->Feed(two.data() + consumed, two.size() - consumed, &rest), ParseResult::kPaused);
  EXPECT_EQ(rec.heads.size(), 2u);
  EXPECT_EQ(rec.heads[1].target, "/2");
}

TEST_P(ParserTest, Http10ClosesUnlessKeepAliveAsked) {
  Recorder close_rec;
  ASSERT_EQ(FeedAll("GET / HTTP/1.0\r\n\r\n", GetParam(), &close_rec), 0);
  ASSERT_EQ(close_rec.heads.size(), 1u);
  EXPECT_FALSE(close_rec.heads[0].keep_alive);
  Recorder keep_rec;
  ASSERT_EQ(FeedAll("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", GetParam(), &keep_rec), 0);
  EXPECT_TRUE(keep_rec.heads[0].keep_alive);
}

TEST_P(ParserTest, ExpectContinueIsRecorded) {
  Recorder rec;
  ASSERT_EQ(FeedAll("POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx", GetParam(), &rec), 0);
  EXPECT_TRUE(rec.heads[0].expect_continue);
}

struct Rejection {
  const char* name;
  std::string input;
  int status;
};

class RejectionTest : public ::testing::TestWithParam<std::tuple<Rejection, size_t>> {};

TEST_P(RejectionTest, RejectsWithStatus) {
  const Rejection& r = std::get<0>(GetParam());
  Recorder rec;
  EXPECT_EQ(FeedAll(r.input, std::get<1>(GetParam()), &rec), r.status) << r.name;
  EXPECT_EQ(rec.complete, 0) << r.name << ": a rejected request must never complete";
}

const Rejection kRejections[] = {
    {"missing host", "GET / HTTP/1.1\r\n\r\n", 400},
    {"two hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
    {"cl and te", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
    {"conflicting cl", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400},
    {"bad cl", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3x\r\n\r\nabc", 400},
    {"te not chunked", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n", 501},
    {"http/2.0", "GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505},
    {"empty header name", "GET / HTTP/1.1\r\nHost: h\r\n: x\r\n\r\n", 400},
    {"space before colon", "GET / HTTP/1.1\r\nHost: h\r\nX-A : 1\r\n\r\n", 400},
    {"obs-fold", "GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\r\n 2\r\n\r\n", 400},
    {"bare lf in value", "GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\n2\r\n\r\n", 400},
    {"nul in value", std::string("GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\0" "2\r\n\r\n", 35), 400},
    {"control char in value", "GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\x01" "2\r\n\r\n", 400},
    // The three inputs Debian's llhttp 8.1.0 accepts and llhttp 9 rejects (request smuggling).
    {"chunk-size line ended by CR CR", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\rhello\r\n0\r\n\r\n", 400},
    {"header block ended by CR LF CR X", "GET / HTTP/1.1\r\nHost: h\r\n\rXGET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n", 400},
    {"empty header name after a header", "GET / HTTP/1.1\r\nHost: h\r\nX: 1\r\n:\r\n\r\n", 400},
    {"bad chunk size", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400},
};

INSTANTIATE_TEST_SUITE_P(All, RejectionTest,
                         ::testing::Combine(::testing::ValuesIn(kRejections), ::testing::Values(0, 1)));

TEST(ParserLimits, RequestLineTooLongIs414) {
  Recorder rec;
  ParserLimits limits;
  limits.max_request_line = 64;
  EXPECT_EQ(FeedAll("GET /" + std::string(100, 'a') + " HTTP/1.1\r\nHost: h\r\n\r\n", 0, &rec, limits), 414);
}

TEST(ParserLimits, TooManyOrTooLargeHeadersAre431) {
  Recorder rec;
  ParserLimits limits;
  limits.max_header_count = 3;
  std::string many = "GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
  EXPECT_EQ(FeedAll(many, 0, &rec, limits), 431);
  ParserLimits size_limits;
  size_limits.max_header_size = 32;
  EXPECT_EQ(FeedAll("GET / HTTP/1.1\r\nHost: h\r\nX: " + std::string(40, 'v') + "\r\n\r\n", 1, &rec, size_limits), 431);
}

TEST(ParserLimits, BodyOverLimitIs413BeforeReading) {
  Recorder rec;
  ParserLimits limits;
  limits.max_body_size = 10;
  EXPECT_EQ(FeedAll("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\n", 0, &rec, limits), 413);
  EXPECT_TRUE(rec.heads.empty());
  Recorder chunked;
  EXPECT_EQ(FeedAll("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nc\r\n0123456789ab\r\n0\r\n\r\n", 0,
                    &chunked, limits),
            413);
}

INSTANTIATE_TEST_SUITE_P(WholeAndByteByByte, ParserTest, ::testing::Values(0, 1, 7));

}  // namespace
}  // namespace esg::http
