// Reactor: the engine's epoll instance. It runs on the Python thread: the worker registers fd() once
// with the asyncio (or uvloop) loop through `loop.add_reader`, and each wakeup calls RunOnce(), which
// handles every ready event in one batch. No thread, no cross-thread hop, one Python call per batch.
//
// Why not Asio's io_context here: it cannot be driven from an outer event loop without a helper thread
// or reaching into its private epoll descriptor; the master, which owns its thread, does use Asio.
// Registration is edge-triggered (EPOLLET) for reads and writes, done once per descriptor.
#pragma once

#include <sys/epoll.h>

#include <cstdint>

namespace esg::engine {

class EventHandler {
 public:
  virtual ~EventHandler() = default;
  virtual void OnEvents(uint32_t events) = 0;
};

class Reactor {
 public:
  Reactor();
  ~Reactor();
  Reactor(const Reactor&) = delete;
  Reactor& operator=(const Reactor&) = delete;

  int fd() const { return epfd_; }
  bool ok() const { return epfd_ >= 0; }
  bool Add(int fd, uint32_t events, EventHandler* handler);
  void Remove(int fd);
  // Dispatches ready events until none is left (at most `max_rounds` epoll_wait calls). Never blocks.
  int RunOnce(int max_rounds = 1);

 private:
  int epfd_ = -1;
};

}  // namespace esg::engine
