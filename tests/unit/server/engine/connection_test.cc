// Tests for Connection. The first fixture runs a whole Server with a fake AppChannel that answers every
// request with a large body in one SendBody call, a real UNIX-socket client in-process, and the reactor
// driven by hand (RunOnce), so what the engine starts is counted exactly. The second runs one Connection
// on a socketpair against a stand-in host with a fake clock (fake_host.h): pipelining order,
// backpressure both ways, lingering close, and every deadline crossed by moving the clock — no sleeps.
#include "server/engine/connection.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "server/engine/server.h"
#include "tests/unit/server/engine/fake_host.h"

namespace esg::engine {
namespace {

constexpr size_t kAnswer = 1 << 20;  // far more than the socket and the high-water mark take

// Answers each request at once (as an eager app does) with kAnswer bytes in one message.
class BigAnswers final : public AppChannel {
 public:
  void OnRequest(const StreamPtr& stream, const http::RequestHead&) override {
    ++started;
    stream->response().Begin(200);
    stream->SendBody(body_, false);
  }
  void OnWebSocket(const std::shared_ptr<WebSocketStream>&, const http::RequestHead&) override {}
  int started = 0;

 private:
  std::string body_ = std::string(kAnswer, 'x');
};

class ConnectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    EngineConfig config;
    config.access_log = false;
    server_ = std::make_unique<Server>(config, &app_);
    ASSERT_TRUE(server_->ok());
    int listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(listener, 0);
    struct sockaddr_un addr = {};
    addr.sun_family = AF_UNIX;
    std::string name = "esg-connection-test-" + std::to_string(getpid());
    memcpy(addr.sun_path + 1, name.data(), name.size());  // abstract namespace: nothing to clean up
    socklen_t len = static_cast<socklen_t>(offsetof(struct sockaddr_un, sun_path) + 1 + name.size());
    ASSERT_EQ(bind(listener, reinterpret_cast<struct sockaddr*>(&addr), len), 0) << strerror(errno);
    ASSERT_EQ(listen(listener, 16), 0);
    ASSERT_TRUE(server_->AddListener(listener, true, "test.sock", 0));
    client_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_EQ(connect(client_, reinterpret_cast<struct sockaddr*>(&addr), len), 0) << strerror(errno);
    fcntl(client_, F_SETFL, fcntl(client_, F_GETFL) | O_NONBLOCK);
    Run();
    ASSERT_EQ(server_->connection_count(), 1u);
  }

  void TearDown() override {
    if (client_ >= 0) close(client_);
    server_.reset();
  }

  void Run(int rounds = 50) {
    for (int i = 0; i < rounds; ++i) server_->RunOnce();
  }

  void SendRequests(int count) {
    std::string all;
    for (int i = 0; i < count; ++i) all += "GET /" + std::to_string(i) + " HTTP/1.1\r\nHost: x\r\n\r\n";
    ASSERT_EQ(send(client_, all.data(), all.size(), 0), static_cast<ssize_t>(all.size()));
  }

  // Reads what the server sends, running it between reads, until it closes or `bytes` arrived (bounded).
  size_t ReadAll(size_t bytes, bool* closed) {
    size_t got = 0;
    *closed = false;
    char buf[1 << 16];
    for (int idle = 0; idle < 1000 && got < bytes;) {
      server_->RunOnce();
      ssize_t n = recv(client_, buf, sizeof buf, 0);
      if (n > 0) {
        if (got == 0) head_len_ = std::string_view(buf, static_cast<size_t>(n)).find("\r\n\r\n") + 4;
        got += static_cast<size_t>(n);
        idle = 0;
      } else if (n == 0) {
        *closed = true;
        break;
      } else {
        ++idle;
      }
    }
    return got;
  }

  BigAnswers app_;
  std::unique_ptr<Server> server_;
  int client_ = -1;
  size_t head_len_ = 0;
};

TEST_F(ConnectionTest, PipelinedRequestsWaitWhileOutputIsOverTheMark) {
  SendRequests(40);
  Run(200);
  // The first answer fills the socket and queues more than the mark: nothing else may start.
  EXPECT_EQ(app_.started, 1);
  bool closed = false;
  size_t got = ReadAll(SIZE_MAX, &closed);
  EXPECT_FALSE(closed);
  EXPECT_EQ(app_.started, 40);
  ASSERT_GT(head_len_, 4u);
  EXPECT_EQ(got, 40 * (head_len_ + kAnswer));
}

