// systemd integration without libsystemd: sd_notify(3) datagrams and socket activation (sd_listen_fds).
#pragma once

#include <string>
#include <vector>

namespace esg {

// Sends `state` ("READY=1", "RELOADING=1", "STOPPING=1", ...) to $NOTIFY_SOCKET. Returns false when the
// variable is not set or the datagram could not be sent (never fatal: a service may run without systemd).
bool SdNotify(const std::string& state);

// The descriptors systemd passed (3, 4, ...) when $LISTEN_PID is this process and $LISTEN_FDS is set;
// empty otherwise.
std::vector<int> SdListenFds();

// Environment variables that belong to the master's systemd contract and must not reach workers.
const std::vector<std::string>& SystemdEnvNames();

}  // namespace esg
