// The llhttp implementation of RequestParser: the only file that includes llhttp.h.
//
// llhttp reports spans (a header name may arrive in several pieces when the bytes arrive in several
// reads), so names and values are accumulated into the RequestHead's reused strings. Limits are enforced
// while accumulating, before anything is buffered beyond them. After each message the parser pauses
// itself (HPE_PAUSED) so pipelined requests are answered in order.
#include <llhttp.h>

#include <algorithm>
#include <charconv>

#include "server/http/parser.h"
#include "server/http/token.h"

namespace esg::http {
namespace {


struct HostTable {
  bool ok[256] = {};
  HostTable() {
    for (int c = '0'; c <= '9'; ++c) ok[c] = true;
    for (int c = 'a'; c <= 'z'; ++c) ok[c] = true;
    for (int c = 'A'; c <= 'Z'; ++c) ok[c] = true;
    for (const char* p = "-._~%!$&'()*+,;=:[]"; *p; ++p) ok[static_cast<unsigned char>(*p)] = true;
  }
};
const HostTable kHostChar;

class LlhttpParser final : public RequestParser {
 public:
  LlhttpParser(const ParserLimits& limits, RequestHandler* handler) : limits_(limits), handler_(handler) {
    llhttp_init(&parser_, HTTP_REQUEST, &Settings());
    parser_.data = this;
  }

  ParseResult Feed(const char* data, size_t len, size_t* consumed) override {
    if (failed_) {
      *consumed = 0;
      return ParseResult::kError;
    }
    size_t off = 0;
    if (fix_length_tabs_) FixLengthTabs(data, len);
    for (;;) {
      feed_start_ = data + off;
      feed_len_ = len - off;
      field_end_ = nullptr;
      llhttp_errno_t err = llhttp_execute(&parser_, data + off, len - off);
      const char* pos = llhttp_get_error_pos(&parser_);
      size_t at = (err == HPE_OK || pos == nullptr) ? len : static_cast<size_t>(pos - data);
      PushTail(data + off, at - off);
      stream_pos_ += at - off;
      off = at;
      if (err == HPE_OK) {
        *consumed = len;
        return ParseResult::kNeedMore;
      }
      if (err == HPE_PAUSED && check_ != Check::kNone) {
        // llhttp 8.1.0 takes "\r\n\rX" for the end of a header block and "\r\r" for the end of a
        // chunk-size line (llhttp 9 rejects both): look at the raw bytes it accepted as line ends.
        bool head = check_ == Check::kHeadEnd;
        check_ = Check::kNone;
        bool ok = head ? TailEndsWith("\r\n\r\n") : TailEndsWith("\r\n");
        if (!ok) {
          SetError(400, head ? "Invalid end of header block" : "Invalid chunk-size line ending");
          failed_ = true;
          *consumed = off;
          return ParseResult::kError;
        }
        if (head) handler_->OnRequestHead(head_);
        llhttp_resume(&parser_);
        continue;
      }
      *consumed = off;
      if (err == HPE_PAUSED) return ParseResult::kPaused;
      if (error_.status == 0) SetError(StatusFor(err), llhttp_get_error_reason(&parser_));
      failed_ = true;
      return ParseResult::kError;
    }
  }

  void Resume() override { llhttp_resume(&parser_); }

  bool MidMessage() const override { return in_message_; }
  const ParseError& error() const override { return error_; }

 private:
  static LlhttpParser* Self(llhttp_t* p) { return static_cast<LlhttpParser*>(p->data); }

  // One callback table for every parser (llhttp keeps a pointer to it): ~200 bytes less per connection.
  static const llhttp_settings_t& Settings() {
    static const llhttp_settings_t settings = [] {
      llhttp_settings_t s;
      llhttp_settings_init(&s);
      s.on_message_begin = &LlhttpParser::OnMessageBegin;
      s.on_method = &LlhttpParser::OnMethod;
      s.on_url = &LlhttpParser::OnUrl;
      s.on_header_field = &LlhttpParser::OnHeaderField;
      s.on_header_field_complete = &LlhttpParser::OnHeaderFieldComplete;
      s.on_header_value = &LlhttpParser::OnHeaderValue;
      s.on_header_value_complete = &LlhttpParser::OnHeaderValueComplete;
      s.on_headers_complete = &LlhttpParser::OnHeadersComplete;
      s.on_body = &LlhttpParser::OnBody;
      s.on_chunk_header = &LlhttpParser::OnChunkHeader;
      s.on_message_complete = &LlhttpParser::OnMessageComplete;
      return s;
    }();
    return settings;
  }

