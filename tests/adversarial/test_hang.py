"""Nothing a client does may hang or spin a worker (issue 11 A6-A8): a permessage-deflate message ending the
deflate stream, descriptor exhaustion under a low RLIMIT_NOFILE, 426 answers that must close, and slowloris.
Each checks the worker's CPU share during the attack (not pinned) and a parallel client's answer; loops and
waits are bounded so an unfixed build fails instead of hanging."""

from __future__ import annotations

import resource
import socket
import time
import zlib

import measure
from measure import (Prober, RssWatch, check_idle, check_not_pinned, check_same_workers, children, open_fds,
                     probe)
from wsraw import KEY, frame, handshake, read_frame

LOG_FLOOD_MAX = 64 * 1024  # bytes of server log per BUSY_WINDOW while descriptors are exhausted


# ------------------------------------------------------------------------------------------------------ A6


def test_deflate_message_ending_the_stream_does_not_spin(esg_server):
    """A6: a compressed message made with Z_FINISH (a final deflate block, legal per RFC 7692) is decoded or
    closed 1007 — the inflater must not loop at 100 % CPU while nobody else is served."""
    server = esg_server(["--timeout-worker-healthcheck", "8"])
    [pid] = children(server.proc.pid)
    conn, resp = handshake(server, extra=b"Sec-WebSocket-Extensions: permessage-deflate\r\n")
    assert resp.status == 101
    assert "permessage-deflate" in (resp.header("sec-websocket-extensions") or ""), resp.raw
    text = b"final block " * 20
    deflater = zlib.compressobj(6, zlib.DEFLATED, -15)
    data = deflater.compress(text) + deflater.flush(zlib.Z_FINISH)
    conn.send(frame(1, data, rsv=0x40))
    check_not_pinned(pid, "permessage-deflate message ending the deflate stream")
    probe(server)
    answer = read_frame(conn, measure.CLOSE_DEADLINE)
    assert answer is not None, "the server dropped the connection without an answer or a close frame"
    opcode, rsv1, payload = answer
    if opcode == 8:
        code = int.from_bytes(payload[:2], "big")
        assert code == 1007, f"closed with {code}; a message the server cannot inflate is 1007"
    else:
        assert opcode == 1, answer
        if rsv1:
            payload = zlib.decompressobj(-15).decompress(payload + b"\x00\x00\xff\xff")
        assert payload == text
    conn.close()
    check_same_workers(server, [pid], "permessage-deflate final block")


# ------------------------------------------------------------------------------------------------------ A7


def test_descriptor_exhaustion_backs_off_and_recovers(esg_server):
    """A7: with RLIMIT_NOFILE a few descriptors above what the worker uses, 40 idle clients exhaust it.
    accept() failing with EMFILE must not spin the worker nor flood the log, and once the clients leave the
    worker serves again."""
    server = esg_server(["--timeout-keep-alive", "30"])
    [pid] = children(server.proc.pid)
    in_use = open_fds(pid)
    hard = resource.prlimit(pid, resource.RLIMIT_NOFILE)[1]
    resource.prlimit(pid, resource.RLIMIT_NOFILE, (in_use + 8, hard))
    holders = []
    try:
        for _ in range(40):
            holders.append(socket.create_connection((server.host, server.port), timeout=5))
        time.sleep(0.5)
        log_before = len(server.stderr_bytes()) + len(server.stdout_bytes())
        check_not_pinned(pid, f"accept() at EMFILE (RLIMIT_NOFILE {in_use + 8}, 40 clients)")
        logged = len(server.stderr_bytes()) + len(server.stdout_bytes()) - log_before
        assert logged <= LOG_FLOOD_MAX, (f"{logged} bytes of log in {measure.BUSY_WINDOW}s at EMFILE; bound "
                                         f"LOG_FLOOD_MAX = {LOG_FLOOD_MAX}:\n{server.stderr()[-1500:]}")
    finally:
        for sock in holders:
            sock.close()
    # Descriptors are free again: the worker resumes (after at most its back-off interval).
    measure.wait_until(lambda: _answers(server), 5.0 * measure.SLOWDOWN, "serving again after EMFILE")
    probe(server)
    check_idle(pid, "after EMFILE")
    check_same_workers(server, [pid], "EMFILE")


