"""Raw HTTP/2 on a real socket for test_http2.py: frames built with hyperframe, header blocks with hpack, a frame
reader, and a background sender.

Used where a well-behaved client library cannot do what a test needs: floods and resets, header blocks split at
chosen places, watching which frames arrive before a PING's ACK. Nothing here imports ESG.
"""

from __future__ import annotations

import socket
import threading
import time

import hpack
import pytest
from hyperframe.frame import (ContinuationFrame, DataFrame, Frame, GoAwayFrame, HeadersFrame, PingFrame,
                              RstStreamFrame, SettingsFrame, WindowUpdateFrame)

from esgtest import IO_TIMEOUT

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
NO_ERROR = 0x0
PROTOCOL_ERROR = 0x1
REFUSED_STREAM = 0x7
CANCEL = 0x8
ENHANCE_YOUR_CALM = 0xB
SETTINGS_INITIAL_WINDOW_SIZE = 0x4
SETTINGS_MAX_CONCURRENT_STREAMS = 0x3
DEFAULT_WINDOW = 65535


class BackgroundSender(threading.Thread):
    """Sends `data` on `sock` from a thread, so the test can read meanwhile (a server that stops reading while
    its answers pile up must not deadlock the test). A reset or EPIPE ends it: the server may close first."""

    def __init__(self, sock: socket.socket, data: bytes):
        super().__init__(daemon=True)
        self.sock, self.data, self.sent, self.error = sock, memoryview(data), 0, None
        self.start()

    def run(self) -> None:
        try:
            while self.sent < len(self.data):
                self.sent += self.sock.send(self.data[self.sent:self.sent + 65536])
        except OSError as exc:
            self.error = exc


