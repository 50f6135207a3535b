// WebSocketExchange: the Python object behind one ASGI `websocket` connection's receive/send.
#pragma once

#include <Python.h>

#include "server/engine/websocket_stream.h"

namespace esg::python {

class AsgiChannel;

// New reference to the exchange; *receive and *send get new references to its bound methods.
// Null with a Python error set on failure.
PyObject* NewWebSocketExchange(AsgiChannel* channel, const engine::WsStreamPtr& stream, PyObject** receive,
                               PyObject** send);

}  // namespace esg::python
