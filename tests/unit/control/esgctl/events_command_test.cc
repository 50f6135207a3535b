// `esgctl events` over a real gRPC stream. The server here is a small Control service whose WatchEvents
// sends canned v1::Event messages and then ends the stream, fails it, or waits to be cancelled: the
// command's job is reading a stream and printing it, and canned messages pin every field of the output
// (golden/events*.txt) without depending on how the master names its events.
#include "control/esgctl/events_command.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <time.h>

#include <chrono>
#include <memory>
#include <sstream>
#include <thread>

#include "control/esgctl/client.h"
#include "control/esgctl/commands.h"
#include "tests/unit/control/esgctl/golden.h"

namespace esg::esgctl::testing {
namespace {

class EventsService final : public v1::Control::Service {
 public:
  enum class End { kFinish, kFail, kWaitForCancel };

  grpc::Status WatchEvents(grpc::ServerContext* context, const v1::WatchEventsRequest*,
                           grpc::ServerWriter<v1::Event>* writer) override {
    writer->SendInitialMetadata();
    for (const v1::Event& e : events) {
      if (!writer->Write(e)) return grpc::Status::CANCELLED;
    }
    if (end == End::kFinish) return grpc::Status::OK;
    if (end == End::kFail) return grpc::Status(grpc::StatusCode::INTERNAL, "the event queue overflowed");
    // Bounded: a client that never cancels fails the test instead of hanging it.
    for (int i = 0; i < 600 && !context->IsCancelled(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return grpc::Status::CANCELLED;
  }

  std::vector<v1::Event> events;
  End end = End::kFinish;
};

v1::Event MakeEvent(v1::EventKind kind, const char* name, int pid, uint64_t generation, const char* detail,
                    int64_t seconds, int32_t nanos) {
  v1::Event e;
  e.set_kind(kind);
  e.set_kind_name(name);
  e.set_pid(pid);
  e.set_generation(generation);
  e.set_detail(detail);
  e.mutable_time()->set_seconds(seconds);
  e.mutable_time()->set_nanos(nanos);
  return e;
}

class EventsCommandTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    setenv("TZ", "UTC", 1);
    tzset();
  }
  void SetUp() override {
    char pattern[] = "/tmp/esgctl-events-test-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
    service_.events = {
        MakeEvent(v1::EVENT_KIND_RELOAD_STARTED, "reload_started", 0, 4, "release /srv/app/releases/42",
                  1700000000, 250000000),
        MakeEvent(v1::EVENT_KIND_WORKER_SPAWNED, "worker_spawned", 200, 4, "", 1700000000, 300000000),
        MakeEvent(v1::EVENT_KIND_WORKER_READY, "worker_ready", 200, 4, "", 1700000001, 0),
    };
    grpc::ServerBuilder builder;
    builder.AddListeningPort("unix:" + dir_ + "/control.sock", grpc::InsecureServerCredentials());
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    client_ = std::make_unique<Client>(Target{dir_ + "/control.sock", "", "", "", ""});
  }
  void TearDown() override {
    client_.reset();
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
    std::string cmd = "rm -rf '" + dir_ + "'";
    (void)!std::system(cmd.c_str());
  }
  std::string Run(const Words& words, bool json = false) {
    std::ostringstream out, err;
    Session session{client_.get(), json, &out, &err};
    session.interrupted = &interrupted_;
    last_exit_ = RunCommand(session, words);
    Words args = words;
    if (json) args.insert(args.begin(), "--json");
    return Transcript(args, out.str(), err.str(), last_exit_, dir_);
  }
  std::string RunBoth(const Words& words) { return Run(words) + Run(words, true); }

  std::string dir_;
  EventsService service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<Client> client_;
  std::atomic<bool> interrupted_{false};
  int last_exit_ = -1;
};

TEST_F(EventsCommandTest, PrintsEveryEventUntilTheStreamEnds) {
  ExpectGolden("events.txt", RunBoth({"events"}));
  EXPECT_EQ(last_exit_, kExitOk);
}

TEST_F(EventsCommandTest, CountStopsAfterNEvents) {
  service_.end = EventsService::End::kWaitForCancel;
  ExpectGolden("events_count.txt", RunBoth({"events", "--count", "2"}));
  EXPECT_EQ(last_exit_, kExitOk);
}

TEST_F(EventsCommandTest, CtrlCEndsTheStreamAsSuccess) {
  service_.end = EventsService::End::kWaitForCancel;
  service_.events.clear();
  interrupted_ = true;  // as the SIGINT handler would, before the stream starts
  std::string text = Run({"events"});
  EXPECT_EQ(last_exit_, kExitOk);
  EXPECT_FALSE(interrupted_) << "the command consumes the interruption, so the shell keeps going";
  // --timeout ends it as success too.
  text += Run({"events", "--timeout", "0.2"}, true);
  EXPECT_EQ(last_exit_, kExitOk);
  ExpectGolden("events_interrupted.txt", text);
}

TEST_F(EventsCommandTest, AFailedStreamExitsOne) {
  service_.end = EventsService::End::kFail;
  service_.events.resize(1);
  ExpectGolden("events_failed.txt", RunBoth({"events"}));
  EXPECT_EQ(last_exit_, kExitFailed);
}

TEST_F(EventsCommandTest, UsageErrors) {
  std::string text;
  for (const Words& words : std::vector<Words>{{"events", "--count", "0"},
                                               {"events", "--count", "many"},
                                               {"events", "--timeout", "-1"},
                                               {"events", "--timeout"},
                                               {"events", "--kind", "worker_ready"}}) {
    text += Run(words);
    EXPECT_EQ(last_exit_, kExitUsage) << words[1];
  }
  ExpectGolden("events_errors.txt", text);
}

}  // namespace
}  // namespace esg::esgctl::testing
