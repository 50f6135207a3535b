// PyRef: an owning reference to a Python object (RAII over Py_INCREF/Py_DECREF) for the raw C-API code
// on the request hot path. Only touch it with the GIL held.
#pragma once

#include <Python.h>

#include <utility>

namespace esg::python {

class PyRef {
 public:
  PyRef() = default;
  static PyRef Steal(PyObject* o) { return PyRef(o); }
  static PyRef Borrow(PyObject* o) {
    Py_XINCREF(o);
    return PyRef(o);
  }
  PyRef(const PyRef& other) : o_(other.o_) { Py_XINCREF(o_); }
  PyRef(PyRef&& other) noexcept : o_(std::exchange(other.o_, nullptr)) {}
  PyRef& operator=(PyRef other) noexcept {
    std::swap(o_, other.o_);
    return *this;
  }
  ~PyRef() { Py_XDECREF(o_); }

  PyObject* get() const { return o_; }
  PyObject* release() { return std::exchange(o_, nullptr); }
  explicit operator bool() const { return o_ != nullptr; }

 private:
  explicit PyRef(PyObject* o) : o_(o) {}
  PyObject* o_ = nullptr;
};

}  // namespace esg::python
