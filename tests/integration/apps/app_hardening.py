"""What a careless or hostile app can hand the server (issue 11): exceptions that are hard to log, invalid
statuses and framing headers, header lists that change while they are read, concurrent sends.

/pid                        200, the worker's pid (to check the worker survived)
/raise?kind=K               raises an exception that is hard to log (see _exception)
/status?v=EXPR              http.response.start with status eval(EXPR) (e.g. 600, "200", 2**70)
/headers?kind=K             http.response.start with headers of kind K (see _headers), body b"hello"
/gather?n=N                 two concurrent sends of N bytes each (asyncio.gather) on a chunked response
lifespan_raise_*, lifespan_fail_message: lifespan apps failing with hard-to-log texts; wsgi_app: the WSGI side
"""

import asyncio
import os
from http import HTTPStatus
from urllib.parse import parse_qs

from asgi_util import lifespan, respond

KEPT: list = []
SURROGATE = os.fsdecode(b"bad-\xff-name")  # 'bad-\udcff-name': a lone surrogate, not encodable as UTF-8


class StrRaises(Exception):
    def __str__(self):
        raise ValueError("__str__ of the exception raised")

    def __repr__(self):
        raise ValueError("__repr__ of the exception raised")


class StrNotStr(Exception):
    def __str__(self):
        return 42  # not a str: str() raises TypeError


class SurrogateRepr(Exception):
    def __str__(self):
        return "repr-" + SURROGATE

    def __repr__(self):
        return "SurrogateRepr(" + SURROGATE + ")"


def _exception(kind: str) -> BaseException:
    if kind == "surrogate":
        return RuntimeError(f"cannot open {SURROGATE}")
    if kind == "str-raises":
        return StrRaises()
    if kind == "str-not-str":
        return StrNotStr()
    if kind == "surrogate-repr":
        return SurrogateRepr()
    if kind == "huge":
        return RuntimeError("huge-" + "x" * (4 << 20) + SURROGATE)
    if kind == "nul":
        return RuntimeError("nul-\x00-\x1b[31mred")
    if kind == "bytes-arg":
        return RuntimeError(b"\xff\xfe", SURROGATE)
    raise AssertionError(kind)


class MutatingList(list):
    """A list whose iteration empties the list being iterated and its items."""

    def __iter__(self):
        for item in list.__iter__(self):
            self.clear()
            yield item


class ClearingPair:
    """A header pair that is not a tuple: reading it (__iter__/__getitem__/__len__) clears the outer list
    the server may be reading in place, and drops the other items' last references."""

    def __init__(self, outer, pair):
        self.outer = outer
        self.pair = pair

    def _clear(self):
        del self.outer[:]

    def __len__(self):
        self._clear()
        return 2

    def __getitem__(self, i):
        self._clear()
        return self.pair[i]

    def __iter__(self):
        self._clear()
        return iter(self.pair)


class GrowingPair(ClearingPair):
    def _clear(self):
        self.outer.extend([(b"x-grown", b"1")] * 1000)


