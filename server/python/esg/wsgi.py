"""WSGI (PEP 3333) apps served by the ASGI engine: WSGIAdapter presents a WSGI callable as an ASGI 3 app.

Each request runs the WSGI call (and the iteration of its result) on a pool of daemon threads (which grows
while calls block: _ThreadPool), so one slow request does not block the worker's event loop. The thread reaches the loop only through
`asyncio.run_coroutine_threadsafe`: the engine's `receive`/`send` are called on the loop thread, never
on a pool thread, and a pool thread waits for each `send` to complete, which is the backpressure (the
engine's send completes late when the socket's write buffer is over its high-water mark).

Hops between the threads are kept few: the first request-body message is read on the loop before the
call (it is usually already buffered, so requests without a body never hop for it), and a response whose
iterable is a list or tuple (the common case: Flask's and Django's non-streaming responses wrap one)
is sent by the loop in one message after the call. Other iterables are streamed, one `more_body` chunk
per non-empty item.

--timeout-request: a thread cannot be cancelled. The engine answers 504 (or cuts the response short) on
its own; the call runs on in its pool thread, where every later send is discarded, a streamed body stops
at its next chunk (write() and the iteration raise RequestTimedOut, and the result's close() runs), and a
call still queued when its request timed out is skipped. The pool's size bounds the threads such calls hold.

Thread/GIL contract: build_environ and WSGIAdapter.__call__ run on the loop thread; _Call.run, the
input stream, start_response and write() run on a pool thread.
"""

import asyncio
import collections
import functools
import os
import queue
import threading
import time
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

from esg import _esg, _log
from esg.errors import AppLoadError
from esg.wsgi_environ import _environ, build_environ, fast_environ as _fast_environ

_get_running_loop = asyncio.get_running_loop

DEFAULT_THREADS = 128  # the most; 10 start on demand, more only while calls block (see _ThreadPool)

_SKIPPED_HEADERS = (b"content-type", b"content-length")


class ClientDisconnected(OSError):
    """Raised by wsgi.input when the client went away before sending the whole body."""


class RequestTimedOut(ClientDisconnected):
    """Raised in a WSGI call (by write() and the streaming of its result) whose request was ended by
    --timeout-request: its client already got 504 or a cut-short response."""


