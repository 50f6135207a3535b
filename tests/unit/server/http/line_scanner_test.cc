// Unit tests for server/http/line_scanner: the first byte that breaks a limit, found the same however the
// stream is split into reads.
#include "server/http/line_scanner.h"

#include <gtest/gtest.h>

#include <string>

namespace esg::http {
namespace {

// Feeds `stream` in pieces of `step` bytes (each piece only as far as the scanner allows) and returns the
// stream position of the first refused byte (stream.size() when none is).
size_t FirstRefused(LineScanner& scanner, const std::string& stream, size_t step) {
  size_t pos = 0;
  while (pos < stream.size()) {
    size_t len = std::min(step, stream.size() - pos);
    size_t allowed = scanner.Allowed(stream.data() + pos, len, pos);
    pos += allowed;
    if (allowed < len) return pos;
  }
  return pos;
}

TEST(LineScannerTest, ARequestLineOverTheLimitIsRefusedAtItsFirstExtraByte) {
  ParserLimits limits;
  limits.max_request_line = 20;
  std::string line = "GET /" + std::string(40, 'a') + " HTTP/1.1\r\n";
  for (size_t step : {1, 3, 7, 64}) {
    LineScanner scanner(limits);
    scanner.Start(LineScanner::Region::kHead, 0);
    EXPECT_EQ(FirstRefused(scanner, line, step), 21u) << step;  // 20 bytes and a CR may pass
    EXPECT_EQ(scanner.status(), 414);
  }
}

TEST(LineScannerTest, TooManyFieldLinesAndTooLargeAFieldGet431) {
  ParserLimits limits;
  limits.max_header_count = 2;
  std::string head = "GET / HTTP/1.1\r\na: 1\r\nb: 2\r\nc: 3\r\n\r\n";
  LineScanner scanner(limits);
  scanner.Start(LineScanner::Region::kHead, 0);
  EXPECT_EQ(FirstRefused(scanner, head, 5), head.find("c: 3"));
  EXPECT_EQ(scanner.status(), 431);

  ParserLimits small;
  small.max_header_size = 4;
  LineScanner field(small);
  field.Start(LineScanner::Region::kHead, 0);
  std::string big = "GET / HTTP/1.1\r\nab: 12\r\n\r\n";
  EXPECT_EQ(FirstRefused(field, big, 2), big.find("ab: 12") + 5);
  EXPECT_EQ(field.status(), 431);
}

TEST(LineScannerTest, TwoSpacesInTheRequestLineAreRefusedAtTheSecond) {
  ParserLimits limits;
  std::string line = "GET  / HTTP/1.1\r\n\r\n";
  for (size_t step : {1, 4, 100}) {
    LineScanner scanner(limits);
    scanner.Start(LineScanner::Region::kHead, 0);
    EXPECT_EQ(FirstRefused(scanner, line, step), 4u) << step;
    EXPECT_EQ(scanner.status(), 400);
  }
}

TEST(LineScannerTest, AWellFormedHeadPassesAndNothingIsCheckedOutsideARegion) {
  ParserLimits limits;
  std::string head = "\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\nbody bytes without lines";
  LineScanner scanner(limits);
  scanner.Start(LineScanner::Region::kHead, 0);
  EXPECT_EQ(FirstRefused(scanner, head, 3), head.size());
  LineScanner none(limits);
  EXPECT_EQ(none.Allowed("anything", 8, 0), 8u);
}

TEST(LineScannerTest, ALongChunkLineIs400) {
  ParserLimits limits;
  std::string line = "1;" + std::string(kMaxChunkLine, 'x') + "\r\n";
  LineScanner scanner(limits);
  scanner.Start(LineScanner::Region::kChunkLine, 100);
  size_t pos = 0;
  size_t allowed = scanner.Allowed(line.data(), line.size(), 100);
  pos += allowed;
  EXPECT_EQ(pos, kMaxChunkLine + 1);
  EXPECT_EQ(scanner.status(), 400);
}

}  // namespace
}  // namespace esg::http
