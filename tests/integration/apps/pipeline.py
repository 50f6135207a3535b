"""Answers with the `id` query parameter; /slow sleeps first (pipelined answers must stay in order)."""

import asyncio

from asgi_util import lifespan, query, read_body, respond


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        return await lifespan(receive, send)
    body, _ = await read_body(receive)
    if scope["path"] == "/slow":
        await asyncio.sleep(float(query(scope).get("delay", "0.3")))
    ident = query(scope).get("id", "").encode()
    await respond(send, 200, ident + (b":" + body if body else b""))
