"""Server-Sent Events workload (tests/bench, mode "sse"): GET /sse streams SSE_EVENTS events of about
100 bytes from an async generator, `await asyncio.sleep(0)` between two events: the shape of an LLM
token stream. Each event is its own http.response.body message (more_body=True), so a server that
buffered them would be seen as wrong latency, not as speed. Raw ASGI: no framework cost in it."""
import asyncio

import app as bench_app  # tests/bench/app.py (the servers run with tests/bench as the app dir)

SSE_EVENTS = 200
# "data: " + 88 bytes + "\n\n" = ~100 bytes per event, the event number in front
EVENTS = [b"data: %04d %s\n\n" % (i, b"x" * 83) for i in range(SSE_EVENTS)]
BODY = b"".join(EVENTS)
_START = {"type": "http.response.start", "status": 200,
          "headers": [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]}


async def events():
    for event in EVENTS:
        yield event
        await asyncio.sleep(0)


async def app(scope, receive, send):
    if scope["type"] != "http":
        return await bench_app.app(scope, receive, send)  # lifespan as the plain bench app does it
    await send(_START)
    async for event in events():
        await send({"type": "http.response.body", "body": event, "more_body": True})
    await send({"type": "http.response.body", "body": b""})
