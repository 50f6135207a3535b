// EngineConfig: the settings the engine itself reads (a worker builds it from the master's Config).
#pragma once

#include <memory>
#include <string>

#include "server/engine/websocket_stream.h"
#include "server/http/access_log_format.h"
#include "server/http/parser_limits.h"
#include "server/http/response_head.h"

namespace esg::engine {

struct EngineConfig {
  http::ParserLimits limits;
  http::DefaultHeaders defaults;
  double timeout_keep_alive = 5.0;       // idle keep-alive connections close after this
  double timeout_request_header = 30.0;  // the whole request head must arrive within this
  double timeout_request_body = 60.0;    // longest pause in a body the app is waiting for (408 / close)
  double timeout_send = 60.0;            // longest time queued response bytes may make no progress
  double timeout_request = 0;            // an HTTP request's response must be complete within this (0: off)
  bool access_log = true;
  std::shared_ptr<const http::AccessLogFormat> access_log_format;  // null: uvicorn's default line
  size_t limit_concurrency = 0;
  bool websocket = true;                 // --ws none turns upgrades into plain requests
  bool ws_per_message_deflate = true;
  WebSocketLimits ws;          // 503 for requests beyond this many in flight (0: no limit)
  size_t write_high_water = 64 * 1024;   // send() waits while more than this is queued
  size_t read_high_water = 64 * 1024;    // reading pauses while more body than this waits for the app
  // Response chunks are deferred to the end of the loop turn (deferred_flush.h) only while at least this
  // many requests are in flight: with fewer, a turn has few writes to run back to back and the queued
  // callback costs more than it saves. Not an option (measured, tests/bench/README.md); tests lower it.
  size_t defer_min_requests = 4;
  // --coalesce-streams: a connection streaming in consecutive turns writes every other turn (deferred_flush.h).
  bool coalesce_streams = false;
  bool request_metrics = false;          // count RequestCounters (the master serves --metrics-bind)
  // --http2: TLS listeners offer ALPN h2 (tls_context.h); cleartext ones (TCP, UNIX) recognise the h2c
  // connection preface. Connections that speak it are driven by server/engine/http2_link.h.
  bool http2 = false;
  uint32_t http2_max_concurrent_streams = 100;  // SETTINGS_MAX_CONCURRENT_STREAMS
};

}  // namespace esg::engine
