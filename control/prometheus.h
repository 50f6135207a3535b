// The master's figures in the Prometheus text exposition format 0.0.4: what `GET /metrics` (the master's
// metrics_server, --metrics-bind), the GetMetrics RPC and `esgctl metrics` return. Built from
// control::ServerStatus only, so every consumer shows the same numbers. No I/O, no gRPC.
//
// Label sets are small and bounded (no pid, no path): a state, a reason, a result. Counters are totals
// since the master started and never decrease: the master adds the last counters of every worker that
// exits (crash, recycling, scaling, reload) to its own totals (ServerStatus::requests_total).
#pragma once

#include <string>
#include <string_view>

#include "control/admin_api.h"

namespace esg::control {

// The Content-Type of the text format.
inline constexpr std::string_view kPrometheusContentType = "text/plain; version=0.0.4; charset=utf-8";

// A label value escaped as the format wants it (backslash, double quote, newline).
std::string PrometheusLabelValue(std::string_view value);

// Every family, each with its # HELP and # TYPE lines, ending with a newline.
std::string PrometheusText(const ServerStatus& status);

}  // namespace esg::control
