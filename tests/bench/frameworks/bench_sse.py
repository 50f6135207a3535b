"""Server-Sent Events workload (tests/bench, mode "sse"): GET /sse streams SSE_EVENTS events of about
100 bytes from an async generator, `await asyncio.sleep(0)` between two events: the shape of an LLM
token stream. Each event is its own http.response.body message (more_body=True), so a server that
buffered them would be seen as wrong latency, not as speed. Raw ASGI: no framework cost in it.

GET /sse-paced (workload "sse-paced"): the same events, `await asyncio.sleep(PACE)` between two instead: a
stream paced by a timer, as tokens arriving from a model are; what it measures is how late the loop's timers
fire besides the cost per event.

GET /sse-stamped?pause=S (sse_latency.cc's stream, not a run.py workload): 200 events whose first bytes are the
CLOCK_MONOTONIC time in nanoseconds taken just before send(), `await asyncio.sleep(S)` between two; the client
subtracts the stamp from its own clock reading. GET /sleep-lateness: how much later than asked those sleeps
ended, on average, since the last call (microseconds, and their count)."""
import asyncio
import time

import app as bench_app  # tests/bench/app.py (the servers run with tests/bench as the app dir)

SSE_EVENTS = 200
PACE = 0.002  # seconds between two events of /sse-paced
# "data: " + 88 bytes + "\n\n" = ~100 bytes per event, the event number in front
EVENTS = [b"data: %04d %s\n\n" % (i, b"x" * 83) for i in range(SSE_EVENTS)]
BODY = b"".join(EVENTS)
_START = {"type": "http.response.start", "status": 200,
          "headers": [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]}


async def events(pause: float):
    for event in EVENTS:
        yield event
        await asyncio.sleep(pause)


_late = [0, 0.0]  # /sse-stamped sleeps since the last /sleep-lateness, and their total lateness in seconds


async def stamped(pause: float, send) -> None:
    for _ in range(SSE_EVENTS):
        body = b"data: %020d %s\n\n" % (time.monotonic_ns(), b"x" * 68)
        await send({"type": "http.response.body", "body": body, "more_body": True})
        start = time.monotonic()
        await asyncio.sleep(pause)
        _late[0] += 1
        _late[1] += time.monotonic() - start - pause


async def app(scope, receive, send):
    if scope["type"] != "http":
        return await bench_app.app(scope, receive, send)  # lifespan as the plain bench app does it
    if scope["path"] == "/sleep-lateness":
        body = b"%.0f us late on average over %d sleeps\n" % (_late[1] / max(_late[0], 1) * 1e6, _late[0])
        _late[:] = [0, 0.0]
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        return await send({"type": "http.response.body", "body": body})
    if scope["path"] == "/sse-stamped":
        await send(_START)
        await stamped(float(scope["query_string"].decode().partition("pause=")[2] or 0), send)
        return await send({"type": "http.response.body", "body": b""})
    await send(_START)
    async for event in events(PACE if scope["path"] == "/sse-paced" else 0):
        await send({"type": "http.response.body", "body": event, "more_body": True})
    await send({"type": "http.response.body", "body": b""})
