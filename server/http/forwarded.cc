// ForwardedPolicy implementation: address parsing with inet_pton and prefix matching on raw bytes; the
// X-Forwarded-Host/-Port checks and an RFC 7239 Forwarded parser (one pass, no backtracking).
#include "server/http/forwarded.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>

namespace esg::http {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Parses an IPv4 or IPv6 literal into 16 bytes; returns the family (4/6) or 0. Only hex digits, '.'
// and ':' are looked at: inet_pton stops at a NUL, so "127.0.0.1\0junk" must not reach it.
int ParseIp(std::string_view text, std::array<uint8_t, 16>* out) {
  out->fill(0);
  if (text.empty() || text.size() > 45) return 0;  // INET6_ADDRSTRLEN - 1
  for (char c : text) {
    bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == '.' || c == ':';
    if (!ok) return 0;
  }
  std::string s(text);
  if (inet_pton(AF_INET, s.c_str(), out->data()) == 1) return 4;
  if (inet_pton(AF_INET6, s.c_str(), out->data()) == 1) {
    // An IPv4-mapped IPv6 address is the IPv4 address (dual-stack sockets report peers that way).
    static const uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::equal(kMapped, kMapped + 12, out->begin())) {
      std::array<uint8_t, 16> v4{};
      std::copy(out->begin() + 12, out->end(), v4.begin());
      *out = v4;
      return 4;
    }
    return 6;
  }
  return 0;
}

bool PrefixMatches(const std::array<uint8_t, 16>& a, const std::array<uint8_t, 16>& b, int prefix) {
  int full = prefix / 8;
  for (int i = 0; i < full; ++i) {
    if (a[i] != b[i]) return false;
  }
  int rest = prefix % 8;
  if (rest == 0) return true;
  uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (a[full] & mask) == (b[full] & mask);
}

}  // namespace

bool ForwardedPolicy::Parse(std::string_view allow_list, std::string* error) {
  networks_.clear();
  unix_peers_.clear();
  all_ = unix_ = false;
  while (!allow_list.empty()) {
    size_t comma = allow_list.find(',');
    std::string_view entry = Trim(allow_list.substr(0, comma));
    allow_list = comma == std::string_view::npos ? std::string_view() : allow_list.substr(comma + 1);
    if (entry.empty()) continue;
    if (entry == "*") {
      all_ = true;
      continue;
    }
    if (entry == "unix") {
      unix_ = true;
      continue;
    }
    if (entry.substr(0, 5) == "unix:") {
      engine::UnixPeerRule rule;
      if (!engine::ParseUnixPeerRule(entry.substr(5), &rule, error)) return false;
      unix_peers_.push_back(rule);
      continue;
    }
    std::string_view addr = entry;
    int prefix = -1;
    size_t slash = entry.find('/');
    if (slash != std::string_view::npos) {
      addr = entry.substr(0, slash);
      std::string_view p = entry.substr(slash + 1);
      auto [ptr, ec] = std::from_chars(p.data(), p.data() + p.size(), prefix);
      if (p.empty() || ec != std::errc() || ptr != p.data() + p.size()) prefix = -2;
    }
    Network net;
    net.family = ParseIp(addr, &net.bytes);
    int max_prefix = net.family == 4 ? 32 : 128;
    if (net.family == 0 || prefix == -2 || prefix > max_prefix) {
      *error = "'" + std::string(entry) + "' is not an IP address, a network (CIDR), '*' or 'unix'";
      return false;
    }
    net.prefix = prefix < 0 ? max_prefix : prefix;
    networks_.push_back(net);
  }
  return true;
}

bool ForwardedPolicy::Trusts(std::string_view ip) const {
  if (all_) return true;
  std::array<uint8_t, 16> bytes;
  int family = ParseIp(ip, &bytes);
  if (family == 0) return false;
  for (const Network& n : networks_) {
    if (n.family == family && PrefixMatches(n.bytes, bytes, n.prefix)) return true;
  }
  return false;
}

