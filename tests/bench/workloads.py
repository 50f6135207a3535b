"""Workloads, selectable by name. Each one is a path of app.py, a wrk command (connections,
optional lua script) and the exact request bytes our own client sends (callgrind mode)."""
from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))

ECHO_BODY = b"e" * 10240


@dataclass
class Workload:
    name: str
    path: str
    connections: int
    description: str
    expect_body: bytes
    lua: str | None = None  # wrk script (file in tests/bench)
    method: str = "GET"
    body: bytes = b""
    # How the server is started for it (see servers.MODES): "tcp" (1 worker, TCP, pinned),
    # "ws" (WebSockets enabled), "nginx-uds" (server on a UNIX socket behind nginx),
    # "workers2" (--workers 2, both CPUs), "wsgi" (the WSGI app app_wsgi.py).
    # Workloads of one mode share one server start.
    mode: str = "tcp"
    kind: str = "wrk"  # "wrk" or "ws" (wsload.py)
    ws_size: int = 0   # WebSocket message size (bytes, binary)
    content_type: bytes = b"text/plain"  # the response's content-type the check wants
    expect_json: object = None  # when set, the body is compared as JSON (frameworks format it differently)
    # Long streamed answers: requests are counted as the bytes wrk read ÷ this (about one answer on the wire),
    # not as the answers wrk saw end (wrkrun.run).
    answer_bytes: int = 0

    @property
    def raw_request(self) -> bytes:
        head = f"{self.method} {self.path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        if self.body:
            head += f"Content-Type: application/octet-stream\r\nContent-Length: {len(self.body)}\r\n"
        return (head + "\r\n").encode() + self.body

    def body_matches(self, body: bytes) -> bool:
        """Whether a response body is this workload's answer (as parsed JSON when expect_json is set)."""
        if self.expect_json is None:
            return body == self.expect_body
        try:
            return json.loads(body) == self.expect_json
        except ValueError:
            return False

    def lua_path(self):
        return os.path.join(BENCH_DIR, self.lua) if self.lua else None


WORKLOADS = {w.name: w for w in [
    Workload("hello", "/", 64, "GET /, 13-byte body", b"Hello, world!"),
    Workload("get10k", "/10k", 64, "GET, 10 KiB body", b"x" * 10240),
    Workload("post-echo-10k", "/echo", 64, "POST 10 KiB, app reads it and echoes it", ECHO_BODY,
             lua="post_echo_10k.lua", method="POST", body=ECHO_BODY),
    Workload("stream-1mb", "/stream", 64, "GET, 1 MiB as 16 x 64 KiB more_body chunks", b"s" * (1 << 20)),
    Workload("sleep", "/sleep", 512, "GET, app awaits asyncio.sleep(0.01); 512 connections",
             b"Hello, world!"),
    Workload("ws-echo", "/ws", 64, "WebSocket echo, 64-byte binary messages, 1 in flight per connection",
             b"", mode="ws", kind="ws", ws_size=64),
    Workload("nginx-uds-hello", "/", 64, "GET / through nginx (proxy_pass to the server's UNIX socket, "
             "upstream keepalive)", b"Hello, world!", mode="nginx-uds"),
    Workload("hello-2w", "/", 64, "GET / with --workers 2 (server on both CPUs, wrk on CPU 1)",
             b"Hello, world!", mode="workers2"),
    Workload("wsgi-hello", "/", 64, "GET /, WSGI app (app_wsgi.py) returning a one-item list",
             b"Hello, world!", mode="wsgi"),
    Workload("wsgi-sleep", "/sleep", 64, "GET /sleep, WSGI app blocks in time.sleep(0.01); 64 connections",
             b"Hello, world!", mode="wsgi"),
    # Framework workloads (frameworks/*.py): the apps people deploy.
    Workload("fastapi", "/items/42?q=abc", 64, "FastAPI: path + query params, pydantic response model",
             b"", mode="fastapi", content_type=b"application/json",
             expect_json={"item_id": 42, "q": "abc", "name": "widget", "price": 9.5}),
    Workload("starlette-json", "/json", 64, "Starlette: a routed endpoint answering a JSONResponse",
             b"", mode="starlette", content_type=b"application/json", expect_json={"message": "Hello, world!"}),
    Workload("django-asgi", "/async/users/7", 64, "Django ASGI: async view, JsonResponse, CommonMiddleware",
             b"", mode="django-asgi", content_type=b"application/json",
             expect_json={"id": 7, "name": "user", "active": True}),
    Workload("django-wsgi", "/users/7", 64, "Django WSGI: view, JsonResponse, CommonMiddleware",
             b"", mode="django-wsgi", content_type=b"application/json",
             expect_json={"id": 7, "name": "user", "active": True}),
    Workload("flask", "/users/7", 64, "Flask WSGI: GET /users/<int:id>, jsonify",
             b"", mode="flask", content_type=b"application/json",
             expect_json={"id": 7, "name": "user", "active": True}),
    Workload("sse", "/sse", 256, "Server-Sent Events: 200 events of ~100 bytes, asyncio.sleep(0) between; "
             "256 streams", b"", mode="sse", content_type=b"text/event-stream"),
    Workload("sse-paced", "/sse-paced", 256, "Server-Sent Events as sse, asyncio.sleep(0.002) between; 256 streams",
             b"", mode="sse", content_type=b"text/event-stream"),
]}


def _sse_events() -> list:
    if BENCH_DIR not in sys.path:
        sys.path.insert(0, BENCH_DIR)
    from frameworks import bench_sse
    return bench_sse.EVENTS


def _chunked_size(chunks) -> int:
    """Bytes of `chunks` on the wire in HTTP/1.1 chunked framing, the last chunk included."""
    return sum(len(b"%x\r\n" % len(c)) + len(c) + 2 for c in chunks) + len(b"0\r\n\r\n")


SSE_HEAD_BYTES = 157  # an answer's status line and headers: 155 (ESG) to 159 (Granian, uvicorn) bytes
for _name in ("sse", "sse-paced"):
    WORKLOADS[_name].expect_body = b"".join(_sse_events())
    WORKLOADS[_name].answer_bytes = SSE_HEAD_BYTES + _chunked_size(_sse_events())
