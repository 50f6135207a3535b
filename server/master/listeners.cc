// Listening sockets (see listeners.h): TCP, UNIX and inherited descriptors.
#include "server/master/listeners.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>

#include "server/common/unix_user.h"

namespace esg {
namespace {

// "[Errno 98] Address already in use", as Python prints an OSError.
std::string ErrnoText(int error) {
  return "[Errno " + std::to_string(error) + "] " + std::strerror(error);
}

std::string HostPort(const std::string& host, int port) {
  bool ipv6 = host.find(':') != std::string::npos;
  return (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

// Fills tcp host/port or unix path from a bound address.
bool DescribeAddress(const sockaddr_storage& address, socklen_t length, ListenerSpec* spec) {
  char text[INET6_ADDRSTRLEN] = {0};
  if (address.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&address);
    inet_ntop(AF_INET, &in->sin_addr, text, sizeof text);
    spec->kind = "tcp";
    spec->host = text;
    spec->port = ntohs(in->sin_port);
    return true;
  }
  if (address.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&address);
    inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text);
    spec->kind = "tcp";
    spec->host = text;
    spec->port = ntohs(in6->sin6_port);
    return true;
  }
  if (address.ss_family == AF_UNIX) {
    const auto* un = reinterpret_cast<const sockaddr_un*>(&address);
    const size_t offset = offsetof(sockaddr_un, sun_path);
    size_t path_length = length > offset ? length - offset : 0;
    std::string path(un->sun_path, path_length);
    if (!path.empty() && path[0] == '\0') {
      path[0] = '@';  // abstract socket, shown the way ss(8) shows it
    } else {
      path = path.c_str();  // drop the trailing NUL(s)
    }
    spec->kind = "unix";
    spec->path = path;
    return true;
  }
  return false;
}

bool FillUnixAddress(const std::string& path, sockaddr_un* address, std::string* error) {
  std::memset(address, 0, sizeof *address);
  address->sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof address->sun_path) {
    *error = "UNIX socket path '" + path + "' must be 1 to " + std::to_string(sizeof address->sun_path - 1) +
             " bytes long";
    return false;
  }
  std::memcpy(address->sun_path, path.data(), path.size());
  return true;
}


// Creates a listening UNIX socket at `path` with `access`'s group and mode. Returns the fd or -1.
int BindUnixAt(const std::string& path, int backlog, const UnixSocketAccess& access, std::string* error) {
  sockaddr_un address;
  if (!FillUnixAddress(path, &address, error)) return -1;
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *error = ErrnoText(errno) + " (cannot create a socket)";
    return -1;
  }
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    *error = ErrnoText(errno) + " (cannot bind to unix socket " + path + ")";
    close(fd);
    return -1;
  }
  // Group, then mode (0666 by default so that a proxy running as another user, nginx's worker, can
  // connect), both before listen(): connect() needs write permission on the file.
  if (access.gid >= 0 && chown(path.c_str(), static_cast<uid_t>(-1), static_cast<gid_t>(access.gid)) != 0) {
    *error = ErrnoText(errno) + " (cannot give unix socket " + path + " the group " + std::to_string(access.gid) + ")";
    close(fd);
    unlink(path.c_str());
    return -1;
  }
  if (chmod(path.c_str(), static_cast<mode_t>(access.mode)) != 0 || listen(fd, backlog) != 0) {
    *error = ErrnoText(errno) + " (cannot listen on unix socket " + path + ")";
    close(fd);
    unlink(path.c_str());
    return -1;
  }
  return fd;
}

}  // namespace

PathState ProbeUnixPath(const std::string& path, std::string* error) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return PathState::kAbsent;
    *error = ErrnoText(errno) + " (cannot inspect unix socket " + path + ")";
    return PathState::kError;
  }
  if (!S_ISSOCK(st.st_mode)) {
    *error = "Cannot bind to unix socket " + path +
             ": the path exists and is not a socket; refusing to replace it";
    return PathState::kError;
  }
  sockaddr_un address;
  if (!FillUnixAddress(path, &address, error)) return PathState::kError;
  int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (probe < 0) {
    *error = ErrnoText(errno) + " (cannot create a socket)";
    return PathState::kError;
  }
  int rc = connect(probe, reinterpret_cast<sockaddr*>(&address), sizeof address);
  int saved = errno;
  close(probe);
  if (rc == 0 || saved == EAGAIN || saved == EINPROGRESS) {
    *error = "Another process is already listening on unix socket " + path + "; refusing to replace it";
    return PathState::kLive;
  }
  if (saved == ECONNREFUSED) return PathState::kStale;
  *error = ErrnoText(saved) + " (cannot check unix socket " + path + ")";
  return PathState::kError;
}

bool BindTcp(const std::string& host_in, int port, int backlog, BoundSocket* listener, std::string* error) {
  std::string host = host_in;
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  // uvicorn's rule: a ':' in the host means IPv6, anything else (names included) is IPv4.
  addrinfo hints{};
  hints.ai_family = host.find(':') != std::string::npos ? AF_INET6 : AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* results = nullptr;
  std::string service = std::to_string(port);
  int rc = getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &hints, &results);
  if (rc != 0) {
    std::string reason = rc == EAI_SYSTEM ? ErrnoText(errno)
                                          : "[Errno " + std::to_string(rc) + "] " + gai_strerror(rc);
    *error = reason + " (cannot resolve host '" + host + "')";
    return false;
  }
  int last_errno = EADDRNOTAVAIL;
  const char* step = "bind to";
  int fd = -1;
  for (addrinfo* ai = results; ai != nullptr && fd < 0; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      last_errno = errno;
      step = "create a socket for";
      continue;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
      last_errno = errno;
      step = "bind to";
    } else if (listen(fd, backlog) != 0) {
      last_errno = errno;
      step = "listen on";
    } else {
      break;
    }
    close(fd);
    fd = -1;
  }
  freeaddrinfo(results);
  if (fd < 0) {
    *error = ErrnoText(last_errno) + " (cannot " + step + " " + HostPort(host, port) + ")";
    return false;
  }
  sockaddr_storage address{};
  socklen_t length = sizeof address;
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  *listener = BoundSocket{};
  listener->spec.fd = fd;
  listener->bound_here = true;
  DescribeAddress(address, length, &listener->spec);
  return true;
}

