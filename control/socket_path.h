// Where the control plane listens by default. Shared by the master and esgctl so both agree without
// configuration; no gRPC here.
//
// The default UNIX socket path, first match wins:
//   1. $ESG_CONTROL_SOCKET, when set and not empty;
//   2. /run/esg/control.sock when running as root (euid 0);
//   3. $XDG_RUNTIME_DIR/esg/control.sock when $XDG_RUNTIME_DIR is set (systemd user sessions);
//   4. /tmp/esg-<uid>/control.sock otherwise (the directory is created 0700 and must be ours).
#pragma once

#include <string>

namespace esg::control {

// The default control socket path for the current process (see above). Pure: creates nothing.
std::string DefaultControlSocketPath();

// "none" (any case) as a path means: no UNIX control socket.
bool IsDisabledSocketPath(const std::string& path);

}  // namespace esg::control
