// pybind11 binding of the engine: `_esg.Engine`, which a worker creates once and drives from its event
// loop (`loop.add_reader(engine.fileno(), engine.run_once)`).
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <memory>
#include <optional>
#include <string>

#include "server/common/config.h"
#include "server/engine/server.h"
#include "server/engine/tls_transport.h"
#include "server/http/access_log_format.h"
#include "server/master/tls_check.h"
#include "server/python/binding/engine_binding.h"
#include "server/python/binding/app_driver.h"
#include "server/python/binding/asgi_channel.h"
#include "server/python/binding/exchange.h"
#include "server/python/binding/flush_scheduler.h"
#include "server/python/binding/interned.h"

namespace py = pybind11;

namespace esg::python {
namespace {

// The settings dict of a worker (the master's config JSON), of esg.run or of the gunicorn worker, read
// through the one schema (esg::FromJson): an unknown key or a value of the wrong type is a ValueError
// naming it, never a silent fallback. Path-like values (esg.run(ssl_certfile=Path(...))) become str.
Config ConfigFromDict(const py::dict& settings) {
  py::object json = py::module_::import("json");
  py::object fspath = py::module_::import("os").attr("fspath");
  std::string text = json.attr("dumps")(settings, py::arg("default") = fspath).cast<std::string>();
  Config config;
  std::string error;
  if (!FromJson(text, &config, &error)) throw py::value_error("ESG engine config: " + error);
  return config;
}

engine::EngineConfig MakeEngineConfig(const Config& c) {
  engine::EngineConfig e;
  // The CLI checks this range; esg.run(app_object, ...) and the gunicorn worker reach here directly.
  if (!(c.timeout_request >= 0) || !std::isfinite(c.timeout_request)) {
    throw py::value_error("timeout_request (--timeout-request) must be 0 (off) or a positive number of seconds, got " +
                          std::to_string(c.timeout_request));
  }
  if (c.http2_max_concurrent_streams < 1) {
    throw py::value_error("http2_max_concurrent_streams (--http2-max-concurrent-streams) must be a positive "
                          "integer, got " + std::to_string(c.http2_max_concurrent_streams));
  }
  e.limits.max_request_line = static_cast<size_t>(c.limit_request_line);
  e.limits.max_header_count = static_cast<size_t>(c.limit_request_fields);
  e.limits.max_header_size = static_cast<size_t>(c.limit_request_field_size);
  // uvicorn's --h11-max-incomplete-event-size bounds the same buffered head: with both, both hold.
  e.limits.max_head_size = static_cast<size_t>(std::min(c.limit_request_head_size,
                                                        c.h11_max_incomplete_event_size.value_or(INT_MAX)));
  e.limits.max_body_size = c.limit_request_body;
  e.timeout_keep_alive = c.timeout_keep_alive;
  e.timeout_request_header = c.timeout_request_header;
  e.timeout_request_body = c.timeout_request_body;
  e.timeout_send = c.timeout_send;
  e.timeout_request = c.timeout_request;
  e.limit_concurrency = static_cast<size_t>(c.limit_concurrency.value_or(0));
  e.coalesce_streams = c.coalesce_streams;
  e.http2 = c.http2;
  e.http2_max_concurrent_streams = static_cast<uint32_t>(c.http2_max_concurrent_streams);
  e.websocket = c.ws != "none";
  e.ws_per_message_deflate = c.ws_per_message_deflate;
  e.ws.max_message = static_cast<uint64_t>(c.ws_max_size);
  e.ws.ping_interval = c.ws_ping_interval;
  e.ws.ping_timeout = c.ws_ping_timeout;
  e.ws.max_queue = static_cast<size_t>(c.ws_max_queue);
  e.request_metrics = !c.metrics_bind.empty();  // only the master's --metrics-bind reads them
  e.defaults.server = c.server_header;
  e.defaults.date = c.date_header;
  for (const auto& [name, value] : c.headers) e.defaults.extra += name + ": " + value + "\r\n";
  if (!c.access_log_format.empty()) {
    auto format = std::make_shared<http::AccessLogFormat>();
    std::string error;
    if (!http::AccessLogFormat::Compile(c.access_log_format, format.get(), &error)) {
      throw py::value_error("access_log_format: " + error + ".");
    }
    e.access_log_format = std::move(format);
  }
  return e;
}

// TLS: with ssl_certfile (or ssl_keyfile) set, every listener speaks TLS through one shared SSL_CTX.
// nullptr for plain HTTP; ValueError with the option's name when a file or value is unusable.
std::shared_ptr<engine::TlsContext> MakeTlsContext(const Config& c) {
  if (!UsesTls(c)) return nullptr;
  std::string error;
  std::shared_ptr<engine::TlsContext> context = engine::TlsContext::Create(TlsSettingsFrom(c), &error);
  if (!context) throw py::value_error(error);
  return context;
}

class Engine {
 public:
  Engine(py::object run_app, py::object loop, const py::dict& settings, const py::list& listeners, py::object state,
         py::object app, py::object tracker) {
    Config config = ConfigFromDict(settings);
    std::shared_ptr<engine::TlsContext> tls = MakeTlsContext(config);
    std::string root_path = config.root_path;
    while (!root_path.empty() && root_path.back() == '/') root_path.pop_back();
    channel_ = std::make_unique<AsgiChannel>(run_app.ptr(), loop.ptr(), root_path, state.ptr());
    if (!app.is_none() && !tracker.is_none() && !channel_->EnableEagerStart(app.ptr(), tracker.ptr())) {
      throw py::error_already_set();
    }
    channel_->set_reset_contextvars(config.reset_contextvars);
    if (config.proxy_headers) {
      http::ForwardedPolicy policy;
      std::string error;
      if (!policy.Parse(config.forwarded_allow_ips.value_or(std::string(kDefaultForwardedAllowIps)), &error)) {
        throw py::value_error("--forwarded-allow-ips: " + error);
      }
      channel_->set_forwarded_policy(policy);
    }
    server_ = std::make_unique<engine::Server>(MakeEngineConfig(config), channel_.get());
    if (!server_->ok()) throw std::runtime_error("cannot create the engine's epoll/timer descriptors");
    if (!flush_scheduler_.Install(server_.get(), loop.ptr())) throw py::error_already_set();
    for (py::handle l : listeners) {
      py::dict d = py::reinterpret_borrow<py::dict>(l);
      std::string kind = d["kind"].cast<std::string>();
      std::string host = kind == "unix" ? d["path"].cast<std::string>() : d["host"].cast<std::string>();
      int port = kind == "unix" ? 0 : d["port"].cast<int>();
      if (!server_->AddListener(d["fd"].cast<int>(), kind == "unix", host, port)) {
        throw std::runtime_error("cannot use listening socket fd " + std::to_string(d["fd"].cast<int>()));
      }
      if (tls) {
        engine::Listener* listener = server_->last_listener();
        listener->tls = true;
        listener->make_transport = [tls](int fd) { return engine::MakeTlsTransport(tls, fd); };
      }
    }
  }

