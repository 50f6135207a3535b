// control/esgctl/main.cc, the esgctl binary itself, run as a user runs it: its --help (CLI11's options
// plus the command list), its global-option errors, --json before or after the command, and the shell
// reading commands from a pipe. Output pinned in golden/main_*.txt. Needs no server: what talks to one is
// covered by the command tests.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/unit/control/esgctl/golden.h"

namespace esg::esgctl::testing {
namespace {

// The binary in the test's runfiles (data dependency //control:esgctl).
constexpr char kEsgctl[] = "control/esgctl";

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

class MainTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/esgctl-main-test-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    std::string cmd = "rm -rf '" + dir_ + "'";
    (void)!std::system(cmd.c_str());
  }

  // Runs esgctl with `args` (single-quoted for the shell; none contains a quote) and `input` on stdin.
  // The default socket is pinned through $ESG_CONTROL_SOCKET so --help reads the same for every user.
  std::string Run(const std::vector<std::string>& args, const std::string& input = "") {
    std::ofstream(dir_ + "/in", std::ios::binary) << input;
    std::string cmd = "ESG_CONTROL_SOCKET=/run/esg/control.sock " + std::string(kEsgctl);
    for (const std::string& a : args) cmd += " '" + a + "'";
    cmd += " <'" + dir_ + "/in' >'" + dir_ + "/out' 2>'" + dir_ + "/err'";
    int status = std::system(cmd.c_str());
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return Transcript(args, Slurp(dir_ + "/out"), Slurp(dir_ + "/err"), code, dir_);
  }

  std::string dir_;
};

TEST_F(MainTest, Help) {
  std::string text = Run({"--help"});
  text += Run({"help"});
  ExpectGolden("main_help.txt", text);
}

TEST_F(MainTest, GlobalOptionErrorsExitTwo) {
  std::string text = Run({"--address", "127.0.0.1:7000", "status"});
  text += Run({"--address", "127.0.0.1:7000", "--tls-cert", "c.pem", "--tls-key", "k.pem", "status"});
  text += Run({"--bogus", "status"});
  ExpectGolden("main_errors.txt", text);
}

TEST_F(MainTest, JsonBeforeOrAfterTheCommand) {
  std::string sock = dir_ + "/none.sock";
  std::string text = Run({"--socket", sock, "--json", "status"});
  text += Run({"--socket", sock, "status", "--json"});
  text += Run({"--socket", sock, "status"});
  ExpectGolden("main_json.txt", text);
}

TEST_F(MainTest, ShellFromAPipe) {
  // Blank lines and comments are skipped; a failing command does not end the shell, whose exit code is the
  // last failure; nothing after quit runs.
  std::string text = Run({"--socket", dir_ + "/none.sock"},
                         "help\n\n# a comment\nbogus\nreload 'unclosed\nstatus\nquit\nhealth\n");
  text += Run({"--socket", dir_ + "/none.sock"}, "help\nexit\n");
  ExpectGolden("main_shell.txt", text);
}

}  // namespace
}  // namespace esg::esgctl::testing
