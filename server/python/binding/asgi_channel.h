// AsgiChannel: the engine's AppChannel for ASGI apps. For each request it builds the `http` scope from
// prebuilt objects, creates the Exchange (receive/send), and starts the app as a task on the worker's
// event loop. Lives on the Python thread; every method runs with the GIL held.
#pragma once

#include <Python.h>

#include <functional>
#include <optional>
#include <string>
#include <unordered_map>

#include "server/engine/app_channel.h"
#include "server/engine/stream.h"
#include "server/engine/websocket_stream.h"
#include "server/http/forwarded.h"
#include "server/python/binding/loop_futures.h"
#include "server/python/binding/py_ref.h"
#include "server/python/binding/stand_in_task.h"

namespace esg::python {

class AsgiChannel final : public engine::AppChannel {
 public:
  // run_app(scope, receive, send, exchange) -> coroutine; loop: the asyncio loop; state: lifespan state
  // dict (copied into every scope) or None.
  AsgiChannel(PyObject* run_app, PyObject* loop, const std::string& root_path, PyObject* state);

  // Eager start (the default): call `app` directly and step its coroutine at once, inside a fresh
  // context copy and with a not-yet-scheduled Task registered as the current task, as Python 3.12's
  // eager tasks do. Most requests finish in that first step, with no Task scheduled at all; one that
  // suspends gets that very Task initialised around an AppDriver (app_driver.h) that continues it, so
  // asyncio.current_task() keeps its identity; tracker.started(task, is_websocket) is called then, and
  // tracker.ended(...) when the app is over. False on a setup error (Python error set).
  bool EnableEagerStart(PyObject* app, PyObject* tracker);

  // Trust X-Forwarded-For/-Proto from the peers `policy` allows (--proxy-headers).
  void set_forwarded_policy(const http::ForwardedPolicy& policy) { forwarded_ = policy; }
  // --reset-contextvars: HTTP requests start in an empty contextvars.Context instead of a copy of the
  // current one (WebSockets keep the copy, as in uvicorn 0.55).
  void set_reset_contextvars(bool reset) { reset_contextvars_ = reset; }

  void OnRequest(const engine::StreamPtr& stream, const http::RequestHead& head) override;
  void OnWebSocket(const engine::WsStreamPtr& stream, const http::RequestHead& head) override;

 private:
  // Per listener: the scope keys whose values rarely change, in the order apps see them. BuildScope starts
  // from a copy (one memcpy of the key table) and overwrites only what differs.
  struct ScopeTemplates {
    PyRef http;
    PyRef websocket;
  };
  const ScopeTemplates* Templates(const engine::Listener* listener);
  PyObject* BuildScope(const engine::Listener* listener, const engine::PeerInfo* peer,
                       const http::RequestHead& head, bool websocket);
  void Start(PyObject* scope, PyObject* receive, PyObject* send, PyObject* exchange, bool websocket,
             const std::function<void()>& fail);

  // Registers `task` as the loop's current task (false, without an error, if another task is current);
  // LeaveTask undoes it. The same bookkeeping as asyncio's _enter_task/_leave_task.
  bool EnterTask(PyObject* task);
  void LeaveTask(PyObject* task);
  bool StartEager(PyObject* scope, PyObject* receive, PyObject* send, PyObject* exchange, bool websocket,
                  const std::function<void()>& fail);

  PyRef run_app_;
  PyRef app_;            // eager start: the ASGI 3 app
  PyRef tracker_;        // eager start: started(task, is_websocket) / ended(task, is_websocket)
  PyRef loop_;
  PyRef task_type_;      // asyncio.Task
  PyRef task_init_;      // asyncio.Task.__init__
  PyRef enter_task_;     // _asyncio._enter_task
  PyRef leave_task_;     // _asyncio._leave_task
  PyRef current_tasks_;  // _asyncio._current_tasks (loop -> task), when the interpreter has it: entered directly
  Py_hash_t loop_hash_ = -1;
  PyRef started_name_;   // "started"
  PyRef empty_tuple_;
  PyRef init_kwnames_;   // ("loop", "context")
  PyRef create_task_;
  StandInTask stand_in_;  // eager start: the stand-in Task's slots (stand_in_task.h)
  LoopFutures futures_;  // handed to every exchange (NewExchange, NewWebSocketExchange)
  PyRef state_;
  PyRef root_path_str_;
  std::string root_path_;
  std::optional<http::ForwardedPolicy> forwarded_;
  bool reset_contextvars_ = false;
  std::unordered_map<const engine::Listener*, ScopeTemplates> templates_;
};

}  // namespace esg::python
