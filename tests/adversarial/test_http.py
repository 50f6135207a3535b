"""HTTP/1.1 requests: no ambiguity an intermediary could read differently (issue 11 A4, A12-A14, A18).
Smuggling-style framing is answered 400 and nothing after it is parsed as another request; chunk trailers never
become request headers; chunk-extension floods are cut; unusable X-Forwarded-For entries from a trusted proxy
keep the peer address instead of failing the request. Each case ends with the worker unchanged."""

from __future__ import annotations

import json
import select

import pytest

import measure
from esgtest import ConnectionClosed
from measure import MIB, RssWatch, check_same_workers, children, probe

CHUNK_LINE_READ_MAX = 256 * 1024  # bytes of one chunk line the client gets to send before the server refuses
SMUGGLED = b"GET /ok?smuggled HTTP/1.1\r\nHost: s\r\n\r\n"


def rejected_and_nothing_after(server, raw: bytes) -> None:
    """`raw`, followed on the same connection by a complete GET: exactly one answer, 400, then the close —
    the bytes after a framing error are never parsed as another request."""
    with server.connect(timeout=measure.CLOSE_DEADLINE) as conn:
        conn.send(raw + SMUGGLED)
        first = conn.read_response()
        assert first.status == 400, f"{raw!r} was answered {first.status}, not 400:\n{conn.received!r}"
        try:
            second = conn.read_response()
        except ConnectionClosed:
            return
        except AssertionError:
            raise
        raise AssertionError(f"after rejecting {raw!r} the server parsed what followed as another request "
                             f"({second.status}):\n{conn.received!r}")


# ------------------------------------------------------------------------------------------- A12 and A14

SMUGGLING = {
    # A12: the two bytes after chunk data must be CRLF.
    "chunk data not followed by CRLF": b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                                       b"5\r\nhelloXX0\r\n\r\n",
    "chunk data followed by LF only": b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                                      b"5\r\nhello\n0\r\n\r\n",
    # A14
    "bare LF ending the request line": b"GET /ok HTTP/1.1\nHost: a\r\n\r\n",
    "two spaces after the method": b"GET  /ok HTTP/1.1\r\nHost: a\r\n\r\n",
    "obs-fold in Transfer-Encoding": b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n chunked\r\n\r\n"
                                     b"5\r\nhello\r\n0\r\n\r\n",
    "obs-fold in another field": b"GET /ok HTTP/1.1\r\nHost: a\r\nX-Folded: one\r\n two\r\n\r\n",
    "bare CR in the request line": b"GET /ok HTTP/1.1\rHost: a\r\n\r\n",
    "bare CR in the target": b"GET /o\rk HTTP/1.1\r\nHost: a\r\n\r\n",
    "content-length and transfer-encoding": b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n"
                                            b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
}


@pytest.mark.parametrize("name", list(SMUGGLING))
def test_smuggling_framing_is_400_and_nothing_after_it_is_parsed(shared_server, name):
    rejected_and_nothing_after(shared_server, SMUGGLING[name])


# ------------------------------------------------------------------------------------------------------ A13


def test_chunked_trailers_never_become_request_headers(shared_server):
    """A13: trailer fields arriving in the same read as the head are not merged into the scope's headers: a
    trailer X-Forwarded-For does not become the client, a trailer Host is not a second Host, a trailer
    X-Forwarded-Proto does not change the scheme."""
    raw = (b"POST /scope HTTP/1.1\r\nHost: esg.test\r\nTransfer-Encoding: chunked\r\nTrailer: X-Forwarded-For\r\n"
           b"\r\n5\r\nhello\r\n0\r\nX-Forwarded-For: 6.6.6.6\r\nHost: evil.test\r\nX-Forwarded-Proto: https\r\n"
           b"X-Trailer-Only: 1\r\n\r\n")
    with shared_server.connect(timeout=measure.CLOSE_DEADLINE) as conn:
        conn.send(raw)  # one write: the head, the body and the trailers arrive in one read
        resp = conn.read_response()
    assert resp.status == 200, resp.raw
    info = json.loads(resp.body)
    names = [name for name, _ in info["headers"]]
    assert info["client"][0] == "127.0.0.1", f"a trailer X-Forwarded-For became the client: {info['client']}"
    assert info["scheme"] == "http", f"a trailer X-Forwarded-Proto set the scheme: {info['scheme']}"
    assert [v for n, v in info["headers"] if n == "host"] == ["esg.test"], info["headers"]
    assert "x-forwarded-for" not in names and "x-trailer-only" not in names, (
        f"trailer fields appear among the scope's headers: {info['headers']}")


# ------------------------------------------------------------------------------------------------------- A4


