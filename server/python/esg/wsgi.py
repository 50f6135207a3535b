"""WSGI (PEP 3333) apps served by the ASGI engine: WSGIAdapter presents a WSGI callable as an ASGI 3 app.

Each request runs the WSGI call (and the iteration of its result) on a small pool of daemon threads, so
one slow request does not block the worker's event loop. The thread reaches the loop only through
`asyncio.run_coroutine_threadsafe`: the engine's `receive`/`send` are called on the loop thread, never
on a pool thread, and a pool thread waits for each `send` to complete, which is the backpressure (the
engine's send completes late when the socket's write buffer is over its high-water mark).

Hops between the threads are kept few: the first request-body message is read on the loop before the
call (it is usually already buffered, so requests without a body never hop for it), and a response whose
iterable is a list or tuple (the common case: Flask's and Django's non-streaming responses wrap one)
is sent by the loop in one message after the call. Other iterables are streamed, one `more_body` chunk
per non-empty item.

Thread/GIL contract: build_environ and WSGIAdapter.__call__ run on the loop thread; _Call.run, the
input stream, start_response and write() run on a pool thread.
"""

import asyncio
import os
import queue
import threading
import urllib.parse
from concurrent.futures import Future
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

from esg import _log
from esg.errors import AppLoadError

DEFAULT_THREADS = 10  # like a2wsgi's and uvicorn's WSGI middleware

_SKIPPED_HEADERS = (b"content-type", b"content-length")


class ClientDisconnected(OSError):
    """Raised by wsgi.input when the client went away before sending the whole body."""


class _ThreadPool:
    """A fixed-size pool of daemon threads, started on demand.

    Daemon threads (unlike concurrent.futures.ThreadPoolExecutor's) let a worker exit after
    --timeout-graceful-shutdown even when a WSGI call never returns."""

    def __init__(self, size: int) -> None:
        self._size = max(1, int(size))
        self._queue: "queue.SimpleQueue[Optional[Tuple[Future, Callable[[], Any]]]]" = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads = 0
        self._idle = 0

    def submit(self, fn: Callable[[], Any]) -> Future:
        future: Future = Future()
        with self._lock:
            if self._idle == 0 and self._threads < self._size:
                self._threads += 1
                threading.Thread(target=self._run, name=f"esg-wsgi-{self._threads}", daemon=True).start()
            else:
                self._idle -= 1 if self._idle else 0
        self._queue.put((future, fn))
        return future

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            future, fn = item
            if future.set_running_or_notify_cancel():
                try:
                    result = fn()
                except BaseException as exc:  # noqa: B902 - handed to the awaiting request
                    future.set_exception(exc)
                else:
                    future.set_result(result)
            del item, future, fn
            with self._lock:
                self._idle += 1


class _Errors:
    """wsgi.errors: text written here goes to the esg.error log, one message per completed write."""

    def __init__(self) -> None:
        self._pending = ""

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"wsgi.errors.write() takes str, not {type(text).__name__}")
        self._pending += text
        if self._pending.endswith("\n"):
            self.flush()
        return len(text)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        text, self._pending = self._pending.rstrip("\n"), ""
        if text:
            _log.error(text)


class _Input:
    """wsgi.input: the request body, read from the ASGI `receive` as the app asks for it.

    `first` is the message the loop already read (or None). Reads after the body's end return b"";
    a client that disconnects mid-body raises ClientDisconnected."""

    def __init__(self, loop: asyncio.AbstractEventLoop, receive: Callable, first: Optional[dict]) -> None:
        self._loop = loop
        self._receive = receive
        self._buffer = bytearray()
        self._more = True
        if first is not None:
            self._take(first)

    def _take(self, message: dict) -> None:
        kind = message.get("type")
        if kind == "http.disconnect":
            self._more = False
            raise ClientDisconnected("the client disconnected before sending the whole request body")
        self._buffer += message.get("body", b"")
        self._more = bool(message.get("more_body", False))

    async def _next(self) -> dict:
        return await self._receive()

    def _fill(self) -> bool:
        """Reads one more message from the loop; False at the end of the body."""
        if not self._more:
            return False
        message = asyncio.run_coroutine_threadsafe(self._next(), self._loop).result()
        self._take(message)
        return True

    def read(self, size: Optional[int] = -1) -> bytes:
        if size is None or size < 0:
            while self._fill():
                pass
            size = len(self._buffer)
        while len(self._buffer) < size and self._fill():
            pass
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    def readline(self, size: Optional[int] = -1) -> bytes:
        limit = size if size is not None and size >= 0 else None
        while True:
            end = self._buffer.find(b"\n")
            if end >= 0:
                cut = end + 1
                break
            if limit is not None and len(self._buffer) >= limit:
                cut = limit
                break
            if not self._fill():
                cut = len(self._buffer)
                break
        if limit is not None:
            cut = min(cut, limit)
        data = bytes(self._buffer[:cut])
        del self._buffer[:cut]
        return data

    def readlines(self, hint: int = -1) -> List[bytes]:
        lines: List[bytes] = []
        total = 0
        for line in self:
            lines.append(line)
            total += len(line)
            if 0 < hint <= total:
                break
        return lines

    def __iter__(self) -> "_Input":
        return self

    def __next__(self) -> bytes:
        line = self.readline()
        if not line:
            raise StopIteration
        return line


