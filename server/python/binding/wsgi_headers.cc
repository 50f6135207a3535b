// `_esg.wsgi_response_headers`: the per-request loop of WSGI start_response (esg/wsgi.py) in C.
//
// A header the app sent before is a dict lookup and an append here, against about 1,500 instructions
// per header for the same loop in Python; a new one goes to esg.wsgi._response_header, which validates
// it with the exact errors the app would see and caches it.
#include "server/python/binding/wsgi_headers.h"

#include <Python.h>

namespace esg::python {
namespace {

namespace py = pybind11;

// Adds one item's converted entry to `headers`, and its length (if any) to *length (borrowed); false with
// a Python error set on failure.
bool AddItem(PyObject* cache, PyObject* convert, PyObject* item, PyObject* headers, PyObject** length) {
  PyObject* entry = nullptr;  // new reference
  if (PyTuple_CheckExact(item)) {
    entry = PyDict_GetItemWithError(cache, item);
    if (entry) {
      Py_INCREF(entry);
    } else if (PyErr_Occurred()) {
      if (!PyErr_ExceptionMatches(PyExc_TypeError)) return false;
      PyErr_Clear();  // unhashable: not cached, converted (and refused) below
    }
  }
  if (!entry && !(entry = PyObject_CallOneArg(convert, item))) return false;
  if (!PyTuple_CheckExact(entry) || PyTuple_GET_SIZE(entry) != 2) {
    Py_DECREF(entry);
    PyErr_SetString(PyExc_SystemError, "a converted WSGI header must be ((name, value), length)");
    return false;
  }
  bool ok = PyList_Append(headers, PyTuple_GET_ITEM(entry, 0)) == 0;
  PyObject* item_length = PyTuple_GET_ITEM(entry, 1);
  if (ok && item_length != Py_None) Py_XSETREF(*length, Py_NewRef(item_length));
  Py_DECREF(entry);
  return ok;
}

PyObject* WsgiResponseHeaders(PyObject*, PyObject* const* args, Py_ssize_t nargs) {
  if (nargs != 3 || !PyDict_Check(args[0])) {
    PyErr_SetString(PyExc_TypeError, "wsgi_response_headers(cache: dict, convert, response_headers)");
    return nullptr;
  }
  PyObject* cache = args[0];
  PyObject* convert = args[1];
  PyObject* source = args[2];
  PyObject* headers = PyList_New(0);
  if (!headers) return nullptr;
  PyObject* length = Py_NewRef(Py_None);
  bool ok = true;
  if (PyList_CheckExact(source)) {
    // convert() runs Python code, which could change the list: its size is read at each step and each
    // item held while it is used.
    for (Py_ssize_t i = 0; ok && i < PyList_GET_SIZE(source); ++i) {
      PyObject* item = Py_NewRef(PyList_GET_ITEM(source, i));
      ok = AddItem(cache, convert, item, headers, &length);
      Py_DECREF(item);
    }
  } else {
    PyObject* iter = PyObject_GetIter(source);
    ok = iter != nullptr;
    PyObject* item;
    while (ok && (item = PyIter_Next(iter))) {
      ok = AddItem(cache, convert, item, headers, &length);
      Py_DECREF(item);
    }
    if (ok && PyErr_Occurred()) ok = false;
    Py_XDECREF(iter);
  }
  if (!ok) {
    Py_DECREF(headers);
    Py_DECREF(length);
    return nullptr;
  }
  PyObject* result = PyTuple_Pack(2, headers, length);
  Py_DECREF(headers);
  Py_DECREF(length);
  return result;
}

PyMethodDef kWsgiResponseHeadersDef = {
    "wsgi_response_headers", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(WsgiResponseHeaders)),
    METH_FASTCALL,
    "wsgi_response_headers(cache, convert, response_headers) -> (headers, content_length or None): the loop of "
    "WSGI start_response (esg/wsgi.py)."};

}  // namespace

void InitWsgiHeaders(py::module_& m) {
  PyObject* function = PyCFunction_NewEx(&kWsgiResponseHeadersDef, nullptr, nullptr);
  if (!function) throw py::error_already_set();
  m.add_object("wsgi_response_headers", py::reinterpret_steal<py::object>(function));
}

}  // namespace esg::python
