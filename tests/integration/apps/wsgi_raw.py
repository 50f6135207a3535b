"""A plain PEP 3333 app (no framework) for the WSGI adapter's edge cases; one behaviour per path.

/environ        JSON of the environ (objects replaced by their type names)
/read /readn /readline /readlines /iter
                the request body read with read(), read(3) in a loop, readline(), readlines(), iteration;
                answered as JSON {"body": latin-1 text, "parts": n}
/stream?n=N&size=S
                a generator of N chunks of S bytes; its close() writes marker "stream-closed"
/write          the body sent through the write() callable, then one item from the iterable
/handled        catches an error and calls start_response again with exc_info before sending: 500 "handled"
/late-error     yields a chunk, then calls start_response with exc_info (must re-raise: connection aborted);
                close() writes marker "late-error-closed"
/raise          raises before start_response (the server answers 500)
/twice          calls start_response twice without exc_info (an error: 500)
/block?timeout=T
                waits (in its thread) until /release is requested (at most T seconds, default 20);
                /release sets the event
/barrier?n=N&timeout=T
                waits until N requests are in the app at once (a threading.Barrier, at most T seconds, default
                20): {"passed": true, "threads": distinct pool threads seen} or {"passed": false} when it broke
/errors         writes two lines to wsgi.errors
/empty          start_response and an empty list
/nolen          a two-item list without Content-Length
/gen-whole      a generator whose one chunk is the whole declared Content-Length (as Flask's responses)
/gen-extra      a generator: the declared 3 bytes, then more (an app error after a complete response)
"""

import json
import os
import sys
import threading
import urllib.parse


def _chunks(items):
    yield from items

MARKERS = os.environ.get("ESG_TEST_MARKERS", "")
_release = threading.Event()
_barriers = {}
_barriers_lock = threading.Lock()


def mark(name, text="1"):
    if MARKERS:
        with open(os.path.join(MARKERS, name), "w") as f:
            f.write(text)


def as_json(start_response, obj, status="200 OK"):
    body = json.dumps(obj).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


class Stream:
    def __init__(self, n, size):
        self.n, self.size = n, size

    def __iter__(self):
        for i in range(self.n):
            yield bytes([65 + i % 26]) * self.size

    def close(self):
        mark("stream-closed")


class LateError:
    def __init__(self, start_response):
        self.start_response = start_response

    def __iter__(self):
        yield b"first part"
        try:
            raise ValueError("failed after the headers were sent")
        except ValueError:
            self.start_response("500 Internal Server Error", [], sys.exc_info())
        yield b"never"

    def close(self):
        mark("late-error-closed")


def app(environ, start_response):
    path = environ["PATH_INFO"]
    query = urllib.parse.parse_qs(environ["QUERY_STRING"])
    stream = environ["wsgi.input"]
    if path.endswith("/environ"):
        shown = {k: (v if isinstance(v, (str, bool, int, list)) or v is None else
                     list(v) if isinstance(v, tuple) else type(v).__name__)
                 for k, v in environ.items()}
        return as_json(start_response, shown)
    if path == "/read":
        return as_json(start_response, {"body": stream.read().decode("latin-1"), "parts": 1})
    if path == "/readn":
        parts = []
        while True:
            part = stream.read(3)
            if not part:
                break
            parts.append(part)
        return as_json(start_response, {"body": b"".join(parts).decode("latin-1"), "parts": len(parts)})
    if path == "/readline":
        lines = []
        while True:
            line = stream.readline()
            if not line:
                break
            lines.append(line)
        return as_json(start_response, {"body": b"".join(lines).decode("latin-1"), "parts": len(lines)})
    if path == "/readlines":
        lines = stream.readlines()
        return as_json(start_response, {"body": b"".join(lines).decode("latin-1"), "parts": len(lines)})
    if path == "/iter":
        lines = list(stream)
        return as_json(start_response, {"body": b"".join(lines).decode("latin-1"), "parts": len(lines)})
    if path == "/stream":
        n = int(query.get("n", ["5"])[0])
        size = int(query.get("size", ["10"])[0])
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return Stream(n, size)
    if path == "/write":
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"written ")
        write(b"twice ")
        return [b"then returned"]
    if path == "/handled":
        start_response("200 OK", [("Content-Type", "text/plain")])
        try:
            raise KeyError("oops")
        except KeyError:
            start_response("500 Internal Server Error", [("Content-Type", "text/plain")], sys.exc_info())
        return [b"handled"]
    if path == "/late-error":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return LateError(start_response)
    if path in ("/gen-whole", "/gen-extra"):
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "3")])
        return _chunks([b"abc", b"extra"] if path == "/gen-extra" else [b"abc"])
    if path == "/raise":
        raise RuntimeError("the WSGI app failed")
    if path == "/twice":
        start_response("200 OK", [])
        start_response("201 Created", [])
        return [b"unreachable"]
    if path == "/block":
        mark("blocked")
        released = _release.wait(float(query.get("timeout", ["20"])[0]))
        _release.clear()
        return as_json(start_response, {"released": released, "thread": threading.current_thread().name})
    if path == "/barrier":
        n = int(query.get("n", ["2"])[0])
        with _barriers_lock:
            barrier = _barriers.setdefault(n, threading.Barrier(n))
        try:
            barrier.wait(float(query.get("timeout", ["20"])[0]))
        except threading.BrokenBarrierError:
            return as_json(start_response, {"passed": False})
        return as_json(start_response, {"passed": True, "thread": threading.current_thread().name})
    if path == "/release":
        _release.set()
        return as_json(start_response, {"thread": threading.current_thread().name})
    if path == "/errors":
        environ["wsgi.errors"].write("first line from wsgi.errors\n")
        environ["wsgi.errors"].writelines(["second ", "line\n"])
        environ["wsgi.errors"].flush()
        return as_json(start_response, {"ok": True})
    if path == "/empty":
        start_response("204 No Content", [])
        return []
    if path == "/nolen":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"two ", b"parts"]
    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"no such path"]
