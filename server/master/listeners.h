// Listening sockets, bound once by the master and inherited by every worker.
//
// One of: TCP (--host/--port), a UNIX socket (--uds), or an inherited socket (--fd). Errors a user can
// cause (port in use, permission denied, unknown host, a live server on the UNIX socket, an --fd that is
// not a listening stream socket) come back as one sentence for the log, never as an exception.
// Not thread-safe; call from the master's main thread.
#pragma once

#include <sys/types.h>

#include <string>

#include "server/common/config.h"

namespace esg {

// A bound, listening socket the master owns (close-on-exec; the spawner dup2s it into workers). The
// worker's side of the same socket, which accepts, is the engine's `Listener` (server/engine/server.h).
struct BoundSocket {
  ListenerSpec spec;  // spec.fd is the master's descriptor
  // True when BindTcp/BindUnix created the socket (false for --fd and LISTEN_FDS, which belong to whoever
  // passed them): only such a socket is shut down by StopListening.
  bool bound_here = false;
  // UNIX sockets we created: removed on shutdown if the file is still ours (same device and inode).
  bool owns_path = false;
  dev_t path_dev = 0;
  ino_t path_ino = 0;
};

// Who may connect to a UNIX socket we create: its permission bits and group (-1: leave the group alone).
struct UnixSocketAccess {
  int mode = 0666;
  int gid = -1;
};

// The access --uds-mode/--uds-group ask for: mode 0660 when only --uds-group is given. False with
// `*error` ("Invalid value for '--uds-group': no such group 'x'.") when the group is unknown.
bool UnixAccessFromConfig(const Config& config, UnixSocketAccess* access, std::string* error);

// What is at a UNIX socket path: nothing, a socket nobody listens on (stale: safe to replace), a live
// server (`*error` says so), or something else (`*error`: not a socket, or the check failed).
enum class PathState { kAbsent, kStale, kLive, kError };
PathState ProbeUnixPath(const std::string& path, std::string* error);

// Binds what `config` asks for (--fd wins over --uds, which wins over --host/--port).
// Returns false and sets `*error` (e.g. "[Errno 98] Address already in use (cannot bind to
// 127.0.0.1:8000)") on failure.
bool OpenListener(const Config& config, BoundSocket* listener, std::string* error);

bool BindTcp(const std::string& host, int port, int backlog, BoundSocket* listener, std::string* error);

// Refuses a path where a server is listening; replaces a stale socket file atomically (bind to a temporary
// name in the same directory, then rename over it); gives the file `access`'s group and mode before
// listen(), so nobody outside them can ever connect.
bool BindUnix(const std::string& path, int backlog, BoundSocket* listener, std::string* error,
              const UnixSocketAccess& access = {});

// Adopts an inherited descriptor after checking it is a listening SOCK_STREAM socket.
bool AdoptFd(int fd, BoundSocket* listener, std::string* error);

// As a graceful stop begins: makes the kernel refuse new connections on a socket the master bound
// (shutdown(SHUT_RD) on the listening socket, which acts on the socket every worker shares, so clients
// get ECONNREFUSED at once instead of waiting in the backlog to be reset at exit); in-flight connections
// are untouched. Leaves inherited sockets (--fd, LISTEN_FDS) listening: their owner decides.
// Returns true when it stopped the socket.
bool StopListening(BoundSocket* listener);

// Closes the socket and removes a UNIX socket file we created (only if it is still ours).
void CloseListener(BoundSocket* listener);

}  // namespace esg
