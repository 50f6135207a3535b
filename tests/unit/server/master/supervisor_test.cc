// The supervisor's policy (server/master/supervisor.h) driven with a fake WorkerLauncher and a fake clock:
// no processes, no sleeping — a worker "exits" when the test says so, and time moves only through
// FakeScheduler::Advance. Covers boot, restart backoff, the crash loop (exit 3), health checks, reload
// (new workers first; rollback), scale, recycling (max requests, memory, age) and its counters, drain/resume and the stop order.
#include "server/master/supervisor.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "server/master/master.h"

namespace esg {
namespace {

using namespace std::chrono_literals;
using control::Result;
using Code = control::Result::Code;

// Time that moves only when told; callbacks run in due order, each at its due time.
class FakeScheduler final : public Scheduler {
 public:
  Clock::time_point Now() const override { return now_; }
  TimerId RunAfter(Clock::duration after, std::function<void()> callback) override {
    const TimerId id = next_id_++;
    const Clock::time_point due = now_ + after;
    timers_[{due, id}] = std::move(callback);
    due_[id] = due;
    return id;
  }
  void Cancel(TimerId id) override {
    auto it = due_.find(id);
    if (it == due_.end()) return;
    timers_.erase({it->second, id});
    due_.erase(it);
  }
  void Advance(Clock::duration by) {
    const Clock::time_point until = now_ + by;
    while (!timers_.empty() && timers_.begin()->first.first <= until) {
      auto first = timers_.begin();
      now_ = std::max(now_, first->first.first);
      std::function<void()> callback = std::move(first->second);
      due_.erase(first->first.second);
      timers_.erase(first);
      callback();
    }
    now_ = until;
  }

 private:
  Clock::time_point now_ = Clock::time_point(1000h);
  TimerId next_id_ = 1;
  std::map<std::pair<Clock::time_point, TimerId>, std::function<void()>> timers_;
  std::map<TimerId, Clock::time_point> due_;
};

// Records what the supervisor asks; workers are pids, nothing runs.
class FakeLauncher final : public WorkerLauncher {
 public:
  pid_t Spawn(const Release& release, std::string* error) override {
    if (fail_spawn) {
      *error = "cannot start the worker";
      return -1;
    }
    const pid_t pid = next_pid_++;
    spawned.push_back(pid);
    releases[pid] = release.config.app_dir;
    return pid;
  }
  void Send(pid_t pid, const WorkerCommand& command) override { sent[pid].push_back(EncodeWorkerCommand(command)); }
  void Signal(pid_t pid, int signal_number) override { signals.emplace_back(pid, signal_number); }
  std::string RecentOutput(pid_t pid) const override {
    auto it = output.find(pid);
    return it == output.end() ? "" : it->second;
  }
  void Forget(pid_t pid) override { forgotten.insert(pid); }

  bool Drained(pid_t pid) const {
    auto it = sent.find(pid);
    return it != sent.end() && std::count(it->second.begin(), it->second.end(), "{\"cmd\": \"drain\"}\n") == 1;
  }
  int SignalsTo(pid_t pid, int signal_number) const {
    return static_cast<int>(std::count(signals.begin(), signals.end(), std::make_pair(pid, signal_number)));
  }

  bool fail_spawn = false;
  std::vector<pid_t> spawned;
  std::map<pid_t, std::string> releases;
  std::map<pid_t, std::vector<std::string>> sent;
  std::vector<std::pair<pid_t, int>> signals;
  std::map<pid_t, std::string> output;
  std::set<pid_t> forgotten;

 private:
  pid_t next_pid_ = 100;
};

class SupervisorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    unsetenv("NOTIFY_SOCKET");
    const char* tmp = std::getenv("TEST_TMPDIR");
    options_.config.app_dir = tmp != nullptr ? tmp : "/tmp";
    options_.python = "/usr/bin/python3";
  }

