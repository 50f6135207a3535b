// AppChannel: where the engine hands requests and WebSocket handshakes to the application. The Python
// binding implements it (server/python AsgiChannel); tests implement it with a few lines (see
// tests/unit/server/engine/connection_test.cc). The engine calls it on the reactor's thread only.
#pragma once

#include <memory>

#include "server/http/request_head.h"

namespace esg::engine {

class HttpStream;
class WebSocketStream;

class AppChannel {
 public:
  virtual ~AppChannel() = default;
  // A request head is complete (for a request with a body: and the body bytes already read are parsed).
  // `head` is valid only during the call. The channel may answer at once, from inside this call (an eager
  // app): the connection is ready for that.
  virtual void OnRequest(const std::shared_ptr<HttpStream>& stream, const http::RequestHead& head) = 0;
  // A WebSocket opening handshake is complete and valid. `head` is valid only during the call. The channel
  // accepts (WebSocketStream::Accept) or refuses (Close, Fail), now or later.
  virtual void OnWebSocket(const std::shared_ptr<WebSocketStream>& stream, const http::RequestHead& head) = 0;
};

}  // namespace esg::engine
