// `esgctl scale`, `incr`, `decr` against the real control server and a FakeAdminApi (command_fixture.h):
// the count or delta that reaches the master, and the output pinned in golden/scale*.txt.
#include "control/esgctl/scale_command.h"

#include "tests/unit/control/esgctl/command_fixture.h"

namespace esg::esgctl::testing {
namespace {

using ScaleCommandTest = CommandTest;

TEST_F(ScaleCommandTest, ScaleSetsTheCount) {
  // The answer counts ready workers: one of the fixture's two is still starting.
  std::string text = RunBoth({"scale", "3"});
  EXPECT_EQ(last_exit_, kExitOk);
  EXPECT_EQ(admin_.last_count, 3);
  EXPECT_FALSE(admin_.last_delta.has_value());
  admin_.status.workers[1].state = control::WorkerState::kReady;
  text += Run({"scale", "10000"});
  EXPECT_EQ(admin_.last_count, 10000);
  ExpectGolden("scale.txt", text);
}

TEST_F(ScaleCommandTest, IncrAndDecrSendADelta) {
  std::string text = Run({"incr"});
  EXPECT_EQ(admin_.last_delta, 1);
  EXPECT_FALSE(admin_.last_count.has_value());
  text += Run({"incr", "2"});
  EXPECT_EQ(admin_.last_delta, 2);
  text += Run({"decr"}, true);
  EXPECT_EQ(admin_.last_delta, -1);
  text += Run({"decr", "10000"});
  EXPECT_EQ(admin_.last_delta, -10000);
  ExpectGolden("scale_delta.txt", text);
}

TEST_F(ScaleCommandTest, RefusedExitsOne) {
  admin_.next_result = {control::Result::Code::kInvalidArgument, "at most 10000 workers (2 + 9999 asked)"};
  ExpectGolden("scale_failed.txt", RunBoth({"incr", "9999"}));
  EXPECT_EQ(last_exit_, kExitFailed);
}

TEST_F(ScaleCommandTest, UsageErrorsCallNothing) {
  std::string text;
  for (const Words& words : std::vector<Words>{{"scale"},
                                               {"scale", "0"},
                                               {"scale", "10001"},
                                               {"scale", "two"},
                                               {"scale", "1", "2"},
                                               {"scale", "--now", "2"},
                                               {"incr", "0"},
                                               {"incr", "1", "2"},
                                               {"decr", "-1"},
                                               {"decr", "x"}}) {
    text += Run(words);
    EXPECT_EQ(last_exit_, kExitUsage) << words[0];
  }
  EXPECT_FALSE(admin_.last_count.has_value());
  EXPECT_FALSE(admin_.last_delta.has_value());
  ExpectGolden("scale_errors.txt", text);
}

}  // namespace
}  // namespace esg::esgctl::testing
