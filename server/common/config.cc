// Config serialisation: the JSON document the master hands to each worker in $ESG_WORKER_CONFIG.
//
// Keys are exactly the Config field names (Python-style), unset optionals are null, headers are
// [[name, value], ...]. The worker (server/python/esg/worker_process.py) reads this; keep the two in step.
#include "server/common/config.h"

#include <nlohmann/json.hpp>

namespace esg {
namespace {

template <typename T>
nlohmann::json OrNull(const std::optional<T>& value) {
  return value ? nlohmann::json(*value) : nlohmann::json(nullptr);
}

nlohmann::json ConfigToJson(const Config& c) {
  nlohmann::json headers = nlohmann::json::array();
  for (const auto& [name, value] : c.headers) headers.push_back({name, value});
  return {
      {"app", c.app},
      {"app_dir", c.app_dir},
      {"factory", c.factory},
      {"interface", c.interface},
      {"host", c.host},
      {"port", c.port},
      {"uds", c.uds},
      {"fd", c.fd},
      {"backlog", c.backlog},
      {"workers", OrNull(c.workers)},
      {"reload", c.reload},
      {"reload_dirs", c.reload_dirs},
      {"reload_includes", c.reload_includes},
      {"reload_excludes", c.reload_excludes},
      {"reload_delay", c.reload_delay},
      {"loop", c.loop},
      {"wsgi_threads", OrNull(c.wsgi_threads)},
      {"cpu_scheduling", c.cpu_scheduling},
      {"ws", c.ws},
      {"ws_max_size", c.ws_max_size},
      {"ws_ping_interval", c.ws_ping_interval},
      {"ws_ping_timeout", c.ws_ping_timeout},
      {"ws_per_message_deflate", c.ws_per_message_deflate},
      {"lifespan", c.lifespan},
      {"env_file", c.env_file},
      {"log_config", c.log_config},
      {"log_level", c.log_level},
      {"access_log", c.access_log},
      {"use_colors", OrNull(c.use_colors)},
      {"proxy_headers", c.proxy_headers},
      {"forwarded_allow_ips", OrNull(c.forwarded_allow_ips)},
      {"server_header", c.server_header},
      {"date_header", c.date_header},
      {"root_path", c.root_path},
      {"headers", headers},
      {"limit_concurrency", OrNull(c.limit_concurrency)},
      {"limit_max_requests", OrNull(c.limit_max_requests)},
      {"timeout_keep_alive", c.timeout_keep_alive},
      {"timeout_graceful_shutdown", OrNull(c.timeout_graceful_shutdown)},
      {"limit_request_line", c.limit_request_line},
      {"limit_request_fields", c.limit_request_fields},
      {"limit_request_field_size", c.limit_request_field_size},
      {"limit_request_head_size", c.limit_request_head_size},
      {"limit_request_body", c.limit_request_body},
      {"timeout_request_header", c.timeout_request_header},
      {"timeout_request_body", c.timeout_request_body},
      {"timeout_send", c.timeout_send},
      {"timeout_worker_healthcheck", c.timeout_worker_healthcheck},
      {"limit_max_requests_jitter", c.limit_max_requests_jitter},
      {"user", c.user},
      {"group", c.group},
      {"venv", c.venv},
      {"ssl_keyfile", c.ssl_keyfile},
      {"ssl_certfile", c.ssl_certfile},
      {"ssl_keyfile_password", c.ssl_keyfile_password},
      {"ssl_version", c.ssl_version},
      {"ssl_cert_reqs", c.ssl_cert_reqs},
      {"ssl_ca_certs", c.ssl_ca_certs},
      {"ssl_ciphers", c.ssl_ciphers},
      {"python", c.python},
  };
}

}  // namespace

std::string ListenerSpec::Url(bool tls) const {
  if (kind == "unix") return "unix:" + path;
  std::string scheme = tls ? "https://" : "http://";
  bool ipv6 = host.find(':') != std::string::npos;
  return scheme + (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::string ToJson(const Config& config, const std::vector<ListenerSpec>& listeners, int control_fd) {
  nlohmann::json out_listeners = nlohmann::json::array();
  for (const ListenerSpec& l : listeners) {
    out_listeners.push_back(
        {{"fd", l.fd}, {"kind", l.kind}, {"host", l.host}, {"port", l.port}, {"path", l.path}});
  }
  nlohmann::json doc = {
      {"config", ConfigToJson(config)},
      {"listeners", out_listeners},
      {"control_fd", control_fd},
  };
  // Arguments may hold bytes that are not UTF-8 (paths, --root-path): replace them instead of throwing.
  return doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace esg
