// Ready: the pre-completed awaitables that receive() and send() return when nothing has to wait (the body
// is buffered, the write buffer is under its high-water mark). `await` on one never suspends: its iterator
// finishes on the first step, with StopIteration carrying the value (or None). No future, no loop call.
#pragma once

#include <Python.h>

namespace esg::python {

// Readies the Ready type and the shared DoneAwaitable. False with a Python error set on failure.
// Idempotent. Needs the GIL.
bool InitReadyType();

namespace ready_internal {
extern PyObject* done;  // set once by InitReadyType
}  // namespace ready_internal

// The pre-completed awaitable whose result is None (shared, borrowed). After InitReadyType. Inline: send()
// returns it for almost every message.
inline PyObject* DoneAwaitable() { return ready_internal::done; }

// A new pre-completed awaitable whose result is `value` (reference stolen; null: result None). Null with
// a Python error set when out of memory (`value` is released then).
PyObject* ReadyWith(PyObject* value);

}  // namespace esg::python