  void Start(int workers) {
    options_.config.workers = workers;
    SupervisorPorts ports;
    ports.launcher = &launcher_;
    ports.scheduler = &clock_;
    ports.on_finished = [this] { ++finished_calls_; };
    supervisor_ = std::make_unique<Supervisor>(options_, std::move(ports));
    supervisor_->set_event_sink([this](const control::Event& e) { events_.push_back(e.kind); });
    ASSERT_TRUE(supervisor_->Start());
  }

  void Say(pid_t pid, const std::string& line) { supervisor_->OnWorkerMessage(pid, ParseWorkerMessage(line), line); }
  void Ready(pid_t pid) { Say(pid, R"({"event": "ready", "pid": 1})"); }
  void Exit(pid_t pid, int code) { supervisor_->OnWorkerExit(pid, W_EXITCODE(code, 0)); }
  void Killed(pid_t pid, int signal_number) { supervisor_->OnWorkerExit(pid, signal_number); }
  size_t Spawned() const { return launcher_.spawned.size(); }
  pid_t Last() const { return launcher_.spawned.back(); }
  int Count(control::EventKind kind) const { return static_cast<int>(std::count(events_.begin(), events_.end(), kind)); }
  control::WorkerState StateOf(pid_t pid) const {
    for (const control::WorkerStatus& w : supervisor_->Status().workers) {
      if (w.pid == pid) return w.state;
    }
    ADD_FAILURE() << "no worker " << pid;
    return control::WorkerState::kStopping;
  }

  MasterOptions options_;
  FakeLauncher launcher_;
  FakeScheduler clock_;
  std::unique_ptr<Supervisor> supervisor_;
  std::vector<control::EventKind> events_;
  int finished_calls_ = 0;
};

TEST_F(SupervisorTest, BootServesOnceEveryWorkerIsReady) {
  Start(2);
  ASSERT_EQ(Spawned(), 2u);
  EXPECT_FALSE(supervisor_->serving());
  Ready(100);
  EXPECT_FALSE(supervisor_->serving());
  Ready(101);
  EXPECT_TRUE(supervisor_->serving());
  control::ServerStatus status = supervisor_->Status();
  EXPECT_EQ(status.state, control::ServerState::kServing);
  EXPECT_EQ(status.generation, 1u);
  ASSERT_EQ(status.workers.size(), 2u);
  EXPECT_EQ(Count(control::EventKind::kWorkerSpawned), 2);
  EXPECT_EQ(Count(control::EventKind::kWorkerReady), 2);
}

TEST_F(SupervisorTest, HeartbeatsUpdateTheCountersAndBadLinesAreIgnored) {
  Start(1);
  Ready(100);
  Say(100, R"({"event": "heartbeat", "requests": 7, "in_flight": 2, "connections": 3, "rss": 4096})");
  Say(100, "not json");
  Say(100, R"({"event": "from_a_newer_worker"})");
  Say(999, R"({"event": "ready"})");  // not ours
  control::WorkerStatus w = supervisor_->Status().workers.at(0);
  EXPECT_EQ(w.requests, 7u);
  EXPECT_EQ(w.in_flight, 2u);
  EXPECT_EQ(w.connections, 3u);
  EXPECT_EQ(w.rss_bytes, 4096u);
  EXPECT_EQ(Spawned(), 1u);
}

TEST_F(SupervisorTest, ADeadWorkerIsReplacedWithADoublingBackoff) {
  Start(1);
  Ready(100);
  Killed(100, SIGSEGV);
  EXPECT_EQ(launcher_.forgotten.count(100), 1u);
  EXPECT_EQ(Spawned(), 1u);  // not at once: 0.1 s
  clock_.Advance(99ms);
  EXPECT_EQ(Spawned(), 1u);
  clock_.Advance(1ms);
  ASSERT_EQ(Spawned(), 2u);
  Ready(101);
  Killed(101, SIGSEGV);
  clock_.Advance(199ms);
  EXPECT_EQ(Spawned(), 2u);  // 0.2 s now
  clock_.Advance(1ms);
  ASSERT_EQ(Spawned(), 3u);
  // A worker that lived kStableUptime resets the backoff: the replacement starts at once.
  Ready(102);
  for (int i = 0; i < 10; ++i) {
    clock_.Advance(1s);
    Say(102, R"({"event": "heartbeat"})");
  }
  Killed(102, SIGSEGV);
  clock_.Advance(0s);
  EXPECT_EQ(Spawned(), 4u);
  EXPECT_FALSE(supervisor_->finished());
}

