// sd_notify and socket activation (see sd_notify.h). The protocol: one AF_UNIX datagram of
// newline-separated KEY=VALUE assignments to the socket named by $NOTIFY_SOCKET ('@' = abstract namespace).
#include "server/master/sd_notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>

namespace esg {

bool SdNotify(const std::string& state) {
  const char* path = std::getenv("NOTIFY_SOCKET");
  if (path == nullptr || (path[0] != '/' && path[0] != '@')) return false;
  size_t length = std::strlen(path);
  sockaddr_un address{};
  if (length >= sizeof address.sun_path) return false;
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, path, length);
  if (address.sun_path[0] == '@') address.sun_path[0] = '\0';
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  socklen_t address_length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + length);
  ssize_t sent = sendto(fd, state.data(), state.size(), MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&address),
                        address_length);
  close(fd);
  return sent == static_cast<ssize_t>(state.size());
}

std::vector<int> SdListenFds() {
  std::vector<int> fds;
  const char* pid = std::getenv("LISTEN_PID");
  const char* count = std::getenv("LISTEN_FDS");
  if (pid == nullptr || count == nullptr) return fds;
  char* end = nullptr;
  long listen_pid = std::strtol(pid, &end, 10);
  if (*end != '\0' || listen_pid != getpid()) return fds;
  long n = std::strtol(count, &end, 10);
  if (*end != '\0' || n <= 0 || n > 1024) return fds;
  for (int i = 0; i < n; ++i) fds.push_back(3 + i);  // SD_LISTEN_FDS_START
  return fds;
}

const std::vector<std::string>& SystemdEnvNames() {
  static const std::vector<std::string>* names =
      new std::vector<std::string>{"NOTIFY_SOCKET", "LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"};
  return *names;
}

}  // namespace esg
