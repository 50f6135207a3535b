// UNIX-socket peer credentials and `unix:` trust entries (see peer_cred.h).
#include "server/engine/peer_cred.h"

#include <grp.h>
#include <pwd.h>
#include <sys/socket.h>

#include <charconv>
#include <climits>

namespace esg::engine {
namespace {

// A decimal id (no sign, no spaces) that fits uid_t/gid_t and is not (uid_t)-1.
bool ParseId(std::string_view text, uint32_t* id) {
  if (text.empty() || text.size() > 10) return false;
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value >= UINT32_MAX) return false;
  *id = static_cast<uint32_t>(value);
  return true;
}

bool LookupUser(const std::string& name, uint32_t* uid) {
  struct passwd entry;
  struct passwd* found = nullptr;
  char buffer[4096];
  if (getpwnam_r(name.c_str(), &entry, buffer, sizeof buffer, &found) != 0 || found == nullptr) return false;
  *uid = found->pw_uid;
  return true;
}

bool LookupGroup(const std::string& name, uint32_t* gid) {
  struct group entry;
  struct group* found = nullptr;
  char buffer[16384];
  if (getgrnam_r(name.c_str(), &entry, buffer, sizeof buffer, &found) != 0 || found == nullptr) return false;
  *gid = found->gr_gid;
  return true;
}

}  // namespace

PeerCredentials GetPeerCredentials(int fd) {
  PeerCredentials out;
  struct ucred cred {};
  socklen_t length = sizeof cred;
  if (fd >= 0 && getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &length) == 0 && length == sizeof cred &&
      cred.pid > 0) {
    out.known = true;
    out.uid = cred.uid;
    out.gid = cred.gid;
  }
  return out;
}

bool ParseUnixPeerRule(std::string_view spec, UnixPeerRule* rule, std::string* error) {
  std::string_view key = "user";
  std::string_view value = spec;
  size_t equals = spec.find('=');
  if (equals != std::string_view::npos) {
    key = spec.substr(0, equals);
    value = spec.substr(equals + 1);
  }
  if (value.empty() || value.find('\0') != std::string_view::npos || value.size() > 256) {
    *error = "'unix:" + std::string(spec.substr(0, 64)) + "' needs a user, uid=N, group=NAME or gid=N after 'unix:'";
    return false;
  }
  const std::string name(value);
  if (key == "uid" || key == "gid") {
    rule->kind = key == "uid" ? UnixPeerRule::Kind::kUid : UnixPeerRule::Kind::kGid;
    if (!ParseId(value, &rule->id)) {
      *error = "'unix:" + std::string(spec) + "': " + std::string(key) + " must be a number";
      return false;
    }
    return true;
  }
  if (key == "user") {
    rule->kind = UnixPeerRule::Kind::kUid;
    if (LookupUser(name, &rule->id) || ParseId(value, &rule->id)) return true;
    *error = "'unix:" + std::string(spec) + "': no such user";
    return false;
  }
  if (key == "group") {
    rule->kind = UnixPeerRule::Kind::kGid;
    if (LookupGroup(name, &rule->id) || ParseId(value, &rule->id)) return true;
    *error = "'unix:" + std::string(spec) + "': no such group";
    return false;
  }
  *error = "'unix:" + std::string(spec.substr(0, 64)) + "': use unix:USER, unix:uid=N, unix:group=NAME or unix:gid=N";
  return false;
}

bool MatchesUnixPeer(const std::vector<UnixPeerRule>& rules, const PeerCredentials& peer) {
  if (!peer.known) return false;
  for (const UnixPeerRule& rule : rules) {
    if (rule.kind == UnixPeerRule::Kind::kUid ? peer.uid == rule.id : peer.gid == rule.id) return true;
  }
  return false;
}

}  // namespace esg::engine
