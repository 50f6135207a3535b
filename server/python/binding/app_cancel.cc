// AppCancel implementation: the cancellation of a timed-out request's Task and what is logged about it.
#include "server/python/binding/app_cancel.h"


#include "server/common/log.h"
#include "server/python/binding/python_error.h"

namespace esg::python {
namespace {

PyObject* g_cancelled_error = nullptr;  // asyncio.CancelledError
PyObject* g_cancel = nullptr;           // "cancel"

}  // namespace

bool InitAppCancel() {
  PyObject* asyncio = PyImport_ImportModule("asyncio");
  if (!asyncio) return false;
  g_cancelled_error = PyObject_GetAttrString(asyncio, "CancelledError");
  Py_DECREF(asyncio);
  g_cancel = PyUnicode_InternFromString("cancel");
  return g_cancelled_error && g_cancel;
}

void CancelTimedOutTask(PyObject* task) {
  PyObject* message = PyUnicode_FromString("the response was not complete within --timeout-request");
  PyObject* args[] = {task, message};
  PyObject* r = message ? PyObject_VectorcallMethod(g_cancel, args, 2, nullptr) : nullptr;
  if (!r) LogPythonError("Cannot cancel the ASGI application task of a timed-out request");
  Py_XDECREF(r);
  Py_XDECREF(message);
}

bool ClearTimeoutCancellation() {
  if (!g_cancelled_error || !PyErr_ExceptionMatches(g_cancelled_error)) return false;
  PyErr_Clear();
  return true;
}

void LogIgnoredCancellation(std::string_view method, std::string_view target) {
  std::string_view path = target.substr(0, target.find('?'));
  log::Error().warn(
      "ASGI application of {} {} caught the cancellation of --timeout-request and ran on to its end (its "
      "client had already been answered 504 or cut off); let CancelledError propagate",
      log::Escape(method), log::Escape(path));
}

}  // namespace esg::python
