// Who is on the other end of a UNIX-socket connection (SO_PEERCRED), and the `unix:` identity entries
// of --forwarded-allow-ips that trust a proxy by that identity instead of trusting every local process.
//
//   unix:www-data     the user www-data (a name, or a number read as a uid)
//   unix:user=NAME    the same, spelled out;   unix:uid=33   by uid
//   unix:group=NAME   a peer whose (effective, primary) gid is NAME's;   unix:gid=33   by gid
//
// Names are resolved when the list is parsed (the master checks them at start: an unknown name is a usage
// error). The kernel records the peer's credentials at connect(), so the check costs one getsockopt per
// connection, and only when such an entry exists (ForwardedPolicy caches the answer per connection).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace esg::engine {

struct PeerCredentials {
  bool known = false;  // false: not a UNIX socket, or getsockopt failed
  uint32_t uid = 0;
  uint32_t gid = 0;
};

// SO_PEERCRED of a connected UNIX-socket descriptor.
PeerCredentials GetPeerCredentials(int fd);

struct UnixPeerRule {
  enum class Kind { kUid, kGid };
  Kind kind = Kind::kUid;
  uint32_t id = 0;
};

// Parses what follows "unix:" in one --forwarded-allow-ips entry. False with `*error` (a clause naming the
// problem) for an empty, malformed or unknown name/number.
bool ParseUnixPeerRule(std::string_view spec, UnixPeerRule* rule, std::string* error);

// True when the credentials are known and some rule names them.
bool MatchesUnixPeer(const std::vector<UnixPeerRule>& rules, const PeerCredentials& peer);

}  // namespace esg::engine