  // The last four bytes llhttp consumed, across Feed() calls.
  void PushTail(const char* p, size_t n) {
    for (size_t i = n > 4 ? n - 4 : 0; i < n; ++i) {
      tail_[0] = tail_[1];
      tail_[1] = tail_[2];
      tail_[2] = tail_[3];
      tail_[3] = p[i];
    }
  }

  bool TailEndsWith(std::string_view end) const {
    return std::string_view(tail_ + 4 - end.size(), end.size()) == end;
  }

  static int StatusFor(llhttp_errno_t err) {
    switch (err) {
      case HPE_INVALID_VERSION: return 505;
      case HPE_INVALID_METHOD: return 400;  // unknown methods are malformed for llhttp's table
      default: return 400;
    }
  }

  int SetError(int status, const char* reason) {
    if (error_.status == 0) {
      error_.status = status;
      error_.reason = reason ? reason : "Bad Request";
    }
    return -1;  // any non-zero return stops llhttp with HPE_CB_*; error_ keeps the real reason
  }

  static int OnMessageBegin(llhttp_t* p) {
    LlhttpParser* self = Self(p);
    self->head_.Reset();
    self->in_message_ = true;
    self->head_bytes_ = 0;
    self->body_bytes_ = 0;
    self->field_done_ = true;
    return 0;
  }

  static int OnMethod(llhttp_t* p, const char* at, size_t len) {
    LlhttpParser* self = Self(p);
    self->head_.method.append(at, len);
    return self->CountLine(len);
  }

  static int OnUrl(llhttp_t* p, const char* at, size_t len) {
    LlhttpParser* self = Self(p);
    self->head_.target.append(at, len);
    return self->CountLine(len);
  }

  int CountLine(size_t len) {
    head_bytes_ += len;
    // The request line is method SP target SP "HTTP/1.x": 10 bytes besides the method and the target.
    if (head_bytes_ + 10 > limits_.max_request_line) return SetError(414, "Request-line too long");
    return 0;
  }

  // Starts a new header entry (reusing a previous request's strings) on the first span of a name.
  static int OnHeaderField(llhttp_t* p, const char* at, size_t len) {
    LlhttpParser* self = Self(p);
    RequestHead& h = self->head_;
    if (self->field_done_) {
      if (h.header_count == self->limits_.max_header_count) return self->SetError(431, "Too many header fields");
      if (h.headers.size() == h.header_count) h.headers.emplace_back();
      Header& hdr = h.headers[h.header_count++];
      hdr.name.clear();
      hdr.value.clear();
      self->field_done_ = false;
      self->line_bytes_ = 2;  // the ": " between name and value counts towards the line
    }
    Header& hdr = h.headers[h.header_count - 1];
    self->field_end_ = at + len;
    self->line_bytes_ += len;
    if (self->line_bytes_ > self->limits_.max_header_size) return self->SetError(431, "Header field too large");
    size_t old = hdr.name.size();
    hdr.name.append(at, len);
    for (size_t i = old; i < hdr.name.size(); ++i) {
      char c = hdr.name[i];
      if (c >= 'A' && c <= 'Z') hdr.name[i] = static_cast<char>(c + 32);
    }
    return 0;
  }

  // llhttp 8.1.0 takes a trailing HTAB after a Content-Length value for an invalid digit, while RFC 9110
  // §5.5 makes it optional whitespace: a tab on that line becomes a space before llhttp reads it (a tab
  // cannot be part of a valid Content-Length value, so nothing else changes). The bytes are the
  // connection's own read buffer.
  void FixLengthTabs(const char* from, size_t len) {
    char* p = const_cast<char*>(from);
    for (size_t i = 0; i < len; ++i) {
      if (p[i] == '\r' || p[i] == '\n') {
        fix_length_tabs_ = false;
        return;
      }
      if (p[i] == '\t') p[i] = ' ';
    }
  }