namespace {

// One X-Forwarded-For entry: "ip", "ip:port" (IPv4), "[ipv6]", "[ipv6]:port" or a bare IPv6 address.
// Nothing when the address is not an IP literal (a name, "unknown", garbage bytes); a port that is not
// 1..65535 in plain decimal is dropped (0), the address kept.
std::optional<ForwardedPolicy::Client> ParseHop(std::string_view hop) {
  std::string_view host = hop;
  std::string_view port;
  if (hop.front() == '[') {
    size_t close = hop.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = hop.substr(1, close - 1);
    std::string_view rest = hop.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return std::nullopt;
      port = rest.substr(1);
    }
  } else if (std::count(hop.begin(), hop.end(), ':') == 1) {
    size_t colon = hop.find(':');
    host = hop.substr(0, colon);
    port = hop.substr(colon + 1);
  }
  std::array<uint8_t, 16> bytes;
  int family = ParseIp(host, &bytes);
  if (family == 0 || (hop.front() == '[' && host.find(':') == std::string_view::npos)) return std::nullopt;
  ForwardedPolicy::Client c;
  c.host = std::string(host);
  if (!port.empty() && port.size() <= 5 &&
      std::all_of(port.begin(), port.end(), [](char ch) { return ch >= '0' && ch <= '9'; })) {
    int v = 0;
    std::from_chars(port.data(), port.data() + port.size(), v);
    if (v >= 1 && v <= 65535) c.port = v;
  }
  return c;
}

}  // namespace

std::optional<ForwardedPolicy::Client> ForwardedPolicy::ClientFrom(std::string_view forwarded_for) const {
  std::vector<std::string_view> hops;
  while (true) {
    size_t comma = forwarded_for.find(',');
    std::string_view hop = Trim(forwarded_for.substr(0, comma));
    if (!hop.empty()) hops.push_back(hop);
    if (comma == std::string_view::npos) break;
    forwarded_for = forwarded_for.substr(comma + 1);
  }
  if (hops.empty()) return std::nullopt;
  // The first untrusted hop from the right is the client. When that hop is unusable the headers name no
  // client we can report: the peer stays the client (skipping it would let the next, client-written,
  // entry through).
  for (size_t i = hops.size(); i-- > 0;) {
    std::optional<Client> c = ParseHop(hops[i]);
    if (!c || !Trusts(c->host)) return c;
  }
  return ParseHop(hops.front());
}

std::string_view ForwardedPolicy::Scheme(std::string_view value, bool websocket) {
  value = Trim(value);
  size_t comma = value.rfind(',');  // the proxy closest to us appended last
  if (comma != std::string_view::npos) value = Trim(value.substr(comma + 1));
  auto is = [value](std::string_view lower) {
    return value.size() == lower.size() &&
           std::equal(value.begin(), value.end(), lower.begin(), [](char a, char b) { return (a | 0x20) == b; });
  };
  // An HTTP request is http or https whatever the proxy says; ws/wss describe a WebSocket (and the
  // proxy's http/https a WebSocket's transport, hence ws/wss).
  if (is("https")) return websocket ? "wss" : "https";
  if (is("http")) return websocket ? "ws" : "http";
  if (websocket && is("wss")) return "wss";
  if (websocket && is("ws")) return "ws";
  return {};
}

namespace {

// The rightmost comma-separated entry of a header value, trimmed.
std::string_view Rightmost(std::string_view value) {
  size_t comma = value.rfind(',');
  return Trim(comma == std::string_view::npos ? value : value.substr(comma + 1));
}

// 1..65535 in plain decimal (at most five digits), else 0.
int ParsePort(std::string_view text) {
  if (text.empty() || text.size() > 5) return 0;
  int v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return 0;
    v = v * 10 + (c - '0');
  }
  return v <= 65535 ? v : 0;
}