bool BindUnix(const std::string& path, int backlog, BoundSocket* listener, std::string* error,
              const UnixSocketAccess& access) {
  sockaddr_un check;
  if (!FillUnixAddress(path, &check, error)) return false;
  PathState state = ProbeUnixPath(path, error);
  if (state == PathState::kLive || state == PathState::kError) return false;
  int fd = -1;
  if (state == PathState::kAbsent) {
    fd = BindUnixAt(path, backlog, access, error);
  } else {
    // Stale socket file: build the new socket beside it and rename() over it, so the path never
    // disappears for clients (nginx) and never points at a socket that is not listening yet.
    size_t slash = path.rfind('/');
    std::string dir = slash == std::string::npos ? "" : path.substr(0, slash + 1);
    std::string temp = dir + ".esg-" + std::to_string(getpid()) + ".tmp";
    if (temp.size() < sizeof check.sun_path) {
      unlink(temp.c_str());
      fd = BindUnixAt(temp, backlog, access, error);
      if (fd >= 0 && rename(temp.c_str(), path.c_str()) != 0) {
        *error = ErrnoText(errno) + " (cannot replace stale unix socket " + path + ")";
        close(fd);
        unlink(temp.c_str());
        fd = -1;
      }
    } else {
      // No room for a temporary name: fall back to remove-then-bind.
      unlink(path.c_str());
      fd = BindUnixAt(path, backlog, access, error);
    }
  }
  if (fd < 0) return false;
  *listener = BoundSocket{};
  listener->spec.fd = fd;
  listener->bound_here = true;
  listener->spec.kind = "unix";
  listener->spec.path = path;
  struct stat st;
  if (stat(path.c_str(), &st) == 0) {
    listener->owns_path = true;
    listener->path_dev = st.st_dev;
    listener->path_ino = st.st_ino;
  }
  return true;
}

bool AdoptFd(int fd, BoundSocket* listener, std::string* error) {
  std::string where = " (--fd " + std::to_string(fd) + ")";
  int type = 0;
  socklen_t length = sizeof type;
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &length) != 0) {
    *error = ErrnoText(errno) + where;
    return false;
  }
  if (type != SOCK_STREAM) {
    *error = "File descriptor " + std::to_string(fd) + " is not a stream (SOCK_STREAM) socket" + where;
    return false;
  }
  int accepting = 0;
  length = sizeof accepting;
  if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &length) != 0 || accepting == 0) {
    *error = "File descriptor " + std::to_string(fd) + " is not a listening socket" + where;
    return false;
  }
  sockaddr_storage address{};
  socklen_t address_length = sizeof address;
  *listener = BoundSocket{};
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&address), &address_length) != 0 ||
      !DescribeAddress(address, address_length, &listener->spec)) {
    *error = "File descriptor " + std::to_string(fd) + " is not a TCP or UNIX socket" + where;
    return false;
  }
  // Workers get their own copy at a fixed number; this one should not leak into them.
  fcntl(fd, F_SETFD, fcntl(fd, F_GETFD) | FD_CLOEXEC);
  listener->spec.fd = fd;
  return true;
}

bool UnixAccessFromConfig(const Config& config, UnixSocketAccess* access, std::string* error) {
  *access = UnixSocketAccess{};
  if (!config.uds_group.empty()) {
    const std::string& name = config.uds_group;
    gid_t gid = 0;
    // UnixSocketAccess::gid is an int (-1: unset): a gid beyond INT_MAX cannot be expressed there.
    if (!LookUpGroup(name, &gid) || gid > static_cast<gid_t>(INT_MAX)) {
      *error = "Invalid value for '--uds-group': no such group '" + name + "'.";
      return false;
    }
    access->gid = static_cast<int>(gid);
    access->mode = 0660;
  }
  if (config.uds_mode) access->mode = *config.uds_mode;
  return true;
}

bool OpenListener(const Config& config, BoundSocket* listener, std::string* error) {
  if (config.fd >= 0) return AdoptFd(config.fd, listener, error);
  if (!config.uds.empty()) {
    UnixSocketAccess access;
    if (!UnixAccessFromConfig(config, &access, error)) return false;
    return BindUnix(config.uds, config.backlog, listener, error, access);
  }
  return BindTcp(config.host, config.port, config.backlog, listener, error);
}

bool StopListening(BoundSocket* listener) {
  if (!listener->bound_here || listener->spec.fd < 0) return false;
  // Linux: on a TCP listener this stops the listen (the queue of unaccepted connections is reset, new
  // SYNs get RST); on a UNIX one connect() fails with ECONNREFUSED. Either way for every process
  // holding the socket, which is what closing the master's copy alone would not do.
  return shutdown(listener->spec.fd, SHUT_RD) == 0;
}

void CloseListener(BoundSocket* listener) {
  if (listener->spec.fd >= 0) close(listener->spec.fd);
  listener->spec.fd = -1;
  if (listener->owns_path) {
    struct stat st;
    if (lstat(listener->spec.path.c_str(), &st) == 0 && st.st_dev == listener->path_dev &&
        st.st_ino == listener->path_ino) {
      unlink(listener->spec.path.c_str());
    }
    listener->owns_path = false;
  }
}

}  // namespace esg
