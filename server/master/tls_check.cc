// TLS start-up check (see tls_check.h): the worker's TlsContext, built once and dropped.
#include "server/master/tls_check.h"

namespace esg {

bool UsesTls(const Config& config) { return !config.ssl_certfile.empty() || !config.ssl_keyfile.empty(); }

engine::TlsSettings TlsSettingsFrom(const Config& config) {
  engine::TlsSettings settings;
  settings.certfile = config.ssl_certfile;
  settings.keyfile = config.ssl_keyfile;
  settings.password = config.ssl_keyfile_password;
  settings.version = config.ssl_version;
  settings.cert_reqs = config.ssl_cert_reqs;
  settings.ca_certs = config.ssl_ca_certs;
  settings.ciphers = config.ssl_ciphers;
  settings.http2 = config.http2;
  return settings;
}

bool CheckTls(const Config& config, std::string* error) {
  if (!UsesTls(config)) return true;
  return engine::TlsContext::Create(TlsSettingsFrom(config), error) != nullptr;
}

}  // namespace esg
