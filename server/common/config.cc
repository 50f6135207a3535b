// Config's field table and its JSON form: the document the master hands to each worker in
// $ESG_WORKER_CONFIG, read back by FromJson (the engine binding, tests).
//
// Keys are exactly the field names (Python-style), unset optionals are null, headers are
// [[name, value], ...]. The worker (server/python/esg/worker_process.py) reads this; esg/_schema.py is
// generated from the same table, so the two cannot drift.
#include "server/common/config.h"

#include <cmath>
#include <limits>
#include <type_traits>

#include <nlohmann/json.hpp>

namespace esg {
namespace {

std::vector<ConfigField> MakeFields() {
  using C = Config;
  return {
      {"app", &C::app},
      {"app_dir", &C::app_dir},
      {"factory", &C::factory},
      {"interface", &C::interface},
      {"host", &C::host},
      {"port", &C::port},
      {"uds", &C::uds},
      {"uds_mode", &C::uds_mode, false},
      {"uds_group", &C::uds_group, false},
      {"fd", &C::fd},
      {"backlog", &C::backlog},
      {"workers", &C::workers},
      {"reload", &C::reload},
      {"reload_dirs", &C::reload_dirs},
      {"reload_includes", &C::reload_includes},
      {"reload_excludes", &C::reload_excludes},
      {"reload_delay", &C::reload_delay},
      {"loop", &C::loop},
      {"wsgi_threads", &C::wsgi_threads},
      {"cpu_scheduling", &C::cpu_scheduling},
      {"gc_freeze", &C::gc_freeze},
      {"coalesce_streams", &C::coalesce_streams},
      {"ws", &C::ws},
      {"ws_max_size", &C::ws_max_size},
      {"ws_ping_interval", &C::ws_ping_interval},
      {"ws_ping_timeout", &C::ws_ping_timeout},
      {"ws_per_message_deflate", &C::ws_per_message_deflate},
      {"lifespan", &C::lifespan},
      {"http", &C::http, false},
      {"http2", &C::http2},
      {"http2_max_concurrent_streams", &C::http2_max_concurrent_streams},
      {"ws_max_queue", &C::ws_max_queue},
      {"h11_max_incomplete_event_size", &C::h11_max_incomplete_event_size},
      {"reset_contextvars", &C::reset_contextvars},
      {"env_file", &C::env_file},
      {"log_config", &C::log_config},
      {"log_level", &C::log_level},
      {"access_log", &C::access_log},
      {"access_log_format", &C::access_log_format},
      {"use_colors", &C::use_colors},
      {"proxy_headers", &C::proxy_headers},
      {"forwarded_allow_ips", &C::forwarded_allow_ips},
      {"server_header", &C::server_header},
      {"date_header", &C::date_header},
      {"root_path", &C::root_path},
      {"headers", &C::headers},
      {"limit_concurrency", &C::limit_concurrency},
      {"limit_max_requests", &C::limit_max_requests},
      {"timeout_keep_alive", &C::timeout_keep_alive},
      {"timeout_graceful_shutdown", &C::timeout_graceful_shutdown},
      {"limit_request_line", &C::limit_request_line},
      {"limit_request_fields", &C::limit_request_fields},
      {"limit_request_field_size", &C::limit_request_field_size},
      {"limit_request_head_size", &C::limit_request_head_size},
      {"limit_request_body", &C::limit_request_body},
      {"timeout_request_header", &C::timeout_request_header},
      {"timeout_request_body", &C::timeout_request_body},
      {"timeout_send", &C::timeout_send},
      {"timeout_request", &C::timeout_request},
      {"timeout_worker_healthcheck", &C::timeout_worker_healthcheck},
      {"limit_max_requests_jitter", &C::limit_max_requests_jitter},
      {"limit_worker_memory", &C::limit_worker_memory},
      {"limit_worker_lifetime", &C::limit_worker_lifetime},
      {"metrics_bind", &C::metrics_bind},
      {"user", &C::user},
      {"group", &C::group},
      {"venv", &C::venv},
      {"control", &C::control, false},
      {"control_socket", &C::control_socket, false},
      {"control_group", &C::control_group, false},
      {"control_address", &C::control_address, false},
      {"control_tls_cert", &C::control_tls_cert, false},
      {"control_tls_key", &C::control_tls_key, false},
      {"control_tls_ca", &C::control_tls_ca, false},
      {"ssl_keyfile", &C::ssl_keyfile},
      {"ssl_certfile", &C::ssl_certfile},
      {"ssl_keyfile_password", &C::ssl_keyfile_password},
      {"ssl_version", &C::ssl_version},
      {"ssl_cert_reqs", &C::ssl_cert_reqs},
      {"ssl_ca_certs", &C::ssl_ca_certs},
      {"ssl_ciphers", &C::ssl_ciphers},
      {"python", &C::python},
  };
}

template <typename T>
nlohmann::json ValueToJson(const T& value) {
  return nlohmann::json(value);
}

template <typename T>
nlohmann::json ValueToJson(const std::optional<T>& value) {
  return value ? nlohmann::json(*value) : nlohmann::json(nullptr);
}

nlohmann::json ValueToJson(const std::vector<std::pair<std::string, std::string>>& headers) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& [name, value] : headers) out.push_back({name, value});
  return out;
}