class H2Conn:
    """One client connection: send frames, read frames (SETTINGS acknowledged as they come), decode the
    server's header blocks in order (HPACK state)."""

    def __init__(self, sock: socket.socket, auto_window: bool = True):
        self.sock = sock
        self.auto_window = auto_window  # reopen the server's windows for every DATA byte read
        self.sock.settimeout(IO_TIMEOUT)
        self.buf = b""
        self.eof = False
        self.encoder = hpack.Encoder()
        self.decoder = hpack.Decoder()
        self.server_settings: dict[int, int] = {}
        self.frames: list[Frame] = []  # every frame received, in order
        self.headers: dict[int, list[tuple[str, str]]] = {}  # stream id -> decoded response fields
        self.data: dict[int, bytes] = {}
        self.ended: set[int] = set()  # streams the server ended (END_STREAM) or reset
        self.resets: dict[int, int] = {}  # stream id -> RST_STREAM code
        self.goaways: list[GoAwayFrame] = []
        # The server's windows for what we send (RFC 9113 §6.9): connection, and per stream what was credited
        # beyond SETTINGS_INITIAL_WINDOW_SIZE less what was sent.
        self.send_window = DEFAULT_WINDOW
        self.stream_credit: dict[int, int] = {}

    @classmethod
    def open(cls, server, settings: dict[int, int] | None = None, auto_window: bool = True) -> "H2Conn":
        if server.uds:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(IO_TIMEOUT)
            sock.connect(server.uds)
        else:
            sock = socket.create_connection((server.host, server.port), timeout=IO_TIMEOUT)
        conn = cls(sock, auto_window)
        conn.send(PREFACE + SettingsFrame(0, settings or {}).serialize())
        return conn

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    # -- building
    def block(self, fields) -> bytes:
        return self.encoder.encode(list(fields))

    def request_fields(self, method="GET", path="/", authority="esg.test", scheme="http", extra=()):
        return [(":method", method), (":scheme", scheme), (":path", path), (":authority", authority), *extra]

    def headers_frame(self, stream_id: int, fields=None, *, end_stream=True, **kw) -> bytes:
        flags = {"END_HEADERS"} | ({"END_STREAM"} if end_stream else set())
        return HeadersFrame(stream_id, self.block(fields or self.request_fields(**kw)), flags=flags).serialize()

    @staticmethod
    def split_block(stream_id: int, block: bytes, size: int, *, end_stream=True, end_headers=True) -> bytes:
        """A header block as HEADERS + CONTINUATION frames of at most `size` bytes each."""
        pieces = [block[i:i + size] for i in range(0, len(block), size)] or [b""]
        out = []
        for i, piece in enumerate(pieces):
            last = i == len(pieces) - 1
            flags = {"END_HEADERS"} if last and end_headers else set()
            if i == 0:
                out.append(HeadersFrame(stream_id, piece, flags=flags | ({"END_STREAM"} if end_stream else set())))
            else:
                out.append(ContinuationFrame(stream_id, piece, flags=flags))
        return b"".join(f.serialize() for f in out)

    @staticmethod
    def data_frames(stream_id: int, body: bytes, *, end_stream=True, size=16384) -> bytes:
        out = [DataFrame(stream_id, body[i:i + size]) for i in range(0, len(body), size)] or [DataFrame(stream_id)]
        if end_stream:
            out[-1].flags.add("END_STREAM")
        return b"".join(f.serialize() for f in out)

    @staticmethod
    def rst(stream_id: int, code: int = CANCEL) -> bytes:
        return RstStreamFrame(stream_id, error_code=code).serialize()

    @staticmethod
    def ping(payload: bytes = b"\0" * 8) -> bytes:
        return PingFrame(0, payload).serialize()

    @staticmethod
    def window_update(stream_id: int, increment: int) -> bytes:
        return WindowUpdateFrame(stream_id, increment).serialize()

    # -- I/O
    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _fill(self, timeout: float) -> bool:
        self.sock.settimeout(max(0.01, timeout))
        try:
            chunk = self.sock.recv(262144)
        except (ConnectionResetError, BrokenPipeError):
            chunk = b""
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        return True

    def read_frame(self, timeout: float = IO_TIMEOUT) -> Frame | None:
        """The next frame (handled: SETTINGS acknowledged, headers decoded, data collected), or None at EOF.
        Raises socket.timeout after `timeout` seconds of silence."""
        deadline = time.monotonic() + timeout
        while len(self.buf) < 9 or len(self.buf) < 9 + int.from_bytes(self.buf[:3], "big"):
            if self.eof or not self._fill(deadline - time.monotonic()):
                return None
        frame, length = Frame.parse_frame_header(memoryview(self.buf[:9]))
        frame.parse_body(memoryview(self.buf[9:9 + length]))
        self.buf = self.buf[9 + length:]
        self._handle(frame)
        self.frames.append(frame)
        return frame

    def _handle(self, frame: Frame) -> None:
        sid = frame.stream_id
        if isinstance(frame, SettingsFrame) and "ACK" not in frame.flags:
            self.server_settings.update(frame.settings)
            try:
                self.send(SettingsFrame(0, flags={"ACK"}).serialize())
            except OSError:
                pass
        elif isinstance(frame, (HeadersFrame, ContinuationFrame)):
            # Response header blocks are small here: one HEADERS frame each (END_HEADERS checked).
            assert "END_HEADERS" in frame.flags, f"the test client does not join CONTINUATIONs: {frame}"
            self.headers.setdefault(sid, []).extend(
                (n.decode() if isinstance(n, bytes) else n, v.decode() if isinstance(v, bytes) else v)
                for n, v in self.decoder.decode(frame.data))
        elif isinstance(frame, DataFrame):
            self.data[sid] = self.data.get(sid, b"") + frame.data
            if frame.flow_controlled_length and self.auto_window:
                # Keep the server's windows open for what we read (connection and stream).
                try:
                    self.send(self.window_update(0, frame.flow_controlled_length)
                              + self.window_update(sid, frame.flow_controlled_length))
                except OSError:
                    pass
        elif isinstance(frame, RstStreamFrame):
            self.resets[sid] = frame.error_code
            self.ended.add(sid)
        elif isinstance(frame, GoAwayFrame):
            self.goaways.append(frame)
        elif isinstance(frame, WindowUpdateFrame):
            if sid == 0:
                self.send_window += frame.window_increment
            else:
                self.stream_credit[sid] = self.stream_credit.get(sid, 0) + frame.window_increment
        if isinstance(frame, (HeadersFrame, DataFrame)) and "END_STREAM" in frame.flags:
            self.ended.add(sid)

    def read_until(self, done, timeout: float = IO_TIMEOUT, what: str = "") -> bool:
        """Read frames until done() is true (True) or the server closes (False); fails the test after
        `timeout` seconds without either."""
        deadline = time.monotonic() + timeout
        while not done():
            left = deadline - time.monotonic()
            if left <= 0:
                pytest.fail(f"within {timeout}s: {what or done}; frames so far: {self.summary()}", pytrace=False)
            try:
                if self.read_frame(left) is None:
                    return done()
            except socket.timeout:
                continue
        return True

    def read_to_close(self, timeout: float = IO_TIMEOUT) -> None:
        self.read_until(lambda: False, timeout, "the server closes the connection")

    def stream_window(self, stream_id: int) -> int:
        return self.server_settings.get(SETTINGS_INITIAL_WINDOW_SIZE, DEFAULT_WINDOW) + self.stream_credit.get(
            stream_id, 0)

    def send_body(self, stream_id: int, body: bytes, *, end_stream=True, timeout: float = IO_TIMEOUT) -> None:
        """DATA within the server's windows, reading frames (WINDOW_UPDATEs) whenever they are spent."""
        view = memoryview(body)
        while True:
            n = min(len(view), 16384, self.send_window, self.stream_window(stream_id))
            if n > 0 or not view:
                last = n == len(view)
                frame = DataFrame(stream_id, bytes(view[:n]), flags={"END_STREAM"} if last and end_stream else set())
                self.send(frame.serialize())
                self.send_window -= n
                self.stream_credit[stream_id] = self.stream_credit.get(stream_id, 0) - n
                view = view[n:]
                if last:
                    return
                continue
            before = len(self.frames)
            self.read_until(lambda: len(self.frames) > before, timeout,
                            f"a WINDOW_UPDATE to send the rest ({len(view)} bytes) of stream {stream_id}'s body")
            if self.eof:
                raise AssertionError(f"the server closed with {len(view)} body bytes unsent: {self.summary()}")

    def received(self, stream_id: int) -> int:
        return len(self.data.get(stream_id, b""))

    def status(self, stream_id: int) -> int | None:
        for name, value in self.headers.get(stream_id, []):
            if name == ":status":
                return int(value)
        return None

    def get(self, stream_id: int, path: str = "/", timeout: float = IO_TIMEOUT) -> tuple[int | None, bytes]:
        """A GET on `stream_id`, read to its end: (status, body)."""
        self.send(self.headers_frame(stream_id, path=path))
        self.read_until(lambda: stream_id in self.ended, timeout, f"stream {stream_id} ends")
        return self.status(stream_id), self.data.get(stream_id, b"")

    def ping_roundtrip(self, payload: bytes, timeout: float = IO_TIMEOUT) -> list[Frame]:
        """Send a PING and read to its ACK; returns the frames that came before the ACK."""
        start = len(self.frames)
        self.send(self.ping(payload))
        self.read_until(lambda: any(isinstance(f, PingFrame) and "ACK" in f.flags and f.opaque_data == payload
                                    for f in self.frames[start:]), timeout, "PING ACK")
        return self.frames[start:-1]

    def summary(self, last: int = 12) -> str:
        names = [f"{type(f).__name__}(stream {f.stream_id}, {sorted(f.flags)}"
                 + (f", code {f.error_code:#x}, last {f.last_stream_id}" if isinstance(f, GoAwayFrame) else "")
                 + (f", code {f.error_code:#x}" if isinstance(f, RstStreamFrame) else "") + ")"
                 for f in self.frames[-last:]]
        return f"{len(self.frames)} frames, eof={self.eof}, last: " + "; ".join(names)
