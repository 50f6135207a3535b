// --timeout-request: what a connection does when its current HTTP request's response is not complete by
// request_deadline_ (set when the request head arrives, checked by the server's 250 ms deadline tick in
// CheckDeadline, so it costs nothing per request beyond one clock read, and nothing at all when off).
//
// The client gets 504 with `connection: close` if no response byte was sent, else a reset (a cut-short
// body must never look complete). Either way the connection ends: the app may still be running (a WSGI
// thread, an app that ignores cancellation), pipelined requests behind it are not read, and a body still
// being uploaded is drained by the lingering close. Then the stream's observer is told, so the binding
// cancels the app's task (server/python/binding/exchange.cc). One warning line, one count per timeout.
#include "server/common/log.h"
#include "server/engine/connection.h"

namespace esg::engine {

void Connection::TimeOutRequest() {
  StreamPtr stream = stream_;  // detached below; kept to tell its observer afterwards
  request_deadline_ = 0;
  stream->timed_out_ = true;
  host_->RequestTimedOut();
  std::string_view target = stream->target;
  std::string_view path = target.substr(0, target.find('?'));  // the query may hold secrets: not logged
  bool started = stream->response_started();
  log::Error().warn("Request timed out after {:g}s (--timeout-request): {} {} from {}; {}", config_.timeout_request,
                    log::Escape(stream->method), log::Escape(path), log::Escape(peer_.client_text),
                    started ? "response cut short, connection reset" : "504 sent, connection closed");
  if (started) {
    Abort();
  } else {
    AnswerAndClose(504, "Gateway Timeout");
  }
  if (stream->observer_) stream->observer_->OnTimedOut();
}

}  // namespace esg::engine
