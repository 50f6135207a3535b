// See tls_files.h.
#include "control/tls_files.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace esg::control {

bool ReadPemFile(const std::string& path, std::string* out, std::string* why) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *why = std::strerror(errno);
    return false;
  }
  std::ostringstream content;
  content << in.rdbuf();
  *out = content.str();
  return true;
}

}  // namespace esg::control
