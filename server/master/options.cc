// The option table (see options.h). Help strings are the seed's `esg --help` text, unwrapped.
#include "server/master/options.h"

namespace esg::cli {
namespace {

using T = OptionType;

constexpr Range kPort{true, 0, false, true, 65535};
constexpr Range kNonNegative{true, 0, false, false, 0};
constexpr Range kPositive{true, 1, false, false, 0};
constexpr Range kAboveZero{true, 0, true, false, 0};
constexpr Range kNone{};
constexpr Range kPositive64{true, 1, false, false, 0, true};
constexpr Range kNonNegative64{true, 0, false, false, 0, true};

// Ranges keep ints within 32 bits unless the Range is `wide`, so the narrowing is safe.
int AsInt(const Value& v) { return static_cast<int>(v.integer); }

std::vector<OptionSpec> MakeTable() {
  std::vector<OptionSpec> t;
  auto add = [&t](OptionSpec spec) { t.push_back(spec); };

  add({"--host", "", T::kText, "TEXT", "Bind socket to this host.", "127.0.0.1", kNone, false, true, "",
       [](Config* c, const Value& v) { c->host = v.text; }});
  add({"--port", "", T::kInt, "INTEGER", "Bind socket to this port.", "8000", kPort, false, true, "",
       [](Config* c, const Value& v) { c->port = AsInt(v); }});
  add({"--uds", "", T::kText, "TEXT", "Bind to a UNIX domain socket.", "", kNone, false, true, "",
       [](Config* c, const Value& v) { c->uds = v.text; }});
  add({"--uds-mode", "", T::kText, "OCTAL",
       "Permission bits of the --uds socket file, in octal (e.g. 660). Connecting needs write permission, so "
       "660 admits only the owner and the --uds-group. Default: 660 with --uds-group, else 666 (any local "
       "user may connect).",
       "", kNone, false, true, "",
       // cli.cc checks the text and converts it (value.integer) before this runs.
       [](Config* c, const Value& v) { c->uds_mode = static_cast<int>(v.integer); }});
  add({"--uds-group", "", T::kText, "TEXT",
       "Group (name or gid) of the --uds socket file, e.g. nginx's group, so that only its members may "
       "connect.",
       "", kNone, false, true, "", [](Config* c, const Value& v) { c->uds_group = v.text; }});
  add({"--fd", "", T::kInt, "INTEGER", "Bind to socket from this file descriptor.", "", kNonNegative, false,
       true, "", [](Config* c, const Value& v) { c->fd = AsInt(v); }});
  add({"--reload", "", T::kFlag, "", "Enable auto-reload.", "", kNone, false, true, "",
       [](Config* c, const Value& v) { c->reload = v.flag; }});
  add({"--reload-dir", "", T::kText, "PATH",
       "Set reload directories explicitly, instead of using the current working directory.", "", kNone, true,
       true, "", [](Config* c, const Value& v) { c->reload_dirs.push_back(v.text); }});
  add({"--reload-include", "", T::kText, "TEXT",
       "Set glob patterns to include while watching for files. Includes '*.py' by default; these defaults "
       "can be overridden in `--reload-exclude`.",
       "", kNone, true, true, "", [](Config* c, const Value& v) { c->reload_includes.push_back(v.text); }});
  add({"--reload-exclude", "", T::kText, "TEXT",
       "Set glob patterns to exclude while watching for files. Includes '.*, .py[cod], .sw.*, ~*' by "
       "default; these defaults can be overridden in `--reload-include`.",
       "", kNone, true, true, "", [](Config* c, const Value& v) { c->reload_excludes.push_back(v.text); }});
  add({"--reload-delay", "", T::kFloat, "FLOAT",
       "Delay between previous and next check if application needs to be. Defaults to 0.25s.", "0.25",
       kNonNegative, false, true, "", [](Config* c, const Value& v) { c->reload_delay = v.number; }});
  add({"--workers", "", T::kInt, "INTEGER",
       "Number of worker processes. Defaults to the $WEB_CONCURRENCY environment variable if available, or "
       "1. Not valid with --reload.",
       "", kPositive, false, true, "", [](Config* c, const Value& v) { c->workers = AsInt(v); },
       "WEB_CONCURRENCY"});
  add({"--loop", "", T::kChoice, "auto|asyncio|uvloop", "Event loop implementation.", "auto", kNone, false,
       true, "", [](Config* c, const Value& v) { c->loop = v.text; }});
  add({"--wsgi-threads", "", T::kInt, "INTEGER",
       "Threads per worker that run the calls of a WSGI app (each call takes the GIL while it runs Python). "
       "Defaults to the $ESG_WSGI_THREADS environment variable if available, or 10.",
       "", kPositive, false, true, "", [](Config* c, const Value& v) { c->wsgi_threads = AsInt(v); },
       "ESG_WSGI_THREADS"});
  add({"--cpu-scheduling", "", T::kChoice, "batch|normal",
       "Linux scheduling policy of the workers. batch (SCHED_BATCH): a worker woken by new requests does not "
       "preempt the task running on its core (nginx, another worker) but waits for its turn and then answers "
       "everything queued at once; same CPU share, fewer context switches, more requests per wake-up. normal: "
       "the kernel default (lowest wake-up latency when cores are oversubscribed). A real-time policy set from "
       "outside (chrt) is left alone.",
       "batch", kNone, false, true, "", [](Config* c, const Value& v) { c->cpu_scheduling = v.text; }});
  add({"--ws", "", T::kChoice, "auto|none|websockets|wsproto", "WebSocket protocol implementation.", "auto",
       kNone, false, true, "", [](Config* c, const Value& v) { c->ws = v.text; }});
  add({"--ws-max-size", "", T::kInt, "INTEGER", "WebSocket max size message in bytes", "16777216",
       kPositive64, false, true, "", [](Config* c, const Value& v) { c->ws_max_size = v.integer; }});
  add({"--ws-ping-interval", "", T::kFloat, "FLOAT", "WebSocket ping interval", "20.0", kNonNegative, false,
       true, "", [](Config* c, const Value& v) { c->ws_ping_interval = v.number; }});
  add({"--ws-ping-timeout", "", T::kFloat, "FLOAT", "WebSocket ping timeout", "20.0", kNonNegative, false,
       true, "", [](Config* c, const Value& v) { c->ws_ping_timeout = v.number; }});
  add({"--lifespan", "", T::kChoice, "auto|on|off", "Lifespan implementation.", "auto", kNone, false, true,
       "", [](Config* c, const Value& v) { c->lifespan = v.text; }});
  add({"--interface", "", T::kChoice, "auto|asgi3|asgi2|wsgi",
       "Select ASGI3, ASGI2, or WSGI as the application interface.", "auto", kNone, false, true, "",
       [](Config* c, const Value& v) { c->interface = v.text; }});
  add({"--env-file", "", T::kText, "PATH", "Environment configuration file.", "", kNone, false, true, "",
       [](Config* c, const Value& v) { c->env_file = v.text; }});
  add({"--log-config", "", T::kText, "PATH",
       "Logging configuration file. Supported formats: .ini, .json, .yaml.", "", kNone, false, true, "",
       [](Config* c, const Value& v) { c->log_config = v.text; }});
  add({"--log-level", "", T::kChoice, "critical|error|warning|info|debug|trace", "Log level. [default: info]",
       "", kNone, false, true, "", [](Config* c, const Value& v) { c->log_level = v.text; }});
  add({"--access-log", "--no-access-log", T::kBoolPair, "", "Enable/Disable access log.", "", kNone, false,
       true, "", [](Config* c, const Value& v) { c->access_log = v.flag; }});
  add({"--use-colors", "--no-use-colors", T::kBoolPair, "", "Enable/Disable colorized logging.", "", kNone,
       false, true, "", [](Config* c, const Value& v) { c->use_colors = v.flag; }});
  add({"--proxy-headers", "--no-proxy-headers", T::kBoolPair, "",
       "Enable/Disable X-Forwarded-Proto, X-Forwarded-For, X-Forwarded-Port to populate remote address info.",
       "", kNone, false, true, "", [](Config* c, const Value& v) { c->proxy_headers = v.flag; }});
  add({"--server-header", "--no-server-header", T::kBoolPair, "", "Enable/Disable default Server header.", "",
       kNone, false, true, "", [](Config* c, const Value& v) { c->server_header = v.flag; }});
  add({"--date-header", "--no-date-header", T::kBoolPair, "", "Enable/Disable default Date header.", "",
       kNone, false, true, "", [](Config* c, const Value& v) { c->date_header = v.flag; }});
  add({"--forwarded-allow-ips", "", T::kText, "TEXT",
       "Comma seperated list of IPs to trust with proxy headers. Defaults to the $FORWARDED_ALLOW_IPS "
       "environment variable if available, or '127.0.0.1'.",
       "", kNone, false, true, "", [](Config* c, const Value& v) { c->forwarded_allow_ips = v.text; },
       "FORWARDED_ALLOW_IPS"});
  add({"--root-path", "", T::kText, "TEXT",
       "Set the ASGI 'root_path' for applications submounted below a given URL path.", "", kNone, false, true,
       "", [](Config* c, const Value& v) { c->root_path = v.text; }});
  add({"--limit-concurrency", "", T::kInt, "INTEGER",
       "Maximum number of concurrent connections or tasks to allow, before issuing HTTP 503 responses.", "",
       kPositive, false, true, "", [](Config* c, const Value& v) { c->limit_concurrency = AsInt(v); }});
  add({"--backlog", "", T::kInt, "INTEGER", "Maximum number of connections to hold in backlog", "",
       kPositive, false, true, "", [](Config* c, const Value& v) { c->backlog = AsInt(v); }});
  add({"--limit-max-requests", "", T::kInt, "INTEGER",
       "Maximum number of requests to service before terminating the process.", "", kPositive, false, true,
       "", [](Config* c, const Value& v) { c->limit_max_requests = AsInt(v); }});
  add({"--timeout-keep-alive", "", T::kInt, "INTEGER",
       "Close Keep-Alive connections if no new data is received within this timeout.", "5", kNonNegative,
       false, true, "", [](Config* c, const Value& v) { c->timeout_keep_alive = AsInt(v); }});
  add({"--ssl-keyfile", "", T::kText, "TEXT", "SSL key file", "", kNone, false, true, "",
       [](Config* c, const Value& v) { c->ssl_keyfile = v.text; }});
  add({"--ssl-certfile", "", T::kText, "TEXT", "SSL certificate file", "", kNone, false, true, "",
       [](Config* c, const Value& v) { c->ssl_certfile = v.text; }});
  add({"--ssl-keyfile-password", "", T::kText, "TEXT", "SSL keyfile password", "", kNone, false, true, "",
       [](Config* c, const Value& v) { c->ssl_keyfile_password = v.text; }});
  add({"--ssl-version", "", T::kInt, "INTEGER", "SSL version to use (see stdlib ssl module's)", "17", kNone,
       false, true, "", [](Config* c, const Value& v) { c->ssl_version = AsInt(v); }});
  add({"--ssl-cert-reqs", "", T::kInt, "INTEGER",
       "Whether client certificate is required (see stdlib ssl module's)", "0", kNone, false, true, "",
       [](Config* c, const Value& v) { c->ssl_cert_reqs = AsInt(v); }});
  add({"--ssl-ca-certs", "", T::kText, "TEXT", "CA certificates file", "", kNone, false, true, "",
       [](Config* c, const Value& v) { c->ssl_ca_certs = v.text; }});
  add({"--ssl-ciphers", "", T::kText, "TEXT", "Ciphers to use (see stdlib ssl module's)", "TLSv1", kNone,
       false, true, "", [](Config* c, const Value& v) { c->ssl_ciphers = v.text; }});
  // Parsed and validated by the CLI (Name:Value), then appended to Config::headers.
  add({"--header", "", T::kText, "TEXT",
       "Specify custom default HTTP response headers as a Name:Value pair", "", kNone, true, true, "",
       nullptr});
  add({"--version", "", T::kAction, "", "Display the esg version and exit.", "", kNone, false, true, "",
       nullptr});
  add({"--app-dir", "", T::kText, "TEXT",
       "Look for APP in the specified directory, by adding this to the PYTHONPATH. Defaults to the current "
       "working directory.",
       ".", kNone, false, true, "", [](Config* c, const Value& v) { c->app_dir = v.text; }});
  add({"--factory", "", T::kFlag, "",
       "Treat APP as an application factory, i.e. a () -> <ASGI app> callable.", "False", kNone, false,
       true, "", [](Config* c, const Value& v) { c->factory = v.flag; }});

  // ESG's own options.
  add({"--ws-per-message-deflate", "--no-ws-per-message-deflate", T::kBoolPair, "",
       "Enable/Disable the WebSocket permessage-deflate extension (RFC 7692).  [default: enabled]", "", kNone,
       false, true, "", [](Config* c, const Value& v) { c->ws_per_message_deflate = v.flag; }});
  add({"--timeout-graceful-shutdown", "", T::kInt, "INTEGER",
       "Maximum number of seconds to wait for graceful shutdown. Unset: wait for in-flight work to finish.",
       "", kNonNegative, false, true, "",
       [](Config* c, const Value& v) { c->timeout_graceful_shutdown = static_cast<double>(v.integer); }});
  add({"--limit-request-line", "", T::kInt, "INTEGER",
       "Maximum size in bytes of the request line; longer lines get HTTP 414.", "8190", kPositive, false,
       true, "", [](Config* c, const Value& v) { c->limit_request_line = AsInt(v); }});
  add({"--limit-request-fields", "", T::kInt, "INTEGER",
       "Maximum number of request header fields; more get HTTP 431.", "100", kPositive, false, true, "",
       [](Config* c, const Value& v) { c->limit_request_fields = AsInt(v); }});
  add({"--limit-request-field-size", "", T::kInt, "INTEGER",
       "Maximum size in bytes of one request header line; longer ones get HTTP 431.", "8190", kPositive,
       false, true, "", [](Config* c, const Value& v) { c->limit_request_field_size = AsInt(v); }});
  add({"--limit-request-head-size", "", T::kInt, "INTEGER",
       "Maximum size in bytes of the whole request head (request line and header lines), and of a chunked "
       "body's trailer section; larger ones get HTTP 431.", "32768", kPositive, false, true, "",
       [](Config* c, const Value& v) { c->limit_request_head_size = AsInt(v); }});
  add({"--limit-request-body", "", T::kInt, "INTEGER",
       "Maximum size in bytes of a request body; larger ones get HTTP 413. 0 means unlimited.", "0",
       kNonNegative64, false, true, "",
       [](Config* c, const Value& v) { c->limit_request_body = v.integer; }});
  add({"--timeout-request-header", "", T::kFloat, "FLOAT",
       "Seconds a client has to send the whole request head before the connection is closed.", "30.0",
       kAboveZero, false, true, "", [](Config* c, const Value& v) { c->timeout_request_header = v.number; }});
  add({"--timeout-request-body", "", T::kFloat, "FLOAT",
       "Seconds the request body may pause (no bytes arriving) while the app waits for it; then 408, or the "
       "connection closes if the response started.", "60.0",
       kAboveZero, false, true, "", [](Config* c, const Value& v) { c->timeout_request_body = v.number; }});
  add({"--timeout-send", "", T::kFloat, "FLOAT",
       "Seconds a client may leave response bytes unread (the socket takes nothing) before the connection is "
       "closed.", "60.0",
       kAboveZero, false, true, "", [](Config* c, const Value& v) { c->timeout_send = v.number; }});

  // Supervision, user space and releases (server/master/supervisor.h).
  add({"--timeout-worker-healthcheck", "", T::kInt, "INTEGER",
       "Seconds a worker may go without a heartbeat before the master kills and replaces it; a new worker "
       "gets at least this long to become ready.",
       "30", kPositive, false, true, "",
       [](Config* c, const Value& v) { c->timeout_worker_healthcheck = AsInt(v); }});
  add({"--limit-max-requests-jitter", "", T::kInt, "INTEGER",
       "Add a random number of requests, up to this many, to --limit-max-requests for each worker, so that "
       "workers are not recycled all at once.",
       "0", kNonNegative, false, true, "",
       [](Config* c, const Value& v) { c->limit_max_requests_jitter = AsInt(v); }});
  add({"--user", "", T::kText, "TEXT",
       "Run the workers as this user (name or uid). Needs esg to be started as root: the master binds the "
       "sockets, the app never runs as root.",
       "", kNone, false, true, "", [](Config* c, const Value& v) { c->user = v.text; }});
  add({"--group", "", T::kText, "TEXT",
       "Run the workers with this group (name or gid). Defaults to the primary group of --user.", "", kNone,
       false, true, "", [](Config* c, const Value& v) { c->group = v.text; }});
  add({"--venv", "", T::kText, "PATH",
       "Virtualenv whose interpreter runs the workers, resolved again on every reload. Defaults to a .venv "
       "directory inside --app-dir when there is one.",
       "", kNone, false, true, "", [](Config* c, const Value& v) { c->venv = v.text; }});

  // Control plane (control/server/control_server.h).
  add({"--control-socket", "", T::kText, "PATH",
       "UNIX socket of the gRPC control plane (esgctl), mode 0600, peers checked by uid. 'none': no socket. "
       "Default: $ESG_CONTROL_SOCKET, else /run/esg/control.sock as root, $XDG_RUNTIME_DIR/esg/control.sock "
       "or /tmp/esg-<uid>/control.sock.",
       "", kNone, false, true, "", [](Config* c, const Value& v) { c->control_socket = v.text; }});
  add({"--no-control", "", T::kFlag, "", "Do not start the control plane.", "", kNone, false, true, "",
       [](Config* c, const Value& v) { c->control = !v.flag; }});
  add({"--control-group", "", T::kText, "TEXT",
       "Also let members of this group (name or gid) use the control socket; it becomes mode 0660.", "", kNone,
       false, true, "", [](Config* c, const Value& v) { c->control_group = v.text; }});
  add({"--control-address", "", T::kText, "TEXT",
       "Also serve the control plane on TCP HOST:PORT, with TLS and verified client certificates only "
       "(needs --control-tls-cert, --control-tls-key and --control-tls-ca).",
       "", kNone, false, true, "", [](Config* c, const Value& v) { c->control_address = v.text; }});
  add({"--control-tls-cert", "", T::kText, "PATH", "Server certificate (PEM) of the TCP control listener.", "",
       kNone, false, true, "", [](Config* c, const Value& v) { c->control_tls_cert = v.text; }});
  add({"--control-tls-key", "", T::kText, "PATH", "Private key (PEM) of the TCP control listener.", "", kNone,
       false, true, "", [](Config* c, const Value& v) { c->control_tls_key = v.text; }});
  add({"--control-tls-ca", "", T::kText, "PATH",
       "CA certificate (PEM) that client certificates of the TCP control listener must be signed by.", "",
       kNone, false, true, "", [](Config* c, const Value& v) { c->control_tls_ca = v.text; }});

  add({"--help", "", T::kAction, "", "Show this message and exit.", "", kNone, false, true, "", nullptr});
  return t;
}

}  // namespace

const std::vector<OptionSpec>& Options() {
  static const std::vector<OptionSpec>* table = new std::vector<OptionSpec>(MakeTable());
  return *table;
}

const OptionSpec* FindOption(std::string_view name) {
  for (const OptionSpec& spec : Options()) {
    if (spec.name == name || (!spec.off_name.empty() && spec.off_name == name)) return &spec;
  }
  return nullptr;
}

std::vector<std::string_view> Choices(const OptionSpec& spec) {
  std::vector<std::string_view> out;
  std::string_view rest = spec.metavar;
  while (!rest.empty()) {
    size_t bar = rest.find('|');
    out.push_back(rest.substr(0, bar));
    if (bar == std::string_view::npos) break;
    rest.remove_prefix(bar + 1);
  }
  return out;
}

}  // namespace esg::cli
