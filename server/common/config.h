// Config: every setting of ESG as one plain struct, with its documented default, and ConfigFields(), the
// table that names each member once.
//
// The schema has one source: the member initialisers below are the defaults, ConfigFields() gives each
// member its Python-style name (`log_level`, `forwarded_allow_ips`, ...) and type, and the option table
// (server/master/options.cc) adds the CLI flag and help text to a member. From those the CLI parses and
// prints `--help`, ToJson writes the worker config, FromJson reads it back (the engine binding reads the
// dict of esg.run and the gunicorn worker through it too), and //server/python:config_schema generates
// esg/_schema.py, whence esg.config takes the keyword arguments of esg.run(...) and their defaults.
//
// To add a setting: a member here, a row in ConfigFields() (config.cc), and a row in the option table.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace esg {

struct Config {
  // What to serve.
  std::string app;                 // "module:attribute.path"
  std::string app_dir = ".";       // prepended to sys.path
  bool factory = false;            // APP is a () -> app callable
  std::string interface = "auto";  // auto|asgi3|asgi2|wsgi

  // Where to listen (--fd wins over --uds, which wins over --host/--port).
  std::string host = "127.0.0.1";
  int port = 8000;
  std::string uds;
  // --uds-mode (octal permission bits of the socket file; unset: 0660 with --uds-group, else 0666) and
  // --uds-group (the socket file's group, name or gid), applied by the master before listen().
  std::optional<int> uds_mode;
  std::string uds_group;
  int fd = -1;
  int backlog = 2048;

  // Processes and development.
  std::optional<int> workers;  // unset: $WEB_CONCURRENCY or 1
  bool reload = false;
  std::vector<std::string> reload_dirs;
  std::vector<std::string> reload_includes;
  std::vector<std::string> reload_excludes;
  double reload_delay = 0.25;

  // Event loop and protocols.
  std::string loop = "auto";  // auto|asyncio|uvloop
  std::optional<int> wsgi_threads;  // unset: $ESG_WSGI_THREADS or 128 (server/python/esg/wsgi.py)
  std::string cpu_scheduling = "batch";  // batch|normal: the workers' Linux scheduling policy
  bool gc_freeze = true;  // workers move the heap built at startup out of the cyclic GC (gc.freeze())
  bool coalesce_streams = false;  // a response streaming in every loop turn is written every other turn
  std::string ws = "auto";    // auto|none|websockets|wsproto
  int64_t ws_max_size = 16777216;
  double ws_ping_interval = 20.0;
  double ws_ping_timeout = 20.0;
  bool ws_per_message_deflate = true;
  std::string lifespan = "auto";  // auto|on|off
  // uvicorn 0.55's options (server/master/options.cc "uvicorn 0.55"): --http names uvicorn's HTTP
  // implementations (every value selects ESG's engine); --http2 turns HTTP/2 on (ALPN h2 on TLS listeners,
  // h2c prior knowledge on cleartext ones); --ws-max-queue bounds the WebSocket messages waiting for
  // receive(); --h11-max-incomplete-event-size lowers limit_request_head_size; --reset-contextvars runs each
  // HTTP request in an empty contextvars.Context.
  std::string http = "auto";  // auto|h11|httptools|zttp
  bool http2 = false;
  int http2_max_concurrent_streams = 100;  // SETTINGS_MAX_CONCURRENT_STREAMS (Granian's option name)
  int ws_max_queue = 32;
  std::optional<int> h11_max_incomplete_event_size;
  bool reset_contextvars = false;

  // Logging.
  std::string env_file;
  std::string log_config;
  std::string log_level = "info";  // critical|error|warning|info|debug|trace
  bool access_log = true;
  std::string access_log_format;   // "" = uvicorn's line; gunicorn atoms or "json" (http/access_log_format.h)
  std::optional<bool> use_colors;  // unset: colours only when the stream is a TTY

  // HTTP behaviour.
  bool proxy_headers = true;
  std::optional<std::string> forwarded_allow_ips;  // unset: $FORWARDED_ALLOW_IPS or "127.0.0.1"
  bool server_header = true;
  bool date_header = true;
  std::string root_path;
  std::vector<std::pair<std::string, std::string>> headers;  // --header Name:Value

  // Limits and timeouts.
  std::optional<int> limit_concurrency;
  std::optional<int> limit_max_requests;
  int timeout_keep_alive = 5;
  std::optional<double> timeout_graceful_shutdown;  // unset: wait for in-flight work forever

