// ForwardedPolicy: which peers may set X-Forwarded-For / X-Forwarded-Proto, and what those headers say.
//
// --forwarded-allow-ips is a comma-separated list of IPv4/IPv6 addresses, CIDR networks, "*" (everyone)
// "unix" (every peer on a UNIX socket) and "unix:USER" / "unix:uid=N" / "unix:group=G" / "unix:gid=N" (a
// UNIX-socket peer with that identity, by SO_PEERCRED: server/engine/peer_cred.h). Only a trusted peer's
// headers are used; the client
// is the first untrusted address walking X-Forwarded-For from right to left (or the leftmost one when the
// whole chain is trusted); an entry that is not an IP literal names no client (the peer stays the
// client). X-Forwarded-Proto counts only when it is http or https (HTTP requests), or http, https, ws or
// wss (WebSocket requests, mapped to ws/wss).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "server/engine/peer_cred.h"

namespace esg::http {

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
