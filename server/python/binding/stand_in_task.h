// StandInTask: makes the eager step's stand-in Task (allocated with Task.__new__, not initialised: see
// server/DESIGN_NOTES.md "Eager start instead of a Task per request") answer like the Task it becomes.
// asyncio.current_task() returns it while the app runs its first step, and apps use it: anyio's
// CancelScope.cancel() formats it (Starlette's request.is_disconnected()), others call done(),
// get_loop(), get_coro() or add_done_callback(). On a bare Task.__new__ object all of those raise
// "Future object is not initialized" (repr() an AssertionError). Task.__init__ would fix that but also
// schedules a step and registers the task, which is what eager start saves. Instead, the Task's loop,
// coroutine and context slots are written directly (a few stores, no call): their offsets are found once
// by probing a Task initialised the normal way, and verified through the public getters; if the probe
// fails (another Python's layout), nothing is written and the stand-in stays bare, as before.
// At the suspension Save()/Restore() carry what the app did to the stand-in (done callbacks, a cancel()) over
// the Task.__init__ that turns it into the real Task, which would otherwise reset them.
// Every function needs the GIL.
#pragma once

#include <Python.h>

#include "server/python/binding/py_ref.h"

namespace esg::python {

class StandInTask {
 public:
  // Probes asyncio's C Task (`task_type`) on a stand-in loop (nothing is scheduled on `loop`, the worker's
  // loop the stand-ins get); false (nothing set up, no Python error) when the layout is not recognised.
  bool Init(PyObject* task_type, PyObject* loop);

  // Gives a fresh `task` (Task.__new__) its loop, coroutine and context. No-op when Init failed.
  void Prepare(PyObject* task, PyObject* coro, PyObject* context) const;

  // The app finished in its first step while something else holds its task (a task awaiting it, a
  // reference kept): the stand-in is marked done (result None) so that waiter wakes, as when a Task ends.
  void FinishIfHeld(PyObject* task) const;

  // Around Task.__init__(task, ...) at the app's suspension: Save() before, Restore() after.
  struct Carried {
    PyRef callbacks;  // list of (callback, context), or null
    PyRef cancel_message;  // set (None or the message) when the app cancelled its own task
  };
  Carried Save(PyObject* task) const;
  void Restore(PyObject* task, const Carried& carried) const;

 private:
  Py_ssize_t loop_offset_ = -1;
  Py_ssize_t coro_offset_ = -1;
  Py_ssize_t context_offset_ = -1;  // -1 on 3.10 (Task() takes no context=): left unset
  PyRef loop_;
  PyRef future_set_result_;  // asyncio.Future.set_result (Task's own refuses to be called)
};

}  // namespace esg::python
