// The llhttp implementation of RequestParser: the only file that includes llhttp.h.
//
// llhttp 9.4.3 runs with every lenient flag off; it decides the syntax (request line, CRLF line ends,
// header tokens, obs-fold, chunk framing). This file adds what llhttp leaves to its user:
//  - size limits, enforced on raw stream positions by LineScanner before llhttp sees the bytes, so the
//    offending byte is the same however the stream is split into reads (split invariance);
//  - framing semantics (one Host, Content-Length vs Transfer-Encoding, Expect, request-target forms);
//  - 501 for a well-formed method token that llhttp's method table does not know;
//  - trailer fields, which are bounded and dropped, never added to the head.
//
// llhttp reports spans (a header name may arrive in several pieces when the bytes arrive in several
// reads), so names and values are accumulated into the RequestHead's reused strings. The parser pauses
// itself (HPE_PAUSED) at the end of the head, at chunk boundaries and after each message, so that the
// stream position of every region (head, chunk-size line, trailers) is exact and pipelined requests are
// answered in order.
#include <llhttp.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <limits>
#include <utility>

#include "server/http/line_scanner.h"
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

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return (x | 0x20) == (y | 0x20); });
}

class LlhttpParser final : public RequestParser {
 public:
  LlhttpParser(const ParserLimits& limits, RequestHandler* handler)
      : limits_(limits), handler_(handler), scanner_(limits_) {
    llhttp_init(&parser_, HTTP_REQUEST, &Settings());
    parser_.data = this;
    scanner_.Start(LineScanner::Region::kHead, 0);
  }

  ParseResult Feed(const char* data, size_t len, size_t* consumed) override {
    if (failed_) {
      *consumed = 0;
      return ParseResult::kError;
    }
    size_t off = 0;
    for (;;) {
      size_t avail = len - off;
      size_t allowed = scanner_.Allowed(data + off, avail, stream_pos_);
      if (unknown_method_) {
        size_t used = ScanUnknownMethod(data + off, allowed);
        stream_pos_ += used;
        off += used;
        if (error_.status == 0 && used == allowed && allowed < avail) SetError(scanner_.status(), scanner_.reason());
        if (error_.status != 0) return Fail(consumed, off);
        *consumed = len;
        return ParseResult::kNeedMore;
      }
      if (te_line_) FixTabs(data + off, allowed);
      feed_start_ = data + off;
      feed_len_ = allowed;
      field_end_ = nullptr;  // never a pointer into an earlier read
      llhttp_errno_t err = llhttp_execute(&parser_, data + off, allowed);
      const char* pos = llhttp_get_error_pos(&parser_);
      size_t at = (err == HPE_OK || pos == nullptr) ? off + allowed : static_cast<size_t>(pos - data);
      stream_pos_ += at - off;
      off = at;
      if (err == HPE_OK) {
        if (allowed < avail) {
          // The next byte breaks a limit (llhttp accepted everything before it).
          SetError(scanner_.status(), scanner_.reason());
          return Fail(consumed, off);
        }
        *consumed = len;
        return ParseResult::kNeedMore;
      }
      if (err == HPE_PAUSED && error_.status == 0) {
        Pause why = std::exchange(pause_, Pause::kNone);
        switch (why) {
          case Pause::kHead:
            scanner_.Start(head_.chunked ? LineScanner::Region::kChunkLine : LineScanner::Region::kNone, stream_pos_);
            handler_->OnRequestHead(head_);
            break;
          case Pause::kChunkHeader:
            if (in_trailers_) scanner_.Start(LineScanner::Region::kTrailers, stream_pos_);
            else scanner_.Start(LineScanner::Region::kNone, stream_pos_);
            break;
          case Pause::kChunkDone:
            scanner_.Start(LineScanner::Region::kChunkLine, stream_pos_);
            break;
          case Pause::kNone:  // no callback of ours paused: cannot happen
            SetError(400, "Bad Request");
            return Fail(consumed, off);
          case Pause::kMessage:
            scanner_.Start(LineScanner::Region::kHead, stream_pos_);
            *consumed = off;
            return ParseResult::kPaused;
        }
        llhttp_resume(&parser_);
        continue;
      }
      if (error_.status == 0 && err == HPE_INVALID_METHOD) {
        // Not in llhttp's method table: a well-formed request line with an unknown token gets 501.
        // The method bytes so far: earlier spans (head_.method) and the open span up to the error.
        const char* span = static_cast<const char*>(parser_._span_pos0);
        if (span && span >= data && span <= pos) head_.method.append(span, static_cast<size_t>(pos - span));
        unknown_method_ = true;
        continue;
      }
      if (error_.status == 0) SetError(StatusFor(err, llhttp_get_error_reason(&parser_)), llhttp_get_error_reason(&parser_));
      return Fail(consumed, off);
    }
  }

