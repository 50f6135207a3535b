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

// A bound, listening socket the master owns (close-on-exec; the spawner dup2s it into workers).
struct Listener {
  ListenerSpec spec;  // spec.fd is the master's descriptor
  // UNIX sockets we created: removed on shutdown if the file is still ours (same device and inode).
  bool owns_path = false;
  dev_t path_dev = 0;
  ino_t path_ino = 0;
};

// Binds what `config` asks for (--fd wins over --uds, which wins over --host/--port).
// Returns false and sets `*error` (e.g. "[Errno 98] Address already in use (cannot bind to
// 127.0.0.1:8000)") on failure.
bool OpenListener(const Config& config, Listener* listener, std::string* error);

bool BindTcp(const std::string& host, int port, int backlog, Listener* listener, std::string* error);

// Refuses a path where a server is listening; replaces a stale socket file atomically (bind to a temporary
// name in the same directory, then rename over it); leaves the socket mode 0666.
bool BindUnix(const std::string& path, int backlog, Listener* listener, std::string* error);

// Adopts an inherited descriptor after checking it is a listening SOCK_STREAM socket.
bool AdoptFd(int fd, Listener* listener, std::string* error);

// Closes the socket and removes a UNIX socket file we created (only if it is still ours).
void CloseListener(Listener* listener);

}  // namespace esg
