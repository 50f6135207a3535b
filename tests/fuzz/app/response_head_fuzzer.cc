// Fuzz target: ResponseHead (server/http/response_head.h) fed what an app's http.response.start could
// carry: any status number and any header names and values (bytes), then Finish() with any request shape.
//
// Input: 2 bytes status (big-endian, minus 100: -100..65435), 1 byte flags (HTTP/1.0, HEAD request, whole
// body known, request keep-alive, server/date defaults), 2 bytes first-chunk size, then headers: a length
// byte for the name (a value >= 0xf0 picks a framing-relevant name from a table instead), the name, a
// length byte for the value, the value. The first refused header ends the head, as in the Exchange (the
// app gets an error and a 500 goes out instead).
// Invariants (abort on violation): Begin() accepts exactly 100..599; whatever Finish() returns is a valid
// HTTP/1.1 response head: status line with that code, token names, no CR/LF/NUL/controls in values, CRLF
// line ends and one empty line at the end, never both Content-Length and Transfer-Encoding, at most one
// Content-Length, none on 1xx/204, no Transfer-Encoding without a body, and framing()/content_length()
// agreeing with the bytes.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "server/http/response_head.h"
#include "server/http/token.h"

namespace {

void Check(bool ok) {
  if (!ok) abort();
}

bool EqualsLower(std::string_view a, std::string_view lower) {
  if (a.size() != lower.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char c = a[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
    if (c != lower[i]) return false;
  }
  return true;
}

const char* const kNames[] = {"content-length", "Transfer-Encoding", "connection", "Content-Length",
                              "transfer-encoding", "server", "date", "CONTENT-LENGTH", "content-type",
                              "set-cookie", "Connection", "upgrade", "trailer", "te", "keep-alive", "x-a"};

// Validates the encoded head (aborts on a violated invariant).
void Validate(std::string_view out, const esg::http::ResponseHead& h, int status, bool head_request) {
  using Framing = esg::http::ResponseHead::Framing;
  Check(out.size() >= 17 && out.substr(0, 9) == "HTTP/1.1 ");  // "HTTP/1.1 NNN \r\n\r\n"
  Check(out.substr(9, 3) == std::to_string(status));
  Check(out[12] == ' ');
  Check(out.substr(out.size() - 4) == "\r\n\r\n");
  size_t eol = out.find("\r\n");
  for (char c : out.substr(13, eol - 13)) Check(c >= 0x20 && c < 0x7f);
  size_t pos = eol + 2;
  int cl_lines = 0, te_lines = 0;
  std::string_view cl_value;
  while (true) {
    size_t end = out.find("\r\n", pos);
    Check(end != std::string_view::npos);
    if (end == pos) {
      Check(end + 2 == out.size());  // exactly one empty line, at the end
      break;
    }
    std::string_view line = out.substr(pos, end - pos);
    size_t colon = line.find(':');
    Check(colon != std::string_view::npos && colon > 0);
    std::string_view name = line.substr(0, colon);
    for (unsigned char c : name) Check(esg::http::IsTokenChar(c));
    Check(colon + 1 < line.size() + 1);
    std::string_view value = line.substr(colon + 1);
    for (unsigned char c : value) Check(c == '\t' || (c >= 0x20 && c != 0x7f));
    if (EqualsLower(name, "content-length")) {
      ++cl_lines;
      cl_value = value.substr(value.find_first_not_of(' '));
    }
    if (EqualsLower(name, "transfer-encoding")) {
      ++te_lines;
      Check(value == " chunked");
    }
    pos = end + 2;
  }
  Check(cl_lines <= 1 && te_lines <= 1 && !(cl_lines && te_lines));
  if (status < 200 || status == 204) Check(cl_lines == 0);
  if (!h.body_allowed()) {
    Check(te_lines == 0 && h.framing() == Framing::kNone);
  }
  Check((te_lines == 1) == (h.framing() == Framing::kChunked));
  if (h.framing() == Framing::kLength) {
    // 1*DIGIT whose value is content_length() (leading zeros are valid and kept as the app wrote them).
    Check(cl_lines == 1 && !cl_value.empty());
    for (char c : cl_value) Check(c >= '0' && c <= '9');
    while (cl_value.size() > 1 && cl_value.front() == '0') cl_value.remove_prefix(1);
    Check(cl_value == std::to_string(h.content_length()));
  }
  // A close-delimited body ends the connection; a HEAD response has no body to delimit.
  if (h.framing() == Framing::kClose && !head_request) Check(!h.keep_alive());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 5) return 0;
  int status = ((data[0] << 8) | data[1]) - 100;
  uint8_t flags = data[2];
  size_t first_chunk = static_cast<size_t>((data[3] << 8) | data[4]);
  data += 5;
  size -= 5;
  esg::http::ResponseHead h;
  bool begun = h.Begin(status);
  Check(begun == (status >= 100 && status <= 599));
  if (!begun) return 0;
  while (size > 0) {
    std::string_view name;
    size_t n = data[0];
    ++data;
    --size;
    if (n >= 0xf0) {
      name = kNames[n - 0xf0];
    } else {
      n = std::min(n, size);
      name = std::string_view(reinterpret_cast<const char*>(data), n);
      data += n;
      size -= n;
    }
    if (size == 0) break;
    size_t m = std::min<size_t>(data[0], size - 1);
    std::string_view value(reinterpret_cast<const char*>(data + 1), m);
    data += m + 1;
    size -= m + 1;
    const char* reason = nullptr;
    if (!h.Add(name, value, &reason)) {
      Check(reason != nullptr && *reason != '\0');
      return 0;
    }
  }
  esg::http::DefaultHeaders defaults{(flags & 16) != 0, (flags & 32) != 0, ""};
  std::string_view out = h.Finish(defaults, "Thu, 01 Jan 1970 00:00:00 GMT", (flags & 1) ? 0 : 1, (flags & 2) != 0,
                                  (flags & 4) != 0, first_chunk, (flags & 8) != 0);
  Validate(out, h, status, (flags & 2) != 0);
  return 0;
}
