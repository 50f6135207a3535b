// Fuzz target: ForwardedPolicy (server/http/forwarded.h) fed an arbitrary --forwarded-allow-ips list, peer
// address, X-Forwarded-For/-Proto/-Host/-Port and an RFC 7239 Forwarded value, as a (mis)configured proxy
// or a client behind it could.
//
// Input: seven fields separated by '\n': allow list, peer, X-Forwarded-For, X-Forwarded-Proto, Forwarded,
// X-Forwarded-Host, X-Forwarded-Port (missing fields are empty; any bytes, NUL included; the first four
// are the original format, so older corpus files stay valid). Invariants (abort on violation):
//   - a client taken from X-Forwarded-For is an IPv4/IPv6 literal (checked with inet_pton on a string
//     holding only address characters) and one of the entries given; its port is 0..65535;
//   - it is untrusted unless it is the leftmost entry (a fully trusted chain);
//   - the scheme is "", http or https for an HTTP request and "", ws or wss for a WebSocket;
//   - a trusted peer is an IP literal, unless the list trusts everyone;
//   - a host taken from X-Forwarded-Host or Forwarded is IsValidHost: only letters, digits, '-', '.', '_',
//     ':', '[' and ']' (no control byte, space, ',', '@' or '/'), at most 261 bytes; a port is 0..65535;
//   - a Forwarded client is an IP literal found in the value; Forwarded's scheme is one of the four;
//   - FromHeaders with both kinds present ignores Forwarded (its result equals the X-Forwarded-* one).
#include <arpa/inet.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "server/http/forwarded.h"

namespace {

bool IsIpLiteral(const std::string& s) {
  if (s.empty() || s.size() > 45 || s.find('\0') != std::string::npos) return false;
  unsigned char buf[16];
  return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

void Check(bool ok) {
  if (!ok) abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  constexpr int kFields = 7;
  std::string_view fields[kFields];
  for (int i = 0; i < kFields; ++i) {
    size_t nl = i < kFields - 1 ? in.find('\n') : std::string_view::npos;
    fields[i] = in.substr(0, nl);
    in = nl == std::string_view::npos ? std::string_view() : in.substr(nl + 1);
  }
  esg::http::ForwardedPolicy policy;
  std::string error;
  if (!policy.Parse(fields[0], &error)) {
    Check(!error.empty());
    // The defaults must still be usable after a failed parse.
    esg::http::ForwardedPolicy fallback;
    Check(fallback.Parse("127.0.0.1", &error));
    return 0;
  }
  bool peer_trusted = policy.Trusts(fields[1]);
  if (peer_trusted && !policy.TrustsAll()) Check(IsIpLiteral(std::string(fields[1])));

  std::string_view xff = fields[2];
  if (auto c = policy.ClientFrom(xff)) {
    Check(IsIpLiteral(c->host));
    Check(c->port >= 0 && c->port <= 65535);
    Check(xff.find(c->host) != std::string_view::npos);
    if (policy.Trusts(c->host) && !policy.TrustsAll()) {
      // Only a fully trusted chain yields a trusted client: the leftmost (non-empty) entry.
      std::string_view rest = xff;
      std::string_view first;
      while (first.empty()) {
        size_t comma = rest.find(',');
        first = rest.substr(0, comma);
        while (!first.empty() && (first.front() == ' ' || first.front() == '\t')) first.remove_prefix(1);
        while (!first.empty() && (first.back() == ' ' || first.back() == '\t')) first.remove_suffix(1);
        if (comma == std::string_view::npos) break;
        rest = rest.substr(comma + 1);
      }
      Check(first.find(c->host) != std::string_view::npos);
    }
  }
  std::string_view http = esg::http::ForwardedPolicy::Scheme(fields[3], false);
  Check(http.empty() || http == "http" || http == "https");
  std::string_view ws = esg::http::ForwardedPolicy::Scheme(fields[3], true);
  Check(ws.empty() || ws == "ws" || ws == "wss");
  Check(http.empty() == ws.empty() || (!ws.empty() && http.empty()));

  using esg::http::ForwardedPolicy;
  auto host_ok = [](std::string_view host) {
    if (host.empty()) return true;
    if (!ForwardedPolicy::IsValidHost(host) || host.size() > 261) return false;
    for (char c : host) {
      bool ok = (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') || c == '-' || c == '.' ||
                c == '_' || c == ':' || c == '[' || c == ']';
      if (!ok) return false;
    }
    auto [name, port] = ForwardedPolicy::SplitHost(host);
    return !name.empty() && port >= 0 && port <= 65535;
  };
  std::string_view xfh = ForwardedPolicy::Host(fields[5]);
  Check(host_ok(xfh) && fields[5].find(xfh) != std::string_view::npos);
  int port = ForwardedPolicy::Port(fields[6]);
  Check(port >= 0 && port <= 65535);
  for (bool websocket : {false, true}) {
    if (auto e = policy.FromForwarded(fields[4], websocket)) {
      if (e->client) {
        Check(IsIpLiteral(e->client->host));
        Check(e->client->port >= 0 && e->client->port <= 65535);
      }
      Check(host_ok(e->host));
      Check(e->scheme.empty() || e->scheme == (websocket ? "ws" : "http") || e->scheme == (websocket ? "wss" : "https"));
    }
    esg::http::RequestHead head;
    const char* names[] = {"x-forwarded-for", "x-forwarded-proto", "forwarded", "x-forwarded-host", "x-forwarded-port"};
    for (int i = 0; i < 5; ++i) {
      if (!fields[2 + i].empty()) head.headers.push_back({names[i], std::string(fields[2 + i])});
    }
    head.headers.push_back({"host", std::string(fields[1])});
    head.header_count = head.headers.size();
    ForwardedPolicy::ForwardedElement all = policy.FromHeaders(head, websocket);
    Check(host_ok(all.host));
    if (all.client) Check(IsIpLiteral(all.client->host));
    bool any_x = !fields[2].empty() || !fields[3].empty() || !fields[5].empty() || !fields[6].empty();
    if (any_x && !fields[4].empty()) {
      esg::http::RequestHead without = head;
      without.headers.erase(without.headers.begin() + (fields[2].empty() ? 0 : 1) + (fields[3].empty() ? 0 : 1));
      without.header_count = without.headers.size();
      ForwardedPolicy::ForwardedElement x_only = policy.FromHeaders(without, websocket);
      Check(x_only.host == all.host && x_only.scheme == all.scheme && x_only.client.has_value() == all.client.has_value());
      if (all.client) Check(x_only.client->host == all.client->host && x_only.client->port == all.client->port);
    }
  }
  return 0;
}