  int fileno() const { return server_->fd(); }

  // The callable for loop.add_reader: a plain C function (no pybind11 dispatch on every wakeup) bound
  // to a capsule holding the Server. The Engine must outlive it (serve.py removes the reader first).
  py::object reader() {
    static PyMethodDef def = {"run_once", &RunOnceRaw, METH_NOARGS, "Handle every ready event."};
    py::capsule capsule(server_.get(), "esg.engine.Server");
    PyObject* fn = PyCFunction_New(&def, capsule.ptr());
    if (!fn) throw py::error_already_set();
    return py::reinterpret_steal<py::object>(fn);
  }

  static PyObject* RunOnceRaw(PyObject* self, PyObject*) {
    auto* server = static_cast<engine::Server*>(PyCapsule_GetPointer(self, "esg.engine.Server"));
    if (!server) return nullptr;
    server->RunOnce();
    Py_RETURN_NONE;
  }
  int run_once() { return server_->RunOnce(); }
  void stop_accepting() { server_->StopAccepting(); }
  void begin_drain(bool keep_idle) { server_->BeginDrain(keep_idle); }
  void close_all() {
    server_->CloseAll();
    server_->RunOnce();
  }
  size_t active_requests() const { return server_->active_requests(); }
  size_t active_websockets() const { return server_->active_websockets(); }
  void close_websockets(int code) {
    server_->CloseWebSockets(code);
    server_->RunOnce();
  }
  size_t connections() const { return server_->connection_count(); }
  size_t fresh_connections() const { return server_->fresh_connections(); }
  uint64_t requests_served() const { return server_->requests_served(); }
  uint64_t request_timeouts() const { return server_->request_timeouts(); }
  // The heartbeat's per-request fields (WORKER_PROTOCOL.md); None when the engine does not count them.
  py::object request_counters() const {
    const RequestCounters* c = server_->counters();
    if (!c) return py::none();
    py::list requests;
    for (const auto& row : c->requests) {
      for (uint64_t v : row) requests.append(v);
    }
    py::list buckets;
    for (uint64_t v : c->duration_buckets) buckets.append(v);
    py::dict out;
    out["requests_by_class"] = requests;
    out["duration_buckets"] = buckets;
    out["duration_sum_us"] = c->duration_sum_us;
    out["received_bytes"] = c->received_bytes;
    out["sent_bytes"] = c->sent_bytes;
    out["request_timeouts"] = server_->request_timeouts();
    return out;
  }

