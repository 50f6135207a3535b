// WSGI response headers converted in C: `_esg.wsgi_response_headers`, the loop of esg/wsgi.py's
// start_response over the app's (name, value) pairs, with Python's per-header function for what is new.
#pragma once

#include <pybind11/pybind11.h>

namespace esg::python {

// Adds `wsgi_response_headers(cache, convert, response_headers)` to `m`: for each item of the iterable,
// cache[item] when item is a tuple found in the dict `cache`, else convert(item) (which checks the
// header, raises on a bad one, and may fill the cache); each is ((name bytes, value bytes), length or
// None). Returns ([(name, value), ...], the last length that is not None, or None). A TypeError from
// hashing an item (an unhashable value) is a cache miss, as in Python. GIL held.
void InitWsgiHeaders(pybind11::module_& m);

}  // namespace esg::python
