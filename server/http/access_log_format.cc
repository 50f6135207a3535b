// AccessLogFormat: compiling gunicorn-style access-log formats and rendering one line (see the header).
#include "server/http/access_log_format.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>

namespace esg::http {
namespace {

constexpr char kHex[] = "0123456789abcdef";

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + ('a' - 'A')) : c; }

std::string Lowercase(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = Lower(c);
  return out;
}

bool EqualsLowercase(std::string_view any_case, std::string_view lowercase) {
  if (any_case.size() != lowercase.size()) return false;
  for (size_t i = 0; i < any_case.size(); ++i) {
    if (Lower(any_case[i]) != lowercase[i]) return false;
  }
  return true;
}

void AppendInt(int64_t value, std::string* out) {
  char digits[24];
  char* end = digits + sizeof digits;
  char* p = end;
  uint64_t v = value < 0 ? 0 - static_cast<uint64_t>(value) : static_cast<uint64_t>(value);
  do {
    *--p = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  if (value < 0) *--p = '-';
  out->append(p, static_cast<size_t>(end - p));
}

// `value` (0..999999) as exactly six digits.
void AppendSixDigits(int64_t value, std::string* out) {
  char digits[6];
  for (int i = 5; i >= 0; --i) {
    digits[i] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
  out->append(digits, 6);
}

std::string_view Protocol(const AccessLogEntry& e) {
  if (e.http_major == 2) return "HTTP/2";
  return e.http_minor == 0 ? "HTTP/1.0" : "HTTP/1.1";
}

std::string_view PathOf(std::string_view target) {
  size_t q = target.find('?');
  return q == std::string_view::npos ? target : target.substr(0, q);
}

std::string_view QueryOf(std::string_view target) {
  size_t q = target.find('?');
  return q == std::string_view::npos ? std::string_view() : target.substr(q + 1);
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// %(U)s is gunicorn's PATH_INFO: the path with its %XX escapes decoded (then escaped for the log).
void AppendDecodedPath(std::string_view path, std::string* out) {
  if (path.size() > AccessLogFormat::kMaxAtomBytes) path = path.substr(0, AccessLogFormat::kMaxAtomBytes);
  char decoded[256];
  size_t n = 0;
  for (size_t i = 0; i < path.size(); ++i) {
    char c = path[i];
    if (c == '%' && i + 2 < path.size() && HexValue(path[i + 1]) >= 0 && HexValue(path[i + 2]) >= 0) {
      c = static_cast<char>(HexValue(path[i + 1]) * 16 + HexValue(path[i + 2]));
      i += 2;
    }
    decoded[n++] = c;
    if (n == sizeof decoded) {
      AppendEscaped(std::string_view(decoded, n), true, n, out);
      n = 0;
    }
  }
  AppendEscaped(std::string_view(decoded, n), true, n, out);
}

// The user name of "Authorization: Basic base64(user:password)", or false.
bool BasicAuthUser(std::string_view header, std::string* user) {
  size_t space = header.find(' ');
  if (space == std::string_view::npos || !EqualsLowercase(header.substr(0, space), "basic")) return false;
  std::string_view encoded = header.substr(space + 1);
  while (!encoded.empty() && encoded.front() == ' ') encoded.remove_prefix(1);
  while (!encoded.empty() && encoded.back() == ' ') encoded.remove_suffix(1);
  user->clear();
  uint32_t bits = 0;
  int nbits = 0;
  size_t i = 0;
  for (; i < encoded.size() && encoded[i] != '='; ++i) {
    char c = encoded[i];
    int v = (c >= 'A' && c <= 'Z') ? c - 'A' : (c >= 'a' && c <= 'z') ? c - 'a' + 26
            : (c >= '0' && c <= '9') ? c - '0' + 52 : c == '+' ? 62 : c == '/' ? 63 : -1;
    if (v < 0) return false;
    bits = (bits << 6) | static_cast<uint32_t>(v);
    nbits += 6;
    if (nbits >= 8) {
      nbits -= 8;
      char byte = static_cast<char>((bits >> nbits) & 0xff);
      if (byte == ':') return true;
      user->push_back(byte);
    }
  }
  for (; i < encoded.size(); ++i) {
    if (encoded[i] != '=') return false;
  }
  return true;  // no ':' at all: the whole decoded text, as gunicorn takes it
}

// "[10/Oct/2000:13:55:36 -0700]" (local time), recomputed at most once per second per thread.
void AppendClfTime(int64_t unix_micros, std::string* out) {
  static const char* const kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  thread_local int64_t cached_second = -1;
  thread_local char cached[40];
  thread_local int cached_len = 0;
  int64_t second = unix_micros / 1000000;
  if (second != cached_second) {
    time_t t = static_cast<time_t>(second);
    struct tm tm;
    localtime_r(&t, &tm);
    long offset = tm.tm_gmtoff / 60;
    char sign = offset < 0 ? '-' : '+';
    if (offset < 0) offset = -offset;
    cached_len = std::snprintf(cached, sizeof cached, "[%02d/%s/%04d:%02d:%02d:%02d %c%02ld%02ld]", tm.tm_mday,
                               kMonths[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec,
                               sign, offset / 60, offset % 60);
    cached_second = second;
  }
  out->append(cached, static_cast<size_t>(cached_len));
}

// "2000-10-10T20:55:36.123456Z" (UTC), for the json preset; the seconds part is built once per second.
void AppendIsoTime(int64_t unix_micros, std::string* out) {
  thread_local int64_t cached_second = -1;
  thread_local char cached[32];
  thread_local int cached_len = 0;
  int64_t second = unix_micros / 1000000;
  if (second != cached_second) {
    time_t t = static_cast<time_t>(second);
    struct tm tm;
    gmtime_r(&t, &tm);
    cached_len = std::snprintf(cached, sizeof cached, "%04d-%02d-%02dT%02d:%02d:%02d.", tm.tm_year + 1900,
                               tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    cached_second = second;
  }
  out->append(cached, static_cast<size_t>(cached_len));
  AppendSixDigits(unix_micros % 1000000, out);
  out->push_back('Z');
}

// A JSON string of `text` as the log line would show it: AppendEscaped's text, then JSON's quoting. Only
// printable ASCII is left after AppendEscaped, so the result is valid JSON (and UTF-8) whatever the input.
void AppendJsonString(std::string_view text, size_t limit, std::string* out) {
  out->push_back('"');
  if (text.size() > limit) text = text.substr(0, limit);
  for (unsigned char c : text) {
    if (c < 0x20 || c == 0x7f || c >= 0x80) {
      out->append("\\\\x");
      out->push_back(kHex[c >> 4]);
      out->push_back(kHex[c & 0xf]);
    } else if (c == '\\') {
      out->append("\\\\\\\\");  // the log's \\ for a backslash, each one quoted for JSON
    } else if (c == '"') {
      out->append("\\\"");
    } else {
      out->push_back(static_cast<char>(c));
    }
  }
  out->push_back('"');
}

void AppendDuration(const AccessLogEntry& entry, int unit_digits, std::string* out) {
  int64_t micros = entry.seconds > 0 ? static_cast<int64_t>(entry.seconds * 1e6) : 0;
  switch (unit_digits) {
    case 0: AppendInt(micros / 1000000, out); break;
    case 3: AppendInt(micros / 1000, out); break;
    case 6: AppendInt(micros, out); break;
    default:
      AppendInt(micros / 1000000, out);
      out->push_back('.');
      AppendSixDigits(micros % 1000000, out);
  }
}

}  // namespace

void AppendEscaped(std::string_view text, bool quote, size_t limit, std::string* out) {
  if (text.size() > limit) text = text.substr(0, limit);
  size_t start = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    bool plain = c >= 0x20 && c < 0x7f && c != '\\' && !(quote && c == '"');
    if (plain) continue;
    out->append(text.data() + start, i - start);
    start = i + 1;
    if (c == '\\') {
      out->append("\\\\");
    } else if (c == '"') {
      out->append("\\\"");
    } else {
      out->append("\\x");
      out->push_back(kHex[c >> 4]);
      out->push_back(kHex[c & 0xf]);
    }
  }
  out->append(text.data() + start, text.size() - start);
}

bool FindResponseHeader(std::string_view head, std::string_view lowercase_name, std::string_view* value) {
  size_t line_end = head.find("\r\n");  // past the status line
  while (line_end != std::string_view::npos) {
    size_t start = line_end + 2;
    line_end = head.find("\r\n", start);
    if (line_end == std::string_view::npos || line_end == start) return false;
    std::string_view line = head.substr(start, line_end - start);
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || !EqualsLowercase(line.substr(0, colon), lowercase_name)) continue;
    std::string_view v = line.substr(colon + 1);
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
    *value = v;
    return true;
  }
  return false;
}

size_t AccessLogFormat::HeaderSlot(std::string_view lowercase_name) {
  for (size_t i = 0; i < request_headers_.size(); ++i) {
    if (request_headers_[i] == lowercase_name) return i;
  }
  request_headers_.emplace_back(lowercase_name);
  return request_headers_.size() - 1;
}

bool AccessLogFormat::Compile(std::string_view spec, AccessLogFormat* out, std::string* error) {
  AccessLogFormat f;
  f.pid_ = "<" + std::to_string(getpid()) + ">";
  if (spec == "json") {
    f.json_ = f.needs_duration_ = f.needs_time_ = true;
    f.HeaderSlot("user-agent");
    f.HeaderSlot("x-request-id");
    f.pieces_.push_back({Kind::kJson, {}, 0});
    *out = std::move(f);
    return true;
  }
  if (spec.empty()) {
    *error = "the format is empty (give atoms such as '%(h)s \"%(r)s\" %(s)s', or 'json')";
    return false;
  }
  struct Simple {
    char atom;
    Kind kind;
  };
  static const Simple kSimple[] = {
      {'h', Kind::kRemoteHost}, {'l', Kind::kDash},     {'u', Kind::kUser},          {'t', Kind::kTime},
      {'r', Kind::kRequestLine}, {'m', Kind::kMethod},  {'U', Kind::kPath},          {'q', Kind::kQuery},
      {'H', Kind::kProtocol},   {'s', Kind::kStatus},   {'B', Kind::kBytes},         {'b', Kind::kBytesOrDash},
      {'f', Kind::kRequestHeader}, {'a', Kind::kRequestHeader}, {'T', Kind::kSeconds}, {'D', Kind::kMicros},
      {'M', Kind::kMillis},     {'L', Kind::kDecimalSeconds}, {'p', Kind::kPid},
  };
  std::string literal;
  auto flush = [&] {
    if (!literal.empty()) f.pieces_.push_back({Kind::kLiteral, std::move(literal), 0});
    literal.clear();
  };
  for (size_t i = 0; i < spec.size(); ++i) {
    char c = spec[i];
    if (c != '%') {
      literal.push_back(c);
      continue;
    }
    if (i + 1 < spec.size() && spec[i + 1] == '%') {
      literal.push_back('%');
      ++i;
      continue;
    }
    if (i + 1 >= spec.size() || spec[i + 1] != '(') {
      *error = "'%' at position " + std::to_string(i) + " is not followed by '(name)s' (write '%%' for a percent sign)";
      return false;
    }
    size_t close = spec.find(')', i + 2);
    if (close == std::string_view::npos) {
      *error = "'%(' at position " + std::to_string(i) + " has no closing ')'";
      return false;
    }
    std::string_view name = spec.substr(i + 2, close - i - 2);
    if (close + 1 >= spec.size() || spec[close + 1] != 's') {
      *error = "atom '%(" + std::string(name) + ")' must end with 's', as in '%(" + std::string(name) + ")s'";
      return false;
    }
    i = close + 1;
    flush();
    if (name.size() >= 3 && name.front() == '{' && name[name.size() - 2] == '}' &&
        (name.back() == 'i' || name.back() == 'o' || name.back() == 'e')) {
      std::string_view inner = name.substr(1, name.size() - 3);
      if (inner.empty()) {
        *error = "atom '%(" + std::string(name) + ")s' names no header or variable";
        return false;
      }
      if (name.back() == 'i') {
        size_t slot = f.HeaderSlot(Lowercase(inner));
        f.pieces_.push_back({Kind::kRequestHeader, {}, slot});
      } else if (name.back() == 'o') {
        f.pieces_.push_back({Kind::kResponseHeader, Lowercase(inner), 0});
      } else {
        // The worker's environment does not change while it serves: read once, rendered as a literal.
        std::string var(inner);
        const char* value = std::getenv(var.c_str());
        if (!value) {
          for (char& ch : var) ch = (ch >= 'a' && ch <= 'z') ? static_cast<char>(ch - 32) : ch;
          value = std::getenv(var.c_str());
        }
        std::string text;
        if (value) {
          AppendEscaped(value, true, kMaxHeaderBytes, &text);
        } else {
          text = "-";
        }
        f.pieces_.push_back({Kind::kLiteral, std::move(text), 0});
      }
      continue;
    }
    const Simple* found = nullptr;
    if (name.size() == 1) {
      for (const Simple& s : kSimple) {
        if (s.atom == name[0]) found = &s;
      }
    }
    if (!found) {
      *error = "unknown atom '%(" + std::string(name) +
               ")s' (known: h l u t r m U q H s B b f a T D M L p, {header}i, {header}o, {variable}e)";
      return false;
    }
    Piece piece{found->kind, {}, 0};
    if (name[0] == 'f') piece.index = f.HeaderSlot("referer");
    if (name[0] == 'a') piece.index = f.HeaderSlot("user-agent");
    if (name[0] == 'u') piece.index = f.HeaderSlot("authorization");
    if (found->kind == Kind::kTime) f.needs_time_ = true;
    if (found->kind >= Kind::kSeconds && found->kind <= Kind::kDecimalSeconds) f.needs_duration_ = true;
    f.pieces_.push_back(std::move(piece));
  }
  flush();
  *out = std::move(f);
  return true;
}

void AccessLogFormat::Render(const AccessLogEntry& e, std::string* out) const {
  static const std::string kEmpty;
  auto header = [&](size_t index) -> const std::string& {
    if (!e.request_headers || index >= e.request_headers->size()) return kEmpty;
    return (*e.request_headers)[index];
  };
  for (const Piece& p : pieces_) {
    switch (p.kind) {
      case Kind::kLiteral: out->append(p.text); break;
      case Kind::kRemoteHost: AppendEscaped(e.client_host, true, kMaxAtomBytes, out); break;
      case Kind::kDash: out->push_back('-'); break;
      case Kind::kUser: {
        std::string user;
        if (BasicAuthUser(header(p.index), &user) && !user.empty()) {
          AppendEscaped(user, true, kMaxHeaderBytes, out);
        } else {
          out->push_back('-');
        }
        break;
      }
      case Kind::kTime: AppendClfTime(e.unix_micros, out); break;
      case Kind::kRequestLine:
        AppendEscaped(e.method, true, kMaxAtomBytes, out);
        out->push_back(' ');
        AppendEscaped(e.target, true, kMaxAtomBytes, out);
        out->push_back(' ');
        out->append(Protocol(e));
        break;
      case Kind::kMethod: AppendEscaped(e.method, true, kMaxAtomBytes, out); break;
      case Kind::kPath: AppendDecodedPath(PathOf(e.target), out); break;
      case Kind::kQuery: AppendEscaped(QueryOf(e.target), true, kMaxAtomBytes, out); break;
      case Kind::kProtocol: out->append(Protocol(e)); break;
      case Kind::kStatus: AppendInt(e.status, out); break;
      case Kind::kBytes: AppendInt(e.body_bytes, out); break;
      case Kind::kBytesOrDash:
        if (e.body_bytes > 0) {
          AppendInt(e.body_bytes, out);
        } else {
          out->push_back('-');
        }
        break;
      case Kind::kSeconds: AppendDuration(e, 0, out); break;
      case Kind::kMicros: AppendDuration(e, 6, out); break;
      case Kind::kMillis: AppendDuration(e, 3, out); break;
      case Kind::kDecimalSeconds: AppendDuration(e, -1, out); break;
      case Kind::kPid: out->append(pid_); break;
      case Kind::kRequestHeader: {
        const std::string& value = header(p.index);
        if (value.empty()) {
          out->push_back('-');
        } else {
          AppendEscaped(value, true, kMaxHeaderBytes, out);
        }
        break;
      }
      case Kind::kResponseHeader: {
        std::string_view value;
        if (FindResponseHeader(e.response_head, p.text, &value)) {
          AppendEscaped(value, true, kMaxHeaderBytes, out);
        } else {
          out->push_back('-');
        }
        break;
      }
      case Kind::kJson: RenderJson(e, out); break;
    }
  }
}

void AccessLogFormat::RenderJson(const AccessLogEntry& e, std::string* out) const {
  static const std::string kEmpty;
  auto header = [&](size_t index) -> const std::string& {
    if (!e.request_headers || index >= e.request_headers->size()) return kEmpty;
    return (*e.request_headers)[index];
  };
  out->append("{\"time\":\"");
  AppendIsoTime(e.unix_micros, out);
  out->append("\",\"client\":");
  AppendJsonString(e.client_text, kMaxAtomBytes, out);
  out->append(",\"method\":");
  AppendJsonString(e.method, kMaxAtomBytes, out);
  out->append(",\"path\":");
  AppendJsonString(PathOf(e.target), kMaxAtomBytes, out);
  out->append(",\"query\":");
  AppendJsonString(QueryOf(e.target), kMaxAtomBytes, out);
  out->append(",\"protocol\":\"");
  out->append(Protocol(e));
  out->append("\",\"status\":");
  AppendInt(e.status, out);
  out->append(",\"bytes\":");
  AppendInt(e.body_bytes, out);
  out->append(",\"duration\":");
  AppendDuration(e, -1, out);
  out->append(",\"user_agent\":");
  const std::string& agent = header(0);
  if (agent.empty()) {
    out->append("null");
  } else {
    AppendJsonString(agent, kMaxHeaderBytes, out);
  }
  out->append(",\"request_id\":");
  const std::string& id = header(1);
  if (id.empty()) {
    out->append("null");
  } else {
    AppendJsonString(id, kMaxHeaderBytes, out);
  }
  out->push_back('}');
}

}  // namespace esg::http
