// What every esgctl command runs with: the Session (the connection, --json, where output goes, the Ctrl-C
// flag), the exit codes, the call deadlines, and the three ways a command ends that all commands share
// (a usage error, a failed call, a bare success). Commands include this; output.h decides the wording.
//
// Exit codes: 0 ok; 1 the server refused or failed (its message is printed), or health is NOT_SERVING;
// 2 usage error; 3 no server to talk to; 4 a reload was rolled back (the old generation still serves).
#pragma once

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <iosfwd>
#include <string>

#include "control/esgctl/client.h"

namespace esg::esgctl {

enum ExitCode { kExitOk = 0, kExitFailed = 1, kExitUsage = 2, kExitNoServer = 3, kExitRolledBack = 4 };

struct Session {
  Client* client;  // not owned; connected by RunCommand before a command runs
  bool json = false;
  std::ostream* out;
  std::ostream* err;
  // Set by the SIGINT handler: a running `events` stops, the shell keeps going.
  std::atomic<bool>* interrupted = nullptr;
};

// Reads answer at once; mutating calls return when the work is done (a reload waits for the new
// generation), so they get a long deadline and the master's own timeouts decide.
inline constexpr auto kReadDeadline = std::chrono::seconds(10);
inline constexpr auto kMutateDeadline = std::chrono::minutes(10);

// Sets `context`'s deadline `timeout` from now.
void SetDeadline(grpc::ClientContext* context, std::chrono::seconds timeout);

// Prints "esgctl: <message>" on err; returns kExitUsage.
int UsageError(Session& session, const std::string& message);
// Prints a failed call (the client's sentence for it, and its code) on err; returns kExitNoServer when the
// server went away (UNAVAILABLE), kExitFailed otherwise.
int CallFailed(Session& session, const grpc::Status& status);
// Prints "ok: <what>" (or its JSON) on out; returns kExitOk.
int Acknowledge(Session& session, const std::string& what);

}  // namespace esg::esgctl
