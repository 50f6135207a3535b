"""The app of the deployment tests: identity, scope, big bodies both ways, slow requests, a WebSocket echo.

  GET  /            "hello"            GET /pid        this worker's pid
  GET  /scope       JSON: client, scheme, server, path, root_path, headers
  POST /upload      JSON: {"size": n, "sha256": hex} of the request body
  GET  /download?n=N  N bytes of a repeating pattern, streamed in 1 MiB chunks
  GET  /slow?s=S    answers after S seconds           GET /version   $DEP_APP_VERSION or "1"
  WS   /ws          echoes text and bytes frames
"""

import asyncio
import hashlib
import json
import os
from urllib.parse import parse_qs

VERSION = os.environ.get("DEP_APP_VERSION", "1")
PATTERN = bytes(range(256)) * 4096  # 1 MiB


async def _reply(send, body, status=200, content_type=b"text/plain"):
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] == "websocket":
        await _websocket(scope, receive, send)
        return
    path = scope["path"]
    query = parse_qs(scope.get("query_string", b"").decode())
    if path == "/pid":
        await _reply(send, str(os.getpid()).encode())
    elif path == "/version":
        await _reply(send, VERSION.encode())
    elif path == "/scope":
        data = {"client": scope.get("client"), "scheme": scope["scheme"], "server": scope.get("server"),
                "path": path, "root_path": scope.get("root_path", ""),
                "headers": [[n.decode("latin-1"), v.decode("latin-1")] for n, v in scope["headers"]]}
        await _reply(send, json.dumps(data).encode(), content_type=b"application/json")
    elif path == "/upload":
        digest, size, more = hashlib.sha256(), 0, True
        while more:
            message = await receive()
            chunk = message.get("body", b"")
            digest.update(chunk)
            size += len(chunk)
            more = message.get("more_body", False)
        await _reply(send, json.dumps({"size": size, "sha256": digest.hexdigest()}).encode(),
                     content_type=b"application/json")
    elif path == "/download":
        n = int(query.get("n", ["0"])[0])
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/octet-stream"),
                                (b"content-length", str(n).encode())]})
        left = n
        while left > 0:
            chunk = PATTERN[:min(left, len(PATTERN))]
            left -= len(chunk)
            await send({"type": "http.response.body", "body": chunk, "more_body": left > 0})
        if n == 0:
            await send({"type": "http.response.body", "body": b""})
    elif path == "/slow":
        await asyncio.sleep(float(query.get("s", ["1"])[0]))
        await _reply(send, b"slow done")
    elif path == "/block":
        import time

        time.sleep(float(query.get("s", ["1"])[0]))  # blocks the event loop on purpose
        await _reply(send, b"blocked")
    else:
        await _reply(send, b"hello")


async def _websocket(scope, receive, send):
    message = await receive()
    if message["type"] != "websocket.connect":
        return
    await send({"type": "websocket.accept"})
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            return
        if message.get("text") is not None:
            await send({"type": "websocket.send", "text": message["text"]})
        else:
            await send({"type": "websocket.send", "bytes": message.get("bytes") or b""})


def expected_download(n: int) -> bytes:
    out = PATTERN * (n // len(PATTERN)) + PATTERN[: n % len(PATTERN)]
    return out
