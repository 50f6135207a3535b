// Tests for Connection's flow control and end-of-input handling: a Server with a fake AppChannel that
// answers every request with a large body in one SendBody call, a real UNIX-socket client in-process,
// and the reactor driven by hand (RunOnce), so what the engine starts is counted exactly.
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

}  // namespace
}  // namespace esg::engine
