"""Raw WebSocket (RFC 6455) client frames over a RawConnection, where the attack is in the bytes."""

from __future__ import annotations

import base64
import socket
import struct
import time

KEY = base64.b64encode(b"0123456789abcdef").decode()
MASK = b"\x01\x02\x03\x04"


def handshake(server, path: str = "/echo", extra: bytes = b"", version: str = "13"):
    """Open a connection and send an upgrade; returns (conn, response head)."""
    conn = server.connect()
    conn.send(f"GET {path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              f"Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: {version}\r\n".encode() + extra + b"\r\n")
    return conn, conn.read_response(head=True)


def header(opcode: int, length: int, fin: bool = True, rsv: int = 0, masked: bool = True) -> bytes:
    """A frame header announcing `length` payload bytes (any 64-bit value, even an illegal one)."""
    b0 = (0x80 if fin else 0) | rsv | opcode
    m = 0x80 if masked else 0
    if length < 126:
        head = bytes([b0, m | length])
    elif length < 65536:
        head = bytes([b0, m | 126]) + struct.pack("!H", length)
    else:
        head = bytes([b0, m | 127]) + struct.pack("!Q", length)
    return head + (MASK if masked else b"")


def mask(payload: bytes) -> bytes:
    key = (MASK * (len(payload) // 4 + 1))[:len(payload)]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(key, "big")).to_bytes(len(payload), "big")


def frame(opcode: int, payload: bytes = b"", fin: bool = True, rsv: int = 0) -> bytes:
    return header(opcode, len(payload), fin, rsv) + mask(payload)


def read_frame(conn, timeout: float):
    """(opcode, rsv1, payload) of the next server frame; None at EOF/reset; raises socket.timeout on silence."""
    deadline = time.monotonic() + timeout

    def need(n):
        while len(conn.buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout()
            if not conn._fill(left):
                return False
        return True

    if not need(2):
        return None
    b0, b1 = conn.buf[0], conn.buf[1]
    n, off = b1 & 0x7F, 2
    if n == 126:
        if not need(4):
            return None
        n, off = struct.unpack("!H", conn.buf[2:4])[0], 4
    elif n == 127:
        if not need(10):
            return None
        n, off = struct.unpack("!Q", conn.buf[2:10])[0], 10
    if not need(off + n):
        return None
    payload = conn.buf[off:off + n]
    conn.buf = conn.buf[off + n:]
    return b0 & 0x0F, bool(b0 & 0x40), payload


def close_code(conn, timeout: float):
    """The code of the server's next close frame (data frames skipped) within `timeout`.

    Returns None when the server dropped the connection without a close frame; raises AssertionError naming
    the wait when the server sends nothing at all (the defect where it waits on a frame it should refuse)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            f = read_frame(conn, max(0.01, deadline - time.monotonic()))
        except socket.timeout:
            raise AssertionError(f"no close frame within {timeout:.1f}s: the server is still waiting "
                                 f"(received {conn.received[-200:]!r})") from None
        if f is None:
            return None
        if f[0] == 8:
            return struct.unpack("!H", f[2][:2])[0] if len(f[2]) >= 2 else 1005
