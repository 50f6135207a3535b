// Config: every setting of ESG as one plain struct, with its documented default.
//
// Built by the master's CLI loader (server/master/cli.h) from argv and the environment, validated there,
// and handed to each worker as JSON (ToJson/FromJson). JSON keys are the Python-style option names
// (`log_level`, `forwarded_allow_ips`, ...), the same names `esg.run(**kwargs)` accepts.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
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
  std::optional<int> wsgi_threads;  // unset: $ESG_WSGI_THREADS or 10 (server/python/esg/wsgi.py)
  std::string cpu_scheduling = "batch";  // batch|normal: the workers' Linux scheduling policy
  std::string ws = "auto";    // auto|none|websockets|wsproto
  int64_t ws_max_size = 16777216;
  double ws_ping_interval = 20.0;
  double ws_ping_timeout = 20.0;
  bool ws_per_message_deflate = true;
  std::string lifespan = "auto";  // auto|on|off

  // Logging.
  std::string env_file;
  std::string log_config;
  std::string log_level = "info";  // critical|error|warning|info|debug|trace
  bool access_log = true;
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

  // Supervision, user space and releases (server/master).
  int timeout_worker_healthcheck = 30;  // seconds without a heartbeat before a worker is replaced
  int limit_max_requests_jitter = 0;    // each worker adds a random 0..N to limit_max_requests
  std::string user;                     // run workers as this user (name or uid) when started as root
  std::string group;                    // ... and this group (name or gid); default: the user's group
  std::string venv;                     // virtualenv of the workers (default: <app_dir>/.venv if present)

  // Control plane (control/control_server.h): the gRPC service esgctl and scripts talk to.
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

std::string ToJson(const Config& config, const std::vector<ListenerSpec>& listeners, int control_fd);

}  // namespace esg
