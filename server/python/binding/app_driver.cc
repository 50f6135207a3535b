// AppDriver implementation: a coroutine-like C object (send/throw/close/__await__) around the app's coroutine.
#include "server/python/binding/app_driver.h"

#include "server/python/binding/app_cancel.h"
#include "server/python/binding/exchange.h"
#include "server/python/binding/python_error.h"

namespace esg::python {
namespace {

struct DriverObject {
  PyObject_HEAD
  PyObject* coro;      // the app's coroutine
  PyObject* pending;   // what it yielded at the eager step, for the Task's first step; == coro: not started
  PyObject* exchange;
  PyObject* tracker;
  PyObject* task;      // the Task running this driver (a cycle, cleared at the end)
  bool websocket;
  bool done;
};

PyTypeObject DriverType = {PyVarObject_HEAD_INIT(nullptr, 0)};
PyObject* g_ended = nullptr;  // "ended"
PyObject* g_throw = nullptr;  // "throw"
PyObject* g_close = nullptr;  // "close"
PyObject* g_cancel = nullptr;  // "cancel"
PyObject* g_finish = nullptr;  // "finish"
PyObject* g_fail = nullptr;    // "fail"

DriverObject* AsDriver(PyObject* self) { return reinterpret_cast<DriverObject*>(self); }

// The app is over: the exchange is finished or failed, the tracker told, the references dropped.
void End(DriverObject* d, bool failed) {
  d->done = true;
  Py_CLEAR(d->pending);
  EndExchange(d->exchange, failed);
  if (d->tracker && d->task) {
    PyObject* args[] = {d->tracker, d->task, d->websocket ? Py_True : Py_False};
    PyObject* r = PyObject_VectorcallMethod(g_ended, args, 3, nullptr);
    if (!r) LogPythonError("Cannot untrack the ASGI application task");
    Py_XDECREF(r);
  }
  Py_CLEAR(d->task);
  Py_CLEAR(d->tracker);
  Py_CLEAR(d->exchange);
  Py_CLEAR(d->coro);
}

// fut.cancel() when what the app awaited is a future (anything else, e.g. the None of a bare yield, is left).
void CancelAwaited(PyObject* awaited) {
  if (awaited == Py_None) return;
  PyObject* cancel = PyObject_GetAttr(awaited, g_cancel);
  PyObject* r = cancel ? PyObject_CallNoArgs(cancel) : nullptr;
  if (!r) PyErr_Clear();
  Py_XDECREF(r);
  Py_XDECREF(cancel);
}

// One resumption: sends `value` into the app, or throw(*throw_args) when given. Returns what the app
// yielded (new reference), or null once it is over: without an error set (the Task's result is None).
PyObject* Step(DriverObject* d, PyObject* value, PyObject* throw_args) {
  if (d->done) return nullptr;
  if (d->pending) {
    PyObject* pending = d->pending;
    d->pending = nullptr;
    if (pending != d->coro && !throw_args) return pending;  // the Task now awaits what the app awaited
    // Not started yet, or cancelled before the first resumption: go on below. In the latter case the
    // future the app awaited was never handed to the Task, so Task.cancel() could not cancel it as it
    // cancels the future it waits on: done here (a receive() future is then released by the exchange).
    if (pending != d->coro) CancelAwaited(pending);
    Py_DECREF(pending);
  }
  PyObject* out = nullptr;
  PySendResult r;
  if (throw_args) {
    PyObject* method = PyObject_GetAttr(d->coro, g_throw);
    out = method ? PyObject_Call(method, throw_args, nullptr) : nullptr;
    Py_XDECREF(method);
    if (out) {
      r = PYGEN_NEXT;
    } else if (PyErr_ExceptionMatches(PyExc_StopIteration)) {
      PyErr_Clear();
      r = PYGEN_RETURN;
    } else {
      r = PYGEN_ERROR;
    }
  } else {
    r = PyIter_Send(d->coro, value, &out);
  }
  if (r == PYGEN_NEXT) return out;
  Py_XDECREF(out);
  End(d, r == PYGEN_ERROR);
  return nullptr;
}

PyObject* DriverIterNext(PyObject* self) { return Step(AsDriver(self), Py_None, nullptr); }

PyObject* DriverSend(PyObject* self, PyObject* value) {
  PyObject* r = Step(AsDriver(self), value, nullptr);
  if (!r && !PyErr_Occurred()) PyErr_SetNone(PyExc_StopIteration);
  return r;
}

PyObject* DriverThrow(PyObject* self, PyObject* args) {
  if (PyTuple_GET_SIZE(args) < 1 || PyTuple_GET_SIZE(args) > 3) {
    PyErr_SetString(PyExc_TypeError, "throw() takes 1 to 3 arguments");
    return nullptr;
  }
  DriverObject* d = AsDriver(self);
  if (d->done) {  // like a finished coroutine: the exception comes straight back
    PyObject* exc = PyTuple_GET_ITEM(args, 0);
    if (PyExceptionInstance_Check(exc)) {
      PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(exc)), exc);
    } else {
      PyErr_SetObject(exc, PyTuple_GET_SIZE(args) > 1 ? PyTuple_GET_ITEM(args, 1) : nullptr);
    }
    return nullptr;
  }
  PyObject* r = Step(d, nullptr, args);
  if (!r && !PyErr_Occurred()) PyErr_SetNone(PyExc_StopIteration);
  return r;
}

