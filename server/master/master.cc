// The master (see master.h): an io_context, the Supervisor, the AdminApi and the control-plane hook.
#include "server/master/master.h"

#include <signal.h>

#include <boost/asio/signal_set.hpp>
#include <functional>
#include <memory>

#include "server/common/log.h"
#include "server/master/admin.h"
#include "control/prometheus.h"
#include "server/master/file_watch.h"
#include "server/master/metrics_server.h"
#include "server/master/scheduler.h"
#include "server/master/supervisor.h"
#include "server/master/worker_launcher.h"

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
  // Registered before any spawn so that no SIGCHLD or SIGTERM can slip past.
  boost::asio::signal_set signals(io);
  for (int s : {SIGINT, SIGTERM, SIGCHLD, SIGHUP, SIGTTIN, SIGTTOU, SIGUSR1}) signals.add(s);

  AsioScheduler scheduler(io);
  ProcessLauncher launcher(io, options.listeners, options.package_root);
  SupervisorPorts ports;
  ports.launcher = &launcher;
  ports.scheduler = &scheduler;
  ports.make_watcher = [&io](WatchFilter filter, double delay, FileWatcher::Callback callback) {
    return std::make_unique<FileWatcher>(io, std::move(filter), delay, std::move(callback));
  };
  ports.on_finished = [&io, &signals] {
    boost::system::error_code ignored;
    signals.cancel(ignored);
    io.stop();
  };
  Supervisor supervisor(options, std::move(ports));
  launcher.set_events(&supervisor);

  std::function<void()> wait_for_signal = [&] {
    signals.async_wait([&](const boost::system::error_code& ec, int signal_number) {
      if (ec) return;
      if (signal_number == SIGCHLD) {
        launcher.ReapChildren();
      } else {
        supervisor.OnSignal(signal_number);
      }
      if (!supervisor.finished()) wait_for_signal();
    });
  };
  wait_for_signal();

  MasterAdmin admin(io, supervisor);
  supervisor.set_event_sink([&admin](const control::Event& event) { admin.Publish(event); });
  // --metrics-bind: bound before any worker starts (a port in use is a start-up error), served on its own
  // thread; each scrape asks the supervisor for its status through the AdminApi.
  MetricsServer metrics;
  if (!options.config.metrics_bind.empty()) {
    std::string error;
    if (!metrics.Open(options.config.metrics_bind, &error)) {
      log::Error().error("{}", error);
      return 1;
    }
    metrics.Start([&admin] { return control::PrometheusText(admin.GetStatus()); });
    log::Error().info("Metrics on {}", metrics.Describe());
  }
  StopControlServer stop_control;
  bool started = supervisor.Start();
  if (started && options.start_control_server) stop_control = options.start_control_server(&admin, io);
  if (started) io.run();
  // admin.Close() first: it answers every AdminApi call still waiting for the (stopped) io thread, so a
  // scrape blocked in GetStatus returns and the metrics thread can be joined.
  admin.Close();
  metrics.Stop();
  if (stop_control) stop_control();
  launcher.set_events(nullptr);
  return supervisor.exit_code();
}

}  // namespace esg
