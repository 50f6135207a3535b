"""Response framing cases.

/cl       Content-Length given by the app (13 bytes)
/single   one body message, no Content-Length (ESG adds one)
/stream   three body messages with more_body, no Content-Length (chunked on 1.1, close-delimited on 1.0)
/empty    start + empty body, no Content-Length
/status?code=N  status N with no body (204/304 cases); app adds no framing headers
/dups     duplicate response headers (two set-cookie) and a value with obs-text bytes
/infinite streams 1 KB chunks until send() raises or receive() says http.disconnect; then writes marker
          stream-ended with the reason
"""

import asyncio

from asgi_util import lifespan, marker, query


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        return await lifespan(receive, send)
    path = scope["path"]
    if path == "/cl":
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain"), (b"content-length", b"13")]})
        await send({"type": "http.response.body", "body": b"Hello, world!"})
    elif path == "/single":
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"single body message"})
    elif path == "/stream":
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        for part in (b"one,", b"two,", b"three"):
            await send({"type": "http.response.body", "body": part, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    elif path == "/empty":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})
    elif path == "/status":
        code = int(query(scope).get("code", "204"))
        await send({"type": "http.response.start", "status": code, "headers": [(b"etag", b'"v1"')]})
        await send({"type": "http.response.body", "body": b""})
    elif path == "/dups":
        await send({"type": "http.response.start", "status": 200, "headers": [
            (b"set-cookie", b"a=1; Path=/"), (b"x-between", b"x"), (b"set-cookie", b"b=2; Path=/"),
            (b"x-latin", b"caf\xe9")]})
        await send({"type": "http.response.body", "body": b"dups"})
    elif path == "/infinite":
        await infinite(receive, send)
    else:
        await send({"type": "http.response.start", "status": 404, "headers": []})
        await send({"type": "http.response.body", "body": b"no such case"})


async def infinite(receive, send):
    disconnected = asyncio.Event()

    async def watch():
        while (await receive())["type"] != "http.disconnect":
            pass
        disconnected.set()

    watcher = asyncio.ensure_future(watch())
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    reason = "loop limit"
    try:
        for _ in range(100_000):
            if disconnected.is_set():
                reason = "http.disconnect"
                break
            await send({"type": "http.response.body", "body": b"x" * 1024, "more_body": True})
            await asyncio.sleep(0.001)
    except Exception as exc:  # a server may raise from send() on a closed connection (ASGI 2.4: OSError)
        reason = f"send raised {type(exc).__name__}"
    finally:
        watcher.cancel()
        marker("stream-ended", reason)
