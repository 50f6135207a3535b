"""Flow control through the `esg` command: what one client (or one app) can make a worker hold stays bounded.

- A client that pipelines many requests for large answers and reads nothing: no request is parsed or started
  while the connection's unsent output is over the write high-water mark, so the worker's RSS stays flat
  (ASGI and WSGI); reading everything afterwards gets every answer, whole and in order; another client is
  answered meanwhile.
- A slow reader of a large streamed answer: the app's send() waits (backpressure), RSS stays flat.
- Two tasks of one app sending at once while a backpressure wait is pending: neither send() hangs.
- A client that half-closes after pipelined requests gets every answer, then the close.
- accept() failing with EMFILE (a low RLIMIT_NOFILE) neither spins the worker nor floods the log, and
  serving resumes once descriptors are free.

Bounds are named (RSS_GROWTH_BOUND); nothing is timed beyond generous upper bounds on bounded polls.
"""

from __future__ import annotations

import os
import resource
import socket
import threading
import time

import pytest

from esgtest import IO_TIMEOUT, http_request, wait_for_file
from test_supervision import wait_workers

RSS_GROWTH_BOUND = 64 << 20  # bytes a worker may grow by while one client misbehaves
BLOCK = bytes(range(256))
ANSWER = 256 << 10  # bytes per answer