TEST_F(SupervisorTest, AnAppThatCannotBootEndsEsgWithStatus3) {
  Start(2);
  Say(100, R"({"event": "startup_failed", "message": "ImportError: no module named app"})");
  Exit(100, 3);
  // The other worker is stopped first; ESG ends once it is gone.
  EXPECT_EQ(launcher_.SignalsTo(101, SIGTERM), 1);
  EXPECT_FALSE(supervisor_->finished());
  Exit(101, 0);
  EXPECT_TRUE(supervisor_->finished());
  EXPECT_EQ(supervisor_->exit_code(), 3);
  EXPECT_EQ(finished_calls_, 1);
}

TEST_F(SupervisorTest, AWorkerThatDiesBeforeReadyAtBootWithAnotherStatusEndsWithIt) {
  Start(1);
  Exit(100, 7);
  EXPECT_TRUE(supervisor_->finished());
  EXPECT_EQ(supervisor_->exit_code(), 7);
}

TEST_F(SupervisorTest, ACrashLoopAfterBootEndsWithStatus3AfterFiveFailures) {
  Start(1);
  Ready(100);
  Killed(100, SIGKILL);
  for (int failure = 1; failure <= Supervisor::kMaxBootFailures; ++failure) {
    clock_.Advance(std::chrono::seconds(static_cast<int>(Supervisor::kMaxBackoffSeconds)));
    ASSERT_EQ(Spawned(), static_cast<size_t>(1 + failure));
    ASSERT_FALSE(supervisor_->finished());
    Exit(Last(), 3);
  }
  EXPECT_TRUE(supervisor_->finished());
  EXPECT_EQ(supervisor_->exit_code(), 3);
}

TEST_F(SupervisorTest, ASilentWorkerIsKilledAndReplaced) {
  options_.config.timeout_worker_healthcheck = 5;
  Start(1);
  Ready(100);
  clock_.Advance(5s);
  EXPECT_EQ(launcher_.SignalsTo(100, SIGKILL), 0);
  clock_.Advance(1s);
  EXPECT_EQ(launcher_.SignalsTo(100, SIGKILL), 1);
  Killed(100, SIGKILL);
  clock_.Advance(100ms);
  EXPECT_EQ(Spawned(), 2u);
}

TEST_F(SupervisorTest, AWorkerNotReadyInTimeIsKilled) {
  Start(1);
  clock_.Advance(std::chrono::seconds(Supervisor::kMinReadySeconds));
  EXPECT_EQ(launcher_.SignalsTo(100, SIGKILL), 0);
  clock_.Advance(1s);
  EXPECT_EQ(launcher_.SignalsTo(100, SIGKILL), 1);
}

TEST_F(SupervisorTest, AnOverlongControlLineGetsTheWorkerKilled) {
  Start(1);
  Ready(100);
  supervisor_->OnWorkerOverflow(100, kMaxWorkerMessageBytes);
  EXPECT_EQ(launcher_.SignalsTo(100, SIGKILL), 1);
}

