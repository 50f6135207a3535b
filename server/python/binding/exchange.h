// Exchange: the Python object behind one request's `receive` and `send` callables.
//
// send() validates each ASGI message strictly (type, order, header bytes) and writes through the
// HttpStream; it returns a pre-completed awaitable unless the write buffer is over its high-water mark,
// when it returns a loop future resolved once the socket drains. receive() returns a pre-completed
// awaitable holding the next message when the body is already buffered, and a future otherwise.
#pragma once

#include <Python.h>

#include "server/engine/stream.h"

namespace esg::python {

class LoopFutures;

// Readies the Exchange type (and the Ready awaitables, ready.h). False with a Python error set on failure.
bool InitExchangeTypes();

// New reference to an Exchange; *receive gets a new reference to its bound receive(), *send one to the
// exchange itself (calling it is send(message)).
PyObject* NewExchange(LoopFutures* futures, const engine::StreamPtr& stream, PyObject** receive, PyObject** send);

// Finishes `exchange` as its finish() method would, when it is an HTTP Exchange; false otherwise.
bool FinishExchange(PyObject* exchange);

// --timeout-request (app_cancel.h): `task` (an asyncio Task running the app of this HTTP Exchange, which
// keeps a reference until finish() or fail()) is cancelled if the request times out. No-op for another type.
void SetExchangeTask(PyObject* exchange, PyObject* task);
// True for an HTTP Exchange whose request was ended by --timeout-request.
bool ExchangeTimedOut(PyObject* exchange);

}  // namespace esg::python
