"""A plain WSGI app for --timeout-request (test_timeout_request.py): a call that sleeps past the deadline,
a streamed body that stalls and then would go on for long, and a counter endpoint. A thread cannot be
cancelled: what these record shows how far a timed-out call ran."""

import json
import os
import pathlib
import threading
import time

MARKERS = pathlib.Path(os.environ.get("ESG_TEST_MARKERS", "/tmp"))
lock = threading.Lock()
stats = {"sleeps_done": 0, "chunks": 0, "stream_closed": 0}


def _count(key: str) -> None:
    with lock:
        stats[key] += 1


def _stream(stall: float):
    try:
        _count("chunks")
        yield b"first half;"
        time.sleep(stall)
        for _ in range(2000):  # would stream for 20 s more if nothing stopped it
            _count("chunks")
            yield b"more;"
            time.sleep(0.01)
    finally:
        _count("stream_closed")
        (MARKERS / "wsgi-stream-closed").write_text(str(stats["chunks"]))


def app(environ, start_response):
    path = environ["PATH_INFO"]
    query = dict(p.split("=", 1) for p in environ.get("QUERY_STRING", "").split("&") if "=" in p)
    if path == "/sleep":
        time.sleep(float(query.get("s", "3")))
        _count("sleeps_done")
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"slept"]
    if path == "/stream":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return _stream(float(query.get("s", "2")))
    if path == "/stats":
        with lock:
            body = json.dumps(stats).encode()
        start_response("200 OK", [("Content-Type", "application/json")])
        return [body]
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"fast"]
