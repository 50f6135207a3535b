// Exchange: the ASGI `receive`/`send` pair for one HTTP request.
#include "server/python/binding/exchange.h"

#include <new>
#include <string>
#include <vector>

#include "server/common/log.h"
#include "server/http/token.h"
#include "server/python/binding/app_cancel.h"
#include "server/python/binding/interned.h"
#include "server/python/binding/loop_futures.h"
#include "server/python/binding/python_error.h"
#include "server/python/binding/ready.h"

namespace esg::python {
namespace {

// ---------------------------------------------------------------------------------------------------
struct ExchangeObject;

class Observer final : public engine::StreamObserver {
 public:
  explicit Observer(ExchangeObject* owner) : owner_(owner) {}
  void OnBodyReady() override;
  void OnWritable() override;
  void OnTimedOut() override;

 private:
  ExchangeObject* owner_;
};

struct ExchangeObject {
  PyObject_HEAD
  vectorcallfunc vectorcall;  // the exchange itself is the app's `send`: send(message) calls ExchangeSend
  engine::StreamPtr stream;
  Observer observer;
  LoopFutures* futures;  // the channel's, which outlives its exchanges
  PyObject* receive_waiter;  // pending future of receive(), owned
  PyObject* send_waiter;     // pending future of send(), owned
  PyObject* more_send_waiters;  // list of futures of further send() calls made meanwhile (asyncio.gather), owned
  PyObject* task;  // the Task running the app once it suspended (SetExchangeTask), owned until finish()/fail()
  bool start_received;
  bool body_end_delivered;
  bool app_done;
  bool detached;  // detach() was called: the app's return does not end the exchange, the next finish() does
  bool cancelled;  // --timeout-request cancelled `task`
};

PyTypeObject ExchangeType = {PyVarObject_HEAD_INIT(nullptr, 0)};

ExchangeObject* AsExchange(PyObject* self) { return reinterpret_cast<ExchangeObject*>(self); }

// Resolves (and forgets) a waiter future, unless it was cancelled meanwhile.
void Resolve(PyObject** waiter, PyObject* value /* borrowed */) {
  PyObject* fut = *waiter;
  *waiter = nullptr;
  if (!fut) return;
  PyObject* cancelled = PyObject_CallMethod(fut, "cancelled", nullptr);
  if (cancelled == Py_False) {
    PyObject* r = PyObject_CallMethod(fut, "set_result", "O", value);
    if (!r) LogPythonError("Cannot wake the ASGI application");
    Py_XDECREF(r);
  } else if (!cancelled) {
    PyErr_Clear();
  }
  Py_XDECREF(cancelled);
  Py_DECREF(fut);
}

// The next receive() message if one is ready now (new reference), else null without an error.
PyObject* NextMessage(ExchangeObject* ex) {
  const Interned& k = interned();
  engine::HttpStream& s = *ex->stream;
  if (!ex->body_end_delivered && !s.disconnected()) {
    if (s.has_body_bytes() || s.body_complete()) {
      std::string body;
      bool more = !s.TakeBody(&body);
      if (!more) ex->body_end_delivered = true;
      PyObject* msg = _PyDict_NewPresized(3);
      if (!msg) return nullptr;
      PyObject* bytes = body.empty() ? Py_NewRef(k.empty_bytes)
                                     : PyBytes_FromStringAndSize(body.data(), static_cast<Py_ssize_t>(body.size()));
      if (!bytes || PyDict_SetItem(msg, k.type, k.http_request) < 0 || PyDict_SetItem(msg, k.body, bytes) < 0 ||
          PyDict_SetItem(msg, k.more_body, more ? Py_True : Py_False) < 0) {
        Py_XDECREF(bytes);
        Py_DECREF(msg);
        return nullptr;
      }
      Py_DECREF(bytes);
      return msg;
    }
    // Nothing buffered yet: ask for the body (sends "100 Continue" when the client waits for it).
    std::string none;
    s.TakeBody(&none);
    return nullptr;
  }
  if (s.disconnected() || s.response_complete()) {
    return Py_BuildValue("{s:s}", "type", "http.disconnect");
  }
  return nullptr;  // body delivered, still connected: wait for the disconnect
}

void Observer::OnBodyReady() {
  ExchangeObject* ex = owner_;
  if (!ex->receive_waiter) return;
  if (LoopFutures::IsDone(ex->receive_waiter)) {  // cancelled: the body stays for the next receive()
    Py_CLEAR(ex->receive_waiter);
    return;
  }
  PyObject* msg = NextMessage(ex);
  if (!msg) {
    if (PyErr_Occurred()) LogPythonError("Cannot build an ASGI message");
    return;
  }
  Resolve(&ex->receive_waiter, msg);
  Py_DECREF(msg);
}

void Observer::OnWritable() {
  ExchangeObject* ex = owner_;
  if (ex->send_waiter) Resolve(&ex->send_waiter, Py_None);
  if (ex->more_send_waiters) {
    // Every send() that got a future is woken, not just the last one (the first must not hang).
    PyObject* list = ex->more_send_waiters;
    ex->more_send_waiters = nullptr;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(list); ++i) {
      PyObject* fut = Py_NewRef(PyList_GET_ITEM(list, i));
      Resolve(&fut, Py_None);
    }
    Py_DECREF(list);
  }
  // A receive() waiting for the disconnect learns about it here too.
  if (ex->receive_waiter && ex->stream->disconnected()) OnBodyReady();
}

void Observer::OnTimedOut() {
  ExchangeObject* ex = owner_;
  if (!ex->task || ex->app_done || ex->cancelled) return;
  ex->cancelled = true;
  PyObject* task = Py_NewRef(ex->task);
  CancelTimedOutTask(task);
  Py_DECREF(task);
}

PyObject* ExchangeReceive(PyObject* self, PyObject*) {
  ExchangeObject* ex = AsExchange(self);
  if (ex->receive_waiter) {
    if (!LoopFutures::IsDone(ex->receive_waiter)) {
      PyErr_SetString(PyExc_RuntimeError, "receive() called while another receive() is still waiting");
      return nullptr;
    }
    Py_CLEAR(ex->receive_waiter);  // cancelled: that receive() is over, this one takes its place
  }
  PyObject* msg = NextMessage(ex);
  if (msg) return ReadyWith(msg);
  if (PyErr_Occurred()) return nullptr;
  PyObject* fut = ex->futures->NewFuture();
  if (!fut) return nullptr;
  Py_INCREF(fut);
  ex->receive_waiter = fut;
  return fut;
}

bool IsType(PyObject* value, PyObject* interned_str) {
  if (value == interned_str) return true;
  return PyUnicode_Check(value) && PyUnicode_Compare(value, interned_str) == 0;
}

// Reads a bytes-like object into a view; false with TypeError set otherwise.
bool BytesView(PyObject* o, std::string_view* out, Py_buffer* buffer, bool* release) {
  *release = false;
  if (PyBytes_Check(o)) {
    *out = std::string_view(PyBytes_AS_STRING(o), static_cast<size_t>(PyBytes_GET_SIZE(o)));
    return true;
  }
  if (PyObject_GetBuffer(o, buffer, PyBUF_SIMPLE) == 0) {
    *release = true;
    *out = std::string_view(static_cast<const char*>(buffer->buf), static_cast<size_t>(buffer->len));
    return true;
  }
  PyErr_Clear();
  PyErr_Format(PyExc_TypeError, "expected bytes, got %.100s", Py_TYPE(o)->tp_name);
  return false;
}

// Reads one ASGI header, a (name, value) pair of bytes-like objects, and hands its bytes to
// use(name, value) while they are viewed; false with a Python error set otherwise (use sets its own).
template <typename Use>
bool WithHeaderPair(PyObject* item, Use&& use) {
  PyRef pair = PyRef::Borrow(item);
  if (!PyTuple_CheckExact(item) && !PyList_CheckExact(item)) {
    pair = PyRef::Steal(PySequence_Fast(item, "each ASGI header must be a (name, value) pair"));
    if (!pair) return false;
  }
  if (PySequence_Fast_GET_SIZE(pair.get()) != 2) {
    PyErr_SetString(PyExc_RuntimeError, "each ASGI header must be a (name, value) pair");
    return false;
  }
  std::string_view name, value;
  Py_buffer nb, vb;
  bool nrel = false, vrel = false;
  // Owned while their bytes are viewed: a buffer export may run Python code that empties `pair`.
  PyRef name_obj = PyRef::Borrow(PySequence_Fast_GET_ITEM(pair.get(), 0));
  PyRef value_obj = PyRef::Borrow(PySequence_Fast_GET_ITEM(pair.get(), 1));
  bool ok = BytesView(name_obj.get(), &name, &nb, &nrel) && BytesView(value_obj.get(), &value, &vb, &vrel);
  if (ok) ok = use(name, value);
  if (nrel) PyBuffer_Release(&nb);
  if (vrel) PyBuffer_Release(&vb);
  return ok;
}

// Validates and appends one ASGI header to the response head.
bool AddHeader(http::ResponseHead& head, PyObject* item) {
  return WithHeaderPair(item, [&](std::string_view name, std::string_view value) {
    const char* reason = nullptr;
    if (head.Add(name, value, &reason)) return true;
    std::string shown = log::Escape(name);
    PyErr_Format(PyExc_RuntimeError, "Invalid HTTP header %s: %s", shown.c_str(), reason);
    return false;
  });
}

// Validates and appends one trailer field (a token name; a value without CR, LF, NUL or other controls).
bool AddTrailer(std::vector<http::Header>* out, PyObject* item) {
  return WithHeaderPair(item, [&](std::string_view name, std::string_view value) {
    bool valid = !name.empty();
    for (unsigned char c : name) valid = valid && http::IsTokenChar(c);
    for (unsigned char c : value) valid = valid && !((c < 0x20 && c != '\t') || c == 0x7f);
    if (!valid) {
      std::string shown = log::Escape(name);
      PyErr_Format(PyExc_RuntimeError, "Invalid HTTP trailer %s: not a token name, or a control character in the value",
                   shown.c_str());
      return false;
    }
    out->push_back(http::Header{std::string(name), std::string(value)});
    return true;
  });
}

// Calls use(item) for each entry of the message's `headers` (absent or None: none); false with a Python
// error set when reading fails or use() does.
template <typename Use>
bool ForEachHeader(PyObject* message, Use&& use) {
  // Owned: the header objects' own methods (a pair that is not a tuple) may run Python code that
  // changes the message or the list.
  PyRef headers = PyRef::Borrow(PyDict_GetItemWithError(message, interned().headers));
  if (!headers) return !PyErr_Occurred();
  if (headers.get() == Py_None) return true;
  if (PyList_CheckExact(headers.get())) {
    // The usual shape, [(b"name", b"value"), ...]: read in place. The size is read again at each
    // step and each item held while it is read, since a non-tuple pair can mutate the list.
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(headers.get()); ++i) {
      PyRef item = PyRef::Borrow(PyList_GET_ITEM(headers.get(), i));
      if (!use(item.get())) return false;
    }
    return true;
  }
  if (PyTuple_CheckExact(headers.get())) {
    Py_ssize_t n = PyTuple_GET_SIZE(headers.get());
    for (Py_ssize_t i = 0; i < n; ++i) {
      if (!use(PyTuple_GET_ITEM(headers.get(), i))) return false;
    }
    return true;
  }
  PyObject* iter = PyObject_GetIter(headers.get());
  if (!iter) return false;
  PyObject* item;
  while ((item = PyIter_Next(iter))) {
    PyRef item_ref = PyRef::Steal(item);
    if (!use(item)) {
      Py_DECREF(iter);
      return false;
    }
  }
  Py_DECREF(iter);
  return !PyErr_Occurred();
}