def _answers(server) -> bool:
    try:
        probe(server, deadline=1.0 * measure.SLOWDOWN)
        return True
    except AssertionError:
        return False


# ------------------------------------------------------------------------------------------------------ A8


def test_426_answers_close_their_connections(esg_server):
    """A8: an unsupported Sec-WebSocket-Version gets 426 with `connection: close`, and the connection is then
    closed. 50 clients send their upgrade at once (the sequential case happened to close), three rounds; every
    connection must be closed within CLOSE_DEADLINE of its round."""
    server = esg_server([])
    [pid] = children(server.proc.pid)
    upgrade = (f"GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               f"Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 12\r\n\r\n").encode()
    for round_ in range(3):
        conns = [server.connect() for _ in range(50)]
        try:
            for c in conns:
                c.send(upgrade)
            for c in conns:
                resp = c.read_response()
                assert resp.status == 426, resp.raw
                assert (resp.header("connection") or "").lower() == "close", resp.raw
                assert "13" in (resp.header("sec-websocket-version") or ""), resp.raw
            deadline = time.monotonic() + measure.CLOSE_DEADLINE
            still_open = [c for c in conns if not c.closed_by_server(max(0.01, deadline - time.monotonic()))]
            assert len(still_open) == 0, (f"round {round_ + 1}: {len(still_open)} of {len(conns)} connections answered "
                                    f"426 + connection: close were still open after CLOSE_DEADLINE = "
                                    f"{measure.CLOSE_DEADLINE}s")
        finally:
            for c in conns:
                c.close()
    check_same_workers(server, [pid], "426")


# ------------------------------------------------------------------------------------------------ slowloris


def test_slowloris_is_cut_by_the_header_deadline_while_others_are_served(esg_server):
    """50 clients send a request head one byte every 0.3 s: a parallel client is still answered within
    AVAILABILITY_DEADLINE, the worker is not pinned, and --timeout-request-header 2 closes every slow head."""
    server = esg_server(["--timeout-request-header", "2"])
    [pid] = children(server.proc.pid)
    conns = [socket.create_connection((server.host, server.port), timeout=5) for _ in range(50)]
    for c in conns:
        c.sendall(b"GET /ok HTTP/1.1\r\nHost: slow\r\n")
    closed = set()
    with Prober(server) as prober, RssWatch(pid) as rss:
        start, cpu_start = time.monotonic(), measure.cpu_seconds(pid)
        limit = 2 + measure.CLOSE_DEADLINE
        while len(closed) < len(conns) and time.monotonic() - start < limit:
            for i, c in enumerate(conns):
                if i in closed:
                    continue
                try:
                    c.sendall(b"X")
                    c.setblocking(False)
                    try:
                        data = c.recv(4096)
                        if not data or data.startswith(b"HTTP/1.1 408"):
                            closed.add(i)
                    except BlockingIOError:
                        pass
                    finally:
                        c.setblocking(True)
                except OSError:
                    closed.add(i)
            time.sleep(0.3)
        share = (measure.cpu_seconds(pid) - cpu_start) / (time.monotonic() - start)
    for c in conns:
        c.close()
    rss.check("slowloris")
    prober.check("slowloris")
    assert len(closed) == len(conns), (f"{len(conns) - len(closed)} of {len(conns)} slow request heads were still "
                                       f"open after --timeout-request-header 2 + CLOSE_DEADLINE")
    assert share < measure.BUSY_CPU_MAX, f"slowloris: worker used {share:.0%} CPU; bound BUSY_CPU_MAX"
    check_idle(pid, "after slowloris")
    check_same_workers(server, [pid], "slowloris")

