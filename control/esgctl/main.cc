// esgctl: drive a running esg master over its gRPC control plane.
//
//   esgctl status                      one-shot (exit codes: session.h)
//   esgctl --json reload --release /srv/app/releases/42
//   esgctl                             interactive `(esgctl)` shell; or commands piped on stdin
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <iostream>
#include <string>
#include <vector>

#include "control/esgctl/client.h"
#include "control/esgctl/commands.h"
#include "control/esgctl/shell.h"
#include "control/socket_path.h"

int main(int argc, char** argv) {
  using namespace esg::esgctl;
  Target target;
  target.socket_path = esg::control::DefaultControlSocketPath();
  bool json = false;

  CLI::App app{"esgctl: control a running esg master (status, reload, scale, drain, ...) over gRPC.", "esgctl"};
  app.add_option("--socket", target.socket_path,
                 "The master's control socket. Default: $ESG_CONTROL_SOCKET, else /run/esg/control.sock as "
                 "root, $XDG_RUNTIME_DIR/esg/control.sock, or /tmp/esg-<uid>/control.sock")
      ->capture_default_str();
  app.add_option("--address", target.address, "Talk to a TCP control listener (HOST:PORT) with mutual TLS");
  app.add_option("--tls-cert", target.tls_cert, "Client certificate (PEM), with --address");
  app.add_option("--tls-key", target.tls_key, "Client key (PEM), with --address");
  app.add_option("--tls-ca", target.tls_ca, "CA certificate that signed the server's (PEM), with --address");
  app.add_flag("--json", json, "Machine-readable output: one JSON object per result (errors on stderr)");
  app.prefix_command();
  app.footer("\n" + CommandHelp() +
             "\nWith no command, esgctl opens an interactive (esgctl) shell; from a pipe it runs one command per "
             "line.\nExit codes: 0 ok, 1 failed (the server's message is printed) or NOT_SERVING, 2 usage, "
             "3 no server, 4 reload rolled back.");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kExitUsage;
  }
  if (!target.address.empty() && (target.tls_cert.empty() || target.tls_key.empty() || target.tls_ca.empty())) {
    std::cerr << "esgctl: --address needs --tls-cert, --tls-key and --tls-ca (the control plane only speaks "
                 "TCP with mutual TLS)\n";
    return kExitUsage;
  }
  std::vector<std::string> words;
  for (const std::string& w : app.remaining()) {
    if (w == "--json") {
      json = true;  // also accepted after the command: `esgctl status --json`
    } else {
      words.push_back(w);
    }
  }
  Client client(target);
  Session session{&client, json, &std::cout, &std::cerr};
  if (words.empty()) return RunShell(session);
  static std::atomic<bool> interrupted{false};
  session.interrupted = &interrupted;
  signal(SIGINT, [](int) { interrupted = true; });
  return RunCommand(session, words);
}
