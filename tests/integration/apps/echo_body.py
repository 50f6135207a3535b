"""Echo the request body; x-messages = number of http.request messages, x-more = their more_body flags.

/started: writes marker started when the app is called, before it reads the body.
/first-chunk: after the first http.request message with more_body=True, write marker first-chunk with its
body before reading the rest (proves the body is streamed, not buffered whole before the app runs).
"""

import json

from asgi_util import lifespan, marker, read_body


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        return await lifespan(receive, send)
    if scope["path"] == "/started":
        marker("started", "1")
    body = b""
    flags = []
    types = []
    while True:
        message = await receive()
        types.append(message["type"])
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        body += chunk
        flags.append(bool(message.get("more_body", False)))
        if scope["path"] == "/first-chunk" and len(flags) == 1 and flags[0]:
            marker("first-chunk", chunk.decode("latin-1"))
        if not message.get("more_body", False):
            break
    await send({"type": "http.response.start", "status": 200, "headers": [
        (b"content-type", b"application/octet-stream"),
        (b"x-messages", str(len(flags)).encode()),
        (b"x-more", json.dumps(flags).encode()),
        (b"x-types", ",".join(types).encode()),
    ]})
    await send({"type": "http.response.body", "body": body})