PyObject* SendStart(ExchangeObject* ex, PyObject* message) {
  const Interned& k = interned();
  engine::HttpStream& s = *ex->stream;
  PyRef status = PyRef::Borrow(PyDict_GetItemWithError(message, k.status));
  if (!status) {
    if (!PyErr_Occurred()) PyErr_SetString(PyExc_RuntimeError, "'http.response.start' message without 'status'");
    return nullptr;
  }
  // An int (subclasses such as HTTPStatus included) from 200 to 599; a float with such an integral
  // value too, as uvicorn's status-line lookup accepts it. Strings, bools (1 or 0), huge ints: refused.
  long code = -1;
  if (PyLong_Check(status.get())) {
    int overflow = 0;
    code = PyLong_AsLongAndOverflow(status.get(), &overflow);
    if (code == -1 && PyErr_Occurred()) return nullptr;
    if (overflow) code = -1;
  } else if (PyFloat_Check(status.get())) {
    double d = PyFloat_AS_DOUBLE(status.get());
    if (d >= 200 && d <= 599 && d == static_cast<double>(static_cast<long>(d))) code = static_cast<long>(d);
  }
  if (code >= 100 && code <= 199) {
    PyErr_Format(PyExc_RuntimeError,
                 "Invalid HTTP status code %ld in 'http.response.start': an informational (1xx) status "
                 "cannot be the response",
                 code);
    return nullptr;
  }
  http::ResponseHead& head = s.response();
  if (code < 200 || code > 599 || !head.Begin(static_cast<int>(code))) {
    PyErr_Format(PyExc_RuntimeError,
                 "Invalid HTTP status code %R in 'http.response.start' (an int from 200 to 599 is required)",
                 status.get());
    return nullptr;
  }
  if (!ForEachHeader(message, [&](PyObject* item) { return AddHeader(head, item); })) return nullptr;
  // The ASGI trailers extension: honoured where the stream can carry trailers (HTTP/2), else the app's
  // trailers are dropped (its scope did not offer the extension).
  PyRef trailers = PyRef::Borrow(PyDict_GetItemWithError(message, k.trailers));
  if (!trailers && PyErr_Occurred()) return nullptr;
  if (trailers) {
    int announced = PyObject_IsTrue(trailers.get());
    if (announced < 0) return nullptr;
    s.trailers_expected = announced && s.trailers_supported();
  }
  ex->start_received = true;
  return Py_NewRef(DoneAwaitable());
}

