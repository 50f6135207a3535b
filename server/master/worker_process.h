// Starting a worker: which interpreter, where the `esg` Python package is, and the spawn itself.
//
// A worker is `<python> -m esg.worker_process` in a fresh process (posix_spawn: nothing runs between fork and exec,
// so the master may have threads). It inherits the listening sockets at fds 3, 4, ... and its end of a
// control socketpair right after them, and finds everything else in $ESG_WORKER_CONFIG (esg::ToJson).
// With capture_output, its stdout/stderr are pipes to the master (see SpawnRequest).
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "server/common/config.h"

namespace esg {

// The workers' interpreter (and the one `esg --version` describes), for this executable (/proc/self/exe):
// ChooseInterpreterFor(SelfExecutable()).
std::string ChooseInterpreter();

// The worker interpreter for the `esg` executable at `exe`, first that applies:
//   1. $ESG_PYTHON (the wheel's console scripts and esg.run() set it to their own sys.executable);
//   2. when `exe` is an installed wheel's <prefix>/lib/pythonX.Y/site-packages/esg/bin/esg: the interpreter
//      of that installation, InstallationInterpreter(exe) — its `esg` package and `_esg` extension are for
//      that CPython, so a virtualenv's executable run directly, activated or not, uses that virtualenv;
//   3. $VIRTUAL_ENV/bin/python if it exists (a build-tree `esg` in an activated virtualenv);
//   4. for an installed wheel whose prefix has no interpreter (a user site, ~/.local): pythonX.Y from $PATH;
//   5. the build's default interpreter (tools/python_interpreter when it was built).
std::string ChooseInterpreterFor(const std::string& exe);

// For `exe` = <prefix>/{lib,lib64}/<python3[.Y]>/{site,dist}-packages/esg/bin/<name>: the first executable of
// <prefix>/bin/<python3[.Y]>, <prefix>/bin/python3, <prefix>/bin/python, with `*version_name` (when not
// null) set to <python3[.Y]>; "" when `exe` is not laid out so or no such interpreter exists.
std::string InstallationInterpreter(const std::string& exe, std::string* version_name = nullptr);

// readlink("/proc/self/exe"), or "".
std::string SelfExecutable();

// Absolute directories that may hold the `esg` package (each would be a PYTHONPATH entry), most specific
// first: $RUNFILES_DIR, $TEST_SRCDIR, then the Bazel runfiles tree beside /proc/self/exe and beside argv[0]
// (which differs when `esg` is reached through a symlink or the //:esg alias). Call before any chdir().
std::vector<std::string> PackageRootCandidates(const std::string& argv0);

// $ESG_PYTHONPATH if set; else the first candidate containing esg/__init__.py; else, when this executable
// is the wheel's <root>/esg/bin/esg, that <root>; else "" (the interpreter must then have `esg` installed).
std::string FindPackageRoot(const std::vector<std::string>& candidates);

struct SpawnRequest {
  std::string python;        // interpreter to exec (a bare name is looked up in $PATH)
  std::string package_root;  // prepended to PYTHONPATH when not empty
  Config config;             // config.python is set to `python` before serialising
  std::vector<ListenerSpec> listeners;  // fds as the master holds them
  // "NAME=value" entries set in the worker's environment (over the master's own).
  std::vector<std::string> extra_env;
  // Variables removed from the worker's environment (NOTIFY_SOCKET, LISTEN_FDS, ...).
  std::vector<std::string> drop_env;
  // True: the worker's fds 1 and 2 are pipes the master reads (SpawnedWorker::stdout_fd/stderr_fd), and
  // the master's own stdout/stderr are passed at the two fds after the control socket, named in
  // $ESG_WORKER_STDIO ("<out>,<err>", -1 when not passed) so ESG's log lines can bypass the capture.
  bool capture_output = false;
};

struct SpawnedWorker {
  pid_t pid = -1;
  int control_fd = -1;  // the master's end of the control socketpair (close-on-exec, blocking)
  int stdout_fd = -1;   // capture_output: read ends of the worker's stdout/stderr (close-on-exec)
  int stderr_fd = -1;
};

// Spawns one worker. Returns false and sets `*error` (one sentence) when it could not be started.
bool SpawnWorker(const SpawnRequest& request, SpawnedWorker* worker, std::string* error);

}  // namespace esg
