"""Reads the body, writes marker waiting-<id>, then awaits receive() and writes marker disconnect-<id> with the
type of the message it got (the test closes its socket in between; expected: http.disconnect).

/after-response: answers first, then awaits receive() while the client keeps the connection open; the ASGI
spec says receive() then returns http.disconnect (marker disconnect-<id>).
"""

from asgi_util import lifespan, marker, query, read_body


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        return await lifespan(receive, send)
    ident = query(scope).get("id", "x")
    await read_body(receive)
    if scope["path"] == "/after-response":
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"4")]})
        await send({"type": "http.response.body", "body": b"done"})
    marker(f"waiting-{ident}")
    message = await receive()
    marker(f"disconnect-{ident}", message["type"])