class _ThreadPool:
    """A pool of daemon threads, started on demand, that runs WSGI calls for one event loop.

    Daemon threads (unlike concurrent.futures.ThreadPoolExecutor's) let a worker exit after
    --timeout-graceful-shutdown even when a WSGI call never returns.

    Size: up to `core` threads (10, or `size` if smaller) start as calls arrive, as many as the calls in
    flight. Past that the pool grows only when calls wait while the worker has CPU to spare: every
    `stall` seconds (10 ms) while calls are queued, if the process used less than half a CPU in that time,
    its threads are held by blocking calls (sleep, a database, an upstream), and a thread starts for each
    waiting call, up to `size` (--wsgi-threads). When the calls compute instead, the process is busy (the
    GIL runs one thread at a time: more threads would only contend for it), and the pool keeps its core.
    A thread beyond the core that finds no call for `idle_exit` seconds (30) ends: the pool shrinks back
    after a burst of slow requests.

    The hand-off is built for many short calls: a submitted call's run() goes to a pool thread, and its
    outcome comes back in batches: a finished call appends to `_done`, and only a thread that finds no
    delivery pending schedules `_deliver` on the loop (one call_soon_threadsafe, one wake-up of the loop,
    per batch rather than per request), which calls each call's complete(body, error) on the loop thread.
    No future, no Task, no coroutine waits in between (see WSGIAdapter.__call__).

    No lock on the common path (each acquire/release pair is two calls that parse their arguments):
    deque.append/popleft and list.append/pop are atomic under the GIL, submit() and _deliver() run on
    the loop thread only (the only consumers of `_idle` and `_done`), and a finished call is appended
    before `_scheduled` is read, which _deliver clears before it drains `_done`: a call is never left
    behind, at worst a batch is scheduled twice (the second finds nothing). A thread that ends takes its
    own idle token first (list.pop, atomic): if the loop took the last one for a call, the thread stays
    for that call."""

    CORE = 10
    STALL = 0.01
    IDLE_EXIT = 30.0
    BUSY = 0.5  # CPU seconds per second at or above which waiting calls are waiting for the GIL, not threads
    _now = staticmethod(time.monotonic)
    _cpu = staticmethod(time.process_time)  # all threads of the process

    def __init__(self, size: int, core: Optional[int] = None, stall: Optional[float] = None,
                 idle_exit: Optional[float] = None) -> None:
        self._size = max(1, int(size))
        self._core = min(self._size, self.CORE if core is None else max(1, int(core)))
        self._stall = self.STALL if stall is None else stall
        self._idle_exit = self.IDLE_EXIT if idle_exit is None else idle_exit
        self._queue: "queue.SimpleQueue[Optional[_Call]]" = queue.SimpleQueue()
        self._lock = threading.Lock()  # thread start and end only
        self._threads = 0
        self._started = 0  # threads ever started (their names' numbers)
        self._idle: List[None] = []  # one token per thread waiting (or about to wait) for a call
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._done: "collections.deque[Tuple[_Call, Any, Optional[BaseException]]]" = collections.deque()
        self._scheduled = False  # a _deliver is scheduled and has not started draining yet
        self._watch: Optional[asyncio.TimerHandle] = None  # the armed stall check
        self._watch_since = (0.0, 0.0)  # (monotonic, process CPU) when it was armed

    @property
    def threads(self) -> int:
        """Threads alive (running a call or waiting for one)."""
        return self._threads

    def submit(self, loop: asyncio.AbstractEventLoop, call: "_Call") -> None:
        """Runs call.run() on a pool thread, then call.complete(result, error) on `loop` (the running loop).
        Called on the loop thread."""
        self._loop = loop
        idle = self._idle
        if idle:
            idle.pop()
        elif self._threads < self._core:
            self._start()
        elif self._watch is None and self._threads < self._size:
            self._arm(loop)
        self._queue.put(call)

    def _start(self) -> None:
        with self._lock:
            self._threads += 1
            self._started += 1
            number = self._started
        threading.Thread(target=self._run, name=f"esg-wsgi-{number}", daemon=True).start()

    def _arm(self, loop: asyncio.AbstractEventLoop) -> None:
        self._watch_since = (self._now(), self._cpu())
        self._watch = loop.call_later(self._stall, self._check_stall)

    def _check_stall(self) -> None:
        """On the loop, `stall` seconds after a call found every thread busy: when calls still wait and the
        process used less than BUSY of a CPU since, start a thread for each waiting call (up to the size)."""
        self._watch = None
        waiting = self._queue.qsize()
        if not waiting:
            return
        wall, cpu = self._watch_since
        elapsed = self._now() - wall
        if elapsed > 0 and self._cpu() - cpu < self.BUSY * elapsed:
            for _ in range(min(waiting, self._size - self._threads)):
                self._start()
        if self._threads < self._size:
            self._arm(self._loop)

    def _run(self) -> None:
        get, done, idle = self._queue.get, self._done, self._idle
        timeout = self._idle_exit
        while True:
            try:
                call = get(True, timeout)
            except queue.Empty:
                if self._threads <= self._core:
                    continue
                try:
                    idle.pop()  # our token; none left: the loop took it and a call is on its way
                except IndexError:
                    continue
                with self._lock:
                    self._threads -= 1
                return
            if call is None:
                return
            error = None
            try:
                if getattr(call.send, "timed_out", False):  # timed out while queued: the app is not called
                    raise RequestTimedOut("the request timed out before a WSGI thread was free")
                result = call.run()
            except BaseException as exc:  # noqa: B902 - handed to the loop, which logs it and fails the request
                result, error = None, exc
            done.append((call, result, error))
            if not self._scheduled:
                self._scheduled = True
                try:
                    self._loop.call_soon_threadsafe(self._deliver)
                except RuntimeError:  # the loop is closed: the worker is exiting
                    pass
            del call, result, error
            idle.append(None)

    def _deliver(self) -> None:
        self._scheduled = False
        done = self._done
        if self._watch is None and self._threads < self._size and self._queue.qsize():
            # Calls wait although threads just finished some: a thread that finished took a waiting call
            # after leaving its idle token, which a submit then used — watch the queue from here too.
            self._arm(self._loop)
        while done:
            call, result, error = done.popleft()
            if result is None or call.waiter is not None:
                call.complete(result, error)
                continue
            # The common case, _Call.complete's first branch inlined (one frame less per request): the
            # whole body came back (error is None then), head and body go out, the exchange ends.
            send = call.send
            try:
                send({"type": "http.response.start", "status": call.status, "headers": call.headers})
                send({"type": "http.response.body", "body": result, "more_body": False})
            except BaseException as exc:  # noqa: B902 - complete() logs it and fails the exchange
                call.complete(None, exc)
                continue
            try:
                send.finish()
            except Exception as exc:  # noqa: BLE001
                _log.exception("Cannot finish the ASGI exchange", exc)


