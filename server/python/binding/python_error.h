// LogPythonError: how the binding reports a Python exception it cannot hand back to Python (an app that
// raised inside a callback the engine made, a failed scope build): logged with its traceback, then cleared.
// A leaf: every binding file that calls into Python may use it.
#pragma once

#include <Python.h>

namespace esg::python {

// Logs `context` followed by the current Python exception's traceback (bounded to 64 KiB, control
// characters escaped) through esg.error, and clears the exception. With no exception set, logs `context`
// alone. Needs the GIL.
void LogPythonError(const char* context);

}  // namespace esg::python
