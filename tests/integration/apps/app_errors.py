"""App exceptions and missing responses; /ok answers normally.

/raise-before        raises before http.response.start
/raise-after-chunked start (no Content-Length), one more_body chunk, then raises
/raise-after-cl      start with Content-Length 100, 10 bytes with more_body, then raises
/no-response         returns without sending anything
/start-only          sends http.response.start and returns
?suspend             (any path) first awaits asyncio.sleep(0), so the rest runs in the request's Task
"""

import asyncio

from asgi_util import lifespan, respond


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        return await lifespan(receive, send)
    path = scope["path"]
    if b"suspend" in scope["query_string"]:
        await asyncio.sleep(0)
    if path == "/raise-before":
        raise RuntimeError("boom-before-start")
    if path == "/raise-after-chunked":
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"partial", "more_body": True})
        raise RuntimeError("boom-after-chunked")
    if path == "/raise-after-cl":
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain"), (b"content-length", b"100")]})
        await send({"type": "http.response.body", "body": b"0123456789", "more_body": True})
        raise RuntimeError("boom-after-cl")
    if path == "/no-response":
        return None
    if path == "/start-only":
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"5")]})
        return None
    await respond(send, 200, b"ok")
