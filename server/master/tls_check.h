// TLS start-up check of the master: with --ssl-certfile/--ssl-keyfile, build the very SSL_CTX a worker will
// build (server/engine/tls_context.h) once, before any socket is bound or worker spawned, so a missing file,
// a wrong password or a key that does not match the certificate is one sentence and exit status 2 instead
// of a crash loop of workers.
#pragma once

#include <string>

#include "server/common/config.h"
#include "server/engine/tls_context.h"

namespace esg {

// Whether the config asks for TLS (like uvicorn's Config.is_ssl: a certfile or a keyfile).
bool UsesTls(const Config& config);

// The engine's TLS settings from the --ssl-* options: the one mapping, used by this check and by the worker's
// engine binding, so both build the same SSL_CTX.
engine::TlsSettings TlsSettingsFrom(const Config& config);

// True when TLS is off or the --ssl-* options and files are usable; else false with *error set to one
// sentence naming the option and the file.
bool CheckTls(const Config& config, std::string* error);

}  // namespace esg
