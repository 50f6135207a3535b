"""uvicorn 0.55's options (issue 14 §6): `esg --help` against the installed uvicorn's, option by option (every
uvicorn option is in ESG's help with the same default, and every value of its choices is accepted), and the
new options at work: --http (every value selects ESG's engine), --ws websockets-sansio, --ws-per-message-deflate
BOOLEAN, --ws-max-queue (reading stops while the app's queue is full), --h11-max-incomplete-event-size (the
head-size limit) and --reset-contextvars (which contextvars a request sees, as in uvicorn 0.55, measured:
without it a copy of the worker's main context — a value set at import time is seen; with it an empty
Context; a value set during lifespan startup is seen by neither, nor is one a previous request set).
"""

from __future__ import annotations

import base64
import os
import re
import socket
import struct
import subprocess

import pytest

from esgtest import IO_TIMEOUT, esg_bin, exchange, server_env
from test_cli import parse_click_help

UVICORN_VERSION = "0.55.0"  # requirements.txt pins the same

# Where ESG differs from uvicorn 0.55 on purpose, with the reason; everything else must match.
DEFAULT_EXCEPTIONS = {
    "--ssl-ciphers": "the seed's help pins [default: TLSv1] (test_cli.py); uvicorn 0.55 shows none",
    "--app-dir": "the seed's help shows [default: .]; uvicorn 0.55 shows \"\" — both mean the working directory",
    "--factory": "the seed's help shows [default: False]; uvicorn 0.55 shows none — both default to off",
    "--http": "not an esg.run setting (every value selects the same engine), so --help says \"(default auto)\" "
              "in its text rather than [default: auto] (test_run_config: every shown default is a setting)",
    "--timeout-worker-healthcheck": "ESG's heartbeat timeout (30 s: a worker busy in one long request must "
                                    "not be replaced); uvicorn 0.55's is 5",
}
CHOICE_EXCEPTIONS = {
    ("--loop", "zuvloop"): "zuvloop is a separate event-loop package ESG does not load (exit 2 names the choices)",
}


def python() -> str:
    return server_env()["ESG_PYTHON"]


@pytest.fixture(scope="module")
def uvicorn_help():
    version = subprocess.run([python(), "-c", "import uvicorn; print(uvicorn.__version__)"], capture_output=True,
                             text=True, timeout=60)
    assert version.stdout.strip() == UVICORN_VERSION, (
        f"the test venv has uvicorn {version.stdout.strip() or version.stderr}, requirements.txt pins "
        f"{UVICORN_VERSION}: pip install -r requirements.txt")
    result = subprocess.run([python(), "-m", "uvicorn", "--help"], capture_output=True, text=True, timeout=60,
                            env={**os.environ, "COLUMNS": "80"})
    assert result.returncode == 0, result
    return parse_click_help(result.stdout)


@pytest.fixture(scope="module")
def esg_help():
    result = subprocess.run([esg_bin(), "--help"], capture_output=True, text=True, timeout=30, env=server_env())
    assert result.returncode == 0, result
    return parse_click_help(result.stdout)


def _default(opt: dict) -> str | None:
    d = opt["default"]
    return d.split(";")[0].strip() if d is not None else None  # click's "0; x>=0" (an IntRange) is 0


def _choices(opt: dict) -> list[str]:
    m = re.fullmatch(r"\[(.*)\]", opt["metavar"] or "")
    return m.group(1).split("|") if m else []


def test_every_uvicorn_option_is_in_esg_help_with_the_same_default(uvicorn_help, esg_help):
    wrong = []
    for name, uv in uvicorn_help.items():
        if name == "--help":
            continue
        got = esg_help.get(name)
        if got is None:
            wrong.append(f"{name}: missing from esg --help")
            continue
        if got["decl"] != uv["decl"]:
            wrong.append(f"{name}: declared {got['decl']!r}, uvicorn {uv['decl']!r}")
        if name not in DEFAULT_EXCEPTIONS and _default(got) != _default(uv):
            wrong.append(f"{name}: default {_default(got)!r}, uvicorn {_default(uv)!r}")
        if not _choices(uv) and (uv["metavar"] or "").split(" ")[0] != (got["metavar"] or "").split(" ")[0]:
            wrong.append(f"{name}: metavar {got['metavar']!r}, uvicorn {uv['metavar']!r}")
    assert not wrong, "\n".join(wrong)