def _latin1(text: str) -> str:
    """A str as PEP 3333 wants it: its UTF-8 bytes seen as latin-1 ("bytes-as-str")."""
    return text.encode("utf-8").decode("latin-1")


def _server_name_port(scope: Dict[str, Any], host_header: Optional[str]) -> Tuple[str, str]:
    server = scope.get("server")
    if server and server[1] is not None:
        return str(server[0]), str(server[1])
    # A UNIX socket has no name and port: take them from Host, which the proxy in front of it sets.
    default_port = "443" if scope.get("scheme") in ("https", "wss") else "80"
    if not host_header:
        return "localhost", default_port
    name, sep, port = host_header.rpartition(":")
    if sep and port.isdigit() and (not name.startswith("[") or name.endswith("]")):
        return name, port
    return host_header, default_port


def build_environ(scope: Dict[str, Any], wsgi_input: Any, errors: Any, multiprocess: bool) -> Dict[str, Any]:
    """The PEP 3333 environ for an ASGI http scope.

    PATH_INFO is the percent-decoded request path seen as latin-1 (so the app can recover the exact
    bytes, whatever their encoding), with the --root-path prefix moved to SCRIPT_NAME. Request headers
    whose names contain "_" are dropped: once "-" and "_" both map to "_", X-Auth_User could otherwise
    pose as X-Auth-User to an app behind a proxy that filters only the latter (header smuggling)."""
    root_path = scope.get("root_path", "")
    raw_path = scope.get("raw_path")
    if raw_path is None:
        raw_path = scope["path"].encode("utf-8")
    root_raw = root_path.encode("utf-8")
    if root_raw and raw_path.startswith(root_raw):
        raw_path = raw_path[len(root_raw):]
    path_info = urllib.parse.unquote_to_bytes(raw_path).decode("latin-1")
    environ: Dict[str, Any] = {
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": _latin1(root_path),
        "PATH_INFO": path_info,
        "QUERY_STRING": scope.get("query_string", b"").decode("latin-1"),
        "SERVER_PROTOCOL": f"HTTP/{scope.get('http_version', '1.1')}",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.get("scheme", "http"),
        "wsgi.input": wsgi_input,
        "wsgi.errors": errors,
        "wsgi.multithread": True,
        "wsgi.multiprocess": multiprocess,
        "wsgi.run_once": False,
        # wsgi.input ends at the body's end even without Content-Length (chunked requests): the
        # convention (mod_wsgi, gunicorn) that tells werkzeug it may read such a body.
        "wsgi.input_terminated": True,
    }
    client = scope.get("client")
    if client:
        environ["REMOTE_ADDR"] = str(client[0])
        environ["REMOTE_PORT"] = str(client[1])
    host_header = None
    for name, value in scope.get("headers", ()):
        name = name.lower()
        text = value.decode("latin-1")
        if name in _SKIPPED_HEADERS:
            key = "CONTENT_TYPE" if name == b"content-type" else "CONTENT_LENGTH"
        elif b"_" in name:
            continue
        else:
            if name == b"host":
                host_header = text
            key = "HTTP_" + name.decode("latin-1").upper().replace("-", "_")
        if key in environ:
            joiner = "; " if key == "HTTP_COOKIE" else ","
            environ[key] = environ[key] + joiner + text
        else:
            environ[key] = text
    environ["SERVER_NAME"], environ["SERVER_PORT"] = _server_name_port(scope, host_header)
    return environ


