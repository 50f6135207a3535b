// DeferredFlush implementation: listing connections with deferred output and flushing them once per turn.
#include "server/engine/deferred_flush.h"

#include <algorithm>

#include "server/engine/connection.h"

namespace esg::engine {

bool DeferredFlush::QueueRun() {
  if (!queued_) queued_ = schedule_ && schedule_();
  return queued_;
}

bool DeferredFlush::Add(Connection* connection) {
  if (!QueueRun()) return false;
  listed_.push_back(connection);
  return true;
}

size_t DeferredFlush::Run(bool scheduled) {
  if (scheduled) {
    queued_ = false;
    ++run_;
  }
  if (listed_.empty()) return 0;
  size_t flushed = 0;
  // A flush may run Python code (a woken send(), the next pipelined request's app) that lists connections
  // again: they join a fresh list, flushed by the next Run.
  running_.swap(listed_);
  for (size_t i = 0; i < running_.size(); ++i) {
    Connection* c = running_[i];
    if (!c) continue;
    Connection::FlushMark& mark = c->flush_mark();
    if (coalesce_ && scheduled && !mark.held && mark.flushed_run + 1 == run_ && QueueRun()) {
      mark.held = true;  // still flush_listed(): its next chunks join the queue, Forget() finds it
      listed_.push_back(c);
      continue;
    }
    mark.held = false;
    mark.flushed_run = scheduled ? run_ : 0;  // an unscheduled flush is not one of the numbered turns
    c->FlushDeferred();
    ++flushed;
  }
  running_.clear();
  // Coalescing: after a run that wrote, the next turn's run is queued now, whether or not a chunk asks for it,
  // so that consecutive runs are consecutive turns (a hold has queued it already). A stream that sent
  // between two of them sent in both turns; one that skipped a turn finds a run numbered two higher.
  if (coalesce_ && scheduled && flushed > 0) QueueRun();
  return flushed;
}

void DeferredFlush::Forget(Connection* connection) {
  std::replace(listed_.begin(), listed_.end(), connection, static_cast<Connection*>(nullptr));
  std::replace(running_.begin(), running_.end(), connection, static_cast<Connection*>(nullptr));
}

}  // namespace esg::engine