def test_chunk_extension_flood_is_cut(esg_server):
    """A4: a chunk line whose extension grows without end (1 MiB sent, 4 KiB at a time) is answered 400 after
    a few KiB at most; the worker does not buffer it (RSS growth bounded)."""
    server = esg_server([])
    [pid] = children(server.proc.pid)
    ext = b";" + b"x" * 4095
    answered = b""
    sent = 0
    with server.connect(timeout=measure.CLOSE_DEADLINE) as conn, RssWatch(pid) as rss:
        conn.send(b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5")
        poller = select.poll()
        poller.register(conn.sock, select.POLLIN | select.POLLRDHUP | select.POLLHUP | select.POLLERR)
        try:
            # A short wait per step, so a loaded machine's slow worker is not outrun by the kernel's buffers
            # (the bound is about what the server reads, not how fast this loop writes).
            while sent < MIB and not poller.poll(200):
                conn.sock.sendall(ext)
                sent += len(ext)
                if sent > CHUNK_LINE_READ_MAX:
                    break
            if sent >= MIB:
                conn.sock.sendall(b"\r\nhello\r\n0\r\n\r\n")
            answered = conn.read_response().raw
        except (ConnectionResetError, BrokenPipeError, ConnectionClosed):
            answered = conn.received
    assert sent <= CHUNK_LINE_READ_MAX, (f"the server took {sent // 1024} KiB of one chunk line without refusing "
                                         f"it (answer: {answered[:60]!r}); bound CHUNK_LINE_READ_MAX")
    # Empty: the server refused and closed while extension bytes were in flight; the reset can discard its 400
    # before the client reads it. Any answer that did arrive must be the 400.
    assert answered == b"" or answered.startswith(b"HTTP/1.1 400 "), (
        f"a chunk line with a {sent // 1024} KiB extension was answered {answered[:60]!r}, not 400")
    rss.check("chunk-extension flood")
    probe(server)
    check_same_workers(server, [pid], "chunk-extension flood")


# ------------------------------------------------------------------------------------------------------ A18

BAD_XFF = {
    "not UTF-8": b"\xff\xfe\xfd",
    "latin-1 letters": b"caf\xe9",
    "not an IP": b"not-an-ip",
    "port out of range": b"203.0.113.9:99999",
    "port not decimal": b"203.0.113.9:0x50",
    "negative port": b"203.0.113.9:-1",
    "empty entries": b", ,",
    "IPv6 garbage": b"[::1::2]:80",
}


def test_unusable_x_forwarded_for_keeps_the_peer(shared_server):
    """A18: from a trusted peer (127.0.0.1 by default), X-Forwarded-For entries that are not valid UTF-8, not
    an IP, or carry an impossible port never fail the request (it was 500 with a traceback): the unusable entry
    is ignored; a client port is always 0-65535."""
    wrong = {}
    for name, value in BAD_XFF.items():
        with shared_server.connect(timeout=measure.CLOSE_DEADLINE) as conn:
            conn.send(b"GET /scope HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: " + value + b"\r\n\r\n")
            resp = conn.read_response()
        if resp.status != 200:
            wrong[name] = f"status {resp.status}"
            continue
        host, port = json.loads(resp.body)["client"]
        if host not in ("127.0.0.1", "203.0.113.9") or not 0 <= port <= 65535:
            wrong[name] = f"client {host}:{port}"
    assert not wrong, f"unusable X-Forwarded-For values mishandled: {wrong}"
    assert not [line for line in shared_server.stderr().splitlines() if "Traceback" in line], (
        shared_server.stderr()[-3000:])


@pytest.mark.parametrize("xfp,scheme", [("wss", "http"), ("ws", "http"), ("https", "https")])
def test_websocket_schemes_in_forwarded_proto_are_ignored_on_http(shared_server, xfp, scheme):
    """A18: an HTTP scope takes only http/https from X-Forwarded-Proto: ws/wss (WebSocket schemes) on a plain
    HTTP request are ignored, so the scheme stays the connection's own (http here), never https by guesswork."""
    with shared_server.connect(timeout=measure.CLOSE_DEADLINE) as conn:
        conn.send(f"GET /scope HTTP/1.1\r\nHost: a\r\nX-Forwarded-Proto: {xfp}\r\n\r\n".encode())
        resp = conn.read_response()
    assert resp.status == 200, resp.raw
    assert json.loads(resp.body)["scheme"] == scheme


def test_request_level_cases_cost_no_restart(shared_server):
    """Runs last in this module: every case above was served by the worker the module started with."""
    probe(shared_server)
    check_same_workers(shared_server, shared_server.initial_workers, "request-level cases")
