// The control plane's UNIX socket: binding it safely and deciding which peers may use it. No gRPC here;
// control_server.cc accepts connections and hands the allowed ones to gRPC.
//
// Security model: the socket file is created with mode 0600 (0660 and owned by the configured group when
// there is one), and every accepted connection is checked with SO_PEERCRED, so a permissive umask, a
// copied socket path or a bind mount does not widen access. Allowed: root, the server's own effective
// uid, and (when configured) members of one group (primary or supplementary).
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

namespace esg::control {

struct PeerCredentials {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
};

// Reads SO_PEERCRED of a connected UNIX socket. False (errno set) when the kernel cannot tell.
bool ReadPeerCredentials(int fd, PeerCredentials* out);

class PeerPolicy {
 public:
  PeerPolicy(uid_t server_uid, std::optional<gid_t> group) : server_uid_(server_uid), group_(group) {}
  // True when the peer may use the control plane; otherwise `why` says who is allowed.
  bool Allows(const PeerCredentials& peer, std::string* why) const;
  // The sentence a refused peer gets; `who` names it ("uid 65534").
  std::string Refusal(const std::string& who) const;

 private:
  uid_t server_uid_;
  std::optional<gid_t> group_;
};

// Resolves a group name (or a numeric gid). False with `error` naming --control-group otherwise.
bool ResolveGroup(const std::string& name, gid_t* out, std::string* error);

enum class BindOutcome { kBound, kInUse, kError };

// Creates, binds and listens on a UNIX stream socket at `path` (SOCK_CLOEXEC, non-blocking) with mode
// 0600, or 0660 + group ownership when `group` is set. Creates a missing parent directory (0700; 0755
// for root so group members can reach the socket). Refuses to steal a socket someone listens on
// (kInUse), replaces a stale one atomically (bind to a temporary name, then rename over it), refuses a
// path that exists and is not a socket. On kBound `*fd` is the listening socket.
BindOutcome BindControlSocket(const std::string& path, std::optional<gid_t> group, int* fd,
                              std::string* error);

}  // namespace esg::control
