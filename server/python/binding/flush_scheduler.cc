// FlushScheduler implementation: loop.call_soon of a C callable bound to the Server it flushes.
#include "server/python/binding/flush_scheduler.h"

#include "server/python/binding/py_ref.h"

namespace esg::python {

struct FlushTarget {
  engine::Server* server;
  PyRef loop;  // whose time() a flush that wrote calls
};

namespace {

constexpr const char* kCapsuleName = "esg.engine.FlushTarget";

// The callable's self: a capsule owning a shared_ptr to the target (the server, or null once it is gone).
PyObject* RunFlush(PyObject* self, PyObject*) {
  auto* target = static_cast<std::shared_ptr<FlushTarget>*>(PyCapsule_GetPointer(self, kCapsuleName));
  if (!target) return nullptr;
  engine::Server* server = (*target)->server;
  if (server && server->deferred_flush().Run(/*scheduled=*/true) > 0) {
    // The writes took time the loop's cached clock has not seen (flush_scheduler.h): read it afresh. Looked
    // up on every call, as the loop's own code would (a loop class may be wrapped after start).
    static PyObject* name = nullptr;
    if (!name && !(name = PyUnicode_InternFromString("time"))) return nullptr;  // MemoryError set
    PyObject* now = PyObject_CallMethodNoArgs((*target)->loop.get(), name);
    if (!now) return nullptr;
    Py_DECREF(now);
  }
  Py_RETURN_NONE;
}

void FreeTarget(PyObject* capsule) {
  delete static_cast<std::shared_ptr<FlushTarget>*>(PyCapsule_GetPointer(capsule, kCapsuleName));
}

}  // namespace

bool FlushScheduler::Install(engine::Server* server, PyObject* loop) {
  PyRef call_soon = PyRef::Steal(PyObject_GetAttrString(loop, "call_soon"));
  if (!call_soon) return false;
  target_ = std::make_shared<FlushTarget>(FlushTarget{server, PyRef::Borrow(loop)});
  auto* held = new std::shared_ptr<FlushTarget>(target_);
  PyRef capsule = PyRef::Steal(PyCapsule_New(held, kCapsuleName, &FreeTarget));
  if (!capsule) {
    delete held;
    return false;
  }
  static PyMethodDef def = {"flush_deferred", &RunFlush, METH_NOARGS,
                            "Write the response chunks deferred in this loop turn."};
  PyRef flush = PyRef::Steal(PyCFunction_New(&def, capsule.get()));
  if (!flush) return false;
  server->deferred_flush().set_schedule([call_soon, flush]() {
    PyObject* handle = PyObject_CallOneArg(call_soon.get(), flush.get());
    if (!handle) {
      // The loop is closing (RuntimeError): the connection writes at once instead.
      PyErr_Clear();
      return false;
    }
    Py_DECREF(handle);
    return true;
  });
  return true;
}

FlushScheduler::~FlushScheduler() {
  if (target_) {
    target_->server = nullptr;
    target_->loop = PyRef();  // a flush still queued holds the target, not the loop
  }
}

}  // namespace esg::python
