"""WebSockets (RFC 6455 / RFC 7692) through the `esg` command: the ASGI websocket scope and events,
subprotocols, rejection (403/500), close codes both ways, permessage-deflate, --ws-max-size (1009),
strict frames (1002 / 1007) sent whole and byte by byte, --ws none, and pings."""

import asyncio
import base64
import json
import os
import socket
import ssl
import struct
import subprocess
import time
import zlib

import httpx
import pytest
import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatus

from esgtest import IO_TIMEOUT, RawConnection

APP = "ws_app:app"


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 20))


def ws_url(server, path):
    return f"ws://{server.host}:{server.port}{path}"


# ----------------------------------------------------------------------------------------------- raw
KEY = base64.b64encode(b"0123456789abcdef").decode()


def handshake(server, path="/echo", extra=b""):
    conn = server.connect()
    conn.send(f"GET {path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              f"Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n".encode() + extra + b"\r\n")
    resp = conn.read_response(head=True)
    return conn, resp


def frame(opcode, payload=b"", fin=True, masked=True, rsv=0):
    b0 = (0x80 if fin else 0) | rsv | opcode
    n = len(payload)
    if n < 126:
        head = bytes([b0, (0x80 if masked else 0) | n])
    elif n < 65536:
        head = bytes([b0, (0x80 if masked else 0) | 126]) + struct.pack("!H", n)
    else:
        head = bytes([b0, (0x80 if masked else 0) | 127]) + struct.pack("!Q", n)
    if not masked:
        return head + payload
    mask = b"\x01\x02\x03\x04"
    return head + mask + bytes(c ^ mask[i % 4] for i, c in enumerate(payload))


def read_frame(conn):
    """(opcode, payload) of the next server frame; None when the server closed the TCP connection."""
    while len(conn.buf) < 2:
        if not conn._fill():
            return None
    b0, b1 = conn.buf[0], conn.buf[1]
    assert not (b1 & 0x80), "server frames must not be masked"
    n, off = b1 & 0x7F, 2
    if n == 126:
        while len(conn.buf) < 4:
            assert conn._fill()
        n, off = struct.unpack("!H", conn.buf[2:4])[0], 4
    elif n == 127:
        while len(conn.buf) < 10:
            assert conn._fill()
        n, off = struct.unpack("!Q", conn.buf[2:10])[0], 10
    while len(conn.buf) < off + n:
        assert conn._fill()
    payload = conn.buf[off:off + n]
    conn.buf = conn.buf[off + n:]
    return b0 & 0x0F, payload


def close_code(conn):
    """The code of the server's close frame (skipping data frames)."""
    while True:
        f = read_frame(conn)
        assert f is not None, "connection closed without a close frame"
        if f[0] == 8:
            return struct.unpack("!H", f[1][:2])[0] if len(f[1]) >= 2 else 1005


# ------------------------------------------------------------------------------------------- tests
def test_echo_text_and_bytes_with_subprotocol(serve):
    server = serve(APP)

    async def go():
        async with websockets.connect(ws_url(server, "/echo"), subprotocols=["chat", "other"]) as ws:
            assert ws.subprotocol == "chat"
            await ws.send("héllo")
            assert await ws.recv() == "héllo"
            await ws.send(b"\x00\xff" * 40000)
            assert await ws.recv() == b"\x00\xff" * 40000

    run(go())


def test_scope(serve):
    server = serve(APP)

    async def go():
        async with websockets.connect(ws_url(server, "/scope?x=1"), subprotocols=["p1", "p2"]) as ws:
            return json.loads(await ws.recv())

    info = run(go())
    assert info["type"] == "websocket"
    assert info["scheme"] == "ws"
    assert info["path"] == "/scope"
    assert info["query_string"] == "x=1"
    assert info["subprotocols"] == ["p1", "p2"]
    assert info["http_version"] == "1.1"
    assert ["upgrade", "websocket"] in info["headers"]


def test_close_before_accept_is_403(serve):
    server = serve(APP)
    conn, resp = handshake(server, "/reject")
    assert resp.status == 403
    assert conn.closed_by_server()


def test_exception_before_accept_is_500_and_server_keeps_serving(serve):
    server = serve(APP)
    conn, resp = handshake(server, "/raise")
    assert resp.status == 500
    assert "refusing this websocket" in server.stderr()
    assert server.get("/").text == "plain http"


def test_exception_after_accept_closes_1011(serve):
    server = serve(APP)
    conn, resp = handshake(server, "/raise-after")
    assert resp.status == 101
    assert close_code(conn) == 1011


def test_accept_headers_and_handshake(serve):
    server = serve(APP)
    conn, resp = handshake(server, "/headers")
    assert resp.status == 101
    assert resp.header("x-ws") == "yes"
    # base64(SHA-1(key + GUID)) for the key "MDEyMzQ1Njc4OWFiY2RlZg=="
    import hashlib
    expected = base64.b64encode(hashlib.sha1((KEY + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest())
    assert resp.header("sec-websocket-accept") == expected.decode()


def test_app_close_code_reaches_client(serve):
    server = serve(APP)

    async def go():
        async with websockets.connect(ws_url(server, "/echo")) as ws:
            await ws.send("close:4321")
            with pytest.raises(ConnectionClosed) as info:
                await ws.recv()
            return info.value.rcvd

    rcvd = run(go())
    assert rcvd.code == 4321 and rcvd.reason == "asked"


def test_client_close_code_reaches_app(serve, markers):
    server = serve(APP)

    async def go():
        ws = await websockets.connect(ws_url(server, "/disconnect"))
        await ws.close(code=4002, reason="done")

    run(go())
    path = markers / "ws-disconnect"
    for _ in range(100):
        if path.exists() and path.read_text():
            break
        time.sleep(0.05)
    assert path.read_text() == "4002"


def test_abrupt_disconnect_is_1006(serve, markers):
    server = serve(APP)
    conn, resp = handshake(server, "/disconnect")
    assert resp.status == 101
    conn.close()
    path = markers / "ws-disconnect"
    for _ in range(100):
        if path.exists() and path.read_text():
            break
        time.sleep(0.05)
    assert path.read_text() == "1006"


def test_permessage_deflate_negotiated_and_used(serve):
    server = serve(APP)

    async def go():
        async with websockets.connect(ws_url(server, "/echo")) as ws:
            ext = ws.response.headers.get("sec-websocket-extensions")
            await ws.send("z" * 50000)
            assert await ws.recv() == "z" * 50000
            return ext

    assert run(go()).startswith("permessage-deflate")


def test_max_size_closes_1009_even_when_compressed(serve):
    server = serve(APP, "--ws-max-size", "1000")

    async def go(compression):
        async with websockets.connect(ws_url(server, "/echo"), compression=compression, max_size=None) as ws:
            await ws.send("a" * 999)
            assert await ws.recv() == "a" * 999
            await ws.send("b" * 5000)  # compresses to a few bytes: the cap applies to the decompressed size
            with pytest.raises(ConnectionClosed) as info:
                await ws.recv()
            return info.value.rcvd.code

    assert run(go("deflate")) == 1009
    assert run(go(None)) == 1009


@pytest.mark.parametrize("bytewise", [False, True])
@pytest.mark.parametrize("name,data,code", [
    ("unmasked frame", frame(1, b"hi", masked=False), 1002),
    ("reserved opcode", frame(3, b"hi"), 1002),
    ("rsv2 set", frame(1, b"hi", rsv=0x20), 1002),
    ("rsv1 without deflate", frame(1, b"hi", rsv=0x40), 1002),
    ("fragmented ping", frame(9, b"x", fin=False), 1002),
    ("control frame over 125 bytes", frame(9, b"x" * 126), 1002),
    ("continuation without start", frame(0, b"x"), 1002),
    ("new message inside fragmented", frame(1, b"a", fin=False) + frame(1, b"b"), 1002),
    ("invalid close code", frame(8, struct.pack("!H", 1005)), 1002),
    ("one-byte close payload", frame(8, b"\x03"), 1002),
    ("invalid utf-8 text", frame(1, b"\xff\xfe"), 1007),
    ("invalid utf-8 across fragments", frame(1, b"\xe2\x82", fin=False) + frame(0, b"\x28"), 1007),
])
def test_strict_frames(esg_server, name, data, code, bytewise):
    server = esg_server([], app=APP)
    conn, resp = handshake(server, "/echo")
    assert resp.status == 101
    try:
        conn.send(data, bytewise=bytewise)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server may close as soon as it has seen enough of a bad frame (byte by byte)
    assert close_code(conn) == code, name
    assert conn.closed_by_server(), name


def test_ping_is_answered_with_pong_and_fragments_are_joined(esg_server):
    server = esg_server([], app=APP)
    conn, resp = handshake(server, "/echo")
    conn.send(frame(9, b"ping-data"))
    assert read_frame(conn) == (10, b"ping-data")
    conn.send(frame(1, b"hel", fin=False) + frame(9, b"p") + frame(0, b"lo"))
    assert read_frame(conn) == (10, b"p")
    assert read_frame(conn) == (1, b"hello")


def test_server_pings_and_closes_1011_without_pong(esg_server):
    server = esg_server(["--ws-ping-interval", "0.5", "--ws-ping-timeout", "0.5"], app=APP)
    conn, resp = handshake(server, "/echo")
    assert resp.status == 101
    first = read_frame(conn)
    assert first[0] == 9, "the server pings an idle connection"
    assert close_code(conn) == 1011  # we never answer: keepalive ping timeout


def test_wrong_version_is_426_and_bad_key_400(esg_server):
    server = esg_server([], app=APP)
    conn = server.connect()
    conn.send(b"GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              b"Sec-WebSocket-Key: " + KEY.encode() + b"\r\nSec-WebSocket-Version: 8\r\n\r\n")
    resp = conn.read_response()
    assert resp.status == 426 and resp.header("sec-websocket-version") == "13"
    conn = server.connect()
    conn.send(b"GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              b"Sec-WebSocket-Key: short\r\nSec-WebSocket-Version: 13\r\n\r\n")
    assert conn.read_response().status == 400


def test_ws_none_serves_upgrades_as_plain_http(esg_server):
    server = esg_server(["--ws", "none"], app=APP)
    conn, resp = handshake(server, "/echo")
    assert resp.status == 200


def test_sigterm_closes_websockets_with_1001(esg_server):
    server = esg_server([], app=APP)
    conn, resp = handshake(server, "/echo")
    assert resp.status == 101
    server.send_signal(__import__("signal").SIGTERM)
    assert close_code(conn) == 1001
    conn.send(frame(8, struct.pack("!H", 1001)))
    assert server.wait() == 0


def test_no_per_message_deflate_declines_the_extension(esg_server):
    server = esg_server(["--no-ws-per-message-deflate"], app=APP)

    async def go():
        async with websockets.connect(ws_url(server, "/echo")) as ws:  # the client offers deflate
            ext = ws.response.headers.get("sec-websocket-extensions")
            await ws.send("y" * 5000)
            assert await ws.recv() == "y" * 5000
            return ext

    assert run(go()) is None
    # A compressed frame (RSV1) is then a protocol error.
    conn, resp = handshake(server, "/echo", extra=b"Sec-WebSocket-Extensions: permessage-deflate\r\n")
    assert resp.header("sec-websocket-extensions") is None
    conn.send(frame(1, b"hi", rsv=0x40))
    assert close_code(conn) == 1002


# ------------------------------------------------------------------------------- hardening (issue 11)
# Each test below failed before its fix: ping floods grew the worker without limit, a fragment past
# --ws-max-size was waited on, a Z_FINISH-compressed message spun the worker, a 64-bit length with its top
# bit set (or past the limit) was waited on when the mask had not arrived, and a 426 answer never closed.

MiB = 1024 * 1024
RSS_GROWTH_BOUND = 32 * MiB  # what one misbehaving WebSocket client may add to the worker's peak RSS


def worker_pid(server) -> int:
    """The single worker (the master's only child), as the supervision tests find it."""
    from test_supervision import worker_pids
    pids = worker_pids(server)
    assert len(pids) == 1, pids
    return pids[0]


def peak_rss(pid: int) -> int:
    """VmHWM (peak resident set) of a process, in bytes: growth is measured against it, so no timing matters."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def flood_pings(conn, total: int) -> int:
    """Send up to `total` bytes of pings without reading; stops when the server stops reading. Returns bytes sent."""
    ping = frame(9, b"p" * 125)
    block = ping * (MiB // len(ping))
    sent = 0
    conn.sock.settimeout(3)
    try:
        while sent < total:
            conn.sock.sendall(block)
            sent += len(block)
    except (socket.timeout, BrokenPipeError, ConnectionResetError, ssl.SSLError):
        pass  # the server stopped reading (or, once --timeout-send passed, closed)
    return sent


@pytest.fixture(scope="module")
def tls_cert(tmp_path_factory):
    d = tmp_path_factory.mktemp("wstls")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", "key.pem", "-out", "cert.pem", "-days", "2", "-subj", "/CN=localhost"],
                   cwd=d, check=True, capture_output=True, timeout=60)
    return d


@pytest.mark.parametrize("tls", [False, True])
def test_ping_flood_without_reading_is_bounded_and_ended_by_timeout_send(esg_server, tls, request):
    args = ["--timeout-send", "2", "--ws-ping-interval", "0"]
    if tls:
        certs = request.getfixturevalue("tls_cert")
        args += ["--ssl-certfile", str(certs / "cert.pem"), "--ssl-keyfile", str(certs / "key.pem")]
    server = esg_server(args, app=APP)
    pid = worker_pid(server)
    if tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        sock = socket.create_connection((server.host, server.port), timeout=IO_TIMEOUT)
        conn = RawConnection(ctx.wrap_socket(sock), server)
        conn.send(f"GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  f"Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())
        resp = conn.read_response(head=True)
    else:
        conn, resp = handshake(server, "/echo")
    assert resp.status == 101
    before = peak_rss(pid)
    sent = flood_pings(conn, 256 * MiB)  # 2M pings; each would queue a 127-byte pong
    # The server stops reading once its unsent output passes the write high-water mark, so the flood stalls
    # long before 256 MiB; then --timeout-send ends the connection.
    server.wait_for_output(r"--timeout-send", timeout=30)
    growth = peak_rss(pid) - before
    assert growth <= RSS_GROWTH_BOUND, f"worker peak RSS grew {growth / MiB:.0f} MiB for {sent / MiB:.0f} MiB of pings"
    conn.read_until_close(timeout=30)
    scheme = "https" if tls else "http"
    assert httpx.get(f"{scheme}://{server.host}:{server.port}/", verify=False, timeout=IO_TIMEOUT).text == "plain http"


def test_pings_are_answered_while_reading(esg_server):
    # One pending pong at most may replace another, but a client that reads gets an answer to its last ping.
    server = esg_server([], app=APP)
    conn, resp = handshake(server, "/echo")
    conn.send(b"".join(frame(9, b"%d" % i) for i in range(1000)))
    last = None
    while last != b"999":
        f = read_frame(conn)
        assert f is not None and f[0] == 10
        last = f[1]


def test_fragment_that_would_pass_max_size_is_refused_at_its_header(esg_server):
    server = esg_server(["--ws-max-size", str(16 * MiB)], app=APP)
    pid = worker_pid(server)
    conn, resp = handshake(server, "/echo")
    assert resp.status == 101
    before = peak_rss(pid)
    conn.send(frame(2, b"a" * (12 * MiB), fin=False))
    # The continuation announces 12 MiB more: 24 MiB > 16 MiB, refused before any of its payload arrives.
    conn.send(bytes([0x80, 0x80 | 127]) + struct.pack("!Q", 12 * MiB) + b"\x01\x02\x03\x04")
    assert close_code(conn) == 1009
    assert conn.closed_by_server()
    growth = peak_rss(pid) - before
    assert growth <= 12 * MiB + RSS_GROWTH_BOUND, f"worker peak RSS grew {growth / MiB:.0f} MiB"


def test_inflated_size_is_checked_while_inflating(esg_server):
    server = esg_server(["--ws-max-size", str(1 * MiB)], app=APP)
    pid = worker_pid(server)
    conn, resp = handshake(server, "/echo", extra=b"Sec-WebSocket-Extensions: permessage-deflate\r\n")
    assert resp.header("sec-websocket-extensions").startswith("permessage-deflate")
    before = peak_rss(pid)
    z = zlib.compressobj(9, zlib.DEFLATED, -15)
    bomb = z.compress(b"\0" * (512 * MiB)) + z.flush(zlib.Z_SYNC_FLUSH)  # ~500 KiB → 512 MiB
    assert len(bomb) < MiB
    conn.send(frame(2, bomb[:-4], rsv=0x40))
    assert close_code(conn) == 1009
    growth = peak_rss(pid) - before
    assert growth <= RSS_GROWTH_BOUND, f"worker peak RSS grew {growth / MiB:.0f} MiB"


def _z_finish(data: bytes, zdict: bytes | None = None) -> bytes:
    z = zlib.compressobj(6, zlib.DEFLATED, -15, **({"zdict": zdict} if zdict else {}))
    return z.compress(data) + z.flush(zlib.Z_FINISH)  # ends with a final (BFINAL) block, legal per RFC 7692


def test_compressed_message_ending_the_deflate_stream_is_decoded(esg_server):
    server = esg_server([], app=APP)
    # No server compression of the echo (below the 64-byte threshold it goes out plain); the client compresses.
    conn, resp = handshake(server, "/echo", extra=b"Sec-WebSocket-Extensions: permessage-deflate\r\n")
    assert resp.status == 101
    first = b"hello hello hello"
    conn.send(frame(1, _z_finish(first), rsv=0x40))
    # The worker is not spinning: a parallel request is answered within 1 s.
    assert httpx.get(server.base_url + "/", timeout=1).text == "plain http"
    assert read_frame(conn) == (1, first)
    # The next message may still refer to the previous one (context takeover keeps the LZ77 window even
    # across a final block, RFC 7692 §7.2.2): compressed against it as a preset dictionary.
    second = b"hello hello hello again"
    conn.send(frame(1, _z_finish(second, zdict=first), rsv=0x40))
    assert read_frame(conn) == (1, second)
    # And an ordinary sync-flushed message after that.
    z = zlib.compressobj(6, zlib.DEFLATED, -15)
    third = z.compress(b"third") + z.flush(zlib.Z_SYNC_FLUSH)
    conn.send(frame(1, third[:-4], rsv=0x40))
    assert read_frame(conn) == (1, b"third")


def test_compressed_data_after_the_end_of_the_deflate_stream_is_1007(esg_server):
    server = esg_server([], app=APP)
    conn, resp = handshake(server, "/echo", extra=b"Sec-WebSocket-Extensions: permessage-deflate\r\n")
    conn.send(frame(1, _z_finish(b"one") + _z_finish(b"two"), rsv=0x40))
    assert close_code(conn) == 1007
    assert server.get("/").text == "plain http"


@pytest.mark.parametrize("with_mask", [True, False])
@pytest.mark.parametrize("length,code", [(1 << 63, 1002), ((1 << 63) + 5, 1002), (17 * MiB, 1009)])
def test_frame_length_refused_as_soon_as_it_is_read(esg_server, length, code, with_mask):
    server = esg_server(["--ws-max-size", str(16 * MiB)], app=APP)
    conn, resp = handshake(server, "/echo")
    assert resp.status == 101
    # Nothing follows the length (not even the mask when with_mask is False): no reason to wait for more.
    conn.send(bytes([0x82, 0x80 | 127]) + struct.pack("!Q", length) + (b"\x01\x02\x03\x04" if with_mask else b""))
    assert close_code(conn) == code
    assert conn.closed_by_server()


def test_invalid_utf8_in_a_first_fragment_fails_at_once(esg_server):
    server = esg_server([], app=APP)
    conn, resp = handshake(server, "/echo")
    conn.send(frame(1, b"ok \xc0\xaf", fin=False))  # an overlong form: invalid whatever follows
    assert close_code(conn) == 1007


def test_426_for_an_unsupported_version_closes_the_connection(esg_server):
    server = esg_server([], app=APP)
    request = (b"GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               b"Sec-WebSocket-Key: " + KEY.encode() + b"\r\nSec-WebSocket-Version: 8\r\n\r\n")
    conns = [server.connect() for _ in range(50)]
    # The head in two reads (as a proxy or a slow client sends it): the case that stayed open.
    for conn in conns:
        conn.send(request[:20])
    time.sleep(0.2)
    for conn in conns:
        conn.send(request[20:])
    for conn in conns:
        resp = conn.read_response()
        assert resp.status == 426 and resp.header("connection") == "close"
        assert conn.closed_by_server(), "the 426 says connection: close, so the server must close"


def test_two_tasks_waiting_to_send_both_resume(esg_server):
    # A second send() while the first waits for room (write high-water mark) used to replace the first
    # one's waiter: that task never resumed and "done" never came.
    server = esg_server([], app=APP)
    conn, resp = handshake(server, "/two-senders")
    assert resp.status == 101
    received = 0
    while True:
        f = read_frame(conn)
        assert f is not None, "closed before done"
        if f[0] == 1:
            assert f[1] == b"done"
            break
        received += len(f[1])
    assert received == 16 * MiB


def test_long_close_reason_is_cut_at_a_character_boundary(esg_server):
    # A close frame holds 123 bytes of reason; cutting 200 bytes of "é" at byte 123 split a character, and
    # the client got an invalid UTF-8 reason (a protocol error on its side).
    server = esg_server([], app=APP)
    conn, resp = handshake(server, "/echo")
    conn.send(frame(1, b"close-long-reason"))
    f = read_frame(conn)
    assert f[0] == 8 and struct.unpack("!H", f[1][:2])[0] == 4000
    assert f[1][2:].decode("utf-8") == "é" * 61


def test_message_after_a_cancelled_receive_is_kept(serve):
    # A receive() cancelled while no message had come (asyncio.wait_for timing out): the next receive() is
    # accepted and gets the message sent afterwards (before: RuntimeError, and the message dropped).
    server = serve("fw_current_task:app")

    async def go():
        async with websockets.connect(ws_url(server, "/")) as ws:
            assert await ws.recv() == "timeout"
            await ws.send("later")
            assert await ws.recv() == "echo later"

    run(go())