PyObject* SendTrailers(ExchangeObject* ex, PyObject* message) {
  const Interned& k = interned();
  engine::HttpStream& s = *ex->stream;
  if (!s.trailers_expected) return Py_NewRef(DoneAwaitable());  // not announced, or HTTP/1.1: dropped
  std::vector<http::Header> fields;
  if (!ForEachHeader(message, [&](PyObject* item) { return AddTrailer(&fields, item); })) return nullptr;
  PyRef more = PyRef::Borrow(PyDict_GetItemWithError(message, k.more_trailers));
  if (!more && PyErr_Occurred()) return nullptr;
  int more_trailers = more ? PyObject_IsTrue(more.get()) : 0;
  if (more_trailers < 0) return nullptr;
  if (s.SendTrailers(std::move(fields), more_trailers != 0) == engine::HttpStream::SendResult::kError) {
    PyErr_SetString(PyExc_RuntimeError,
                    "Unexpected ASGI message 'http.response.trailers': it must follow the last 'http.response.body' "
                    "(more_body False) of a response started with 'trailers': True, with valid fields");
    return nullptr;
  }
  return Py_NewRef(DoneAwaitable());
}

PyObject* SendBody(ExchangeObject* ex, PyObject* message) {
  const Interned& k = interned();
  // Both owned: more_body's __bool__ may run Python code that changes the message.
  PyRef body = PyRef::Borrow(PyDict_GetItemWithError(message, k.body));
  if (!body && PyErr_Occurred()) return nullptr;
  PyRef more = PyRef::Borrow(PyDict_GetItemWithError(message, k.more_body));
  if (!more && PyErr_Occurred()) return nullptr;
  int more_body = more ? PyObject_IsTrue(more.get()) : 0;
  if (more_body < 0) return nullptr;
  std::string_view data;
  Py_buffer buffer;
  bool release = false;
  if (body && !BytesView(body.get(), &data, &buffer, &release)) return nullptr;
  engine::HttpStream::SendResult r = ex->stream->SendBody(data, more_body != 0);
  if (release) PyBuffer_Release(&buffer);
  switch (r) {
    case engine::HttpStream::SendResult::kWait: {
      PyObject* fut = ex->futures->NewFuture();
      if (!fut) return nullptr;
      if (ex->send_waiter) {
        // Another send() is still waiting (sends from concurrent tasks): keep its future, wake both.
        if (!ex->more_send_waiters && !(ex->more_send_waiters = PyList_New(0))) {
          Py_DECREF(fut);
          return nullptr;
        }
        if (PyList_Append(ex->more_send_waiters, fut) < 0) {
          Py_DECREF(fut);
          return nullptr;
        }
        return fut;
      }
      Py_INCREF(fut);
      ex->send_waiter = fut;
      return fut;
    }
    case engine::HttpStream::SendResult::kError:
      PyErr_SetString(PyExc_RuntimeError, "Response body does not match its Content-Length; connection aborted");
      return nullptr;
    default:
      return Py_NewRef(DoneAwaitable());
  }
}