def pattern(size: int) -> bytes:
    return (BLOCK * (size // 256 + 1))[:size]


def rss(pid: int) -> int:
    """The process's resident set size in bytes (VmRSS)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for pid {pid}")


class Sender(threading.Thread):
    """Sends `data` on `sock` (blocking sends, so it stalls when the server stops reading); `sent` counts."""

    def __init__(self, sock: socket.socket, data: bytes):
        super().__init__(daemon=True)
        self.sock, self.data, self.sent, self.error = sock, memoryview(data), 0, None

    def run(self) -> None:
        try:
            while self.sent < len(self.data):
                self.sent += self.sock.send(self.data[self.sent:self.sent + 65536])
        except OSError as exc:
            self.error = exc

    def wait_stalled(self, timeout: float = 20.0) -> None:
        """Until everything is sent or nothing more was taken for one second (bounded)."""
        deadline = time.monotonic() + timeout
        last, since = -1, time.monotonic()
        while self.is_alive() and time.monotonic() < deadline:
            if self.sent != last:
                last, since = self.sent, time.monotonic()
            elif time.monotonic() - since > 1.0:
                return
            time.sleep(0.1)


class Reader:
    """Reads HTTP/1.1 responses with Content-Length from a socket without keeping what it has checked."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.buf = bytearray()

    def _fill(self) -> None:
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise AssertionError("the server closed the connection in the middle of the answers")
        self.buf += chunk

    def response(self) -> tuple[int, dict, bytes]:
        while (end := self.buf.find(b"\r\n\r\n")) < 0:
            self._fill()
        head = bytes(self.buf[:end]).decode("latin-1").split("\r\n")
        del self.buf[:end + 4]
        status = int(head[0].split(" ")[1])
        headers = {}
        for line in head[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers["content-length"])
        while len(self.buf) < length:
            self._fill()
        body = bytes(self.buf[:length])
        del self.buf[:length]
        return status, headers, body


def pipelined_requests(count: int, size: int, pad: int) -> bytes:
    """`count` GETs for /big answers of `size` bytes, each padded to about `pad` bytes with a header."""
    out = []
    for i in range(count):
        req = http_request("GET", f"/big?id={i}&size={size}", headers=[("x-pad", "p" * pad)])
        out.append(req)
    return b"".join(out)


@pytest.mark.parametrize("interface", ["asgi", "wsgi"])
def test_pipelined_requests_for_large_answers_do_not_grow_the_worker(esg_server, interface):
    if interface == "asgi":
        server = esg_server([], app="flow_app:app")
    else:
        server = esg_server(["--interface", "wsgi"], app="flow_wsgi:app")
    pid = wait_workers(server, 1)[0]
    # Warm up: the allocator and the app reach their steady state on a well-behaved connection first.
    with server.connect() as warm:
        for i in range(4):
            warm.send(http_request("GET", f"/big?id={i}&size={ANSWER}"))
            assert warm.read_response().status == 200
    base = rss(pid)

    count = 600  # ~3 MiB of requests for 150 MiB of answers
    data = pipelined_requests(count, ANSWER, 5300)
    assert len(data) > 3 << 20
    sock = socket.create_connection((server.host, server.port), timeout=60)
    sender = Sender(sock, data)
    sender.start()
    sender.wait_stalled()
    peak = base
    for _ in range(20):  # 2 s: what the worker does with what it took
        peak = max(peak, rss(pid))
        time.sleep(0.1)
    assert peak - base < RSS_GROWTH_BOUND, (
        f"worker RSS grew by {(peak - base) >> 20} MiB while a client pipelined {sender.sent} bytes of "
        f"requests and read nothing (bound {RSS_GROWTH_BOUND >> 20} MiB)")
    # Meanwhile another client is answered.
    assert server.get("/small").text == "ok"

    # Reading everything now gets every answer, whole and in order.
    reader = Reader(sock)
    expected = pattern(ANSWER)
    for i in range(count):
        status, headers, body = reader.response()
        assert (status, headers.get("x-id")) == (200, str(i))
        assert body == expected, f"answer {i} differs"
    sender.join(IO_TIMEOUT)
    assert not sender.is_alive() and sender.error is None
    sock.close()
    assert rss(pid) - base < RSS_GROWTH_BOUND


def test_slow_reader_of_a_streamed_answer_makes_send_wait(esg_server, markers):
    server = esg_server([], app="flow_app:app")
    pid = wait_workers(server, 1)[0]
    assert server.get("/small").text == "ok"
    base = rss(pid)
    total = 256 << 20  # far more than the bound: the app only gets ahead by the high-water mark
    sock = socket.create_connection((server.host, server.port), timeout=60)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 << 10)
    sock.sendall(http_request("GET", f"/stream?size={total}&chunk=65536"))
    got = 0
    peak = base
    # Read slowly for a while: 64 KiB every 10 ms at most, so the app keeps outrunning the client.
    for i in range(300):
        chunk = sock.recv(64 << 10)
        assert chunk
        got += len(chunk)
        if i % 20 == 0:
            peak = max(peak, rss(pid))
        time.sleep(0.01)
    assert not (markers / "stream-done").exists(), "the app sent everything without waiting for the client"
    assert peak - base < RSS_GROWTH_BOUND, f"worker RSS grew by {(peak - base) >> 20} MiB"
    assert server.get("/small").text == "ok"
    # Then read everything quickly: the whole answer arrives and the app finishes.
    while True:
        chunk = sock.recv(1 << 20)
        if not chunk:
            break
        got += len(chunk)
        if b"\r\n0\r\n\r\n" in chunk[-16:]:
            break
    assert wait_for_file(markers / "stream-done") == "done"
    sock.close()
    assert rss(pid) - base < RSS_GROWTH_BOUND


def test_a_second_send_while_one_waits_does_not_hang_the_first(esg_server, markers):
    # --timeout-graceful-shutdown: an app left hanging by the defect does not hold the teardown.
    server = esg_server(["--timeout-graceful-shutdown", "2"], app="flow_app:app")
    n, chunk = 64, 65536
    sock = socket.create_connection((server.host, server.port), timeout=30)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 << 10)
    sock.sendall(http_request("GET", f"/two-senders?n={n}&chunk={chunk}"))
    time.sleep(0.5)  # read nothing yet: both tasks' sends end up waiting
    got = b""
    deadline = time.monotonic() + 30
    while not got.endswith(b"\r\n0\r\n\r\n") and time.monotonic() < deadline:
        data = sock.recv(1 << 20)
        if not data:
            break
        got += data
    sock.close()
    assert got.endswith(b"\r\n0\r\n\r\n"), "the response never ended: a send() waiter was lost"
    assert wait_for_file(markers / "two-senders") == "done"
    head, _, body = got.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    payload = b""
    while body:
        line, _, body = body.partition(b"\r\n")
        size = int(line, 16)
        if size == 0:
            break
        payload += body[:size]
        body = body[size + 2:]
    assert payload.count(b"a") == n * chunk and payload.count(b"b") == n * chunk


