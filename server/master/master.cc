// The master's supervision loop (see master.h).
#include "server/master/master.h"

#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/streambuf.hpp>
#include <chrono>
#include <istream>
#include <nlohmann/json.hpp>

#include "server/common/log.h"
#include "server/master/worker_process.h"

namespace esg {
namespace {

namespace asio = boost::asio;

// Extra time the worker gets past --timeout-graceful-shutdown before the master kills it.
constexpr std::chrono::seconds kKillGrace{10};

std::string SignalName(int signal_number) {
  const char* abbrev = sigabbrev_np(signal_number);
  return abbrev != nullptr ? std::string("SIG") + abbrev : "signal " + std::to_string(signal_number);
}

class Supervisor {
 public:
  explicit Supervisor(MasterOptions options)
      : options_(std::move(options)), signals_(io_), control_(io_), kill_timer_(io_) {}

  int Run() {
    log::Error().info("Started parent process [{}]", getpid());
    // Registered before the spawn so that no SIGCHLD or SIGTERM can slip past.
    signals_.add(SIGINT);
    signals_.add(SIGTERM);
    signals_.add(SIGCHLD);
    signals_.add(SIGHUP);
    signals_.add(SIGTTIN);
    signals_.add(SIGTTOU);
    signals_.add(SIGUSR1);
    WaitForSignal();

    SpawnRequest request{options_.python, options_.package_root, options_.config,
                         {options_.listener.spec}};
    SpawnedWorker spawned;
    std::string error;
    if (!SpawnWorker(request, &spawned, &error)) {
      log::Error().error("{}", error);
      Finish(1);
      return exit_code_;
    }
    worker_pid_ = spawned.pid;
    log::Error().debug("Started worker process [{}] with {}", worker_pid_, options_.python);
    boost::system::error_code ec;
    control_.assign(asio::local::stream_protocol(), spawned.control_fd, ec);
    if (!ec) ReadControl();
    io_.run();
    return exit_code_;
  }

 private:
  void WaitForSignal() {
    signals_.async_wait([this](const boost::system::error_code& ec, int signal_number) {
      if (ec) return;
      OnSignal(signal_number);
      if (!finished_) WaitForSignal();
    });
  }

  void OnSignal(int signal_number) {
    switch (signal_number) {
      case SIGCHLD:
        ReapChildren();
        return;
      case SIGINT:
      case SIGTERM:
        Stop(signal_number);
        return;
      case SIGHUP:
        log::Error().warn("Received SIGHUP: reloading is not supported yet; ignoring it.");
        return;
      case SIGTTIN:
      case SIGTTOU:
        log::Error().warn("Received {}: changing the number of workers is not supported yet; ignoring it.",
                             SignalName(signal_number));
        return;
      case SIGUSR1:
        log::Error().warn("Received SIGUSR1: reopening log files is not supported yet; ignoring it.");
        return;
      default:
        return;
    }
  }

  // First SIGINT/SIGTERM: graceful stop (SIGTERM to the worker). Second: quick exit (SIGINT, which the
  // worker treats as "stop now" once it is already stopping). After that: SIGKILL.
  void Stop(int signal_number) {
    ++stop_requests_;
    if (worker_pid_ <= 0) return;
    if (stop_requests_ == 1) {
      log::Error().debug("Received {}: stopping worker [{}]", SignalName(signal_number), worker_pid_);
      kill(worker_pid_, SIGTERM);
      if (options_.config.timeout_graceful_shutdown) {
        auto limit = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
            std::chrono::duration<double>(*options_.config.timeout_graceful_shutdown));
        kill_timer_.expires_after(limit + kKillGrace);
        kill_timer_.async_wait([this](const boost::system::error_code& ec) {
          if (ec || worker_pid_ <= 0) return;
          log::Error().warn("Worker [{}] did not stop in time; killing it.", worker_pid_);
          kill(worker_pid_, SIGKILL);
        });
      }
    } else if (stop_requests_ == 2) {
      log::Error().info("Received {} again: asking worker [{}] to exit at once.", SignalName(signal_number),
                        worker_pid_);
      kill(worker_pid_, SIGINT);
    } else {
      kill(worker_pid_, SIGKILL);
    }
  }