def _headers(kind: str):
    if kind == "cl-te":
        return [(b"content-length", b"5"), (b"transfer-encoding", b"chunked")]
    if kind == "te-cl":
        return [(b"Transfer-Encoding", b"chunked"), (b"Content-Length", b"5")]
    if kind == "cl-cl":
        return [(b"content-length", b"5"), (b"content-length", b"5")]
    if kind == "list-subclass":
        return MutatingList([(b"x-a", b"1"), (b"x-b", b"2"), (b"content-length", b"5")])
    if kind == "generator":
        return ((b"x-%d" % i, b"v") for i in range(3))
    if kind == "clearing-pair" or kind == "growing-pair":
        outer = [(bytes([120, 45, 97 + i]), bytes(b"v" * 1000)) for i in range(5)]
        cls = ClearingPair if kind == "clearing-pair" else GrowingPair
        outer.insert(1, cls(outer, (b"x-pair", b"p")))
        # The outer list is the only owner of its items: clearing it frees them.
        return outer
    if kind == "str-values":
        return [("x-a", "1")]
    raise AssertionError(kind)


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        return await lifespan(receive, send)
    path = scope["path"]
    query = {k: v[0] for k, v in parse_qs(scope["query_string"].decode()).items()}
    if path == "/pid":
        return await respond(send, 200, str(os.getpid()).encode())
    if path == "/keep":  # the exchange outlives its request (freed by /drop, during another request)
        KEPT[:] = [send, receive]
        if "respond" not in query:
            return None  # no response: the server answers 500 and the next pipelined request goes on
        return await respond(send, 200, b"kept")
    if path == "/drop":
        KEPT.clear()
        return await respond(send, 200, b"dropped")
    if path == "/use-old":
        message = await KEPT[1]()
        try:
            await KEPT[0]({"type": "http.response.body", "body": b"stale"})
        except RuntimeError:
            return await respond(send, 200, message["type"].encode())
        return await respond(send, 200, b"stale send accepted")
    if path == "/raise":
        if "suspend" in query:
            await asyncio.sleep(0)
        raise _exception(query["kind"])
    if path == "/status":
        status = eval(query["v"], {"HTTPStatus": HTTPStatus})  # noqa: S307 - test input
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b"hello"})
        return
    if path == "/headers":
        kind = query["kind"]
        message = {"type": "http.response.start", "status": int(query.get("status", 200)), "headers": _headers(kind)}
        await send(message)
        await send({"type": "http.response.body", "body": b"" if query.get("empty") else b"hello"})
        return
    if path == "/gather":
        n = int(query["n"])
        await send({"type": "http.response.start", "status": 200, "headers": []})

        async def one(tag: bytes):
            await send({"type": "http.response.body", "body": tag * n, "more_body": True})

        await asyncio.gather(one(b"a"), one(b"b"))
        await send({"type": "http.response.body", "body": b"end", "more_body": False})
        return
    await respond(send, 200, b"ok")


def _lifespan_raising(kind):
    async def lifespan_app(scope, receive, send):
        if scope["type"] == "lifespan":
            message = await receive()
            if message["type"] == "lifespan.startup":
                raise _exception(kind)
        return await app(scope, receive, send)

    return lifespan_app


lifespan_raise_surrogate = _lifespan_raising("surrogate")
lifespan_raise_str_raises = _lifespan_raising("str-raises")
lifespan_raise_huge = _lifespan_raising("huge")


async def lifespan_fail_message(scope, receive, send):
    if scope["type"] == "lifespan":
        await receive()
        await send({"type": "lifespan.startup.failed", "message": "failed " + SURROGATE})
        return
    return await app(scope, receive, send)


def wsgi_app(environ, start_response):
    path = environ["PATH_INFO"]
    query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
    if path == "/pid":
        start_response("200 OK", [("content-type", "text/plain")])
        return [str(os.getpid()).encode()]
    if path == "/raise":
        raise _exception(query["kind"])
    if path == "/errors":
        environ["wsgi.errors"].write("wsgi.errors " + SURROGATE + "\n")
        start_response("200 OK", [])
        return [b"ok"]
    if path == "/status":
        start_response(query["v"], [])
        return [b"hello"]
    if path == "/cl-te":
        start_response("200 OK", [("Content-Length", "5"), ("Transfer-Encoding", "chunked")])
        return [b"hello"]
    if path == "/client":
        start_response("200 OK", [("content-type", "text/plain")])
        return [f"{environ.get('REMOTE_ADDR')} {environ['wsgi.url_scheme']}".encode()]
    start_response("200 OK", [])
    return [b"ok"]


class Asgi2Versions:
    """ASGI 2 (double callable): answers with the scope's asgi version, and the one lifespan saw."""

    lifespan_version = None

    def __init__(self, scope):
        self.scope = scope

    async def __call__(self, receive, send):
        version = self.scope["asgi"]["version"]
        if self.scope["type"] == "lifespan":
            Asgi2Versions.lifespan_version = version
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        text = f"{self.scope['type']} {version} lifespan {Asgi2Versions.lifespan_version}"
        if self.scope["type"] == "websocket":
            await receive()
            await send({"type": "websocket.accept"})
            await send({"type": "websocket.send", "text": text})
            await send({"type": "websocket.close", "code": 1000})
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": text.encode()})
