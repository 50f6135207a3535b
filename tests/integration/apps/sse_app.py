"""Streamed events (Server-Sent Events shape) whose delivery the test checks by ordering, never by time.

/events?n=N&per_step=K&wait=receive|spin&id=I
    a text/event-stream answer of N steps; each step sends K events ("data: S.J\\n\\n", each its own
    more_body message) and then waits until the client has read them:
      receive: awaits receive() for the next request-body chunk, which the client sends only once it has
               read the step's events (the app's task is suspended on a future meanwhile);
      spin:    `await asyncio.sleep(0)` until the marker file "read-I-S" exists, which the client writes once
               it has read the step's events (the loop never goes idle meanwhile: it always has this task
               ready to run). Gives up after 60 s with the event "data: gave-up".
    Then the end of the answer (an empty body, more_body False).
    &yield=1: `await asyncio.sleep(0)` between two events of a step, so that a step's events are sent in
    consecutive loop turns (what --coalesce-streams holds for one turn).

/clock-reads?start=1, /clock-reads
    start: from now on count the calls of the loop's time() (by wrapping the loop's class; meant for uvloop,
    whose own code never calls it); then: the count so far, as the body.

/burst?n=N&together=T
    N events "data: I" of ~100 bytes, `await asyncio.sleep(0)` between two (the tests/bench `sse` shape),
    once T requests are in flight on this worker (the first ones spin with sleep(0) until the T-th arrives,
    at most 60 s), so that the T answers stream in the same loop turns.
"""

import asyncio
import os
import time

from asgi_util import lifespan, query, respond

_START = {"type": "http.response.start", "status": 200,
          "headers": [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]}


async def _spin_until(path, deadline):
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0)
    return True


_arrived = 0  # /burst requests seen by this worker
_clock_reads = None  # calls of loop.time() since /clock-reads?start=1


def _count_clock_reads():
    global _clock_reads
    if _clock_reads is None:
        loop_class = type(asyncio.get_running_loop())
        original = loop_class.time

        def time(self):
            global _clock_reads
            _clock_reads += 1
            return original(self)

        loop_class.time = time
    _clock_reads = 0


async def _burst(q, send):
    global _arrived
    _arrived += 1
    mine, deadline = _arrived, time.monotonic() + 60
    together = int(q.get("together", "1"))
    while _arrived < ((mine - 1) // together + 1) * together and time.monotonic() < deadline:
        await asyncio.sleep(0)  # the batch this request belongs to is not complete yet
    await send(_START)
    for i in range(int(q.get("n", "200"))):
        await send({"type": "http.response.body", "body": b"data: %04d %s\n\n" % (i, b"x" * 88), "more_body": True})
        await asyncio.sleep(0)
    await send({"type": "http.response.body", "body": b""})


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        return await lifespan(receive, send)
    q = query(scope)
    if scope["path"] == "/burst":
        return await _burst(q, send)
    if scope["path"] == "/clock-reads":
        if q.get("start"):
            _count_clock_reads()
        return await respond(send, body=b"%d" % _clock_reads)
    n, per_step, wait = int(q.get("n", "3")), int(q.get("per_step", "1")), q.get("wait", "receive")
    markers = os.environ["ESG_TEST_MARKERS"]
    await send(_START)
    for step in range(n):
        for j in range(per_step):
            if j and q.get("yield") == "1":
                await asyncio.sleep(0)
            await send({"type": "http.response.body", "body": b"data: %d.%d\n\n" % (step, j), "more_body": True})
        if wait == "receive":
            message = await receive()
            if message["type"] != "http.request":
                return
        elif not await _spin_until(os.path.join(markers, f"read-{q.get('id', '0')}-{step}"), time.monotonic() + 60):
            await send({"type": "http.response.body", "body": b"data: gave-up\n\n", "more_body": True})
            break
    await send({"type": "http.response.body", "body": b""})
