// `esg`: parse the command line, bind the listening sockets (or adopt systemd's), then supervise the
// workers (master.h). The control plane plugs in through MasterOptions::start_control_server.
#include <signal.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <vector>

#include "control/server/control_server.h"
#include "server/common/log.h"
#include "server/http/forwarded.h"
#include "server/master/cli.h"
#include "server/master/listeners.h"
#include "server/master/master.h"
#include "server/master/sd_notify.h"
#include "server/master/tls_check.h"
#include "server/master/worker_process.h"

namespace {

// `esg --version` says what a bug report needs, like uvicorn's "Running uvicorn 0.55.0 with CPython 3.12.1 on
// Linux": "esg 0.1.0 with CPython 3.12.1 on Linux". The Python is the interpreter workers would run
// (ChooseInterpreter: $ESG_PYTHON, the installation this executable is in, the active virtualenv, ...), asked
// for its implementation and version.
std::string VersionLine(const std::string& cli_line) {
  std::string python = esg::ChooseInterpreter();
  std::string quoted = "'";
  for (char c : python) quoted += (c == '\'' ? std::string("'\\''") : std::string(1, c));
  quoted += "'";
  std::string command = quoted +
                        " -c 'import platform; print(platform.python_implementation(), platform.python_version())'"
                        " 2>/dev/null";
  std::string described;
  if (FILE* pipe = popen(command.c_str(), "r"); pipe != nullptr) {
    char buffer[128];
    while (std::fgets(buffer, sizeof buffer, pipe) != nullptr) described += buffer;
    if (pclose(pipe) != 0) described.clear();
  }
  while (!described.empty() && (described.back() == '\n' || described.back() == '\r')) described.pop_back();
  if (described.empty()) described = "Python " + python + " (cannot run it)";
  struct utsname system;
  std::string platform = uname(&system) == 0 ? system.sysname : "unknown";
  std::string line = cli_line;
  while (!line.empty() && line.back() == '\n') line.pop_back();
  return line + " with " + described + " on " + platform + "\n";
}

esg::control::ControlOptions ControlOptionsFrom(const esg::Config& config) {
  esg::control::ControlOptions control;
  control.enabled = config.control;
  control.socket_path = config.control_socket;
  control.group = config.control_group;
  control.tcp_address = config.control_address;
  control.tls_cert = config.control_tls_cert;
  control.tls_key = config.control_tls_key;
  control.tls_ca = config.control_tls_ca;
  return control;
}

// The control plane's hook into RunMaster (master.h): starts the gRPC control server over the master's
// AdminApi and returns its stop function. A control plane that cannot start (explicit socket in use,
// unreadable TLS files) stops the master: it logs why, sets `*failed` (main exits 1) and raises SIGTERM,
// which the master handles as a graceful stop of the workers it has just spawned.
esg::StartControlServer StartControlPlaneHook(esg::control::ControlOptions control, bool* failed) {
  return [control, failed](esg::control::AdminApi* api, boost::asio::io_context&) -> esg::StopControlServer {
    std::string error;
    std::shared_ptr<esg::control::ControlServer> server = esg::control::StartControlServer(api, control, &error);
    if (!server) {
      if (!error.empty()) {
        esg::log::Error().error("Control plane: {}", error);
        *failed = true;
        kill(getpid(), SIGTERM);
      }
      return nullptr;
    }
    if (!server->warning().empty()) esg::log::Error().warn("{}", server->warning());
    if (!server->socket_path().empty()) {
      esg::log::Error().info("Control plane on unix:{} (esgctl --socket {})", server->socket_path(),
                             server->socket_path());
    }
    if (!server->tcp_address().empty()) {
      esg::log::Error().info("Control plane on {} (TLS, client certificates required)", server->tcp_address());
    }
    return [server] { server->Shutdown(); };
  };
}

// --forwarded-allow-ips trusting every UNIX-socket peer ("unix" or "*") on a socket file every local user
// may connect to lets any local account set the client address and scheme the app sees: say so at start.
void WarnAboutUnixTrust(const esg::Config& config, const std::vector<esg::BoundSocket>& listeners) {
  if (!config.proxy_headers) return;
  esg::http::ForwardedPolicy policy;
  std::string ignored;
  if (!policy.Parse(config.forwarded_allow_ips.value_or(std::string(esg::kDefaultForwardedAllowIps)), &ignored) || !policy.TrustsUnix()) return;
  for (const esg::BoundSocket& listener : listeners) {
    struct stat st;
    if (listener.spec.kind != "unix" || stat(listener.spec.path.c_str(), &st) != 0 || (st.st_mode & S_IWOTH) == 0) {
      continue;
    }
    esg::log::Error().warn(
        "--forwarded-allow-ips trusts every peer of unix socket {} (mode {:03o}), which every local user can "
        "connect to: any local account can set the client address and scheme. Restrict the socket (--uds-mode "
        "660 --uds-group <the proxy's group>) or trust the proxy by identity (--forwarded-allow-ips "
        "unix:www-data).",
        listener.spec.path, st.st_mode & 0777);
  }
}

int Main(int argc, char** argv) {
  // Runfiles are found relative to the executable, so look before changing directory.
  std::vector<std::string> package_candidates = esg::PackageRootCandidates(argc > 0 ? argv[0] : "");
  // `bazel run //:esg -- --app-dir . app:app` means the user's directory, not the runfiles tree.
  if (const char* dir = std::getenv("BUILD_WORKING_DIRECTORY"); dir != nullptr && *dir != '\0') {
    if (chdir(dir) != 0) std::perror("esg: cannot enter $BUILD_WORKING_DIRECTORY");
  }

  esg::Config config;
  std::vector<std::string> args(argv + (argc > 0 ? 1 : 0), argv + argc);
  esg::cli::ParseResult parsed = esg::cli::Parse(args, esg::cli::ProcessEnv(), &config);
  if (!parsed.run) {
    // --version (cli.cc says "esg X.Y.Z"): add the Python and the platform.
    if (parsed.exit_code == 0 && parsed.out.rfind("esg ", 0) == 0) parsed.out = VersionLine(parsed.out);
    std::fputs(parsed.out.c_str(), stdout);
    std::fputs(parsed.err.c_str(), stderr);
    return parsed.exit_code;
  }
  esg::log::Init({config.log_level, config.use_colors, config.access_log});
  // As root, --group alone would change the workers' group and leave them uid 0: refuse rather than run
  // the app as root behind an option that suggests otherwise.
  if (geteuid() == 0 && !config.group.empty() && config.user.empty()) {
    std::fputs(esg::cli::UsageErrorText("--group needs --user when esg runs as root (the workers would keep uid 0); "
                                        "pass --user too, e.g. --user www-data --group www-data.")
                   .c_str(),
               stderr);
    return 2;
  }

  esg::MasterOptions options;
  std::string error;
  // A bad --ssl-* file or value is a usage error (exit 2, like other option errors), found before any
  // socket is bound or worker spawned: the workers would only fail the same way, over and over.
  if (!esg::CheckTls(config, &error)) {
    std::fputs(esg::cli::UsageErrorText(error).c_str(), stderr);
    return 2;
  }
  // An unknown --uds-group is a usage error (exit 2), found before anything is bound.
  if (esg::UnixSocketAccess access; !config.uds.empty() && !esg::UnixAccessFromConfig(config, &access, &error)) {
    std::fputs(esg::cli::UsageErrorText(error).c_str(), stderr);
    return 2;
  }
  // systemd socket activation (LISTEN_FDS for this pid) replaces --host/--port/--uds, not an explicit --fd.
  std::vector<int> activated = config.fd < 0 ? esg::SdListenFds() : std::vector<int>{};
  for (int fd : activated) {
    esg::BoundSocket listener;
    if (!esg::AdoptFd(fd, &listener, &error)) {
      esg::log::Error().error("Socket activation (LISTEN_FDS): {}", error);
      return 1;
    }
    options.listeners.push_back(listener);
  }
  if (activated.empty()) {
    esg::BoundSocket listener;
    if (!esg::OpenListener(config, &listener, &error)) {
      esg::log::Error().error("{}", error);
      return 1;
    }
    options.listeners.push_back(listener);
  } else {
    esg::log::Error().info("Using {} socket(s) passed by systemd (LISTEN_FDS).", activated.size());
  }
  WarnAboutUnixTrust(config, options.listeners);
  options.python = esg::ChooseInterpreter();
  options.package_root = esg::FindPackageRoot(package_candidates);
  esg::control::ControlOptions control = ControlOptionsFrom(config);
  if (!esg::control::ValidateControlOptions(control, &error)) {
    std::fputs(esg::cli::UsageErrorText(error).c_str(), stderr);
    return 2;
  }
  bool control_failed = false;
  if (control.enabled) options.start_control_server = StartControlPlaneHook(control, &control_failed);
  options.config = std::move(config);
  int status = esg::RunMaster(std::move(options));
  return control_failed ? 1 : status;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return Main(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ERROR:    esg failed: %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "ERROR:    esg failed with an unknown error\n");
  }
  return 1;
}
