// The option table (see options.h). Help strings are the seed's `esg --help` text, unwrapped.
#include "server/master/options.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <type_traits>
#include <variant>

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

// The value a converted option stores into a member of type T.
template <typename T>
T Converted(const OptionSpec& spec, const Value& v) {
  if constexpr (std::is_same_v<T, bool>) {
    return spec.negated ? !v.flag : v.flag;
  } else if constexpr (std::is_same_v<T, int>) {
    return AsInt(v);
  } else if constexpr (std::is_same_v<T, int64_t>) {
    return v.integer;
  } else if constexpr (std::is_same_v<T, double>) {
    return spec.type == OptionType::kInt ? static_cast<double>(v.integer) : v.number;
  } else {
    return v.text;
  }
}

template <typename T>
void StoreInto(const OptionSpec& spec, const Value& v, T* out) {
  *out = Converted<T>(spec, v);
}

template <typename T>
void StoreInto(const OptionSpec& spec, const Value& v, std::optional<T>* out) {
  *out = Converted<T>(spec, v);
}

void StoreInto(const OptionSpec&, const Value& v, std::vector<std::string>* out) { out->push_back(v.text); }

void StoreInto(const OptionSpec&, const Value&, std::vector<std::pair<std::string, std::string>>*) {
  // --header: validated and appended by the CLI (cli.cc ParseHeader), never stored generically.
}

template <typename T>
struct IsOptional : std::false_type {};
template <typename T>
struct IsOptional<std::optional<T>> : std::true_type {};

// A member's value as --help shows it (python == false) or as a Python literal (python == true).
template <typename T>
std::string Render(const OptionSpec& spec, const T& value, bool python) {
  if constexpr (std::is_same_v<T, bool>) {
    if (!python && spec.type == OptionType::kBoolPair && !spec.boolean_value) return value ? "enabled" : "disabled";
    return value ? "True" : "False";
  } else if constexpr (std::is_same_v<T, double>) {
    return PyFloatRepr(value);
  } else if constexpr (std::is_same_v<T, int> || std::is_same_v<T, int64_t>) {
    return std::to_string(value);
  } else if constexpr (std::is_same_v<T, std::string>) {
    return python ? PyRepr(value) : value;
  } else if constexpr (IsOptional<T>::value) {
    // Unset: no default to show (the help says what happens), None in Python.
    return value ? Render(spec, *value, python) : (python ? "None" : "");
  } else {
    return python ? "[]" : "";  // lists start empty
  }
}

std::string RenderDefault(const OptionSpec& spec, bool python) {
  if (!spec.field) return "";
  static const Config* defaults = new Config();
  return std::visit([&](auto member) { return Render(spec, defaults->*member, python); }, *spec.field);
}

