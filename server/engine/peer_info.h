// PeerInfo: who is at the other end of one connection, as the access log and the app's scope see it.
#pragma once

#include <cstdint>
#include <string>

namespace esg::engine {

struct PeerInfo {
  std::string client_host;  // empty for UNIX-socket peers
  int client_port = 0;
  std::string client_text;  // "127.0.0.1:51234" for the access log
  int fd = -1;              // the connection's socket (SO_PEERCRED for unix:USER proxy trust)
  // Per-connection answer of the app channel's proxy-trust check (-1: not asked yet), so it is
  // computed once per connection rather than once per request.
  mutable int8_t forwarded_trust = -1;
};

}  // namespace esg::engine
