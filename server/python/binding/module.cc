// The `esg._esg` extension module: one PYBIND11_MODULE calling one init function per topic.
#include <pybind11/pybind11.h>

#include "server/python/binding/engine_binding.h"
#include "server/python/binding/log_binding.h"
#include "server/python/binding/ws_exchange.h"
#include "server/python/binding/wsgi_environ.h"
#include "server/python/binding/wsgi_headers.h"

PYBIND11_MODULE(_esg, m) {
  m.doc() = "ESG's C++ engine (HTTP/1.1 server core driven from the worker's event loop).";
  esg::python::InitLog(m);
  esg::python::InitEngine(m);
  esg::python::InitWebSocket(m);
  esg::python::InitWsgiEnviron(m);
  esg::python::InitWsgiHeaders(m);
}
