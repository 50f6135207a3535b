// User and group lookup (see unix_user.h).
#include "server/common/unix_user.h"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <vector>

namespace esg {
namespace {

// Runs a *_r lookup with a buffer that grows while the entry does not fit (ERANGE).
template <typename Entry, typename Lookup>
bool Find(Lookup lookup, int size_hint_name, Entry* entry) {
  long hint = sysconf(size_hint_name);
  std::vector<char> buffer(hint > 0 ? static_cast<size_t>(hint) : 4096);
  for (int attempt = 0; attempt < 8; ++attempt) {
    Entry* found = nullptr;
    int rc = lookup(entry, buffer.data(), buffer.size(), &found);
    if (rc == ERANGE) {
      buffer.resize(buffer.size() * 4);
      continue;
    }
    return rc == 0 && found != nullptr;
  }
  return false;
}

}  // namespace

bool ParseNumericId(const std::string& text, unsigned* id) {
  if (text.empty() || text.size() > 10 || text.find_first_not_of("0123456789") != std::string::npos) return false;
  uint64_t value = std::stoull(text);  // at most 10 digits: cannot overflow
  if (value >= UINT32_MAX) return false;
  *id = static_cast<unsigned>(value);
  return true;
}

bool LookUpUser(const std::string& name, uid_t* uid, gid_t* gid) {
  struct passwd entry;
  bool found = Find<struct passwd>(
      [&name](struct passwd* e, char* buffer, size_t size, struct passwd** out) {
        return getpwnam_r(name.c_str(), e, buffer, size, out);
      },
      _SC_GETPW_R_SIZE_MAX, &entry);
  unsigned number = 0;
  if (!found && ParseNumericId(name, &number)) {
    found = Find<struct passwd>(
        [number](struct passwd* e, char* buffer, size_t size, struct passwd** out) {
          return getpwuid_r(static_cast<uid_t>(number), e, buffer, size, out);
        },
        _SC_GETPW_R_SIZE_MAX, &entry);
  }
  if (!found) return false;
  *uid = entry.pw_uid;
  *gid = entry.pw_gid;
  return true;
}

bool LookUpGroup(const std::string& name, gid_t* gid) {
  struct group entry;
  bool found = Find<struct group>(
      [&name](struct group* e, char* buffer, size_t size, struct group** out) {
        return getgrnam_r(name.c_str(), e, buffer, size, out);
      },
      _SC_GETGR_R_SIZE_MAX, &entry);
  if (found) {
    *gid = entry.gr_gid;
    return true;
  }
  unsigned number = 0;
  if (!ParseNumericId(name, &number)) return false;
  *gid = static_cast<gid_t>(number);
  return true;
}

}  // namespace esg