PyObject* ExchangeSend(PyObject* self, PyObject* message) {
  ExchangeObject* ex = AsExchange(self);
  const Interned& k = interned();
  if (!PyDict_Check(message)) {
    PyErr_Format(PyExc_TypeError, "ASGI message must be a dict, got %.100s", Py_TYPE(message)->tp_name);
    return nullptr;
  }
  PyObject* type = PyDict_GetItemWithError(message, k.type);
  if (!type) {
    if (!PyErr_Occurred()) PyErr_SetString(PyExc_RuntimeError, "ASGI message without 'type'");
    return nullptr;
  }
  engine::HttpStream& s = *ex->stream;
  if (s.disconnected() && !s.response_complete()) return Py_NewRef(DoneAwaitable());  // client gone: dropped quietly
  if (!ex->start_received) {
    if (!IsType(type, k.http_response_start)) {
      PyErr_Format(PyExc_RuntimeError, "Expected ASGI message 'http.response.start', but got %R.", type);
      return nullptr;
    }
    return SendStart(ex, message);
  }
  if (s.response_complete()) {
    // Trailers the app announced on a stream that cannot carry them (HTTP/1.1): dropped, not an error.
    if (!s.trailers_expected && IsType(type, k.http_response_trailers)) return Py_NewRef(DoneAwaitable());
    PyErr_Format(PyExc_RuntimeError, "Unexpected ASGI message %R sent, after response already completed.", type);
    return nullptr;
  }
  if (!IsType(type, k.http_response_body)) {
    if (IsType(type, k.http_response_trailers)) return SendTrailers(ex, message);
    PyErr_Format(PyExc_RuntimeError, "Expected ASGI message 'http.response.body', but got %R.", type);
    return nullptr;
  }
  return SendBody(ex, message);
}