bool IsTchar(unsigned char c) {
  if ((c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z')) return true;
  switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+': case '-': case '.':
    case '^': case '_': case '`': case '|': case '~':
      return true;
    default:
      return false;
  }
}

// One RFC 7239 forwarded-element: the parameters ESG uses, unescaped.
struct Element {
  std::string for_node, proto, host;
  bool has_for = false, has_proto = false, has_host = false;
};

// Parses `value` (1#forwarded-element) into `out`. False on a syntax error, a parameter given twice in
// one element, or more than `max` elements. OWS is allowed around ',' and ';'.
bool ParseForwarded(std::string_view value, size_t max, std::vector<Element>* out) {
  size_t i = 0, n = value.size();
  auto skip_ows = [&] {
    while (i < n && (value[i] == ' ' || value[i] == '\t')) ++i;
  };
  out->emplace_back();
  while (true) {
    skip_ows();
    if (i < n && value[i] != ',' && value[i] != ';') {
      size_t start = i;
      while (i < n && IsTchar(static_cast<unsigned char>(value[i]))) ++i;
      std::string_view name = value.substr(start, i - start);
      if (name.empty() || i >= n || value[i] != '=') return false;
      ++i;
      std::string v;
      if (i < n && value[i] == '"') {
        ++i;
        bool closed = false;
        while (i < n) {
          unsigned char c = static_cast<unsigned char>(value[i++]);
          if (c == '"') {
            closed = true;
            break;
          }
          if (c == '\\') {
            if (i >= n) return false;
            c = static_cast<unsigned char>(value[i++]);
            if (c != '\t' && (c < 0x20 || c == 0x7f)) return false;
          } else if (c != '\t' && (c < 0x20 || c == 0x7f)) {
            return false;
          }
          v.push_back(static_cast<char>(c));
        }
        if (!closed) return false;
      } else {
        size_t vstart = i;
        while (i < n && IsTchar(static_cast<unsigned char>(value[i]))) ++i;
        if (i == vstart) return false;
        v.assign(value.substr(vstart, i - vstart));
      }
      Element& e = out->back();
      auto is = [name](std::string_view lower) {
        return name.size() == lower.size() &&
               std::equal(name.begin(), name.end(), lower.begin(), [](char a, char b) { return (a | 0x20) == b; });
      };
      bool* seen = is("for") ? &e.has_for : is("proto") ? &e.has_proto : is("host") ? &e.has_host : nullptr;
      if (seen) {
        if (*seen) return false;  // RFC 7239 4: a parameter MUST NOT occur more than once per element
        *seen = true;
        (seen == &e.has_for ? e.for_node : seen == &e.has_proto ? e.proto : e.host) = std::move(v);
      }
      skip_ows();
    }
    if (i >= n) return true;
    if (value[i] == ';') {
      ++i;
    } else if (value[i] == ',') {
      ++i;
      if (out->size() >= max) return false;
      out->emplace_back();
    } else {
      return false;
    }
  }
}

}  // namespace

std::string_view ForwardedPolicy::Host(std::string_view forwarded_host) {
  std::string_view host = Rightmost(forwarded_host);
  return IsValidHost(host) ? host : std::string_view();
}

int ForwardedPolicy::Port(std::string_view forwarded_port) { return ParsePort(Rightmost(forwarded_port)); }

