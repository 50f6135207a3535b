// Tests for DeferredFlush and Connection::WriteSoon: a whole Server with a stand-in app channel that streams
// small more_body chunks, a real UNIX-socket client in-process, the reactor and the end-of-turn flush driven
// by hand. What is on the client's socket after each step says whether a chunk was written at once, deferred
// to the turn's flush, or held back by the write high-water mark.
#include "server/engine/deferred_flush.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "server/engine/server.h"

namespace esg::engine {
namespace {

// Starts each request's response and keeps the stream; the test sends the chunks.
class Streams final : public AppChannel {
 public:
  void OnRequest(const StreamPtr& stream, const http::RequestHead&) override {
    stream->response().Begin(200);
    streams.push_back(stream);
  }
  void OnWebSocket(const std::shared_ptr<WebSocketStream>&, const http::RequestHead&) override {}
  std::vector<StreamPtr> streams;
};

class DeferredFlushTest : public ::testing::Test {
 protected:
  // A write to a client that closed must fail with EPIPE, as in a worker (Python ignores SIGPIPE).
  static void SetUpTestSuite() { signal(SIGPIPE, SIG_IGN); }

  void SetUp() override {
    EngineConfig config;
    config.access_log = false;
    config.write_high_water = kMark;
    config.defer_min_requests = min_requests_;
    config.coalesce_streams = coalesce_;
    server_ = std::make_unique<Server>(config, &app_);
    ASSERT_TRUE(server_->ok());
    server_->deferred_flush().set_schedule([this] {
      ++scheduled_;
      if (schedule_ok_) ++pending_;
      return schedule_ok_;
    });
    int listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(listener, 0);
    struct sockaddr_un addr = {};
    addr.sun_family = AF_UNIX;
    std::string name = "esg-deferred-flush-test-" + std::to_string(getpid());
    memcpy(addr.sun_path + 1, name.data(), name.size());  // abstract namespace: nothing to clean up
    socklen_t len = static_cast<socklen_t>(offsetof(struct sockaddr_un, sun_path) + 1 + name.size());
    ASSERT_EQ(bind(listener, reinterpret_cast<struct sockaddr*>(&addr), len), 0) << strerror(errno);
    ASSERT_EQ(listen(listener, 16), 0);
    ASSERT_TRUE(server_->AddListener(listener, true, "test.sock", 0));
    client_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_EQ(connect(client_, reinterpret_cast<struct sockaddr*>(&addr), len), 0) << strerror(errno);
    fcntl(client_, F_SETFL, fcntl(client_, F_GETFL) | O_NONBLOCK);
    for (int i = 0; i < 10; ++i) server_->RunOnce();
    const char request[] = "GET /events HTTP/1.1\r\nHost: x\r\n\r\n";
    ASSERT_EQ(send(client_, request, sizeof request - 1, 0), static_cast<ssize_t>(sizeof request - 1));
    for (int i = 0; i < 10 && app_.streams.empty(); ++i) server_->RunOnce();
    ASSERT_EQ(app_.streams.size(), 1u);
  }

  void TearDown() override {
    if (client_ >= 0) close(client_);
    app_.streams.clear();
    server_.reset();
  }

  HttpStream& stream() { return *app_.streams[0]; }

  // Everything the client can read right now (without running the server).
  std::string Received() {
    std::string out;
    char buf[1 << 16];
    ssize_t n;
    while ((n = recv(client_, buf, sizeof buf, 0)) > 0) out.append(buf, static_cast<size_t>(n));
    return out;
  }

