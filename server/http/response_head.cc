// ResponseHead implementation: table-driven validation and single-buffer encoding of response heads.
#include "server/http/response_head.h"

#include <charconv>
#include <ctime>

namespace esg::http {
namespace {

struct Tables {
  bool value_ok[256] = {};
  Tables() {
    for (int c = 0; c < 256; ++c) value_ok[c] = (c >= 0x20 && c != 0x7f) || c == '\t';
    for (int c = 0x80; c < 256; ++c) value_ok[c] = true;  // obs-text
  }
};
const Tables kTables;

bool EqualsLower(std::string_view name, std::string_view lower) {
  if (name.size() != lower.size()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
    if (c != lower[i]) return false;
  }
  return true;
}

bool ContainsTokenIgnoreCase(std::string_view list, std::string_view token) {
  size_t i = 0;
  while (i < list.size()) {
    while (i < list.size() && (list[i] == ' ' || list[i] == ',' || list[i] == '\t')) ++i;
    size_t start = i;
    while (i < list.size() && list[i] != ',') ++i;
    size_t end = i;
    while (end > start && (list[end - 1] == ' ' || list[end - 1] == '\t')) --end;
    if (EqualsLower(list.substr(start, end - start), token)) return true;
  }
  return false;
}

// Appends the decimal digits of v to a std::string or a HeadBuffer.
template <class Out>
void AppendInt(Out& out, int64_t v) {
  char buf[24];
  auto [ptr, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(std::string_view(buf, static_cast<size_t>(ptr - buf)));
}

}  // namespace

bool ResponseHead::Begin(int status) {
  // RFC 9110 §15: three digits, first 1-5. Anything else is not a status a client can interpret.
  if (status < 100 || status > 599) return false;
  status_ = status;
  content_length_ = -1;
  app_chunked_ = app_close_ = has_server_ = has_date_ = false;
  keep_alive_ = true;
  framing_ = Framing::kNone;
  buf_.clear();
  buf_.append(StatusLine(status));
  return true;
}

bool ResponseHead::Add(std::string_view name, std::string_view value, const char** reason) {
  if (name.empty()) {
    *reason = "empty header name";
    return false;
  }
  for (unsigned char c : name) {
    if (!IsTokenChar(c)) {
      *reason = "invalid character in header name";
      return false;
    }
  }
  for (unsigned char c : value) {
    if (!kTables.value_ok[c]) {
      *reason = "invalid character (CR, LF, NUL or control) in header value";
      return false;
    }
  }
  // Framing headers decide how the body is sent; remember them.
  switch (name.size()) {
    case 14:
      if (EqualsLower(name, "content-length")) {
        // 1*DIGIT (RFC 9110 §8.6): from_chars alone would take "-0".
        int64_t v = -1;
        auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
        if (value.empty() || value.front() < '0' || value.front() > '9' || ec != std::errc() ||
            ptr != value.data() + value.size() || v < 0 ||
            (content_length_ >= 0 && v != content_length_)) {
          *reason = "invalid Content-Length";
          return false;
        }
        if (app_chunked_) {
          // Two framings: which one the app meant is unknowable, and a proxy may pick the other
          // (RFC 9112 §6.3 calls it a possible smuggling attempt). Refuse, the app gets a 500.
          *reason = "both Content-Length and Transfer-Encoding";
          return false;
        }
        bool repeated = content_length_ >= 0;
        content_length_ = v;
        // One line on the wire: a repeated (equal) value, and any value on a 1xx or 204, which must not
        // carry Content-Length at all (RFC 9110 §8.6); 304 may (the selected representation's length).
        if (repeated || status_ < 200 || status_ == 204) return true;
      }
      break;
    case 17:
      if (EqualsLower(name, "transfer-encoding")) {
        if (!ContainsTokenIgnoreCase(value, "chunked")) {
          *reason = "unsupported Transfer-Encoding (only chunked)";
          return false;
        }
        if (content_length_ >= 0) {
          *reason = "both Content-Length and Transfer-Encoding";
          return false;
        }
        app_chunked_ = true;
        return true;  // ESG writes its own Transfer-Encoding line when it chunks
      }
      break;
    case 10:
      if (EqualsLower(name, "connection") && ContainsTokenIgnoreCase(value, "close")) app_close_ = true;
      break;
    case 6:
      if (EqualsLower(name, "server")) has_server_ = true;
      break;
    case 4:
      if (EqualsLower(name, "date")) has_date_ = true;
      break;
  }
  buf_.append(name);
  buf_.append(": ");
  buf_.append(value);
  buf_.append("\r\n");
  return true;
}

std::string_view ResponseHead::Finish(const DefaultHeaders& defaults, std::string_view date, int http_minor,
                                        bool head_request, bool body_complete, size_t first_chunk_size,
                                        bool request_keep_alive) {
  keep_alive_ = request_keep_alive && !app_close_;
  body_allowed_ = !(status_ < 200 || status_ == 204 || status_ == 304);
  if (!body_allowed_) {
    framing_ = Framing::kNone;
  } else if (content_length_ >= 0) {
    framing_ = Framing::kLength;
  } else if (body_complete && !app_chunked_) {
    framing_ = Framing::kLength;
    content_length_ = static_cast<int64_t>(first_chunk_size);
    buf_.append("content-length: ");
    AppendInt(buf_, content_length_);
    buf_.append("\r\n");
  } else if (http_minor >= 1) {
    framing_ = Framing::kChunked;
    buf_.append("transfer-encoding: chunked\r\n");
  } else {
    framing_ = Framing::kClose;
    keep_alive_ = false;
  }
  // A HEAD response carries no body, so it needs no delimiting by close either.
  if (head_request && framing_ == Framing::kClose) keep_alive_ = request_keep_alive && !app_close_;
  if (defaults.server && !has_server_) buf_.append("server: esg\r\n");
  if (defaults.date && !has_date_) {
    buf_.append("date: ");
    buf_.append(date);
    buf_.append("\r\n");
  }
  buf_.append(defaults.extra);
  if (!keep_alive_ && !app_close_) {
    buf_.append("connection: close\r\n");
  } else if (keep_alive_ && http_minor == 0) {
    buf_.append("connection: keep-alive\r\n");
  }
  buf_.append("\r\n");
  return buf_.view();
}

void HeadBuffer::Spill(std::string_view s) {
  if (heap_.empty()) {
    heap_.reserve(2 * (size_ + s.size()));
    heap_.assign(inline_, size_);
  }
  heap_.append(s);
}

std::string_view StatusLine(int status) {
  static const std::vector<std::string>* lines = [] {
    auto* v = new std::vector<std::string>(1000);
    for (int code = 100; code < 1000; ++code) {
      std::string line = "HTTP/1.1 " + std::to_string(code) + " ";
      line.append(ReasonPhrase(code));
      line.append("\r\n");
      (*v)[static_cast<size_t>(code)] = std::move(line);
    }
    return v;
  }();
  return (*lines)[static_cast<size_t>(status)];
}

std::string_view ReasonPhrase(int status) {
  switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 102: return "Processing";
    case 103: return "Early Hints";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 203: return "Non-Authoritative Information";
    case 204: return "No Content";
    case 205: return "Reset Content";
    case 206: return "Partial Content";
    case 207: return "Multi-Status";
    case 300: return "Multiple Choices";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 402: return "Payment Required";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 407: return "Proxy Authentication Required";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 418: return "I'm a teapot";
    case 421: return "Misdirected Request";
    case 422: return "Unprocessable Content";
    case 425: return "Too Early";
    case 426: return "Upgrade Required";
    case 428: return "Precondition Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 451: return "Unavailable For Legal Reasons";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "";
  }
}

std::string SimpleResponse(int status, std::string_view body, const DefaultHeaders& defaults, std::string_view date) {
  std::string out(StatusLine(status));
  out.append("content-type: text/plain; charset=utf-8\r\ncontent-length: ");
  AppendInt(out, static_cast<int64_t>(body.size()));
  out.append("\r\nconnection: close\r\n");
  if (defaults.server) out.append("server: esg\r\n");
  if (defaults.date) {
    out.append("date: ");
    out.append(date);
    out.append("\r\n");
  }
  out.append("\r\n");
  out.append(body);
  return out;
}

std::string_view DateCache::Get() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME_COARSE, &ts);
  if (ts.tv_sec != second_) {
    second_ = ts.tv_sec;
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char buf[64];
    size_t n = strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    text_.assign(buf, n);
  }
  return text_;
}

}  // namespace esg::http
