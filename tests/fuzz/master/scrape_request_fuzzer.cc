// Fuzzes the master's reader of Prometheus scrapes (server/master/metrics_server.h, ParseScrapeRequest)
// and the response it answers with.
//
// Input: the bytes a scraper sent. Checked, besides the sanitizers:
//  - kIncomplete only while there is no blank line and fewer than kMaxScrapeHeadBytes bytes (so the
//    server's buffer is bounded), kTooLarge whenever the bytes pass the bound without a complete head;
//  - kMetrics only for a complete head, alone, starting "GET /metrics", within the bound;
//  - reading in pieces (as the server does) never reaches a verdict on a prefix that would have needed
//    more bytes: every proper prefix that is not kIncomplete already holds a blank line or the bound;
//  - the response is one well-formed HTTP/1.1 message whose Content-Length matches its body.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "server/master/metrics_server.h"

namespace {

void Check(bool condition) {
  if (!condition) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using esg::ScrapeVerdict;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const ScrapeVerdict verdict = esg::ParseScrapeRequest(input);
  const bool has_blank = input.find("\r\n\r\n") != std::string_view::npos;
  if (verdict == ScrapeVerdict::kIncomplete) Check(!has_blank && size < esg::kMaxScrapeHeadBytes);
  if (!has_blank && size >= esg::kMaxScrapeHeadBytes) Check(verdict == ScrapeVerdict::kTooLarge);
  if (verdict == ScrapeVerdict::kMetrics) {
    Check(input.substr(0, 12) == "GET /metrics" && size <= esg::kMaxScrapeHeadBytes);
    Check(input.find("\r\n\r\n") == size - 4);
  }
  // The server reads in pieces and stops at the first verdict: a prefix decides only with a blank line
  // or at the bound.
  for (size_t cut = 1; cut < size && cut <= esg::kMaxScrapeHeadBytes; cut += 1 + cut / 8) {
    std::string_view prefix = input.substr(0, cut);
    if (esg::ParseScrapeRequest(prefix) != ScrapeVerdict::kIncomplete) {
      Check(prefix.find("\r\n\r\n") != std::string_view::npos || cut >= esg::kMaxScrapeHeadBytes);
    }
  }
  if (verdict != ScrapeVerdict::kIncomplete) {
    const std::string body = "esg_requests_total 1\n";
    const std::string response = esg::ScrapeResponse(verdict, body);
    Check(response.rfind("HTTP/1.1 ", 0) == 0);
    const size_t end = response.find("\r\n\r\n");
    Check(end != std::string::npos);
    const size_t length_at = response.find("Content-Length: ");
    Check(length_at != std::string::npos && length_at < end);
    const size_t length = std::strtoul(response.c_str() + length_at + 16, nullptr, 10);
    Check(length == response.size() - end - 4);
  }
  return 0;
}