TEST_F(SupervisorTest, ReloadStartsTheNewGenerationBeforeDrainingTheOld) {
  Start(2);
  Ready(100);
  Ready(101);
  std::optional<control::ReloadResult> result;
  supervisor_->Reload("", std::nullopt, [&result](control::ReloadResult r) { result = r; });
  ASSERT_EQ(Spawned(), 4u);
  EXPECT_EQ(supervisor_->Status().state, control::ServerState::kReloading);
  Ready(102);
  EXPECT_FALSE(result.has_value());
  EXPECT_FALSE(launcher_.Drained(100));
  Ready(103);
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->result.code, Code::kOk);
  EXPECT_EQ(result->generation, 2u);
  EXPECT_TRUE(launcher_.Drained(100));
  EXPECT_TRUE(launcher_.Drained(101));
  EXPECT_FALSE(launcher_.Drained(102));
  EXPECT_EQ(supervisor_->Status().generation, 2u);
  EXPECT_EQ(StateOf(100), control::WorkerState::kDraining);
  // The drained workers exit; nothing is respawned for them.
  Exit(100, 0);
  Exit(101, 0);
  clock_.Advance(1s);
  EXPECT_EQ(Spawned(), 4u);
  EXPECT_EQ(Count(control::EventKind::kReloadStarted), 1);
  EXPECT_EQ(Count(control::EventKind::kReloadFinished), 1);
}

TEST_F(SupervisorTest, AFailingNewGenerationIsRolledBack) {
  Start(2);
  Ready(100);
  Ready(101);
  std::optional<control::ReloadResult> result;
  supervisor_->Reload("", std::nullopt, [&result](control::ReloadResult r) { result = r; });
  Ready(102);
  launcher_.output[103] = "Traceback\nSyntaxError\n";
  Exit(103, 3);
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->result.code, Code::kFailedPrecondition);
  EXPECT_TRUE(result->rolled_back);
  EXPECT_EQ(result->generation, 1u);
  EXPECT_EQ(result->worker_output, "Traceback\nSyntaxError\n");
  EXPECT_EQ(launcher_.SignalsTo(102, SIGTERM), 1);  // the new generation goes
  EXPECT_FALSE(launcher_.Drained(100));               // the old one keeps serving
  EXPECT_FALSE(launcher_.Drained(101));
  EXPECT_EQ(supervisor_->Status().state, control::ServerState::kServing);
  EXPECT_EQ(supervisor_->Status().generation, 1u);
  // A second reload may start at once.
  supervisor_->Reload("", std::nullopt, [](control::ReloadResult r) { EXPECT_EQ(r.generation, 3u); });
  EXPECT_EQ(Spawned(), 6u);
  Ready(104);
  Ready(105);
}

TEST_F(SupervisorTest, ANewWorkerNotReadyWithinTheReloadTimeoutRollsBack) {
  Start(1);
  Ready(100);
  std::optional<control::ReloadResult> result;
  supervisor_->Reload("", 5.0, [&result](control::ReloadResult r) { result = r; });
  clock_.Advance(6s);
  EXPECT_EQ(launcher_.SignalsTo(101, SIGKILL), 1);
  Killed(101, SIGKILL);
  ASSERT_TRUE(result.has_value());
  EXPECT_TRUE(result->rolled_back);
  EXPECT_NE(result->result.message.find("not ready within 5s"), std::string::npos) << result->result.message;
}

TEST_F(SupervisorTest, AReloadWhileOneRunsIsBusyOrQueued) {
  Start(1);
  Ready(100);
  supervisor_->Reload("", std::nullopt, [](control::ReloadResult) {});
  std::optional<control::ReloadResult> second;
  supervisor_->Reload("", std::nullopt, [&second](control::ReloadResult r) { second = r; });
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->result.code, Code::kBusy);
  // SIGHUP during a reload: one more reload once this one is over.
  supervisor_->OnSignal(SIGHUP);
  EXPECT_EQ(Spawned(), 2u);
  Ready(101);
  EXPECT_EQ(Spawned(), 3u);
  EXPECT_EQ(Count(control::EventKind::kReloadStarted), 2);
}

