"""WebSockets (RFC 6455 / RFC 7692) through the `esg` command: the ASGI websocket scope and events,
subprotocols, rejection (403/500), close codes both ways, permessage-deflate, --ws-max-size (1009),
strict frames (1002 / 1007) sent whole and byte by byte, --ws none, and pings."""

import asyncio
import base64
import json
import os
import socket
import struct
import time

import pytest
import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatus

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
