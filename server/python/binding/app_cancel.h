// AppCancel: how the binding stops an ASGI app whose request hit --timeout-request (the engine has already
// answered 504 or cut the response short: server/engine/request_timeout.cc). The HTTP Exchange keeps the
// app's asyncio Task once the app suspends (SetExchangeTask, exchange.h) and, told by the engine
// (StreamObserver::OnTimedOut), cancels it here: the app gets CancelledError at its current await, so its
// `finally` blocks and context managers run. A CancelledError that then ends the app is the expected
// outcome, not an app error: no traceback. An app that swallows it and returns normally is logged once.
// A leaf beside python_error; every function needs the GIL.
#pragma once

#include <Python.h>

#include <string_view>

namespace esg::python {

// Caches asyncio.CancelledError. False with a Python error set on failure.
bool InitAppCancel();

// task.cancel("...--timeout-request..."); a failure is logged, never raised.
void CancelTimedOutTask(PyObject* task);

// With an exception set: true (and the exception cleared) when it is the CancelledError a timed-out
// request's cancellation raised, which must not be logged as an app failure.
bool ClearTimeoutCancellation();

// The app of a timed-out request returned normally after its task was cancelled: one warning line.
void LogIgnoredCancellation(std::string_view method, std::string_view target);

}  // namespace esg::python
