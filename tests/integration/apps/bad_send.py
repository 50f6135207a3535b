"""ASGI send() misuse. Every case is an app bug the server must survive; /ok is a normal answer.

/wrong-type          a message of an unknown type before anything was sent
/body-first          http.response.body before http.response.start
/start-twice         http.response.start twice
/str-body            body is a str, not bytes
/after-complete      a second body message after the response is complete
/header-injection    a header value containing CR LF
/cl-too-long         Content-Length 5 but a 10-byte body
/cl-too-short        Content-Length 10 but a 5-byte (final) body
"""

from asgi_util import lifespan, marker, respond

START = {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]}


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        return await lifespan(receive, send)
    path = scope["path"]
    if path == "/wrong-type":
        await send({"type": "http.response.bogus", "status": 200})
    elif path == "/body-first":
        await send({"type": "http.response.body", "body": b"no start"})
    elif path == "/start-twice":
        await send(START)
        await send(START)
        await send({"type": "http.response.body", "body": b"twice"})
    elif path == "/str-body":
        await send(START)
        await send({"type": "http.response.body", "body": "not bytes"})
    elif path == "/after-complete":
        await send(START | {"headers": [(b"content-length", b"8")]})
        await send({"type": "http.response.body", "body": b"complete"})
        try:
            await send({"type": "http.response.body", "body": b"extra bytes"})
        except Exception as exc:  # the server may raise here; record and re-raise so it is logged
            marker("after-complete", type(exc).__name__)
            raise
        marker("after-complete", "no exception")
    elif path == "/header-injection":
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"x-evil", b"a\r\nx-injected: yes")]})
        await send({"type": "http.response.body", "body": b"evil"})
    elif path == "/cl-too-long":
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"5")]})
        await send({"type": "http.response.body", "body": b"0123456789"})
    elif path == "/cl-too-short":
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"10")]})
        await send({"type": "http.response.body", "body": b"01234"})
    else:
        await respond(send, 200, b"ok")
