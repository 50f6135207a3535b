// DeferredFlush: the worker's list of connections whose streamed response chunks wait for the end of the
// current loop turn, and the one flush of that list per turn.
//
// Why: a streaming app (Server-Sent Events, token streams) sends small chunks, each its own send(). Written
// at once, each chunk costs a write system call between two Python steps; deferred, the chunks one task sends
// before it yields go out in one write, and the writes of all the connections that streamed in this turn run
// back to back once the Python callbacks of the turn are over (no timer, nothing held until a next chunk: the
// flush is a callback queued on the loop for this very turn). The host asks its owner to queue that callback
// (set_schedule) when the first connection joins the list; Server::RunOnce also flushes the list first.
//
// Coalescing (--coalesce-streams, off by default): a stream that sends in every loop turn (a busy loop: each
// task gets one step per turn) is written every other turn. While streams write, each scheduled run queues
// the next one, so runs are numbered by consecutive turns (the chain stops after a run that had nothing to
// do). A connection the previous run wrote that is listed again by this one sent in both turns: it is held
// for exactly one more turn, never two in a row, and its bytes leave with the next turn's in one write: half
// the writes, whose kernel cost dominates small events. What it costs: up to one turn of the loop for the
// held chunk, and one more zero-timeout loop iteration after the last write of a burst. A stream that skips
// a turn (paced by a timer, by I/O) finds a run numbered two higher and is written at once; nothing waits
// for a timer or for a next chunk, and a held connection keeps a run queued, so the loop polls without
// sleeping and runs it next turn. Server::RunOnce's and Server::CloseAll's unscheduled flushes write held
// chunks and count as no turn.
//
// Contract: Add() is only called by a connection that is not listed yet (Connection tracks it) and whose
// output queue it has just filled; Forget() before a listed connection is deleted. Single-threaded (the loop).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

namespace esg::engine {

class Connection;

class DeferredFlush {
 public:
  // Queues one call of Run(/*scheduled=*/true) after the callbacks the loop is running now; false when it
  // cannot (the loop is closed): the connection then writes at once.
  using Schedule = std::function<bool()>;
  // Coalescing (above): off unless set.
  void set_coalesce(bool coalesce) { coalesce_ = coalesce; }

  void set_schedule(Schedule schedule) { schedule_ = std::move(schedule); }
  // Lists `connection` for the next flush; false (not listed) without a schedule or when queuing fails.
  bool Add(Connection* connection);
  // Flushes every listed connection (each writes its queue as far as the socket takes it), except, when
  // coalescing and `scheduled`, those the previous scheduled run flushed and did not hold (they stay listed
  // for the next run). `scheduled`: this is the queued callback (a new one is queued for connections listed
  // from now on, and when coalescing, for the next turn if this one wrote or held); an unscheduled run
  // (Server::RunOnce, Server::CloseAll) holds nothing. Returns the connections written.
  size_t Run(bool scheduled);
  // Drops `connection` from the list (it is about to be deleted).
  void Forget(Connection* connection);
  bool empty() const { return listed_.empty(); }

 private:
  bool QueueRun();  // a scheduled run is pending on the loop (queued now if it was not); false if it cannot be

  Schedule schedule_;
  std::vector<Connection*> listed_;
  std::vector<Connection*> running_;  // the list being flushed (kept to reuse its storage)
  bool queued_ = false;  // a scheduled Run is pending on the loop
  bool coalesce_ = false;
  uint64_t run_ = 1;  // scheduled runs so far, from 1 (a FlushMark's flushed_run of 0 is "never")
};

}  // namespace esg::engine