TEST_F(SupervisorTest, ScaleUpAnswersOnceTheNewWorkersAreReadyAndScaleDownDrainsTheOldest) {
  Start(1);
  Ready(100);
  std::optional<Result> up;
  supervisor_->Scale(3, [&up](Result r) { up = r; });
  ASSERT_EQ(Spawned(), 3u);
  Ready(101);
  clock_.Advance(1s);  // the health check (once a second) answers scale requests
  EXPECT_FALSE(up.has_value());
  Ready(102);
  clock_.Advance(1s);
  ASSERT_TRUE(up.has_value());
  EXPECT_EQ(up->code, Code::kOk);
  std::optional<Result> down;
  supervisor_->Scale(1, [&down](Result r) { down = r; });
  ASSERT_TRUE(down.has_value());
  EXPECT_EQ(down->code, Code::kOk);
  EXPECT_TRUE(launcher_.Drained(100));
  EXPECT_TRUE(launcher_.Drained(101));
  EXPECT_FALSE(launcher_.Drained(102));
  EXPECT_EQ(supervisor_->target_workers(), 1);
  EXPECT_EQ(Count(control::EventKind::kScale), 2);
}

TEST_F(SupervisorTest, ScaleRefusesCountsOutOfRangeAndSignalsScaleByOne) {
  Start(1);
  Ready(100);
  std::optional<Result> result;
  supervisor_->Scale(0, [&result](Result r) { result = r; });
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->code, Code::kInvalidArgument);
  supervisor_->OnSignal(SIGTTIN);
  EXPECT_EQ(supervisor_->target_workers(), 2);
  EXPECT_EQ(Spawned(), 2u);
  supervisor_->OnSignal(SIGTTOU);
  supervisor_->OnSignal(SIGTTOU);  // already at 1
  EXPECT_EQ(supervisor_->target_workers(), 1);
}

TEST_F(SupervisorTest, ScaleTimesOutWhenTheNewWorkersDoNotBecomeReady) {
  Start(1);
  Ready(100);
  std::optional<Result> result;
  supervisor_->Scale(2, [&result](Result r) { result = r; });
  clock_.Advance(std::chrono::seconds(Supervisor::kMinReadySeconds) + 1s);
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->code, Code::kDeadlineExceeded);
}

TEST_F(SupervisorTest, MaxRequestsStartsAReplacementThenDrainsTheWorker) {
  Start(1);
  Ready(100);
  Say(100, R"({"event": "max_requests", "requests": 1000})");
  ASSERT_EQ(Spawned(), 2u);
  EXPECT_FALSE(launcher_.Drained(100));
  Say(100, R"({"event": "max_requests", "requests": 1001})");  // once is enough
  EXPECT_EQ(Spawned(), 2u);
  Ready(101);
  EXPECT_TRUE(launcher_.Drained(100));
  Exit(100, 0);
  clock_.Advance(1s);
  EXPECT_EQ(Spawned(), 2u);
}

uint64_t Restarts(const control::ServerStatus& status, const std::string& reason) {
  for (const auto& [name, count] : status.worker_restarts) {
    if (name == reason) return count;
  }
  ADD_FAILURE() << "no restart reason " << reason;
  return 0;
}

TEST_F(SupervisorTest, AWorkerOverTheMemoryLimitIsReplacedNewFirstThenDrained) {
  options_.config.limit_worker_memory = 200;
  Start(2);
  Ready(100);
  Ready(101);
  Say(100, R"({"event": "heartbeat", "requests": 1, "rss": 209715200})");  // exactly 200 MiB: within
  EXPECT_EQ(Spawned(), 2u);
  Say(100, R"({"event": "heartbeat", "requests": 2, "rss": 209715201})");
  ASSERT_EQ(Spawned(), 3u);
  EXPECT_FALSE(launcher_.Drained(100));  // keeps serving until its replacement is ready
  EXPECT_EQ(StateOf(100), control::WorkerState::kReady);
  control::ServerStatus status = supervisor_->Status();
  EXPECT_EQ(Restarts(status, "memory"), 1u);
  for (const control::WorkerStatus& w : status.workers) EXPECT_EQ(w.recycling, w.pid == 100 ? "memory" : "");
  Say(100, R"({"event": "heartbeat", "requests": 3, "rss": 309715201})");  // once is enough
  EXPECT_EQ(Spawned(), 3u);
  EXPECT_EQ(Count(control::EventKind::kWorkerRecycling), 1);
  Ready(102);
  EXPECT_TRUE(launcher_.Drained(100));
  EXPECT_FALSE(launcher_.Drained(101));
  Exit(100, 0);
  clock_.Advance(1s);
  EXPECT_EQ(Spawned(), 3u);
  status = supervisor_->Status();
  EXPECT_EQ(Restarts(status, "memory"), 1u);
  EXPECT_EQ(Restarts(status, "crash"), 0u);
}