  void Resume() override { llhttp_resume(&parser_); }

  bool MidMessage() const override { return in_message_; }
  const ParseError& error() const override { return error_; }

 private:
  enum class Pause { kNone, kHead, kChunkHeader, kChunkDone, kMessage };

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
      s.on_chunk_complete = &LlhttpParser::OnChunkComplete;
      s.on_message_complete = &LlhttpParser::OnMessageComplete;
      return s;
    }();
    return settings;
  }

  ParseResult Fail(size_t* consumed, size_t off) {
    failed_ = true;
    *consumed = off;
    return ParseResult::kError;
  }

  static int StatusFor(llhttp_errno_t err, const char* reason) {
    // llhttp says HPE_INVALID_VERSION both for a version it does not know (505) and for a request line
    // that does not end in CRLF right after the version (malformed: 400).
    if (err == HPE_INVALID_VERSION && reason && std::strcmp(reason, "Invalid HTTP version") == 0) return 505;
    // An RTSP-only method (DESCRIBE, ...) with an HTTP version: a method this server does not implement.
    if (err == HPE_INVALID_CONSTANT && reason && std::strcmp(reason, "Invalid method for HTTP/x.x request") == 0) {
      return 501;
    }
    return 400;
  }

  int SetError(int status, const char* reason) {
    if (error_.status == 0) {
      error_.status = status;
      error_.reason = reason ? reason : "Bad Request";
    }
    return -1;  // any non-zero return stops llhttp with HPE_CB_*; error_ keeps the real reason
  }

  // The rest of a request line whose method llhttp does not know, byte by byte: a token, SP, a target of
  // visible characters, SP, "HTTP/" DIGIT "." DIGIT, CRLF is a well-formed request for a method this
  // server does not implement (501, RFC 9110 §9.1); anything else is a malformed request (400). The line
  // is bounded by the scanner (--limit-request-line).
  size_t ScanUnknownMethod(const char* data, size_t len) {
    for (size_t i = 0; i < len; ++i) {
      unsigned char c = static_cast<unsigned char>(data[i]);
      bool visible = c > 0x20 && c < 0x7f;
      bool ok = true;
      switch (um_state_) {
        case 0:  // method token
          if (c == ' ' && !head_.method.empty()) {
            um_state_ = 1;
          } else if (IsTokenChar(c)) {
            head_.method.push_back(static_cast<char>(c));
          } else {
            ok = false;
          }
          break;
        case 1:  // request-target
          if (c == ' ' && um_len_ > 0) {
            um_state_ = 2;
            um_len_ = 0;
          } else if (visible) {
            ++um_len_;
          } else {
            ok = false;
          }
          break;
        case 2:  // HTTP-version, then CR
          if (c == '\r' && um_len_ == 8) {
            um_state_ = 3;
          } else if (visible && um_len_ < 8) {
            um_version_[um_len_++] = static_cast<char>(c);
          } else {
            ok = false;
          }
          break;
        default:  // LF
          if (c == '\n') {
            std::string_view v(um_version_, 8);
            bool syntax = v.substr(0, 5) == "HTTP/" && v[5] >= '0' && v[5] <= '9' && v[6] == '.' && v[7] >= '0' &&
                          v[7] <= '9';
            if (!syntax) {
              SetError(400, "Invalid HTTP version");
            } else if (v[5] != '1' || v[7] > '1') {
              SetError(505, "HTTP Version Not Supported");
            } else {
              SetError(501, "Method not implemented");
            }
            return i + 1;
          }
          ok = false;
      }
      if (!ok) {
        SetError(400, "Invalid request line");
        return i + 1;
      }
    }
    return len;
  }

  static int OnMessageBegin(llhttp_t* p) {
    LlhttpParser* self = Self(p);
    self->head_.Reset();
    self->in_message_ = true;
    self->in_trailers_ = false;
    self->body_bytes_ = 0;
    self->field_done_ = true;
    return 0;
  }

  static int OnMethod(llhttp_t* p, const char* at, size_t len) {
    LlhttpParser* self = Self(p);
    self->head_.method.append(at, len);
    return 0;
  }

  static int OnUrl(llhttp_t* p, const char* at, size_t len) {
    LlhttpParser* self = Self(p);
    self->head_.target.append(at, len);
    return 0;
  }


  // Starts a new header entry (reusing a previous request's strings) on the first span of a name.
  static int OnHeaderField(llhttp_t* p, const char* at, size_t len) {
    LlhttpParser* self = Self(p);
    if (self->in_trailers_) return 0;  // trailer fields are bounded by the scanner and dropped
    RequestHead& h = self->head_;
    if (self->field_done_) {
      // The scanner stops the stream before a field line beyond the limit: this holds by construction.
      if (h.header_count >= self->limits_.max_header_count) return self->SetError(431, "Too many header fields");
      if (h.headers.size() == h.header_count) h.headers.emplace_back();
      Header& hdr = h.headers[h.header_count++];
      hdr.name.clear();
      hdr.value.clear();
      self->field_done_ = false;
    }
    Header& hdr = h.headers[h.header_count - 1];
    self->field_end_ = at + len;
    size_t old = hdr.name.size();
    hdr.name.append(at, len);
    for (size_t i = old; i < hdr.name.size(); ++i) {
      char c = hdr.name[i];
      if (c >= 'A' && c <= 'Z') hdr.name[i] = static_cast<char>(c + 32);
    }
    return 0;
  }

  // llhttp 9.4.3 takes a "chunked" followed by HTAB (but not SP) for a Transfer-Encoding whose final
  // coding is not chunked (HPE_INVALID_TRANSFER_ENCODING), while RFC 9110 §5.5 makes trailing HTAB optional
  // whitespace: a tab on that line becomes a space before llhttp reads it. Only the Transfer-Encoding
  // line is touched, and a tab is whitespace wherever it can legally stand in it. The bytes are the
  // connection's own read buffer.
  void FixTabs(const char* from, size_t len) {
    char* p = const_cast<char*>(from);
    for (size_t i = 0; i < len; ++i) {
      if (p[i] == '\r' || p[i] == '\n') {
        te_line_ = false;
        return;
      }
      if (p[i] == '\t') p[i] = ' ';
    }
  }

  static int OnHeaderFieldComplete(llhttp_t* p) {
    LlhttpParser* self = Self(p);
    if (self->in_trailers_) return 0;
    if (self->head_.headers[self->head_.header_count - 1].name == "transfer-encoding") {
      self->te_line_ = true;
      const char* from = self->field_end_ ? self->field_end_ : self->feed_start_;
      const char* end = self->feed_start_ + self->feed_len_;
      self->FixTabs(from, static_cast<size_t>(end - from));
    }
    self->field_end_ = nullptr;
    return 0;
  }

  static int OnHeaderValue(llhttp_t* p, const char* at, size_t len) {
    LlhttpParser* self = Self(p);
    if (self->in_trailers_) return 0;
    self->head_.headers[self->head_.header_count - 1].value.append(at, len);
    return 0;
  }

  static int OnHeaderValueComplete(llhttp_t* p) {
    LlhttpParser* self = Self(p);
    if (self->in_trailers_) return 0;
    self->field_done_ = true;
    Header& hdr = self->head_.headers[self->head_.header_count - 1];
    // Trailing whitespace is not part of a field value (RFC 9110 §5.5). llhttp 9 (strict) has already
    // rejected every control byte but HTAB in the value, DEL included.
    while (!hdr.value.empty() && (hdr.value.back() == ' ' || hdr.value.back() == '\t')) hdr.value.pop_back();
    return 0;
  }

  static int OnHeadersComplete(llhttp_t* p) {
    LlhttpParser* self = Self(p);
    RequestHead& h = self->head_;
    // The HTTP/2 preface (PRI * HTTP/2.0) is not an HTTP/1.1 request.
    if (p->method == HTTP_PRI) return self->SetError(400, "HTTP/2 connection preface");
    h.version_major = llhttp_get_http_major(p);
    h.version_minor = llhttp_get_http_minor(p);
    if (h.version_major != 1 || h.version_minor > 1) return self->SetError(505, "HTTP Version Not Supported");
    int rc = self->ValidateTarget(p->method);
    if (rc == 0) rc = self->ValidateFields();
    if (rc != 0) return rc;
    h.keep_alive = llhttp_should_keep_alive(p) != 0;
    h.upgrade = p->upgrade != 0;
    // Protocol switches are not taken over by this parser: the stream stays HTTP/1.1 and the next bytes
    // are parsed as the next request (an Upgrade the app did not accept changes nothing).
    p->upgrade = 0;
    if (self->limits_.max_body_size > 0 && h.content_length > self->limits_.max_body_size) {
      return self->SetError(413, "Request body too large");
    }
    self->pause_ = Pause::kHead;
    return HPE_PAUSED;  // Feed() hands the head over at the exact end of the block
  }

  // RFC 9112 §3.2: origin-form for every method but OPTIONS ("*" too) and CONNECT (which this server,
  // not being a proxy, does not implement: 501). Absolute-form is normalised to origin-form (§3.2.2):
  // the app sees the path and query; the Host field stays as sent.
  int ValidateTarget(uint8_t method) {
    if (method == HTTP_CONNECT) return SetError(501, "CONNECT is not supported");
    // llhttp 9 (strict) has already rejected every byte of the target outside visible ASCII.
    std::string& t = head_.target;
    if (t.empty()) return SetError(400, "Empty request target");
    if (t[0] == '/') return 0;
    if (t == "*") return method == HTTP_OPTIONS ? 0 : SetError(400, "Asterisk-form target without OPTIONS");
    // absolute-form: scheme "://" authority [path-abempty] ["?" query]
    size_t colon = t.find("://");
    if (colon == std::string::npos) return SetError(400, "Invalid request target");
    std::string_view scheme(t.data(), colon);
    if (!EqualsIgnoreCase(scheme, "http") && !EqualsIgnoreCase(scheme, "https")) {
      return SetError(400, "Unsupported scheme in request target");
    }
    size_t auth = colon + 3;
    size_t end = t.find_first_of("/?", auth);
    if (end == std::string::npos) end = t.size();
    if (end == auth) return SetError(400, "Empty authority in request target");
    for (size_t i = auth; i < end; ++i) {
      if (!kHostChar.ok[static_cast<unsigned char>(t[i])]) return SetError(400, "Invalid authority in request target");
    }
    t.erase(0, end);
    if (t.empty() || t[0] == '?') t.insert(0, 1, '/');
    return 0;
  }

  // Exactly one of Content-Length / Transfer-Encoding: chunked, well-formed; one Host in HTTP/1.1.
  int ValidateFields() {
    RequestHead& h = head_;
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
        // RFC 9110 §10.1.1: 100-continue is the only expectation defined; any other may be refused with 417.
        if (!EqualsIgnoreCase(hdr.value, "100-continue")) return SetError(417, "Expectation Failed");
        h.expect_continue = true;
      }
    }
    if (have_length && have_te) return SetError(400, "Both Content-Length and Transfer-Encoding");
    if (h.version_minor == 1 && hosts != 1) return SetError(400, hosts ? "Repeated Host header" : "Missing Host header");
    if (h.version_minor == 0 && hosts > 1) return SetError(400, "Repeated Host header");
    if (h.version_minor == 0 && h.chunked) return SetError(400, "Transfer-Encoding in HTTP/1.0");
    return 0;
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

  // Called at the end of a chunk-size line (p->content_length is the chunk size).
  static int OnChunkHeader(llhttp_t* p) {
    LlhttpParser* self = Self(p);
    uint64_t size = p->content_length;
    // A chunk that would pass the body limit is refused before its data is read.
    if (self->limits_.max_body_size > 0 &&
        size > static_cast<uint64_t>(self->limits_.max_body_size - self->body_bytes_)) {
      return self->SetError(413, "Request body too large");
    }
    if (size == 0) self->in_trailers_ = true;  // the last chunk: trailer fields (if any) follow
    self->pause_ = Pause::kChunkHeader;
    return HPE_PAUSED;
  }

  // Called after the CRLF that ends a chunk's data, and once after the trailer section.
  static int OnChunkComplete(llhttp_t* p) {
    LlhttpParser* self = Self(p);
    if (self->in_trailers_) return 0;
    self->pause_ = Pause::kChunkDone;
    return HPE_PAUSED;
  }

  static int OnMessageComplete(llhttp_t* p) {
    LlhttpParser* self = Self(p);
    self->in_message_ = false;
    self->in_trailers_ = false;
    self->handler_->OnRequestComplete();
    self->pause_ = Pause::kMessage;
    return HPE_PAUSED;
  }

  ParserLimits limits_;
  RequestHandler* handler_;
  LineScanner scanner_;
  llhttp_t parser_;
  RequestHead head_;
  ParseError error_;
  int64_t body_bytes_ = 0;
  bool field_done_ = true;
  bool in_message_ = false;
  bool in_trailers_ = false;
  bool failed_ = false;
  bool unknown_method_ = false;  // llhttp rejected the method: ScanUnknownMethod reads the rest of the line
  int um_state_ = 0;             // ScanUnknownMethod: 0 method, 1 target, 2 version, 3 LF
  size_t um_len_ = 0;
  char um_version_[8] = {};
  bool te_line_ = false;         // still on a Transfer-Encoding line (see FixTabs)
  Pause pause_ = Pause::kNone;   // why the last callback paused llhttp
  const char* feed_start_ = nullptr;  // where the current llhttp_execute() call started
  size_t feed_len_ = 0;
  uint64_t stream_pos_ = 0;           // bytes consumed before that call
  const char* field_end_ = nullptr;   // end of the last header-name span in the current buffer
};

}  // namespace

std::unique_ptr<RequestParser> MakeRequestParser(const ParserLimits& limits, RequestHandler* handler) {
  return std::make_unique<LlhttpParser>(limits, handler);
}

}  // namespace esg::http
