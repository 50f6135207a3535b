// Tests for --timeout-request (server/engine/request_timeout.cc): one Connection on a socketpair against a
// stand-in host and a fake clock (fake_host.h). A request whose response is not complete by the deadline
// gets 504 and a close, or a cut-short response; its stream is detached and its observer told; pipelined
// requests behind it are never started; the deadline is per request, off by default, and WebSockets are
// not subject to it.
#include <gtest/gtest.h>

#include <string>

#include "server/engine/connection.h"
#include "tests/unit/server/engine/fake_host.h"

namespace esg::engine {
namespace {

using fakes::ConnectionHarness;
using fakes::CountingObserver;
using fakes::HoldingApp;

std::string Get(const std::string& target) { return "GET " + target + " HTTP/1.1\r\nHost: x\r\n\r\n"; }

class RequestTimeoutTest : public ConnectionHarness {
 protected:
  void OpenWithTimeout(double seconds) {
    config_.timeout_request = seconds;
    Open();
  }
};

TEST_F(RequestTimeoutTest, OffByDefault) {
  Open();
  Send(Get("/slow"));
  ASSERT_EQ(app_.streams.size(), 1u);
  Advance(10);  // under every other deadline (request body 60 s, send 60 s)
  EXPECT_EQ(Receive(), "");
  ASSERT_NE(connection_, nullptr);
  EXPECT_FALSE(app_.streams[0]->timed_out());
  EXPECT_EQ(host_->timeouts, 0);
  HoldingApp::Answer(app_.streams[0], "late but fine");
  EXPECT_NE(Receive().find("\r\n\r\nlate but fine"), std::string::npos);
}

TEST_F(RequestTimeoutTest, AResponseNotStartedInTimeGets504AndTheConnectionCloses) {
  OpenWithTimeout(2);
  Send(Get("/slow?token=secret"));
  ASSERT_EQ(app_.streams.size(), 1u);
  auto stream = app_.streams[0];
  CountingObserver observer;
  stream->set_observer(&observer);
  Advance(1.9);
  EXPECT_EQ(Receive(), "");
  EXPECT_EQ(observer.timed_out, 0);
  Advance(0.1);  // exactly at the deadline
  bool eof = false;
  std::string got = Receive(&eof);
  EXPECT_EQ(got.rfind("HTTP/1.1 504 Gateway Timeout\r\n", 0), 0u) << got;
  EXPECT_NE(got.find("connection: close\r\n"), std::string::npos) << got;
  EXPECT_NE(got.find("\r\n\r\nGateway Timeout"), std::string::npos) << got;
  EXPECT_TRUE(eof);
  EXPECT_EQ(observer.timed_out, 1);
  EXPECT_GE(observer.body_ready, 1);  // a receive() waiting learns of the disconnect
  EXPECT_TRUE(stream->timed_out());
  EXPECT_TRUE(stream->connection_gone());
  EXPECT_EQ(host_->timeouts, 1);
  EXPECT_EQ(host_->in_flight, 0u);
  // The app's late answer goes nowhere and breaks nothing.
  EXPECT_EQ(HoldingApp::Answer(stream, "late"), SendResult::kClosed);
  stream->set_observer(nullptr);
}

TEST_F(RequestTimeoutTest, AStartedResponseIsCutShortNeverCompleted) {
  OpenWithTimeout(1);
  Send(Get("/stream"));
  ASSERT_EQ(app_.streams.size(), 1u);
  auto stream = app_.streams[0];
  ASSERT_EQ(HoldingApp::Answer(stream, "first half", /*more_body=*/true), SendResult::kOk);
  std::string before = Receive();
  ASSERT_NE(before.find("transfer-encoding: chunked"), std::string::npos) << before;
  Advance(1.5);
  bool eof = false;
  std::string after = Receive(&eof);
  EXPECT_TRUE(eof);
  EXPECT_EQ(after.find("0\r\n\r\n"), std::string::npos) << "the chunked body must stay unterminated";
  EXPECT_EQ(after.find("504"), std::string::npos);
  EXPECT_EQ(connection_, nullptr);  // aborted, not lingering
  EXPECT_TRUE(stream->timed_out());
  EXPECT_EQ(host_->timeouts, 1);
  EXPECT_EQ(host_->in_flight, 0u);
}

TEST_F(RequestTimeoutTest, PipelinedRequestsBehindATimedOutOneAreNeverStarted) {
  OpenWithTimeout(1);
  Send(Get("/slow") + Get("/next") + Get("/after"));
  ASSERT_EQ(app_.targets, std::vector<std::string>({"/slow"}));
  Advance(1.5);
  bool eof = false;
  std::string got = Receive(&eof);
  EXPECT_EQ(fakes::Count(got, "HTTP/1.1 "), 1) << got;
  EXPECT_EQ(got.rfind("HTTP/1.1 504 ", 0), 0u) << got;
  EXPECT_TRUE(eof);
  Advance(3);  // past the lingering close
  EXPECT_EQ(app_.targets, std::vector<std::string>({"/slow"}));
  EXPECT_EQ(connection_, nullptr);
}

TEST_F(RequestTimeoutTest, ABodyStillBeingUploadedGets504AndIsDrained) {
  OpenWithTimeout(1);
  Send("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" + std::string(1000, 'a'));
  ASSERT_EQ(app_.streams.size(), 1u);
  Advance(1.5);
  bool eof = false;
  std::string got = Receive(&eof);
  EXPECT_EQ(got.rfind("HTTP/1.1 504 ", 0), 0u) << got;
  EXPECT_TRUE(eof);
  ASSERT_NE(connection_, nullptr);
  EXPECT_TRUE(connection_->lingering());  // the rest of the body is read and dropped, no reset
  Send(std::string(5000, 'b'));
  EXPECT_EQ(app_.streams[0]->buffered_body(), 1000u);  // what came before the deadline; nothing since
  EXPECT_EQ(app_.targets.size(), 1u);
}

TEST_F(RequestTimeoutTest, EachRequestHasItsOwnDeadline) {
  OpenWithTimeout(2);
  Send(Get("/1"));
  Advance(1.5);
  HoldingApp::Answer(app_.streams[0], "one");
  EXPECT_NE(Receive().find("\r\n\r\none"), std::string::npos);
  Send(Get("/2"));
  ASSERT_EQ(app_.streams.size(), 2u);
  Advance(1.5);  // 3 s after the first request, 1.5 s after the second
  EXPECT_EQ(Receive(), "");
  ASSERT_NE(connection_, nullptr);
  HoldingApp::Answer(app_.streams[1], "two");
  EXPECT_NE(Receive().find("\r\n\r\ntwo"), std::string::npos);
  Advance(1);  // an answered request has no deadline left; keep-alive (5 s) still open
  ASSERT_NE(connection_, nullptr);
  EXPECT_EQ(host_->timeouts, 0);
}

TEST_F(RequestTimeoutTest, AResponseCompleteButUnsentIsLeftToTheSendDeadline) {
  OpenWithTimeout(1);
  Send(Get("/big"));
  // A complete response far larger than the socket takes: the request is done; its bytes wait.
  HoldingApp::Answer(app_.streams[0], std::string(4 << 20, 'x'));
  Advance(2);
  ASSERT_NE(connection_, nullptr);
  EXPECT_EQ(host_->timeouts, 0);
  EXPECT_FALSE(app_.streams[0]->timed_out());
}

TEST_F(RequestTimeoutTest, WebSocketsAreNotSubjectToIt) {
  OpenWithTimeout(1);
  Send(
      "GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
  ASSERT_EQ(app_.websockets.size(), 1u);
  Advance(3);  // not accepted yet: the handshake waits for the app, whatever the deadline
  ASSERT_NE(connection_, nullptr);
  std::string error;
  ASSERT_EQ(app_.websockets[0]->Accept("", {}, &error), SendResult::kOk);
  EXPECT_EQ(Receive().rfind("HTTP/1.1 101 ", 0), 0u);
  Advance(5);
  ASSERT_NE(connection_, nullptr);
  EXPECT_EQ(host_->timeouts, 0);
}

}  // namespace
}  // namespace esg::engine
