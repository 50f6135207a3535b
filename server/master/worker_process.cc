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

std::string ChooseInterpreter() {
  std::string chosen = Env("ESG_PYTHON");
  if (!chosen.empty()) return chosen;
  std::string venv = Env("VIRTUAL_ENV");
  if (!venv.empty() && access((venv + "/bin/python").c_str(), X_OK) == 0) return venv + "/bin/python";
  return ESG_DEFAULT_PYTHON;
}

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

  // Copies of every fd the child inherits, all above the target range 3..3+n, so the dup2 file actions
  // below can never overwrite a source before it is used (and dup2 onto the same number, which would
  // keep close-on-exec, cannot happen).
  const int count = static_cast<int>(request.listeners.size()) + 1;
  const int floor = kFirstInheritedFd + count;
  std::vector<std::unique_ptr<Fd>> sources;
  std::vector<int> source_fds;
  for (int i = 0; i < count; ++i) {
    int original = i + 1 < count ? request.listeners[i].fd : child_end.get();
    int copy = fcntl(original, F_DUPFD_CLOEXEC, floor);
    if (copy < 0) {
      *error = "cannot pass socket " + std::to_string(original) + " to the worker: " + std::strerror(errno);
      return false;
    }
    sources.push_back(std::make_unique<Fd>(copy));
    source_fds.push_back(copy);
  }

  Config config = request.config;
  config.python = request.python;
  std::vector<ListenerSpec> inherited = request.listeners;
  for (size_t i = 0; i < inherited.size(); ++i) inherited[i].fd = kFirstInheritedFd + static_cast<int>(i);
  const int control_fd = kFirstInheritedFd + count - 1;
  std::string config_json = ToJson(config, inherited, control_fd);

  // Environment: ours, with PYTHONPATH and ESG_WORKER_CONFIG set.
  std::vector<std::string> env_strings;
  std::string python_path = request.package_root;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    std::string_view text(*entry);
    if (text.rfind("ESG_WORKER_CONFIG=", 0) == 0) continue;
    if (text.rfind("PYTHONPATH=", 0) == 0) {
      std::string old(text.substr(std::strlen("PYTHONPATH=")));
      if (!old.empty()) python_path = python_path.empty() ? old : python_path + ":" + old;
      continue;
    }
    env_strings.emplace_back(text);
  }
  if (!python_path.empty()) env_strings.push_back("PYTHONPATH=" + python_path);
  env_strings.push_back("ESG_WORKER_CONFIG=" + config_json);
  std::vector<char*> envp;
  for (std::string& entry : env_strings) envp.push_back(entry.data());
  envp.push_back(nullptr);

  std::string python = request.python;
  std::string dash_m = "-m";
  std::string module = "esg.worker";
  char* argv[] = {python.data(), dash_m.data(), module.data(), nullptr};

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  for (int i = 0; i < count; ++i) {
    posix_spawn_file_actions_adddup2(&actions, source_fds[i], kFirstInheritedFd + i);
  }
  // An inherited --fd 0/1/2 is close-on-exec in the master; give the worker /dev/null there instead.
  for (const ListenerSpec& listener : request.listeners) {
    if (listener.fd >= 0 && listener.fd < kFirstInheritedFd) {
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
  return true;
}

}  // namespace esg
