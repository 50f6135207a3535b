"""Writes marker started-<id>, sleeps `delay` seconds (default 1), then answers 200 "slow done"."""

import asyncio

from asgi_util import lifespan, marker, query, respond


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        return await lifespan(receive, send)
    q = query(scope)
    marker(f"started-{q.get('id', 'x')}")
    await asyncio.sleep(float(q.get("delay", "1")))
    await respond(send, 200, b"slow done")
