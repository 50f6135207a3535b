"""A streamed response chunk reaches the client as soon as the app has sent it and yielded to the loop.

ESG may defer a more_body chunk to the end of the loop turn (so that what one task sends before it yields
leaves in one write), never longer: an app that sends events and then waits for the client to have read them
must not wait forever. Each case is decided by ordering alone: the client releases the app only after it has
read the step's events, so an event held back until the app's next one (or until the loop idles) makes the
client's read fail after IO_TIMEOUT with a message naming the event. For both loops:

- receive: the app waits on receive() for a request-body chunk the client sends after reading (its task is
  suspended on a future);
- spin: the app polls for a marker file with `await asyncio.sleep(0)` (its task is always ready, so the loop
  never goes idle: a flush "before the loop sleeps" would never come);
- several events sent in one step all arrive before the client releases the app.

With --coalesce-streams a stream that sends in consecutive loop turns is written every other turn: the same
cases with the step's events sent one loop turn apart (the last one is held for a turn, then written without
waiting for a next event), every event of streams sending in every turn arrives, and the worker's write
system calls per event (/proc/PID/io) halve against the default.

And the bound of the deferral: clients that never read streams of small chunks (deferred while several
requests are in flight) do not grow the worker, and the apps' send() waits (the write high-water mark counts
deferred bytes).
"""

import socket
import time

import pytest

from esgtest import IO_TIMEOUT, http_request
from test_flow_control import RSS_GROWTH_BOUND, rss
from test_supervision import wait_workers


class EventReader:
    """Reads a chunked text/event-stream answer on `conn`, event by event (an event ends with a blank line)."""

    def __init__(self, conn):
        self.conn = conn
        self.wire = b""      # bytes received, not yet decoded from the chunked framing
        self.payload = b""   # decoded body bytes not yet returned as events
        self.head = None
        self.ended = False

    def _decode(self):
        if self.head is None:
            head, sep, rest = self.wire.partition(b"\r\n\r\n")
            if not sep:
                return
            self.head, self.wire = head, rest
        while True:
            line, sep, rest = self.wire.partition(b"\r\n")
            if not sep:
                return
            size = int(line.split(b";")[0], 16)
            if size == 0:
                if rest.startswith(b"\r\n"):
                    self.ended = True
                    self.wire = rest[2:]
                return
            if len(rest) < size + 2:
                return
            assert rest[size:size + 2] == b"\r\n", f"bad chunk framing: {self.wire[:200]!r}"
            self.payload += rest[:size]
            self.wire = rest[size + 2:]

    def _fill(self, waiting_for: str):
        self.conn.sock.settimeout(IO_TIMEOUT)
        try:
            data = self.conn.sock.recv(65536)
        except ConnectionResetError:
            pytest.fail(f"the server reset the connection before {waiting_for}", pytrace=False)
        except socket.timeout:
            pytest.fail(f"{waiting_for} did not reach the client within {IO_TIMEOUT}s while the app waits for "
                        f"the client to read it: the server held it back (got so far: {self.payload[-200:]!r})",
                        pytrace=False)
        assert data, f"the server closed the connection before {waiting_for}"
        self.wire += data
        self._decode()

    def event(self, expected: bytes) -> None:
        while b"\n\n" not in self.payload:
            self._fill(f"event {expected!r}")
        event, _, self.payload = self.payload.partition(b"\n\n")
        assert event == expected, f"expected event {expected!r}, got {event!r}"

    def end(self) -> None:
        while not self.ended:
            self._fill("the end of the answer")
        assert self.payload == b"", f"bytes after the last event: {self.payload!r}"


STREAMS = 4  # concurrent answers: the worker defers chunks only with several requests in flight (4 by default)
STEPS = 4


@pytest.mark.parametrize("per_step", [1, 3])
def test_events_reach_clients_the_app_waits_for_on_receive(serve, per_step):
    server = serve("sse_app:app")
    conns = [server.connect() for _ in range(STREAMS)]
    try:
        for conn in conns:
            conn.send(http_request("POST", f"/events?n={STEPS}&per_step={per_step}&wait=receive",
                                   headers=[("Transfer-Encoding", "chunked")]))
        readers = [EventReader(conn) for conn in conns]
        for step in range(STEPS):
            for reader in readers:
                for j in range(per_step):
                    reader.event(b"data: %d.%d" % (step, j))
            # Only now does each app get the body chunk it waits for (the last one ends the body).
            for conn in conns:
                conn.send(b"1\r\nx\r\n" + (b"0\r\n\r\n" if step == STEPS - 1 else b""))
        for reader in readers:
            reader.end()
            assert reader.head.startswith(b"HTTP/1.1 200")
    finally:
        for conn in conns:
            conn.close()