def test_the_exceptions_are_still_differences(uvicorn_help, esg_help):
    # An exception that no longer differs must leave the list (so the list stays the truth).
    for name in DEFAULT_EXCEPTIONS:
        assert _default(esg_help[name]) != _default(uvicorn_help[name]), name
    assert "(default auto)" in esg_help["--http"]["help"]


def test_every_uvicorn_choice_is_accepted(uvicorn_help, run_esg):
    # Exit 3 (the app's module is missing) shows the options were accepted; a refused value exits 2.
    cases = [(name, value) for name, opt in uvicorn_help.items() for value in _choices(opt)]
    assert ("--ws", "websockets-sansio") in cases and ("--http", "h11") in cases
    for name, value in cases:
        result = run_esg(["--port", "0", name, value, "no_such_module_zz9:app"])
        if (name, value) in CHOICE_EXCEPTIONS:
            assert result.returncode == 2, result
            assert name in result.stderr
        else:
            assert result.returncode == 3, (name, value, result.stderr[-500:])


def test_http2_is_accepted(run_esg, esg_help):
    # Exit 3 (the app's module is missing): the option was accepted (a refused one exits 2).
    result = run_esg(["--port", "0", "--http2", "--http2-max-concurrent-streams", "7", "no_such_module_zz9:app"])
    assert result.returncode == 3, result.stderr[-500:]
    assert "not supported" not in result.stderr
    assert "ALPN h2" in esg_help["--http2"]["help"]
    assert _default(esg_help["--http2-max-concurrent-streams"]) == "100"


@pytest.mark.parametrize("value", ["0", "-1", "2147483648"])
def test_http2_max_concurrent_streams_out_of_range(run_esg, value):
    result = run_esg(["--port", "0", "--http2", "--http2-max-concurrent-streams", value, "hello:app"])
    assert result.returncode == 2, result
    assert (f"Invalid value for '--http2-max-concurrent-streams': {value} is not in the range 1<=x<=2147483647."
            in result.stderr), result.stderr


def test_http2_still_serves_http_1_1_clients(esg_server):
    # A cleartext listener with --http2 takes h2c by its preface only: an HTTP/1.1 request is served as before.
    server = esg_server(["--http2", "--http2-max-concurrent-streams", "8"], app="hello:app")
    resp = server.get("/")
    assert resp.status_code == 200
    assert resp.headers["server"] == "esg"


@pytest.mark.parametrize("args", [["--http", "httptools"], ["--http", "zttp"], ["--ws", "websockets-sansio"]])
def test_implementation_choices_serve_with_esgs_engine(esg_server, args):
    server = esg_server(args, app="hello:app")
    resp = server.get("/")
    assert resp.status_code == 200
    assert resp.headers["server"] == "esg"


# ------------------------------------------------------------------------------ --ws-per-message-deflate


KEY = base64.b64encode(b"0123456789abcdef").decode()