TEST_F(ConnectionTest, AnswersRequestsPipelinedBeforeAHalfClose) {
  SendRequests(5);
  ASSERT_EQ(shutdown(client_, SHUT_WR), 0);
  Run(200);
  EXPECT_EQ(app_.started, 1);
  bool closed = false;
  size_t got = ReadAll(SIZE_MAX, &closed);
  EXPECT_TRUE(closed);
  EXPECT_EQ(app_.started, 5);
  EXPECT_EQ(got, 5 * (head_len_ + kAnswer));
}

// ------------------------------------------------------------------ one connection, stand-in host

using fakes::ConnectionHarness;
using fakes::CountingObserver;
using fakes::HoldingApp;

std::string Get(const std::string& target) { return "GET " + target + " HTTP/1.1\r\nHost: x\r\n\r\n"; }

class ConnectionUnitTest : public ConnectionHarness {};

TEST_F(ConnectionUnitTest, PipelinedRequestsAreDispatchedOneAtATimeAndAnsweredInOrder) {
  Open();
  Send(Get("/1") + Get("/2") + Get("/3"));
  // The parser pauses after each message: the next request waits for this one's response.
  ASSERT_EQ(app_.targets, std::vector<std::string>({"/1"}));
  HoldingApp::Answer(app_.streams[0], "one");
  ASSERT_EQ(app_.targets, std::vector<std::string>({"/1", "/2"}));
  HoldingApp::Answer(app_.streams[1], "two");
  ASSERT_EQ(app_.targets, std::vector<std::string>({"/1", "/2", "/3"}));
  HoldingApp::Answer(app_.streams[2], "three");
  std::string got = Receive();
  size_t one = got.find("\r\n\r\none"), two = got.find("\r\n\r\ntwo"), three = got.find("\r\n\r\nthree");
  ASSERT_NE(three, std::string::npos) << got;
  EXPECT_LT(one, two);
  EXPECT_LT(two, three);
  EXPECT_EQ(host_->in_flight, 0u);
  EXPECT_EQ(host_->requests_finished, 3u);
  ASSERT_NE(connection_, nullptr);  // keep-alive
}

TEST_F(ConnectionUnitTest, EagerAnswersToPipelinedRequestsStayInOrder) {
  app_.answer_at_once = true;
  Open();
  Send(Get("/a") + Get("/b") + Get("/c") + Get("/d"));
  EXPECT_EQ(app_.targets, std::vector<std::string>({"/a", "/b", "/c", "/d"}));
  EXPECT_EQ(fakes::Count(Receive(), "HTTP/1.1 200 OK\r\n"), 4);
  EXPECT_EQ(host_->in_flight, 0u);
}

