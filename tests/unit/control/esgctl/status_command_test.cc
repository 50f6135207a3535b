// `esgctl status` against the real control server and a FakeAdminApi (command_fixture.h); output pinned in
// golden/status*.txt.
#include "control/esgctl/status_command.h"

#include "tests/unit/control/esgctl/command_fixture.h"

namespace esg::esgctl::testing {
namespace {

using StatusCommandTest = CommandTest;

TEST_F(StatusCommandTest, TableAndJson) {
  ExpectGolden("status.txt", RunBoth({"status"}));
  EXPECT_EQ(last_exit_, kExitOk);
  EXPECT_EQ(admin_.get_status_calls, 2);
}

TEST_F(StatusCommandTest, OneWorkerNoListenersNoConfig) {
  admin_.status.state = control::ServerState::kDraining;
  admin_.status.uptime_seconds = 42;
  admin_.status.listeners.clear();
  admin_.status.config_summary.clear();
  admin_.status.workers.resize(1);
  admin_.status.workers[0].rss_bytes = 3ull << 30;
  ExpectGolden("status_one_worker.txt", RunBoth({"status"}));
}

TEST_F(StatusCommandTest, ArgumentsAreAUsageError) {
  ExpectGolden("status_errors.txt", RunBoth({"status", "--all"}));
  EXPECT_EQ(last_exit_, kExitUsage);
  EXPECT_EQ(admin_.get_status_calls, 0);
}

}  // namespace
}  // namespace esg::esgctl::testing
