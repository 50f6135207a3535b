"""For test_access_log_format: 200 "ok" with `x-trace: t-1` (a response header to log); /sleep?s=0.2 answers
after that many seconds; /empty answers 204 with no body."""

import asyncio

from asgi_util import lifespan, query, respond


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        return await lifespan(receive, send)
    if scope["path"] == "/sleep":
        await asyncio.sleep(float(query(scope).get("s", "0.2")))
    if scope["path"] == "/empty":
        return await respond(send, 204, b"", content_type=None)
    await respond(send, 200, b"ok", headers=[(b"x-trace", b"t-1")])
