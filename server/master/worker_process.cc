// Starting a worker (see worker_process.h).
#include "server/master/worker_process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

extern char** environ;

namespace esg {
namespace {

#ifndef ESG_DEFAULT_PYTHON
#define ESG_DEFAULT_PYTHON "/usr/bin/python3"
#endif

constexpr int kFirstInheritedFd = 3;

std::string Env(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? "" : value;
}

bool IsFile(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::string Absolute(const std::string& path) {
  if (path.empty() || path[0] == '/') return path;
  char cwd[PATH_MAX];
  if (getcwd(cwd, sizeof cwd) == nullptr) return path;
  return std::string(cwd) + "/" + path;
}

// Owns a file descriptor until released.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      if (fd_ >= 0) close(fd_);
      fd_ = other.release();
    }
    return *this;
  }
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  int get() const { return fd_; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_;
};

}  // namespace

std::string SelfExecutable() {
  char exe[PATH_MAX];
  ssize_t length = readlink("/proc/self/exe", exe, sizeof exe - 1);
  return length > 0 ? std::string(exe, length) : "";
}

std::string InstallationInterpreter(const std::string& exe, std::string* version_name) {
  // <prefix>/<lib>/<pythonX.Y>/<site>/esg/bin/<name>: split off the last six components.
  std::vector<std::string> parts;
  std::string::size_type end = exe.size();
  while (parts.size() < 6 && end != std::string::npos && end > 0) {
    std::string::size_type slash = exe.rfind('/', end - 1);
    if (slash == std::string::npos) return "";
    parts.push_back(exe.substr(slash + 1, end - slash - 1));
    end = slash;
  }
  if (parts.size() < 6 || parts[1] != "bin" || parts[2] != "esg" ||
      (parts[3] != "site-packages" && parts[3] != "dist-packages") || parts[4].rfind("python3", 0) != 0 ||
      (parts[5] != "lib" && parts[5] != "lib64")) {
    return "";
  }
  std::string prefix = exe.substr(0, end);
  if (version_name != nullptr) *version_name = parts[4];
  for (const std::string& name : {parts[4], std::string("python3"), std::string("python")}) {
    std::string candidate = prefix + "/bin/" + name;
    if (IsFile(candidate) && access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

std::string ChooseInterpreterFor(const std::string& exe) {
  std::string chosen = Env("ESG_PYTHON");
  if (!chosen.empty()) return chosen;
  std::string version_name;
  std::string installed = InstallationInterpreter(exe, &version_name);
  if (!installed.empty()) return installed;
  std::string venv = Env("VIRTUAL_ENV");
  if (!venv.empty() && access((venv + "/bin/python").c_str(), X_OK) == 0) return venv + "/bin/python";
  // An installed wheel whose prefix has no interpreter (a user site, ~/.local): the same CPython from $PATH;
  // the build machine's path would mean nothing here.
  if (!version_name.empty()) return version_name;
  return ESG_DEFAULT_PYTHON;
}

std::string ChooseInterpreter() { return ChooseInterpreterFor(SelfExecutable()); }

std::vector<std::string> PackageRootCandidates(const std::string& argv0) {
  std::vector<std::string> roots;
  for (const char* name : {"RUNFILES_DIR", "TEST_SRCDIR"}) {
    std::string dir = Env(name);
    if (!dir.empty()) roots.push_back(Absolute(dir));
  }
  char exe[PATH_MAX];
  ssize_t length = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (length > 0) roots.push_back(std::string(exe, length) + ".runfiles");
  if (argv0.find('/') != std::string::npos) {
    roots.push_back(Absolute(argv0) + ".runfiles");
    char real[PATH_MAX];
    if (realpath(argv0.c_str(), real) != nullptr) roots.push_back(std::string(real) + ".runfiles");
  }
  std::vector<std::string> candidates;
  for (const std::string& root : roots) candidates.push_back(root + "/esg/server/python");
  return candidates;
}

std::string FindPackageRoot(const std::vector<std::string>& candidates) {
  std::string forced = Env("ESG_PYTHONPATH");
  if (!forced.empty()) return forced;
  for (const std::string& candidate : candidates) {
    if (IsFile(candidate + "/esg/__init__.py")) return candidate;
  }
  // Installed from the wheel (tools/wheel): the executable is <root>/esg/bin/esg with <root> the
  // site-packages directory, so <root> is three path components above /proc/self/exe.
  char exe[PATH_MAX];
  ssize_t length = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (length > 0) {
    std::string root(exe, length);
    for (int up = 0; up < 3 && root.rfind('/') != std::string::npos; ++up) root.erase(root.rfind('/'));
    if (!root.empty() && IsFile(root + "/esg/__init__.py") && IsFile(root + "/esg/bin/esg")) return root;
  }
  return "";
}

bool SpawnWorker(const SpawnRequest& request, SpawnedWorker* worker, std::string* error) {
  int pair[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
    *error = "cannot create the worker control socket: " + std::string(std::strerror(errno));
    return false;
  }
  Fd master_end(pair[0]);
  Fd child_end(pair[1]);
  Fd out_read, out_write, err_read, err_write;
  if (request.capture_output) {
    int out[2];
    int err[2];
    if (pipe2(out, O_CLOEXEC) != 0) {
      *error = "cannot create the worker output pipe: " + std::string(std::strerror(errno));
      return false;
    }
    out_read = Fd(out[0]);
    out_write = Fd(out[1]);
    if (pipe2(err, O_CLOEXEC) != 0) {
      *error = "cannot create the worker output pipe: " + std::string(std::strerror(errno));
      return false;
    }
    err_read = Fd(err[0]);
    err_write = Fd(err[1]);
  }

  // What the child gets where: listeners at 3.., the control socket after them, then (capturing) the
  // master's stdout/stderr, and the pipes at 1 and 2.
  struct Pass {
    int original;
    int target;
  };
  std::vector<Pass> passes;
  int next = kFirstInheritedFd;
  for (const ListenerSpec& listener : request.listeners) passes.push_back({listener.fd, next++});
  const int control_fd = next++;
  passes.push_back({child_end.get(), control_fd});
  int real_out = -1;
  int real_err = -1;
  if (request.capture_output) {
    auto is_listener = [&request](int fd) {
      for (const ListenerSpec& l : request.listeners) {
        if (l.fd == fd) return true;
      }
      return false;
    };
    // A listener inherited at fd 1 or 2 (--fd 1) is not an output stream.
    if (!is_listener(STDOUT_FILENO) && fcntl(STDOUT_FILENO, F_GETFD) >= 0) {
      real_out = next++;
      passes.push_back({STDOUT_FILENO, real_out});
    }
    if (!is_listener(STDERR_FILENO) && fcntl(STDERR_FILENO, F_GETFD) >= 0) {
      real_err = next++;
      passes.push_back({STDERR_FILENO, real_err});
    }
    passes.push_back({out_write.get(), STDOUT_FILENO});
    passes.push_back({err_write.get(), STDERR_FILENO});
  }

  // Copies of every fd the child inherits, all above the highest target, so the dup2 file actions below
  // can never overwrite a source before it is used (and dup2 onto the same number, which would keep
  // close-on-exec, cannot happen).
  const int floor = next;
  std::vector<std::unique_ptr<Fd>> sources;
  std::vector<int> source_fds;
  for (const Pass& pass : passes) {
    int copy = fcntl(pass.original, F_DUPFD_CLOEXEC, floor);
    if (copy < 0) {
      *error = "cannot pass socket " + std::to_string(pass.original) + " to the worker: " + std::strerror(errno);
      return false;
    }
    sources.push_back(std::make_unique<Fd>(copy));
    source_fds.push_back(copy);
  }

  Config config = request.config;
  config.python = request.python;
  std::vector<ListenerSpec> inherited = request.listeners;
  for (size_t i = 0; i < inherited.size(); ++i) inherited[i].fd = kFirstInheritedFd + static_cast<int>(i);
  std::string config_json = ToJson(config, inherited, control_fd);

  // Environment: ours, minus drop_env, with extra_env, PYTHONPATH and ESG_WORKER_CONFIG set.
  auto name_of = [](std::string_view entry) { return entry.substr(0, entry.find('=')); };
  auto dropped = [&request, &name_of](std::string_view entry) {
    std::string_view name = name_of(entry);
    if (name == "ESG_WORKER_CONFIG" || name == "ESG_WORKER_STDIO") return true;
    for (const std::string& drop : request.drop_env) {
      if (name == drop) return true;
    }
    for (const std::string& extra : request.extra_env) {
      if (name == name_of(extra) && name != "PYTHONPATH") return true;
    }
    return false;
  };
  std::vector<std::string> env_strings;
  std::string python_path = request.package_root;
  auto add_python_path = [&python_path](const std::string& more) {
    if (!more.empty()) python_path = python_path.empty() ? more : python_path + ":" + more;
  };
  for (const std::string& extra : request.extra_env) {
    if (name_of(extra) == "PYTHONPATH") add_python_path(extra.substr(std::strlen("PYTHONPATH=")));
  }
  bool extra_has_python_path = false;
  for (const std::string& extra : request.extra_env) extra_has_python_path |= name_of(extra) == "PYTHONPATH";
  for (char** entry = environ; *entry != nullptr; ++entry) {
    std::string_view text(*entry);
    if (dropped(text)) continue;
    if (name_of(text) == "PYTHONPATH") {
      if (!extra_has_python_path) add_python_path(std::string(text.substr(std::strlen("PYTHONPATH="))));
      continue;
    }
    env_strings.emplace_back(text);
  }
  for (const std::string& extra : request.extra_env) {
    if (name_of(extra) != "PYTHONPATH") env_strings.push_back(extra);
  }
  if (!python_path.empty()) env_strings.push_back("PYTHONPATH=" + python_path);
  env_strings.push_back("ESG_WORKER_CONFIG=" + config_json);
  if (request.capture_output) {
    env_strings.push_back("ESG_WORKER_STDIO=" + std::to_string(real_out) + "," + std::to_string(real_err));
  }
  std::vector<char*> envp;
  for (std::string& entry : env_strings) envp.push_back(entry.data());
  envp.push_back(nullptr);

  std::string python = request.python;
  std::string dash_m = "-m";
  std::string module = "esg.worker_process";
  char* argv[] = {python.data(), dash_m.data(), module.data(), nullptr};

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  for (size_t i = 0; i < passes.size(); ++i) {
    posix_spawn_file_actions_adddup2(&actions, source_fds[i], passes[i].target);
  }
  // An inherited --fd 0/1/2 is close-on-exec in the master; give the worker /dev/null there instead
  // (unless a capture pipe already sits there).
  for (const ListenerSpec& listener : request.listeners) {
    bool piped = request.capture_output && (listener.fd == STDOUT_FILENO || listener.fd == STDERR_FILENO);
    if (listener.fd >= 0 && listener.fd < kFirstInheritedFd && !piped) {
      posix_spawn_file_actions_addopen(&actions, listener.fd, "/dev/null", O_RDWR, 0);
    }
  }
  // The worker starts with default signal dispositions and nothing blocked, whatever the master set up.
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  sigset_t all;
  sigset_t none;
  sigfillset(&all);
  sigemptyset(&none);
  posix_spawnattr_setsigdefault(&attributes, &all);
  posix_spawnattr_setsigmask(&attributes, &none);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);

  pid_t pid = -1;
  int rc = posix_spawnp(&pid, python.c_str(), &actions, &attributes, argv, envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  if (rc != 0) {
    *error = "[Errno " + std::to_string(rc) + "] " + std::strerror(rc) + " (cannot start the worker with " +
             python + ")";
    return false;
  }
  worker->pid = pid;
  worker->control_fd = master_end.release();
  worker->stdout_fd = out_read.release();
  worker->stderr_fd = err_read.release();
  return true;
}

}  // namespace esg
