// AppDriver: what an eagerly started request's Task runs once the app suspended (see asgi_channel.h).
//
// The engine steps the app's coroutine itself first; when it suspends, the stand-in Task is initialised
// around a driver that hands the Task what the coroutine yielded, then forwards send()/throw() to it, and
// when the app ends finishes (or, after logging its exception, fails) the exchange and tells the tracker.
// It is the C version of a Python wrapper coroutine plus generator: no extra frames per resumption, and
// the app's return ends the step without a StopIteration (whose traceback cost ~2.5k instructions).
#pragma once

#include <Python.h>

namespace esg::python {

bool InitAppDriverType();
PyObject* AppDriverType();  // borrowed

// New reference to a driver continuing `coro`, which yielded `yielded` at the eager step (`yielded` is
// `coro` itself when it could not be stepped). At the end it calls tracker.ended(task, is_websocket).
PyObject* NewAppDriver(PyObject* coro, PyObject* yielded, PyObject* exchange, PyObject* tracker, PyObject* task,
                       bool websocket);

// The app returned (failed == false) or raised (failed == true, its exception still set: logged and
// cleared here): finishes or fails the exchange.
void EndExchange(PyObject* exchange, bool failed);

}  // namespace esg::python
