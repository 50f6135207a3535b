// ESG's version: the one constant `esg --version`, the worker config and the Python package report.
// Bump it here only.
#pragma once

namespace esg {

inline constexpr char kVersion[] = "0.1.0";

}  // namespace esg