// Reads `j` into `*out`; false (with *what: the expected type) when it has another type.
bool Read(const nlohmann::json& j, std::string* out, const char** what) {
  *what = "a string";
  if (!j.is_string()) return false;
  *out = j.get<std::string>();
  return true;
}

bool Read(const nlohmann::json& j, bool* out, const char** what) {
  *what = "true or false";
  if (!j.is_boolean()) return false;
  *out = j.get<bool>();
  return true;
}

template <typename Int>
bool ReadInteger(const nlohmann::json& j, Int* out, const char** what) {
  *what = "an integer";
  if (j.is_number_integer()) {
    if (j.is_number_unsigned() ? j.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<Int>::max())
                               : (j.get<int64_t>() < std::numeric_limits<Int>::min() ||
                                  j.get<int64_t>() > std::numeric_limits<Int>::max())) {
      return false;
    }
    *out = static_cast<Int>(j.get<int64_t>());
    return true;
  }
  if (j.is_number_float()) {  // 5.0 from Python code that computed a whole number as a float
    double value = j.get<double>();
    if (std::floor(value) != value || value < static_cast<double>(std::numeric_limits<Int>::min()) ||
        value > static_cast<double>(std::numeric_limits<Int>::max())) {
      return false;
    }
    *out = static_cast<Int>(value);
    return true;
  }
  return false;
}

bool Read(const nlohmann::json& j, int* out, const char** what) { return ReadInteger(j, out, what); }
bool Read(const nlohmann::json& j, int64_t* out, const char** what) { return ReadInteger(j, out, what); }

bool Read(const nlohmann::json& j, double* out, const char** what) {
  *what = "a number";
  if (!j.is_number() || j.is_boolean()) return false;
  *out = j.get<double>();
  return true;
}

template <typename T>
bool Read(const nlohmann::json& j, std::optional<T>* out, const char** what) {
  T value{};
  if (!Read(j, &value, what)) return false;
  *out = std::move(value);
  return true;
}

bool Read(const nlohmann::json& j, std::vector<std::string>* out, const char** what) {
  *what = "a list of strings";
  if (!j.is_array()) return false;
  std::vector<std::string> values;
  for (const nlohmann::json& item : j) {
    if (!item.is_string()) return false;
    values.push_back(item.get<std::string>());
  }
  *out = std::move(values);
  return true;
}

bool Read(const nlohmann::json& j, std::vector<std::pair<std::string, std::string>>* out, const char** what) {
  *what = "a list of [name, value] pairs";
  if (!j.is_array()) return false;
  std::vector<std::pair<std::string, std::string>> pairs;
  for (const nlohmann::json& item : j) {
    if (!item.is_array() || item.size() != 2 || !item[0].is_string() || !item[1].is_string()) return false;
    pairs.emplace_back(item[0].get<std::string>(), item[1].get<std::string>());
  }
  *out = std::move(pairs);
  return true;
}

nlohmann::json ConfigToJson(const Config& c) {
  nlohmann::json out = nlohmann::json::object();
  for (const ConfigField& field : ConfigFields()) {
    if (!field.worker) continue;
    out[std::string(field.name)] = std::visit([&c](auto member) { return ValueToJson(c.*member); }, field.member);
  }
  return out;
}

}  // namespace

const std::vector<ConfigField>& ConfigFields() {
  static const std::vector<ConfigField>* fields = new std::vector<ConfigField>(MakeFields());
  return *fields;
}

const ConfigField* FindField(std::string_view name) {
  for (const ConfigField& field : ConfigFields()) {
    if (field.name == name) return &field;
  }
  return nullptr;
}

const ConfigField* FieldOf(const FieldMember& member) {
  for (const ConfigField& field : ConfigFields()) {
    if (field.member == member) return &field;
  }
  return nullptr;
}

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

bool FromJson(std::string_view json, Config* config, std::string* error) {
  nlohmann::json doc = nlohmann::json::parse(json.begin(), json.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    *error = "the settings are not a JSON object";
    return false;
  }
  for (const auto& [key, value] : doc.items()) {
    const ConfigField* field = FindField(key);
    if (field == nullptr) {
      *error = "unknown setting '" + key + "'";
      return false;
    }
    if (value.is_null()) {
      std::visit([config](auto member) { config->*member = Config{}.*member; }, field->member);
      continue;
    }
    const char* what = "";
    bool ok = std::visit([&](auto member) { return Read(value, &(config->*member), &what); }, field->member);
    if (!ok) {
      *error = "setting '" + key + "' must be " + what + ", got " +
               value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      return false;
    }
  }
  return true;
}

}  // namespace esg