def test_half_close_after_pipelined_requests_gets_every_answer(esg_server):
    """A client that sends its requests and then its end (shutdown(SHUT_WR)) still gets every answer, in
    order, then the close: requests waiting for output to drain are not dropped, nor is queued output."""
    server = esg_server([], app="flow_app:app")
    count = 40  # 10 MiB of answers: most of them wait for the client to read
    sock = socket.create_connection((server.host, server.port), timeout=IO_TIMEOUT)
    sock.sendall(pipelined_requests(count, ANSWER, 0))
    sock.shutdown(socket.SHUT_WR)
    time.sleep(0.5)  # the server sees the end while answers are still queued
    reader = Reader(sock)
    expected = pattern(ANSWER)
    for i in range(count):
        status, headers, body = reader.response()
        assert (status, headers.get("x-id")) == (200, str(i))
        assert body == expected, f"answer {i} differs"
    assert sock.recv(65536) == b"" and not reader.buf, "bytes after the last answer, or no close"
    sock.close()


# ------------------------------------------------------------------------------------- descriptors


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used (/proc/<pid>/stat utime + stime)."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        stat = f.read()
    fields = stat[stat.rindex(b")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_descriptor_exhaustion_backs_off_and_recovers(esg_server):
    """accept() failing with EMFILE must not spin the worker nor flood the log; serving resumes once
    descriptors are free again."""
    server = esg_server([], app="hello:app")
    pid = wait_workers(server, 1)[0]
    assert server.get("/").status_code == 200
    in_use = len(os.listdir(f"/proc/{pid}/fd"))
    limit = in_use + 16
    _, hard = resource.prlimit(pid, resource.RLIMIT_NOFILE)
    resource.prlimit(pid, resource.RLIMIT_NOFILE, (limit, hard))
    held = []
    try:
        # More connections than the worker can take: the rest wait in the listening socket's backlog.
        for _ in range(40):
            held.append(socket.create_connection((server.host, server.port), timeout=IO_TIMEOUT))
        waiting = socket.create_connection((server.host, server.port), timeout=IO_TIMEOUT)
        waiting.sendall(http_request("GET", "/", headers=[("connection", "close")]))
        time.sleep(0.5)  # the worker meets EMFILE
        lines_before = server.stderr().count("\n")
        cpu_before, wall_before = cpu_seconds(pid), time.monotonic()
        time.sleep(3)
        cpu = cpu_seconds(pid) - cpu_before
        wall = time.monotonic() - wall_before
        lines = server.stderr().count("\n") - lines_before
        # An idle worker uses ~0 s here; a spinning one got 35-100 % of a core (35 % on a loaded machine).
        assert cpu < 0.2 * wall, f"the worker used {cpu:.2f} s of CPU in {wall:.2f} s while out of descriptors"
        assert lines <= 10, f"{lines} log lines in {wall:.1f} s while out of descriptors:\n{server.stderr()[-2000:]}"
        assert "Too many open files" in server.stderr()
    finally:
        for s in held:
            s.close()
    # Descriptors are free again: the connection that waited is answered, and so is a new one.
    waiting.settimeout(IO_TIMEOUT)
    answer = b""
    while chunk := waiting.recv(65536):
        answer += chunk
    waiting.close()
    assert answer.startswith(b"HTTP/1.1 200 ") and answer.endswith(b"Hello, world!")
    assert server.get("/").text == "Hello, world!"