// finish(): the app returned. Logs and fails the response if it is not complete. After detach(), the
// first finish() (the app's coroutine returning) is ignored: the holder of the exchange calls it again.
PyObject* ExchangeFinish(PyObject* self, PyObject*) {
  ExchangeObject* ex = AsExchange(self);
  Py_CLEAR(ex->task);  // the app's coroutine is over
  if (ex->detached) {
    ex->detached = false;
    Py_RETURN_NONE;
  }
  ex->app_done = true;
  engine::HttpStream& s = *ex->stream;
  if (ex->cancelled) LogIgnoredCancellation(s.method, s.target);
  if (!s.response_complete()) {
    if (s.disconnected()) {
      s.Abandon();  // the client left; the connection (if any is left) goes too
    } else {
      if (!ex->start_received) {
        log::Error().error("ASGI callable returned without starting response.");
      } else {
        log::Error().error("ASGI callable returned without completing response.");
      }
      s.Fail();
    }
  }
  Py_RETURN_NONE;
}

// fail(): the app raised (the caller logged the traceback): 500 if nothing was sent, else abort.
PyObject* ExchangeFail(PyObject* self, PyObject*) {
  ExchangeObject* ex = AsExchange(self);
  Py_CLEAR(ex->task);
  ex->app_done = true;
  ex->stream->Fail();
  Py_RETURN_NONE;
}

// detach(): the app is about to return with its response still to come; whoever holds the exchange
// (the WSGI adapter's pool, esg/wsgi.py) sends the rest later, on the loop thread, and then calls finish()
// or fail(). Saves a suspended coroutine and its Task per request.
PyObject* ExchangeDetach(PyObject* self, PyObject*) {
  AsExchange(self)->detached = true;
  Py_RETURN_NONE;
}

PyObject* ExchangeVectorcall(PyObject* self, PyObject* const* args, size_t nargsf, PyObject* kwnames) {
  if (PyVectorcall_NARGS(nargsf) != 1 || (kwnames && PyTuple_GET_SIZE(kwnames) != 0)) {
    PyErr_SetString(PyExc_TypeError, "send() takes exactly one argument, the ASGI message");
    return nullptr;
  }
  return ExchangeSend(self, args[0]);
}

// timed_out: the request was ended by --timeout-request (the WSGI adapter stops a streaming call on it).
PyObject* ExchangeTimedOutGet(PyObject* self, void*) { return PyBool_FromLong(AsExchange(self)->stream->timed_out()); }

