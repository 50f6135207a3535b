// The control plane end to end inside one process: the real gRPC server (StartControlServer) over a real
// UNIX socket, a FakeAdminApi behind it, generated stubs in front. Covers every RPC, the status mapping,
// the socket's mode and replacement rules, the SO_PEERCRED refusal (a child process as uid 65534),
// serialisation of concurrent mutating calls, health flipping and the event stream.
#include <grpcpp/grpcpp.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <future>
#include <thread>

#include "control/server/control_server.h"
#include "control/server/unix_listener.h"
#include "esg/control/v1/control.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "tests/unit/control/fake_admin_api.h"

namespace esg::control {
namespace {

using ::grpc::health::v1::Health;
using ::grpc::health::v1::HealthCheckRequest;
using ::grpc::health::v1::HealthCheckResponse;
using testing::FakeAdminApi;
using namespace std::chrono_literals;

constexpr char kChildEnv[] = "ESG_CONTROL_TEST_CHILD_SOCKET";

std::string TempDir() {
  char pattern[] = "/tmp/esg-control-test-XXXXXX";
  char* dir = mkdtemp(pattern);
  return dir ? dir : "/tmp";
}

std::shared_ptr<grpc::Channel> Connect(const std::string& path) {
  return grpc::CreateChannel("unix:" + path, grpc::InsecureChannelCredentials());
}

void SetDeadline(grpc::ClientContext* context, std::chrono::milliseconds ms = 5000ms) {
  context->set_deadline(std::chrono::system_clock::now() + ms);
}

class ControlServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = TempDir();
    options_.socket_path = dir_ + "/control.sock";
    admin_.status.version = "9.9.9";
    admin_.status.master_pid = 4242;
    admin_.status.uptime_seconds = 12.5;
    admin_.status.state = ServerState::kServing;
    admin_.status.generation = 3;
    admin_.status.listeners = {"http://127.0.0.1:8000"};
    admin_.status.config_summary = {{"workers", "2"}, {"app", "hello:app"}};
    WorkerStatus w;
    w.pid = 100;
    w.generation = 3;
    w.state = WorkerState::kReady;
    w.uptime_seconds = 1.25;
    w.requests = 7;
    w.in_flight = 1;
    w.connections = 2;
    w.rss_bytes = 1 << 20;
    w.seconds_since_heartbeat = 0.5;
    admin_.status.workers = {w, w};
    admin_.status.workers[1].pid = 101;
  }
  void TearDown() override {
    server_.reset();
    std::string cmd = "rm -rf '" + dir_ + "'";
    (void)!std::system(cmd.c_str());
  }
  void Start() {
    std::string error;
    server_ = StartControlServer(&admin_, options_, &error);
    ASSERT_NE(server_, nullptr) << error;
    channel_ = Connect(server_->socket_path());
    stub_ = v1::Control::NewStub(channel_);
    health_ = Health::NewStub(channel_);
  }
  grpc::Status Drain() {
    grpc::ClientContext context;
    SetDeadline(&context);
    v1::DrainResponse response;
    return stub_->Drain(&context, v1::DrainRequest(), &response);
  }
  HealthCheckResponse::ServingStatus Check() {
    grpc::ClientContext context;
    SetDeadline(&context);
    HealthCheckResponse response;
    EXPECT_TRUE(health_->Check(&context, HealthCheckRequest(), &response).ok());
    return response.status();
  }
  grpc::Status Reload(v1::ReloadResponse* response, std::chrono::milliseconds deadline = 10000ms) {
    grpc::ClientContext context;
    SetDeadline(&context, deadline);
    return stub_->Reload(&context, v1::ReloadRequest(), response);
  }

  std::string dir_;
  ControlOptions options_;
  FakeAdminApi admin_;
  std::unique_ptr<ControlServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Control::Stub> stub_;
  std::unique_ptr<Health::Stub> health_;
};

