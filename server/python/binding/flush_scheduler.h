// FlushScheduler: queues the engine's end-of-turn flush (server/engine/deferred_flush.h) on the asyncio loop.
// When the first connection of a turn defers its response chunks, the engine calls the schedule installed
// here: loop.call_soon(flush), a plain C callable (no pybind11 dispatch) that runs the Server's
// DeferredFlush. The loop runs it after the callbacks already queued — the tasks that sent in this turn —
// and never sleeps while it is queued. Needs the GIL (the engine runs on the loop's thread).
#pragma once

#include <Python.h>

#include <memory>

#include "server/engine/server.h"

namespace esg::python {

struct FlushTarget;  // the server a queued flush runs, or null once it is gone (flush_scheduler.cc)

class FlushScheduler {
 public:
  // Installs the schedule on `server` (`loop` borrowed; its call_soon is looked up once). False with a
  // Python error set when the loop has no call_soon.
  bool Install(engine::Server* server, PyObject* loop);
  // The server is going away: a flush still queued on the loop does nothing.
  ~FlushScheduler();

 private:
  std::shared_ptr<FlushTarget> target_;
};

}  // namespace esg::python
