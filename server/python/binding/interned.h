// Interned Python objects built once per worker: ASGI message keys and constant values, and the
// lowercase header names most requests carry, so the hot path allocates only what is request-specific.
#pragma once

#include <Python.h>

#include <string_view>

namespace esg::python {

struct Interned {
  // Keys.
  PyObject* type;
  PyObject* asgi;
  PyObject* http_version;
  PyObject* server;
  PyObject* client;
  PyObject* scheme;
  PyObject* method;
  PyObject* root_path;
  PyObject* path;
  PyObject* raw_path;
  PyObject* query_string;
  PyObject* headers;
  PyObject* state;
  PyObject* status;
  PyObject* body;
  PyObject* more_body;
  PyObject* trailers;
  PyObject* more_trailers;
  PyObject* extensions;
  PyObject* http_response_trailers;
  PyObject* trailers_extension;  // {"http.response.trailers": {}} (copied into an HTTP/2 scope)
  PyObject* subprotocols;
  // Values.
  PyObject* http;
  PyObject* https;
  PyObject* websocket;
  PyObject* ws;
  PyObject* wss;
  PyObject* v10;
  PyObject* v11;
  PyObject* v2;
  PyObject* http_request;
  PyObject* http_disconnect;
  PyObject* http_response_start;
  PyObject* http_response_body;
  PyObject* empty_bytes;
  PyObject* empty_str;
  PyObject* asgi_dict;  // {"version": "3.0", "spec_version": "2.3"}, shared (built once)

  // Returns a new reference to the method string (interned for the common methods).
  PyObject* Method(std::string_view m) const;
  // Returns a new reference to the header name bytes (shared for common names).
  PyObject* HeaderName(std::string_view name) const;
};

// Builds the table (once). False with a Python error set on failure.
bool InitInterned();
const Interned& interned();

}  // namespace esg::python
