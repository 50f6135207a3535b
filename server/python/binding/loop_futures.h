// LoopFutures: where an exchange gets a loop future when receive() or send() has to wait (the body is not
// buffered yet, or the write buffer is over its high-water mark). The AsgiChannel owns one per event loop
// and hands its address to every exchange it creates, so exchanges need nothing else of the channel.
#pragma once

#include <Python.h>

#include "server/python/binding/py_ref.h"

namespace esg::python {

class LoopFutures {
 public:
  // `loop`: the asyncio event loop (borrowed); its create_future is looked up once, here.
  explicit LoopFutures(PyObject* loop) : create_future_(PyRef::Steal(PyObject_GetAttrString(loop, "create_future"))) {}

  // New reference to a fresh future of the loop, or null with a Python error set. Needs the GIL.
  PyObject* NewFuture() { return PyObject_CallNoArgs(create_future_.get()); }

  // True when `fut` is done: a receive() future cancelled while it waited (asyncio.wait_for timing out, an
  // anyio cancel scope, a cancelled task). Its exchange then lets it go, so the next receive() is accepted
  // and the next message is kept for it rather than dropped. False while pending, or on an error (cleared).
  static bool IsDone(PyObject* fut) {
    PyObject* done = PyObject_CallMethod(fut, "done", nullptr);
    if (!done) PyErr_Clear();
    bool result = done == Py_True;
    Py_XDECREF(done);
    return result;
  }

 private:
  PyRef create_future_;
};

}  // namespace esg::python
