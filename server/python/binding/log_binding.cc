// pybind11 binding of ESG's logging, so the worker's Python code logs through the same spdlog loggers
// (same format, level and colours) as the engine and the master.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "server/common/log.h"
#include "server/python/binding/log_binding.h"

namespace py = pybind11;

namespace esg::python {
namespace {

// 3.13 made the finalization check public (Py_IsFinalizing) and dropped the private spelling.
bool IsFinalizing() {
#if PY_VERSION_HEX >= 0x030D0000
  return Py_IsFinalizing();
#else
  return _Py_IsFinalizing();
#endif
}

// --- Forwarding to Python logging (--log-config) --------------------------------------------------------

// The Python callable of forward_logs_to_python. Owned through a shared_ptr by the forwarder; released
// with the GIL, and never after the interpreter is gone (the last owner may be a static destructor).
struct PyCallable {
  PyObject* callable;
  explicit PyCallable(PyObject* c) : callable(c) { Py_INCREF(c); }
  ~PyCallable() {
    if (!Py_IsInitialized() || IsFinalizing()) return;
    PyGILState_STATE gil = PyGILState_Ensure();
    Py_DECREF(callable);
    PyGILState_Release(gil);
  }
  PyCallable(const PyCallable&) = delete;
  PyCallable& operator=(const PyCallable&) = delete;
};

// logging's numbers; trace is 5, as uvicorn registers it.
int PythonLevel(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::trace: return 5;
    case spdlog::level::debug: return 10;
    case spdlog::level::info: return 20;
    case spdlog::level::warn: return 30;
    case spdlog::level::err: return 40;
    default: return 50;
  }
}

// Calls callable(which, levelno, message) with the GIL (PyGILState_Ensure: the engine thread already
// holds it, any other thread takes it). A pending Python error of the caller is kept aside; an error
// raised by the callable is reported as unraisable, never propagated into the engine.
void Forward(const std::shared_ptr<PyCallable>& target, log::Which which, spdlog::level::level_enum level,
             std::string_view message) {
  if (!Py_IsInitialized() || IsFinalizing()) {
    std::fprintf(stderr, "%.*s\n", static_cast<int>(message.size()), message.data());
    return;
  }
  PyGILState_STATE gil = PyGILState_Ensure();
  PyObject *type, *value, *tb;
  PyErr_Fetch(&type, &value, &tb);
  PyObject* text = PyUnicode_DecodeUTF8(message.data(), static_cast<Py_ssize_t>(message.size()), "replace");
  PyObject* result = nullptr;
  if (text) {
    result = PyObject_CallFunction(target->callable, "iiO", which == log::Which::kAccess ? 1 : 0,
                                   PythonLevel(level), text);
    Py_DECREF(text);
  }
  if (!result) PyErr_WriteUnraisable(target->callable);
  Py_XDECREF(result);
  PyErr_Restore(type, value, tb);
  PyGILState_Release(gil);
}

}  // namespace

void InitLog(py::module_& m) {
  m.def(
      "init_log",
      [](const std::string& level, std::optional<bool> use_colors, bool access_log) {
        spdlog::level::level_enum parsed;
        if (!log::ParseLevel(level, &parsed)) throw py::value_error("unknown log level: " + level);
        log::Init(log::Options{level, use_colors, access_log});
      },
      py::arg("level"), py::arg("use_colors"), py::arg("access_log"));
  m.def(
      "log",
      [](const std::string& level, py::handle message) {
        spdlog::level::level_enum parsed = spdlog::level::info;
        log::ParseLevel(level, &parsed);
        // Any str, lone surrogates included (written as \udcff): logging an app's text never raises.
        PyObject* bytes = PyUnicode_Check(message.ptr())
                              ? PyUnicode_AsEncodedString(message.ptr(), "utf-8", "backslashreplace")
                              : nullptr;
        if (!bytes) {
          PyErr_Clear();
          log::Error().log(parsed, "<unprintable {} object>", Py_TYPE(message.ptr())->tp_name);
          return;
        }
        std::string_view text(PyBytes_AS_STRING(bytes), static_cast<size_t>(PyBytes_GET_SIZE(bytes)));
        log::Error().log(parsed, "{}", log::EscapeControls(text));
        Py_DECREF(bytes);
      },
      py::arg("level"), py::arg("message"), "Log one message to esg.error at the named level.");
  m.def(
      "log_enabled",
      [](const std::string& level) {
        spdlog::level::level_enum parsed = spdlog::level::info;
        log::ParseLevel(level, &parsed);
        return log::Error().should_log(parsed);
      },
      py::arg("level"));
  m.def(
      "forward_logs_to_python",
      [](py::object callable) {
        if (callable.is_none()) {
          log::SetForwarder(nullptr);
          return;
        }
        if (!PyCallable_Check(callable.ptr())) throw py::type_error("forward_logs_to_python() needs a callable");
        auto target = std::make_shared<PyCallable>(callable.ptr());
        log::SetForwarder([target](log::Which which, spdlog::level::level_enum level, std::string_view message) {
          Forward(target, which, level, message);
        });
      },
      py::arg("callable"),
      "Send esg.error and esg.access messages to callable(which, levelno, message) (which: 0 error, "
      "1 access; levelno: logging's numbers, trace 5) instead of stderr/stdout; None restores them.");
  m.def(
      "set_log_level",
      [](const std::string& level) {
        spdlog::level::level_enum parsed;
        if (!log::ParseLevel(level, &parsed)) throw py::value_error("unknown log level: " + level);
        log::SetLevel(parsed);
      },
      py::arg("level"), "Set the level of both esg loggers (the engine's filter before any forwarding).");
}

}  // namespace esg::python
