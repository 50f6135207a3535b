// `_esg.Engine` (and `_esg.AppDriver`, `_esg.HAS_TLS`): the engine as the worker's Python code drives it
// from its event loop. Registered by module.cc.
#pragma once

#include <pybind11/pybind11.h>

namespace esg::python {

// Adds Engine, AppDriver and HAS_TLS to `m`; readies the interned strings and the exchange types first.
// Throws pybind11::error_already_set when a type cannot be readied.
void InitEngine(pybind11::module_& m);

}  // namespace esg::python