bool ForwardedPolicy::IsValidHost(std::string_view host) {
  if (host.empty()) return false;
  std::string_view port;
  if (host.front() == '[') {
    size_t close = host.find(']');
    if (close == std::string_view::npos) return false;
    std::string_view ip = host.substr(1, close - 1);
    std::array<uint8_t, 16> bytes;
    if (ip.find(':') == std::string_view::npos || ParseIp(ip, &bytes) == 0) return false;
    std::string_view rest = host.substr(close + 1);
    if (rest.empty()) return true;
    if (rest.front() != ':') return false;
    port = rest.substr(1);
  } else {
    size_t colon = host.find(':');
    std::string_view name = host.substr(0, colon);
    if (name.empty() || name.size() > 253) return false;
    for (char c : name) {
      bool ok = (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') || c == '-' || c == '.' || c == '_';
      if (!ok) return false;
    }
    if (colon == std::string_view::npos) return true;
    port = host.substr(colon + 1);
  }
  return ParsePort(port) != 0;
}

std::optional<ForwardedPolicy::ForwardedElement> ForwardedPolicy::FromForwarded(std::string_view forwarded,
                                                                               bool websocket) const {
  std::vector<Element> elements;
  if (!ParseForwarded(forwarded, kMaxForwardedElements, &elements)) return std::nullopt;
  // Empty elements (",,", a trailing ',') are allowed by the list rule and say nothing.
  elements.erase(std::remove_if(elements.begin(), elements.end(),
                                [](const Element& e) { return !e.has_for && !e.has_proto && !e.has_host; }),
                 elements.end());
  if (elements.empty()) return std::nullopt;
  for (size_t i = elements.size(); i-- > 0;) {
    const Element& e = elements[i];
    std::optional<Client> client;
    // "unknown" and obfuscated identifiers ("_hidden") name no client; neither does a name.
    if (!e.for_node.empty() && e.for_node != "unknown" && e.for_node.front() != '_') client = ParseHop(e.for_node);
    if (client && Trusts(client->host) && i > 0) continue;
    ForwardedElement out;
    out.client = std::move(client);
    if (e.has_proto && e.proto.find(',') == std::string::npos) out.scheme = Scheme(e.proto, websocket);
    if (e.has_host && IsValidHost(e.host)) out.host = e.host;
    return out;
  }
  return std::nullopt;  // not reached: i == 0 always returns
}

std::pair<std::string_view, int> ForwardedPolicy::SplitHost(std::string_view host) {
  size_t colon = host.rfind(':');
  if (!host.empty() && host.front() == '[') {
    size_t close = host.find(']');
    return {host.substr(1, close - 1), close + 1 < host.size() ? ParsePort(host.substr(close + 2)) : 0};
  }
  if (colon == std::string_view::npos) return {host, 0};
  return {host.substr(0, colon), ParsePort(host.substr(colon + 1))};
}

ForwardedPolicy::ForwardedElement ForwardedPolicy::FromHeaders(const RequestHead& head, bool websocket) const {
  std::string xff, xfh, xfp, rfc7239;
  std::string_view scheme;
  bool any_x = false;
  auto join = [](std::string* to, const std::string& value) {
    if (!to->empty()) to->push_back(',');
    to->append(value);
  };
  for (size_t i = 0; i < head.header_count; ++i) {
    const Header& h = head.headers[i];
    if (h.name.size() < 9 || (h.name[0] != 'x' && h.name[0] != 'f')) continue;
    std::string_view name(h.name);
    if (name == "x-forwarded-for") {
      join(&xff, h.value);
    } else if (name == "x-forwarded-proto") {
      std::string_view p = Scheme(h.value, websocket);
      if (!p.empty()) scheme = p;
    } else if (name == "x-forwarded-host") {
      join(&xfh, h.value);
    } else if (name == "x-forwarded-port") {
      join(&xfp, h.value);
    } else if (name == "forwarded") {
      join(&rfc7239, h.value);
      continue;
    } else {
      continue;
    }
    any_x = true;
  }
  ForwardedElement out;
  std::string_view host;
  int port = 0;
  if (any_x) {
    if (!xff.empty()) out.client = ClientFrom(xff);
    out.scheme = scheme;
    host = Host(xfh);
    port = Port(xfp);
    if (host.empty() && port != 0) {
      // X-Forwarded-Port alone: the request's own host with the proxy's port (as Werkzeug's ProxyFix).
      for (size_t i = 0; i < head.header_count; ++i) {
        if (head.headers[i].name == "host") {
          host = head.headers[i].value;
          if (!IsValidHost(host)) host = {};
          break;
        }
      }
    }
  } else if (!rfc7239.empty()) {
    if (auto e = FromForwarded(rfc7239, websocket)) out = std::move(*e);
    host = out.host;
  }
  if (host.empty()) {
    out.host.clear();
    return out;
  }
  auto [name, own_port] = SplitHost(host);
  if (port == 0) port = own_port;
  bool secure = out.scheme == "https" || out.scheme == "wss";
  std::string result(host.front() == '[' ? host.substr(0, host.find(']') + 1) : name);
  // A port equal to the default of the scheme the app will see is left out, so url_for() writes
  // https://example.com/ rather than https://example.com:443/. With no forwarded scheme the listener's
  // scheme is not known here: any port is kept.
  bool is_default = !out.scheme.empty() && port == (secure ? 443 : 80);
  if (port != 0 && !is_default) result += ":" + std::to_string(port);
  out.host = std::move(result);
  return out;
}

}  // namespace esg::http
