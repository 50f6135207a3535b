// ResponseHead: encodes the status line and header block of a response the app describes, and decides
// its framing. Header names and values from the app are validated with lookup tables (no CR, LF or NUL
// can reach the wire); ESG's default headers (server, date, --header) are added here.
//
// Framing rules (RFC 9112 §6): no body for HEAD, 1xx, 204 and 304; the app's Content-Length when it gives
// one; otherwise Content-Length when the whole body is known at once, chunked for HTTP/1.1 streams, and
// close-delimited for HTTP/1.0 streams.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "server/http/token.h"

namespace esg::http {

struct DefaultHeaders {
  bool server = true;  // "server: esg"
  bool date = true;
  std::string extra;   // pre-encoded "name: value\r\n" lines from --header
};

// The bytes of one response head: kept inline (no allocation) up to a size that covers typical heads,
// on the heap beyond it.
class HeadBuffer {
 public:
  void clear() {
    size_ = 0;
    heap_.clear();
  }
  void append(std::string_view s) {
    if (heap_.empty() && size_ + s.size() <= sizeof inline_) {
      std::memcpy(inline_ + size_, s.data(), s.size());
      size_ += s.size();
    } else {
      Spill(s);
    }
  }
  std::string_view view() const { return heap_.empty() ? std::string_view(inline_, size_) : std::string_view(heap_); }

 private:
  void Spill(std::string_view s);
  char inline_[320];
  size_t size_ = 0;
  std::string heap_;  // used once the head outgrows inline_ (then it holds all of it)
};

class ResponseHead {
 public:
  enum class Framing { kNone, kLength, kChunked, kClose };

  // Starts a head. False when the status is not 100..599.
  bool Begin(int status);
  // Appends one header; false (with reason) when the name is not a token, the value has CR/LF/NUL or
  // another control character, or the framing headers contradict each other (Content-Length together
  // with Transfer-Encoding, two different Content-Lengths, a Transfer-Encoding other than chunked). A
  // repeated equal Content-Length is written once; a Content-Length on a 1xx or 204 is not written.
  bool Add(std::string_view name, std::string_view value, const char** reason);

  // Finishes the head once the first body bytes are known. `body_complete` says the whole body is
  // `first_chunk_size` bytes. Returns the encoded head (valid until the next Begin()).
  std::string_view Finish(const DefaultHeaders& defaults, std::string_view date, int http_minor,
                            bool head_request, bool body_complete, size_t first_chunk_size,
                            bool request_keep_alive);

  int status() const { return status_; }
  Framing framing() const { return framing_; }
  int64_t content_length() const { return content_length_; }  // -1 when the app gave none
  bool keep_alive() const { return keep_alive_; }
  bool body_allowed() const { return body_allowed_; }
  // The encoded head (status line and header lines) as last built; for the access log's %({name}o)s.
  std::string_view encoded() const { return buf_.view(); }

 private:
  HeadBuffer buf_;
  int status_ = 0;
  int64_t content_length_ = -1;
  bool app_chunked_ = false;
  bool app_close_ = false;
  bool has_server_ = false;
  bool has_date_ = false;
  bool keep_alive_ = true;
  bool body_allowed_ = true;
  Framing framing_ = Framing::kNone;
};

// "OK", "Not Found", ...; "" for unknown codes (the status line then ends after the code).
std::string_view ReasonPhrase(int status);

// "HTTP/1.1 200 OK\r\n" for a status in 100..999 (built once per code).
std::string_view StatusLine(int status);

// A complete small response ESG itself sends (errors: 400, 413, 500, 503 ...), with `connection: close`.
std::string SimpleResponse(int status, std::string_view body, const DefaultHeaders& defaults, std::string_view date);

// The RFC 9110 IMF-fixdate for `now`, recomputed at most once per second.
class DateCache {
 public:
  std::string_view Get();

 private:
  int64_t second_ = -1;
  std::string text_;
};


}  // namespace esg::http
