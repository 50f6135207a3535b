// Tests for the engine side of a WebSocket (server/engine/websocket_upgrade.cc, with the WebSocketStream
// and WebSocketSession it creates): one Connection on a socketpair against a stand-in host and a fake
// clock (fake_host.h). The handshake is offered to the app, accepted, refused or answered by the engine;
// frames flow both ways; pings, the pong timeout and the closing handshake are driven by the clock.
#include <gtest/gtest.h>

#include <string>

#include "server/engine/connection.h"
#include "server/http/websocket_handshake.h"
#include "tests/unit/server/engine/fake_host.h"

namespace esg::engine {
namespace {

using fakes::ConnectionHarness;

constexpr char kKey[] = "dGhlIHNhbXBsZSBub25jZQ==";

std::string Handshake(const std::string& upgrade = "websocket", const std::string& version = "13",
                      const std::string& key = kKey) {
  return "GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: " + upgrade + "\r\nConnection: Upgrade\r\n" +
         "Sec-WebSocket-Key: " + key + "\r\nSec-WebSocket-Version: " + version + "\r\n\r\n";
}

// A masked client frame (payload under 126 bytes).
std::string ClientFrame(int opcode, const std::string& payload) {
  std::string f;
  f.push_back(static_cast<char>(0x80 | opcode));
  f.push_back(static_cast<char>(0x80 | payload.size()));
  const char mask[4] = {0x0a, 0x1b, 0x2c, 0x3d};
  f.append(mask, 4);
  for (size_t i = 0; i < payload.size(); ++i) f.push_back(static_cast<char>(payload[i] ^ mask[i & 3]));
  return f;
}

// An unmasked server frame (payload under 126 bytes).
std::string ServerFrame(int opcode, const std::string& payload) {
  return std::string{static_cast<char>(0x80 | opcode), static_cast<char>(payload.size())} + payload;
}

std::string CloseFrame(int code) {
  return ServerFrame(8, std::string{static_cast<char>(code >> 8), static_cast<char>(code & 0xff)});
}

class WebSocketUpgradeTest : public ConnectionHarness {
 protected:
  // Opens, sends the handshake, accepts it; leaves the 101 read.
  void OpenAccepted() {
    Open();
    Send(Handshake());
    ASSERT_EQ(app_.websockets.size(), 1u);
    std::string error;
    ASSERT_EQ(app_.websockets[0]->Accept("", {}, &error), SendResult::kOk);
    std::string head = Receive();
    ASSERT_EQ(head.rfind("HTTP/1.1 101 Switching Protocols\r\n", 0), 0u) << head;
  }
};

TEST_F(WebSocketUpgradeTest, AValidHandshakeIsOfferedToTheAppAndAcceptedWith101) {
  Open();
  Send(Handshake());
  ASSERT_EQ(app_.websockets.size(), 1u);
  EXPECT_TRUE(app_.streams.empty());
  EXPECT_EQ(app_.targets[0], "/chat");
  EXPECT_EQ(host_->websockets, 1);
  EXPECT_EQ(Receive(), "");  // nothing until the app decides
  std::string error;
  ASSERT_EQ(app_.websockets[0]->Accept("chat", {}, &error), SendResult::kOk);
  std::string head = Receive();
  EXPECT_EQ(head.rfind("HTTP/1.1 101 Switching Protocols\r\n", 0), 0u) << head;
  EXPECT_NE(head.find("sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"), std::string::npos);
  EXPECT_NE(head.find("sec-websocket-protocol: chat\r\n"), std::string::npos);
}

TEST_F(WebSocketUpgradeTest, FramesFlowBothWays) {
  OpenAccepted();
  const auto& ws = app_.websockets[0];
  Send(ClientFrame(1, "hello"));
  WebSocketStream::Message m;
  ASSERT_TRUE(ws->PopMessage(&m));
  EXPECT_TRUE(m.text);
  EXPECT_EQ(m.data, "hello");
  EXPECT_EQ(ws->Send(false, "bin"), SendResult::kOk);
  EXPECT_EQ(Receive(), ServerFrame(2, "bin"));
}

TEST_F(WebSocketUpgradeTest, FramesSentWithTheHandshakeReachAnAppThatAcceptsAtOnce) {
  app_.accept_at_once = true;
  Open();
  Send(Handshake() + ClientFrame(2, "early"));
  ASSERT_EQ(app_.websockets.size(), 1u);
  WebSocketStream::Message m;
  ASSERT_TRUE(app_.websockets[0]->PopMessage(&m));
  EXPECT_FALSE(m.text);
  EXPECT_EQ(m.data, "early");
}

TEST_F(WebSocketUpgradeTest, AnUnsupportedVersionGets426AndTheConnectionCloses) {
  Open();
  Send(Handshake("websocket", "8"));
  bool eof = false;
  EXPECT_EQ(Receive(&eof), std::string(http::kWebSocketUpgradeRequired));
  EXPECT_TRUE(eof);
  EXPECT_TRUE(app_.targets.empty());
}

TEST_F(WebSocketUpgradeTest, ABadKeyGets400) {
  Open();
  Send(Handshake("websocket", "13", "short"));
  bool eof = false;
  std::string got = Receive(&eof);
  EXPECT_EQ(got.rfind("HTTP/1.1 400 ", 0), 0u) << got;
  EXPECT_TRUE(eof);
  EXPECT_TRUE(app_.targets.empty());
}

TEST_F(WebSocketUpgradeTest, AnotherUpgradeIsAnOrdinaryRequest) {
  Open();
  Send(Handshake("h2c"));
  EXPECT_EQ(app_.streams.size(), 1u);
  EXPECT_TRUE(app_.websockets.empty());
  EXPECT_EQ(host_->websockets, 0);
}

TEST_F(WebSocketUpgradeTest, UpgradesAreOrdinaryRequestsWithWsNone) {
  config_.websocket = false;
  Open();
  Send(Handshake());
  EXPECT_EQ(app_.streams.size(), 1u);
  EXPECT_TRUE(app_.websockets.empty());
}

TEST_F(WebSocketUpgradeTest, TheAppRefusesWith403OrFailsWith500) {
  Open();
  Send(Handshake());
  ASSERT_EQ(app_.websockets.size(), 1u);
  app_.websockets[0]->Close(1000, "");
  bool eof = false;
  std::string got = Receive(&eof);
  EXPECT_EQ(got.rfind("HTTP/1.1 403 ", 0), 0u) << got;
  EXPECT_TRUE(eof);
  EXPECT_EQ(host_->websockets, 0);
  EXPECT_TRUE(app_.websockets[0]->disconnected());

  TearDown();
  app_ = fakes::HoldingApp();
  Open();
  Send(Handshake());
  ASSERT_EQ(app_.websockets.size(), 1u);
  app_.websockets[0]->Fail();
  got = Receive();
  EXPECT_EQ(got.rfind("HTTP/1.1 500 ", 0), 0u) << got;
}

TEST_F(WebSocketUpgradeTest, AClientCloseIsEchoedAndEndsTheConnection) {
  OpenAccepted();
  Send(ClientFrame(8, std::string{0x03, static_cast<char>(0xe8)}));
  bool eof = false;
  EXPECT_EQ(Receive(&eof), CloseFrame(1000));
  EXPECT_TRUE(eof);
  EXPECT_EQ(app_.websockets[0]->disconnect_code(), 1000);
  EXPECT_EQ(host_->websockets, 0);
}

TEST_F(WebSocketUpgradeTest, APeerGoneWithoutACloseFrameIs1006) {
  OpenAccepted();
  ASSERT_EQ(shutdown(client_, SHUT_WR), 0);
  Run();
  EXPECT_EQ(app_.websockets[0]->disconnect_code(), 1006);
  EXPECT_EQ(connection_, nullptr);
}

TEST_F(WebSocketUpgradeTest, PingsFollowTheClockAndAMissingPongCloses1011) {
  OpenAccepted();
  Advance(config_.ws.ping_interval - 0.5);
  EXPECT_EQ(Receive(), "");
  Advance(0.5);
  EXPECT_EQ(Receive(), ServerFrame(9, "esg"));
  Send(ClientFrame(10, "esg"));  // answered: no timeout
  Advance(config_.ws.ping_timeout);
  EXPECT_EQ(Receive(), ServerFrame(9, "esg"));  // the next ping
  Advance(config_.ws.ping_timeout);             // not answered
  EXPECT_EQ(Receive(), CloseFrame(1011));
  EXPECT_EQ(app_.websockets[0]->disconnect_code(), 1011);
}

TEST_F(WebSocketUpgradeTest, AStoppingWorkerSends1001AndClosesWhenTheClientDoesNotAnswer) {
  OpenAccepted();
  connection_->CloseWebSocket(1001);
  EXPECT_EQ(Receive(), CloseFrame(1001));
  Advance(0.25);  // the next tick arms the 5 s closing deadline
  Advance(4.5);
  ASSERT_NE(connection_, nullptr);
  Advance(1);
  EXPECT_EQ(connection_, nullptr);
  EXPECT_EQ(app_.websockets[0]->disconnect_code(), 1006);
}

TEST_F(WebSocketUpgradeTest, AStoppingWorkerAnswersAHandshakeNotYetAcceptedWith503) {
  Open();
  Send(Handshake());
  connection_->CloseWebSocket(1001);
  std::string got = Receive();
  EXPECT_EQ(got.rfind("HTTP/1.1 503 ", 0), 0u) << got;
}

}  // namespace
}  // namespace esg::engine