class _Errors:
    """wsgi.errors: text written here goes to the esg.error log, one message per completed write."""

    _pending = ""  # on the class, no __init__: one is made per request and most are never written to

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
        if not self._pending:
            return
        text, self._pending = self._pending.rstrip("\n"), ""
        if text:
            _log.error(text)


class _Input:
    """wsgi.input: the request body, read from the ASGI `receive` as the app asks for it.

    `first` is the message the loop already read (or None). Reads after the body's end return b"";
    a client that disconnects mid-body raises ClientDisconnected."""

    __slots__ = ("_loop", "_receive", "_buffer", "_more")

    def __init__(self, loop: asyncio.AbstractEventLoop, receive: Callable, first: Optional[dict]) -> None:
        self._loop = loop
        self._receive = receive
        self._buffer = bytearray()
        self._more = True
        if first is not None:
            self._take(first)

    def _take(self, message: dict) -> None:
        if message.get("type") == "http.disconnect":
            self._more = False
            raise ClientDisconnected("the client disconnected before sending the whole request body")
        body = message.get("body")
        if body:
            self._buffer += body
        self._more = True if message.get("more_body") else False

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


# wsgi.input of every request whose body is empty and complete (most GETs): reads return b"" at once.
# Shared, since such an _Input never changes: its buffer stays empty and it never reads from a loop.
_NO_BODY = _Input(None, None, None)
_NO_BODY._more = False


# Status line -> code, for the status lines seen (bounded: an app could make up new ones).
_STATUS_CODES: Dict[str, int] = {}
_STATUS_CODES_MAX = 256


def _status_code(status: Any) -> int:
    """The code of a WSGI status line ("200 OK"); raises on a malformed one."""
    if not isinstance(status, str):
        raise TypeError(f"WSGI status must be a str, got {type(status).__name__}")
    code = status.split(" ", 1)[0]
    if len(code) != 3 or not code.isdigit():
        raise ValueError(f"WSGI status {status!r} does not start with a three-digit code")
    if type(status) is str and len(_STATUS_CODES) < _STATUS_CODES_MAX:
        _STATUS_CODES[status] = int(code)
    return int(code)


# (name, value) tuple of str as the app gives it -> ((lowercase name bytes, value bytes), Content-Length int
# or None). Bounded like _STATUS_CODES: values such as a Content-Length or a cookie vary per response.
_RESPONSE_HEADERS: Dict[Tuple[str, str], Tuple[Tuple[bytes, bytes], Optional[int]]] = {}
_RESPONSE_HEADERS_MAX = 512