class _Call:
    """One WSGI call on a pool thread: start_response, write(), the iteration, and the sends."""

    def __init__(self, app: Callable, environ: Dict[str, Any], loop: asyncio.AbstractEventLoop,
                 send: Callable) -> None:
        self.app = app
        self.environ = environ
        self.errors = environ["wsgi.errors"]
        self.loop = loop
        self.send = send
        self.status: Optional[int] = None
        self.headers: List[Tuple[bytes, bytes]] = []
        self.headers_sent = False
        self.content_length: Optional[int] = None
        self.body_sent = 0
        self.completed = False  # the body reached the app's Content-Length: sent with more_body False

    # -- PEP 3333 callables

    def start_response(self, status: str, response_headers: List[Tuple[str, str]], exc_info: Any = None):
        if exc_info is not None:
            try:
                if self.headers_sent:
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None  # no cycle through the traceback
        elif self.status is not None:
            raise AssertionError("start_response() called a second time without exc_info")
        if not isinstance(status, str):
            raise TypeError(f"WSGI status must be a str, got {type(status).__name__}")
        code = status.split(" ", 1)[0]
        if len(code) != 3 or not code.isdigit():
            raise ValueError(f"WSGI status {status!r} does not start with a three-digit code")
        headers = []
        for item in response_headers:
            if not isinstance(item, tuple) or len(item) != 2:
                raise TypeError(f"WSGI response headers must be (name, value) tuples, got {item!r}")
            name, value = item
            if not isinstance(name, str) or not isinstance(value, str):
                raise TypeError(f"WSGI header names and values must be str, got {item!r}")
            headers.append((name.lower().encode("latin-1"), value.encode("latin-1")))
            if headers[-1][0] == b"content-length" and value.strip().isdigit():
                self.content_length = int(value)
        self.status = int(code)
        self.headers = headers
        return self.write

    def write(self, data: bytes) -> None:
        if self.status is None:
            raise AssertionError("write() called before start_response()")
        if data:
            self._send_chunk(bytes(data))

    # -- sending (pool thread → loop)

    async def _send_messages(self, messages: List[dict]) -> None:
        for message in messages:
            await self.send(message)

    def _send_chunk(self, data: bytes) -> None:
        if self.completed:
            raise RuntimeError(f"the WSGI app sent more than its Content-Length ({self.content_length} bytes)")
        messages = []
        if not self.headers_sent:
            messages.append(self.start_message())
            self.headers_sent = True
        self.body_sent += len(data)
        # The chunk that reaches the declared Content-Length ends the response at once: the connection
        # can serve its next request without waiting for the iterable's end.
        self.completed = self.content_length is not None and self.body_sent >= self.content_length
        messages.append({"type": "http.response.body", "body": data, "more_body": not self.completed})
        asyncio.run_coroutine_threadsafe(self._send_messages(messages), self.loop).result()

    def start_message(self) -> dict:
        return {"type": "http.response.start", "status": self.status, "headers": self.headers}

    def run(self) -> Optional[List[bytes]]:
        """Calls the app and consumes its result. Returns the whole body when nothing was sent yet and the
        result was a list or tuple (the loop sends it in one message), else None (already streamed)."""
        result = self.app(self.environ, self.start_response)
        try:
            if isinstance(result, (list, tuple)) and not self.headers_sent:
                body = [bytes(chunk) for chunk in result]
                if self.status is None:
                    raise RuntimeError("the WSGI app returned without calling start_response()")
                return body
            for chunk in result:
                if chunk:
                    if self.status is None:
                        raise RuntimeError("the WSGI app produced a body without calling start_response()")
                    self._send_chunk(bytes(chunk))
            if self.status is None:
                raise RuntimeError("the WSGI app returned without calling start_response()")
            return None
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
            self.errors.flush()


class WSGIAdapter:
    """An ASGI 3 callable serving the WSGI `app` (PEP 3333) on `threads` pool threads.

    WSGI has no lifespan: a lifespan scope raises, which --lifespan auto reports as unsupported (as
    uvicorn does). A websocket scope is refused (close before accept: HTTP 403)."""

    def __init__(self, app: Callable, threads: int = DEFAULT_THREADS, multiprocess: bool = False) -> None:
        self.app = app
        self.multiprocess = multiprocess
        self.pool = _ThreadPool(threads)

    async def __call__(self, scope: Dict[str, Any], receive: Callable, send: Callable) -> None:
        kind = scope["type"]
        if kind == "websocket":
            await send({"type": "websocket.close", "code": 1000})
            return
        if kind != "http":
            raise RuntimeError(f"a WSGI application cannot serve '{kind}' scopes")
        loop = asyncio.get_running_loop()
        first = None
        if not any(name.lower() == b"expect" for name, _ in scope.get("headers", ())):
            # Usually already buffered: no thread hop for it. With Expect: 100-continue the app reads
            # first, so that it can still refuse the body.
            first = await receive()
        errors = _Errors()
        try:
            wsgi_input = _Input(loop, receive, first)
        except ClientDisconnected:
            return
        environ = build_environ(scope, wsgi_input, errors, self.multiprocess)
        call = _Call(self.app, environ, loop, send)
        body = await asyncio.wrap_future(self.pool.submit(call.run), loop=loop)
        if body is not None:
            await send(call.start_message())
            await send({"type": "http.response.body", "body": b"".join(body), "more_body": False})
        elif not call.headers_sent:
            await send(call.start_message())
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        elif not call.completed:
            await send({"type": "http.response.body", "body": b"", "more_body": False})


def make_adapter(app: Any, config: Dict[str, Any]) -> WSGIAdapter:
    """The adapter for --interface wsgi with the worker's config.

    Pool size: config["wsgi_threads"] (--wsgi-threads), else $ESG_WSGI_THREADS, else
    DEFAULT_THREADS. wsgi.multiprocess is true when more than one worker serves the app (as gunicorn)."""
    if not callable(app):
        raise TypeError("a WSGI application must be callable")
    threads = config.get("wsgi_threads")
    if threads is None:
        threads = os.environ.get("ESG_WSGI_THREADS") or DEFAULT_THREADS
    try:
        threads = int(threads)
        if threads < 1:
            raise ValueError
    except (TypeError, ValueError):
        raise AppLoadError(f"--wsgi-threads ($ESG_WSGI_THREADS) must be a positive integer, got {threads!r}.") from None
    workers = config.get("workers") or 1
    return WSGIAdapter(app, threads=threads, multiprocess=workers > 1)


__all__ = ["WSGIAdapter", "ClientDisconnected", "build_environ", "make_adapter", "DEFAULT_THREADS"]