  // Request-size limits enforced by the engine before anything reaches the app.
  int limit_request_line = 8190;           // 414 beyond it
  int limit_request_fields = 100;          // 431 beyond it
  int limit_request_field_size = 8190;     // 431 beyond it (one header line)
  int limit_request_head_size = 32768;     // 431 beyond it (request line + all header lines; trailers alike)
  int64_t limit_request_body = 0;          // 413 beyond it; 0 = unlimited
  double timeout_request_header = 30.0;    // seconds for the whole request head (slowloris)
  double timeout_request_body = 60.0;      // longest pause in a request body the app is waiting for
  double timeout_send = 60.0;              // longest time a client may leave response bytes unread
  double timeout_request = 0;              // --timeout-request: seconds an HTTP app has for its response; 0 = off

  // Supervision, user space and releases (server/master).
  int timeout_worker_healthcheck = 30;  // seconds without a heartbeat before a worker is replaced
  int limit_max_requests_jitter = 0;    // each worker adds a random 0..N to limit_max_requests
  // Recycling (issue 14 §3): a worker past either limit is replaced like one past --limit-max-requests.
  std::optional<int> limit_worker_memory;       // MiB of RSS (from the heartbeat)
  std::optional<double> limit_worker_lifetime;  // seconds; each worker adds a random 0..10 % of it
  std::string metrics_bind;  // Prometheus GET /metrics by the master: "HOST:PORT" or "unix:PATH"; "" = off
  std::string user;                     // run workers as this user (name or uid) when started as root
  std::string group;                    // ... and this group (name or gid); default: the user's group
  std::string venv;                     // virtualenv of the workers (default: <app_dir>/.venv if present)

  // Control plane (control/server/control_server.h): the gRPC service esgctl and scripts talk to.
  bool control = true;          // --no-control: no control plane at all
  std::string control_socket;   // "" = the default path (control/socket_path.h); "none" = no UNIX socket
  std::string control_group;    // members of this group may use the socket too (it becomes 0660)
  std::string control_address;  // HOST:PORT of a TCP listener, only with the three TLS files (mutual TLS)
  std::string control_tls_cert;
  std::string control_tls_key;
  std::string control_tls_ca;

  // TLS.
  std::string ssl_keyfile;
  std::string ssl_certfile;
  std::string ssl_keyfile_password;
  int ssl_version = 17;
  int ssl_cert_reqs = 0;
  std::string ssl_ca_certs;
  std::string ssl_ciphers = "TLSv1";

  // Worker-side facts the master fills in (not user options).
  std::string python;  // interpreter that runs the workers
};

// A listening socket the master bound (or inherited) and passes to workers at `fd`.
struct ListenerSpec {
  int fd = -1;
  std::string kind;  // "tcp" or "unix"
  std::string host;  // tcp: address as bound (IPv6 without brackets)
  int port = 0;      // tcp: actual port (after binding port 0)
  std::string path;  // unix: socket path
  std::string Url(bool tls) const;
};

// Defaults resolved when neither the option nor its environment variable is given.
inline constexpr int kDefaultWorkers = 1;                              // --workers, $WEB_CONCURRENCY
inline constexpr std::string_view kDefaultForwardedAllowIps = "127.0.0.1";  // --forwarded-allow-ips

// A pointer to one Config member, of one of the types settings have.
using FieldMember =
    std::variant<std::string Config::*, bool Config::*, int Config::*, int64_t Config::*, double Config::*,
                 std::optional<int> Config::*, std::optional<bool> Config::*, std::optional<double> Config::*,
                 std::optional<std::string> Config::*, std::vector<std::string> Config::*,
                 std::vector<std::pair<std::string, std::string>> Config::*>;

// One setting: its name (JSON key, esg.run keyword, option flag with '-' for '_') and member.
// `worker`: handed to workers in the config JSON (false for what only the master uses: --uds-mode,
// --uds-group, the control plane).
struct ConfigField {
  std::string_view name;
  FieldMember member;
  bool worker = true;
};

// Every setting, in the order ToJson writes them.
const std::vector<ConfigField>& ConfigFields();

// The field named `name`, or nullptr.
const ConfigField* FindField(std::string_view name);

// The field of `member`, or nullptr (every member of Config that is a setting has one).
const ConfigField* FieldOf(const FieldMember& member);

// The worker's JSON document: {"config": {<every worker field>}, "listeners": [...], "control_fd": N}.
// Unset optionals are null; headers are [[name, value], ...].
std::string ToJson(const Config& config, const std::vector<ListenerSpec>& listeners, int control_fd);

// Reads a JSON object of settings (ToJson's "config", or the dict esg.run / the gunicorn worker built)
// into `*config`, over what it holds. Strict: an unknown key, or a value of the wrong type, returns false
// with `*error` naming the key ("unknown setting 'prot'", "setting 'port' must be an integer, got
// \"80\""). null leaves a setting at its default (unset for optionals). Integer settings take whole
// numbers only (5.0 yes, 5.5 no).
bool FromJson(std::string_view json, Config* config, std::string* error);

}  // namespace esg
