"""Large bodies, split by direction so a failure says which side broke.

/count          reads the whole request body, answers "<length> <sha256>" (small response)
/bytes?size=N   answers N bytes (pattern bytes(range(256)) repeated) in one body message
/stream?size=N&chunk=M   the same N bytes in M-byte more_body messages
"""

import hashlib

from asgi_util import lifespan, query, read_body, respond


def pattern(size):
    block = bytes(range(256))
    return (block * (size // 256 + 1))[:size]


def piece(offset, n):
    """pattern(...)[offset:offset + n] without making the bytes before it."""
    start = offset % 256
    return (bytes(range(256)) * ((start + n) // 256 + 1))[start:start + n]


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        return await lifespan(receive, send)
    q = query(scope)
    body, messages = await read_body(receive)
    if scope["path"] == "/count":
        text = f"{len(body)} {hashlib.sha256(body).hexdigest()} {len(messages)}"
        return await respond(send, 200, text.encode())
    size = int(q.get("size", "0"))
    if scope["path"] == "/bytes":
        return await respond(send, 200, pattern(size), content_type=b"application/octet-stream")
    chunk = int(q.get("chunk", "65536"))
    await send({"type": "http.response.start", "status": 200, "headers": []})
    # Each chunk made when it is sent: the app holds one chunk, never the whole body (tests measure the
    # worker's memory while a client does not read).
    for i in range(0, size, chunk):
        await send({"type": "http.response.body", "body": piece(i, min(chunk, size - i)), "more_body": True})
    await send({"type": "http.response.body", "body": b""})
