"""Apps for test_uvicorn_options.py.

cv_app: reports which contextvars an HTTP request sees — one set at import time (in the worker's main
context), one set during lifespan startup, and one a previous request set — for --reset-contextvars.
queue_app: a WebSocket that does not call receive() until GET /drain, then counts the messages up to a
text "end" and sends the count back (--ws-max-queue)."""

import asyncio
import contextvars
import json

IMPORT_VAR = contextvars.ContextVar("IMPORT_VAR", default="unset")
LIFESPAN_VAR = contextvars.ContextVar("LIFESPAN_VAR", default="unset")
REQUEST_VAR = contextvars.ContextVar("REQUEST_VAR", default="unset")
IMPORT_VAR.set("from-import")


async def _lifespan(receive, send):
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            LIFESPAN_VAR.set("from-lifespan")
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _json(send, obj):
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": json.dumps(obj).encode()})


async def cv_app(scope, receive, send):
    if scope["type"] == "lifespan":
        return await _lifespan(receive, send)
    before = REQUEST_VAR.get()
    REQUEST_VAR.set("from-request")
    await asyncio.sleep(0)  # a request that suspends runs as a Task: the same context goes on
    await _json(send, {"import": IMPORT_VAR.get(), "lifespan": LIFESPAN_VAR.get(), "previous_request": before})


_drain = None


async def queue_app(scope, receive, send):
    global _drain
    if scope["type"] == "lifespan":
        return await _lifespan(receive, send)
    if _drain is None:
        _drain = asyncio.Event()
    if scope["type"] == "http":
        _drain.set()
        return await _json(send, {"ok": True})
    assert (await receive())["type"] == "websocket.connect"
    await send({"type": "websocket.accept"})
    await _drain.wait()
    count = 0
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            return
        if message.get("text") == "end":
            break
        count += 1
    await send({"type": "websocket.send", "text": str(count)})
    await send({"type": "websocket.close", "code": 1000})


def cv_app2(scope):
    """cv_app as an ASGI 2 app (driven by ESG's Python runner, not the eager start)."""

    async def instance(receive, send):
        await cv_app(scope, receive, send)

    return instance
