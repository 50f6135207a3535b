// LogPythonError: the current Python exception, with its traceback, as one esg.error log line.
#include "server/python/binding/python_error.h"

#include <string>

#include "server/common/log.h"

namespace esg::python {
namespace {

// A logged traceback longer than this loses its middle (esg/_log.py MAX_TEXT, in bytes here).
constexpr size_t kMaxLoggedText = 64 * 1024;

// The text of `str` as UTF-8 for a log line: lone surrogates (os.fsdecode of a bad file name) are
// written as \udcff escapes. Empty, with no Python error left, when even that fails.
std::string Utf8ForLog(PyObject* str) {
  PyObject* bytes = PyUnicode_AsEncodedString(str, "utf-8", "backslashreplace");
  if (!bytes) {
    PyErr_Clear();
    return std::string();
  }
  std::string out(PyBytes_AS_STRING(bytes), static_cast<size_t>(PyBytes_GET_SIZE(bytes)));
  Py_DECREF(bytes);
  return out;
}

// traceback.format_exception(type, value, tb) joined, or empty (no Python error left) when it fails:
// the app's exception may have a __str__ that raises (traceback copes) or be broken in other ways.
std::string FormatException(PyObject* type, PyObject* value, PyObject* tb) {
  std::string out;
  PyObject* mod = PyImport_ImportModule("traceback");
  PyObject* lines = mod ? PyObject_CallMethod(mod, "format_exception", "OOO", type ? type : Py_None,
                                              value ? value : Py_None, tb ? tb : Py_None)
                        : nullptr;
  PyObject* sep = lines ? PyUnicode_FromString("") : nullptr;
  PyObject* joined = sep ? PyUnicode_Join(sep, lines) : nullptr;
  if (joined) out = Utf8ForLog(joined);
  Py_XDECREF(joined);
  Py_XDECREF(sep);
  Py_XDECREF(lines);
  Py_XDECREF(mod);
  PyErr_Clear();
  return out;
}

}  // namespace

void LogPythonError(const char* context) {
  PyObject *type, *value, *tb;
  PyErr_Fetch(&type, &value, &tb);
  std::string text = context;
  if (type) {
    PyErr_NormalizeException(&type, &value, &tb);
    PyErr_Clear();  // normalising can fail (an exception class whose __init__ raises): log what we have
    std::string trace = FormatException(type, value, tb);
    if (trace.empty()) {
      const char* name = PyType_Check(type) ? reinterpret_cast<PyTypeObject*>(type)->tp_name : "exception";
      trace = std::string(name) + ": <the exception could not be formatted>";
    }
    while (!trace.empty() && trace.back() == '\n') trace.pop_back();
    if (trace.size() > kMaxLoggedText) {
      size_t head = kMaxLoggedText * 3 / 4;
      size_t tail = kMaxLoggedText / 4;
      trace = trace.substr(0, head) + "\n... (" + std::to_string(trace.size() - head - tail) +
              " bytes omitted) ...\n" + trace.substr(trace.size() - tail);
    }
    text += "\n";
    text += log::EscapeControls(trace);
  }
  Py_XDECREF(type);
  Py_XDECREF(value);
  Py_XDECREF(tb);
  log::Error().error("{}", text);
}

}  // namespace esg::python
