// The master (see master.h): an io_context, the Supervisor, the AdminApi and the control-plane hook.
#include "server/master/master.h"

#include <signal.h>

#include "server/common/log.h"
#include "server/master/admin.h"
#include "server/master/supervisor.h"

namespace esg {
namespace {

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
    // TLS when a certfile or keyfile is given (tls_check.h's UsesTls, uvicorn's is_ssl).
    where = listener.Url(/*tls=*/!config.ssl_certfile.empty() || !config.ssl_keyfile.empty());
  }
  return "ESG running on " + where + " (Press CTRL+C to quit)";
}

int RunMaster(MasterOptions options) {
  // Writing to a control socket whose worker died must not kill the master.
  signal(SIGPIPE, SIG_IGN);
  boost::asio::io_context io;
  Supervisor supervisor(io, options);
  MasterAdmin admin(io, supervisor);
  supervisor.set_event_sink([&admin](const control::Event& event) { admin.Publish(event); });
  StopControlServer stop_control;
  bool started = supervisor.Start();
  if (started && options.start_control_server) stop_control = options.start_control_server(&admin, io);
  if (started) io.run();
  admin.Close();
  if (stop_control) stop_control();
  return supervisor.exit_code();
}

}  // namespace esg
