// The fixture esgctl's command tests share: the real control server (control/server/, StartControlServer)
// on a UNIX socket in a temporary directory, a FakeAdminApi behind it with a known status, and esgctl's
// real Client connected to it. Run() drives RunCommand exactly as main.cc does and returns the transcript
// (golden.h), so a test covers parsing, the RPC, the service's mapping and the printed output at once.
//
// Times print in UTC (TZ is set for the whole test binary) so event lines do not depend on the machine.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>
#include <time.h>

#include <atomic>
#include <cstdlib>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "control/esgctl/client.h"
#include "control/esgctl/commands.h"
#include "control/server/control_server.h"
#include "tests/unit/control/esgctl/golden.h"
#include "tests/unit/control/fake_admin_api.h"

namespace esg::esgctl::testing {

class CommandTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    setenv("TZ", "UTC", 1);
    tzset();
  }

  void SetUp() override {
    char pattern[] = "/tmp/esgctl-test-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
    control::ServerStatus& s = admin_.status;
    s.version = "9.9.9";
    s.master_pid = 4242;
    s.uptime_seconds = 3725;
    s.state = control::ServerState::kServing;
    s.generation = 3;
    s.listeners = {"http://127.0.0.1:8000", "unix:/run/app.sock"};
    s.config_summary = {{"app", "hello:app"}, {"workers", "2"}};
    control::WorkerStatus w;
    w.pid = 100;
    w.generation = 3;
    w.state = control::WorkerState::kReady;
    w.uptime_seconds = 75.5;
    w.requests = 1234;
    w.in_flight = 1;
    w.connections = 2;
    w.rss_bytes = 48ull << 20;
    w.seconds_since_heartbeat = 0.5;
    s.workers = {w, w};
    s.workers[1].pid = 101;
    s.workers[1].state = control::WorkerState::kStarting;
    s.workers[1].uptime_seconds = 1.25;
    s.workers[1].requests = 0;
    s.workers[1].in_flight = 0;
    s.workers[1].connections = 0;
    s.workers[1].rss_bytes = 900 << 10;

    control::ControlOptions options;
    options.socket_path = dir_ + "/control.sock";
    std::string error;
    server_ = control::StartControlServer(&admin_, options, &error);
    ASSERT_NE(server_, nullptr) << error;
    client_ = std::make_unique<Client>(Target{options.socket_path, "", "", "", ""});
  }

  void TearDown() override {
    client_.reset();
    server_.reset();
    std::string cmd = "rm -rf '" + dir_ + "'";
    (void)!std::system(cmd.c_str());
  }

  // Runs `esgctl [--json] words...` and returns its transcript; the exit code also lands in last_exit_.
  std::string Run(const std::vector<std::string>& words, bool json = false) {
    std::ostringstream out, err;
    Session session{client_.get(), json, &out, &err};
    session.interrupted = &interrupted_;
    last_exit_ = RunCommand(session, words);
    std::vector<std::string> args = words;
    if (json) args.insert(args.begin(), "--json");
    return Transcript(args, out.str(), err.str(), last_exit_, dir_);
  }

  // Runs each line's words, human then --json, and concatenates the transcripts.
  std::string RunBoth(const std::vector<std::string>& words) { return Run(words) + Run(words, true); }

  std::string dir_;
  control::testing::FakeAdminApi admin_;
  std::unique_ptr<control::ControlServer> server_;
  std::unique_ptr<Client> client_;
  std::atomic<bool> interrupted_{false};
  int last_exit_ = -1;
};

}  // namespace esg::esgctl::testing