def _extensions(server) -> str | None:
    with socket.create_connection((server.host, server.port), timeout=IO_TIMEOUT) as sock:
        sock.sendall(f"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     f"Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n"
                     f"Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n".encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(4096)
            assert chunk, head
            head += chunk
    assert head.startswith(b"HTTP/1.1 101"), head
    for line in head.decode("latin-1").split("\r\n"):
        if line.lower().startswith("sec-websocket-extensions:"):
            return line.split(":", 1)[1].strip()
    return None


@pytest.mark.parametrize("args, negotiated", [
    ([], True),
    (["--ws-per-message-deflate", "true"], True),
    (["--ws-per-message-deflate", "False"], False),
    (["--ws-per-message-deflate=0"], False),
    (["--ws-per-message-deflate", "off"], False),
    (["--no-ws-per-message-deflate"], False),
    (["--ws-per-message-deflate"], True),
])
def test_ws_per_message_deflate_boolean(esg_server, args, negotiated):
    server = esg_server(args, app="ws_app:app")
    ext = _extensions(server)
    assert (ext is not None and ext.startswith("permessage-deflate")) == negotiated, ext


def test_ws_per_message_deflate_refuses_a_non_boolean(run_esg):
    result = run_esg(["--ws-per-message-deflate=maybe", "hello:app"])
    assert result.returncode == 2
    assert "'maybe' is not a valid boolean" in result.stderr


# ----------------------------------------------------------------------------------------- --ws-max-queue


def _frame(payload: bytes, opcode: int = 0x2) -> bytes:
    mask = b"\x01\x02\x03\x04"
    assert len(payload) < 126
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + bytes(c ^ mask[i % 4] for i, c in enumerate(payload))


@pytest.mark.parametrize("max_queue", [4, 32])
def test_ws_max_queue_stops_reading_while_the_queue_is_full(esg_server, max_queue):
    # Empty messages cost the byte bound (64 KiB) nothing: without the message bound a client could queue
    # millions. With it, the server stops reading, the kernel buffers fill and the client's send() blocks
    # long before the cap (32 MiB of frames); nothing is lost once the app drains the queue.
    server = esg_server(["--ws-max-queue", str(max_queue)], app="uv_options_app:queue_app")
    sock = socket.create_connection((server.host, server.port), timeout=IO_TIMEOUT)
    with sock:
        sock.sendall(f"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     f"Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += sock.recv(4096)
        assert head.startswith(b"HTTP/1.1 101"), head
        chunk = _frame(b"") * 10000  # 60 kB of empty binary messages
        sock.setblocking(False)
        sent = 0
        rest = b""  # the tail of a chunk the kernel did not take: sent after the drain (whole frames)
        for _ in range(32 * 1024 * 1024 // len(chunk)):
            try:
                n = sock.send(chunk)
            except BlockingIOError:
                break
            sent += n
            if n < len(chunk):
                rest = chunk[n:]
                break
        else:
            pytest.fail(f"the server read {sent} bytes of empty messages without stopping")
        sock.setblocking(True)
        sock.settimeout(IO_TIMEOUT)
        assert server.get("/drain").status_code == 200
        sock.sendall(rest + _frame(b"end", 0x1))
        sent += len(rest)
        reply = b""
        while len(reply) < 2 or len(reply) < 2 + (reply[1] & 0x7f):
            data = sock.recv(65536)
            assert data, reply
            reply += data
    assert reply[0] & 0x0f == 0x1
    assert int(reply[2:2 + (reply[1] & 0x7f)]) == sent // 6


# --------------------------------------------------------------------------- --h11-max-incomplete-event-size


@pytest.mark.parametrize("args, status", [
    (["--h11-max-incomplete-event-size", "2000"], 431),
    (["--h11-max-incomplete-event-size", "20000"], 200),
    (["--h11-max-incomplete-event-size", "20000", "--limit-request-head-size", "2000"], 431),  # both hold
])
def test_h11_max_incomplete_event_size_is_the_head_size_limit(esg_server, args, status):
    server = esg_server(args, app="hello:app")
    pad = b"".join(b"X-Pad-%d: %s\r\n" % (i, b"a" * 100) for i in range(30))  # a 3.3 kB head
    resp = exchange(server, b"GET / HTTP/1.1\r\nHost: x\r\n" + pad + b"Connection: close\r\n\r\n")
    assert resp.status == status, resp.raw[:100]


# ------------------------------------------------------------------------------------- --reset-contextvars


@pytest.mark.parametrize("args, seen", [
    ([], {"import": "from-import", "lifespan": "unset", "previous_request": "unset"}),
    (["--reset-contextvars"], {"import": "unset", "lifespan": "unset", "previous_request": "unset"}),
])
@pytest.mark.parametrize("interface", ["asgi3", "asgi2"])
def test_reset_contextvars_matches_uvicorn(esg_server, args, seen, interface):
    app = "uv_options_app:cv_app"
    if interface == "asgi2":
        app = "uv_options_app:cv_app2"
    server = esg_server(args + ["--interface", interface], app=app)
    for _ in range(3):
        assert server.get("/").json() == seen
