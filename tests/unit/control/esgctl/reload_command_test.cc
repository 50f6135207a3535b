// `esgctl reload` against the real control server and a FakeAdminApi (command_fixture.h): what reaches the
// master from each way of writing the options, and the output of success, rollback and failure, pinned in
// golden/reload*.txt.
#include "control/esgctl/reload_command.h"

#include "tests/unit/control/esgctl/command_fixture.h"

namespace esg::esgctl::testing {
namespace {

using ReloadCommandTest = CommandTest;

TEST_F(ReloadCommandTest, Succeeded) {
  admin_.reload_result.generation = 4;
  ExpectGolden("reload.txt", RunBoth({"reload"}));
  EXPECT_EQ(last_exit_, kExitOk);
  EXPECT_EQ(admin_.reload_calls, 2);
  EXPECT_EQ(admin_.last_release, "");
  EXPECT_FALSE(admin_.last_ready_timeout.has_value());
}

TEST_F(ReloadCommandTest, ReleaseAndTimeoutReachTheMaster) {
  admin_.reload_result.generation = 4;
  std::string text = Run({"reload", "--release", "/srv/app/releases/42", "--timeout", "2.5"});
  EXPECT_EQ(admin_.last_release, "/srv/app/releases/42");
  ASSERT_TRUE(admin_.last_ready_timeout.has_value());
  EXPECT_DOUBLE_EQ(*admin_.last_ready_timeout, 2.5);
  text += Run({"reload", "--timeout=30", "--release=/srv/app/releases/43"}, true);
  EXPECT_EQ(admin_.last_release, "/srv/app/releases/43");
  ASSERT_TRUE(admin_.last_ready_timeout.has_value());
  EXPECT_DOUBLE_EQ(*admin_.last_ready_timeout, 30);
  ExpectGolden("reload_options.txt", text);
}

TEST_F(ReloadCommandTest, RolledBackExitsFourWithTheWorkersOutput) {
  admin_.reload_result.rolled_back = true;
  admin_.reload_result.generation = 3;
  admin_.reload_result.result = {control::Result::Code::kInternal, "worker 200 exited with code 3 before ready"};
  admin_.reload_result.worker_output = "Traceback (most recent call last):\nImportError: No module named 'app'";
  ExpectGolden("reload_rolled_back.txt", RunBoth({"reload", "--release", "/srv/app/releases/44"}));
  EXPECT_EQ(last_exit_, kExitRolledBack);
}

TEST_F(ReloadCommandTest, RefusedExitsOne) {
  admin_.reload_result.result = {control::Result::Code::kFailedPrecondition,
                                 "the server is draining; resume it before reloading"};
  std::string text = RunBoth({"reload"});
  EXPECT_EQ(last_exit_, kExitFailed);
  // Beyond the master's maximum: esgctl passes it on and prints the master's sentence.
  text += Run({"reload", "--timeout", "7200"});
  EXPECT_EQ(last_exit_, kExitFailed);
  ExpectGolden("reload_failed.txt", text);
}

TEST_F(ReloadCommandTest, UsageErrorsCallNothing) {
  std::string text;
  for (const Words& words : std::vector<Words>{{"reload", "/srv/app"},
                                               {"reload", "--timeout", "0"},
                                               {"reload", "--timeout", "soon"},
                                               {"reload", "--timeout"},
                                               {"reload", "--release"},
                                               {"reload", "--quick"}}) {
    text += Run(words);
    EXPECT_EQ(last_exit_, kExitUsage) << words.back();
  }
  EXPECT_EQ(admin_.reload_calls, 0);
  ExpectGolden("reload_errors.txt", text);
}

}  // namespace
}  // namespace esg::esgctl::testing
