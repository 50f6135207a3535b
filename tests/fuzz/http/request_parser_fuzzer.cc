// Fuzz target for the HTTP/1.1 request parser (server/http/parser.h): split invariance and invariants.
//
// The input is a byte stream from a client (request_parser), or, built with ESG_FUZZ_CHUNKED, the body of
// a chunked request whose head is fixed (chunked_body: chunk sizes, extensions, CRLFs, trailers). It is
// fed whole, byte by byte and in splits derived from its first bytes, under the default limits and under
// small ones. Every split must give the same events (heads with method/target/headers and framing facts,
// body bytes, completes) and the same error; each head and body must satisfy the parser's contract (no
// CR/LF/NUL in names or values, body within the declared length, no event after an error...). Any
// difference or violation aborts.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "server/http/parser.h"
#include "server/http/token.h"

namespace {

using esg::http::MakeRequestParser;
using esg::http::ParseResult;
using esg::http::ParserLimits;
using esg::http::RequestHead;

[[noreturn]] void Fail(const char* what, const std::string& detail = {}) {
  fprintf(stderr, "request_parser invariant violated: %s\n%s\n", what, detail.c_str());
  abort();
}

void Check(bool ok, const char* what, const std::string& detail = {}) {
  if (!ok) Fail(what, detail);
}

// Serialises what the parser reports; consecutive body chunks are merged (their boundaries follow the
// reads, not the stream).
struct Events : esg::http::RequestHandler {
  explicit Events(const ParserLimits& limits) : limits(limits) {}

  void OnRequestHead(RequestHead& h) override {
    Check(!in_message, "a head inside a message");
    in_message = true;
    body_seen = 0;
    declared = h.chunked ? -1 : h.content_length;
    chunked = h.chunked;
    Check(!h.method.empty(), "empty method");
    for (unsigned char c : h.method) Check(esg::http::IsTokenChar(c), "method is not a token", h.method);
    Check(!h.target.empty(), "empty target");
    for (unsigned char c : h.target) Check(c > 0x20 && c < 0x7f, "target byte outside visible ASCII", h.target);
    Check(h.target[0] == '/' || (h.target == "*" && h.method == "OPTIONS"), "target not in origin-form", h.target);
    Check(h.version_major == 1 && h.version_minor <= 1, "version not 1.0/1.1");
    Check(h.header_count <= limits.max_header_count, "more fields than the limit");
    Check(h.method.size() + h.target.size() + 10 <= limits.max_request_line, "request line over the limit");
    Check(!(h.chunked && h.content_length >= 0), "both chunked and Content-Length");
    Check(!h.chunked || h.version_minor == 1, "chunked in HTTP/1.0");
    Check(limits.max_body_size == 0 || h.content_length <= limits.max_body_size, "Content-Length over the limit");
    int hosts = 0;
    log += "H " + h.method + " " + h.target + " " + std::to_string(h.version_minor) + " cl=" +
           std::to_string(h.content_length) + " ch=" + std::to_string(h.chunked) + " ka=" +
           std::to_string(h.keep_alive) + " ex=" + std::to_string(h.expect_continue) + " up=" +
           std::to_string(h.upgrade) + "\n";
    for (size_t i = 0; i < h.header_count; ++i) {
      const std::string& n = h.headers[i].name;
      const std::string& v = h.headers[i].value;
      Check(!n.empty(), "empty field name");
      for (unsigned char c : n) {
        Check(esg::http::IsTokenChar(c) && !(c >= 'A' && c <= 'Z'), "field name not a lowercase token", n);
      }
      for (unsigned char c : v) Check((c >= 0x20 || c == '\t') && c != 0x7f, "control byte in a field value", v);
      Check(v.empty() || (v.front() != ' ' && v.front() != '\t' && v.back() != ' ' && v.back() != '\t'),
            "whitespace around a field value", v);
      Check(n.size() + v.size() + 1 <= limits.max_header_size, "field line over the limit", n);
      if (n == "host") ++hosts;
      log += "  " + n + ": " + v + "\n";
    }
    Check(h.version_minor == 0 || hosts == 1, "HTTP/1.1 head without exactly one Host");
    Check(hosts <= 1, "two Host fields");
    head = &h;
    fields_at_head = h.header_count;
  }

  void OnRequestBody(std::string_view chunk) override {
    Check(in_message, "body outside a message");
    Check(!chunk.empty(), "empty body chunk");
    body_seen += static_cast<int64_t>(chunk.size());
    Check(declared < 0 || body_seen <= declared, "more body than Content-Length");
    Check(chunked || declared >= 0, "body for a head without one");
    Check(limits.max_body_size == 0 || body_seen <= limits.max_body_size, "body over the limit");
    if (!in_body) log += "B ";
    in_body = true;
    log.append(chunk);
  }

