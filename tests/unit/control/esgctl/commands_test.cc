// control/esgctl/commands.h: the command table, `help`, and RunCommand's dispatch — what happens before a
// command runs (help without a server, unknown commands, no server to talk to). Output pinned in
// golden/help.txt, golden/shell_help.txt and golden/dispatch*.txt.
#include "control/esgctl/commands.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <set>

#include "tests/unit/control/esgctl/command_fixture.h"

namespace esg::esgctl::testing {
namespace {

using CommandsTest = CommandTest;

TEST(CommandTableTest, EveryCommandButHelpHasAFunctionAndAHelpLine) {
  std::set<std::string> names;
  for (const CommandInfo& c : Commands()) {
    EXPECT_TRUE(names.insert(c.name).second) << "duplicate " << c.name;
    EXPECT_EQ(c.run == nullptr, std::string(c.name) == "help") << c.name;
    EXPECT_NE(std::string(c.help), "") << c.name;
    EXPECT_NE(CommandHelp().find(std::string("  ") + c.name), std::string::npos) << c.name;
    for (const char* flag : c.flags) {
      EXPECT_NE(std::string(c.usage).find(flag), std::string::npos) << c.name << " completes " << flag;
    }
  }
}

TEST(CommandTableTest, HelpText) {
  ExpectGolden("help.txt", CommandHelp());
  ExpectGolden("shell_help.txt", CommandHelp(/*in_shell=*/true));
}

TEST_F(CommandsTest, HelpNeedsNoServer) {
  server_.reset();
  std::string text = Run({"help"});
  EXPECT_EQ(last_exit_, kExitOk);
  EXPECT_EQ(Run({"--help"}), Transcript({"--help"}, CommandHelp(), "", kExitOk));
  EXPECT_EQ(Run({"-h"}, true), Transcript({"--json", "-h"}, CommandHelp(), "", kExitOk));
  ExpectGolden("dispatch_help.txt", text);
}

TEST_F(CommandsTest, NoWordsDoNothing) {
  EXPECT_EQ(Run({}), Transcript({}, "", "", kExitOk));
  EXPECT_EQ(admin_.get_status_calls, 0);
}

TEST_F(CommandsTest, UnknownCommandsAreUsageErrorsBeforeConnecting) {
  server_.reset();  // no server: the usage error comes first
  std::string text;
  for (const Words& words : std::vector<Words>{{"frobnicate"}, {"quit"}, {"STATUS"}, {"--json"}}) {
    text += Run(words);
    EXPECT_EQ(last_exit_, kExitUsage) << words[0];
  }
  ExpectGolden("dispatch_unknown.txt", text);
}

TEST_F(CommandsTest, NoServerExitsThreeWithASentence) {
  server_.reset();  // removes the socket file
  std::string text = RunBoth({"status"});
  EXPECT_EQ(last_exit_, kExitNoServer);
  // A stale socket: the file is there, nobody listens.
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::string path = dir_ + "/control.sock";
  std::memcpy(addr.sun_path, path.data(), path.size());
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0) << std::strerror(errno);
  close(fd);
  text += RunBoth({"scale", "2"});
  EXPECT_EQ(last_exit_, kExitNoServer);
  // Not a socket at all.
  client_ = std::make_unique<Client>(Target{dir_, "", "", "", ""});
  text += Run({"health"});
  EXPECT_EQ(last_exit_, kExitNoServer);
  ExpectGolden("dispatch_no_server.txt", text);
}

}  // namespace
}  // namespace esg::esgctl::testing
