// The control plane server the master starts: the esg.control.v1.Control and grpc.health.v1.Health
// services over a UNIX socket (default) and optionally TCP with mutual TLS. No gRPC types in this header,
// so the master includes it without depending on gRPC's headers.
//
// Usage (in the master, after the listening sockets are bound):
//   std::string error;
//   auto control = esg::control::StartControlServer(&admin, options, &error);
//   if (!control) { log error; exit }          // bad options, socket in use (explicit path), TLS files
//   if (!control->warning().empty()) log it;   // e.g. the default socket is taken by another master
//   ... run ...
//   control->Shutdown();                        // before `admin` is destroyed; removes the socket file
//
// Threading: gRPC calls AdminApi from its own thread pool (see admin_api.h). Shutdown() is idempotent,
// waits for running calls to return, and must not be called from inside an AdminApi call.
#pragma once

#include <memory>
#include <string>

#include "control/admin_api.h"

namespace esg::control {

struct ControlOptions {
  bool enabled = true;              // --no-control: false
  // --control-socket: empty = DefaultControlSocketPath() (socket_path.h); "none" = no UNIX socket.
  std::string socket_path;
  // --control-group: members of this group (name or gid) may use the socket too; it becomes 0660.
  std::string group;
  // --control-address host:port: a TCP listener, only with all three TLS files below; client
  // certificates are required and verified against `tls_ca`.
  std::string tcp_address;
  std::string tls_cert;  // --control-tls-cert (PEM)
  std::string tls_key;   // --control-tls-key (PEM)
  std::string tls_ca;    // --control-tls-ca (PEM): CA that signs allowed client certificates
};

// Checks option combinations without touching the system. False with a sentence naming the option.
bool ValidateControlOptions(const ControlOptions& options, std::string* error);

class ControlServer {
 public:
  class Impl;
  explicit ControlServer(std::unique_ptr<Impl> impl);
  ~ControlServer();  // Shutdown()
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  // The UNIX socket path served, or "" when none.
  const std::string& socket_path() const;
  // The TCP address served ("127.0.0.1:50051", actual port after :0), or "" when none.
  const std::string& tcp_address() const;
  // Not empty when the control plane runs degraded (the default socket was in use): log it.
  const std::string& warning() const;
  // Stops accepting, ends streams (UNAVAILABLE), waits for calls in flight, removes the socket file.
  void Shutdown();

 private:
  std::unique_ptr<Impl> impl_;
};

// Starts the control plane over `admin` (not owned; must outlive the returned server). Returns nullptr
// with `error` set when the options are invalid or a listener cannot be created. When options.enabled
// is false, returns nullptr with an empty `error`.
//
// Socket in use: an explicit --control-socket that another process listens on is an error; the
// *default* path in use (a second master on this machine) only sets warning() and the server runs
// without a UNIX socket, so several masters can run side by side.
std::unique_ptr<ControlServer> StartControlServer(AdminApi* admin, const ControlOptions& options,
                                                  std::string* error);

}  // namespace esg::control
