// The access log line of one HTTP response: uvicorn's default line, or the --access-log-format one
// (server/http/access_log_format.h). Kept out of connection.cc so the call sites stay one line each.
// Called on the reactor's thread; WebSocket handshakes keep their own lines (websocket_upgrade.cc).
#pragma once

#include "server/engine/engine_config.h"
#include "server/engine/peer_info.h"
#include "server/engine/stream.h"
#include "server/http/request_head.h"

namespace esg::engine {

// At the request head, with a custom format only: copies the request headers the format reads (each
// value cut at AccessLogFormat::kMaxHeaderBytes) and, if it shows a duration, reads the clock once.
void CaptureForAccessLog(const EngineConfig& config, const http::RequestHead& head, HttpStream* stream);

// Writes the line for a completed response (the caller checks log::AccessEnabled()).
void WriteAccessLog(const EngineConfig& config, const PeerInfo& peer, HttpStream& stream);

}  // namespace esg::engine
