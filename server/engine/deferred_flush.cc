// DeferredFlush implementation: listing connections with deferred output and flushing them once per turn.
#include "server/engine/deferred_flush.h"

#include <algorithm>

#include "server/engine/connection.h"

namespace esg::engine {

bool DeferredFlush::Add(Connection* connection) {
  if (!queued_) {
    if (!schedule_ || !schedule_()) return false;
    queued_ = true;
  }
  listed_.push_back(connection);
  return true;
}

void DeferredFlush::Run(bool scheduled) {
  if (scheduled) queued_ = false;
  if (listed_.empty()) return;
  // A flush may run Python code (a woken send(), the next pipelined request's app) that lists connections
  // again: they join a fresh list, flushed by the next Run.
  running_.swap(listed_);
  for (size_t i = 0; i < running_.size(); ++i) {
    Connection* c = running_[i];
    if (c) c->FlushDeferred();
  }
  running_.clear();
}

void DeferredFlush::Forget(Connection* connection) {
  std::replace(listed_.begin(), listed_.end(), connection, static_cast<Connection*>(nullptr));
  std::replace(running_.begin(), running_.end(), connection, static_cast<Connection*>(nullptr));
}

}  // namespace esg::engine
