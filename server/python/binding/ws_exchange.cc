// WebSocketExchange implementation: ASGI websocket events over a WebSocketStream. Strict about message
// order (accept once, nothing after close) and types (exactly one of bytes/text), like the HTTP exchange.
#include "server/python/binding/ws_exchange.h"

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>
#include <utility>
#include <vector>

#include "server/common/log.h"
#include "server/python/binding/loop_futures.h"
#include "server/python/binding/python_error.h"
#include "server/python/binding/ready.h"

namespace py = pybind11;

namespace esg::python {
namespace {

[[noreturn]] void Raise(PyObject* type, const std::string& message) {
  PyErr_SetString(type, message.c_str());
  throw py::error_already_set();
}

class WebSocketExchange final : public engine::StreamObserver {
 public:
  WebSocketExchange(LoopFutures* futures, engine::WsStreamPtr stream) : futures_(futures), stream_(std::move(stream)) {
    stream_->set_observer(this);
  }
  ~WebSocketExchange() override {
    stream_->set_observer(nullptr);
    if (!app_done_) stream_->Fail();
  }

  py::object Receive() {
    ReleaseCancelledWaiter();
    if (receive_waiter_) Raise(PyExc_RuntimeError, "receive() called while another receive() is still waiting");
    py::object msg = Next();
    if (!msg.is_none()) return py::reinterpret_steal<py::object>(ReadyWith(msg.release().ptr()));
    PyObject* fut = futures_->NewFuture();
    if (!fut) throw py::error_already_set();
    receive_waiter_ = py::reinterpret_borrow<py::object>(fut);
    return py::reinterpret_steal<py::object>(fut);
  }

  py::object Send(const py::dict& message) {
    if (!message.contains("type")) Raise(PyExc_RuntimeError, "ASGI message without 'type'");
    std::string type = py::str(message["type"]);
    engine::WebSocketStream::SendResult r;
    if (type == "websocket.accept") {
      if (stream_->accepted() || closed_by_app_) Raise(PyExc_RuntimeError, "Unexpected ASGI message 'websocket.accept': the handshake is already done.");
      if (stream_->disconnected()) return Done();
      std::string subprotocol;
      if (message.contains("subprotocol") && !message["subprotocol"].is_none()) subprotocol = py::str(message["subprotocol"]);
      std::vector<std::pair<std::string, std::string>> headers;
      if (message.contains("headers") && !message["headers"].is_none()) {
        for (py::handle pair : message["headers"]) {
          py::sequence seq = py::reinterpret_borrow<py::sequence>(pair);
          if (seq.size() != 2) Raise(PyExc_RuntimeError, "each ASGI header must be a (name, value) pair");
          headers.emplace_back(py::bytes(seq[0]).cast<std::string>(), py::bytes(seq[1]).cast<std::string>());
        }
      }
      std::string error;
      r = stream_->Accept(subprotocol, headers, &error);
      if (r == engine::WebSocketStream::SendResult::kError) Raise(PyExc_RuntimeError, error);
    } else if (type == "websocket.send") {
      if (!stream_->accepted()) Raise(PyExc_RuntimeError, "Expected ASGI message 'websocket.accept' or 'websocket.close', but got 'websocket.send'.");
      if (closed_by_app_) Raise(PyExc_RuntimeError, "Unexpected ASGI message 'websocket.send', after sending 'websocket.close'.");
      if (stream_->disconnected()) Raise(PyExc_ConnectionResetError, "the WebSocket client has disconnected");
      py::object bytes = message.contains("bytes") ? py::object(message["bytes"]) : py::none();
      py::object text = message.contains("text") ? py::object(message["text"]) : py::none();
      if (bytes.is_none() == text.is_none()) Raise(PyExc_RuntimeError, "'websocket.send' needs exactly one of 'bytes' or 'text'");
      if (!text.is_none()) {
        if (!PyUnicode_Check(text.ptr())) Raise(PyExc_TypeError, "'text' must be a str");
        Py_ssize_t size = 0;
        const char* utf8 = PyUnicode_AsUTF8AndSize(text.ptr(), &size);
        if (!utf8) throw py::error_already_set();
        r = stream_->Send(true, std::string_view(utf8, static_cast<size_t>(size)));
      } else {
        if (!PyBytes_Check(bytes.ptr())) Raise(PyExc_TypeError, "'bytes' must be bytes");
        r = stream_->Send(false, std::string_view(PyBytes_AS_STRING(bytes.ptr()), PyBytes_GET_SIZE(bytes.ptr())));
      }
    } else if (type == "websocket.close") {
      if (closed_by_app_) Raise(PyExc_RuntimeError, "Unexpected ASGI message 'websocket.close', after sending 'websocket.close'.");
      closed_by_app_ = true;
      int code = message.contains("code") && !message["code"].is_none() ? message["code"].cast<int>() : 1000;
      std::string reason = message.contains("reason") && !message["reason"].is_none() ? std::string(py::str(message["reason"])) : "";
      r = stream_->Close(code, reason);
    } else {
      Raise(PyExc_RuntimeError, "Unexpected ASGI message '" + type + "' on a websocket connection.");
    }
    if (r == engine::WebSocketStream::SendResult::kWait) {
      // Another task's send() may be waiting already: its message is queued like this one, so it may go on
      // now (one waiter slot; replacing it would leave that task waiting forever).
      if (send_waiter_) Resolve(&send_waiter_, py::none());
      PyObject* fut = futures_->NewFuture();
      if (!fut) throw py::error_already_set();
      send_waiter_ = py::reinterpret_borrow<py::object>(fut);
      return py::reinterpret_steal<py::object>(fut);
    }
    return Done();
  }

