// Unit tests for server/http/websocket_handshake: which upgrade heads are WebSocket handshakes, which are
// refused and how (426, 400), and the 101 response an accepting app gets.
#include "server/http/websocket_handshake.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace esg::http {
namespace {

using Verdict = WebSocketHandshake::Verdict;

// The RFC 6455 §1.3 example key and its accept value.
constexpr char kKey[] = "dGhlIHNhbXBsZSBub25jZQ==";
constexpr char kAccept[] = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

RequestHead Head(std::vector<std::pair<std::string, std::string>> headers, std::string method = "GET",
                 bool upgrade = true) {
  RequestHead head;
  head.method = std::move(method);
  head.target = "/chat";
  head.upgrade = upgrade;
  for (auto& [name, value] : headers) head.headers.push_back({name, value});
  head.header_count = head.headers.size();
  return head;
}

RequestHead Valid() {
  return Head({{"host", "x"},
               {"upgrade", "websocket"},
               {"connection", "Upgrade"},
               {"sec-websocket-key", kKey},
               {"sec-websocket-version", "13"}});
}

TEST(WebSocketHandshakeTest, AValidHandshake) {
  RequestHead head = Valid();
  WebSocketHandshake h = CheckWebSocketHandshake(head);
  EXPECT_EQ(h.verdict, Verdict::kValid);
  EXPECT_EQ(h.key, kKey);
  EXPECT_EQ(h.extensions, "");
}

TEST(WebSocketHandshakeTest, TheUpgradeTokenIsCaseInsensitive) {
  RequestHead head = Valid();
  head.headers[1].value = "WebSocket";
  EXPECT_EQ(CheckWebSocketHandshake(head).verdict, Verdict::kValid);
  head.headers[1].value = "websockets";
  EXPECT_EQ(CheckWebSocketHandshake(head).verdict, Verdict::kNotWebSocket);
}

TEST(WebSocketHandshakeTest, OtherProtocolsMethodsAndPlainRequestsAreNotWebSocket) {
  RequestHead h2c = Valid();
  h2c.headers[1].value = "h2c";
  EXPECT_EQ(CheckWebSocketHandshake(h2c).verdict, Verdict::kNotWebSocket);
  RequestHead post = Valid();
  post.method = "POST";
  EXPECT_EQ(CheckWebSocketHandshake(post).verdict, Verdict::kNotWebSocket);
  // Without `Connection: upgrade` llhttp does not flag the head as an upgrade.
  RequestHead plain = Valid();
  plain.upgrade = false;
  EXPECT_EQ(CheckWebSocketHandshake(plain).verdict, Verdict::kNotWebSocket);
}

TEST(WebSocketHandshakeTest, AVersionOtherThan13GetsUpgradeRequired) {
  RequestHead head = Valid();
  head.headers[4].value = "8";
  EXPECT_EQ(CheckWebSocketHandshake(head).verdict, Verdict::kBadVersion);
  head.header_count = 4;  // no version at all
  EXPECT_EQ(CheckWebSocketHandshake(head).verdict, Verdict::kBadVersion);
  EXPECT_EQ(std::string(kWebSocketUpgradeRequired).rfind("HTTP/1.1 426 Upgrade Required\r\n", 0), 0u);
  EXPECT_NE(kWebSocketUpgradeRequired.find("sec-websocket-version: 13\r\n"), std::string_view::npos);
  EXPECT_NE(kWebSocketUpgradeRequired.find("connection: close\r\n"), std::string_view::npos);
}

TEST(WebSocketHandshakeTest, AKeyThatIsNotSixteenBytesInBase64IsBad) {
  for (const char* key : {"", "abc", "dGhlIHNhbXBsZSBub25jZQ", "dGhlIHNhbXBsZSBub25jZQ==="}) {
    RequestHead head = Valid();
    head.headers[3].value = key;
    EXPECT_EQ(CheckWebSocketHandshake(head).verdict, Verdict::kBadKey) << key;
  }
}

TEST(WebSocketHandshakeTest, TheLastOfRepeatedHeadersCountsAndExtensionsAreKept) {
  RequestHead head = Valid();
  head.headers.push_back({"sec-websocket-version", "12"});
  head.headers.push_back({"sec-websocket-extensions", "permessage-deflate; client_max_window_bits"});
  head.header_count = head.headers.size();
  EXPECT_EQ(CheckWebSocketHandshake(head).verdict, Verdict::kBadVersion);
  head.headers[5].value = "13";
  WebSocketHandshake h = CheckWebSocketHandshake(head);
  EXPECT_EQ(h.verdict, Verdict::kValid);
  EXPECT_EQ(h.extensions, "permessage-deflate; client_max_window_bits");
}

TEST(WebSocketHandshakeTest, SubprotocolsAreTokens) {
  EXPECT_TRUE(ValidSubprotocol(""));
  EXPECT_TRUE(ValidSubprotocol("chat.v2"));
  EXPECT_FALSE(ValidSubprotocol("chat v2"));
  EXPECT_FALSE(ValidSubprotocol("a,b"));
}

TEST(WebSocketHandshakeTest, TheAcceptResponse) {
  DefaultHeaders defaults;
  std::string head, error;
  ASSERT_TRUE(BuildWebSocketAccept(kKey, "chat", "permessage-deflate", {{"x-id", "7"}}, defaults,
                                   "Thu, 01 Jan 2026 00:00:00 GMT", &head, &error));
  EXPECT_EQ(head,
            "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n"
            "sec-websocket-accept: " + std::string(kAccept) + "\r\nsec-websocket-protocol: chat\r\n"
            "sec-websocket-extensions: permessage-deflate\r\nx-id: 7\r\nserver: esg\r\n"
            "date: Thu, 01 Jan 2026 00:00:00 GMT\r\n\r\n");
  defaults.server = false;
  defaults.date = false;
  ASSERT_TRUE(BuildWebSocketAccept(kKey, "", "", {}, defaults, "", &head, &error));
  EXPECT_EQ(head, "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n"
                  "sec-websocket-accept: " + std::string(kAccept) + "\r\n\r\n");
}

TEST(WebSocketHandshakeTest, AnInvalidChoiceOfTheAppIsRefused) {
  DefaultHeaders defaults;
  std::string head = "unchanged", error;
  EXPECT_FALSE(BuildWebSocketAccept(kKey, "a b", "", {}, defaults, "", &head, &error));
  EXPECT_EQ(error, "invalid subprotocol");
  EXPECT_FALSE(BuildWebSocketAccept(kKey, "", "", {{"bad name", "v"}}, defaults, "", &head, &error));
  EXPECT_EQ(error.rfind("invalid header in websocket.accept: ", 0), 0u) << error;
  EXPECT_EQ(head, "unchanged");
}

}  // namespace
}  // namespace esg::http