PyObject* DriverClose(PyObject* self, PyObject*) {
  DriverObject* d = AsDriver(self);
  if (d->done) Py_RETURN_NONE;
  PyObject* r = PyObject_CallMethodNoArgs(d->coro, g_close);
  if (!r) LogPythonError("Exception while closing the ASGI application");
  Py_XDECREF(r);
  End(d, false);
  Py_RETURN_NONE;
}

PyObject* DriverAwait(PyObject* self) { return Py_NewRef(self); }

// A driver dropped while the app is still suspended (its Task destroyed pending, e.g. at loop close):
// the exchange fails and the tracker is told, as when the app raises.
void DriverFinalize(PyObject* self) {
  DriverObject* d = AsDriver(self);
  if (d->done || !d->coro) return;
  PyObject *type, *value, *tb;
  PyErr_Fetch(&type, &value, &tb);
  PyObject* r = PyObject_CallMethodNoArgs(d->coro, g_close);
  if (!r) PyErr_Clear();
  Py_XDECREF(r);
  End(d, false);
  PyErr_Restore(type, value, tb);
}

int DriverTraverse(PyObject* self, visitproc visit, void* arg) {
  DriverObject* d = AsDriver(self);
  Py_VISIT(d->coro);
  Py_VISIT(d->pending);
  Py_VISIT(d->exchange);
  Py_VISIT(d->tracker);
  Py_VISIT(d->task);
  return 0;
}

int DriverClear(PyObject* self) {
  DriverObject* d = AsDriver(self);
  Py_CLEAR(d->pending);
  Py_CLEAR(d->task);
  Py_CLEAR(d->tracker);
  Py_CLEAR(d->exchange);
  Py_CLEAR(d->coro);
  return 0;
}

void DriverDealloc(PyObject* self) {
  if (PyObject_CallFinalizerFromDealloc(self) < 0) return;  // resurrected
  PyObject_GC_UnTrack(self);
  DriverClear(self);
  PyObject_GC_Del(self);
}

PyMethodDef kDriverMethods[] = {
    {"send", DriverSend, METH_O, "Resume the app with a value."},
    {"throw", DriverThrow, METH_VARARGS, "Raise an exception inside the app."},
    {"close", DriverClose, METH_NOARGS, "Close the app's coroutine."},
    {nullptr, nullptr, 0, nullptr},
};

PyAsyncMethods kDriverAsync = {DriverAwait, nullptr, nullptr, nullptr};

}  // namespace

void EndExchange(PyObject* exchange, bool failed) {
  if (failed) {
    // The CancelledError of --timeout-request is the expected end, not an app error: no traceback.
    if (!(ExchangeTimedOut(exchange) && ClearTimeoutCancellation())) LogPythonError("Exception in ASGI application");
    PyObject* r = PyObject_CallMethodNoArgs(exchange, g_fail);
    if (!r) LogPythonError("Cannot fail the ASGI exchange");
    Py_XDECREF(r);
    return;
  }
  if (FinishExchange(exchange)) return;  // an HTTP exchange is finished in C; a WebSocket one by its method
  PyObject* r = PyObject_CallMethodNoArgs(exchange, g_finish);
  if (!r) LogPythonError("Cannot finish the ASGI exchange");
  Py_XDECREF(r);
}

bool InitAppDriverType() {
  DriverType.tp_name = "esg._esg.AppDriver";
  DriverType.tp_basicsize = sizeof(DriverObject);
  DriverType.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC;
  DriverType.tp_dealloc = DriverDealloc;
  DriverType.tp_finalize = DriverFinalize;
  DriverType.tp_traverse = DriverTraverse;
  DriverType.tp_clear = DriverClear;
  DriverType.tp_as_async = &kDriverAsync;
  DriverType.tp_iter = PyObject_SelfIter;
  DriverType.tp_iternext = DriverIterNext;
  DriverType.tp_methods = kDriverMethods;
  DriverType.tp_doc = "Continues an eagerly started ASGI app inside its Task.";
  if (PyType_Ready(&DriverType) < 0) return false;
  g_ended = PyUnicode_InternFromString("ended");
  g_throw = PyUnicode_InternFromString("throw");
  g_close = PyUnicode_InternFromString("close");
  g_cancel = PyUnicode_InternFromString("cancel");
  g_finish = PyUnicode_InternFromString("finish");
  g_fail = PyUnicode_InternFromString("fail");
  return g_ended && g_throw && g_close && g_cancel && g_finish && g_fail;
}

PyObject* NewAppDriver(PyObject* coro, PyObject* yielded, PyObject* exchange, PyObject* tracker, PyObject* task,
                       bool websocket) {
  DriverObject* d = PyObject_GC_New(DriverObject, &DriverType);
  if (!d) return nullptr;
  d->coro = Py_NewRef(coro);
  d->pending = Py_XNewRef(yielded);
  d->exchange = Py_NewRef(exchange);
  d->tracker = Py_NewRef(tracker);
  d->task = Py_NewRef(task);
  d->websocket = websocket;
  d->done = false;
  PyObject_GC_Track(d);
  return reinterpret_cast<PyObject*>(d);
}

PyObject* AppDriverType() { return reinterpret_cast<PyObject*>(&DriverType); }

}  // namespace esg::python
