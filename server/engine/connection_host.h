// ConnectionHost: what a Connection uses from the Server that accepted it — the configuration, the app
// channel, the reactor, the clock, the Date header, the read-buffer pool and the worker's counters. Server
// implements it; a test stands in for the server with a few lines (tests/unit/server/engine/
// connection_test.cc), so a connection runs on a socketpair with a fake app channel and a fake clock.
// A connection reads config(), channel() and clock() once, when it is created: they must outlive it.
#pragma once

#include <cstddef>
#include <string_view>

#include "server/common/request_counters.h"
#include "server/engine/app_channel.h"
#include "server/engine/clock.h"
#include "server/engine/engine_config.h"
#include "server/engine/reactor.h"

namespace esg::engine {

class Connection;

class ConnectionHost {
 public:
  // The size of the pooled read buffers (AcquireBuffer).
  static constexpr size_t kBufferSize = 16 * 1024;

  virtual ~ConnectionHost() = default;
  virtual const EngineConfig& config() const = 0;
  virtual AppChannel* channel() const = 0;
  virtual const Clock& clock() const = 0;
  // Where the connection registers its descriptor (Start) and unregisters it (Close).
  virtual Reactor& reactor() = 0;
  // The current Date header value (cached per second).
  virtual std::string_view Date() = 0;
  // A kBufferSize read buffer, and its return once the connection has no unparsed bytes.
  virtual char* AcquireBuffer() = 0;
  virtual void ReleaseBuffer(char* buffer) = 0;
  // Requests in flight in this worker (--limit-concurrency), and their start and end.
  virtual size_t active_requests() const = 0;
  virtual void RequestStarted() = 0;
  virtual void RequestFinished() = 0;
  // A request was ended by --timeout-request (counted per worker: Server::request_timeouts()).
  virtual void RequestTimedOut() = 0;
  virtual void WebSocketOpened() = 0;
  virtual void WebSocketClosed() = 0;
  // The worker's per-request counters (request_metrics.h), or null when nobody reads them (the default):
  // a connection reads this once, when it is created.
  virtual RequestCounters* request_counters() { return nullptr; }
  // Lists `connection`, whose queue holds deferred response bytes, for a call of its FlushDeferred() once the
  // callbacks of the current loop turn are over (deferred_flush.h); false: it cannot, write now (the default).
  virtual bool DeferFlush(Connection* connection) {
    (void)connection;
    return false;
  }
  // The connection is closed: the host deletes it after the current event batch (never during a call
  // into the connection).
  virtual void Retire(Connection* connection) = 0;
};

}  // namespace esg::engine
