// Default control socket path (see socket_path.h).
#include "control/socket_path.h"

#include <strings.h>
#include <unistd.h>

#include <cstdlib>

namespace esg::control {

std::string DefaultControlSocketPath() {
  if (const char* env = std::getenv("ESG_CONTROL_SOCKET"); env != nullptr && *env != '\0') return env;
  if (geteuid() == 0) return "/run/esg/control.sock";
  if (const char* xdg = std::getenv("XDG_RUNTIME_DIR"); xdg != nullptr && *xdg == '/') {
    return std::string(xdg) + "/esg/control.sock";
  }
  return "/tmp/esg-" + std::to_string(geteuid()) + "/control.sock";
}

bool IsDisabledSocketPath(const std::string& path) { return strcasecmp(path.c_str(), "none") == 0; }

}  // namespace esg::control