TEST_F(SupervisorTest, WithoutAMemoryLimitRssIsOnlyRecorded) {
  Start(1);
  Ready(100);
  Say(100, R"({"event": "heartbeat", "requests": 1, "rss": 99999999999})");
  EXPECT_EQ(Spawned(), 1u);
  EXPECT_EQ(Count(control::EventKind::kWorkerRecycling), 0);
}

TEST_F(SupervisorTest, AWorkerPastItsLifetimeIsReplacedWithinTheJitter) {
  options_.config.limit_worker_lifetime = 100;
  options_.config.timeout_worker_healthcheck = 1000;
  Start(3);
  for (pid_t pid : {100, 101, 102}) Ready(pid);
  clock_.Advance(99s);
  EXPECT_EQ(Spawned(), 3u);  // not before the lifetime
  clock_.Advance(12s);  // 100 s * kLifetimeJitter (10 s) + one health-check tick
  static_assert(Supervisor::kLifetimeJitter == 0.1);
  ASSERT_EQ(Spawned(), 6u);  // every one by lifetime + jitter (+ one health-check tick)
  for (pid_t pid : {100, 101, 102}) EXPECT_FALSE(launcher_.Drained(pid));
  EXPECT_EQ(Restarts(supervisor_->Status(), "age"), 3u);
  EXPECT_EQ(Count(control::EventKind::kWorkerRecycling), 3);
  for (pid_t pid : {103, 104, 105}) Ready(pid);
  for (pid_t pid : {100, 101, 102}) EXPECT_TRUE(launcher_.Drained(pid));
}

TEST_F(SupervisorTest, AWorkerStillStartingIsNotRecycledByAge) {
  options_.config.limit_worker_lifetime = 1;
  options_.config.timeout_worker_healthcheck = 1000;
  Start(1);
  clock_.Advance(30s);
  EXPECT_EQ(Spawned(), 1u);  // it has no replacement to wait for: the ready timeout deals with it
  Ready(100);
  clock_.Advance(1s);
  EXPECT_EQ(Spawned(), 2u);
}

TEST_F(SupervisorTest, RestartsAreCountedByReasonAndNeverDecrease) {
  options_.config.timeout_worker_healthcheck = 5;
  Start(1);
  Ready(100);
  Killed(100, SIGSEGV);  // crash
  clock_.Advance(200ms);
  ASSERT_EQ(Spawned(), 2u);
  Ready(101);
  clock_.Advance(7s);  // silent: killed for the heartbeat
  ASSERT_EQ(launcher_.SignalsTo(101, SIGKILL), 1);
  Killed(101, SIGKILL);
  clock_.Advance(1s);
  ASSERT_EQ(Spawned(), 3u);
  Ready(102);
  Say(102, R"({"event": "max_requests", "requests": 10})");
  ASSERT_EQ(Spawned(), 4u);
  Ready(103);
  Exit(102, 0);
  std::optional<control::ReloadResult> reloaded;
  supervisor_->Reload("", std::nullopt, [&](control::ReloadResult r) { reloaded = r; });
  ASSERT_EQ(Spawned(), 5u);
  Ready(104);
  ASSERT_TRUE(reloaded.has_value());
  Exit(103, 0);
  control::ServerStatus status = supervisor_->Status();
  std::vector<std::pair<std::string, uint64_t>> expected = {{"crash", 1}, {"heartbeat", 1}, {"max-requests", 1},
                                                            {"memory", 0}, {"age", 0},       {"reload", 1}};
  EXPECT_EQ(status.worker_restarts, expected);
}

