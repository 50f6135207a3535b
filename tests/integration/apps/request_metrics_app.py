"""The per-request metrics tests' app (test_request_metrics.py): 200 "ok" for any method and path, 404 for
/missing, POST /echo answers with the body's length, /slow?file=PATH waits (at most 60 s) until PATH exists,
and a WebSocket on any path echoes text until the client closes."""

import asyncio
import os
import time
from urllib.parse import parse_qs

from asgi_util import lifespan, respond


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        return await lifespan(receive, send)
    if scope["type"] == "websocket":
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        while True:
            message = await receive()
            if message["type"] != "websocket.receive":
                return
            await send({"type": "websocket.send", "text": message.get("text") or ""})
    path = scope["path"]
    if path == "/missing":
        return await respond(send, 404, b"Not here")
    if path == "/echo":
        size = 0
        more = True
        while more:
            message = await receive()
            size += len(message.get("body", b""))
            more = message.get("more_body", False)
        return await respond(send, 200, str(size).encode())
    if path == "/slow":
        wanted = parse_qs(scope["query_string"].decode())["file"][0]
        deadline = time.monotonic() + 60
        while not os.path.exists(wanted) and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        return await respond(send, 200, b"slow")
    await respond(send, 200, b"ok")