  static constexpr size_t kMark = 4096;
  size_t min_requests_ = 1;  // defer with this one request in flight (the worker's default wants more)
  bool coalesce_ = false;    // --coalesce-streams
  Streams app_;
  std::unique_ptr<Server> server_;
  int client_ = -1;
  int scheduled_ = 0;
  int pending_ = 0;  // runs queued and not run yet (the loop would run each in the next turn)
  bool schedule_ok_ = true;
};

TEST_F(DeferredFlushTest, ChunksOfOneTurnLeaveAtTheTurnsFlushTogether) {
  EXPECT_EQ(stream().SendBody("data: 1\n\n", true), SendResult::kOk);
  EXPECT_EQ(stream().SendBody("data: 2\n\n", true), SendResult::kOk);
  EXPECT_EQ(scheduled_, 1) << "one flush queued per turn, not one per chunk";
  EXPECT_EQ(Received(), "") << "a more_body chunk waits for the end of the turn";
  server_->deferred_flush().Run(/*scheduled=*/true);
  std::string got = Received();
  EXPECT_EQ(got.substr(0, 15), "HTTP/1.1 200 OK");
  EXPECT_NE(got.find("\r\n\r\n9\r\ndata: 1\n\n\r\n9\r\ndata: 2\n\n\r\n"), std::string::npos) << got;
  // The next turn queues a flush again.
  EXPECT_EQ(stream().SendBody("data: 3\n\n", true), SendResult::kOk);
  EXPECT_EQ(scheduled_, 2);
  server_->deferred_flush().Run(/*scheduled=*/true);
  EXPECT_EQ(Received(), "9\r\ndata: 3\n\n\r\n");
}

TEST_F(DeferredFlushTest, TheLastMessageGoesOutBehindDeferredChunksInOrder) {
  EXPECT_EQ(stream().SendBody("data: 1\n\n", true), SendResult::kOk);
  EXPECT_EQ(stream().SendBody("", false), SendResult::kOk);
  EXPECT_EQ(Received(), "") << "the end must not overtake the deferred chunk";
  server_->deferred_flush().Run(/*scheduled=*/true);
  std::string got = Received();
  EXPECT_NE(got.find("\r\n\r\n9\r\ndata: 1\n\n\r\n0\r\n\r\n"), std::string::npos) << got;
}

TEST_F(DeferredFlushTest, RunOnceFlushesBeforeHandlingNewEvents) {
  EXPECT_EQ(stream().SendBody("data: 1\n\n", true), SendResult::kOk);
  EXPECT_EQ(Received(), "");
  server_->RunOnce();
  EXPECT_NE(Received().find("data: 1"), std::string::npos);
  // The flush still queued on the loop finds nothing left, then a new chunk queues another.
  server_->deferred_flush().Run(/*scheduled=*/true);
  EXPECT_EQ(stream().SendBody("data: 2\n\n", true), SendResult::kOk);
  EXPECT_EQ(scheduled_, 2);
}

TEST_F(DeferredFlushTest, WithoutASchedulerChunksAreWrittenAtOnce) {
  schedule_ok_ = false;  // the loop is closing: call_soon fails
  EXPECT_EQ(stream().SendBody("data: 1\n\n", true), SendResult::kOk);
  EXPECT_NE(Received().find("data: 1"), std::string::npos);
  EXPECT_TRUE(server_->deferred_flush().empty());
}

TEST_F(DeferredFlushTest, ClosingEveryConnectionWritesDeferredChunksFirst) {
  EXPECT_EQ(stream().SendBody("data: 1\n\n", true), SendResult::kOk);
  EXPECT_EQ(stream().SendBody("", false), SendResult::kOk);
  server_->CloseAll();  // the worker stops in the turn the app finished, before the flush
  std::string got = Received();
  EXPECT_NE(got.find("\r\n\r\n9\r\ndata: 1\n\n\r\n0\r\n\r\n"), std::string::npos) << got;
}

class FewRequestsTest : public DeferredFlushTest {
 protected:
  void SetUp() override {
    min_requests_ = 2;
    DeferredFlushTest::SetUp();
  }
};

TEST_F(FewRequestsTest, WithFewerRequestsInFlightThanTheMinimumChunksAreWrittenAtOnce) {
  EXPECT_EQ(stream().SendBody("data: 1\n\n", true), SendResult::kOk);
  EXPECT_EQ(scheduled_, 0);
  EXPECT_NE(Received().find("data: 1"), std::string::npos);
}

TEST_F(DeferredFlushTest, LargeChunksAreNotDeferred) {
  std::string big(ConnectionHost::kBufferSize + 1, 'x');
  EXPECT_NE(stream().SendBody(big, true), SendResult::kError);
  EXPECT_EQ(scheduled_, 0);
  EXPECT_GT(Received().size(), big.size());
}

TEST_F(DeferredFlushTest, DeferredBytesCountTowardTheWriteHighWaterMark) {
  // A client that reads nothing: the chunks of one turn make send() wait once more than the mark is queued.
  std::string chunk(1000, 'e');
  int sent = 0;
  SendResult r = SendResult::kOk;
  while (r == SendResult::kOk && sent < 100) {
    r = stream().SendBody(chunk, true);
    ++sent;
  }
  EXPECT_EQ(r, SendResult::kWait);
  EXPECT_LE(static_cast<size_t>(sent) * chunk.size(), kMark + 2 * chunk.size());
  // Across turns too: flushing fills the socket, and what it does not take stays within the mark plus a chunk.
  int waits = 0;
  for (int turn = 0; turn < 2000 && waits < 50; ++turn) {
    server_->deferred_flush().Run(/*scheduled=*/true);
    server_->RunOnce();
    if (stream().SendBody(chunk, true) == SendResult::kWait) ++waits;
  }
  EXPECT_EQ(waits, 50) << "send() never had to wait although the client reads nothing";
}

TEST_F(DeferredFlushTest, AConnectionClosedWhileListedIsForgotten) {
  EXPECT_EQ(stream().SendBody("data: 1\n\n", true), SendResult::kOk);
  close(client_);
  client_ = -1;
  // The server sees the end, closes and deletes the connection; the listed flush must not touch it.
  for (int i = 0; i < 10 && server_->connection_count() > 0; ++i) server_->RunOnce();
  EXPECT_EQ(server_->connection_count(), 0u);
  server_->deferred_flush().Run(/*scheduled=*/true);
  EXPECT_TRUE(server_->deferred_flush().empty());
}

// --coalesce-streams: the flush driven by hand as the loop runs it, one scheduled Run per turn.
class CoalescingTest : public DeferredFlushTest {
 protected:
  void SetUp() override {
    coalesce_ = true;
    DeferredFlushTest::SetUp();
    // The response head and a first chunk: written by this turn's run (nothing was written the turn before).
    EXPECT_EQ(stream().SendBody("data: 1\n\n", true), SendResult::kOk);
    Turn();
    EXPECT_NE(Received().find("\r\n\r\n9\r\ndata: 1\n\n\r\n"), std::string::npos);
  }
  // One loop turn: the run queued in the turn before, if one was (as the loop runs it), then nothing else.
  void Turn() {
    if (pending_ == 0) return;
    --pending_;
    server_->deferred_flush().Run(/*scheduled=*/true);
  }
};

TEST_F(CoalescingTest, AStreamSendingInConsecutiveTurnsIsWrittenEveryOtherTurn) {
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(stream().SendBody("data: 2\n\n", true), SendResult::kOk);
    int queued = scheduled_;
    Turn();
    EXPECT_EQ(Received(), "") << "written last turn and again now: held for one more turn";
    EXPECT_EQ(scheduled_, queued + 1) << "a held chunk keeps a run queued for the next turn";
    EXPECT_EQ(stream().SendBody("data: 3\n\n", true), SendResult::kOk);
    Turn();
    EXPECT_EQ(Received(), "9\r\ndata: 2\n\n\r\n9\r\ndata: 3\n\n\r\n") << "two turns' chunks in one write, never held twice";
  }
}

TEST_F(CoalescingTest, AHeldChunkLeavesAtTheNextTurnWithoutWaitingForAnother) {
  EXPECT_EQ(stream().SendBody("data: 2\n\n", true), SendResult::kOk);
  Turn();
  EXPECT_EQ(Received(), "");
  Turn();  // the app sent nothing more
  EXPECT_EQ(Received(), "9\r\ndata: 2\n\n\r\n");
  EXPECT_TRUE(server_->deferred_flush().empty());
}

TEST_F(CoalescingTest, AStreamThatSkippedATurnIsWrittenAtOnce) {
  Turn();  // this stream sent nothing (its app waited on a timer or I/O): the run queued for it finds nothing
  EXPECT_EQ(pending_, 0) << "the chain of runs stops after a turn without writes";
  EXPECT_EQ(stream().SendBody("data: 2\n\n", true), SendResult::kOk);
  Turn();
  EXPECT_EQ(Received(), "9\r\ndata: 2\n\n\r\n");
}

TEST_F(CoalescingTest, AStreamSendingEveryOtherTurnIsNeverHeld) {
  for (int i = 0; i < 3; ++i) {
    Turn();  // a turn without a send: the run that the last write queued finds nothing
    EXPECT_EQ(stream().SendBody("data: 2\n\n", true), SendResult::kOk);
    Turn();
    EXPECT_EQ(Received(), "9\r\ndata: 2\n\n\r\n") << "round " << i;
  }
}

TEST_F(CoalescingTest, AStreamWithIdleTurnsBetweenItsSendsIsNeverHeld) {
  // Paced by a timer: several turns pass without a run between two sends (nothing else listed meanwhile).
  for (int i = 0; i < 3; ++i) {
    for (int idle = 0; idle < 5; ++idle) Turn();
    EXPECT_EQ(stream().SendBody("data: 2\n\n", true), SendResult::kOk);
    Turn();
    EXPECT_EQ(Received(), "9\r\ndata: 2\n\n\r\n") << "round " << i;
  }
}

TEST_F(CoalescingTest, TheEndOfTheResponseIsHeldWithItsChunksAndThenWritten) {
  EXPECT_EQ(stream().SendBody("data: 2\n\n", true), SendResult::kOk);
  EXPECT_EQ(stream().SendBody("", false), SendResult::kOk);
  Turn();
  EXPECT_EQ(Received(), "");
  Turn();
  EXPECT_EQ(Received(), "9\r\ndata: 2\n\n\r\n0\r\n\r\n");
}

TEST_F(CoalescingTest, NewEventsOnTheSocketFlushHeldChunksFirst) {
  EXPECT_EQ(stream().SendBody("data: 2\n\n", true), SendResult::kOk);
  Turn();
  EXPECT_EQ(Received(), "");
  server_->RunOnce();  // Server::RunOnce's flush holds nothing
  EXPECT_EQ(Received(), "9\r\ndata: 2\n\n\r\n");
}

TEST_F(CoalescingTest, WhenTheLoopCannotQueueARunHeldChunksAreWritten) {
  EXPECT_EQ(stream().SendBody("data: 2\n\n", true), SendResult::kOk);
  schedule_ok_ = false;  // the loop is closing: call_soon fails
  Turn();
  EXPECT_EQ(Received(), "9\r\ndata: 2\n\n\r\n");
  EXPECT_TRUE(server_->deferred_flush().empty());
}

TEST_F(CoalescingTest, AHeldConnectionWhoseClientLeftIsWrittenClosedAndNotTouchedAgain) {
  EXPECT_EQ(stream().SendBody("data: 2\n\n", true), SendResult::kOk);
  Turn();  // held
  close(client_);
  client_ = -1;
  // RunOnce writes the held chunk first (EPIPE or not), then sees the end and deletes the connection.
  for (int i = 0; i < 10 && server_->connection_count() > 0; ++i) server_->RunOnce();
  EXPECT_EQ(server_->connection_count(), 0u);
  Turn();  // the run the hold queued must not touch the deleted connection (ASan build: a use after free)
  EXPECT_TRUE(server_->deferred_flush().empty());
}

TEST_F(CoalescingTest, ClosingEveryConnectionWritesHeldChunksFirst) {
  EXPECT_EQ(stream().SendBody("data: 2\n\n", true), SendResult::kOk);
  EXPECT_EQ(stream().SendBody("", false), SendResult::kOk);
  Turn();  // held, the end of the answer with it
  EXPECT_EQ(Received(), "");
  server_->CloseAll();  // the worker stops right after the app finished
  EXPECT_EQ(Received(), "9\r\ndata: 2\n\n\r\n0\r\n\r\n");
}

TEST_F(CoalescingTest, HeldBytesCountTowardTheWriteHighWaterMark) {
  // A client that reads nothing, a stream that sends every turn: send() waits once more than the mark is
  // queued, held or not, and keeps waiting (the queue never grows past the mark plus a chunk).
  std::string chunk(1000, 'e');
  int waits = 0;
  for (int turn = 0; turn < 2000 && waits < 50; ++turn) {
    SendResult r = stream().SendBody(chunk, true);
    ASSERT_NE(r, SendResult::kError);
    if (r == SendResult::kWait) ++waits;
    Turn();
  }
  EXPECT_EQ(waits, 50) << "send() never had to wait although the client reads nothing";
}

}  // namespace
}  // namespace esg::engine