std::vector<OptionSpec> MakeTable() {
  std::vector<OptionSpec> t;
  auto add = [&t](OptionSpec spec) { t.push_back(spec); };

  add({"--host", "", T::kText, "TEXT", "Bind socket to this host.", true, kNone, false, true, "",
       &Config::host});
  add({"--port", "", T::kInt, "INTEGER", "Bind socket to this port.", true, kPort, false, true, "",
       &Config::port});
  add({"--uds", "", T::kText, "TEXT", "Bind to a UNIX domain socket.", false, kNone, false, true, "",
       &Config::uds});
  add({"--uds-mode", "", T::kText, "OCTAL",
       "Permission bits of the --uds socket file, in octal (e.g. 660). Connecting needs write permission, so "
       "660 admits only the owner and the --uds-group. Default: 660 with --uds-group, else 666 (any local "
       "user may connect).",
       false, kNone, false, true, "",
       // cli.cc checks the text and converts it (value.integer) before this runs.
       &Config::uds_mode});
  add({"--uds-group", "", T::kText, "TEXT",
       "Group (name or gid) of the --uds socket file, e.g. nginx's group, so that only its members may "
       "connect.",
       false, kNone, false, true, "", &Config::uds_group});
  add({"--fd", "", T::kInt, "INTEGER", "Bind to socket from this file descriptor.", false, kNonNegative, false,
       true, "", &Config::fd});
  add({"--reload", "", T::kFlag, "", "Enable auto-reload.", false, kNone, false, true, "",
       &Config::reload});
  add({"--reload-dir", "", T::kText, "PATH",
       "Set reload directories explicitly, instead of using the current working directory.", false, kNone, true,
       true, "", &Config::reload_dirs});
  add({"--reload-include", "", T::kText, "TEXT",
       "Set glob patterns to include while watching for files. Includes '*.py' by default; these defaults "
       "can be overridden in `--reload-exclude`.",
       false, kNone, true, true, "", &Config::reload_includes});
  add({"--reload-exclude", "", T::kText, "TEXT",
       "Set glob patterns to exclude while watching for files. Includes '.*, .py[cod], .sw.*, ~*' by "
       "default; these defaults can be overridden in `--reload-include`.",
       false, kNone, true, true, "", &Config::reload_excludes});
  add({"--reload-delay", "", T::kFloat, "FLOAT",
       "Delay between previous and next check if application needs to be. Defaults to {default}s.", true,
       kNonNegative, false, true, "", &Config::reload_delay});
  add({"--workers", "", T::kInt, "INTEGER",
       "Number of worker processes. Defaults to the $WEB_CONCURRENCY environment variable if available, or "
       "1. Not valid with --reload.",
       false, kPositive, false, true, "", &Config::workers,
       "WEB_CONCURRENCY"});
  add({"--loop", "", T::kChoice, "auto|asyncio|uvloop", "Event loop implementation.", true, kNone, false,
       true, "", &Config::loop});
  add({"--wsgi-threads", "", T::kInt, "INTEGER",
       "Most threads per worker that run the calls of a WSGI app (each call takes the GIL while it runs "
       "Python): up to 10 start as calls arrive, more only while every thread is held by a blocking call. "
       "Defaults to the $ESG_WSGI_THREADS environment variable if available, or 128.",
       false, kPositive, false, true, "", &Config::wsgi_threads,
       "ESG_WSGI_THREADS"});
  add({"--cpu-scheduling", "", T::kChoice, "batch|normal",
       "Linux scheduling policy of the workers. batch (SCHED_BATCH): a worker woken by new requests does not "
       "preempt the task running on its core (nginx, another worker) but waits for its turn and then answers "
       "everything queued at once; same CPU share, fewer context switches, more requests per wake-up. normal: "
       "the kernel default (lowest wake-up latency when cores are oversubscribed). A real-time policy set from "
       "outside (chrt) is left alone.",
       true, kNone, false, true, "", &Config::cpu_scheduling});
  add({"--gc-freeze", "--no-gc-freeze", T::kBoolPair, "",
       "Enable/Disable freezing the objects a worker holds once the app is loaded and its lifespan started "
       "(gc.freeze() after a gc.collect()): the cyclic garbage collector stops traversing them on every full "
       "collection.",
       false, kNone, false, true, "", &Config::gc_freeze});
  add({"--coalesce-streams", "--no-coalesce-streams", T::kBoolPair, "",
       "Enable/Disable coalescing streamed responses under load: a response that sends a chunk in every turn "
       "of a busy event loop is written every other turn, two turns' chunks in one write. Halves the system "
       "calls of many small-event streams (Server-Sent Events, token streams) when the worker is saturated; a "
       "chunk can then reach the client one loop turn later. Streams paced by a timer or by I/O are never held. "
       "[default: disabled]",
       false, kNone, false, true, "", &Config::coalesce_streams});
  // websockets-sansio (uvicorn 0.55) is accepted unlisted: the seed's metavar stays. Every value but none
  // selects ESG's own WebSocket implementation.
  add({"--ws", "", T::kChoice, "auto|none|websockets|wsproto", "WebSocket protocol implementation.", true,
       kNone, false, true, "", &Config::ws, "", false, "websockets-sansio"});
  add({"--ws-max-size", "", T::kInt, "INTEGER", "WebSocket max size message in bytes", true,
       kPositive64, false, true, "", &Config::ws_max_size});
  add({"--ws-ping-interval", "", T::kFloat, "FLOAT", "WebSocket ping interval", true, kNonNegative, false,
       true, "", &Config::ws_ping_interval});
  add({"--ws-ping-timeout", "", T::kFloat, "FLOAT", "WebSocket ping timeout", true, kNonNegative, false,
       true, "", &Config::ws_ping_timeout});
  add({"--lifespan", "", T::kChoice, "auto|on|off", "Lifespan implementation.", true, kNone, false, true,
       "", &Config::lifespan});
  add({"--interface", "", T::kChoice, "auto|asgi3|asgi2|wsgi",
       "Select ASGI3, ASGI2, or WSGI as the application interface.", true, kNone, false, true, "",
       &Config::interface});
  add({"--env-file", "", T::kText, "PATH", "Environment configuration file.", false, kNone, false, true, "",
       &Config::env_file});
  add({"--log-config", "", T::kText, "PATH",
       "Logging configuration file. Supported formats: .ini, .json, .yaml.", false, kNone, false, true, "",
       &Config::log_config});
  add({"--log-level", "", T::kChoice, "critical|error|warning|info|debug|trace", "Log level. [default: {default}]",
       false, kNone, false, true, "", &Config::log_level});
  add({"--access-log", "--no-access-log", T::kBoolPair, "", "Enable/Disable access log.", false, kNone, false,
       true, "", &Config::access_log});
  add({"--access-log-format", "", T::kText, "FORMAT",
       "Access log line in gunicorn's atoms, e.g. '%(h)s %(t)s \"%(r)s\" %(s)s %(b)s %(D)s' (%({header}i)s, "
       "%({header}o)s, %({variable}e)s too), or 'json' for one JSON object per line. Lines are written "
       "without the 'INFO:' prefix. Default: uvicorn's line.",
       false, kNone, false, true, "", &Config::access_log_format});
  add({"--use-colors", "--no-use-colors", T::kBoolPair, "", "Enable/Disable colorized logging.", false, kNone,
       false, true, "", &Config::use_colors});
  add({"--proxy-headers", "--no-proxy-headers", T::kBoolPair, "",
       "Enable/Disable X-Forwarded-Proto, X-Forwarded-For, X-Forwarded-Port to populate remote address info.",
       false, kNone, false, true, "", &Config::proxy_headers});
  add({"--server-header", "--no-server-header", T::kBoolPair, "", "Enable/Disable default Server header.", false,
       kNone, false, true, "", &Config::server_header});
  add({"--date-header", "--no-date-header", T::kBoolPair, "", "Enable/Disable default Date header.", false,
       kNone, false, true, "", &Config::date_header});
  add({"--forwarded-allow-ips", "", T::kText, "TEXT",
       "Comma seperated list of IPs to trust with proxy headers. Defaults to the $FORWARDED_ALLOW_IPS "
       "environment variable if available, or '127.0.0.1'.",
       false, kNone, false, true, "", &Config::forwarded_allow_ips,
       "FORWARDED_ALLOW_IPS"});
  add({"--root-path", "", T::kText, "TEXT",
       "Set the ASGI 'root_path' for applications submounted below a given URL path.", false, kNone, false, true,
       "", &Config::root_path});
  add({"--limit-concurrency", "", T::kInt, "INTEGER",
       "Maximum number of concurrent connections or tasks to allow, before issuing HTTP 503 responses.", false,
       kPositive, false, true, "", &Config::limit_concurrency});
  add({"--backlog", "", T::kInt, "INTEGER", "Maximum number of connections to hold in backlog", false,
       kPositive, false, true, "", &Config::backlog});
  add({"--limit-max-requests", "", T::kInt, "INTEGER",
       "Maximum number of requests to service before terminating the process.", false, kPositive, false, true,
       "", &Config::limit_max_requests});
  add({"--timeout-keep-alive", "", T::kInt, "INTEGER",
       "Close Keep-Alive connections if no new data is received within this timeout.", true, kNonNegative,
       false, true, "", &Config::timeout_keep_alive});
  add({"--ssl-keyfile", "", T::kText, "TEXT", "SSL key file", false, kNone, false, true, "",
       &Config::ssl_keyfile});
  add({"--ssl-certfile", "", T::kText, "TEXT", "SSL certificate file", false, kNone, false, true, "",
       &Config::ssl_certfile});
  add({"--ssl-keyfile-password", "", T::kText, "TEXT", "SSL keyfile password", false, kNone, false, true, "",
       &Config::ssl_keyfile_password});
  add({"--ssl-version", "", T::kInt, "INTEGER", "SSL version to use (see stdlib ssl module's)", true, kNone,
       false, true, "", &Config::ssl_version});
  add({"--ssl-cert-reqs", "", T::kInt, "INTEGER",
       "Whether client certificate is required (see stdlib ssl module's)", true, kNone, false, true, "",
       &Config::ssl_cert_reqs});
  add({"--ssl-ca-certs", "", T::kText, "TEXT", "CA certificates file", false, kNone, false, true, "",
       &Config::ssl_ca_certs});
  add({"--ssl-ciphers", "", T::kText, "TEXT", "Ciphers to use (see stdlib ssl module's)", true, kNone,
       false, true, "", &Config::ssl_ciphers});
  // Parsed and validated by the CLI (Name:Value), then appended to Config::headers.
  add({"--header", "", T::kText, "TEXT",
       "Specify custom default HTTP response headers as a Name:Value pair", false, kNone, true, true, "",
       &Config::headers});
  add({"--version", "", T::kAction, "", "Display the esg version and exit.", false, kNone, false, true, "",
       std::nullopt});
  add({"--app-dir", "", T::kText, "TEXT",
       "Look for APP in the specified directory, by adding this to the PYTHONPATH. Defaults to the current "
       "working directory.",
       true, kNone, false, true, "", &Config::app_dir});
  add({"--factory", "", T::kFlag, "",
       "Treat APP as an application factory, i.e. a () -> <ASGI app> callable.", true, kNone, false,
       true, "", &Config::factory});

  // uvicorn 0.55's options (tests/integration/test_uvicorn_options.py compares them with uvicorn's).
  add({"--http", "", T::kChoice, "auto|h11|httptools|zttp",
       "HTTP protocol implementation (default auto). Every value selects ESG's own HTTP/1.1 engine (llhttp).",
       false, kNone,
       false, true, "", &Config::http});
  add({"--http2", "", T::kFlag, "",
       "Enable HTTP/2: TLS listeners offer ALPN h2 (then http/1.1); cleartext TCP and UNIX listeners also "
       "accept h2c with prior knowledge (the HTTP/2 connection preface). Upgrade: h2c is ignored (RFC 9113).",
       false, kNone, false, true, "", &Config::http2});
  add({"--ws-max-queue", "", T::kInt, "INTEGER",
       "The maximum length of the WebSocket message queue: received messages waiting for the app's "
       "receive(); reading from the client stops while it is full.",
       true, kPositive, false, true, "", &Config::ws_max_queue});
  add({"--h11-max-incomplete-event-size", "", T::kInt, "INTEGER",
       "The maximum number of bytes to buffer of an incomplete event: ESG's --limit-request-head-size (the "
       "smaller of the two holds when both are given).",
       false, kPositive, false, true, "", &Config::h11_max_incomplete_event_size});
  add({"--reset-contextvars", "", T::kFlag, "",
       "Run each ASGI HTTP request in a fresh, empty contextvars.Context. Hides context set at import time "
       "or by instrumentation (without it, requests see a copy of the worker's main context; a value set "
       "during lifespan startup is seen by neither, as in uvicorn).",
       false, kNone, false, true, "", &Config::reset_contextvars});

  // ESG's own options.
  add({"--http2-max-concurrent-streams", "", T::kInt, "INTEGER",
       "With --http2: how many streams (requests) one HTTP/2 connection may have open at once, announced in "
       "SETTINGS_MAX_CONCURRENT_STREAMS; a stream beyond it is refused (REFUSED_STREAM).",
       true, kPositive, false, true, "", &Config::http2_max_concurrent_streams});
  add({"--ws-per-message-deflate", "--no-ws-per-message-deflate", T::kBoolPair, "BOOLEAN",
       "WebSocket per-message-deflate compression (RFC 7692): true or false (--no-ws-per-message-deflate "
       "also turns it off).", true, kNone, false, true, "", &Config::ws_per_message_deflate, "", false, "",
       true});
  add({"--timeout-graceful-shutdown", "", T::kInt, "INTEGER",
       "Maximum number of seconds to wait for graceful shutdown. Unset: wait for in-flight work to finish.",
       false, kNonNegative, false, true, "",
       &Config::timeout_graceful_shutdown});
  add({"--limit-request-line", "", T::kInt, "INTEGER",
       "Maximum size in bytes of the request line; longer lines get HTTP 414.", true, kPositive, false,
       true, "", &Config::limit_request_line});
  add({"--limit-request-fields", "", T::kInt, "INTEGER",
       "Maximum number of request header fields; more get HTTP 431.", true, kPositive, false, true, "",
       &Config::limit_request_fields});
  add({"--limit-request-field-size", "", T::kInt, "INTEGER",
       "Maximum size in bytes of one request header line; longer ones get HTTP 431.", true, kPositive,
       false, true, "", &Config::limit_request_field_size});
  add({"--limit-request-head-size", "", T::kInt, "INTEGER",
       "Maximum size in bytes of the whole request head (request line and header lines), and of a chunked "
       "body's trailer section; larger ones get HTTP 431.", true, kPositive, false, true, "",
       &Config::limit_request_head_size});
  add({"--limit-request-body", "", T::kInt, "INTEGER",
       "Maximum size in bytes of a request body; larger ones get HTTP 413. 0 means unlimited.", true,
       kNonNegative64, false, true, "",
       &Config::limit_request_body});
  add({"--timeout-request-header", "", T::kFloat, "FLOAT",
       "Seconds a client has to send the whole request head before the connection is closed.", true,
       kAboveZero, false, true, "", &Config::timeout_request_header});
  add({"--timeout-request-body", "", T::kFloat, "FLOAT",
       "Seconds the request body may pause (no bytes arriving) while the app waits for it; then 408, or the "
       "connection closes if the response started.", true,
       kAboveZero, false, true, "", &Config::timeout_request_body});
  add({"--timeout-send", "", T::kFloat, "FLOAT",
       "Seconds a client may leave response bytes unread (the socket takes nothing) before the connection is "
       "closed.", true,
       kAboveZero, false, true, "", &Config::timeout_send});
  add({"--timeout-request", "", T::kFloat, "FLOAT",
       "Seconds an HTTP request's app has to complete its response; then its task is cancelled and the client "
       "gets 504 (the connection closes), or a cut-off response if it had started. WebSocket and lifespan are "
       "not subject to it; a WSGI thread cannot be stopped and finishes unheard. 0 (the default) = off.",
       false, kNonNegative, false, true, "", &Config::timeout_request});

  // Supervision, user space and releases (server/master/supervisor.h).
  add({"--timeout-worker-healthcheck", "", T::kInt, "INTEGER",
       "Seconds a worker may go without a heartbeat before the master kills and replaces it; a new worker "
       "gets at least this long to become ready.",
       true, kPositive, false, true, "",
       &Config::timeout_worker_healthcheck});
  add({"--limit-max-requests-jitter", "", T::kInt, "INTEGER",
       "Add a random number of requests, up to this many, to --limit-max-requests for each worker, so that "
       "workers are not recycled all at once.",
       true, kNonNegative, false, true, "",
       &Config::limit_max_requests_jitter});
  add({"--limit-worker-memory", "", T::kInt, "INTEGER",
       "Replace a worker whose resident memory (RSS) passes this many MiB: its replacement starts first, "
       "then it finishes its requests and exits, as with --limit-max-requests.",
       false, kPositive, false, true, "", &Config::limit_worker_memory});
  add({"--limit-worker-lifetime", "", T::kFloat, "FLOAT",
       "Replace each worker after it has run this many seconds, plus a random 0-10 % so that workers are not "
       "replaced all at once; its replacement starts first, as with --limit-max-requests.",
       false, kAboveZero, false, true, "", &Config::limit_worker_lifetime});
  add({"--metrics-bind", "", T::kText, "TEXT",
       "Serve Prometheus metrics (GET /metrics, text format 0.0.4) from the master at HOST:PORT or "
       "unix:PATH, summed over all workers: requests by method and status class, their durations, bytes, "
       "open connections and WebSockets, worker restarts. Off by default.",
       false, kNone, false, true, "", &Config::metrics_bind});
  add({"--user", "", T::kText, "TEXT",
       "Run the workers as this user (name or uid). Needs esg to be started as root: the master binds the "
       "sockets, the app never runs as root.",
       false, kNone, false, true, "", &Config::user});
  add({"--group", "", T::kText, "TEXT",
       "Run the workers with this group (name or gid). Defaults to the primary group of --user.", false, kNone,
       false, true, "", &Config::group});
  add({"--venv", "", T::kText, "PATH",
       "Virtualenv whose interpreter runs the workers, resolved again on every reload. Defaults to a .venv "
       "directory inside --app-dir when there is one.",
       false, kNone, false, true, "", &Config::venv});

  // Control plane (control/server/control_server.h).
  add({"--control-socket", "", T::kText, "PATH",
       "UNIX socket of the gRPC control plane (esgctl), mode 0600, peers checked by uid. 'none': no socket. "
       "Default: $ESG_CONTROL_SOCKET, else /run/esg/control.sock as root, $XDG_RUNTIME_DIR/esg/control.sock "
       "or /tmp/esg-<uid>/control.sock.",
       false, kNone, false, true, "", &Config::control_socket});
  add({"--no-control", "", T::kFlag, "", "Do not start the control plane.", false, kNone, false, true, "",
       &Config::control, "", /*negated=*/true});
  add({"--control-group", "", T::kText, "TEXT",
       "Also let members of this group (name or gid) use the control socket; it becomes mode 0660.", false, kNone,
       false, true, "", &Config::control_group});
  add({"--control-address", "", T::kText, "TEXT",
       "Also serve the control plane on TCP HOST:PORT, with TLS and verified client certificates only "
       "(needs --control-tls-cert, --control-tls-key and --control-tls-ca).",
       false, kNone, false, true, "", &Config::control_address});
  add({"--control-tls-cert", "", T::kText, "PATH", "Server certificate (PEM) of the TCP control listener.", false,
       kNone, false, true, "", &Config::control_tls_cert});
  add({"--control-tls-key", "", T::kText, "PATH", "Private key (PEM) of the TCP control listener.", false, kNone,
       false, true, "", &Config::control_tls_key});
  add({"--control-tls-ca", "", T::kText, "PATH",
       "CA certificate (PEM) that client certificates of the TCP control listener must be signed by.", false,
       kNone, false, true, "", &Config::control_tls_ca});

  add({"--help", "", T::kAction, "", "Show this message and exit.", false, kNone, false, true, "", std::nullopt});
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

void Store(const OptionSpec& spec, const Value& value, Config* config) {
  if (!spec.field) return;
  std::visit([&](auto member) { StoreInto(spec, value, &(config->*member)); }, *spec.field);
}

std::string DefaultText(const OptionSpec& spec) { return RenderDefault(spec, false); }

std::string DefaultPyLiteral(const OptionSpec& spec) { return RenderDefault(spec, true); }

std::string PyRepr(std::string_view text) {
  bool has_single = text.find('\'') != std::string_view::npos;
  bool has_double = text.find('"') != std::string_view::npos;
  char quote = (has_single && !has_double) ? '"' : '\'';
  std::string out(1, quote);
  for (unsigned char c : text) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c == static_cast<unsigned char>(quote)) {
          out += '\\';
          out += static_cast<char>(c);
        } else if (c < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\x%02x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += quote;
  return out;
}


std::string PyFloatRepr(double value) {
  char buf[64];
  int precision = 1;
  for (; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*g", precision, value);
    if (std::strtod(buf, nullptr) == value) break;
  }
  // Those significant digits, positionally as repr() writes them for exponents -4..15 ("20.0", not "2e+01").
  int exponent = value == 0 || !std::isfinite(value) ? 0 : static_cast<int>(std::floor(std::log10(std::fabs(value))));
  if (std::isfinite(value) && exponent >= -4 && exponent < 16) {
    std::snprintf(buf, sizeof buf, "%.*f", std::max(precision - 1 - exponent, 0), value);
  }
  std::string out(buf);
  if (out.find_first_of(".eEn") == std::string::npos) out += ".0";
  return out;
}

std::optional<bool> ParseClickBoolean(std::string_view text) {
  std::string lower;
  for (char c : text) lower.push_back(static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c));
  for (std::string_view yes : {"1", "true", "t", "yes", "y", "on"}) {
    if (lower == yes) return true;
  }
  for (std::string_view no : {"0", "false", "f", "no", "n", "off"}) {
    if (lower == no) return false;
  }
  return std::nullopt;
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
