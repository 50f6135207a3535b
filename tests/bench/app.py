"""The one ASGI app every server under test serves (tests/bench).

Routes (one app, so a server is started once per round and serves every workload):
  GET  /            hello:         200, text/plain, b"Hello, world!"
  GET  /10k         get10k:        200, text/plain, 10,240 bytes
  POST /echo        post-echo-10k: reads the whole body, answers it back (text/plain)
  GET  /stream      stream-1mb:    1 MiB as 16 x 64 KiB chunks (more_body=True, no content-length)
  GET  /sleep       sleep:         await asyncio.sleep(0.01), then the hello response
  WS   any path      ws-echo:       accept (no subprotocol, no extension), echo every message back
                                    (bytes as bytes, text as text) until the client disconnects
Anything else gets the hello response too (so a typo never measures a 404 path).

The responses carry content-type and content-length (except the stream) and nothing else;
the server adds its own headers (date, server, transfer-encoding for the stream).
"""
import asyncio

HELLO = b"Hello, world!"
BODY_10K = b"x" * 10240
CHUNK_64K = b"s" * 65536
STREAM_CHUNKS = 16  # 16 x 64 KiB = 1 MiB

_CT = (b"content-type", b"text/plain")
HELLO_START = {"type": "http.response.start", "status": 200,
               "headers": [_CT, (b"content-length", b"13")]}
HELLO_BODY = {"type": "http.response.body", "body": HELLO}
TENK_START = {"type": "http.response.start", "status": 200,
              "headers": [_CT, (b"content-length", b"10240")]}
TENK_BODY = {"type": "http.response.body", "body": BODY_10K}
WS_ACCEPT = {"type": "websocket.accept"}
STREAM_START = {"type": "http.response.start", "status": 200, "headers": [_CT]}


async def app(scope, receive, send):
    t = scope["type"]
    if t == "lifespan":
        while True:
            msg = await receive()
            if msg["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif msg["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if t == "websocket":
        msg = await receive()
        if msg["type"] != "websocket.connect":
            return
        await send(WS_ACCEPT)
        while True:
            msg = await receive()
            if msg["type"] != "websocket.receive":
                return  # websocket.disconnect
            b = msg.get("bytes")
            if b is not None:
                await send({"type": "websocket.send", "bytes": b})
            else:
                await send({"type": "websocket.send", "text": msg.get("text")})
    if t != "http":
        return
    path = scope["path"]
    if path == "/10k":
        await send(TENK_START)
        await send(TENK_BODY)
    elif path == "/echo":
        chunks = []
        more = True
        while more:
            msg = await receive()
            if msg["type"] != "http.request":
                return  # client went away
            chunks.append(msg.get("body", b""))
            more = msg.get("more_body", False)
        body = b"".join(chunks)
        await send({"type": "http.response.start", "status": 200,
                    "headers": [_CT, (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
    elif path == "/stream":
        await send(STREAM_START)
        for _ in range(STREAM_CHUNKS - 1):
            await send({"type": "http.response.body", "body": CHUNK_64K, "more_body": True})
        await send({"type": "http.response.body", "body": CHUNK_64K})
    else:
        if path == "/sleep":
            await asyncio.sleep(0.01)
        await send(HELLO_START)
        await send(HELLO_BODY)