// The per-request figures: summed over the live workers plus the last counters of those that exited; a lower
// reading never moves them back; gauges (WebSockets) come from live workers only.
TEST_F(SupervisorTest, RequestCountersAreSummedAndKeptAcrossExits) {
  options_.config.metrics_bind = "127.0.0.1:0";
  Start(2);
  Ready(100);
  Ready(101);
  // requests_by_class is row-major: method class x status class (GET 2xx is index 1, POST 4xx index 13).
  Say(100, R"({"event": "heartbeat", "websockets": 2, "requests_by_class": [0, 3], "duration_buckets": [3],)"
           R"( "duration_sum_us": 900, "received_bytes": 300, "sent_bytes": 700})");
  Say(101, R"({"event": "heartbeat", "websockets": 1, "requests_by_class": [0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,)"
           R"( 0, 2], "duration_buckets": [1, 0, 2], "duration_sum_us": 40000, "received_bytes": 50})");
  control::ServerStatus status = supervisor_->Status();
  ASSERT_TRUE(status.request_counters_counted);
  EXPECT_EQ(status.request_counters.requests[0][1], 4u);
  EXPECT_EQ(status.request_counters.requests[2][3], 2u);
  EXPECT_EQ(status.request_counters.duration_buckets[0], 4u);
  EXPECT_EQ(status.request_counters.duration_buckets[2], 2u);
  EXPECT_EQ(status.request_counters.duration_sum_us, 40900u);
  EXPECT_EQ(status.request_counters.received_bytes, 350u);
  EXPECT_EQ(status.request_counters.sent_bytes, 700u);
  EXPECT_EQ(status.workers.at(0).websockets + status.workers.at(1).websockets, 3u);

  // A bogus lower reading, then a crash: nothing goes backwards.
  Say(100, R"({"event": "heartbeat", "requests_by_class": [0, 1]})");
  EXPECT_EQ(supervisor_->Status().request_counters.requests[0][1], 4u);
  Killed(100, SIGKILL);
  status = supervisor_->Status();
  EXPECT_EQ(status.request_counters.requests[0][1], 4u);
  EXPECT_EQ(status.request_counters.received_bytes, 350u);
  EXPECT_EQ(status.workers.at(0).websockets, 1u);  // the dead worker's sessions are gone
  clock_.Advance(200ms);
  ASSERT_EQ(Spawned(), 3u);
  Ready(102);
  Say(102, R"({"event": "heartbeat", "requests_by_class": [0, 5], "duration_buckets": [5]})");
  status = supervisor_->Status();
  EXPECT_EQ(status.request_counters.requests[0][1], 9u);
  EXPECT_EQ(status.request_counters.duration_buckets[0], 9u);
}

TEST_F(SupervisorTest, WithoutMetricsBindRequestCountersAreNotCounted) {
  Start(1);
  Ready(100);
  EXPECT_FALSE(supervisor_->Status().request_counters_counted);
}

TEST_F(SupervisorTest, DrainStopsEveryWorkerUntilResume) {
  Start(2);
  Ready(100);
  Ready(101);
  EXPECT_EQ(supervisor_->Drain().code, Code::kOk);
  EXPECT_TRUE(launcher_.Drained(100));
  EXPECT_TRUE(launcher_.Drained(101));
  EXPECT_FALSE(supervisor_->serving());
  Exit(100, 0);
  Exit(101, 0);
  clock_.Advance(20s);
  EXPECT_EQ(Spawned(), 2u);
  EXPECT_EQ(supervisor_->Resume().code, Code::kOk);
  EXPECT_EQ(Spawned(), 4u);
  EXPECT_EQ(supervisor_->Status().generation, 2u);
}

