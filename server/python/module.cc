// The `esg._esg` extension module: one PYBIND11_MODULE calling one init function per topic.
#include <pybind11/pybind11.h>

namespace py = pybind11;

namespace esg::python {
void InitEngine(py::module_& m);
void InitLog(py::module_& m);
void InitWebSocket(py::module_& m);
}  // namespace esg::python

PYBIND11_MODULE(_esg, m) {
  m.doc() = "ESG's C++ engine (HTTP/1.1 server core driven from the worker's event loop).";
  esg::python::InitLog(m);
  esg::python::InitEngine(m);
  esg::python::InitWebSocket(m);
}
