// Test doubles for driving one engine Connection without a Server: a clock moved by hand, a
// ConnectionHost that stands in for the server, an AppChannel that holds every request until the test
// answers it, and a harness that connects a Connection to one end of a UNIX socketpair (the test plays
// the client on the other end) and runs the reactor by hand. Everything is synchronous: a deadline is
// crossed by moving the clock and calling CheckDeadline, so no test sleeps.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "server/engine/app_channel.h"
#include "server/engine/clock.h"
#include "server/engine/connection.h"
#include "server/engine/connection_host.h"
#include "server/engine/stream.h"
#include "server/engine/websocket_stream.h"

namespace esg::engine::fakes {

class FakeClock final : public Clock {
 public:
  double Now() const override { return now; }
  double now = 1000.0;
};

// Stands in for Server: real reactor (epoll), fake clock, counters the test can read.
class FakeHost final : public ConnectionHost {
 public:
  FakeHost(EngineConfig config, AppChannel* channel) : config_(std::move(config)), channel_(channel) {}
  ~FakeHost() override {
    for (char* b : pool_) delete[] b;
  }

  const EngineConfig& config() const override { return config_; }
  AppChannel* channel() const override { return channel_; }
  const Clock& clock() const override { return clock_; }
  Reactor& reactor() override { return reactor_; }
  std::string_view Date() override { return "Thu, 01 Jan 2026 00:00:00 GMT"; }
  char* AcquireBuffer() override {
    ++buffers_out;
    if (pool_.empty()) return new char[kBufferSize];
    char* b = pool_.back();
    pool_.pop_back();
    return b;
  }
  void ReleaseBuffer(char* buffer) override {
    --buffers_out;
    pool_.push_back(buffer);
  }
  size_t active_requests() const override { return in_flight; }
  void RequestStarted() override { ++in_flight; }
  void RequestFinished() override {
    --in_flight;
    ++requests_finished;
  }
  void RequestTimedOut() override { ++timeouts; }
  void WebSocketOpened() override { ++websockets; }
  void WebSocketClosed() override { --websockets; }
  void Retire(Connection* connection) override { retired.push_back(connection); }
  RequestCounters* request_counters() override { return counters; }

  FakeClock& fake_clock() { return clock_; }

  size_t in_flight = 0;
  size_t requests_finished = 0;
  int timeouts = 0;
  int websockets = 0;
  int buffers_out = 0;
  std::vector<Connection*> retired;
  RequestCounters* counters = nullptr;  // what the connections count into (null: not counted)

 private:
  EngineConfig config_;
  AppChannel* channel_;
  FakeClock clock_;
  Reactor reactor_;
  std::vector<char*> pool_;
};

// Wakes recorded per stream (StreamObserver).
class CountingObserver final : public StreamObserver {
 public:
  void OnBodyReady() override { ++body_ready; }
  void OnWritable() override { ++writable; }
  void OnTimedOut() override { ++timed_out; }
  int body_ready = 0;
  int writable = 0;
  int timed_out = 0;
};

// Holds every request and WebSocket handshake it is handed; the test answers them. With `answer_at_once`
// it answers each request inside OnRequest with `answer` (an eager app).
class HoldingApp final : public AppChannel {
 public:
  void OnRequest(const std::shared_ptr<HttpStream>& stream, const http::RequestHead& head) override {
    targets.push_back(head.target);
    streams.push_back(stream);
    if (answer_at_once) Answer(stream, answer);
  }
  void OnWebSocket(const std::shared_ptr<WebSocketStream>& stream, const http::RequestHead& head) override {
    targets.push_back(head.target);
    websockets.push_back(stream);
    if (accept_at_once) {
      std::string error;
      stream->Accept("", {}, &error);
    }
  }
  static SendResult Answer(const std::shared_ptr<HttpStream>& stream, const std::string& body,
                           bool more_body = false) {
    if (!stream->response_started()) stream->response().Begin(200);
    return stream->SendBody(body, more_body);
  }

  std::vector<std::string> targets;
  std::vector<std::shared_ptr<HttpStream>> streams;
  std::vector<std::shared_ptr<WebSocketStream>> websockets;
  bool answer_at_once = false;
  bool accept_at_once = false;
  std::string answer = "ok";
};

// One Connection on a socketpair, with the test as its client.
class ConnectionHarness : public ::testing::Test {
 protected:
  // Call from the test (after changing config_ if needed).
  void Open() {
    host_ = std::make_unique<FakeHost>(config_, &app_);
    ASSERT_TRUE(host_->reactor().ok());
    int fds[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, fds), 0);
    client_ = fds[1];
    PeerInfo peer;
    peer.client_text = "unix:test";
    peer.fd = fds[0];
    connection_ = new Connection(host_.get(), fds[0], nullptr, std::move(peer), MakePlainTransport(fds[0]));
    connection_->Start();
    Reap();
  }

  void TearDown() override {
    if (connection_) {
      connection_->Close();
      Reap();
    }
    if (client_ >= 0) close(client_);
  }

  // Dispatches what the reactor has (bounded), then deletes a retired connection (as Server::Reap does).
  void Run(int rounds = 20) {
    for (int i = 0; i < rounds && connection_; ++i) {
      host_->reactor().RunOnce();
      Reap();
    }
  }

  void Reap() {
    for (Connection* c : host_->retired) {
      if (c == connection_) connection_ = nullptr;
      delete c;
    }
    host_->retired.clear();
  }

  // Moves the fake clock and runs the deadline check, as the server's 250 ms tick does.
  void Advance(double seconds) {
    host_->fake_clock().now += seconds;
    if (connection_) connection_->CheckDeadline(host_->fake_clock().now);
    Reap();
    Run();
  }

  void Send(const std::string& bytes) {
    ASSERT_EQ(send(client_, bytes.data(), bytes.size(), MSG_NOSIGNAL), static_cast<ssize_t>(bytes.size()));
    Run();
  }

  // Everything the server has sent so far (runs the reactor between reads). *eof: the server closed.
  std::string Receive(bool* eof = nullptr, size_t limit = SIZE_MAX) {
    std::string got;
    bool closed = false;
    char buf[1 << 16];
    for (int idle = 0; idle < 3 && got.size() < limit;) {
      Run(2);
      ssize_t n = recv(client_, buf, std::min(sizeof buf, limit - got.size()), 0);
      if (n > 0) {
        got.append(buf, static_cast<size_t>(n));
        idle = 0;
      } else if (n == 0) {
        closed = true;
        break;
      } else {
        ++idle;
      }
    }
    if (eof) *eof = closed;
    return got;
  }

  EngineConfig config_ = [] {
    EngineConfig c;
    c.access_log = false;
    return c;
  }();
  HoldingApp app_;
  std::unique_ptr<FakeHost> host_;
  Connection* connection_ = nullptr;
  int client_ = -1;
};

// How many times `needle` occurs in `haystack`.
inline int Count(const std::string& haystack, const std::string& needle) {
  int n = 0;
  for (size_t at = haystack.find(needle); at != std::string::npos; at = haystack.find(needle, at + 1)) ++n;
  return n;
}

}  // namespace esg::engine::fakes
