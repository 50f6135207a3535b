"""Expect: 100-continue. /read reads and echoes the body; /reject answers 413 without reading it."""

from asgi_util import lifespan, read_body, respond


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        return await lifespan(receive, send)
    if scope["path"] == "/reject":
        return await respond(send, 413, b"too big")
    body, _ = await read_body(receive)
    await respond(send, 200, b"got:" + body)
