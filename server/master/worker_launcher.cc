// The real WorkerLauncher (see worker_launcher.h).
#include "server/master/worker_launcher.h"

#include <signal.h>
#include <sys/wait.h>

#include "server/master/sd_notify.h"
#include "server/master/worker_process.h"

namespace esg {

ProcessLauncher::ProcessLauncher(boost::asio::io_context& io, const std::vector<BoundSocket>& listeners,
                                 std::string package_root)
    : io_(io), listeners_(listeners), package_root_(std::move(package_root)) {}

ProcessLauncher::~ProcessLauncher() {
  for (auto& [pid, channel] : channels_) channel->CloseControl();
}

void ProcessLauncher::ReapChildren() {
  int status = 0;
  pid_t pid;
  while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
    if (events_ != nullptr) events_->OnWorkerExit(pid, status);
  }
}

pid_t ProcessLauncher::Spawn(const Release& release, std::string* error) {
  SpawnRequest request;
  request.python = release.python;
  request.package_root = package_root_;
  request.config = release.config;
  for (const BoundSocket& l : listeners_) request.listeners.push_back(l.spec);
  request.extra_env = release.extra_env;
  request.drop_env = SystemdEnvNames();
  request.capture_output = true;
  SpawnedWorker spawned;
  if (!SpawnWorker(request, &spawned, error)) return -1;
  const pid_t pid = spawned.pid;
  WorkerChannel::Handlers handlers;
  handlers.on_message = [this, pid](const WorkerMessage& message, std::string_view line) {
    if (events_ != nullptr) events_->OnWorkerMessage(pid, message, line);
  };
  handlers.on_overflow = [this, pid] {
    auto it = channels_.find(pid);
    if (events_ != nullptr && it != channels_.end()) events_->OnWorkerOverflow(pid, it->second->max_line());
  };
  channels_[pid] = WorkerChannel::Open(io_, pid, spawned.control_fd, spawned.stdout_fd, spawned.stderr_fd,
                                       std::move(handlers));
  return pid;
}

void ProcessLauncher::Send(pid_t pid, const WorkerCommand& command) {
  auto it = channels_.find(pid);
  if (it != channels_.end()) it->second->Send(command);
}

void ProcessLauncher::Signal(pid_t pid, int signal_number) { kill(pid, signal_number); }

std::string ProcessLauncher::RecentOutput(pid_t pid) const {
  auto it = channels_.find(pid);
  return it == channels_.end() ? std::string() : it->second->RecentOutput();
}

void ProcessLauncher::Forget(pid_t pid) {
  auto it = channels_.find(pid);
  if (it == channels_.end()) return;
  it->second->CloseControl();
  channels_.erase(it);
}

}  // namespace esg