  void Finish() {
    app_done_ = true;
    if (!stream_->accepted() && !closed_by_app_ && !stream_->disconnected()) {
      log::Error().error("ASGI callable returned without sending handshake.");
      stream_->Fail();
    } else if (stream_->accepted() && !stream_->close_sent() && !stream_->disconnected()) {
      stream_->Close(1000, "");
    }
  }

  void Fail() {
    app_done_ = true;
    stream_->Fail();
  }

  void OnBodyReady() override {
    if (!receive_waiter_) return;
    py::gil_scoped_acquire gil;
    ReleaseCancelledWaiter();  // the message then stays queued for the next receive()
    if (!receive_waiter_) return;
    // Called from the engine: a Python error must be logged here, never thrown through its frames.
    try {
      py::object msg = Next();
      if (msg.is_none()) return;
      Resolve(&receive_waiter_, msg);
    } catch (py::error_already_set& e) {
      e.restore();
      LogPythonError("Cannot build an ASGI websocket message");
    }
  }

  void OnWritable() override {
    if (!send_waiter_) return;
    py::gil_scoped_acquire gil;
    Resolve(&send_waiter_, py::none());
  }

 private:
  static py::object Done() { return py::reinterpret_borrow<py::object>(DoneAwaitable()); }

  // The next event for receive(), or None when the app must wait.
  py::object Next() {
    if (!connect_delivered_) {
      connect_delivered_ = true;
      py::dict m;
      m["type"] = "websocket.connect";
      return std::move(m);
    }
    engine::WebSocketStream::Message message;
    if (stream_->PopMessage(&message)) {
      py::dict m;
      m["type"] = "websocket.receive";
      if (message.text) {
        PyObject* s = PyUnicode_DecodeUTF8(message.data.data(), static_cast<Py_ssize_t>(message.data.size()), "replace");
        if (!s) throw py::error_already_set();
        m["text"] = py::reinterpret_steal<py::object>(s);
      } else {
        m["bytes"] = py::bytes(message.data);
      }
      return std::move(m);
    }
    if (stream_->disconnected()) {
      py::dict m;
      m["type"] = "websocket.disconnect";
      m["code"] = stream_->disconnect_code();
      m["reason"] = stream_->disconnect_reason();
      return std::move(m);
    }
    return py::none();
  }

  // A receive() cancelled while it waited is over: its future is let go (LoopFutures::IsDone).
  void ReleaseCancelledWaiter() {
    if (receive_waiter_ && LoopFutures::IsDone(receive_waiter_.ptr())) receive_waiter_ = py::object();
  }

  static void Resolve(py::object* waiter, const py::object& value) {
    py::object fut = std::move(*waiter);
    *waiter = py::object();
    try {
      if (!fut.attr("cancelled")().cast<bool>()) fut.attr("set_result")(value);
    } catch (py::error_already_set& e) {
      e.restore();
      LogPythonError("Cannot wake the ASGI websocket application");
    }
  }

  LoopFutures* futures_;  // the channel's, which outlives its exchanges
  engine::WsStreamPtr stream_;
  py::object receive_waiter_;
  py::object send_waiter_;
  bool connect_delivered_ = false;
  bool closed_by_app_ = false;
  bool app_done_ = false;
};

}  // namespace

void InitWebSocket(py::module_& m) {
  py::class_<WebSocketExchange>(m, "WebSocketExchange", "One ASGI websocket connection (receive/send).")
      .def("receive", &WebSocketExchange::Receive)
      .def("send", &WebSocketExchange::Send, py::arg("message"))
      .def("finish", &WebSocketExchange::Finish)
      .def("fail", &WebSocketExchange::Fail);
}

PyObject* NewWebSocketExchange(LoopFutures* futures, const engine::WsStreamPtr& stream, PyObject** receive,
                               PyObject** send) {
  try {
    py::object obj = py::cast(new WebSocketExchange(futures, stream), py::return_value_policy::take_ownership);
    *receive = py::object(obj.attr("receive")).release().ptr();
    *send = py::object(obj.attr("send")).release().ptr();
    return obj.release().ptr();
  } catch (py::error_already_set& e) {
    e.restore();
    return nullptr;
  }
}

}  // namespace esg::python
