// StandInTask implementation: the probe of asyncio's Task layout, and the stand-in's slots.
#include "server/python/binding/stand_in_task.h"

namespace esg::python {
namespace {

PyObject*& Slot(PyObject* object, Py_ssize_t offset) {
  return *reinterpret_cast<PyObject**>(reinterpret_cast<char*>(object) + offset);
}

// The one pointer-aligned slot of `object` (past its header, within `size`) holding `value`, or -1.
Py_ssize_t FindSlot(PyObject* object, Py_ssize_t size, PyObject* value) {
  Py_ssize_t found = -1;
  for (Py_ssize_t off = sizeof(PyObject); off + static_cast<Py_ssize_t>(sizeof(PyObject*)) <= size;
       off += sizeof(PyObject*)) {
    if (Slot(object, off) != value) continue;
    if (found >= 0) return -1;  // twice: ambiguous
    found = off;
  }
  return found;
}

// asyncio.sleep(0): a coroutine to probe with (new reference).
PyObject* SleepZero() {
  PyRef asyncio = PyRef::Steal(PyImport_ImportModule("asyncio"));
  PyRef sleep = asyncio ? PyRef::Steal(PyObject_GetAttrString(asyncio.get(), "sleep")) : PyRef();
  PyRef zero = PyRef::Steal(PyLong_FromLong(0));
  return sleep && zero ? PyObject_CallOneArg(sleep.get(), zero.get()) : nullptr;
}

void CloseCoro(PyObject* coro) {
  PyObject* r = PyObject_CallMethod(coro, "close", nullptr);
  if (!r) PyErr_Clear();
  Py_XDECREF(r);
}

// A loop that only answers what Task.__init__ and a Task's finaliser ask of it: the probe Task is made on
// it, so nothing is scheduled on the worker's loop (new reference, or null with an error set).
PyObject* NewProbeLoop() {
  static const char kSource[] =
      "class ProbeLoop:\n"
      "    def get_debug(self): return False\n"
      "    def call_soon(self, *args, **kwargs): return None\n"
      "    def call_exception_handler(self, context): return None\n";
  PyRef globals = PyRef::Steal(PyDict_New());
  if (!globals || PyDict_SetItemString(globals.get(), "__builtins__", PyEval_GetBuiltins()) < 0) return nullptr;
  PyRef done = PyRef::Steal(PyRun_String(kSource, Py_file_input, globals.get(), globals.get()));
  PyObject* cls = done ? PyDict_GetItemString(globals.get(), "ProbeLoop") : nullptr;
  return cls ? PyObject_CallNoArgs(cls) : nullptr;
}

}  // namespace

bool StandInTask::Init(PyObject* task_type, PyObject* real_loop) {
  auto* type = reinterpret_cast<PyTypeObject*>(task_type);
  PyRef probe_loop = PyRef::Steal(NewProbeLoop());
  PyObject* loop = probe_loop.get();
  PyRef coro = PyRef::Steal(SleepZero());
  PyRef context = PyRef::Steal(PyContext_New());
  PyRef kwargs = PyRef::Steal(PyDict_New());
  PyRef args = coro ? PyRef::Steal(PyTuple_Pack(1, coro.get())) : PyRef();
  if (!loop || !coro || !context || !kwargs || !args || PyDict_SetItemString(kwargs.get(), "loop", loop) < 0) {
    PyErr_Clear();
    if (coro) CloseCoro(coro.get());
    return false;
  }
#if PY_VERSION_HEX >= 0x030B0000
  bool with_context = true;
  if (PyDict_SetItemString(kwargs.get(), "context", context.get()) < 0) {
    PyErr_Clear();
    return false;
  }
#else
  bool with_context = false;
#endif
  // A Task initialised the normal way, on the probe loop (its step is never run; its coroutine is closed).
  PyRef probe = PyRef::Steal(PyObject_Call(task_type, args.get(), kwargs.get()));
  CloseCoro(coro.get());
  if (!probe) {
    PyErr_Clear();
    return false;
  }
  Py_ssize_t size = type->tp_basicsize;
  Py_ssize_t loop_off = FindSlot(probe.get(), size, loop);
  Py_ssize_t coro_off = FindSlot(probe.get(), size, coro.get());
  Py_ssize_t context_off = with_context ? FindSlot(probe.get(), size, context.get()) : -1;
  if (PyObject_SetAttrString(probe.get(), "_log_destroy_pending", Py_False) < 0) PyErr_Clear();
  if (loop_off < 0 || coro_off < 0 || loop_off == coro_off || (with_context && context_off < 0)) return false;
  loop = real_loop;

  // Check on a fresh stand-in that the public getters see what was written.
  loop_offset_ = loop_off;
  coro_offset_ = coro_off;
  context_offset_ = context_off;
  loop_ = PyRef::Borrow(loop);
  PyRef empty = PyRef::Steal(PyTuple_New(0));
  PyRef check = empty ? PyRef::Steal(type->tp_new(type, empty.get(), nullptr)) : PyRef();
  PyRef check_coro = PyRef::Steal(SleepZero());
  bool ok = false;
  if (check && check_coro) {
    Prepare(check.get(), check_coro.get(), context.get());
    PyRef got_loop = PyRef::Steal(PyObject_CallMethod(check.get(), "get_loop", nullptr));
    PyRef got_coro = PyRef::Steal(PyObject_CallMethod(check.get(), "get_coro", nullptr));
    PyRef done = PyRef::Steal(PyObject_CallMethod(check.get(), "done", nullptr));
    PyRef repr = PyRef::Steal(PyObject_Repr(check.get()));
    ok = got_loop.get() == loop && got_coro.get() == check_coro.get() && done.get() == Py_False && repr;
  }
  PyErr_Clear();
  if (check_coro) CloseCoro(check_coro.get());
  PyRef future_type = PyRef::Steal(PyObject_GetAttrString(probe.get(), "__class__"));
  PyRef base = future_type ? PyRef::Steal(PyObject_GetAttrString(future_type.get(), "__base__")) : PyRef();
  future_set_result_ = base ? PyRef::Steal(PyObject_GetAttrString(base.get(), "set_result")) : PyRef();
  PyErr_Clear();
  if (!ok || !future_set_result_) {
    loop_offset_ = coro_offset_ = context_offset_ = -1;
    loop_ = PyRef();
    return false;
  }
  return true;
}

void StandInTask::FinishIfHeld(PyObject* task) const {
  if (loop_offset_ < 0 || Py_REFCNT(task) <= 1) return;  // the common case: nobody else has it
  PyObject *type, *value, *tb;
  PyErr_Fetch(&type, &value, &tb);  // the app's exception, if it failed, is the caller's to log
  PyObject* args[] = {task, Py_None};
  PyRef r = PyRef::Steal(PyObject_Vectorcall(future_set_result_.get(), args, 2, nullptr));
  if (!r) PyErr_Clear();
  PyErr_Restore(type, value, tb);
}

void StandInTask::Prepare(PyObject* task, PyObject* coro, PyObject* context) const {
  if (loop_offset_ < 0) return;
  Slot(task, loop_offset_) = Py_NewRef(loop_.get());
  Slot(task, coro_offset_) = Py_NewRef(coro);
  if (context_offset_ >= 0) Slot(task, context_offset_) = Py_NewRef(context);
}

StandInTask::Carried StandInTask::Save(PyObject* task) const {
  Carried carried;
  if (loop_offset_ < 0) return carried;
  // Done callbacks the app added to its task during the eager step: taken off (Task.__init__ resets them,
  // leaking them on some Pythons) and added back by Restore().
  PyRef callbacks = PyRef::Steal(PyObject_GetAttrString(task, "_callbacks"));
  if (callbacks && PyList_Check(callbacks.get()) && PyList_GET_SIZE(callbacks.get()) > 0) {
    carried.callbacks = PyRef::Steal(PyList_GetSlice(callbacks.get(), 0, PyList_GET_SIZE(callbacks.get())));
    for (Py_ssize_t i = 0; carried.callbacks && i < PyList_GET_SIZE(carried.callbacks.get()); ++i) {
      PyObject* entry = PyList_GET_ITEM(carried.callbacks.get(), i);
      PyObject* cb = PyTuple_Check(entry) && PyTuple_GET_SIZE(entry) > 0 ? PyTuple_GET_ITEM(entry, 0) : entry;
      PyRef r = PyRef::Steal(PyObject_CallMethod(task, "remove_done_callback", "O", cb));
    }
  }
  // The app cancelled its own task (e.g. an anyio cancel scope around its first await): Task.__init__
  // clears that request, so it is made again on the initialised Task.
  PyRef must_cancel = PyRef::Steal(PyObject_GetAttrString(task, "_must_cancel"));
  if (must_cancel.get() == Py_True) {
    carried.cancel_message = PyRef::Steal(PyObject_GetAttrString(task, "_cancel_message"));
    if (!carried.cancel_message) carried.cancel_message = PyRef::Borrow(Py_None);
  }
  PyErr_Clear();
  // The slots Prepare() wrote are let go before Task.__init__ writes them (it does not release them on
  // every Python).
  Py_CLEAR(Slot(task, loop_offset_));
  Py_CLEAR(Slot(task, coro_offset_));
  if (context_offset_ >= 0) Py_CLEAR(Slot(task, context_offset_));
  return carried;
}

void StandInTask::Restore(PyObject* task, const Carried& carried) const {
  if (carried.callbacks) {
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(carried.callbacks.get()); ++i) {
      PyObject* entry = PyList_GET_ITEM(carried.callbacks.get(), i);
      PyRef r;
      if (PyTuple_Check(entry) && PyTuple_GET_SIZE(entry) == 2) {
        PyRef add = PyRef::Steal(PyObject_GetAttrString(task, "add_done_callback"));
        PyRef args = PyRef::Steal(PyTuple_Pack(1, PyTuple_GET_ITEM(entry, 0)));
        PyRef kwargs = PyRef::Steal(Py_BuildValue("{sO}", "context", PyTuple_GET_ITEM(entry, 1)));
        if (add && args && kwargs) r = PyRef::Steal(PyObject_Call(add.get(), args.get(), kwargs.get()));
      } else {
        r = PyRef::Steal(PyObject_CallMethod(task, "add_done_callback", "O", entry));
      }
      if (!r) PyErr_Clear();
    }
  }
  if (carried.cancel_message) {
    PyRef r = PyRef::Steal(PyObject_CallMethod(task, "cancel", "O", carried.cancel_message.get()));
    if (!r) PyErr_Clear();
  }
}

}  // namespace esg::python
