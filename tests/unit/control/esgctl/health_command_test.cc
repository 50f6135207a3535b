// `esgctl health` against the real control server and a FakeAdminApi (command_fixture.h); output pinned in
// golden/health*.txt.
#include "control/esgctl/health_command.h"

#include "tests/unit/control/esgctl/command_fixture.h"

namespace esg::esgctl::testing {
namespace {

using HealthCommandTest = CommandTest;

TEST_F(HealthCommandTest, ServingExitsZero) {
  ExpectGolden("health_serving.txt", RunBoth({"health"}));
  EXPECT_EQ(last_exit_, kExitOk);
}

TEST_F(HealthCommandTest, NotServingExitsOne) {
  admin_.set_serving(false);
  ExpectGolden("health_not_serving.txt", RunBoth({"health"}));
  EXPECT_EQ(last_exit_, kExitFailed);
}

TEST_F(HealthCommandTest, ArgumentsAreAUsageError) {
  ExpectGolden("health_errors.txt", Run({"health", "esg.control.v1.Control"}));
  EXPECT_EQ(last_exit_, kExitUsage);
}

}  // namespace
}  // namespace esg::esgctl::testing
