// pybind11 binding of ESG's logging, so the worker's Python code logs through the same spdlog loggers
// (same format, level and colours) as the engine and the master.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <optional>
#include <string>

#include "server/common/log.h"

namespace py = pybind11;

namespace esg::python {

void InitLog(py::module_& m) {
  m.def(
      "init_log",
      [](const std::string& level, std::optional<bool> use_colors, bool access_log) {
        spdlog::level::level_enum parsed;
        if (!log::ParseLevel(level, &parsed)) throw py::value_error("unknown log level: " + level);
        log::Init(log::Options{level, use_colors, access_log});
      },
      py::arg("level"), py::arg("use_colors"), py::arg("access_log"));
  m.def(
      "log",
      [](const std::string& level, const std::string& message) {
        spdlog::level::level_enum parsed = spdlog::level::info;
        log::ParseLevel(level, &parsed);
        log::Error().log(parsed, "{}", message);
      },
      py::arg("level"), py::arg("message"), "Log one message to esg.error at the named level.");
  m.def(
      "log_enabled",
      [](const std::string& level) {
        spdlog::level::level_enum parsed = spdlog::level::info;
        log::ParseLevel(level, &parsed);
        return log::Error().should_log(parsed);
      },
      py::arg("level"));
}

}  // namespace esg::python
