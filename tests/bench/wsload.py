"""WebSocket echo load generator (messages per second) and a byte-exact echo check.

    python wsload.py PORT [--conns 64] [--size 64] [--duration 5] [--path /ws]   # prints JSON

N connections (no extension, no subprotocol: the handshake offers neither), each doing
send -> wait for the echo -> send ... with exactly one message in flight. The client frame is
built once (binary, masked with a fixed key, as RFC 6455 requires from clients) and written with
one transport.write per message; the server's echo (unmasked, 2 + size bytes for size < 126) is
counted by length, and an echo that arrives as one whole frame (the common case) is compared
byte for byte (`wrong_frames`). Runs on uvloop (asyncio.Protocol, no streams), so a message costs
the client a few µs; the JSON reports the client's own CPU (utime+stime of this process ÷ wall
time): `client_cpu_util` near 1.0 means the client, not the server, was the limit.

Latency = time from the write of a message to the arrival of the end of its echo (per message,
all connections), p50/p99 over the measured window.
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import socket
import struct
import sys
import time

MASK = b"\x37\xfa\x21\x3d"


def client_frame(payload: bytes, opcode: int = 0x2) -> bytes:
    n = len(payload)
    if n < 126:
        head = bytes([0x80 | opcode, 0x80 | n])
    elif n < 65536:
        head = bytes([0x80 | opcode, 0x80 | 126]) + struct.pack("!H", n)
    else:
        head = bytes([0x80 | opcode, 0x80 | 127]) + struct.pack("!Q", n)
    masked = bytes(b ^ MASK[i & 3] for i, b in enumerate(payload))
    return head + MASK + masked


def server_frame(payload: bytes, opcode: int = 0x2) -> bytes:
    n = len(payload)
    if n < 126:
        return bytes([0x80 | opcode, n]) + payload
    if n < 65536:
        return bytes([0x80 | opcode, 126]) + struct.pack("!H", n) + payload
    return bytes([0x80 | opcode, 127]) + struct.pack("!Q", n) + payload


def handshake(host: str, port: int, path: str) -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    return (f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode()


def check(port: int, path: str = "/ws", host: str = "127.0.0.1", timeout: float = 10.0) -> str | None:
    """Handshake and echo of a 64-byte binary, a text, a 10 KiB binary (16-bit length) message;
    every echo must be the exact expected frame. Returns None when all is right, else what was
    wrong."""
    s = socket.create_connection((host, port), timeout=timeout)
    try:
        s.sendall(handshake(host, port, path))
        buf = b""
        while b"\r\n\r\n" not in buf:
            d = s.recv(65536)
            if not d:
                return "closed during the handshake"
            buf += d
        head, _, buf = buf.partition(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 101"):
            return f"handshake answered {head.splitlines()[0]!r}"
        if b"sec-websocket-extensions" in head.lower():
            return "server negotiated an extension nobody offered"
        for payload, op in ((bytes(range(64)), 0x2), ("héllo wörld".encode(), 0x1), (b"\xab" * 10240, 0x2)):
            s.sendall(client_frame(payload, op))
            want = server_frame(payload, op)
            while len(buf) < len(want):
                d = s.recv(65536)
                if not d:
                    return f"closed before the echo of a {len(payload)}-byte message"
                buf += d
            got, buf = buf[:len(want)], buf[len(want):]
            if got != want:
                return f"echo of a {len(payload)}-byte message: got {got[:24]!r}... want {want[:24]!r}..."
        s.sendall(b"\x88\x82" + MASK + bytes(b ^ MASK[i] for i, b in enumerate(struct.pack("!H", 1000))))
        return None
    finally:
        s.close()


class Conn(asyncio.Protocol):
    def __init__(self, st, frame, resp_len, expect, ready):
        self.st, self.frame, self.resp_len, self.expect, self.ready = st, frame, resp_len, expect, ready
        self.open = False
        self.buf = b""
        self.pending = 0
        self.t_sent = 0.0

    def connection_made(self, transport):
        self.tr = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        transport.write(handshake(self.st["host"], self.st["port"], self.st["path"]))

    def _send(self):
        self.t_sent = time.perf_counter()
        self.tr.write(self.frame)

    def data_received(self, data):
        st = self.st
        if not self.open:
            self.buf += data
            if b"\r\n\r\n" not in self.buf:
                return
            head, _, rest = self.buf.partition(b"\r\n\r\n")
            if not head.startswith(b"HTTP/1.1 101"):
                st["handshake_errors"] += 1
                self.tr.close()
                return
            self.open = True
            self.buf = b""
            if not self.ready.done():
                pass
            st["open"] += 1
            if st["open"] == st["conns"] and not self.ready.done():
                self.ready.set_result(None)
            return
        n = len(data)
        if n == self.resp_len:
            if data != self.expect:
                st["wrong_frames"] += 1
        self.pending += n
        while self.pending >= self.resp_len:
            self.pending -= self.resp_len
            now = time.perf_counter()
            if st["measuring"]:
                st["count"] += 1
                st["lat"].append(now - self.t_sent)
            if st["running"]:
                self._send()

    def connection_lost(self, exc):
        if self.st["running"]:
            self.st["closed_early"] += 1


async def _main(a):
    loop = asyncio.get_running_loop()
    payload = bytes((i * 7 + 1) & 0xFF for i in range(a.size))
    frame = client_frame(payload)
    expect = server_frame(payload)
    st = {"host": a.host, "port": a.port, "path": a.path, "conns": a.conns, "open": 0, "count": 0,
          "lat": [], "measuring": False, "running": True, "wrong_frames": 0, "handshake_errors": 0,
          "closed_early": 0}
    ready = loop.create_future()
    conns = []
    for _ in range(a.conns):
        _, p = await loop.create_connection(lambda: Conn(st, frame, len(expect), expect, ready), a.host, a.port)
        conns.append(p)
    await asyncio.wait_for(ready, 30)
    for c in conns:
        c._send()
    if a.warmup:
        await asyncio.sleep(a.warmup)
    t0 = time.monotonic()
    c0 = os.times()
    st["measuring"] = True
    await asyncio.sleep(a.duration)
    st["measuring"] = False
    wall = time.monotonic() - t0
    c1 = os.times()
    st["running"] = False
    await asyncio.sleep(0.05)
    for c in conns:
        c.tr.close()
    lat = sorted(st["lat"])

    def pct(p):
        return round(lat[min(len(lat) - 1, int(len(lat) * p / 100))] * 1e3, 3) if lat else None
    cpu = (c1.user - c0.user) + (c1.system - c0.system)
    return {"messages": st["count"], "mps": st["count"] / wall, "wall_s": wall,
            "latency_ms": {"p50": pct(50), "p90": pct(90), "p99": pct(99)},
            "client_cpu_s": cpu, "client_cpu_util": cpu / wall,
            "wrong_frames": st["wrong_frames"], "handshake_errors": st["handshake_errors"],
            "closed_early": st["closed_early"], "conns": a.conns, "size": a.size}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("port", type=int)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--path", default="/ws")
    p.add_argument("--conns", type=int, default=64)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--duration", type=float, default=5.0)
    p.add_argument("--warmup", type=float, default=0.0)
    p.add_argument("--check", action="store_true", help="only the byte-exact echo check")
    a = p.parse_args(argv)
    if a.check:
        why = check(a.port, a.path, a.host)
        print(why or "ok")
        return 1 if why else 0
    if a.size >= 126:
        p.error("--size must be < 126 (one-byte length frames)")
    try:
        import uvloop
        uvloop.install()
    except ImportError:
        pass
    print(json.dumps(asyncio.run(_main(a))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
