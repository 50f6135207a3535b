// WebSocketExchange: the Python object behind one ASGI `websocket` connection's receive/send.
#pragma once

#include <Python.h>
#include <pybind11/pybind11.h>

#include "server/engine/websocket_stream.h"

namespace esg::python {

class LoopFutures;

// New reference to the exchange; *receive and *send get new references to its bound methods.
// Null with a Python error set on failure.
PyObject* NewWebSocketExchange(LoopFutures* futures, const engine::WsStreamPtr& stream, PyObject** receive,
                               PyObject** send);

// Adds the WebSocketExchange type to `m` (module.cc).
void InitWebSocket(pybind11::module_& m);

}  // namespace esg::python
