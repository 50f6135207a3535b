// User and group lookup by name or number: --user/--group (the supervisor), --uds-group (listeners.cc)
// and the control socket's --control-group. One place, so each option accepts the same spellings.
//
// Thread-safe (the reentrant getpwnam_r/getgrnam_r family); a lookup may read /etc/passwd, /etc/group or
// ask NSS, so call it at start-up or on a control request, not per request.
#pragma once

#include <sys/types.h>

#include <string>

namespace esg {

// A user named `name`, or, when no user has that name and `name` is a decimal number below 2^32 - 1, the
// user with that uid (which must exist). Sets `*uid` and `*gid` (its primary group). False when there is
// no such user; the outputs are then unchanged.
bool LookUpUser(const std::string& name, uid_t* uid, gid_t* gid);

// A group named `name`, or, when no group has that name, `name` read as a decimal gid below 2^32 - 1
// (not looked up: a numeric gid without a name is accepted, as chown(1) does). False when neither; `*gid`
// is then unchanged.
bool LookUpGroup(const std::string& name, gid_t* gid);

// `text` as a decimal id: 1 to 10 digits, no sign or spaces, below 2^32 - 1 ((uid_t)-1 means "no
// change" to chown and friends, so it is never an id).
bool ParseNumericId(const std::string& text, unsigned* id);

}  // namespace esg