TEST_F(SupervisorTest, SigtermStopsGracefullyAndTheThirdKills) {
  Start(2);
  Ready(100);
  Ready(101);
  supervisor_->OnSignal(SIGTERM);
  EXPECT_EQ(launcher_.SignalsTo(100, SIGTERM), 1);
  EXPECT_EQ(launcher_.SignalsTo(101, SIGTERM), 1);
  EXPECT_EQ(supervisor_->Status().state, control::ServerState::kStopping);
  supervisor_->OnSignal(SIGTERM);  // the second: still graceful
  EXPECT_EQ(launcher_.SignalsTo(100, SIGKILL), 0);
  Exit(100, 0);
  EXPECT_FALSE(supervisor_->finished());
  supervisor_->OnSignal(SIGTERM);  // the third: at once
  EXPECT_EQ(launcher_.SignalsTo(101, SIGKILL), 1);
  Killed(101, SIGKILL);
  EXPECT_TRUE(supervisor_->finished());
  EXPECT_EQ(supervisor_->exit_code(), 0);
  EXPECT_EQ(finished_calls_, 1);
  // Nothing is respawned while stopping, and the operations say so.
  EXPECT_EQ(Spawned(), 2u);
}

TEST_F(SupervisorTest, ASecondSigintKillsAtOnce) {
  Start(1);
  Ready(100);
  supervisor_->OnSignal(SIGINT);
  EXPECT_EQ(launcher_.SignalsTo(100, SIGKILL), 0);
  supervisor_->OnSignal(SIGINT);
  EXPECT_EQ(launcher_.SignalsTo(100, SIGKILL), 1);
}

TEST_F(SupervisorTest, AWorkerThatOutlivesTheGracefulTimeoutIsKilled) {
  options_.config.timeout_graceful_shutdown = 5;
  Start(1);
  Ready(100);
  std::optional<control::ReloadResult> reload;
  supervisor_->Reload("", std::nullopt, [&reload](control::ReloadResult r) { reload = r; });
  EXPECT_EQ(supervisor_->Shutdown(true).code, Code::kOk);
  ASSERT_TRUE(reload.has_value());  // the pending reload is answered
  EXPECT_EQ(reload->result.code, Code::kFailedPrecondition);
  clock_.Advance(5s + Supervisor::kKillGrace - 1ms);
  EXPECT_EQ(launcher_.SignalsTo(100, SIGKILL), 0);
  clock_.Advance(1ms);
  EXPECT_EQ(launcher_.SignalsTo(100, SIGKILL), 1);
  EXPECT_EQ(supervisor_->Drain().code, Code::kFailedPrecondition);
}

TEST_F(SupervisorTest, LogLevelAndReopenLogsAreSentToEveryWorker) {
  Start(1);
  Ready(100);
  EXPECT_EQ(supervisor_->SetLogLevel("loud").code, Code::kInvalidArgument);
  EXPECT_EQ(supervisor_->SetLogLevel("info").code, Code::kOk);
  EXPECT_EQ(supervisor_->ReopenLogs().code, Code::kOk);
  EXPECT_EQ(launcher_.sent[100], (std::vector<std::string>{"{\"cmd\":\"set_log_level\",\"level\":\"info\"}\n",
                                                           "{\"cmd\": \"reopen_logs\"}\n"}));
}

TEST_F(SupervisorTest, NoWorkerCouldBeStartedAtBootEndsWithStatus1) {
  launcher_.fail_spawn = true;
  options_.config.workers = 1;
  SupervisorPorts ports;
  ports.launcher = &launcher_;
  ports.scheduler = &clock_;
  Supervisor supervisor(options_, std::move(ports));
  EXPECT_FALSE(supervisor.Start());
  EXPECT_EQ(supervisor.exit_code(), 1);
}

}  // namespace
}  // namespace esg
