// The `esg` master: binds nothing itself (main.cc hands it the listening sockets), supervises the workers
// (supervisor.h) on one Boost.Asio io_context, and exposes them to the control plane as an AdminApi.
//
// Control plane hook: set MasterOptions::start_control_server. RunMaster calls it once, on the main
// thread just before io_context::run(), after the signals are registered and the first workers are
// spawned (not yet ready), with the master's
// AdminApi (admin.h; thread-safe, callable from any thread except the io thread) and the io_context.
// It returns a function that stops the control server; RunMaster calls that after the io_context has
// stopped (no AdminApi call blocks from then on: they answer kFailedPrecondition at once).
#pragma once

#include <boost/asio/io_context.hpp>
#include <functional>
#include <string>
#include <vector>

#include "control/admin_api.h"
#include "server/common/config.h"
#include "server/master/listeners.h"

namespace esg {

using StopControlServer = std::function<void()>;
using StartControlServer =
    std::function<StopControlServer(control::AdminApi* api, boost::asio::io_context& io)>;

struct MasterOptions {
  Config config;
  // Bound by OpenListener / adopted from systemd; closed (and UNIX socket files removed) by RunMaster.
  std::vector<BoundSocket> listeners;
  std::string python;        // default worker interpreter (ChooseInterpreter); a release venv overrides it
  std::string package_root;  // directory holding the `esg` package, or "" (FindPackageRoot)
  StartControlServer start_control_server;  // optional (see above)
};

// Runs until every worker has exited after a stop. Returns the process exit status: 0 after a requested
// shutdown, 3 when the app could not start (a worker reported startup_failed or exited before ready at
// boot), 1 when no worker could be started at all or the configuration was unusable.
int RunMaster(MasterOptions options);

// The line announced once the workers are ready, e.g. "ESG running on http://127.0.0.1:8000 (Press
// CTRL+C to quit)".
std::string RunningMessage(const Config& config, const ListenerSpec& listener);

}  // namespace esg