TEST_F(ControlServerTest, GetStatusCarriesEveryField) {
  Start();
  grpc::ClientContext context;
  SetDeadline(&context);
  v1::GetStatusResponse status;
  ASSERT_TRUE(stub_->GetStatus(&context, v1::GetStatusRequest(), &status).ok());
  EXPECT_EQ(status.version(), "9.9.9");
  EXPECT_EQ(status.master_pid(), 4242);
  EXPECT_EQ(status.uptime().seconds(), 12);
  EXPECT_EQ(status.uptime().nanos(), 500000000);
  EXPECT_EQ(status.state(), v1::SERVER_STATE_SERVING);
  EXPECT_EQ(status.generation(), 3u);
  ASSERT_EQ(status.listeners_size(), 1);
  EXPECT_EQ(status.listeners(0), "http://127.0.0.1:8000");
  ASSERT_EQ(status.config_size(), 2);
  EXPECT_EQ(status.config(1).key(), "app");
  EXPECT_EQ(status.config(1).value(), "hello:app");
  ASSERT_EQ(status.workers_size(), 2);
  const v1::Worker& w = status.workers(1);
  EXPECT_EQ(w.pid(), 101);
  EXPECT_EQ(w.state(), v1::WORKER_STATE_READY);
  EXPECT_EQ(w.requests(), 7u);
  EXPECT_EQ(w.in_flight(), 1u);
  EXPECT_EQ(w.connections(), 2u);
  EXPECT_EQ(w.rss_bytes(), 1u << 20);
  EXPECT_EQ(w.uptime().seconds(), 1);
  EXPECT_EQ(w.since_heartbeat().nanos(), 500000000);
}

