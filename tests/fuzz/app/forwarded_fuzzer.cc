// Fuzz target: ForwardedPolicy (server/http/forwarded.h) fed an arbitrary --forwarded-allow-ips list, peer
// address, X-Forwarded-For and X-Forwarded-Proto, as a (mis)configured proxy or a client behind it could.
//
// Input: four fields separated by '\n': allow list, peer, X-Forwarded-For, X-Forwarded-Proto (missing
// fields are empty; any bytes, NUL included). Invariants (abort on violation):
//   - a client taken from X-Forwarded-For is an IPv4/IPv6 literal (checked with inet_pton on a string
//     holding only address characters) and one of the entries given; its port is 0..65535;
//   - it is untrusted unless it is the leftmost entry (a fully trusted chain);
//   - the scheme is "", http or https for an HTTP request and "", ws or wss for a WebSocket;
//   - a trusted peer is an IP literal, unless the list trusts everyone.
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
  std::string_view fields[4];
  for (int i = 0; i < 4; ++i) {
    size_t nl = i < 3 ? in.find('\n') : std::string_view::npos;
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
  return 0;
}
