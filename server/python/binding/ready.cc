// Ready (see ready.h): an awaitable whose iterator finishes on the first step.
#include "server/python/binding/ready.h"

namespace esg::python {

PyObject* ready_internal::done = nullptr;  // Ready with no value, shared

namespace {

// Ready: an awaitable that completes at once. `await` on it never suspends the coroutine: its iterator
// finishes on the first step (StopIteration carrying the value, or nothing for None).
struct ReadyObject {
  PyObject_HEAD
  PyObject* value;  // owned; null for None
};

PyObject* ReadyAwait(PyObject* self) {
  Py_INCREF(self);
  return self;
}

PyObject* ReadyNext(PyObject* self) {
  auto* r = reinterpret_cast<ReadyObject*>(self);
  if (r->value) {
    PyObject* value = r->value;
    r->value = nullptr;
    // StopIteration(value): wrap so a tuple or exception value is not unpacked or raised.
    PyObject* stop = PyObject_CallOneArg(PyExc_StopIteration, value);
    Py_DECREF(value);
    if (stop) {
      PyErr_SetObject(PyExc_StopIteration, stop);
      Py_DECREF(stop);
    }
  }
  return nullptr;  // no exception set: exhausted, result None
}

// am_send: how CPython 3.10 and 3.11 step an awaited iterator (PyIter_Send) — the value is handed back
// directly, without making and catching a StopIteration (≈1.5k instructions per await). 3.12+ step
// non-generators with tp_iternext, which stays as the fallback with the same results.
PySendResult ReadySend(PyObject* self, PyObject* /*arg*/, PyObject** result) {
  auto* r = reinterpret_cast<ReadyObject*>(self);
  if (r->value) {
    *result = r->value;  // the reference moves to the caller
    r->value = nullptr;
  } else {
    *result = Py_NewRef(Py_None);
  }
  return PYGEN_RETURN;
}

void ReadyDealloc(PyObject* self) {
  Py_XDECREF(reinterpret_cast<ReadyObject*>(self)->value);
  Py_TYPE(self)->tp_free(self);
}

PyAsyncMethods kReadyAsync = {ReadyAwait, nullptr, nullptr, ReadySend};

PyTypeObject ReadyType = {PyVarObject_HEAD_INIT(nullptr, 0)};

PyObject* NewReady(PyObject* value /* stolen */) {
  auto* r = PyObject_New(ReadyObject, &ReadyType);
  if (!r) {
    Py_XDECREF(value);
    return nullptr;
  }
  r->value = value;
  return reinterpret_cast<PyObject*>(r);
}

}  // namespace

bool InitReadyType() {
  if (ready_internal::done) return true;
  ReadyType.tp_name = "esg._esg.Ready";
  ReadyType.tp_basicsize = sizeof(ReadyObject);
  ReadyType.tp_flags = Py_TPFLAGS_DEFAULT;
  ReadyType.tp_dealloc = ReadyDealloc;
  ReadyType.tp_as_async = &kReadyAsync;
  ReadyType.tp_iter = PyObject_SelfIter;
  ReadyType.tp_iternext = ReadyNext;
  ReadyType.tp_doc = "An awaitable that is already complete.";
  if (PyType_Ready(&ReadyType) < 0) return false;
  ready_internal::done = NewReady(nullptr);
  return ready_internal::done != nullptr;
}

PyObject* ReadyWith(PyObject* value) { return NewReady(value); }

}  // namespace esg::python
