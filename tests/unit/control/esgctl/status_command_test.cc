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

// With --metrics-bind the workers count per-request figures: esg_requests_total by class (every class, zeros
// included), the duration histogram with cumulative buckets, bytes in and out.
TEST_F(StatusCommandTest, MetricsWithTheRequestFigures) {
  admin_.status.request_counters_counted = true;
  RequestCounters& c = admin_.status.request_counters;
  c.Record(MethodClassOf("GET"), 200, 1'000);      // le=0.005
  c.Record(MethodClassOf("GET"), 404, 7'000);      // le=0.01
  c.Record(MethodClassOf("HEAD"), 200, 2'000'000); // le=2.5
  c.Record(kMethodOther, 400, 0);
  c.Record(MethodClassOf("POST"), 503, 60'000'000);  // +Inf only
  c.received_bytes = 12345;
  c.sent_bytes = 67890;
  c.request_timeouts = 2;
  admin_.status.workers[0].websockets = 2;
  admin_.status.workers[1].websockets = 1;
  ExpectGolden("metrics_requests.txt", RunBoth({"metrics"}));
  EXPECT_EQ(last_exit_, kExitOk);
}

TEST_F(StatusCommandTest, ArgumentsAreAUsageError) {
  ExpectGolden("status_errors.txt", RunBoth({"status", "--all"}));
  EXPECT_EQ(last_exit_, kExitUsage);
  EXPECT_EQ(admin_.get_status_calls, 0);
}

}  // namespace
}  // namespace esg::esgctl::testing
