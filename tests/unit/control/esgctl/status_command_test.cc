// `esgctl status` against the real control server and a FakeAdminApi (command_fixture.h); output pinned in
// golden/status*.txt; `esgctl metrics` likewise (golden/metrics*.txt).
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

TEST_F(StatusCommandTest, ARecyclingWorkerAndTheRestartCounters) {
  admin_.status.workers.resize(1);
  admin_.status.workers[0].recycling = "memory";
  admin_.status.worker_restarts = {{"crash", 1}, {"heartbeat", 0}, {"max-requests", 2},
                                   {"memory", 3}, {"age", 4},       {"reload", 5}};
  ExpectGolden("status_recycling.txt", RunBoth({"status"}));
}

TEST_F(StatusCommandTest, MetricsPrintsThePrometheusText) {
  admin_.status.requests_total = 4321;
  admin_.status.reloads = {{"ok", 2}, {"rolled_back", 1}};
  admin_.status.worker_restarts = {{"crash", 1}, {"heartbeat", 0}, {"max-requests", 0},
                                   {"memory", 0}, {"age", 0},       {"reload", 4}};
  ExpectGolden("metrics.txt", RunBoth({"metrics"}));
  EXPECT_EQ(last_exit_, kExitOk);
  ExpectGolden("metrics_errors.txt", RunBoth({"metrics", "now"}));
  EXPECT_EQ(last_exit_, kExitUsage);
}

TEST_F(StatusCommandTest, ArgumentsAreAUsageError) {
  ExpectGolden("status_errors.txt", RunBoth({"status", "--all"}));
  EXPECT_EQ(last_exit_, kExitUsage);
  EXPECT_EQ(admin_.get_status_calls, 0);
}

}  // namespace
}  // namespace esg::esgctl::testing
