// RFC 9110 §5.6.2 token characters (header names, methods, WebSocket subprotocols): one lookup table
// shared by the request parser and the response encoder.
#pragma once

namespace esg::http {

bool IsTokenChar(unsigned char c);

}  // namespace esg::http