  void OnRequestComplete() override {
    Check(in_message, "complete without a head");
    Check(declared < 0 || body_seen == declared, "complete before Content-Length bytes");
    // Trailer fields must never be added to the head the app reads (issue 11 #13).
    Check(head->header_count == fields_at_head, "the head changed after it was handed over");
    in_message = false;
    EndBody();
    log += "C\n";
  }

  void EndBody() {
    if (in_body) log += "\n";
    in_body = false;
  }

  const ParserLimits& limits;
  std::string log;
  bool in_message = false;
  bool in_body = false;
  bool chunked = false;
  int64_t declared = -1;
  int64_t body_seen = 0;
  RequestHead* head = nullptr;
  size_t fields_at_head = 0;
};

// Feeds `input` (a private copy: the parser may rewrite bytes of its buffer) in pieces ending at `cuts`.
std::string Run(const std::string& input, const std::vector<size_t>& cuts, const ParserLimits& limits) {
  std::string buf = input;
  Events ev(limits);
  auto parser = MakeRequestParser(limits, &ev);
  size_t pos = 0;
  std::string result;
  bool failed = false;
  for (size_t ci = 0; ci <= cuts.size() && !failed; ++ci) {
    size_t end = ci < cuts.size() ? cuts[ci] : buf.size();
    while (pos < end) {
      size_t consumed = 0;
      ParseResult r = parser->Feed(buf.data() + pos, end - pos, &consumed);
      Check(consumed <= end - pos, "consumed more than given");
      pos += consumed;
      if (r == ParseResult::kError) {
        ev.EndBody();
        int status = parser->error().status;
        Check(status >= 400 && status <= 599, "error without a 4xx/5xx status");
        result = "E " + std::to_string(status) + " " + parser->error().reason + "\n";
        size_t again = 7;
        Check(parser->Feed(buf.data() + pos, end - pos, &again) == ParseResult::kError && again == 0,
              "parsing went on after an error");
        failed = true;
        break;
      }
      if (r == ParseResult::kPaused) {
        Check(!ev.in_message, "paused inside a message");
        parser->Resume();
      } else {
        Check(consumed == end - (pos - consumed), "need-more without consuming everything");
      }
    }
  }
  ev.EndBody();
  if (!failed) result = std::string("mid=") + (parser->MidMessage() ? "1" : "0") + "\n";
  return ev.log + result;
}

uint64_t Mix(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < s.size() && i < 16; ++i) h = (h ^ static_cast<unsigned char>(s[i])) * 1099511628211ull;
  return h ^ (h >> 29);
}

void CheckSplits(const std::string& input, const ParserLimits& limits) {
  std::string whole = Run(input, {}, limits);
  size_t n = input.size();
  if (n < 2) return;
  uint64_t h = Mix(input);
  std::vector<std::vector<size_t>> splits;
  if (n <= 4096) {  // byte by byte
    std::vector<size_t> every;
    for (size_t i = 1; i < n; ++i) every.push_back(i);
    splits.push_back(every);
  }
  size_t step = 1 + h % 17;
  std::vector<size_t> fixed;
  for (size_t i = step; i < n; i += step) fixed.push_back(i);
  splits.push_back(fixed);
  size_t a = (h >> 20) % n, b = (h >> 40) % n;
  if (a > b) std::swap(a, b);
  std::vector<size_t> two;
  if (a > 0) two.push_back(a);
  if (b > a) two.push_back(b);
  splits.push_back(two);
  std::vector<size_t> random;
  uint64_t x = h | 1;
  for (size_t i = 0; i < n;) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    i += 1 + x % 64;
    if (i < n) random.push_back(i);
  }
  splits.push_back(random);
  for (const auto& cuts : splits) {
    std::string got = Run(input, cuts, limits);
    if (got != whole) {
      std::string cut_text;
      for (size_t c : cuts) cut_text += std::to_string(c) + " ";
      Fail("split changes the events", "whole:\n" + whole + "split at " + cut_text + ":\n" + got);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 1 << 16) return 0;
  std::string input(reinterpret_cast<const char*>(data), size);
#ifdef ESG_FUZZ_CHUNKED
  input = "POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n" + input;
#endif
  ParserLimits defaults;
  CheckSplits(input, defaults);
  ParserLimits small;
  small.max_request_line = 48;
  small.max_header_count = 4;
  small.max_header_size = 40;
  small.max_head_size = 160;
  small.max_body_size = 24;
  CheckSplits(input, small);
  return 0;
}
