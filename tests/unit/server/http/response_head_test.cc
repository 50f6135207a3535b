// Unit tests for response-head encoding (server/http/response_head.h): validation and framing choice.
#include "server/http/response_head.h"

#include <gtest/gtest.h>

namespace esg::http {
namespace {

const DefaultHeaders kNoDefaults{false, false, ""};

TEST(ResponseHead, AddsContentLengthWhenTheWholeBodyIsKnown) {
  ResponseHead h;
  const char* reason = nullptr;
  ASSERT_TRUE(h.Begin(200));
  ASSERT_TRUE(h.Add("Content-Type", "text/plain", &reason));
  std::string_view out = h.Finish(kNoDefaults, "", 1, false, true, 13, true);
  EXPECT_EQ(out, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\ncontent-length: 13\r\n\r\n");
  EXPECT_EQ(h.framing(), ResponseHead::Framing::kLength);
  EXPECT_TRUE(h.keep_alive());
}

TEST(ResponseHead, LongHeadsOutgrowTheInlineBufferIntact) {
  // Heads beyond the inline buffer move to the heap in the middle of a header; every byte must survive,
  // and the next (short) head on the same object starts clean.
  ResponseHead h;
  const char* reason = nullptr;
  ASSERT_TRUE(h.Begin(404));
  std::string expected = "HTTP/1.1 404 Not Found\r\n";
  for (int i = 0; i < 40; ++i) {
    std::string name = "x-header-" + std::to_string(i);
    std::string value(static_cast<size_t>(7 * i + 1), static_cast<char>('a' + i % 26));
    ASSERT_TRUE(h.Add(name, value, &reason));
    expected += name + ": " + value + "\r\n";
  }
  expected += "content-length: 0\r\n\r\n";
  EXPECT_EQ(h.Finish(kNoDefaults, "", 1, false, true, 0, true), expected);
  ASSERT_TRUE(h.Begin(599));
  EXPECT_EQ(h.Finish(kNoDefaults, "", 1, false, true, 0, true), "HTTP/1.1 599 \r\ncontent-length: 0\r\n\r\n");
}

TEST(ResponseHead, ChunksStreamsOnHttp11AndClosesOnHttp10) {
  ResponseHead h;
  h.Begin(200);
  EXPECT_NE(h.Finish(kNoDefaults, "", 1, false, false, 5, true).find("transfer-encoding: chunked\r\n"), std::string::npos);
  EXPECT_EQ(h.framing(), ResponseHead::Framing::kChunked);
  h.Begin(200);
  h.Finish(kNoDefaults, "", 0, false, false, 5, true);
  EXPECT_EQ(h.framing(), ResponseHead::Framing::kClose);
  EXPECT_FALSE(h.keep_alive());
}

TEST(ResponseHead, KeepsTheAppsContentLength) {
  ResponseHead h;
  const char* reason = nullptr;
  h.Begin(200);
  ASSERT_TRUE(h.Add("content-length", "100", &reason));
  std::string_view out = h.Finish(kNoDefaults, "", 1, false, false, 10, true);
  EXPECT_EQ(out.find("transfer-encoding"), std::string::npos);
  EXPECT_EQ(h.content_length(), 100);
}

TEST(ResponseHead, NoBodyFramingFor204And304And1xx) {
  for (int status : {204, 304, 103}) {
    ResponseHead h;
    h.Begin(status);
    std::string_view out = h.Finish(kNoDefaults, "", 1, false, true, 0, true);
    EXPECT_EQ(out.find("content-length"), std::string::npos) << status;
    EXPECT_EQ(out.find("transfer-encoding"), std::string::npos) << status;
    EXPECT_FALSE(h.body_allowed()) << status;
  }
}

TEST(ResponseHead, RejectsInjection) {
  ResponseHead h;
  const char* reason = nullptr;
  h.Begin(200);
  EXPECT_FALSE(h.Add("X-A", "1\r\nSet-Cookie: evil", &reason));
  EXPECT_FALSE(h.Add("X-A", std::string("a\0b", 3), &reason));
  EXPECT_FALSE(h.Add("X-A", "a\nb", &reason));
  EXPECT_FALSE(h.Add("X A", "1", &reason));
  EXPECT_FALSE(h.Add("X:A", "1", &reason));
  EXPECT_FALSE(h.Add("", "1", &reason));
  EXPECT_FALSE(h.Add("content-length", "-1", &reason));
  EXPECT_TRUE(h.Add("X-A", "tab\tand obs-text \xe9", &reason));
}

TEST(ResponseHead, DefaultHeadersAndConnectionClose) {
  ResponseHead h;
  const char* reason = nullptr;
  h.Begin(200);
  DefaultHeaders d{true, true, "x-extra: 1\r\n"};
  std::string_view out = h.Finish(d, "Sat, 21 Nov 2026 00:00:00 GMT", 1, false, true, 0, false);
  EXPECT_NE(out.find("server: esg\r\n"), std::string::npos);
  EXPECT_NE(out.find("date: Sat, 21 Nov 2026 00:00:00 GMT\r\n"), std::string::npos);
  EXPECT_NE(out.find("x-extra: 1\r\n"), std::string::npos);
  EXPECT_NE(out.find("connection: close\r\n"), std::string::npos);
  // The app's own Server header wins over the default one.
  h.Begin(200);
  ASSERT_TRUE(h.Add("Server", "mine", &reason));
  EXPECT_EQ(h.Finish(d, "x", 1, false, true, 0, true).find("server: esg"), std::string::npos);
}

TEST(ResponseHead, RejectsImpossibleStatus) {
  ResponseHead h;
  EXPECT_FALSE(h.Begin(99));
  EXPECT_FALSE(h.Begin(1000));
}

TEST(DateCache, FormatsImfFixdate) {
  DateCache cache;
  std::string_view d = cache.Get();
  ASSERT_EQ(d.size(), 29u);
  EXPECT_EQ(d.substr(25), " GMT");
}

TEST(ResponseHead, StatusMustBe100To599) {
  ResponseHead h;
  EXPECT_FALSE(h.Begin(600));
  EXPECT_FALSE(h.Begin(99));
  EXPECT_FALSE(h.Begin(999));
  EXPECT_FALSE(h.Begin(-200));
  EXPECT_TRUE(h.Begin(599));
  EXPECT_TRUE(h.Begin(100));
}

TEST(ResponseHead, RefusesContentLengthWithTransferEncoding) {
  // Both framings on the wire are ambiguous (RFC 9112 §6.3): refused in either order.
  const char* reason = nullptr;
  ResponseHead h;
  h.Begin(200);
  ASSERT_TRUE(h.Add("content-length", "5", &reason));
  EXPECT_FALSE(h.Add("Transfer-Encoding", "chunked", &reason));
  EXPECT_STREQ(reason, "both Content-Length and Transfer-Encoding");
  h.Begin(200);
  ASSERT_TRUE(h.Add("transfer-encoding", "chunked", &reason));
  EXPECT_FALSE(h.Add("Content-Length", "5", &reason));
}

TEST(ResponseHead, RepeatedContentLengthIsWrittenOnce) {
  const char* reason = nullptr;
  ResponseHead h;
  h.Begin(200);
  ASSERT_TRUE(h.Add("content-length", "5", &reason));
  ASSERT_TRUE(h.Add("Content-Length", "5", &reason));
  EXPECT_FALSE(h.Add("Content-Length", "6", &reason));
  EXPECT_EQ(h.Finish(kNoDefaults, "", 1, false, true, 5, true), "HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n");
}

TEST(ResponseHead, ContentLengthIsDroppedOn204AndKeptOn304) {
  // RFC 9110 §8.6: never on 204 (nor 1xx); on 304 it may tell the selected representation's length.
  const char* reason = nullptr;
  ResponseHead h;
  h.Begin(204);
  ASSERT_TRUE(h.Add("content-length", "10", &reason));
  EXPECT_EQ(h.Finish(kNoDefaults, "", 1, false, true, 0, true), "HTTP/1.1 204 No Content\r\n\r\n");
  EXPECT_FALSE(h.body_allowed());
  h.Begin(304);
  ASSERT_TRUE(h.Add("content-length", "10", &reason));
  EXPECT_EQ(h.Finish(kNoDefaults, "", 1, false, true, 0, true), "HTTP/1.1 304 Not Modified\r\ncontent-length: 10\r\n\r\n");
  EXPECT_EQ(h.framing(), ResponseHead::Framing::kNone);
}

TEST(ResponseHead, ContentLengthIsDigitsOnly) {
  // Found by the response_head fuzzer: "-0" parsed as 0 and went out as "content-length: -0".
  const char* reason = nullptr;
  ResponseHead h;
  for (const char* bad : {"-0", "+5", " 5", "5 ", "0x5", "", "-", "99999999999999999999"}) {
    h.Begin(200);
    EXPECT_FALSE(h.Add("content-length", bad, &reason)) << bad;
  }
}

}  // namespace
}  // namespace esg::http
