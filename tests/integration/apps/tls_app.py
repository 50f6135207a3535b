"""TLS cases: /scope answers the scope's scheme and the request path as JSON; /echo echoes the request body;
/big?n=N answers N bytes (a repeating pattern, sent in 64 KiB chunks)."""

import urllib.parse

from asgi_util import lifespan, read_body, respond, respond_json


def pattern(n: int) -> bytes:
    block = bytes(range(256)) * 256
    return (block * (n // len(block) + 1))[:n]


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        return await lifespan(receive, send)
    body, _ = await read_body(receive)
    if scope["path"] == "/scope":
        return await respond_json(send, {"scheme": scope["scheme"], "path": scope["path"],
                                         "http_version": scope["http_version"]})
    if scope["path"] == "/echo":
        return await respond(send, body=body, content_type=b"application/octet-stream")
    if scope["path"] == "/big":
        n = int(urllib.parse.parse_qs(scope["query_string"].decode())["n"][0])
        data = pattern(n)
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", str(n).encode())]})
        for i in range(0, n, 65536):
            await send({"type": "http.response.body", "body": data[i:i + 65536], "more_body": i + 65536 < n})
        if n == 0:
            await send({"type": "http.response.body", "body": b""})
        return
    await respond(send, status=404, body=b"not found")
