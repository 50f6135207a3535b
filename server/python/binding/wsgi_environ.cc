// `_esg.wsgi_environ`: the PEP 3333 environ of the common WSGI request, built with the raw C API.
//
// Mirrors esg/wsgi_environ.py's _environ key for key and in the same insertion order; whatever that
// function does beyond the common shape (a root path moved to SCRIPT_NAME, a percent-encoded path, a
// server without a port, a scope that is not exactly the engine's) is left to it: this returns None.
// tests/unit/python/test_wsgi_environ.py checks both give equal environs for the same scopes.
#include "server/python/binding/wsgi_environ.h"

#include <Python.h>

#include <cstring>

namespace esg::python {
namespace {

namespace py = pybind11;

// Built once at module init (never freed: they live as long as the interpreter).
struct Keys {
  PyObject* root_path;
  PyObject* raw_path;
  PyObject* http_version;
  PyObject* query_string;
  PyObject* scheme;
  PyObject* headers;
  PyObject* client;
  PyObject* server;
  PyObject* method;
  PyObject* v11;
  PyObject* v10;
  PyObject* v2;
  PyObject* http11;
  PyObject* http10;
  PyObject* http2;
  PyObject* request_method;
  PyObject* script_name;
  PyObject* path_info;
  PyObject* query;
  PyObject* server_protocol;
  PyObject* wsgi_version;
  PyObject* url_scheme;
  PyObject* input;
  PyObject* errors;
  PyObject* multithread;
  PyObject* multiprocess;
  PyObject* run_once;
  PyObject* input_terminated;
  PyObject* remote_addr;
  PyObject* remote_port;
  PyObject* server_name;
  PyObject* server_port;
  PyObject* http_cookie;
  PyObject* http_expect;
  PyObject* empty_str;
  PyObject* version_1_0;  // (1, 0)
  PyObject* comma;
  PyObject* semicolon;  // "; " joins repeated Cookie headers
};
Keys g_keys;

// The environ's first keys in the Python side's order, constants set and the per-request values None:
// [0] without a client (no REMOTE_ADDR/REMOTE_PORT), [1] with one. Copying one (PyDict_Copy clones a
// compact dict's table in one go) and replacing nine values costs less than inserting fifteen keys.
PyObject* g_templates[2] = {nullptr, nullptr};

// The last scope["server"] seen and its (SERVER_NAME, SERVER_PORT): the engine shares one server tuple per
// listener, so this is an identity check on the hot path. Owned references; loop thread (GIL held).
PyObject* g_server = nullptr;
PyObject* g_server_name = nullptr;
PyObject* g_server_port = nullptr;

bool InitKeys() {
  Keys& k = g_keys;
  struct {
    PyObject** slot;
    const char* text;
  } strings[] = {
      {&k.root_path, "root_path"}, {&k.raw_path, "raw_path"}, {&k.http_version, "http_version"},
      {&k.query_string, "query_string"}, {&k.scheme, "scheme"}, {&k.headers, "headers"},
      {&k.client, "client"}, {&k.server, "server"}, {&k.method, "method"},
      {&k.v11, "1.1"}, {&k.v10, "1.0"}, {&k.v2, "2"},
      {&k.http11, "HTTP/1.1"}, {&k.http10, "HTTP/1.0"}, {&k.http2, "HTTP/2"},
      {&k.request_method, "REQUEST_METHOD"}, {&k.script_name, "SCRIPT_NAME"}, {&k.path_info, "PATH_INFO"},
      {&k.query, "QUERY_STRING"}, {&k.server_protocol, "SERVER_PROTOCOL"}, {&k.wsgi_version, "wsgi.version"},
      {&k.url_scheme, "wsgi.url_scheme"}, {&k.input, "wsgi.input"}, {&k.errors, "wsgi.errors"},
      {&k.multithread, "wsgi.multithread"}, {&k.multiprocess, "wsgi.multiprocess"},
      {&k.run_once, "wsgi.run_once"}, {&k.input_terminated, "wsgi.input_terminated"},
      {&k.remote_addr, "REMOTE_ADDR"}, {&k.remote_port, "REMOTE_PORT"}, {&k.server_name, "SERVER_NAME"},
      {&k.server_port, "SERVER_PORT"}, {&k.http_cookie, "HTTP_COOKIE"}, {&k.http_expect, "HTTP_EXPECT"},
      {&k.empty_str, ""}, {&k.comma, ","}, {&k.semicolon, "; "},
  };
  for (auto& s : strings) {
    if (!(*s.slot = PyUnicode_InternFromString(s.text))) return false;
  }
  k.version_1_0 = Py_BuildValue("(ii)", 1, 0);
  if (!k.version_1_0) return false;
  for (int with_client = 0; with_client < 2; ++with_client) {
    PyObject* t = PyDict_New();
    if (!t) return false;
    g_templates[with_client] = t;
    if (PyDict_SetItem(t, k.request_method, Py_None) < 0 || PyDict_SetItem(t, k.script_name, k.empty_str) < 0 ||
        PyDict_SetItem(t, k.path_info, Py_None) < 0 || PyDict_SetItem(t, k.query, k.empty_str) < 0 ||
        PyDict_SetItem(t, k.server_protocol, k.http11) < 0 || PyDict_SetItem(t, k.wsgi_version, k.version_1_0) < 0 ||
        PyDict_SetItem(t, k.url_scheme, Py_None) < 0 || PyDict_SetItem(t, k.input, Py_None) < 0 ||
        PyDict_SetItem(t, k.errors, Py_None) < 0 || PyDict_SetItem(t, k.multithread, Py_True) < 0 ||
        PyDict_SetItem(t, k.multiprocess, Py_False) < 0 || PyDict_SetItem(t, k.run_once, Py_False) < 0 ||
        PyDict_SetItem(t, k.input_terminated, Py_True) < 0) {
      return false;
    }
    if (with_client && (PyDict_SetItem(t, k.remote_addr, Py_None) < 0 || PyDict_SetItem(t, k.remote_port, Py_None) < 0)) {
      return false;
    }
  }
  return true;
}

// scope[key] (borrowed), or null without an error when the key is missing.
PyObject* Get(PyObject* scope, PyObject* key) { return PyDict_GetItemWithError(scope, key); }

// Sets environ[key] = value, stealing `value`; false with an error set on failure.
bool SetSteal(PyObject* environ, PyObject* key, PyObject* value) {
  if (!value) return false;
  int rc = PyDict_SetItem(environ, key, value);
  Py_DECREF(value);
  return rc == 0;
}

PyObject* Latin1(PyObject* bytes) {
  return PyUnicode_DecodeLatin1(PyBytes_AS_STRING(bytes), PyBytes_GET_SIZE(bytes), nullptr);
}

// The outcome of Build: the environ (new reference) and expect, or fallback (None to the caller), or an error.
enum class Built { kDone, kFallback, kError };

// (SERVER_NAME, SERVER_PORT) of an engine server tuple (str() of each item, as the Python side), cached.
bool ServerNames(PyObject* server, PyObject** name, PyObject** port) {
  if (server != g_server) {
    PyObject* n = PyObject_Str(PyTuple_GET_ITEM(server, 0));
    if (!n) return false;
    PyObject* p = PyObject_Str(PyTuple_GET_ITEM(server, 1));
    if (!p) {
      Py_DECREF(n);
      return false;
    }
    Py_INCREF(server);
    Py_XSETREF(g_server, server);
    Py_XSETREF(g_server_name, n);
    Py_XSETREF(g_server_port, p);
  }
  *name = g_server_name;
  *port = g_server_port;
  return true;
}

Built Build(PyObject* const* args, PyObject** out_environ, bool* expect) {
  const Keys& k = g_keys;
  PyObject* header_keys = args[0];
  PyObject* header_key = args[1];
  PyObject* scope = args[2];
  if (!PyDict_CheckExact(scope) || !PyDict_CheckExact(header_keys)) return Built::kFallback;
  PyObject* root_path = Get(scope, k.root_path);
  PyObject* raw_path = Get(scope, k.raw_path);
  PyObject* version = Get(scope, k.http_version);
  PyObject* query = Get(scope, k.query_string);
  PyObject* scheme = Get(scope, k.scheme);
  PyObject* headers = Get(scope, k.headers);
  PyObject* client = Get(scope, k.client);
  PyObject* server = Get(scope, k.server);
  PyObject* method = Get(scope, k.method);
  if (PyErr_Occurred()) return Built::kError;
  // The engine's shape only; anything else is the Python side's.
  if (!root_path || !PyUnicode_CheckExact(root_path) || PyUnicode_GET_LENGTH(root_path) != 0) return Built::kFallback;
  if (!raw_path || !PyBytes_CheckExact(raw_path) ||
      std::memchr(PyBytes_AS_STRING(raw_path), '%', static_cast<size_t>(PyBytes_GET_SIZE(raw_path)))) {
    return Built::kFallback;
  }
  if (!query || !PyBytes_CheckExact(query) || !scheme || !method) return Built::kFallback;
  if (!headers || !PyList_CheckExact(headers)) return Built::kFallback;
  if (!client || (client != Py_None && (!PyTuple_CheckExact(client) || PyTuple_GET_SIZE(client) != 2))) {
    return Built::kFallback;
  }
  if (!server || !PyTuple_CheckExact(server) || PyTuple_GET_SIZE(server) != 2 || PyTuple_GET_ITEM(server, 1) == Py_None) {
    return Built::kFallback;
  }
  PyObject* protocol;
  if (version == k.v11 || (version && PyUnicode_CheckExact(version) && PyUnicode_Compare(version, k.v11) == 0)) {
    protocol = k.http11;
  } else if (version && PyUnicode_CheckExact(version) && PyUnicode_Compare(version, k.v10) == 0) {
    protocol = k.http10;
  } else if (version && PyUnicode_CheckExact(version) && PyUnicode_Compare(version, k.v2) == 0) {
    protocol = k.http2;
  } else {
    return Built::kFallback;
  }

  bool has_client = client != Py_None;
  PyObject* environ = PyDict_Copy(g_templates[has_client ? 1 : 0]);
  if (!environ) return Built::kError;
  *out_environ = environ;  // the caller releases it on failure
  int multiprocess = PyObject_IsTrue(args[5]);
  if (multiprocess < 0) return Built::kError;
  // The template's None values replaced (its constants are the common values), so the keys keep the
  // order of the Python dict display.
  if (PyDict_SetItem(environ, k.request_method, method) < 0 || !SetSteal(environ, k.path_info, Latin1(raw_path)) ||
      (PyBytes_GET_SIZE(query) && !SetSteal(environ, k.query, Latin1(query))) ||
      (protocol != k.http11 && PyDict_SetItem(environ, k.server_protocol, protocol) < 0) ||
      PyDict_SetItem(environ, k.url_scheme, scheme) < 0 || PyDict_SetItem(environ, k.input, args[3]) < 0 ||
      PyDict_SetItem(environ, k.errors, args[4]) < 0 ||
      (multiprocess && PyDict_SetItem(environ, k.multiprocess, Py_True) < 0)) {
    return Built::kError;
  }
  if (has_client && (!SetSteal(environ, k.remote_addr, PyObject_Str(PyTuple_GET_ITEM(client, 0))) ||
                     !SetSteal(environ, k.remote_port, PyObject_Str(PyTuple_GET_ITEM(client, 1))))) {
    return Built::kError;
  }
  *expect = false;
  // The list is read again at each step (a header_key call runs Python code; the engine's list is not
  // shared with anything that would change it, but a foreign one could be).
  for (Py_ssize_t i = 0; i < PyList_GET_SIZE(headers); ++i) {
    PyObject* item = PyList_GET_ITEM(headers, i);
    if (!PyTuple_CheckExact(item) || PyTuple_GET_SIZE(item) != 2) return Built::kFallback;
    PyObject* name = PyTuple_GET_ITEM(item, 0);
    PyObject* value = PyTuple_GET_ITEM(item, 1);
    if (!PyBytes_CheckExact(name) || !PyBytes_CheckExact(value)) return Built::kFallback;
    Py_INCREF(item);  // keeps name and value alive across the header_key call
    PyObject* key = PyDict_GetItemWithError(header_keys, name);
    if (key) {
      Py_INCREF(key);
    } else if (!PyErr_Occurred()) {
      key = PyObject_CallOneArg(header_key, name);
    }
    if (!key) {
      Py_DECREF(item);
      return Built::kError;
    }
    if (!PyUnicode_CheckExact(key)) {
      Py_DECREF(key);
      Py_DECREF(item);
      return Built::kFallback;
    }
    bool ok = true;
    if (PyUnicode_GET_LENGTH(key) != 0) {  // "": a dropped name
      if (!*expect && PyUnicode_Compare(key, k.http_expect) == 0) *expect = true;
      PyObject* text = Latin1(value);
      PyObject* existing = text ? PyDict_GetItemWithError(environ, key) : nullptr;
      if (!existing && text && PyErr_Occurred()) Py_CLEAR(text);
      if (existing) {  // a repeated header: joined, as the Python side does
        PyObject* joiner = PyUnicode_Compare(key, k.http_cookie) == 0 ? k.semicolon : k.comma;
        PyObject* left = PyUnicode_Concat(existing, joiner);
        PyObject* joined = left ? PyUnicode_Concat(left, text) : nullptr;
        Py_XDECREF(left);
        Py_DECREF(text);
        text = joined;
      }
      ok = text != nullptr && SetSteal(environ, key, text);  // SetSteal releases `text` either way
    }
    Py_DECREF(key);
    Py_DECREF(item);
    if (!ok) return Built::kError;
  }
  PyObject* server_name;
  PyObject* server_port;
  if (!ServerNames(server, &server_name, &server_port) || PyDict_SetItem(environ, k.server_name, server_name) < 0 ||
      PyDict_SetItem(environ, k.server_port, server_port) < 0) {
    return Built::kError;
  }
  return Built::kDone;
}

PyObject* WsgiEnviron(PyObject*, PyObject* const* args, Py_ssize_t nargs) {
  if (nargs != 6) {
    PyErr_SetString(PyExc_TypeError,
                    "wsgi_environ(header_keys, header_key, scope, wsgi_input, errors, multiprocess) takes 6 arguments");
    return nullptr;
  }
  PyObject* environ = nullptr;
  bool expect = false;
  Built built = Build(args, &environ, &expect);
  if (built != Built::kDone) {
    Py_XDECREF(environ);
    if (built == Built::kError) return nullptr;
    Py_RETURN_NONE;
  }
  PyObject* result = PyTuple_Pack(2, environ, expect ? Py_True : Py_False);
  Py_DECREF(environ);
  return result;
}

PyMethodDef kWsgiEnvironDef = {
    "wsgi_environ", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(WsgiEnviron)), METH_FASTCALL,
    "wsgi_environ(header_keys, header_key, scope, wsgi_input, errors, multiprocess) -> (environ, expect) or None: "
    "the PEP 3333 environ of an engine scope of the common shape (esg/wsgi_environ.py falls back otherwise)."};

}  // namespace

void InitWsgiEnviron(py::module_& m) {
  if (!InitKeys()) throw py::error_already_set();
  PyObject* function = PyCFunction_NewEx(&kWsgiEnvironDef, nullptr, nullptr);
  if (!function) throw py::error_already_set();
  m.add_object("wsgi_environ", py::reinterpret_steal<py::object>(function));
}

}  // namespace esg::python
