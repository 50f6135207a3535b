// ForwardedPolicy implementation: address parsing with inet_pton and prefix matching on raw bytes.
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

}  // namespace esg::http
