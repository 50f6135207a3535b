// esgctl's interactive shell (see shell.h).
#include "control/esgctl/shell.h"

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "control/esgctl/args.h"

// editline's GNU-readline-compatible API (Debian libedit-dev).
#include <editline/readline.h>

namespace esg::esgctl {
namespace {

std::atomic<bool> g_interrupted{false};

void OnInterrupt(int) { g_interrupted = true; }

// The words the cursor's word may complete to, for the completion generator below.
std::vector<std::string> g_candidates;

char* NextCandidate(const char* text, int state) {
  static size_t index;
  if (state == 0) index = 0;
  size_t length = std::strlen(text);
  while (index < g_candidates.size()) {
    const std::string& candidate = g_candidates[index++];
    if (candidate.compare(0, length, text) == 0) return strdup(candidate.c_str());
  }
  return nullptr;
}

char** Complete(const char* text, int start, int /*end*/) {
  rl_attempted_completion_over = 1;  // never fall back to file names
  g_candidates.clear();
  std::string before(rl_line_buffer, static_cast<size_t>(start));
  std::vector<std::string> words;
  SplitWords(before, &words);
  if (words.empty()) {
    for (const CommandInfo& c : Commands()) g_candidates.push_back(c.name);
    g_candidates.push_back("quit");
  } else if (words[0] == "log-level" && words.size() == 1) {
    g_candidates = {"critical", "error", "warning", "info", "debug", "trace"};
  } else {
    for (const CommandInfo& c : Commands()) {
      if (words[0] == c.name) {
        for (const char* flag : c.flags) g_candidates.push_back(flag);
      }
    }
  }
  return rl_completion_matches(text, NextCandidate);
}

std::string HistoryPath() {
  const char* home = std::getenv("HOME");
  return home != nullptr && *home != '\0' ? std::string(home) + "/.esgctl_history" : "";
}

}  // namespace

int RunShell(Session& session) {
  bool tty = isatty(STDIN_FILENO) == 1;
  session.interrupted = &g_interrupted;
  struct sigaction action{};
  action.sa_handler = OnInterrupt;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);  // Ctrl-C ends a running `events`, not the shell

  std::string history = HistoryPath();
  if (tty) {
    rl_readline_name = "esgctl";
    rl_attempted_completion_function = Complete;
    using_history();
    stifle_history(1000);
    if (!history.empty()) read_history(history.c_str());
    std::cout << "esgctl: talking to " << session.client->Where()
              << " ('help' lists the commands, 'quit' or Ctrl-D leaves)\n";
  }

  int last_failure = 0;
  while (true) {
    std::string line;
    if (tty) {
      g_interrupted = false;
      char* raw = readline("(esgctl) ");
      if (raw == nullptr) {
        if (g_interrupted.exchange(false)) {
          std::cout << "\n";
          continue;
        }
        std::cout << "\n";
        break;
      }
      line = raw;
      std::free(raw);
      if (line.find_first_not_of(" \t") != std::string::npos) add_history(line.c_str());
    } else if (!std::getline(std::cin, line)) {
      break;
    }
    std::vector<std::string> words;
    if (!SplitWords(line, &words)) {
      std::cerr << "esgctl: unclosed quote\n";
      last_failure = kExitUsage;
      continue;
    }
    if (words.empty() || words[0][0] == '#') continue;
    if (words[0] == "quit" || words[0] == "exit") break;
    if (words[0] == "help") {
      std::cout << CommandHelp(/*in_shell=*/true);
      continue;
    }
    g_interrupted = false;
    int code = RunCommand(session, words);
    std::cout.flush();
    std::cerr.flush();
    if (code != kExitOk) last_failure = code;
  }
  if (tty && !history.empty()) write_history(history.c_str());
  return last_failure;
}

}  // namespace esg::esgctl