  static int OnHeaderFieldComplete(llhttp_t* p) {
    LlhttpParser* self = Self(p);
    {
      std::string_view name = self->head_.headers[self->head_.header_count - 1].name;
      if (name == "content-length") {
        self->fix_length_tabs_ = true;
        const char* from = self->field_end_ ? self->field_end_ : self->feed_start_;
        const char* end = self->feed_start_ + self->feed_len_;
        self->FixLengthTabs(from, static_cast<size_t>(end - from));
      }
    }
    // llhttp 8.1.0 accepts a line starting with ':' (an empty name); RFC 9110 says a name is a token.
    if (self->field_done_ || self->head_.headers[self->head_.header_count - 1].name.empty()) {
      return self->SetError(400, "Empty header name");
    }
    // RFC 9112 §5.1: no whitespace between name and colon; a name is a token.
    for (unsigned char c : self->head_.headers[self->head_.header_count - 1].name) {
      if (!IsTokenChar(c)) return self->SetError(400, "Invalid character in header name");
    }
    return 0;
  }

  static int OnHeaderValue(llhttp_t* p, const char* at, size_t len) {
    LlhttpParser* self = Self(p);
    // A value arrives in several spans only when the bytes arrived in several reads, and then the spans
    // touch. A gap means llhttp skipped a line break inside the value: obs-fold, which we reject.
    uint64_t start = self->stream_pos_ + static_cast<uint64_t>(at - self->feed_start_);
    if (self->value_spans_++ > 0 && start != self->value_end_) return self->SetError(400, "Folded header line (obs-fold)");
    self->value_end_ = start + len;
    self->line_bytes_ += len;
    if (self->line_bytes_ > self->limits_.max_header_size) return self->SetError(431, "Header field too large");
    self->head_.headers[self->head_.header_count - 1].value.append(at, len);
    return 0;
  }

  static int OnHeaderValueComplete(llhttp_t* p) {
    LlhttpParser* self = Self(p);
    self->field_done_ = true;
    self->value_spans_ = 0;
    Header& hdr = self->head_.headers[self->head_.header_count - 1];
    // Trailing whitespace is not part of a field value (RFC 9110 §5.5).
    while (!hdr.value.empty() && (hdr.value.back() == ' ' || hdr.value.back() == '\t')) hdr.value.pop_back();
    // No CR, LF (obs-fold included), NUL or other controls in a value (RFC 9110 §5.5): reject, never repair.
    for (unsigned char c : hdr.value) {
      if ((c < 0x20 && c != '\t') || c == 0x7f) return self->SetError(400, "Invalid character in header value");
    }
    return 0;
  }

  static int OnHeadersComplete(llhttp_t* p) {
    LlhttpParser* self = Self(p);
    RequestHead& h = self->head_;
    h.version_major = llhttp_get_http_major(p);
    h.version_minor = llhttp_get_http_minor(p);
    if (h.version_major != 1 || h.version_minor > 1) return self->SetError(505, "HTTP Version Not Supported");
    int rc = self->ValidateFraming();
    if (rc != 0) return rc;
    h.keep_alive = llhttp_should_keep_alive(p) != 0;
    self->check_ = Check::kHeadEnd;
    h.upgrade = p->upgrade != 0;
    // Protocol switches are not taken over by this parser: the stream stays HTTP/1.1 and the next bytes
    // are parsed as the next request (a CONNECT or Upgrade the app did not accept changes nothing).
    p->upgrade = 0;
    if (self->limits_.max_body_size > 0 && h.content_length > self->limits_.max_body_size) {
      return self->SetError(413, "Request body too large");
    }
    return HPE_PAUSED;  // Feed() checks the raw end of the block, then hands the head over
  }

  static int OnChunkHeader(llhttp_t* p) {
    Self(p)->check_ = Check::kChunkLine;
    return HPE_PAUSED;
  }