  void ReapChildren() {
    int status = 0;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
      if (pid == worker_pid_) OnWorkerExit(status);
    }
  }

  void OnWorkerExit(int status) {
    pid_t pid = worker_pid_;
    worker_pid_ = -1;
    int code = 1;
    if (WIFEXITED(status)) {
      code = WEXITSTATUS(status);
      if (code != 0 && !(code == 3 && startup_failed_)) {
        log::Error().error("Worker [{}] exited with code {}.", pid, code);
      }
    } else if (WIFSIGNALED(status)) {
      int signal_number = WTERMSIG(status);
      bool requested = stop_requests_ > 0 && (signal_number == SIGTERM || signal_number == SIGINT);
      if (requested) {
        code = 0;
      } else {
        log::Error().error("Worker [{}] was killed by {}.", pid, SignalName(signal_number));
      }
    }
    Finish(code);
  }

  void Finish(int code) {
    exit_code_ = code;
    finished_ = true;
    CloseListener(&options_.listener);
    log::Error().info("Stopping parent process [{}]", getpid());
    boost::system::error_code ignored;
    signals_.cancel(ignored);
    kill_timer_.cancel();
    control_.close(ignored);
    io_.stop();
  }

  // Newline-delimited JSON events from the worker: {"event": "ready"} and
  // {"event": "startup_failed", "message": "..."}; anything else is ignored (newer workers).
  void ReadControl() {
    asio::async_read_until(control_, control_buffer_, '\n',
                           [this](const boost::system::error_code& ec, std::size_t) {
                             if (ec) return;  // EOF: the worker is gone or going; SIGCHLD follows
                             std::istream stream(&control_buffer_);
                             std::string line;
                             std::getline(stream, line);
                             OnControlLine(line);
                             ReadControl();
                           });
  }

  void OnControlLine(const std::string& line) {
    nlohmann::json message = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!message.is_object() || !message.contains("event") || !message["event"].is_string()) {
      log::Error().debug("Ignoring a malformed control message from the worker: {}", log::Escape(line));
      return;
    }
    const std::string event = message["event"].get<std::string>();
    if (event == "ready") {
      if (!announced_ && stop_requests_ == 0) {
        announced_ = true;
        log::Error().info("{}", RunningMessage(options_.config, options_.listener.spec));
      }
    } else if (event == "startup_failed") {
      startup_failed_ = true;
      std::string text = message.value("message", std::string());
      log::Error().debug("Worker reported startup failure: {}", log::Escape(text));
    }
  }

  MasterOptions options_;
  asio::io_context io_;
  asio::signal_set signals_;
  asio::local::stream_protocol::socket control_;
  asio::streambuf control_buffer_;
  asio::steady_timer kill_timer_;
  pid_t worker_pid_ = -1;
  int stop_requests_ = 0;
  bool announced_ = false;
  bool startup_failed_ = false;
  bool finished_ = false;
  int exit_code_ = 0;
};

std::string PythonSockName(const ListenerSpec& listener) {
  if (listener.kind == "unix") return listener.path;
  if (listener.host.find(':') != std::string::npos) {
    return "('" + listener.host + "', " + std::to_string(listener.port) + ", 0, 0)";
  }
  return "('" + listener.host + "', " + std::to_string(listener.port) + ")";
}

}  // namespace

std::string RunningMessage(const Config& config, const ListenerSpec& listener) {
  std::string where;
  if (config.fd >= 0) {
    where = "socket " + PythonSockName(listener);
  } else if (listener.kind == "unix") {
    where = "unix socket " + listener.path;
  } else {
    where = listener.Url(/*tls=*/false);
  }
  return "ESG running on " + where + " (Press CTRL+C to quit)";
}

int RunMaster(MasterOptions options) {
  // Writing to a control socket whose worker died must not kill the master.
  signal(SIGPIPE, SIG_IGN);
  Supervisor supervisor(std::move(options));
  return supervisor.Run();
}

}  // namespace esg
