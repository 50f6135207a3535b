// drain, resume, stop, log-level and reopen-logs against the real control server and a FakeAdminApi
// (command_fixture.h): what reaches the master, and the output pinned in golden/simple_commands*.txt.
#include "control/esgctl/simple_commands.h"

#include "tests/unit/control/esgctl/command_fixture.h"

namespace esg::esgctl::testing {
namespace {

using SimpleCommandsTest = CommandTest;

TEST_F(SimpleCommandsTest, EachCallsTheMasterAndSaysOk) {
  std::string text = RunBoth({"drain"});
  EXPECT_FALSE(admin_.serving());
  text += RunBoth({"resume"});
  EXPECT_TRUE(admin_.serving());
  text += RunBoth({"log-level", "DEBUG"});
  EXPECT_EQ(admin_.last_level, "debug");
  text += RunBoth({"reopen-logs"});
  EXPECT_EQ(admin_.reopen_calls, 2);
  text += RunBoth({"stop"});
  EXPECT_EQ(admin_.last_graceful, true);
  text += RunBoth({"stop", "--quick"});
  EXPECT_EQ(admin_.last_graceful, false);
  EXPECT_EQ(last_exit_, kExitOk);
  ExpectGolden("simple_commands.txt", text);
}

TEST_F(SimpleCommandsTest, EveryLogLevelIsAccepted) {
  for (const char* level : {"critical", "error", "warning", "info", "debug", "trace"}) {
    Run({"log-level", level});
    EXPECT_EQ(last_exit_, kExitOk) << level;
    EXPECT_EQ(admin_.last_level, level);
  }
}

TEST_F(SimpleCommandsTest, RefusedExitsOne) {
  admin_.next_result = {control::Result::Code::kBusy, "a reload is running; try again when it ends"};
  std::string text = RunBoth({"drain"});
  EXPECT_EQ(last_exit_, kExitFailed);
  admin_.next_result = {control::Result::Code::kInternal, "cannot reopen /var/log/esg.log: Permission denied"};
  text += RunBoth({"reopen-logs"});
  ExpectGolden("simple_commands_failed.txt", text);
}

TEST_F(SimpleCommandsTest, UsageErrorsCallNothing) {
  std::string text;
  for (const Words& words : std::vector<Words>{{"drain", "now"},
                                               {"resume", "now"},
                                               {"reopen-logs", "/var/log"},
                                               {"stop", "now"},
                                               {"stop", "--force"},
                                               {"log-level"},
                                               {"log-level", "loud"},
                                               {"log-level", "unspecified"},
                                               {"log-level", "info", "debug"}}) {
    text += Run(words);
    EXPECT_EQ(last_exit_, kExitUsage) << words[0];
  }
  EXPECT_TRUE(admin_.serving());
  EXPECT_FALSE(admin_.last_graceful.has_value());
  EXPECT_EQ(admin_.last_level, "");
  EXPECT_EQ(admin_.reopen_calls, 0);
  ExpectGolden("simple_commands_errors.txt", text);
}

}  // namespace
}  // namespace esg::esgctl::testing
