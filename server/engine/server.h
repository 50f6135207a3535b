// Server: the engine inside one worker. Owns the reactor, the listening sockets it was handed, every
// connection, the periodic deadline check, and the shared per-worker caches (Date header, read-buffer
// pool). The Python binding creates one, registers fd() with the event loop, and calls RunOnce() each
// time it becomes readable.
//
// Descriptor exhaustion: when accept() fails for want of descriptors or memory (EMFILE, ENFILE, ENOBUFS,
// ENOMEM), the listeners leave the epoll set for kAcceptBackoff seconds (or until a connection of this
// worker closes), and one log line per kAcceptLogInterval says how many accept() calls failed. The
// pending connections stay in the shared backlog, where a sibling worker with descriptors to spare can
// take them (nginx's practice, its accept_mutex_delay; no reserve descriptor to accept-and-close them).
//
// Graceful stop: StopAccepting() closes this worker's listening descriptors, BeginDrain() makes every
// keep-alive connection close after its current response and closes idle ones; active_requests()
// reports what is still in flight.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "server/engine/clock.h"
#include "server/engine/connection.h"
#include "server/engine/connection_host.h"
#include "server/engine/deferred_flush.h"
#include "server/engine/engine_config.h"
#include "server/engine/reactor.h"
#include "server/http/response_head.h"

namespace esg::engine {

class Server;

struct Listener final : public EventHandler {
  Server* server = nullptr;
  int fd = -1;
  bool unix_socket = false;
  bool tls = false;  // connections speak TLS: make_transport wraps their descriptor
  std::function<std::unique_ptr<Transport>(int fd)> make_transport;
  std::string host;  // server host for the scope (tcp) or socket path (unix)
  int port = 0;
  void OnEvents(uint32_t events) override;
};

class Server final : public ConnectionHost {
 public:
  // `channel` and `clock` must outlive the server.
  Server(EngineConfig config, AppChannel* channel, const Clock& clock = MonotonicClock());
  ~Server() override;

  // Adopts a listening socket (made non-blocking here). False with errno set on failure.
  bool AddListener(int fd, bool unix_socket, const std::string& host, int port);
  // The listener added last (to configure TLS on it).
  Listener* last_listener() { return listeners_.empty() ? nullptr : listeners_.back().get(); }
  int fd() const { return reactor_.fd(); }
  bool ok() const { return reactor_.ok() && timer_fd_ >= 0; }
  int RunOnce();

  void StopAccepting();
  // keep_idle (a drain the master asked for: reload, recycling, scale-down — other workers go on serving):
  // idle keep-alive connections are not closed now but at their keep-alive deadline, and a request that
  // arrives on one meanwhile is answered with Connection: close. A proxy in front (nginx with its upstream
  // keepalive_timeout below ESG's) then always closes first or gets an answer, never a reset for a request
  // it had just written into a connection ESG was closing — which fails a POST with 502.
  void BeginDrain(bool keep_idle = false);
  // Closes every connection (the worker stops), the chunks deferred to the end of the turn written first.
  void CloseAll();
  size_t active_requests() const override { return active_requests_; }
  size_t connection_count() const { return connections_.size(); }
  size_t fresh_connections() const;
  uint64_t requests_served() const { return requests_served_; }
  // Requests ended by --timeout-request (504 or a cut-short response) since the worker started.
  uint64_t request_timeouts() const { return request_timeouts_; }

  size_t active_websockets() const { return active_websockets_; }
  // The per-request figures (config().request_metrics), for the heartbeat; null when not counted.
  const RequestCounters* counters() const { return config_.request_metrics ? &counters_ : nullptr; }
  // Sends every open WebSocket a close frame with `code` (1001 when the worker goes away).
  void CloseWebSockets(int code);
  bool draining() const { return draining_; }
  // Accepts the pending connections of `listener` (its reactor callback).
  void Accept(Listener* listener);

  // ConnectionHost (for connections).
  const EngineConfig& config() const override { return config_; }
  AppChannel* channel() const override { return channel_; }
  const Clock& clock() const override { return clock_; }
  Reactor& reactor() override { return reactor_; }
  std::string_view Date() override { return date_.Get(); }
  char* AcquireBuffer() override;
  void ReleaseBuffer(char* buffer) override;
  void RequestStarted() override { ++active_requests_; }
  void RequestFinished() override { --active_requests_; ++requests_served_; }
  void RequestTimedOut() override { ++request_timeouts_; }
  void WebSocketOpened() override { ++active_websockets_; }
  void WebSocketClosed() override { --active_websockets_; }
  void Retire(Connection* connection) override;
  bool DeferFlush(Connection* connection) override {
    return active_requests_ >= config_.defer_min_requests && deferred_flush_.Add(connection);
  }
  // Where the owner sets how the end-of-turn flush is queued on its loop, and runs it (deferred_flush.h).
  DeferredFlush& deferred_flush() { return deferred_flush_; }
  RequestCounters* request_counters() override { return config_.request_metrics ? &counters_ : nullptr; }

 private:
  class Timer final : public EventHandler {
   public:
    explicit Timer(Server* server) : server_(server) {}
    void OnEvents(uint32_t events) override;

   private:
    Server* server_;
  };

  void Tick();
  void Reap();
  // accept() failed with `error` for want of resources: stop watching the listeners for a while.
  void PauseAccepting(int error);
  void ResumeAccepting();
  void LogAcceptError(int error, const char* what);
  static constexpr double kAcceptBackoff = 0.5;       // seconds the listeners stay unwatched
  static constexpr double kAcceptLogInterval = 5.0;   // at most one log line per this many seconds

  double Now() const { return clock_.Now(); }

  EngineConfig config_;
  AppChannel* channel_;
  const Clock& clock_;
  Reactor reactor_;
  Timer timer_{this};
  int timer_fd_ = -1;
  std::vector<std::unique_ptr<Listener>> listeners_;
  std::vector<Connection*> connections_;
  std::vector<Connection*> retired_;
  DeferredFlush deferred_flush_;
  std::vector<char*> buffer_pool_;
  http::DateCache date_;
  size_t active_requests_ = 0;
  size_t active_websockets_ = 0;
  uint64_t requests_served_ = 0;
  uint64_t request_timeouts_ = 0;
  RequestCounters counters_;
  bool draining_ = false;
  bool accept_paused_ = false;
  double accept_resume_at_ = 0;
  double accept_logged_at_ = -1e9;  // when an accept() error was last logged
  uint64_t accept_failures_ = 0;     // accept() errors since then
};

}  // namespace esg::engine
