// ForwardedPolicy: which peers may set X-Forwarded-For / X-Forwarded-Proto, and what those headers say.
//
// --forwarded-allow-ips is a comma-separated list of IPv4/IPv6 addresses, CIDR networks, "*" (everyone)
// "unix" (every peer on a UNIX socket) and "unix:USER" / "unix:uid=N" / "unix:group=G" / "unix:gid=N" (a
// UNIX-socket peer with that identity, by SO_PEERCRED: server/engine/peer_cred.h). Only a trusted peer's
// headers are used; the client
// is the first untrusted address walking X-Forwarded-For from right to left (or the leftmost one when the
// whole chain is trusted); an entry that is not an IP literal names no client (the peer stays the
// client). X-Forwarded-Proto counts only when it is http or https (HTTP requests), or http, https, ws or
// wss (WebSocket requests, mapped to ws/wss). X-Forwarded-Host (the rightmost value, a valid
// host[:port]) and X-Forwarded-Port (the rightmost value, 1..65535) give the host the client asked for.
// The RFC 7239 Forwarded header (FromForwarded) carries the same three facts; the binding consults it only
// when the request has no X-Forwarded-* header at all (those win: they are what nginx, Traefik and cloud
// load balancers set, and what uvicorn reads).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "server/engine/peer_cred.h"
#include "server/http/request_head.h"

namespace esg::http {

// True when `head` has a header ForwardedPolicy::FromHeaders reads (x-forwarded-* or forwarded). The request
// path asks first, so a request from a trusted peer without such headers costs one pass over the names.
inline bool HasForwardedHeaders(const RequestHead& head) {
  for (size_t i = 0; i < head.header_count; ++i) {
    const std::string& n = head.headers[i].name;
    if (n.size() >= 9 && (n[0] == 'x' || n[0] == 'f') && (n.compare(0, 12, "x-forwarded-") == 0 || n == "forwarded")) {
      return true;
    }
  }
  return false;
}

class ForwardedPolicy {
 public:
  // Parses the allow list. False (with *error naming the bad entry) on a malformed entry.
  bool Parse(std::string_view allow_list, std::string* error);

  bool TrustsAll() const { return all_; }
  // Every UNIX-socket peer ("*" or "unix"), whoever it is.
  bool TrustsUnix() const { return all_ || unix_; }
  // A UNIX-socket peer on connected descriptor `fd`: every one, or one a unix:IDENTITY entry names.
  bool TrustsUnixPeer(int fd) const {
    return TrustsUnix() || (!unix_peers_.empty() && engine::MatchesUnixPeer(unix_peers_, engine::GetPeerCredentials(fd)));
  }
  bool Trusts(std::string_view ip) const;

  struct Client {
    std::string host;
    int port = 0;
  };
  // The client named by an X-Forwarded-For value, or nothing when it names none usable. `host` is
  // always a valid IPv4/IPv6 literal (ASCII); `port` is 1..65535, or 0 when none (or an invalid one)
  // was given.
  std::optional<Client> ClientFrom(std::string_view forwarded_for) const;

  // The scope scheme an X-Forwarded-Proto value asks for, or empty when it is not usable: "http"/"https"
  // for an HTTP request; "ws"/"wss" for a WebSocket (from ws/wss, or http/https mapped to them).
  static std::string_view Scheme(std::string_view forwarded_proto, bool websocket);

  // The host an X-Forwarded-Host value (several lines joined with ',') names: its rightmost entry (the
  // proxy closest to us appended last), or empty when that entry is not a valid host (IsValidHost).
  static std::string_view Host(std::string_view forwarded_host);
  // The port an X-Forwarded-Port value names: its rightmost entry when it is 1..65535 in plain decimal,
  // else 0.
  static int Port(std::string_view forwarded_port);
  // host [":" port] with host a DNS name (letters, digits, '-', '.', '_', at most 253 bytes), an IPv4
  // literal or a bracketed IPv6 literal, and port 1..65535: what may replace the Host header. Anything
  // else (several hosts, spaces, control bytes, userinfo, paths) is refused.
  static bool IsValidHost(std::string_view host);

  // What an RFC 7239 Forwarded value (several lines joined with ',') says, walked right to left with the
  // same trust rule as X-Forwarded-For: the element whose for= is the first untrusted (or unusable)
  // node is the one the outermost trusted proxy wrote; its for= is the client (an IP literal; "unknown"
  // and obfuscated "_x" identifiers name none), its proto= the scheme and its host= the host. A whole
  // trusted chain yields the leftmost element. A value that is not valid RFC 7239 syntax, or with more
  // than kMaxForwardedElements elements, says nothing (work is linear in the value's length).
  static constexpr size_t kMaxForwardedElements = 64;
  struct ForwardedElement {
    std::optional<Client> client;
    std::string_view scheme;  // as Scheme(): "", http/https, ws/wss
    std::string host;         // IsValidHost, or empty
  };
  std::optional<ForwardedElement> FromForwarded(std::string_view forwarded, bool websocket) const;

  // Everything a trusted peer's headers say about the request, for the scope: X-Forwarded-For/-Proto/
  // -Host/-Port when any of them is present (each header's lines joined), else the Forwarded header.
  // `host` is the host the client asked for, with X-Forwarded-Port replacing its port (a port equal to
  // the scheme's default is left out), or empty when the headers name none. Headers whose names do not
  // start with 'x' or 'f' cost one comparison each.
  ForwardedElement FromHeaders(const RequestHead& head, bool websocket) const;

  // Splits a valid host (IsValidHost) into the name (brackets removed from an IPv6 literal) and port
  // (0 when none).
  static std::pair<std::string_view, int> SplitHost(std::string_view host);

 private:
  struct Network {
    int family;  // 4 or 6
    std::array<uint8_t, 16> bytes;
    int prefix;
  };
  std::vector<Network> networks_;
  std::vector<engine::UnixPeerRule> unix_peers_;
  bool all_ = false;
  bool unix_ = false;
};

}  // namespace esg::http
