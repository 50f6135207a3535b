// What a generation of workers runs — the release: the configuration as re-read for it (--app-dir through
// its symlinks), the interpreter (a virtualenv's or the default) and the environment additions
// (--env-file, VIRTUAL_ENV, PATH) — and the configuration summary `esgctl status` shows.
//
// Functions without state: the supervisor builds a release at start and again for every reload (so a
// `current` symlink switched to a new release directory is followed); tests call them on temporary
// directories.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "server/common/config.h"

namespace esg {

struct Release {
  Config config;                       // app_dir resolved to a real path
  std::string python;                  // the worker interpreter (release venv or the default)
  std::vector<std::string> extra_env;  // --env-file entries, VIRTUAL_ENV, PATH
  std::string describe;                // "app_dir /srv/app/releases/42, python /.../bin/python"
};

// Resolves `base` into a release. The interpreter is --venv's bin/python, else <app_dir>/.venv/bin/python
// when executable, else `default_python`; with a virtualenv, VIRTUAL_ENV is set and its bin directory put
// in front of $PATH. Returns false with `*error` (one sentence naming the option) when --app-dir is not a
// directory, --venv is not a virtualenv, or --env-file cannot be read.
bool BuildRelease(const Config& base, const std::string& default_python, Release* release, std::string* error);

// realpath(3): `path` with every symlink, "." and ".." resolved. False (errno set) when it does not exist.
bool RealPath(const std::string& path, std::string* out);

// The effective settings for display (AdminApi's ServerStatus::config_summary), in a fixed order: app,
// app_dir, python, workers (`workers`, the current target), reload, timeout_worker_healthcheck,
// timeout_graceful_shutdown, limit_max_requests, user (the effective uid when --user is unset) and
// log_level (`log_level`, the current level).
std::vector<std::pair<std::string, std::string>> ConfigSummary(const Release& release, int workers,
                                                               const std::string& log_level);

}  // namespace esg
