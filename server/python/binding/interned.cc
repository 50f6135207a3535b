// Interned objects: built once at module import, never freed (they live as long as the interpreter).
#include "server/python/binding/interned.h"

#include <string>
#include <unordered_map>

namespace esg::python {
namespace {

Interned g_interned;
std::unordered_map<std::string_view, PyObject*>* g_methods;
std::unordered_map<std::string_view, PyObject*>* g_header_names;

const char* const kMethods[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "CONNECT", "TRACE"};
const char* const kHeaderNames[] = {
    "host", "user-agent", "accept", "accept-encoding", "accept-language", "connection", "content-type",
    "content-length", "cookie", "authorization", "cache-control", "origin", "referer", "pragma",
    "upgrade", "upgrade-insecure-requests", "transfer-encoding", "expect", "if-none-match",
    "if-modified-since", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-port", "x-forwarded-host",
    "x-real-ip", "x-request-id", "sec-websocket-key", "sec-websocket-version", "sec-websocket-extensions",
    "sec-websocket-protocol", "sec-fetch-site", "sec-fetch-mode", "sec-fetch-dest", "sec-fetch-user",
    "sec-ch-ua", "sec-ch-ua-mobile", "sec-ch-ua-platform", "dnt", "te", "range", "forwarded", "via",
};

PyObject* Str(const char* s) { return PyUnicode_InternFromString(s); }

}  // namespace

bool InitInterned() {
  if (g_methods) return true;
  Interned& i = g_interned;
  i.type = Str("type");
  i.asgi = Str("asgi");
  i.http_version = Str("http_version");
  i.server = Str("server");
  i.client = Str("client");
  i.scheme = Str("scheme");
  i.method = Str("method");
  i.root_path = Str("root_path");
  i.path = Str("path");
  i.raw_path = Str("raw_path");
  i.query_string = Str("query_string");
  i.headers = Str("headers");
  i.state = Str("state");
  i.status = Str("status");
  i.body = Str("body");
  i.more_body = Str("more_body");
  i.trailers = Str("trailers");
  i.more_trailers = Str("more_trailers");
  i.extensions = Str("extensions");
  i.http_response_trailers = Str("http.response.trailers");
  i.trailers_extension = Py_BuildValue("{s:{}}", "http.response.trailers");
  i.subprotocols = Str("subprotocols");
  i.websocket = Str("websocket");
  i.ws = Str("ws");
  i.wss = Str("wss");
  i.http = Str("http");
  i.https = Str("https");
  i.v10 = Str("1.0");
  i.v11 = Str("1.1");
  i.v2 = Str("2");
  i.http_request = Str("http.request");
  i.http_disconnect = Str("http.disconnect");
  i.http_response_start = Str("http.response.start");
  i.http_response_body = Str("http.response.body");
  i.empty_bytes = PyBytes_FromStringAndSize("", 0);
  i.empty_str = Str("");
  i.asgi_dict = Py_BuildValue("{s:s,s:s}", "version", "3.0", "spec_version", "2.3");
  if (PyErr_Occurred()) return false;
  g_methods = new std::unordered_map<std::string_view, PyObject*>();
  for (const char* m : kMethods) {
    PyObject* o = Str(m);
    if (!o) return false;
    g_methods->emplace(PyUnicode_AsUTF8(o), o);
  }
  g_header_names = new std::unordered_map<std::string_view, PyObject*>();
  for (const char* h : kHeaderNames) {
    PyObject* o = PyBytes_FromString(h);
    if (!o) return false;
    g_header_names->emplace(std::string_view(PyBytes_AS_STRING(o), PyBytes_GET_SIZE(o)), o);
  }
  return true;
}

const Interned& interned() { return g_interned; }

PyObject* Interned::Method(std::string_view m) const {
  auto it = g_methods->find(m);
  if (it != g_methods->end()) {
    Py_INCREF(it->second);
    return it->second;
  }
  return PyUnicode_DecodeLatin1(m.data(), static_cast<Py_ssize_t>(m.size()), nullptr);
}

PyObject* Interned::HeaderName(std::string_view name) const {
  auto it = g_header_names->find(name);
  if (it != g_header_names->end()) {
    Py_INCREF(it->second);
    return it->second;
  }
  return PyBytes_FromStringAndSize(name.data(), static_cast<Py_ssize_t>(name.size()));
}

}  // namespace esg::python
