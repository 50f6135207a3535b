// AsgiChannel implementation: scope building and app start for ASGI `http` requests.
#include "server/python/binding/asgi_channel.h"

#include "server/common/log.h"
#include "server/engine/connection.h"
#include "server/engine/server.h"
#include "server/python/binding/app_driver.h"
#include "server/python/binding/exchange.h"
#include "server/python/binding/ws_exchange.h"
#include "server/python/binding/interned.h"
#include "server/python/binding/python_error.h"

namespace esg::python {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The ASGI `path`: the percent-decoded path as UTF-8 (invalid sequences replaced, as urllib's unquote).
PyObject* DecodePath(const std::string& prefix, std::string_view raw) {
  bool plain = raw.find('%') == std::string_view::npos;
  if (plain && prefix.empty()) {
    return PyUnicode_DecodeUTF8(raw.data(), static_cast<Py_ssize_t>(raw.size()), "replace");
  }
  std::string out = prefix;
  out.reserve(prefix.size() + raw.size());
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '%' && i + 2 < raw.size()) {
      int hi = HexValue(raw[i + 1]);
      int lo = HexValue(raw[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(raw[i]);
  }
  return PyUnicode_DecodeUTF8(out.data(), static_cast<Py_ssize_t>(out.size()), "replace");
}

// Sets d[key] = value and drops the reference to value; false on error.
bool SetSteal(PyObject* d, PyObject* key, PyObject* value) {
  if (!value) return false;
  int rc = PyDict_SetItem(d, key, value);
  Py_DECREF(value);
  return rc == 0;
}

}  // namespace

AsgiChannel::AsgiChannel(PyObject* run_app, PyObject* loop, const std::string& root_path, PyObject* state)
    : run_app_(PyRef::Borrow(run_app)),
      loop_(PyRef::Borrow(loop)),
      create_task_(PyRef::Steal(PyObject_GetAttrString(loop, "create_task"))),
      futures_(loop),
      state_(PyRef::Borrow(state)),
      root_path_str_(PyRef::Steal(PyUnicode_FromStringAndSize(root_path.data(), static_cast<Py_ssize_t>(root_path.size())))),
      root_path_(root_path) {}

const AsgiChannel::ScopeTemplates* AsgiChannel::Templates(const engine::Listener* listener) {
  auto it = templates_.find(listener);
  if (it != templates_.end()) return &it->second;
  const Interned& k = interned();
  PyRef server = PyRef::Steal(listener->unix_socket ? Py_BuildValue("(sO)", listener->host.c_str(), Py_None)
                                                    : Py_BuildValue("(si)", listener->host.c_str(), listener->port));
  PyRef get = PyRef::Steal(k.Method("GET"));
  if (!server || !get) return nullptr;
  ScopeTemplates t;
  for (bool websocket : {false, true}) {
    PyRef d = PyRef::Steal(_PyDict_NewPresized(13));
    if (!d) return nullptr;
    PyObject* scheme = websocket ? (listener->tls ? k.wss : k.ws) : (listener->tls ? k.https : k.http);
    // Placeholders (None, b"") are always overwritten or are the common value; see BuildScope.
    if (PyDict_SetItem(d.get(), k.type, websocket ? k.websocket : k.http) < 0 ||
        PyDict_SetItem(d.get(), k.asgi, k.asgi_dict) < 0 || PyDict_SetItem(d.get(), k.http_version, k.v11) < 0 ||
        PyDict_SetItem(d.get(), k.server, server.get()) < 0 || PyDict_SetItem(d.get(), k.client, Py_None) < 0 ||
        PyDict_SetItem(d.get(), k.scheme, scheme) < 0 ||
        PyDict_SetItem(d.get(), websocket ? k.subprotocols : k.method, websocket ? Py_None : get.get()) < 0 ||
        PyDict_SetItem(d.get(), k.root_path, root_path_str_.get()) < 0 ||
        PyDict_SetItem(d.get(), k.path, Py_None) < 0 || PyDict_SetItem(d.get(), k.raw_path, Py_None) < 0 ||
        PyDict_SetItem(d.get(), k.query_string, k.empty_bytes) < 0 ||
        PyDict_SetItem(d.get(), k.headers, Py_None) < 0 || PyDict_SetItem(d.get(), k.state, Py_None) < 0) {
      return nullptr;
    }
    (websocket ? t.websocket : t.http) = std::move(d);
  }
  return &templates_.emplace(listener, std::move(t)).first->second;
}

namespace {

// A trusted proxy named the host the client asked for (`host`, http::ForwardedPolicy::FromHeaders): the
// host header already carries it (BuildScope); a request without one (HTTP/1.0) gets one, and `server`
// becomes that host and port (the scheme's default when none), so that WSGI's SERVER_NAME/SERVER_PORT agree
// with HTTP_HOST as Werkzeug's ProxyFix makes them.
bool SetForwardedHost(PyObject* scope, PyObject* headers, const http::RequestHead& head, const std::string& host) {
  const Interned& k = interned();
  bool has_host = false;
  for (size_t i = 0; i < head.header_count && !has_host; ++i) has_host = head.headers[i].name == "host";
  if (!has_host) {
    PyObject* pair = Py_BuildValue("(NN)", k.HeaderName("host"),
                                   PyBytes_FromStringAndSize(host.data(), static_cast<Py_ssize_t>(host.size())));
    if (!pair || PyList_Append(headers, pair) < 0) {
      Py_XDECREF(pair);
      return false;
    }
    Py_DECREF(pair);
  }
  auto [name, port] = http::ForwardedPolicy::SplitHost(host);
  if (port == 0) {
    PyObject* scheme = PyDict_GetItemWithError(scope, k.scheme);
    if (!scheme) return false;
    port = scheme == k.https || scheme == k.wss ? 443 : 80;
  }
  return SetSteal(scope, k.server,
                  Py_BuildValue("(Ni)", PyUnicode_DecodeLatin1(name.data(), static_cast<Py_ssize_t>(name.size()), nullptr), port));
}

}  // namespace

PyObject* AsgiChannel::BuildScope(const engine::Listener* listener, const engine::PeerInfo* peer,
                                  const http::RequestHead& head, bool websocket) {
  const Interned& k = interned();
  const ScopeTemplates* templates = Templates(listener);
  if (!templates) return nullptr;
  PyObject* scope = PyDict_Copy(websocket ? templates->websocket.get() : templates->http.get());
  if (!scope) return nullptr;
  PyRef guard = PyRef::Steal(scope);
  if (head.version_minor != 1 &&
      PyDict_SetItem(scope, k.http_version, head.version_major == 2 ? k.v2 : k.v10) < 0) {
    return nullptr;
  }
  // HTTP/2 streams carry response trailers: the ASGI extension is offered (a copy: the app may mutate it).
  if (head.version_major == 2 && !websocket && !SetSteal(scope, k.extensions, PyDict_Copy(k.trailers_extension))) {
    return nullptr;
  }
  PyObject* client = nullptr;
  std::string_view scheme;  // from a trusted X-Forwarded-Proto, else the listener's
  if (forwarded_ && peer->forwarded_trust < 0) {
    peer->forwarded_trust = (listener->unix_socket ? forwarded_->TrustsUnixPeer(peer->fd) : forwarded_->Trusts(peer->client_host)) ? 1 : 0;
  }
  std::string forwarded_host;  // a trusted proxy's original Host (replaces the host header), else empty
  if (forwarded_ && peer->forwarded_trust == 1 && http::HasForwardedHeaders(head)) {
    // A trusted proxy: its X-Forwarded-* (or Forwarded) headers say who the client is and how it connected.
    http::ForwardedPolicy::ForwardedElement fwd = forwarded_->FromHeaders(head, websocket);
    scheme = fwd.scheme;
    forwarded_host = std::move(fwd.host);
    if (fwd.client) {
      client = Py_BuildValue("(si)", fwd.client->host.c_str(), fwd.client->port);
      if (!client) return nullptr;
    }
  }
  if (!client && !listener->unix_socket && !peer->client_host.empty()) {
    client = PyTuple_New(2);
    PyObject* host = PyUnicode_DecodeLatin1(peer->client_host.data(), static_cast<Py_ssize_t>(peer->client_host.size()), nullptr);
    PyObject* port = PyLong_FromLong(peer->client_port);
    if (!client || !host || !port) {
      Py_XDECREF(client);
      Py_XDECREF(host);
      Py_XDECREF(port);
      return nullptr;
    }
    PyTuple_SET_ITEM(client, 0, host);
    PyTuple_SET_ITEM(client, 1, port);
  }
  if (client && !SetSteal(scope, k.client, client)) return nullptr;  // else the template's None
  // Only an upgrade to the secure scheme is taken: a TLS listener stays https/wss.
  if ((scheme == "https" || scheme == "wss") && !listener->tls &&
      PyDict_SetItem(scope, k.scheme, websocket ? k.wss : k.https) < 0) {
    return nullptr;
  }
  if (websocket) {
    PyObject* protocols = PyList_New(0);
    if (!SetSteal(scope, k.subprotocols, protocols)) return nullptr;
    for (size_t i = 0; i < head.header_count; ++i) {
      if (std::string_view(head.headers[i].name) != "sec-websocket-protocol") continue;
      std::string_view list = head.headers[i].value;
      while (!list.empty()) {
        size_t comma = list.find(',');
        std::string_view item = list.substr(0, comma);
        while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
        while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
        if (!item.empty()) {
          PyObject* s = PyUnicode_DecodeLatin1(item.data(), static_cast<Py_ssize_t>(item.size()), nullptr);
          if (!s || PyList_Append(protocols, s) < 0) {
            Py_XDECREF(s);
            return nullptr;
          }
          Py_DECREF(s);
        }
        if (comma == std::string_view::npos) break;
        list = list.substr(comma + 1);
      }
    }
  } else if (std::string_view(head.method) != "GET" && !SetSteal(scope, k.method, k.Method(head.method))) {
    return nullptr;
  }
  std::string_view raw_path = head.path();
  if (!SetSteal(scope, k.path, DecodePath(root_path_, raw_path))) return nullptr;
  PyObject* raw;
  if (root_path_.empty()) {
    raw = PyBytes_FromStringAndSize(raw_path.data(), static_cast<Py_ssize_t>(raw_path.size()));
  } else {
    std::string full = root_path_;
    full.append(raw_path);
    raw = PyBytes_FromStringAndSize(full.data(), static_cast<Py_ssize_t>(full.size()));
  }
  if (!SetSteal(scope, k.raw_path, raw)) return nullptr;
  std::string_view qs = head.query_string();
  if (!qs.empty() &&
      !SetSteal(scope, k.query_string, PyBytes_FromStringAndSize(qs.data(), static_cast<Py_ssize_t>(qs.size())))) {
    return nullptr;
  }
  PyObject* headers = PyList_New(static_cast<Py_ssize_t>(head.header_count));
  if (!SetSteal(scope, k.headers, headers)) return nullptr;
  for (size_t i = 0; i < head.header_count; ++i) {
    const http::Header& h = head.headers[i];
    PyObject* name = k.HeaderName(h.name);
    const std::string& v = !forwarded_host.empty() && h.name == "host" ? forwarded_host : h.value;
    PyObject* value = PyBytes_FromStringAndSize(v.data(), static_cast<Py_ssize_t>(v.size()));
    if (!name || !value) {
      Py_XDECREF(name);
      Py_XDECREF(value);
      return nullptr;
    }
    PyObject* pair = PyTuple_New(2);
    if (!pair) return nullptr;
    PyTuple_SET_ITEM(pair, 0, name);
    PyTuple_SET_ITEM(pair, 1, value);
    PyList_SET_ITEM(headers, static_cast<Py_ssize_t>(i), pair);
  }
  if (!forwarded_host.empty() && !SetForwardedHost(scope, headers, head, forwarded_host)) return nullptr;
  PyObject* state = state_.get() != Py_None ? PyDict_Copy(state_.get()) : PyDict_New();
  if (!SetSteal(scope, k.state, state)) return nullptr;
  return guard.release();
}

bool AsgiChannel::EnableEagerStart(PyObject* app, PyObject* tracker) {
  PyRef asyncio_c = PyRef::Steal(PyImport_ImportModule("_asyncio"));
  if (!asyncio_c) return false;
  task_type_ = PyRef::Steal(PyObject_GetAttrString(asyncio_c.get(), "Task"));
  enter_task_ = PyRef::Steal(PyObject_GetAttrString(asyncio_c.get(), "_enter_task"));
  leave_task_ = PyRef::Steal(PyObject_GetAttrString(asyncio_c.get(), "_leave_task"));
  if (!task_type_ || !enter_task_ || !leave_task_ || !PyType_Check(task_type_.get())) return false;
  task_init_ = PyRef::Steal(PyObject_GetAttrString(task_type_.get(), "__init__"));
  started_name_ = PyRef::Steal(PyUnicode_InternFromString("started"));
  empty_tuple_ = PyRef::Steal(PyTuple_New(0));
#if PY_VERSION_HEX >= 0x030B0000
  init_kwnames_ = PyRef::Steal(Py_BuildValue("(ss)", "loop", "context"));
#else
  init_kwnames_ = PyRef::Steal(Py_BuildValue("(s)", "loop"));  // Task(context=) is 3.11+
#endif
  if (!task_init_ || !started_name_ || !empty_tuple_ || !init_kwnames_) return false;
#if PY_VERSION_HEX < 0x030E0000
  // Up to 3.13 asyncio's C current_task() reads this dict; writing it directly saves two Python-level
  // calls per request. (3.14 keeps the current task on the thread state: the calls are used there.)
  PyRef current = PyRef::Steal(PyObject_GetAttrString(asyncio_c.get(), "_current_tasks"));
  if (current && PyDict_CheckExact(current.get())) {
    loop_hash_ = PyObject_Hash(loop_.get());
    if (loop_hash_ != -1) current_tasks_ = std::move(current);
  }
  PyErr_Clear();
#endif
  stand_in_.Init(task_type_.get(), loop_.get());  // if the layout is not recognised, the stand-in stays bare
  app_ = PyRef::Borrow(app);
  tracker_ = PyRef::Borrow(tracker);
  return true;
}

namespace {

// 3.13 no longer declares the known-hash setters (they went internal); there the plain calls rehash the loop,
// which is an identity hash.
inline int SetKnownHash(PyObject* dict, PyObject* key, PyObject* value, Py_hash_t hash) {
#if PY_VERSION_HEX >= 0x030D0000
  (void)hash;
  return PyDict_SetItem(dict, key, value);
#else
  return _PyDict_SetItem_KnownHash(dict, key, value, hash);
#endif
}

inline int DelKnownHash(PyObject* dict, PyObject* key, Py_hash_t hash) {
#if PY_VERSION_HEX >= 0x030D0000
  (void)hash;
  return PyDict_DelItem(dict, key);
#else
  return _PyDict_DelItem_KnownHash(dict, key, hash);
#endif
}

}  // namespace

bool AsgiChannel::EnterTask(PyObject* task) {
  if (current_tasks_) {
    PyObject* dict = current_tasks_.get();
    if (_PyDict_GetItem_KnownHash(dict, loop_.get(), loop_hash_) != nullptr) return false;
    if (!PyErr_Occurred() && SetKnownHash(dict, loop_.get(), task, loop_hash_) == 0) return true;
    PyErr_Clear();
    return false;
  }
  PyObject* args[] = {loop_.get(), task};
  PyRef entered = PyRef::Steal(PyObject_Vectorcall(enter_task_.get(), args, 2, nullptr));
  if (!entered) PyErr_Clear();  // another task is running
  return static_cast<bool>(entered);
}

void AsgiChannel::LeaveTask(PyObject* task) {
  if (current_tasks_) {
    PyObject* dict = current_tasks_.get();
    if (_PyDict_GetItem_KnownHash(dict, loop_.get(), loop_hash_) == task) {
      if (DelKnownHash(dict, loop_.get(), loop_hash_) < 0) PyErr_Clear();
    }
    PyErr_Clear();
    return;
  }
  PyObject* args[] = {loop_.get(), task};
  PyRef left = PyRef::Steal(PyObject_Vectorcall(leave_task_.get(), args, 2, nullptr));
  if (!left) PyErr_Clear();
}

bool AsgiChannel::StartEager(PyObject* scope, PyObject* receive, PyObject* send, PyObject* exchange, bool websocket,
                             const std::function<void()>& fail) {
  PyObject* args[] = {scope, receive, send};
  PyRef coro = PyRef::Steal(PyObject_Vectorcall(app_.get(), args, 3, nullptr));
  if (!coro) {
    LogPythonError("Exception in ASGI application");
    fail();
    return true;
  }
  if (!PyCoro_CheckExact(coro.get()) && !PyGen_CheckExact(coro.get())) {
    // Not a native coroutine (an awaitable object, a Cython coroutine...): let a Task drive it.
    return false;
  }
  // An allocated, not yet initialised Task stands in as the current task during the first step.
  auto* task_type = reinterpret_cast<PyTypeObject*>(task_type_.get());
  PyRef task = PyRef::Steal(task_type->tp_new(task_type, empty_tuple_.get(), nullptr));
  PyRef context = PyRef::Steal(reset_contextvars_ && !websocket ? PyContext_New() : PyContext_CopyCurrent());
  if (!task || !context || PyContext_Enter(context.get()) < 0) {
    LogPythonError("Cannot start the ASGI application");
    fail();
    return true;
  }
  stand_in_.Prepare(task.get(), coro.get(), context.get());  // repr(), done(), get_loop()... answer
  bool entered = EnterTask(task.get());
  PyObject* yielded = nullptr;
  PySendResult step;
  if (entered) {
    step = PyIter_Send(coro.get(), Py_None, &yielded);
  } else {
    // Another task is running (a pipelined request parsed from inside the previous one's response):
    // the app is not stepped here; its Task starts it (the driver is told so by yielded == coro).
    step = PYGEN_NEXT;
    yielded = Py_NewRef(coro.get());
  }
  PyRef yielded_ref = PyRef::Steal(yielded);
  if (entered) {
    // _leave_task must not clobber the app's exception.
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    LeaveTask(task.get());
    PyErr_Restore(type, value, tb);
  }
  PyContext_Exit(context.get());
  if (step != PYGEN_NEXT) {
    stand_in_.FinishIfHeld(task.get());
    EndExchange(exchange, step == PYGEN_ERROR);
    return true;
  }
  // Suspended: the stand-in becomes the real Task, continuing the app in the same context.
  PyRef driver = PyRef::Steal(NewAppDriver(coro.get(), yielded_ref.get(), exchange, tracker_.get(), task.get(),
                                           websocket));
  StandInTask::Carried carried = stand_in_.Save(task.get());
  PyObject* init_args[] = {task.get(), driver.get(), loop_.get(), context.get()};
#if PY_VERSION_HEX >= 0x030B0000
  PyRef init = driver ? PyRef::Steal(PyObject_Vectorcall(task_init_.get(), init_args, 2, init_kwnames_.get()))
                      : PyRef();
#else
  // 3.10's Task takes no context=: it copies the current one, so the request's context is entered around
  // the call (the Task then runs in a copy holding everything the app set during the eager step).
  PyRef init;
  if (driver && PyContext_Enter(context.get()) == 0) {
    init = PyRef::Steal(PyObject_Vectorcall(task_init_.get(), init_args, 2, init_kwnames_.get()));
    PyContext_Exit(context.get());
  }
#endif
  if (!init) {
    LogPythonError("Cannot schedule the ASGI application task");
    fail();
    return true;
  }
  stand_in_.Restore(task.get(), carried);
  if (!websocket) SetExchangeTask(exchange, task.get());  // cancelled by --timeout-request
  PyObject* started_args[] = {tracker_.get(), task.get(), websocket ? Py_True : Py_False};
  PyRef started = PyRef::Steal(PyObject_VectorcallMethod(started_name_.get(), started_args, 3, nullptr));
  if (!started) LogPythonError("Cannot track the ASGI application task");
  return true;
}

void AsgiChannel::Start(PyObject* scope, PyObject* receive, PyObject* send, PyObject* exchange, bool websocket,
                        const std::function<void()>& fail) {
  if (app_ && StartEager(scope, receive, send, exchange, websocket, fail)) return;
  PyObject* args[] = {scope, receive, send, exchange};
  PyRef coro = PyRef::Steal(PyObject_Vectorcall(run_app_.get(), args, 4, nullptr));
  if (!coro) {
    LogPythonError("Exception in ASGI application");
    fail();
    return;
  }
  PyRef task;
  if (reset_contextvars_ && !websocket) {
    PyRef kwargs = PyRef::Steal(Py_BuildValue("{sN}", "context", PyContext_New()));
    PyRef args = PyRef::Steal(PyTuple_Pack(1, coro.get()));
    if (kwargs && args) task = PyRef::Steal(PyObject_Call(create_task_.get(), args.get(), kwargs.get()));
  } else {
    task = PyRef::Steal(PyObject_CallOneArg(create_task_.get(), coro.get()));
  }
  if (!task) {
    LogPythonError("Cannot start the ASGI application task");
    fail();
    return;
  }
  if (!websocket) SetExchangeTask(exchange, task.get());  // cancelled by --timeout-request
}

void AsgiChannel::OnRequest(const engine::StreamPtr& stream, const http::RequestHead& head) {
  auto fail = [&stream] { stream->Fail(); };
  PyRef scope = PyRef::Steal(BuildScope(stream->listener(), stream->peer(), head, false));
  if (!scope) {
    LogPythonError("Cannot build the ASGI scope");
    fail();
    return;
  }
  PyObject* receive = nullptr;
  PyObject* send = nullptr;
  PyRef exchange = PyRef::Steal(NewExchange(&futures_, stream, &receive, &send));
  if (!exchange) {
    LogPythonError("Cannot create the ASGI exchange");
    fail();
    return;
  }
  PyRef receive_ref = PyRef::Steal(receive);
  PyRef send_ref = PyRef::Steal(send);
  Start(scope.get(), receive, send, exchange.get(), false, fail);
}

void AsgiChannel::OnWebSocket(const engine::WsStreamPtr& stream, const http::RequestHead& head) {
  auto fail = [&stream] { stream->Fail(); };
  PyRef scope = PyRef::Steal(BuildScope(stream->listener(), stream->peer(), head, true));
  if (!scope) {
    LogPythonError("Cannot build the ASGI websocket scope");
    fail();
    return;
  }
  PyObject* receive = nullptr;
  PyObject* send = nullptr;
  PyRef exchange = PyRef::Steal(NewWebSocketExchange(&futures_, stream, &receive, &send));
  if (!exchange) {
    LogPythonError("Cannot create the ASGI websocket exchange");
    fail();
    return;
  }
  PyRef receive_ref = PyRef::Steal(receive);
  PyRef send_ref = PyRef::Steal(send);
  Start(scope.get(), receive, send, exchange.get(), true, fail);
}

}  // namespace esg::python
