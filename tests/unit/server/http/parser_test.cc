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
// Returns the error status (0 when none). `input` is a copy: the parser may rewrite bytes of its buffer.
int FeedAll(std::string input, size_t step, Recorder* rec, ParserLimits limits = {}) {
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
    // Issue 11 #12: the two bytes after chunk data must be CRLF.
    {"chunk data not followed by CRLF", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n", 400},
    {"chunk data followed by LF", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\n0\r\n\r\n", 400},
    // #4: a chunk-size line (size + extensions) is bounded.
    {"chunk line over kMaxChunkLine",
     "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5;x=" + std::string(kMaxChunkLine, 'a') + "\r\nhello\r\n0\r\n\r\n",
     400},
    // #14: request-line syntax.
    {"bare LF ends the request line", "GET / HTTP/1.1\nHost: h\r\n\r\n", 400},
    {"two spaces after the method", "GET  / HTTP/1.1\r\nHost: h\r\n\r\n", 400},
    {"two spaces before the version", "GET /  HTTP/1.1\r\nHost: h\r\n\r\n", 400},
    {"bare CR in the request line", "GET /\r HTTP/1.1\r\nHost: h\r\n\r\n", 400},
    {"bare CR after the version", "GET / HTTP/1.1\rHost: h\r\n\r\n", 400},
    {"CR CR LF after the version", "GET / HTTP/1.1\r\r\nHost: h\r\n\r\n", 400},
    {"bare CR before the version", "GET / \rHTTP/1.1\r\nHost: h\r\n\r\n", 400},
    {"bare CR inside the version", "GET / HTTP/1.\r1\r\nHost: h\r\n\r\n", 400},
    {"bare CR after the method", "GET\r/ HTTP/1.1\r\nHost: h\r\n\r\n", 400},
    {"trailing SP after the version", "GET / HTTP/1.1 \r\nHost: h\r\n\r\n", 400},
    {"obs-fold in Transfer-Encoding",
     "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n", 400},
    {"obs-fold with tab", "GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\r\n\t2\r\n\r\n", 400},
    {"DEL in value", "GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\x7f\r\n\r\n", 400},
    {"http/1.2", "GET / HTTP/1.2\r\nHost: h\r\n\r\n", 505},
    // #15: an unknown but well-formed method is 501; a malformed one stays 400.
    {"unknown method, 34 letters", "ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFGH / HTTP/1.1\r\nHost: h\r\n\r\n", 501},
    {"known method prefix", "GETX / HTTP/1.1\r\nHost: h\r\n\r\n", 501},
    {"lowercase method", "get / HTTP/1.1\r\nHost: h\r\n\r\n", 501},
    {"RTSP method with HTTP version", "DESCRIBE / HTTP/1.1\r\nHost: h\r\n\r\n", 501},
    {"unknown method, no version", "HELLO /x\r\n\r\n", 400},
    {"unknown method, bad version", "FOO / HTTP/2.0\r\n\r\n", 505},
    {"unknown method, two spaces", "FOO  / HTTP/1.1\r\n\r\n", 400},
    {"non-token method", "G(T / HTTP/1.1\r\nHost: h\r\n\r\n", 400},
    {"binary garbage", "\x16\x03\x01\x02\x00\x01\x00\r\n\r\n", 400},
    {"http/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 400},
    // #16: request-target forms.
    {"asterisk with GET", "GET * HTTP/1.1\r\nHost: h\r\n\r\n", 400},
    {"CONNECT", "CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n", 501},
    {"absolute-form, other scheme", "GET ftp://h/p HTTP/1.1\r\nHost: h\r\n\r\n", 400},
    {"absolute-form, empty authority", "GET http:///p HTTP/1.1\r\nHost: h\r\n\r\n", 400},
    // #17: any expectation but 100-continue.
    {"expect other", "POST / HTTP/1.1\r\nHost: h\r\nExpect: 200-ok\r\nContent-Length: 1\r\n\r\nx", 417},
    {"expect empty", "GET / HTTP/1.1\r\nHost: h\r\nExpect:\r\n\r\n", 417},
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

// Fuzz finding: llhttp skips any mix of CR and LF before a request line; the limits must still see the
// lines that follow (a "\r\r\n\n" prefix made the scanner take the head for ended).
TEST(ParserLimits, LeadingCrLfMixDoesNotHideTheHead) {
  ParserLimits limits;
  limits.max_header_size = 32;
  for (size_t step : {0, 1}) {
    Recorder rec;
    EXPECT_EQ(FeedAll("\r\r\n\nGET / HTTP/1.1\r\nHost: h\r\nX: " + std::string(40, 'v') + "\r\n\r\n", step, &rec, limits),
              431);
  }
  ParserLimits head;
  head.max_head_size = 64;
  Recorder flood;
  std::string crlf;
  for (int i = 0; i < 40; ++i) crlf += "\r\n";
  EXPECT_EQ(FeedAll(crlf + "GET / HTTP/1.1\r\nHost: h\r\n\r\n", 0, &flood, head), 431);
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

// Issue 11 #15: chunk extensions are ignored (quoted strings included) and the body is delivered.
TEST_P(ParserTest, ChunkExtensionsAreIgnored) {
  Recorder rec;
  std::string req =
      "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5;name=value;q=\"x y\"\r\nhello\r\n1;a\r\n!\r\n0;last=1\r\n\r\n";
  ASSERT_EQ(FeedAll(req, GetParam(), &rec), 0);
  EXPECT_EQ(rec.body, "hello!");
  EXPECT_EQ(rec.complete, 1);
}

// #4: a chunk-size line of exactly kMaxChunkLine bytes (CRLF not counted) is accepted.
TEST_P(ParserTest, ChunkLineAtTheBound) {
  std::string line = "5;x=" + std::string(kMaxChunkLine - 4, 'a');
  ASSERT_EQ(line.size(), kMaxChunkLine);
  Recorder rec;
  ASSERT_EQ(FeedAll("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n" + line + "\r\nhello\r\n0\r\n\r\n",
                    GetParam(), &rec),
            0);
  EXPECT_EQ(rec.body, "hello");
}

// #15: "chunked" followed by OWS (SP or HTAB) before CRLF is chunked.
TEST_P(ParserTest, TransferEncodingChunkedWithTrailingOws) {
  for (const char* ows : {" ", "\t", " \t ", "\t\t"}) {
    Recorder rec;
    std::string req = std::string("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked") + ows +
                      "\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
    ASSERT_EQ(FeedAll(req, GetParam(), &rec), 0) << "OWS " << ows;
    EXPECT_EQ(rec.body, "hello");
    ASSERT_EQ(rec.heads.size(), 1u);
    EXPECT_TRUE(rec.heads[0].chunked);
    EXPECT_EQ(rec.heads[0].headers[1].value, "chunked");
  }
}

// #13: trailer fields never reach the head, whatever the reads.
TEST_P(ParserTest, TrailersAreDroppedNotMergedIntoTheHead) {
  Recorder rec;
  std::string req =
      "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n"
      "X-Forwarded-For: 6.6.6.6\r\nHost: evil\r\n\r\n"
      "GET /next HTTP/1.1\r\nHost: h\r\n\r\n";
  struct HeadCopy : Recorder {
    std::vector<size_t> counts_at_complete;
    RequestHead* live = nullptr;
    void OnRequestHead(RequestHead& head) override {
      Recorder::OnRequestHead(head);
      live = &head;
    }
    void OnRequestComplete() override {
      Recorder::OnRequestComplete();
      counts_at_complete.push_back(live->header_count);
    }
  } copy;
  ASSERT_EQ(FeedAll(req, GetParam(), &copy), 0);
  ASSERT_EQ(copy.heads.size(), 2u);
  EXPECT_EQ(copy.body, "hello");
  ASSERT_EQ(copy.counts_at_complete.size(), 2u);
  EXPECT_EQ(copy.counts_at_complete[0], 2u) << "trailers were added to the head the app reads";
  EXPECT_EQ(copy.heads[1].target, "/next");
}

// #13: a trailer section is bounded by the header limits.
TEST_P(ParserTest, TrailerSectionIsBounded) {
  ParserLimits limits;
  limits.max_header_count = 3;
  std::string many = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n";
  for (int i = 0; i < 4; ++i) many += "T" + std::to_string(i) + ": v\r\n";
  Recorder rec;
  EXPECT_EQ(FeedAll(many + "\r\n", GetParam(), &rec, limits), 431);
  EXPECT_EQ(rec.complete, 0);
  ParserLimits size;
  size.max_header_size = 64;
  Recorder rec2;
  EXPECT_EQ(FeedAll("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nT: " +
                        std::string(100, 'v') + "\r\n\r\n",
                    GetParam(), &rec2, size),
            431);
}

// #16: absolute-form is normalised to origin-form; Host stays as sent.
TEST_P(ParserTest, AbsoluteFormBecomesOriginForm) {
  struct Case {
    const char* target;
    const char* path;
    const char* query;
  } cases[] = {{"http://host/p?q", "/p", "q"},
               {"HTTPS://host:8443/a/b", "/a/b", ""},
               {"http://host", "/", ""},
               {"http://host?x=1", "/", "x=1"},
               {"http://[::1]:80/x", "/x", ""}};
  for (const Case& c : cases) {
    Recorder rec;
    ASSERT_EQ(FeedAll(std::string("GET ") + c.target + " HTTP/1.1\r\nHost: other\r\n\r\n", GetParam(), &rec), 0)
        << c.target;
    ASSERT_EQ(rec.heads.size(), 1u);
    EXPECT_EQ(rec.heads[0].path(), c.path) << c.target;
    EXPECT_EQ(rec.heads[0].query_string(), c.query) << c.target;
    EXPECT_EQ(rec.heads[0].headers[0].value, "other");
  }
  Recorder star;
  ASSERT_EQ(FeedAll("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n", GetParam(), &star), 0);
  EXPECT_EQ(star.heads[0].target, "*");
}

TEST_P(ParserTest, EmptyHostAndKnownMethodsAreAccepted) {
  Recorder rec;
  ASSERT_EQ(FeedAll("GET / HTTP/1.1\r\nHost:\r\n\r\nPROPFIND / HTTP/1.1\r\nHost: \r\n\r\n", GetParam(), &rec), 0);
  ASSERT_EQ(rec.heads.size(), 2u);
  EXPECT_EQ(rec.heads[0].headers[0].value, "");
  EXPECT_EQ(rec.heads[1].method, "PROPFIND");
}

TEST_P(ParserTest, ExpectContinueIsCaseInsensitive) {
  Recorder rec;
  ASSERT_EQ(FeedAll("POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\nx", GetParam(), &rec), 0);
  EXPECT_TRUE(rec.heads[0].expect_continue);
}

// #17: the whole head is bounded (431), the byte that passes the bound decides, however it is split.
TEST_P(ParserTest, HeadSizeLimit) {
  ParserLimits limits;
  limits.max_head_size = 100;
  std::string head = "GET / HTTP/1.1\r\nHost: h\r\n";  // 25 bytes
  std::string at_limit = head + "X: " + std::string(100 - head.size() - 2 - 5, 'v') + "\r\n\r\n";
  ASSERT_EQ(at_limit.size(), 100u);
  Recorder ok;
  EXPECT_EQ(FeedAll(at_limit, GetParam(), &ok, limits), 0);
  EXPECT_EQ(ok.complete, 1);
  Recorder over;
  std::string over_limit = head + "X: " + std::string(100 - head.size() - 2 - 4, 'v') + "\r\n\r\n";
  EXPECT_EQ(FeedAll(over_limit, GetParam(), &over, limits), 431);
  EXPECT_TRUE(over.heads.empty());
  // Many small fields, each within its own limits: the default bound is 32 KiB.
  std::string many = head;
  for (int i = 0; i < 64; ++i) many += "X-" + std::to_string(i) + ": " + std::string(1000, 'v') + "\r\n";
  ParserLimits defaults;
  Recorder big;
  EXPECT_EQ(FeedAll(many + "\r\n", GetParam(), &big, defaults), 431);
}

INSTANTIATE_TEST_SUITE_P(WholeAndByteByByte, ParserTest, ::testing::Values(0, 1, 7));

}  // namespace
}  // namespace esg::http
