// WebSocket opening handshake checks and the 101 response (see websocket_handshake.h).
#include "server/http/websocket_handshake.h"

#include <algorithm>

#include "server/http/token.h"
#include "server/http/websocket.h"

namespace esg::http {

const std::string_view kWebSocketUpgradeRequired =
    "HTTP/1.1 426 Upgrade Required\r\nsec-websocket-version: 13\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";

WebSocketHandshake CheckWebSocketHandshake(const RequestHead& head) {
  WebSocketHandshake result;
  if (!head.upgrade) return result;
  std::string_view upgrade, key, version, extensions;
  for (size_t i = 0; i < head.header_count; ++i) {
    const Header& h = head.headers[i];
    std::string_view name = h.name;
    if (name == "upgrade") upgrade = h.value;
    else if (name == "sec-websocket-key") key = h.value;
    else if (name == "sec-websocket-version") version = h.value;
    else if (name == "sec-websocket-extensions") extensions = h.value;
  }
  bool is_websocket = upgrade.size() == 9 && std::equal(upgrade.begin(), upgrade.end(), "websocket",
                                                        [](char a, char b) { return (a | 0x20) == b; });
  if (!is_websocket || std::string_view(head.method) != "GET") return result;
  if (version != "13") {
    result.verdict = WebSocketHandshake::Verdict::kBadVersion;
    return result;
  }
  if (!ValidWebSocketKey(key)) {
    result.verdict = WebSocketHandshake::Verdict::kBadKey;
    return result;
  }
  result.verdict = WebSocketHandshake::Verdict::kValid;
  result.key = key;
  result.extensions = extensions;
  return result;
}

bool ValidSubprotocol(std::string_view subprotocol) {
  return std::all_of(subprotocol.begin(), subprotocol.end(), [](unsigned char c) { return IsTokenChar(c); });
}

bool BuildWebSocketAccept(std::string_view key, std::string_view subprotocol, std::string_view extensions,
                          const std::vector<std::pair<std::string, std::string>>& headers,
                          const DefaultHeaders& defaults, std::string_view date, std::string* head,
                          std::string* error) {
  if (!ValidSubprotocol(subprotocol)) {
    *error = "invalid subprotocol";
    return false;
  }
  std::string out = "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n";
  out += "sec-websocket-accept: " + WebSocketAccept(key) + "\r\n";
  if (!subprotocol.empty()) out += "sec-websocket-protocol: " + std::string(subprotocol) + "\r\n";
  if (!extensions.empty()) out += "sec-websocket-extensions: " + std::string(extensions) + "\r\n";
  for (const auto& [name, value] : headers) {
    ResponseHead check;
    check.Begin(200);
    const char* reason = nullptr;
    if (!check.Add(name, value, &reason)) {
      *error = std::string("invalid header in websocket.accept: ") + reason;
      return false;
    }
    out += name + ": " + value + "\r\n";
  }
  if (defaults.server) out += "server: esg\r\n";
  if (defaults.date) out += "date: " + std::string(date) + "\r\n";
  out += "\r\n";
  *head = std::move(out);
  return true;
}

}  // namespace esg::http
