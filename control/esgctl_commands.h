// esgctl's commands, shared by the one-shot CLI and the interactive shell: the table (names, usage, help,
// used for `help` and tab completion) and RunCommand, which parses one command's words, calls the master
// and prints a human table or JSON.
//
// Exit codes: 0 ok; 1 the server refused or failed (its message is printed), or health is NOT_SERVING;
// 2 usage error; 3 no server to talk to; 4 a reload was rolled back (the old generation still serves).
#pragma once

#include <atomic>
#include <iosfwd>
#include <string>
#include <vector>

#include "control/esgctl_client.h"

namespace esg::esgctl {

enum ExitCode { kExitOk = 0, kExitFailed = 1, kExitUsage = 2, kExitNoServer = 3, kExitRolledBack = 4 };

struct CommandInfo {
  const char* name;
  const char* usage;  // after the name: "[--release PATH] [--timeout S]"
  const char* help;
  std::vector<const char*> flags;  // for completion
};

const std::vector<CommandInfo>& Commands();

// The command list as `help` prints it.
std::string CommandHelp();

struct Session {
  Client* client;
  bool json = false;
  std::ostream* out;
  std::ostream* err;
  // Set by the SIGINT handler: a running `events` stops, the shell keeps going.
  std::atomic<bool>* interrupted = nullptr;
};

// Runs `words` (words[0] is the command). Returns an ExitCode.
int RunCommand(Session& session, const std::vector<std::string>& words);

// Splits a shell line into words (whitespace; '...' and "..." quote). False on an unclosed quote.
bool SplitWords(const std::string& line, std::vector<std::string>* words);

}  // namespace esg::esgctl
