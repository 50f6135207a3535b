"""Reads the body, writes marker waiting-<id>, then awaits receive() and writes marker disconnect-<id> with the
type of the message it got (the test closes its socket in between; expected: http.disconnect)."""

from asgi_util import lifespan, marker, query, read_body


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        return await lifespan(receive, send)
    ident = query(scope).get("id", "x")
    await read_body(receive)
    marker(f"waiting-{ident}")
    message = await receive()
    marker(f"disconnect-{ident}", message["type"])
