"""200 text/plain "Hello, world!" for any path (404 for /missing); supports lifespan; used by CLI/header/log tests.

/loop answers with the running event loop's class, so tests can check --loop.
"""

import asyncio

from asgi_util import lifespan, respond


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        return await lifespan(receive, send)
    if scope["path"] == "/missing":
        return await respond(send, 404, b"Not here")
    if scope["path"] == "/loop":
        loop = asyncio.get_running_loop()
        return await respond(send, 200, f"{type(loop).__module__}.{type(loop).__qualname__}".encode())
    await respond(send, 200, b"Hello, world!")