  // Exactly one of Content-Length / Transfer-Encoding: chunked, well-formed; one Host in HTTP/1.1.
  int ValidateFraming() {
    RequestHead& h = head_;
    // The request-target is visible ASCII only (RFC 9112 §3.2, RFC 3986): no HTAB, no raw 8-bit bytes.
    for (unsigned char c : h.target) {
      if (c <= 0x20 || c >= 0x7f) return SetError(400, "Invalid character in request target");
    }
    int hosts = 0;
    bool have_length = false;
    bool have_te = false;
    for (size_t i = 0; i < h.header_count; ++i) {
      const Header& hdr = h.headers[i];
      std::string_view n = hdr.name;
      if (n == "host") {
        ++hosts;
        // uri-host [ ":" port ]: reg-name/IPv4 characters, or an IP literal in brackets (RFC 9112 §3.2).
        for (unsigned char c : hdr.value) {
          if (!kHostChar.ok[c]) return SetError(400, "Invalid Host header");
        }
      } else if (n == "content-length") {
        int64_t value = -1;
        const char* b = hdr.value.data();
        const char* e = b + hdr.value.size();
        auto [ptr, ec] = std::from_chars(b, e, value);
        if (b == e || ec != std::errc() || ptr != e || value < 0) return SetError(400, "Invalid Content-Length");
        if (have_length && value != h.content_length) return SetError(400, "Conflicting Content-Length");
        have_length = true;
        h.content_length = value;
      } else if (n == "transfer-encoding") {
        if (have_te) return SetError(400, "Repeated Transfer-Encoding");
        have_te = true;
        if (!EqualsIgnoreCase(hdr.value, "chunked")) return SetError(501, "Unsupported Transfer-Encoding");
        h.chunked = true;
      } else if (n == "expect") {
        if (EqualsIgnoreCase(hdr.value, "100-continue")) h.expect_continue = true;
      }
    }
    if (have_length && have_te) return SetError(400, "Both Content-Length and Transfer-Encoding");
    if (h.version_minor == 1 && hosts != 1) return SetError(400, hosts ? "Repeated Host header" : "Missing Host header");
    if (h.version_minor == 0 && hosts > 1) return SetError(400, "Repeated Host header");
    if (h.version_minor == 0 && h.chunked) return SetError(400, "Transfer-Encoding in HTTP/1.0");
    return 0;
  }

  static bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
    return a.size() == b.size() &&
           std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
             return (x | 0x20) == (y | 0x20);
           });
  }

  static int OnBody(llhttp_t* p, const char* at, size_t len) {
    LlhttpParser* self = Self(p);
    self->body_bytes_ += static_cast<int64_t>(len);
    if (self->limits_.max_body_size > 0 && self->body_bytes_ > self->limits_.max_body_size) {
      return self->SetError(413, "Request body too large");
    }
    self->handler_->OnRequestBody(std::string_view(at, len));
    return 0;
  }

  static int OnMessageComplete(llhttp_t* p) {
    LlhttpParser* self = Self(p);
    self->in_message_ = false;
    self->handler_->OnRequestComplete();
    return HPE_PAUSED;
  }

  ParserLimits limits_;
  RequestHandler* handler_;
  llhttp_t parser_;
  RequestHead head_;
  ParseError error_;
  size_t head_bytes_ = 0;
  size_t line_bytes_ = 0;
  int64_t body_bytes_ = 0;
  bool field_done_ = true;
  bool in_message_ = false;
  bool failed_ = false;
  enum class Check { kNone, kHeadEnd, kChunkLine };
  Check check_ = Check::kNone;
  char tail_[4] = {0, 0, 0, 0};
  const char* feed_start_ = nullptr;  // where the current llhttp_execute() call started
  uint64_t stream_pos_ = 0;           // bytes consumed before that call
  uint64_t value_end_ = 0;            // stream offset just past the last header-value span
  int value_spans_ = 0;
  size_t feed_len_ = 0;
  const char* field_end_ = nullptr;  // end of the last header-name span in the current buffer
  bool fix_length_tabs_ = false;     // still on a Content-Length line (see FixLengthTabs)
};

}  // namespace

std::unique_ptr<RequestParser> MakeRequestParser(const ParserLimits& limits, RequestHandler* handler) {
  return std::make_unique<LlhttpParser>(limits, handler);
}

}  // namespace esg::http