 private:
  std::unique_ptr<AsgiChannel> channel_;
  std::unique_ptr<engine::Server> server_;
  FlushScheduler flush_scheduler_;  // after server_: destroyed first, so a queued flush finds no server
};

}  // namespace

void InitEngine(py::module_& m) {
  m.def(
      "check_access_log_format",
      [](const std::string& spec) -> std::optional<std::string> {
        http::AccessLogFormat format;
        std::string error;
        if (http::AccessLogFormat::Compile(spec, &format, &error)) return std::nullopt;
        return error;
      },
      py::arg("format"), "None when `format` is a valid access_log_format, else why it is not.");
  if (!InitInterned() || !InitExchangeTypes() || !InitAppDriverType()) throw py::error_already_set();
  m.attr("AppDriver") = py::reinterpret_borrow<py::object>(AppDriverType());
  m.attr("HAS_TLS") = true;  // esg.main.tls_supported(): the engine honours the ssl_* settings
  py::class_<Engine>(m, "Engine", "The ESG HTTP engine of one worker (runs on the event loop's thread).")
      .def(py::init<py::object, py::object, py::dict, py::list, py::object, py::object, py::object>(),
           py::arg("run_app"), py::arg("loop"), py::arg("config"), py::arg("listeners"), py::arg("state"),
           py::arg("app") = py::none(), py::arg("tracker") = py::none(),
           "run_app(scope, receive, send, exchange) starts a request as a Task; with `app` and `tracker` "
           "(started(task, is_websocket) / ended(task, is_websocket)), requests start eagerly (see "
           "AsgiChannel::EnableEagerStart).")
      .def("fileno", &Engine::fileno, "The epoll descriptor to watch for readability.")
      .def("run_once", &Engine::run_once, "Handle every ready event; never blocks.")
      .def("reader", &Engine::reader, "run_once as a plain C callable, for loop.add_reader.")
      .def("stop_accepting", &Engine::stop_accepting, "Close this worker's listening sockets.")
      .def("begin_drain", &Engine::begin_drain, py::arg("keep_idle") = false,
           "Close idle connections (with keep_idle: at their keep-alive deadline); close the others after "
           "their response.")
      .def("close_all", &Engine::close_all, "Close every connection now.")
      .def("close_websockets", &Engine::close_websockets, py::arg("code") = 1001,
           "Send every open WebSocket a close frame (1001: going away).")
      .def_property_readonly("active_requests", &Engine::active_requests)
      .def_property_readonly("active_websockets", &Engine::active_websockets)
      .def_property_readonly("connections", &Engine::connections)
      .def_property_readonly("fresh_connections", &Engine::fresh_connections,
                             "Connections accepted that have not sent a request yet.")
      .def_property_readonly("requests_served", &Engine::requests_served)
      .def_property_readonly("request_timeouts", &Engine::request_timeouts,
                             "Requests ended by --timeout-request (504 or a cut-short response) in this worker.")
      .def("request_counters", &Engine::request_counters,
           "The per-request counters for the heartbeat (a dict, see WORKER_PROTOCOL.md), or None when the "
           "engine does not count them (no --metrics-bind).");
}

}  // namespace esg::python
