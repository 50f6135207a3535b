// The WebSocket opening handshake (RFC 6455 §4.2), server side, as pure functions on a parsed request
// head: is this upgrade a WebSocket handshake, is it well formed (and if not, what answers it), and the
// 101 response for an app that accepts. Nothing here touches a socket: the engine's connection
// (server/engine/websocket_upgrade.h) calls these and does the I/O, as h2o's lib/websocket.c owns the
// handshake while its HTTP/1 code knows nothing of WebSocket.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "server/http/request_head.h"
#include "server/http/response_head.h"

namespace esg::http {

struct WebSocketHandshake {
  enum class Verdict {
    kNotWebSocket,  // another protocol, or not a GET: the request is an ordinary HTTP request
    kBadVersion,    // Sec-WebSocket-Version is not 13: answer kWebSocketUpgradeRequired (426) and close
    kBadKey,        // Sec-WebSocket-Key is not the base64 of 16 bytes: answer 400
    kValid,         // a handshake to offer the app
  };
  Verdict verdict = Verdict::kNotWebSocket;
  // When kValid: the Sec-WebSocket-Key, and the Sec-WebSocket-Extensions offer (empty if none; the input
  // of permessage-deflate negotiation, NegotiateDeflate). Both point into the head.
  std::string_view key;
  std::string_view extensions;
};

// Judges an upgrade request. The Connection: upgrade token and the presence of an Upgrade header are
// llhttp's to check (head.upgrade); a head without them is kNotWebSocket. Upgrade must be `websocket`
// (ASCII case-insensitive) and the method GET. When a header is repeated, the last one counts.
WebSocketHandshake CheckWebSocketHandshake(const RequestHead& head);

// The complete 426 response to a handshake with an unsupported version (names version 13, closes).
extern const std::string_view kWebSocketUpgradeRequired;

// A subprotocol the app may choose: token characters only (empty: none chosen).
bool ValidSubprotocol(std::string_view subprotocol);

// Builds the 101 response accepting the handshake with `key`: the accept key, the subprotocol (empty:
// none), the negotiated extensions (empty: none), the app's extra headers (each checked as a response
// header would be), and the server/date defaults. False with *error set when the app's choice is invalid.
bool BuildWebSocketAccept(std::string_view key, std::string_view subprotocol, std::string_view extensions,
                          const std::vector<std::pair<std::string, std::string>>& headers,
                          const DefaultHeaders& defaults, std::string_view date, std::string* head,
                          std::string* error);

}  // namespace esg::http
