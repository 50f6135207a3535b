"""The adversarial suite's app (ASGI 3): cheap answers to attack with, and misbehaving answers to check.

HTTP
  /ok                      200 "ok"
  /pid                     200, the worker's pid as text
  /bytes?size=N            N bytes in one body message (the payload is built once per size)
  /stream?size=N&chunk=M   N bytes in M-byte more_body messages
  /echo                    the request body back (Content-Length)
  /scope                   JSON: client, scheme, path, query_string, headers (latin-1)
  /raise?kind=K[&when=W]   raises; K: surrogate (message with a lone surrogate, as os.fsdecode of a bad file
                           name gives), surrogate-repr (in the exception's repr only), bad-str (__str__ raises),
                           surrogate-args (surrogates in nested args); W: before (default) | after (after the
                           response started, chunked)
  /frame?case=C            misbehaving response starts, see FRAMES
  /race?size=N             starts a response, then two tasks send() at once: an N-byte more_body message
                           (waits on backpressure while the client does not read) and a 1-byte one; writes
                           "<outcome of first>,<outcome of second>" to $ESG_TEST_MARKERS/race when both returned
WebSocket
  /echo                    accept (with whatever permessage-deflate the server negotiates), echo text/bytes
"""

import asyncio
import json
import os

_PAYLOADS = {}


def _payload(size):
    data = _PAYLOADS.get(size)
    if data is None:
        data = _PAYLOADS[size] = (bytes(range(256)) * (size // 256 + 1))[:size]
    return data


def _query(scope):
    out = {}
    for part in scope["query_string"].decode("latin-1").split("&"):
        if part:
            k, _, v = part.partition("=")
            out[k] = v
    return out


async def _respond(send, status, body, headers=()):
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-length", str(len(body)).encode()), *headers]})
    await send({"type": "http.response.body", "body": body})


async def _read_body(receive):
    body = b""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return body
        body += message.get("body", b"")
        if not message.get("more_body"):
            return body


class BadStr(Exception):
    def __str__(self):
        raise ValueError("__str__ refuses \udcff")

    def __repr__(self):
        raise ValueError("__repr__ refuses")


class SurrogateRepr(Exception):
    def __repr__(self):
        return "SurrogateRepr(\udcfe)"


def _exception(kind):
    bad_name = os.fsdecode(b"/srv/upload/caf\xe9-\xff.txt")  # lone surrogates \udce9, \udcff
    if kind == "surrogate":
        return RuntimeError(f"cannot open {bad_name}")
    if kind == "surrogate-repr":
        return SurrogateRepr("plain")
    if kind == "bad-str":
        return BadStr()
    if kind == "surrogate-args":
        return OSError(2, "No such file \udcff", bad_name)
    return RuntimeError("plain")


class MutatingHeaders(list):
    """A header list that grows and shrinks while it is read (as a buggy middleware might do)."""

    def __iter__(self):
        for i, item in enumerate(list.__iter__(self)):
            if i == 0:
                self.extend([(b"x-late", b"1")] * 64)
            elif i == 2:
                del self[3:]
            yield item

    def __len__(self):
        return list.__len__(self) + 5  # lies about its length

    def __getitem__(self, index):
        if isinstance(index, int) and index >= list.__len__(self):
            raise IndexError(index)
        return list.__getitem__(self, index)


# case -> (status, headers, body, more_body_first)
FRAMES = {
    "cl-te": (200, [(b"content-length", b"5"), (b"transfer-encoding", b"chunked")], b"hello"),
    "te-cl": (200, [(b"transfer-encoding", b"chunked"), (b"content-length", b"5")], b"hello"),
    "te-single": (200, [(b"transfer-encoding", b"chunked")], b"hello"),
    "two-cl": (200, [(b"content-length", b"5"), (b"content-length", b"7")], b"hello"),
    "status-600": (600, [], b"x"),
    "status-99": (99, [], b"x"),
    "status-0": (0, [], b"x"),
    "status-negative": (-200, [], b"x"),
    "status-huge": (2 ** 70, [], b"x"),
    "status-str": ("200", [], b"x"),
    "status-float": (200.0, [], b"x"),
    "status-none": (None, [], b"x"),
    "status-103": (103, [], b"x"),
    "status-101": (101, [], b"x"),
    "cl-204": (204, [(b"content-length", b"5")], b""),
    "cl-204-body": (204, [], b"hello"),
    "cl-304": (304, [(b"content-length", b"5")], b""),
    "te-204": (204, [(b"transfer-encoding", b"chunked")], b""),
}


async def _frame(scope, send, case):
    if case == "mutating-headers":
        headers = MutatingHeaders([(b"x-a", b"1"), (b"x-b", b"2"), (b"x-c", b"3"), (b"x-d", b"4")])
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"mutated"})
        return
    status, headers, body = FRAMES[case]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def app(scope, receive, send):
    kind = scope["type"]
    if kind == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if kind == "websocket":
        return await _websocket(scope, receive, send)
    path = scope["path"]
    q = _query(scope)
    if path == "/ok":
        return await _respond(send, 200, b"ok")
    if path == "/pid":
        return await _respond(send, 200, str(os.getpid()).encode())
    if path == "/bytes":
        return await _respond(send, 200, _payload(int(q.get("size", "0"))))
    if path == "/stream":
        size, chunk = int(q.get("size", "0")), int(q.get("chunk", "65536"))
        data = _payload(chunk)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        sent = 0
        while sent < size:
            part = data[:min(chunk, size - sent)]
            await send({"type": "http.response.body", "body": part, "more_body": True})
            sent += len(part)
        await send({"type": "http.response.body", "body": b""})
        return
    if path == "/echo":
        return await _respond(send, 200, await _read_body(receive))
    if path == "/scope":
        await _read_body(receive)
        info = {
            "client": list(scope["client"]) if scope.get("client") else None,
            "scheme": scope["scheme"], "path": scope["path"],
            "query_string": scope["query_string"].decode("latin-1"),
            "headers": [[k.decode("latin-1"), v.decode("latin-1")] for k, v in scope["headers"]],
        }
        return await _respond(send, 200, json.dumps(info).encode())
    if path == "/raise":
        if q.get("when") == "after":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"partial", "more_body": True})
            await asyncio.sleep(0)
        raise _exception(q.get("kind", "surrogate"))
    if path == "/race":
        return await _race(send, int(q.get("size", str(8 << 20))))
    if path == "/frame":
        return await _frame(scope, send, q.get("case", ""))
    return await _respond(send, 404, b"no such path")


async def _race(send, size):
    await send({"type": "http.response.start", "status": 200, "headers": []})

    async def one(body):
        try:
            await send({"type": "http.response.body", "body": body, "more_body": True})
            return "ok"
        except Exception as e:  # noqa: BLE001  (any outcome but hanging is acceptable)
            return type(e).__name__

    first = asyncio.ensure_future(one(_payload(size)))
    await asyncio.sleep(0)
    second = asyncio.ensure_future(one(b"x"))
    outcomes = await asyncio.gather(first, second)
    with open(os.path.join(os.environ["ESG_TEST_MARKERS"], "race"), "w") as f:
        f.write(",".join(outcomes))
    try:
        await send({"type": "http.response.body", "body": b""})
    except Exception:  # noqa: BLE001
        pass


async def _websocket(scope, receive, send):
    message = await receive()
    assert message["type"] == "websocket.connect", message
    await send({"type": "websocket.accept"})
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            return
        if message.get("text") is not None:
            await send({"type": "websocket.send", "text": message["text"]})
        else:
            await send({"type": "websocket.send", "bytes": message.get("bytes") or b""})