TEST_F(ControlServerTest, ScaleWorkersSetsCountOrDeltaAndValidates) {
  Start();
  v1::ScaleWorkersResponse response;
  {
    grpc::ClientContext context;
    v1::ScaleWorkersRequest request;
    request.set_count(4);
    ASSERT_TRUE(stub_->ScaleWorkers(&context, request, &response).ok());
    EXPECT_EQ(admin_.last_count, 4);
    EXPECT_FALSE(admin_.last_delta.has_value());
    EXPECT_EQ(response.workers(), 2u);  // READY workers in GetStatus
  }
  {
    grpc::ClientContext context;
    v1::ScaleWorkersRequest request;
    request.set_delta(-1);
    ASSERT_TRUE(stub_->ScaleWorkers(&context, request, &response).ok());
    EXPECT_EQ(admin_.last_delta, -1);
    EXPECT_FALSE(admin_.last_count.has_value());
  }
  {
    grpc::ClientContext context;
    grpc::Status status = stub_->ScaleWorkers(&context, v1::ScaleWorkersRequest(), &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(status.error_message().find("count"), std::string::npos);
  }
  {
    grpc::ClientContext context;
    v1::ScaleWorkersRequest request;
    request.set_count(0);
    EXPECT_EQ(stub_->ScaleWorkers(&context, request, &response).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  }
  {
    admin_.next_result = {Result::Code::kFailedPrecondition, "the server is draining; resume it first"};
    grpc::ClientContext context;
    v1::ScaleWorkersRequest request;
    request.set_count(3);
    grpc::Status status = stub_->ScaleWorkers(&context, request, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
    EXPECT_EQ(status.error_message(), "the server is draining; resume it first");
  }
}

TEST_F(ControlServerTest, EveryResultCodeMapsToACanonicalStatusWithItsSentence) {
  Start();
  const std::pair<Result::Code, grpc::StatusCode> cases[] = {
      {Result::Code::kOk, grpc::StatusCode::OK},
      {Result::Code::kInvalidArgument, grpc::StatusCode::INVALID_ARGUMENT},
      {Result::Code::kFailedPrecondition, grpc::StatusCode::FAILED_PRECONDITION},
      {Result::Code::kBusy, grpc::StatusCode::ABORTED},
      {Result::Code::kDeadlineExceeded, grpc::StatusCode::DEADLINE_EXCEEDED},
      {Result::Code::kInternal, grpc::StatusCode::INTERNAL},
  };
  for (const auto& [code, expected] : cases) {
    admin_.next_result = {code, code == Result::Code::kOk ? "" : "sentence for the operator"};
    grpc::Status status = Drain();
    EXPECT_EQ(status.error_code(), expected) << static_cast<int>(code);
    if (code != Result::Code::kOk) {
      EXPECT_EQ(status.error_message(), "sentence for the operator");
    }
  }
  admin_.next_result = {Result::Code::kInternal, ""};
  EXPECT_FALSE(Drain().error_message().empty()) << "an empty message gets a generic sentence";
}

TEST_F(ControlServerTest, ReloadSucceedsRollsBackOrFails) {
  Start();
  {
    admin_.reload_result.generation = 4;
    grpc::ClientContext context;
    v1::ReloadRequest request;
    request.set_release_path("/srv/app/releases/42");
    request.mutable_ready_timeout()->set_seconds(7);
    v1::ReloadResponse response;
    ASSERT_TRUE(stub_->Reload(&context, request, &response).ok());
    EXPECT_EQ(response.outcome(), v1::RELOAD_OUTCOME_SUCCEEDED);
    EXPECT_EQ(response.generation(), 4u);
    EXPECT_EQ(admin_.last_release, "/srv/app/releases/42");
    EXPECT_EQ(admin_.last_ready_timeout, 7.0);
  }
  {
    admin_.reload_result = {{Result::Code::kFailedPrecondition, "worker 77 exited with status 3 before it was ready"},
                            true, 3, "Traceback ...\nImportError: no module named app"};
    v1::ReloadResponse response;
    ASSERT_TRUE(Reload(&response).ok()) << "a rollback is an outcome, not an RPC error";
    EXPECT_EQ(response.outcome(), v1::RELOAD_OUTCOME_ROLLED_BACK);
    EXPECT_EQ(response.reason(), "worker 77 exited with status 3 before it was ready");
    EXPECT_NE(response.worker_output().find("ImportError"), std::string::npos);
  }
  {
    admin_.reload_result = {{Result::Code::kInvalidArgument, "release path /nope does not exist"}, false, 3, ""};
    v1::ReloadResponse response;
    grpc::Status status = Reload(&response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(status.error_message(), "release path /nope does not exist");
  }
  {
    grpc::ClientContext context;
    v1::ReloadRequest request;
    request.mutable_ready_timeout()->set_seconds(-1);
    v1::ReloadResponse response;
    EXPECT_EQ(stub_->Reload(&context, request, &response).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  }
}

TEST_F(ControlServerTest, ShutdownLogLevelAndReopenLogs) {
  Start();
  {
    grpc::ClientContext context;
    v1::ShutdownResponse response;
    ASSERT_TRUE(stub_->Shutdown(&context, v1::ShutdownRequest(), &response).ok());
    EXPECT_EQ(admin_.last_graceful, true) << "UNSPECIFIED means graceful";
  }
  {
    grpc::ClientContext context;
    v1::ShutdownRequest request;
    request.set_mode(v1::SHUTDOWN_MODE_QUICK);
    v1::ShutdownResponse response;
    ASSERT_TRUE(stub_->Shutdown(&context, request, &response).ok());
    EXPECT_EQ(admin_.last_graceful, false);
  }
  {
    grpc::ClientContext context;
    v1::SetLogLevelRequest request;
    request.set_level(v1::LOG_LEVEL_DEBUG);
    v1::SetLogLevelResponse response;
    ASSERT_TRUE(stub_->SetLogLevel(&context, request, &response).ok());
    EXPECT_EQ(admin_.last_level, "debug");
  }
  {
    grpc::ClientContext context;
    v1::SetLogLevelResponse response;
    grpc::Status status = stub_->SetLogLevel(&context, v1::SetLogLevelRequest(), &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(status.error_message().find("critical, error, warning, info, debug, trace"), std::string::npos);
  }
  {
    grpc::ClientContext context;
    v1::ReopenLogsResponse response;
    ASSERT_TRUE(stub_->ReopenLogs(&context, v1::ReopenLogsRequest(), &response).ok());
    EXPECT_EQ(admin_.reopen_calls, 1);
  }
}

TEST_F(ControlServerTest, ConcurrentReloadsAreSerialisedAndStatusStaysResponsive) {
  Start();
  admin_.reload_duration = 300ms;
  auto start = std::chrono::steady_clock::now();
  std::vector<std::future<grpc::Status>> calls;
  for (int i = 0; i < 3; ++i) {
    calls.push_back(std::async(std::launch::async, [this] {
      v1::ReloadResponse response;
      return Reload(&response);
    }));
  }
  // A mutating Drain queues too; GetStatus does not.
  std::this_thread::sleep_for(50ms);
  auto status_start = std::chrono::steady_clock::now();
  {
    grpc::ClientContext context;
    v1::GetStatusResponse response;
    ASSERT_TRUE(stub_->GetStatus(&context, v1::GetStatusRequest(), &response).ok());
  }
  EXPECT_LT(std::chrono::steady_clock::now() - status_start, 250ms);
  for (auto& call : calls) EXPECT_TRUE(call.get().ok());
  EXPECT_GE(std::chrono::steady_clock::now() - start, 900ms);
  EXPECT_EQ(admin_.max_reloads_running.load(), 1);
  EXPECT_EQ(admin_.reload_calls, 3);
}

TEST_F(ControlServerTest, AWaitingCallGivesUpAtItsDeadlineNamingTheRunningOne) {
  Start();
  admin_.reload_duration = 1500ms;
  auto first = std::async(std::launch::async, [this] {
    v1::ReloadResponse response;
    return Reload(&response);
  });
  std::this_thread::sleep_for(100ms);
  v1::ReloadResponse response;
  grpc::Status second = Reload(&response, 400ms);
  EXPECT_EQ(second.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_TRUE(first.get().ok());
  EXPECT_EQ(admin_.reload_calls, 1) << "the second reload never ran";
}

TEST_F(ControlServerTest, HealthFollowsDrainAndResumeAndWatchStreamsChanges) {
  Start();
  EXPECT_EQ(Check(), HealthCheckResponse::SERVING);

  grpc::ClientContext watch_context;
  auto watch = health_->Watch(&watch_context, HealthCheckRequest());
  HealthCheckResponse update;
  ASSERT_TRUE(watch->Read(&update));
  EXPECT_EQ(update.status(), HealthCheckResponse::SERVING);

  ASSERT_TRUE(Drain().ok());
  EXPECT_EQ(Check(), HealthCheckResponse::NOT_SERVING);
  ASSERT_TRUE(watch->Read(&update));
  EXPECT_EQ(update.status(), HealthCheckResponse::NOT_SERVING);

  grpc::ClientContext context;
  v1::ResumeResponse resumed;
  ASSERT_TRUE(stub_->Resume(&context, v1::ResumeRequest(), &resumed).ok());
  EXPECT_EQ(Check(), HealthCheckResponse::SERVING);
  ASSERT_TRUE(watch->Read(&update));
  EXPECT_EQ(update.status(), HealthCheckResponse::SERVING);

  // A drain the master did by itself (a signal) shows too: health is read, not cached.
  admin_.set_serving(false);
  EXPECT_EQ(Check(), HealthCheckResponse::NOT_SERVING);
  watch_context.TryCancel();

  grpc::ClientContext unknown;
  HealthCheckRequest request;
  request.set_service("nope");
  HealthCheckResponse response;
  EXPECT_EQ(health_->Check(&unknown, request, &response).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(ControlServerTest, WatchEventsStreamsFilteredEventsAndEndsWhenTheServerStops) {
  Start();
  grpc::ClientContext context;
  v1::WatchEventsRequest request;
  auto all = stub_->WatchEvents(&context, request);
  all->WaitForInitialMetadata();  // the subscription is active from here on
  grpc::ClientContext filtered_context;
  request.add_kinds(v1::EVENT_KIND_RELOAD_FINISHED);
  auto filtered = stub_->WatchEvents(&filtered_context, request);
  filtered->WaitForInitialMetadata();
  ASSERT_EQ(admin_.subscribers(), 2u);

  admin_.Emit({EventKind::kReloadStarted, 0, 4, "", 1700000000.25});
  admin_.Emit({EventKind::kWorkerSpawned, 321, 4, "", 1700000000.5});
  admin_.Emit({static_cast<EventKind>(99), 0, 4, "a kind the service has no mapping for", 1700000001});
  admin_.Emit({EventKind::kReloadFinished, 0, 4, "succeeded", 1700000002});

  v1::Event event;
  ASSERT_TRUE(all->Read(&event));
  EXPECT_EQ(event.kind(), v1::EVENT_KIND_RELOAD_STARTED);
  EXPECT_EQ(event.time().seconds(), 1700000000);
  EXPECT_EQ(event.time().nanos(), 250000000);
  ASSERT_TRUE(all->Read(&event));
  EXPECT_EQ(event.kind(), v1::EVENT_KIND_WORKER_SPAWNED);
  EXPECT_EQ(event.pid(), 321);
  ASSERT_TRUE(all->Read(&event));
  EXPECT_EQ(event.kind(), v1::EVENT_KIND_UNSPECIFIED);
  EXPECT_EQ(event.kind_name(), "");
  ASSERT_TRUE(all->Read(&event));
  EXPECT_EQ(event.kind(), v1::EVENT_KIND_RELOAD_FINISHED);

  ASSERT_TRUE(filtered->Read(&event));
  EXPECT_EQ(event.kind(), v1::EVENT_KIND_RELOAD_FINISHED);
  EXPECT_EQ(event.detail(), "succeeded");

  filtered_context.TryCancel();
  server_->Shutdown();
  EXPECT_FALSE(all->Read(&event));
  grpc::Status end = all->Finish();
  EXPECT_EQ(end.error_code(), grpc::StatusCode::UNAVAILABLE) << end.error_message();
  EXPECT_EQ(admin_.subscribers(), 0u) << "streams unsubscribe when they end";
}

TEST_F(ControlServerTest, SocketIsPrivateReplacesAStaleOneAndIsRemovedOnShutdown) {
  // A stale socket file (nobody listens) is replaced.
  int stale = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strcpy(addr.sun_path, options_.socket_path.c_str());
  ASSERT_EQ(bind(stale, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  close(stale);
  Start();
  struct stat st;
  ASSERT_EQ(stat(options_.socket_path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(Check(), HealthCheckResponse::SERVING);

  // An explicit path someone listens on is refused; the default one only warns.
  FakeAdminApi other;
  std::string error;
  EXPECT_EQ(StartControlServer(&other, options_, &error), nullptr);
  EXPECT_NE(error.find("listening on the control socket " + options_.socket_path), std::string::npos) << error;
  setenv("ESG_CONTROL_SOCKET", options_.socket_path.c_str(), 1);
  ControlOptions defaults;
  auto degraded = StartControlServer(&other, defaults, &error);
  unsetenv("ESG_CONTROL_SOCKET");
  ASSERT_NE(degraded, nullptr) << error;
  EXPECT_NE(degraded->warning().find("--control-socket"), std::string::npos);
  EXPECT_EQ(degraded->socket_path(), "");
  degraded.reset();
  EXPECT_EQ(Check(), HealthCheckResponse::SERVING) << "the first server keeps its socket";

  server_->Shutdown();
  EXPECT_NE(access(options_.socket_path.c_str(), F_OK), 0) << "removed on shutdown";
}

TEST_F(ControlServerTest, GroupModeMakesTheSocketGroupReadable) {
  options_.group = "65534";
  Start();
  struct stat st;
  ASSERT_EQ(stat(options_.socket_path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0660u);
  EXPECT_EQ(st.st_gid, 65534u);
}

TEST(ControlOptionsTest, TcpNeedsAllThreeTlsFilesAndNoneIsRefused) {
  std::string error;
  ControlOptions options;
  options.tcp_address = "127.0.0.1:0";
  EXPECT_FALSE(ValidateControlOptions(options, &error));
  EXPECT_NE(error.find("--control-tls-cert"), std::string::npos);
  FakeAdminApi admin;
  EXPECT_EQ(StartControlServer(&admin, options, &error), nullptr);
  EXPECT_NE(error.find("never served over plain TCP"), std::string::npos);
  options.tls_cert = "/c";
  options.tls_key = "/k";
  EXPECT_FALSE(ValidateControlOptions(options, &error));
  options.tls_ca = "/ca";
  EXPECT_TRUE(ValidateControlOptions(options, &error));
  ControlOptions tls_only;
  tls_only.tls_ca = "/ca";
  EXPECT_FALSE(ValidateControlOptions(tls_only, &error));
  ControlOptions none;
  none.socket_path = "none";
  EXPECT_EQ(StartControlServer(&admin, none, &error), nullptr);
  EXPECT_NE(error.find("--no-control"), std::string::npos);
  ControlOptions off;
  off.enabled = false;
  EXPECT_EQ(StartControlServer(&admin, off, &error), nullptr);
  EXPECT_EQ(error, "");
}

// --- Another uid: fork, drop to uid 65534, exec this binary in child mode (no gRPC across fork). ------

// Child mode: one GetStatus; the exit status is the gRPC status code; the message goes to stdout.
int RunChild(const char* socket_path) {
  auto stub = v1::Control::NewStub(Connect(socket_path));
  grpc::ClientContext context;
  SetDeadline(&context, 3000ms);
  v1::GetStatusResponse response;
  grpc::Status status = stub->GetStatus(&context, v1::GetStatusRequest(), &response);
  std::printf("%s", status.error_message().c_str());
  return static_cast<int>(status.error_code());
}

// Runs RunChild as uid/gid 65534; returns {exit status, output}.
std::pair<int, std::string> CallAsNobody(const std::string& socket_path) {
  int out[2];
  if (pipe(out) != 0) return {-1, ""};
  pid_t pid = fork();
  if (pid == 0) {
    dup2(out[1], 1);
    setenv(kChildEnv, socket_path.c_str(), 1);
    if (setgroups(0, nullptr) != 0 || setgid(65534) != 0 || setuid(65534) != 0) _exit(100);
    execl("/proc/self/exe", "control_server_test", static_cast<char*>(nullptr));
    _exit(101);
  }
  close(out[1]);
  std::string output;
  char buffer[512];
  ssize_t n;
  while ((n = read(out[0], buffer, sizeof(buffer))) > 0) output.append(buffer, static_cast<size_t>(n));
  close(out[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

TEST_F(ControlServerTest, AnotherUidIsRefusedEvenWhenTheSocketModeWouldLetItIn) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to run a child as uid 65534";
  Start();
  chmod(dir_.c_str(), 0755);
  // With the default 0600 the kernel already refuses the connection.
  auto [blocked, blocked_output] = CallAsNobody(server_->socket_path());
  EXPECT_EQ(blocked, static_cast<int>(grpc::StatusCode::UNAVAILABLE)) << blocked_output;
  // A widened mode (umask, copied socket, bind mount) still meets the SO_PEERCRED check.
  chmod(server_->socket_path().c_str(), 0666);
  auto [code, output] = CallAsNobody(server_->socket_path());
  EXPECT_EQ(code, static_cast<int>(grpc::StatusCode::PERMISSION_DENIED)) << output;
  EXPECT_NE(output.find("permission denied"), std::string::npos) << output;
  EXPECT_NE(output.find("uid 0"), std::string::npos) << output;
  EXPECT_EQ(admin_.get_status_calls, 0) << "the AdminApi was never reached";
  // The server itself is unaffected.
  EXPECT_EQ(Check(), HealthCheckResponse::SERVING);
}

TEST_F(ControlServerTest, AMemberOfTheControlGroupIsAllowed) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to run a child as uid 65534";
  options_.group = "65534";
  Start();
  chmod(dir_.c_str(), 0755);
  auto [code, output] = CallAsNobody(server_->socket_path());
  EXPECT_EQ(code, 0) << output;
  EXPECT_EQ(admin_.get_status_calls, 1);
}

TEST(PeerPolicyTest, RootSameUidAndGroupMembers) {
  PeerPolicy policy(1000, std::nullopt);
  std::string why;
  EXPECT_TRUE(policy.Allows({1, 0, 0}, &why));
  EXPECT_TRUE(policy.Allows({1, 1000, 1000}, &why));
  EXPECT_FALSE(policy.Allows({1, 1001, 1001}, &why));
  EXPECT_NE(why.find("uid 1001 may not use"), std::string::npos) << why;
  PeerPolicy group_policy(1000, gid_t{50});
  EXPECT_TRUE(group_policy.Allows({1, 1001, 50}, &why));
  EXPECT_FALSE(group_policy.Allows({1, 1001, 51}, &why));
}

}  // namespace
}  // namespace esg::control

int main(int argc, char** argv) {
  if (const char* socket_path = std::getenv(esg::control::kChildEnv)) return esg::control::RunChild(socket_path);
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
