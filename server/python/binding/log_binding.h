// `_esg.init_log`, `_esg.log`, `_esg.set_log_level`, `_esg.forward_logs_to_python`: ESG's spdlog loggers as
// the worker's Python code uses them (esg/_log.py, esg/logconfig.py). Registered by module.cc.
#pragma once

#include <pybind11/pybind11.h>

namespace esg::python {

// Adds the logging functions to `m`.
void InitLog(pybind11::module_& m);

}  // namespace esg::python
