// Binding the control socket and checking peers (see unix_listener.h).
#include "control/server/unix_listener.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "server/common/unix_user.h"

namespace esg::control {
namespace {

std::string Errno(const std::string& what) { return what + ": " + std::strerror(errno); }

bool FillAddress(const std::string& path, sockaddr_un* addr, std::string* error) {
  std::memset(addr, 0, sizeof(*addr));
  addr->sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(addr->sun_path)) {
    *error = "control socket path '" + path + "' is empty or longer than " +
             std::to_string(sizeof(addr->sun_path) - 1) + " bytes; choose a shorter --control-socket";
    return false;
  }
  std::memcpy(addr->sun_path, path.data(), path.size());
  return true;
}

// True when a process accepts connections on `path` right now.
bool SomeoneListens(const sockaddr_un& addr) {
  int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (probe < 0) return false;
  bool live = connect(probe, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0;
  close(probe);
  return live;
}

bool EnsureParent(const std::string& path, std::string* error) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos || slash == 0) return true;
  std::string dir = path.substr(0, slash);
  struct stat st;
  if (lstat(dir.c_str(), &st) != 0) {
    if (errno != ENOENT) { *error = Errno("cannot inspect the control socket directory " + dir); return false; }
    mode_t mode = geteuid() == 0 ? 0755 : 0700;
    if (mkdir(dir.c_str(), mode) != 0 && errno != EEXIST) {
      *error = Errno("cannot create the control socket directory " + dir) +
               "; create it or choose another --control-socket";
      return false;
    }
    if (lstat(dir.c_str(), &st) != 0) { *error = Errno("cannot inspect " + dir); return false; }
  }
  if (!S_ISDIR(st.st_mode)) {
    *error = "the control socket directory " + dir + " is not a directory (or is a symlink)";
    return false;
  }
  // In a shared directory (/tmp), a directory someone else created could be used to intercept us.
  if (st.st_uid != geteuid() && st.st_uid != 0) {
    *error = "the control socket directory " + dir + " belongs to uid " + std::to_string(st.st_uid) +
             ", not to this user; remove it or choose another --control-socket";
    return false;
  }
  return true;
}

}  // namespace

bool ReadPeerCredentials(int fd, PeerCredentials* out) {
  ucred cred{};
  socklen_t len = sizeof(cred);
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || len != sizeof(cred)) return false;
  out->pid = cred.pid;
  out->uid = cred.uid;
  out->gid = cred.gid;
  return true;
}

namespace {

// Supplementary groups of a live process, from /proc/<pid>/status ("Groups: 4 24 27").
bool ProcessInGroup(pid_t pid, gid_t gid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("Groups:", 0) != 0) continue;
    std::istringstream groups(line.substr(7));
    long g;
    while (groups >> g) {
      if (static_cast<gid_t>(g) == gid) return true;
    }
  }
  return false;
}

}  // namespace

bool PeerPolicy::Allows(const PeerCredentials& peer, std::string* why) const {
  if (peer.uid == 0 || peer.uid == server_uid_) return true;
  if (group_ && (peer.gid == *group_ || ProcessInGroup(peer.pid, *group_))) return true;
  *why = Refusal("uid " + std::to_string(peer.uid));
  return false;
}

std::string PeerPolicy::Refusal(const std::string& who) const {
  return "permission denied: " + who + " may not use this esg control socket; it accepts root and uid " +
         std::to_string(server_uid_) + (group_ ? " and members of gid " + std::to_string(*group_) : std::string()) +
         " (run esgctl as one of those, or start esg with --control-group GROUP)";
}

bool ResolveGroup(const std::string& name, gid_t* out, std::string* error) {
  if (LookUpGroup(name, out)) return true;
  *error = "Invalid value for '--control-group': no group named '" + name + "'";
  return false;
}

BindOutcome BindControlSocket(const std::string& path, std::optional<gid_t> group, int* fd,
                              std::string* error) {
  sockaddr_un addr;
  if (!FillAddress(path, &addr, error)) return BindOutcome::kError;
  if (!EnsureParent(path, error)) return BindOutcome::kError;

  struct stat st;
  if (lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      *error = "control socket path " + path + " exists and is not a socket; remove it or choose another";
      return BindOutcome::kError;
    }
    if (SomeoneListens(addr)) {
      *error = "another process (an esg master?) is listening on the control socket " + path;
      return BindOutcome::kInUse;
    }
  }

  // Bind under a temporary name, set the mode, listen, then rename over the target: the socket appears
  // at `path` atomically, already restricted and accepting.
  std::string temp = path + ".tmp" + std::to_string(getpid());
  sockaddr_un temp_addr;
  if (!FillAddress(temp, &temp_addr, error)) return BindOutcome::kError;
  unlink(temp.c_str());
  int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (s < 0) { *error = Errno("cannot create the control socket"); return BindOutcome::kError; }
  // No umask games (umask is process-wide and gRPC threads run): the temporary name is chmod-ed before
  // listen() and before the rename publishes it, so nobody can connect while the mode is wider.
  int rc = bind(s, reinterpret_cast<const sockaddr*>(&temp_addr), sizeof(temp_addr));
  auto fail = [&](const std::string& what) {
    *error = Errno(what);
    close(s);
    unlink(temp.c_str());
    return BindOutcome::kError;
  };
  if (rc != 0) return fail("cannot bind the control socket " + temp);
  if (group) {
    if (chown(temp.c_str(), static_cast<uid_t>(-1), *group) != 0) {
      return fail("cannot give the control socket to gid " + std::to_string(*group));
    }
    if (chmod(temp.c_str(), 0660) != 0) return fail("cannot set the mode of the control socket");
  } else if (chmod(temp.c_str(), 0600) != 0) {
    return fail("cannot set the mode of the control socket");
  }
  if (listen(s, 64) != 0) return fail("cannot listen on the control socket");
  if (rename(temp.c_str(), path.c_str()) != 0) return fail("cannot move the control socket to " + path);
  *fd = s;
  return BindOutcome::kBound;
}

}  // namespace esg::control
