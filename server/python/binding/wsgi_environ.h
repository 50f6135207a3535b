// The PEP 3333 environ of a WSGI request built in C: `_esg.wsgi_environ`, the fast path of
// esg/wsgi_environ.py's _environ (the reference implementation, which the Python side falls back to).
//
// Built on the loop thread for every WSGI request; in Python the environ cost ~13,000 instructions, in C
// about a fifth of that (tests/bench/README.md, "WSGI: where ESG's instructions per request go").
#pragma once

#include <pybind11/pybind11.h>

namespace esg::python {

// Adds `wsgi_environ(header_keys, header_key, scope, wsgi_input, errors, multiprocess)` to `m`:
// (environ, expect) for the common shape of an engine scope, else None — the caller then builds the
// environ in Python (a root path, a '%' in the path, a UNIX socket's server, a foreign scope...).
// `header_keys` is the Python side's {header name bytes: environ key, "" when dropped} cache and
// `header_key(name)` the function that fills it on a miss (first, so that the Python side binds them with
// functools.partial). GIL held; errors raise as in Python.
void InitWsgiEnviron(pybind11::module_& m);

}  // namespace esg::python
