// `esg`: parse the command line, bind the listening sockets (or adopt systemd's), then supervise the
// workers (master.h). The control plane plugs in through MasterOptions::start_control_server.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <vector>

#include "server/common/log.h"
#include "server/master/cli.h"
#include "server/master/listeners.h"
#include "server/master/master.h"
#include "server/master/sd_notify.h"
#include "server/master/worker_process.h"

namespace {

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
    std::fputs(parsed.out.c_str(), stdout);
    std::fputs(parsed.err.c_str(), stderr);
    return parsed.exit_code;
  }
  esg::log::Init({config.log_level, config.use_colors, config.access_log});

  esg::MasterOptions options;
  std::string error;
  // systemd socket activation (LISTEN_FDS for this pid) replaces --host/--port/--uds, not an explicit --fd.
  std::vector<int> activated = config.fd < 0 ? esg::SdListenFds() : std::vector<int>{};
  for (int fd : activated) {
    esg::Listener listener;
    if (!esg::AdoptFd(fd, &listener, &error)) {
      esg::log::Error().error("Socket activation (LISTEN_FDS): {}", error);
      return 1;
    }
    options.listeners.push_back(listener);
  }
  if (activated.empty()) {
    esg::Listener listener;
    if (!esg::OpenListener(config, &listener, &error)) {
      esg::log::Error().error("{}", error);
      return 1;
    }
    options.listeners.push_back(listener);
  } else {
    esg::log::Error().info("Using {} socket(s) passed by systemd (LISTEN_FDS).", activated.size());
  }
  options.python = esg::ChooseInterpreter();
  options.package_root = esg::FindPackageRoot(package_candidates);
  options.config = std::move(config);
  return esg::RunMaster(std::move(options));
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