def _response_header(item: Any) -> Tuple[Tuple[bytes, bytes], Optional[int]]:
    """One WSGI response header as ((name, value), content_length): the name lowercased, both as latin-1
    bytes, content_length the value of a Content-Length of digits (else None). Raises on a bad header."""
    if (type(item) is not tuple and not isinstance(item, tuple)) or len(item) != 2:
        raise TypeError(f"WSGI response headers must be (name, value) tuples, got {item!r}")
    name, value = item
    exact = type(name) is str and type(value) is str
    if not exact and (not isinstance(name, str) or not isinstance(value, str)):
        raise TypeError(f"WSGI header names and values must be str, got {item!r}")
    name = name.lower()
    length = int(value) if name == "content-length" and value.strip().isdigit() else None
    entry = ((name.encode("latin-1"), value.encode("latin-1")), length)
    if exact and type(item) is tuple and len(_RESPONSE_HEADERS) < _RESPONSE_HEADERS_MAX:
        _RESPONSE_HEADERS[item] = entry
    return entry


# _convert_headers(response_headers) -> ([(name, value), ...], Content-Length or None): start_response's
# loop in C (binding/wsgi_headers.cc), _RESPONSE_HEADERS[item] or _response_header(item) for each item.
_convert_headers = functools.partial(_esg.wsgi_response_headers, _RESPONSE_HEADERS, _response_header)


