"""For test_http2.py: an app that holds a request body unread until the test says so (flow control over h2).

/hold?id=X   writes marker holding-X, waits (at most 20 s) for the test to create marker go-X, then reads the
             whole body and answers "<length> <sha256>"
anything else: 200 "h2 ok"
"""

import asyncio
import hashlib
import os

from asgi_util import lifespan, marker, query, read_body, respond


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        return await lifespan(receive, send)
    if scope["path"] == "/hold":
        name = query(scope).get("id", "x")
        marker(f"holding-{name}")
        go = os.path.join(os.environ.get("ESG_TEST_MARKERS", ""), f"go-{name}")
        for _ in range(400):
            if os.path.exists(go):
                break
            await asyncio.sleep(0.05)
        body, _ = await read_body(receive)
        return await respond(send, 200, f"{len(body)} {hashlib.sha256(body).hexdigest()}".encode())
    await respond(send, 200, b"h2 ok")
