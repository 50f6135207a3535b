"""Response framing cases.

/cl       Content-Length given by the app (13 bytes)
/single   one body message, no Content-Length (ESG adds one)
/stream   three body messages with more_body, no Content-Length (chunked on 1.1, close-delimited on 1.0)
/empty    start + empty body, no Content-Length
/status?code=N  status N with no body (204/304 cases); app adds no framing headers
"""

from asgi_util import lifespan, query


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        return await lifespan(receive, send)
    path = scope["path"]
    if path == "/cl":
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain"), (b"content-length", b"13")]})
        await send({"type": "http.response.body", "body": b"Hello, world!"})
    elif path == "/single":
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"single body message"})
    elif path == "/stream":
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        for part in (b"one,", b"two,", b"three"):
            await send({"type": "http.response.body", "body": part, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    elif path == "/empty":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})
    elif path == "/status":
        code = int(query(scope).get("code", "204"))
        await send({"type": "http.response.start", "status": code, "headers": [(b"etag", b'"v1"')]})
        await send({"type": "http.response.body", "body": b""})
    else:
        await send({"type": "http.response.start", "status": 404, "headers": []})
        await send({"type": "http.response.body", "body": b"no such case"})
