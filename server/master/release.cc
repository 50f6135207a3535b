// Building a release and summarising its configuration (see release.h).
#include "server/master/release.h"

#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "server/master/env_file.h"

namespace esg {
namespace {

bool IsExecutable(const std::string& path) { return access(path.c_str(), X_OK) == 0; }

}  // namespace

bool RealPath(const std::string& path, std::string* out) {
  char buffer[PATH_MAX];
  if (realpath(path.c_str(), buffer) == nullptr) return false;
  *out = buffer;
  return true;
}

bool BuildRelease(const Config& base, const std::string& default_python, Release* release, std::string* error) {
  Release r;
  r.config = base;
  if (!RealPath(base.app_dir, &r.config.app_dir)) {
    *error = "--app-dir " + base.app_dir + ": " + std::strerror(errno);
    return false;
  }
  struct stat st;
  if (stat(r.config.app_dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    *error = "--app-dir " + base.app_dir + " is not a directory.";
    return false;
  }
  if (!base.env_file.empty()) {
    std::vector<std::pair<std::string, std::string>> entries;
    if (!ReadEnvFile(base.env_file, &entries, error)) return false;
    for (const auto& [name, value] : entries) r.extra_env.push_back(name + "=" + value);
  }
  std::string venv;
  if (!base.venv.empty()) {
    if (!RealPath(base.venv, &venv) || !IsExecutable(venv + "/bin/python")) {
      *error = "--venv " + base.venv + " is not a virtualenv (no executable bin/python in it).";
      return false;
    }
  } else if (IsExecutable(r.config.app_dir + "/.venv/bin/python")) {
    venv = r.config.app_dir + "/.venv";
  }
  if (!venv.empty()) {
    r.python = venv + "/bin/python";
    r.extra_env.push_back("VIRTUAL_ENV=" + venv);
    const char* path = std::getenv("PATH");
    r.extra_env.push_back("PATH=" + venv + "/bin" + (path != nullptr && *path ? std::string(":") + path : ""));
  } else {
    r.python = default_python;
  }
  r.describe = "app_dir " + r.config.app_dir + ", python " + r.python;
  *release = std::move(r);
  return true;
}

std::vector<std::pair<std::string, std::string>> ConfigSummary(const Release& release, int workers,
                                                               const std::string& log_level) {
  const Config& c = release.config;
  return {
      {"app", c.app},
      {"app_dir", c.app_dir},
      {"python", release.python},
      {"workers", std::to_string(workers)},
      {"reload", c.reload ? "on" : "off"},
      {"timeout_worker_healthcheck", std::to_string(c.timeout_worker_healthcheck)},
      {"timeout_graceful_shutdown",
       c.timeout_graceful_shutdown ? std::to_string(static_cast<int>(*c.timeout_graceful_shutdown)) : "unset"},
      {"limit_max_requests", c.limit_max_requests ? std::to_string(*c.limit_max_requests) : "unset"},
      {"user", c.user.empty() ? std::to_string(geteuid()) : c.user},
      {"log_level", log_level},
  };
}

}  // namespace esg