@pytest.mark.parametrize("per_step, coalesce", [(1, False), (3, False), (2, True), (3, True)])
def test_events_reach_clients_while_the_apps_keep_the_loop_busy(serve, markers, per_step, coalesce):
    # coalesce: the step's events go out one loop turn apart, so the last one of each step is held for a turn
    server = serve("sse_app:app", *(["--coalesce-streams"] if coalesce else []))
    conns = [server.connect() for _ in range(STREAMS)]
    try:
        for i, conn in enumerate(conns):
            conn.send(http_request("GET", f"/events?n={STEPS}&per_step={per_step}&wait=spin&id={i}"
                                   + ("&yield=1" if coalesce else "")))
        readers = [EventReader(conn) for conn in conns]
        for step in range(STEPS):
            for i, reader in enumerate(readers):
                for j in range(per_step):
                    reader.event(b"data: %d.%d" % (step, j))
                (markers / f"read-{i}-{step}").write_text("1")  # releases that app's next step
        for reader in readers:
            reader.end()
            assert reader.head.startswith(b"HTTP/1.1 200")
    finally:
        for conn in conns:
            conn.close()


def write_syscalls(pid: int) -> int:
    """The write system calls (write, writev, send...) process `pid` made so far (/proc/PID/io syscw)."""
    with open(f"/proc/{pid}/io") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("syscw:"))


BURST_EVENTS = 200


def read_bursts(conns) -> None:
    """Reads the /burst answers on `conns` whole, checking every event."""
    readers = [EventReader(conn) for conn in conns]
    for i in range(BURST_EVENTS):
        for reader in readers:
            reader.event(b"data: %04d %s" % (i, b"x" * 88))
    for reader in readers:
        reader.end()
        assert reader.head.startswith(b"HTTP/1.1 200")


@pytest.mark.parametrize("coalesce", [False, True])
def test_coalescing_halves_the_writes_of_streams_sending_every_turn(esg_server, coalesce):
    server = esg_server(["--no-access-log"] + (["--coalesce-streams"] if coalesce else []), app="sse_app:app")
    pid = wait_workers(server, 1)[0]
    before = write_syscalls(pid)
    conns = [server.connect() for _ in range(STREAMS)]
    try:
        for conn in conns:  # the app starts the answers together once all STREAMS requests are in
            conn.send(http_request("GET", f"/burst?n={BURST_EVENTS}&together={STREAMS}"))
        read_bursts(conns)
    finally:
        for conn in conns:
            conn.close()
    per_event = (write_syscalls(pid) - before) / (STREAMS * BURST_EVENTS)
    if coalesce:
        assert per_event < 0.7, f"{per_event:.2f} writes per event: streams sending every turn were not coalesced"
    else:
        assert per_event > 0.9, f"{per_event:.2f} writes per event without --coalesce-streams: events were held"


def test_uvloops_clock_is_read_after_each_flush_that_wrote(esg_server):
    # uvloop computes its poll timeout from a clock cached at the start of the iteration: a flush that wrote
    # reads it afresh, or timers due during the wait fire as late as the writes took (flush_scheduler.h).
    server = esg_server(["--loop", "uvloop", "--no-access-log"], app="sse_app:app")
    assert server.get("/clock-reads?start=1").text == "0"
    conns = [server.connect() for _ in range(STREAMS)]
    try:
        for conn in conns:
            conn.send(http_request("GET", f"/burst?n={BURST_EVENTS}&together={STREAMS}"))
        read_bursts(conns)
    finally:
        for conn in conns:
            conn.close()
    reads = int(server.get("/clock-reads").text)
    # One flush per loop turn while the STREAMS answers stream together, one event each per turn.
    assert BURST_EVENTS // 2 <= reads <= 2 * BURST_EVENTS, f"{reads} clock reads for {BURST_EVENTS} turns of writes"


@pytest.mark.parametrize("coalesce", [False, True])
def test_never_reading_clients_of_small_chunk_streams_do_not_grow_the_worker(esg_server, markers, coalesce):
    server = esg_server(["--coalesce-streams"] if coalesce else [], app="flow_app:app")
    pid = wait_workers(server, 1)[0]
    assert server.get("/small").text == "ok"
    base = rss(pid)
    total = 256 << 20  # per stream, far more than the bound: each app only gets ahead by the high-water mark
    socks = []
    try:
        for _ in range(STREAMS):
            sock = socket.create_connection((server.host, server.port), timeout=IO_TIMEOUT)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 << 10)
            sock.sendall(http_request("GET", f"/stream?size={total}&chunk=4096"))
            socks.append(sock)
        # Read nothing for a while (bounded): the apps run until their send() waits.
        peak = base
        for _ in range(30):
            time.sleep(0.1)
            peak = max(peak, rss(pid))
        assert not (markers / "stream-done").exists(), "an app sent everything although its client reads nothing"
        assert peak - base < RSS_GROWTH_BOUND, f"worker RSS grew by {(peak - base) >> 20} MiB"
        assert server.get("/small").text == "ok"
    finally:
        for sock in socks:
            sock.close()