PyGetSetDef kExchangeGetSet[] = {
    {"timed_out", ExchangeTimedOutGet, nullptr, "The request was ended by --timeout-request.", nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr},
};

PyMethodDef kReceiveDef = {"receive", ExchangeReceive, METH_NOARGS, "ASGI receive()"};
PyMethodDef kExchangeMethods[] = {
    {"finish", ExchangeFinish, METH_NOARGS, "The app returned."},
    {"fail", ExchangeFail, METH_NOARGS, "The app raised."},
    {"detach", ExchangeDetach, METH_NOARGS, "The app returns before its response is done; finish() ends it later."},
    {nullptr, nullptr, 0, nullptr},
};

void ExchangeDealloc(PyObject* self) {
  ExchangeObject* ex = AsExchange(self);
  if (ex->stream) {
    ex->stream->set_observer(nullptr);
    if (!ex->app_done && !ex->stream->response_complete()) {
      // Fail() completes the response, and the connection may start its next pipelined request from
      // inside it (Python code, the next app's first step) — here, during a deallocation that can
      // happen while an exception propagates. Keep that exception out of the next request's way.
      PyObject *type, *value, *tb;
      PyErr_Fetch(&type, &value, &tb);
      ex->stream->Fail();
      if (PyErr_Occurred()) LogPythonError("Error while failing an abandoned ASGI exchange");
      PyErr_Restore(type, value, tb);
    }
  }
  Py_XDECREF(ex->receive_waiter);
  Py_XDECREF(ex->send_waiter);
  Py_XDECREF(ex->more_send_waiters);
  Py_XDECREF(ex->task);
  ex->stream.~shared_ptr();
  ex->observer.~Observer();
  Py_TYPE(self)->tp_free(self);
}

}  // namespace

bool InitExchangeTypes() {
  if (!InitReadyType()) return false;
  ExchangeType.tp_name = "esg._esg.Exchange";
  ExchangeType.tp_basicsize = sizeof(ExchangeObject);
  ExchangeType.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_VECTORCALL;
  ExchangeType.tp_dealloc = ExchangeDealloc;
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Winvalid-offsetof"
  ExchangeType.tp_vectorcall_offset = offsetof(ExchangeObject, vectorcall);
#pragma GCC diagnostic pop
  ExchangeType.tp_call = PyVectorcall_Call;
  ExchangeType.tp_methods = kExchangeMethods;
  ExchangeType.tp_getset = kExchangeGetSet;
  ExchangeType.tp_doc = "One HTTP request/response exchange; calling it is ASGI send(message).";
  return InitAppCancel() && PyType_Ready(&ExchangeType) == 0;
}

bool FinishExchange(PyObject* exchange) {
  if (Py_TYPE(exchange) != &ExchangeType) return false;
  Py_XDECREF(ExchangeFinish(exchange, nullptr));
  return true;
}

void SetExchangeTask(PyObject* exchange, PyObject* task) {
  if (Py_TYPE(exchange) != &ExchangeType) return;
  ExchangeObject* ex = AsExchange(exchange);
  if (ex->app_done) return;
  Py_XSETREF(ex->task, Py_NewRef(task));
}

bool ExchangeTimedOut(PyObject* exchange) {
  return Py_TYPE(exchange) == &ExchangeType && AsExchange(exchange)->stream->timed_out();
}

PyObject* NewExchange(LoopFutures* futures, const engine::StreamPtr& stream, PyObject** receive, PyObject** send) {
  auto* ex = PyObject_New(ExchangeObject, &ExchangeType);
  if (!ex) return nullptr;
  ex->vectorcall = ExchangeVectorcall;
  new (&ex->stream) engine::StreamPtr(stream);
  new (&ex->observer) Observer(ex);
  ex->futures = futures;
  ex->receive_waiter = nullptr;
  ex->send_waiter = nullptr;
  ex->more_send_waiters = nullptr;
  ex->task = nullptr;
  ex->start_received = false;
  ex->body_end_delivered = false;
  ex->app_done = false;
  ex->detached = false;
  ex->cancelled = false;
  stream->set_observer(&ex->observer);
  PyObject* self = reinterpret_cast<PyObject*>(ex);
  *receive = PyCFunction_New(&kReceiveDef, self);
  if (!*receive) {
    Py_DECREF(self);
    return nullptr;
  }
  *send = Py_NewRef(self);
  return self;
}

}  // namespace esg::python
