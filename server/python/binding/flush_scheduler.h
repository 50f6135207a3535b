// FlushScheduler: queues the engine's end-of-turn flush (server/engine/deferred_flush.h) on the asyncio loop.
// When the first connection of a turn defers its response chunks, the engine calls the schedule installed
// here: loop.call_soon(flush), a plain C callable (no pybind11 dispatch) that runs the Server's
// DeferredFlush. The loop runs it after the callbacks already queued — the tasks that sent in this turn —
// and never sleeps while it is queued. Needs the GIL (the engine runs on the loop's thread).
//
// After a flush that wrote, it calls loop.time(). uvloop (libuv) caches the loop's clock at the start of each
// iteration and computes the poll timeout from that cached value; a flush runs in the iteration's callbacks,
// before the poll, and its writes (hundreds of streams: about a millisecond) would make every timer due
// during the wait fire that much late: with 256 streams, `await asyncio.sleep(0.002)` between events ended
// 1.3-1.8 ms late (Granian: 0.63-0.68 ms), and 0.45-0.52 ms late with the clock read (tests/bench/README.md,
// "SSE"). uvloop's time() refreshes the cache; asyncio's reads time.monotonic() and changes nothing.
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
  // The server is going away: a flush still queued on the loop does nothing. Needs the GIL.
  ~FlushScheduler();

 private:
  std::shared_ptr<FlushTarget> target_;
};

}  // namespace esg::python