TEST_F(ConnectionUnitTest, ReadingPausesOnABodyTheAppHasNotTakenAndResumesWhenItDoes) {
  Open();
  constexpr size_t kBody = 1 << 20;
  Send("POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(kBody) + "\r\n\r\n");
  std::string chunk(16 * 1024, 'b');
  size_t sent = 0, taken = 0;
  auto push = [&] {  // sends until the socket pushes back
    for (int i = 0; i < 1000 && sent < kBody; ++i) {
      ssize_t n = send(client_, chunk.data(), std::min(chunk.size(), kBody - sent), MSG_NOSIGNAL);
      if (n <= 0) break;
      sent += static_cast<size_t>(n);
      Run(2);
    }
  };
  push();
  ASSERT_EQ(app_.streams.size(), 1u);
  const auto& stream = app_.streams[0];
  // Reading stopped once more than read_high_water waited for the app (at most one read buffer more),
  // so the client was pushed back long before the end of its body.
  EXPECT_GT(stream->buffered_body(), config_.read_high_water);
  EXPECT_LE(stream->buffered_body(), config_.read_high_water + ConnectionHost::kBufferSize);
  EXPECT_LT(sent, kBody);
  size_t paused_at = stream->buffered_body();
  Run();
  EXPECT_EQ(stream->buffered_body(), paused_at);
  // Taking the body resumes reading, until the whole body is in.
  bool last = false;
  for (int i = 0; i < 1000 && !last; ++i) {
    std::string part;
    last = stream->TakeBody(&part);
    taken += part.size();
    push();
  }
  EXPECT_TRUE(last);
  EXPECT_EQ(taken, kBody);
  HoldingApp::Answer(stream, "done");
  EXPECT_NE(Receive().find("\r\n\r\ndone"), std::string::npos);
}

TEST_F(ConnectionUnitTest, SendWaitsOverTheWriteMarkAndIsWokenOnceTheClientReads) {
  Open();
  Send(Get("/big"));
  ASSERT_EQ(app_.streams.size(), 1u);
  const auto& stream = app_.streams[0];
  CountingObserver observer;
  stream->set_observer(&observer);
  const size_t kPiece = 1 << 20;  // more than the socket takes plus write_high_water
  EXPECT_EQ(HoldingApp::Answer(stream, std::string(kPiece, 'x'), /*more_body=*/true), SendResult::kWait);
  Run();
  EXPECT_EQ(observer.writable, 0);
  // Each round empties the socket and lets the server refill it from its queue: the queue shrinks by a
  // socket's worth per round, and the stream is woken only once it is under the low-water mark (half of
  // write_high_water), not at the first room in the socket.
  std::string got;
  char buf[1 << 16];
  int rounds = 0;
  for (; rounds < 1000 && observer.writable == 0; ++rounds) {
    for (ssize_t n; (n = recv(client_, buf, sizeof buf, 0)) > 0;) got.append(buf, static_cast<size_t>(n));
    host_->reactor().RunOnce();
  }
  EXPECT_GT(rounds, 1);
  EXPECT_LT(got.size(), kPiece);
  got += Receive();
  EXPECT_EQ(observer.writable, 1);  // once per wait
  EXPECT_EQ(HoldingApp::Answer(stream, "end"), SendResult::kOk);
  got += Receive();
  EXPECT_NE(got.find("\r\n3\r\nend\r\n0\r\n\r\n"), std::string::npos);
  stream->set_observer(nullptr);
}

TEST_F(ConnectionUnitTest, AnErrorResponseEndsInALingeringCloseUntilThePeerCloses) {
  Open();
  Send("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n");
  bool eof = false;
  std::string got = Receive(&eof);
  EXPECT_EQ(got.rfind("HTTP/1.1 400 ", 0), 0u) << got;
  EXPECT_TRUE(eof);  // our side is shut...
  ASSERT_NE(connection_, nullptr);
  EXPECT_TRUE(connection_->lingering());  // ...but the socket stays open: no reset destroys the answer
  Send("GET /more HTTP/1.1\r\nHost: x\r\n\r\n");  // dropped
  ASSERT_NE(connection_, nullptr);
  EXPECT_TRUE(app_.targets.empty());
  ASSERT_EQ(shutdown(client_, SHUT_WR), 0);
  Run();
  EXPECT_EQ(connection_, nullptr);  // the peer's end closes it
}

TEST_F(ConnectionUnitTest, ALingeringCloseEndsAfterTwoSeconds) {
  Open();
  Send("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n");
  Receive();
  ASSERT_NE(connection_, nullptr);
  ASSERT_TRUE(connection_->lingering());
  Advance(1.9);
  ASSERT_NE(connection_, nullptr);
  Advance(0.2);
  EXPECT_EQ(connection_, nullptr);
}

TEST_F(ConnectionUnitTest, ARequestHeadMustArriveWithinTheHeaderTimeout) {
  Open();
  Send("GET / HTTP/1.1\r\nHo");
  Advance(config_.timeout_request_header - 0.1);
  EXPECT_EQ(Receive(), "");
  Advance(0.2);
  bool eof = false;
  std::string got = Receive(&eof);
  EXPECT_EQ(got.rfind("HTTP/1.1 408 ", 0), 0u) << got;
  EXPECT_TRUE(eof);
}

TEST_F(ConnectionUnitTest, AnIdleFreshConnectionClosesAtTheHeaderTimeout) {
  Open();
  Advance(config_.timeout_request_header + 0.1);
  bool eof = false;
  EXPECT_EQ(Receive(&eof), "");
  EXPECT_TRUE(eof);
  EXPECT_EQ(connection_, nullptr);
}

TEST_F(ConnectionUnitTest, AnIdleKeepAliveConnectionClosesAtTheKeepAliveTimeout) {
  app_.answer_at_once = true;
  Open();
  Send(Get("/"));
  EXPECT_NE(Receive().find("\r\n\r\nok"), std::string::npos);
  Advance(config_.timeout_keep_alive - 0.1);
  ASSERT_NE(connection_, nullptr);
  Advance(0.2);
  bool eof = false;
  EXPECT_EQ(Receive(&eof), "");
  EXPECT_TRUE(eof);
  EXPECT_EQ(connection_, nullptr);
}

TEST_F(ConnectionUnitTest, TheKeepAliveTimeoutCountsFromTheEndOfTheLastWrite) {
  app_.answer = std::string(1 << 20, 'x');  // more than the socket takes: the write ends when the client reads
  app_.answer_at_once = true;
  Open();
  Send(Get("/"));
  Advance(config_.timeout_keep_alive + 10);  // queued bytes wait: only the send timeout applies
  ASSERT_NE(connection_, nullptr);
  EXPECT_EQ(Receive().size() > (1u << 20), true);
  Advance(config_.timeout_keep_alive - 0.1);
  ASSERT_NE(connection_, nullptr);
  Advance(0.2);
  EXPECT_EQ(connection_, nullptr);
}

TEST_F(ConnectionUnitTest, AClientThatReadsNothingIsDroppedAtTheSendTimeout) {
  app_.answer = std::string(1 << 20, 'x');
  app_.answer_at_once = true;
  Open();
  Send(Get("/"));
  Advance(config_.timeout_send - 1);
  ASSERT_NE(connection_, nullptr);
  Advance(2);
  EXPECT_EQ(connection_, nullptr);
}

TEST_F(ConnectionUnitTest, AStalledBodyTheAppWaitsForGets408AtTheBodyTimeout) {
  Open();
  Send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789");
  ASSERT_EQ(app_.streams.size(), 1u);
  std::string part;
  EXPECT_FALSE(app_.streams[0]->TakeBody(&part));  // the app waits for the rest
  EXPECT_EQ(part, "0123456789");
  Advance(config_.timeout_request_body - 1);
  EXPECT_EQ(Receive(), "");
  Advance(2);
  std::string got = Receive();
  EXPECT_EQ(got.rfind("HTTP/1.1 408 ", 0), 0u) << got;
  EXPECT_TRUE(app_.streams[0]->disconnected());
}

TEST_F(ConnectionUnitTest, RequestsPipelinedBeforeAHalfCloseAreAnsweredThenTheConnectionCloses) {
  Open();
  Send(Get("/1") + Get("/2"));
  ASSERT_EQ(shutdown(client_, SHUT_WR), 0);
  Run();
  ASSERT_EQ(app_.targets.size(), 1u);
  HoldingApp::Answer(app_.streams[0], "one");
  ASSERT_EQ(app_.targets.size(), 2u);
  HoldingApp::Answer(app_.streams[1], "two");
  bool eof = false;
  std::string got = Receive(&eof);
  EXPECT_LT(got.find("\r\n\r\none"), got.find("\r\n\r\ntwo"));
  EXPECT_NE(got.find("\r\n\r\ntwo"), std::string::npos);
  EXPECT_TRUE(eof);
  EXPECT_EQ(connection_, nullptr);
}

TEST_F(ConnectionUnitTest, DrainingClosesAfterTheCurrentResponse) {
  Open();
  Send(Get("/1"));
  connection_->BeginDrain();
  ASSERT_NE(connection_, nullptr);  // a request is in flight
  HoldingApp::Answer(app_.streams[0], "one");
  bool eof = false;
  std::string got = Receive(&eof);
  EXPECT_NE(got.find("connection: close\r\n"), std::string::npos) << got;
  EXPECT_TRUE(eof);
}

TEST_F(ConnectionUnitTest, DrainingClosesAnIdleKeepAliveConnectionAtOnce) {
  app_.answer_at_once = true;
  Open();
  Send(Get("/"));
  EXPECT_NE(Receive().find("\r\n\r\nok"), std::string::npos);
  connection_->BeginDrain();
  Run();
  EXPECT_EQ(connection_, nullptr);
}

// The master's drain (other workers go on serving): an idle keep-alive connection is not closed under a
// request a proxy may be writing into it; one that arrives is answered with Connection: close, and a
// connection nobody uses closes at its keep-alive deadline as usual.
TEST_F(ConnectionUnitTest, DrainingWithKeepIdleAnswersALateRequestThenCloses) {
  app_.answer_at_once = true;
  Open();
  Send(Get("/1"));
  EXPECT_NE(Receive().find("\r\n\r\nok"), std::string::npos);
  connection_->BeginDrain(/*keep_idle=*/true);
  ASSERT_NE(connection_, nullptr);
  Send(Get("/2"));
  bool eof = false;
  std::string got = Receive(&eof);
  EXPECT_NE(got.find("connection: close\r\n"), std::string::npos) << got;
  EXPECT_NE(got.find("\r\n\r\nok"), std::string::npos) << got;
  EXPECT_TRUE(eof);  // (the server may still linger on its read side: a graceful close)
}

TEST_F(ConnectionUnitTest, DrainingWithKeepIdleClosesAnUnusedConnectionAtItsKeepAliveDeadline) {
  app_.answer_at_once = true;
  Open();
  Send(Get("/"));
  EXPECT_NE(Receive().find("\r\n\r\nok"), std::string::npos);
  connection_->BeginDrain(/*keep_idle=*/true);
  Advance(config_.timeout_keep_alive - 0.1);
  ASSERT_NE(connection_, nullptr);
  Advance(0.2);
  bool eof = false;
  EXPECT_EQ(Receive(&eof), "");
  EXPECT_TRUE(eof);
  EXPECT_EQ(connection_, nullptr);
}

}  // namespace
}  // namespace esg::engine