class _Call:
    """One WSGI call on a pool thread: start_response, write(), the iteration, and the sends."""

    # Per-call state that starts the same for every call lives on the class (no __slots__): __init__
    # sets only what differs, which saves seven attribute stores per request.
    status: Optional[int] = None
    headers: "List[Tuple[bytes, bytes]] | Tuple[()]" = ()
    headers_sent = False
    content_length: Optional[int] = None
    body_sent = 0
    completed = False  # the body reached the app's Content-Length: sent with more_body False
    waiter: Optional[asyncio.Future] = None  # set when the exchange cannot be detached

    def __init__(self, app: Callable, environ: Dict[str, Any], loop: asyncio.AbstractEventLoop,
                 send: Callable) -> None:
        self.app = app
        self.environ = environ
        self.errors = environ["wsgi.errors"]
        self.loop = loop
        self.send = send

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
        code = _STATUS_CODES.get(status) if type(status) is str else None
        if code is None:
            code = _status_code(status)
        # A (str, str) tuple seen before comes from the cache (one dict lookup instead of the checks,
        # lower() and two encodes); anything else (new, unhashable, not a tuple) from _response_header.
        headers, length = _convert_headers(response_headers)
        if length is not None:
            self.content_length = length
        self.status = code
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

    def timed_out(self) -> bool:
        """The request was ended by --timeout-request (its exchange says so; a wrapped send never does)."""
        return getattr(self.send, "timed_out", False)

    def _send_chunk(self, data: bytes) -> None:
        if self.timed_out():
            raise RequestTimedOut("the request was ended by --timeout-request; its response is discarded")
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

    def run(self) -> Optional[bytes]:
        """Calls the app and consumes its result. Returns the whole body when nothing was sent yet and either
        the result was a list or tuple, or its first non-empty chunk was the whole declared Content-Length
        (Flask's and Django's responses are such iterables): the loop sends it with the head in one message.
        Else None (already streamed, chunk by chunk)."""
        result = self.app(self.environ, self.start_response)
        try:
            if isinstance(result, (list, tuple)) and not self.headers_sent:
                body = b"".join(result)  # here on the pool thread, not on the loop
                if self.status is None:
                    raise RuntimeError("the WSGI app returned without calling start_response()")
                return body
            held = None  # a first chunk that is the whole body, held back for complete()
            for chunk in result:
                if chunk:
                    if self.status is None:
                        raise RuntimeError("the WSGI app produced a body without calling start_response()")
                    chunk = bytes(chunk)
                    if (held is None and not self.headers_sent and self.content_length is not None
                            and len(chunk) == self.content_length):
                        held = chunk
                        continue
                    if held is not None:  # more than the declared length: sent as before, and refused
                        self._send_chunk(held)
                        held = None
                    self._send_chunk(chunk)
            if self.status is None:
                raise RuntimeError("the WSGI app returned without calling start_response()")
            return held
        finally:
            if type(result) is not list:  # a plain list has no close()
                close = getattr(result, "close", None)
                if close is not None:
                    close()
            errors = self.errors
            if type(errors) is not _Errors or errors._pending:
                errors.flush()


    def complete(self, body: Optional[bytes], error: Optional[BaseException]) -> None:
        """On the loop thread, after run(): sends what is left of the response and ends the exchange
        (finish(), or fail() and the traceback logged when the app raised), or hands the outcome to
        `waiter`. Never raises."""
        send = self.send
        try:
            if error is not None:
                raise error
            if body is not None:
                send({"type": "http.response.start", "status": self.status, "headers": self.headers})
                send({"type": "http.response.body", "body": body, "more_body": False})
            elif not self.headers_sent:
                send(self.start_message())
                send({"type": "http.response.body", "body": b"", "more_body": False})
            elif not self.completed:
                send({"type": "http.response.body", "body": b"", "more_body": False})
        except BaseException as exc:  # noqa: B902 - the request fails, the worker goes on
            if self.waiter is not None:
                if not self.waiter.done():
                    self.waiter.set_exception(exc)
                return
            if not (isinstance(exc, ClientDisconnected) and self.timed_out()):  # the engine logged the timeout
                _log.exception("Exception in ASGI application", exc)
            try:
                send.fail()
            except Exception as fail_exc:  # noqa: BLE001
                _log.exception("Cannot fail the ASGI exchange", fail_exc)
            return
        finally:
            error = None  # no cycle through the traceback
        if self.waiter is not None:
            if not self.waiter.done():
                self.waiter.set_result(None)
            return
        try:
            send.finish()
        except Exception as exc:  # noqa: BLE001
            _log.exception("Cannot finish the ASGI exchange", exc)


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
        loop = _get_running_loop()
        errors = _Errors()
        # wsgi.input is set below, once the first body message says whether there is a body.
        environ, expect = (_fast_environ(scope, None, errors, self.multiprocess)
                           or _environ(scope, None, errors, self.multiprocess))
        if expect:
            # With Expect: 100-continue the app reads first, so that it can still refuse the body.
            environ["wsgi.input"] = _Input(loop, receive, None)
        else:
            # Usually already buffered: no thread hop for it.
            message = await receive()
            if message.get("type") == "http.disconnect":
                return
            if message.get("body") or message.get("more_body"):
                environ["wsgi.input"] = _Input(loop, receive, message)
            else:
                environ["wsgi.input"] = _NO_BODY  # a GET: no _Input per request
        call = _Call(self.app, environ, loop, send)
        detach = getattr(send, "detach", None)
        if detach is not None:
            # The engine's exchange: this coroutine returns now, without suspending (no Task); the pool
            # thread runs the app, and the loop sends the response and finishes the exchange
            # (_Call.complete). Streamed chunks and wsgi.input reads still hop to the loop one by one.
            detach()
            pool = self.pool
            idle = pool._idle
            if idle and pool._loop is loop:  # _ThreadPool.submit, inlined: a thread is waiting
                idle.pop()
                pool._queue.put(call)
            else:
                pool.submit(loop, call)
            return
        call.waiter = loop.create_future()
        self.pool.submit(loop, call)
        await call.waiter


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


__all__ = ["WSGIAdapter", "ClientDisconnected", "RequestTimedOut", "build_environ", "make_adapter", "DEFAULT_THREADS"]
