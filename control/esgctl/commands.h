// esgctl's command table and dispatcher, shared by the one-shot CLI (main.cc) and the interactive shell:
// the list of commands (names, usage, help, completion flags, the function that runs each), the `help`
// text built from it, and RunCommand, which connects and hands one command's words to its function.
// Each command lives in its own file (status_command.h, reload_command.h, ...); how results read is
// output.h; exit codes and the Session are session.h.
#pragma once

#include <string>
#include <vector>

#include "control/esgctl/args.h"
#include "control/esgctl/session.h"

namespace esg::esgctl {

struct CommandInfo {
  const char* name;
  const char* usage;  // after the name: "[--release PATH] [--timeout S]"
  const char* help;
  std::vector<const char*> flags;  // for completion
  // Runs the command on a connected session; nullptr for `help`, which RunCommand answers itself.
  int (*run)(Session& session, const Words& words);
};

// Every command, in the order `help` lists them.
const std::vector<CommandInfo>& Commands();

// The command list as `help` prints it ("Commands:" and one line per command). `in_shell` adds the
// shell's own `quit`.
std::string CommandHelp(bool in_shell = false);

// Runs `words` (words[0] is the command; empty words do nothing). `help` needs no server; an unknown
// command is a usage error before connecting; otherwise connects (exit 3 with a sentence when there is
// no server) and runs the command. Returns an ExitCode.
int RunCommand(Session& session, const Words& words);

}  // namespace esg::esgctl
