// How esgctl prints: every human table and line, every --json object, and the error lines, kept apart from
// the commands so the wording and layout live in one place (and tests/unit/control/esgctl/ pins them in
// golden files). Commands decide *what* happened; these functions decide how it reads.
//
// Conventions every function follows: results go to `out`, errors and warnings to `err`; with `json` a
// result is one JSON object on one line (protobuf messages with proto field names and every primitive
// field); human output is plain text meant for a terminal and may change between releases, JSON may not.
#pragma once

#include <grpcpp/support/status.h>

#include <cstdint>
#include <iosfwd>
#include <string>
#include <utility>
#include <vector>

#include "esg/control/v1/control.pb.h"

namespace esg::esgctl {

namespace v1 = ::esg::control::v1;

// "12.5s", "3m07s", "2h05m".
std::string FormatDuration(const google::protobuf::Duration& duration);
// "512K", "1.0M", "2.5G" (binary units).
std::string FormatBytes(uint64_t bytes);
// An enum value's name without its prefix, lower case: ("WORKER_STATE_READY", "WORKER_STATE_") -> "ready".
std::string EnumWord(std::string name, const std::string& prefix);
// `message` as one line of JSON (proto field names, default values printed).
std::string ToJson(const google::protobuf::Message& message);
// `text` as a JSON string literal, quotes included.
std::string JsonString(const std::string& text);
// The canonical name of a gRPC status code ("FAILED_PRECONDITION"); "UNKNOWN" when out of range.
std::string StatusCodeName(grpc::StatusCode code);

// A two-column list: each row "  <head><padding><text>", the text column starting two spaces after the
// longest head, so no head runs into its text. Used for `help`.
std::string AlignedColumns(const std::vector<std::pair<std::string, std::string>>& rows);

// Errors. A usage error is always human ("esgctl: <message>"), even with --json: it is a mistake in the
// command line, not a result. A failed call: "esgctl: <sentence> (<CODE>)" or
// {"error":{"code":...,"message":...}}. No server to talk to: "esgctl: <sentence>" or the JSON error with
// code UNAVAILABLE.
void WriteUsageError(std::ostream& err, const std::string& message);
void WriteCallError(std::ostream& err, bool json, grpc::StatusCode code, const std::string& sentence);
void WriteConnectError(std::ostream& err, bool json, const std::string& sentence);

// A call that returns nothing but success: "ok: <what>" or {"ok":true,"command":"<what>"}.
void WriteOk(std::ostream& out, bool json, const std::string& what);

// `status`: a header line, listeners, the config summary, then one row per worker and a count.
void WriteStatus(std::ostream& out, bool json, const v1::GetStatusResponse& status);
// `reload`: success to `out` ("reloaded: generation N serving"); a rollback to `err` (the reason and the
// failing worker's output), as JSON too, so scripts read success from stdout only.
void WriteReload(std::ostream& out, std::ostream& err, bool json, const v1::ReloadResponse& reload);
// `scale`, `incr`, `decr`: "N workers serving".
void WriteScale(std::ostream& out, bool json, const v1::ScaleWorkersResponse& scale);
// `health`: the grpc.health.v1 status name ("SERVING").
void WriteHealth(std::ostream& out, bool json, const std::string& status_name);
// `events`: the line on `err` before the stream starts (human only), then one line or object per event;
// times are local ("14:03:07.250").
void WriteEventsBanner(std::ostream& err, bool json, const std::string& where);
void WriteEvent(std::ostream& out, bool json, const v1::Event& event);

}  // namespace esg::esgctl
