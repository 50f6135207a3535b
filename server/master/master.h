// The master's supervision loop: one worker, signals, and the worker's control channel.
//
// Owns the listening socket (already bound), spawns the worker, announces "ESG running on ..." when the
// worker reports `ready`, forwards SIGINT/SIGTERM as a graceful SIGTERM, and returns the exit status the
// `esg` process should end with. Single-threaded: everything runs on one Boost.Asio io_context.
#pragma once

#include <string>
#include <vector>

#include "server/common/config.h"
#include "server/master/listeners.h"

namespace esg {

struct MasterOptions {
  Config config;
  Listener listener;          // bound by OpenListener; closed (and a UNIX socket file removed) by Run()
  std::string python;         // worker interpreter (ChooseInterpreter)
  std::string package_root;   // directory holding the `esg` package, or "" (FindPackageRoot)
};

// Runs until the worker has exited. Returns the process exit status: the worker's own status when it
// exited by itself (3: the app could not start), 0 after a requested shutdown that went well, 1 when
// the worker could not be started or was killed by a signal we did not send.
int RunMaster(MasterOptions options);

// The line announced once the worker is ready, e.g. "ESG running on http://127.0.0.1:8000 (Press CTRL+C
// to quit)".
std::string RunningMessage(const Config& config, const ListenerSpec& listener);

}  // namespace esg
