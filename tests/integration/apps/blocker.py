"""/block?id=N writes marker blocked-N, then waits (without blocking the event loop) until the test creates
$ESG_TEST_MARKERS/release-N, then answers "released N". /fast?id=N answers "fast N" at once."""

import asyncio
import os

from asgi_util import lifespan, marker, query, read_body, respond


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        return await lifespan(receive, send)
    await read_body(receive)
    ident = query(scope).get("id", "x")
    if scope["path"] == "/block":
        marker(f"blocked-{ident}")
        release = os.path.join(os.environ["ESG_TEST_MARKERS"], f"release-{ident}")
        while not os.path.exists(release):
            await asyncio.sleep(0.01)
        return await respond(send, 200, f"released {ident}".encode())
    await respond(send, 200, f"fast {ident}".encode())
