"""Strict HTTP/1.1 (RFC 9112): ambiguous or malformed requests are rejected, never repaired.

Every case is sent twice, whole and byte by byte, with a second, well-formed request appended in the same
stream (the smuggling probe). For each one the test asserts the exact status, `connection: close`, that the
server then closes the connection, that the appended request was never parsed (no answer to it, and the app
never saw it), and that the app never saw the malformed request itself: `strict_recorder` logs every request
it is called with. For malformed chunked *bodies* the head was valid, so the app may already have been
called when the body goes wrong; there the assertion is that it never received a complete body (its last
message is http.disconnect).

The cases include the three inputs Debian's llhttp 8.1.0 accepted (DESIGN §3): a chunk-size line ended by
"\\r\\r", a header block ended by "\\r\\n\\rX", an empty header name (llhttp 9.4.3, which ESG now builds
on, rejects them itself), and the cases of issue 11 #4, #12-#17 (request-line syntax, unknown methods,
target forms, Expect, chunk data and chunk-line bounds, chunk extensions, trailers).

Most cases share one server (module fixture) with a unique path per case and mode; a few representative cases
run once per `--loop` through the `serve` fixture.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from esgtest import APPS, STOP_TIMEOUT, ConnectionClosed, exchange, start_esg

APP = "strict_recorder:app"


def _records(markers: Path) -> list[dict]:
    log = markers / "requests.log"
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """One esg (default options) for the whole module; returns (server, markers dir)."""
    workdir = tmp_path_factory.mktemp("strict")
    markers = workdir / "markers"
    markers.mkdir()
    server = start_esg([], app=APP, workdir=workdir, cwd=None, env={"ESG_TEST_MARKERS": str(markers)},
                       app_dir=APPS, pass_fds=(), stdin=None, ready="log", ready_timeout=None, index=0)
    yield server, markers
    code = server.stop()
    assert code is not None, f"esg did not exit within {STOP_TIMEOUT}s of SIGTERM\n{server.describe()}"


def _send_tolerant(conn, data: bytes, bytewise: bool) -> None:
    """Send; the server may close (and reset) as soon as it has seen the error, before all bytes are out."""
    try:
        conn.send(data, bytewise=bytewise)
    except (BrokenPipeError, ConnectionResetError):
        pass


def check_rejected(server, markers: Path, raw: bytes, status: int, *, bytewise: bool, tag: str,
                   body_level: bool = False):
    """Send raw (with {p} replaced by a unique path) + a smuggled request; assert the rejection."""
    bad_path = f"/bad-{tag}"
    smuggled_path = f"/smuggled-{tag}"
    data = raw.replace(b"{p}", bad_path.encode())
    smuggled = f"GET {smuggled_path} HTTP/1.1\r\nHost: esg.test\r\n\r\n".encode()
    with server.connect() as conn:
        _send_tolerant(conn, data + smuggled, bytewise)
        try:
            resp = conn.read_response()
        except ConnectionClosed:
            pytest.fail(f"server closed without answering {data!r} (bytewise={bytewise}); expected {status}\n"
                        f"{server.describe()}", pytrace=False)
        assert resp.status == status, (f"{data!r} (bytewise={bytewise}): expected {status}, got {resp.status}: "
                                       f"{conn.received[:800]!r}")
        assert resp.header("connection") == "close", f"rejection without connection: close: {resp.raw!r}"
        assert conn.closed_by_server(), f"connection left open after {status} for {data!r}"
        assert smuggled_path.encode() not in conn.received, (
            f"the request smuggled after {data!r} was answered: {conn.received!r}")
    # A fresh, valid request: the server still serves, and every record of the earlier ones is written.
    after = exchange(server, f"GET /after-{tag} HTTP/1.1\r\nHost: esg.test\r\n\r\n".encode())
    assert after.status == 200 and after.body == f"seen /after-{tag}".encode(), after.raw
    records = _records(markers)
    smuggled_seen = [r for r in records if r["path"] == smuggled_path]
    assert not smuggled_seen, f"the app was called with the smuggled request after {data!r}: {smuggled_seen}"
    seen = [r for r in records if r["path"].startswith(bad_path)]
    if body_level:
        complete = [r for r in seen if r["stage"] == "end" and r["last"] == "http.request"]
        assert not complete, f"the app received the complete malformed body of {data!r}: {complete}"
    else:
        assert not seen, f"the app was called with the malformed request {data!r}: {seen}"
    return resp


def _post(headers: bytes, body: bytes = b"", version: bytes = b"HTTP/1.1") -> bytes:
    return b"POST {p} " + version + b"\r\nHost: esg.test\r\n" + headers + b"\r\n" + body


def _get_with(header_lines: bytes) -> bytes:
    return b"GET {p} HTTP/1.1\r\nHost: esg.test\r\n" + header_lines + b"\r\n"


CHUNKED = b"Transfer-Encoding: chunked\r\n"

# (id, raw bytes with {p} for the path, expected status, malformed only in the body)
HEAD_CASES = [
    # Content-Length
    ("cl-duplicate-different", _post(b"Content-Length: 5\r\nContent-Length: 6\r\n", b"hello!"), 400),
    ("cl-plus", _post(b"Content-Length: +5\r\n", b"hello"), 400),
    ("cl-two-numbers", _post(b"Content-Length: 5 5\r\n", b"hello"), 400),
    ("cl-list", _post(b"Content-Length: 5, 6\r\n", b"hello!"), 400),
    ("cl-hex", _post(b"Content-Length: 0x5\r\n", b"hello"), 400),
    ("cl-negative", _post(b"Content-Length: -5\r\n", b"hello"), 400),
    ("cl-overflow", _post(b"Content-Length: 99999999999999999999999999\r\n", b"hello"), 400),
    ("cl-empty", _post(b"Content-Length: \r\n", b"hello"), 400),
    # Transfer-Encoding
    ("te-gzip", _post(b"Transfer-Encoding: gzip\r\n", b"hello"), 501),
    ("te-identity", _post(b"Transfer-Encoding: identity\r\n", b"hello"), 501),
    ("te-gzip-chunked", _post(b"Transfer-Encoding: gzip, chunked\r\n", b"5\r\nhello\r\n0\r\n\r\n"), 501),
    ("te-chunked-gzip", _post(b"Transfer-Encoding: chunked, gzip\r\n", b"5\r\nhello\r\n0\r\n\r\n"), 400),
    ("te-chunked-chunked", _post(b"Transfer-Encoding: chunked, chunked\r\n", b"5\r\nhello\r\n0\r\n\r\n"), 400),
    ("te-two-fields-chunked-gzip", _post(CHUNKED + b"Transfer-Encoding: gzip\r\n", b"5\r\nhello\r\n0\r\n\r\n"),
     400),
    ("te-http10", _post(CHUNKED, b"5\r\nhello\r\n0\r\n\r\n", version=b"HTTP/1.0"), 400),
    ("cl-then-te", _post(b"Content-Length: 5\r\n" + CHUNKED, b"5\r\nhello\r\n0\r\n\r\n"), 400),
    ("te-then-cl", _post(CHUNKED + b"Content-Length: 5\r\n", b"5\r\nhello\r\n0\r\n\r\n"), 400),
    ("cl-te-http10", _post(b"Content-Length: 5\r\n" + CHUNKED, b"5\r\nhello\r\n0\r\n\r\n",
                           version=b"HTTP/1.0"), 400),
    # header block and field syntax
    ("head-end-cr-lf-cr-x", b"GET {p} HTTP/1.1\r\nHost: esg.test\r\n\rX", 400),  # llhttp 8.1.0 accepts it
    ("empty-header-name", _get_with(b": x\r\n"), 400),  # llhttp 8.1.0 accepts it
    ("bare-cr-in-name", _get_with(b"X\rY: x\r\n"), 400),
    ("bare-cr-in-value", _get_with(b"X: a\rb\r\n"), 400),
    ("cr-cr-lf-after-value", _get_with(b"X: a\r\r\n"), 400),
    ("nul-in-value", _get_with(b"X: a\x00b\r\n"), 400),
    ("ctl-0x01-in-value", _get_with(b"X: a\x01b\r\n"), 400),
    ("ctl-0x1f-in-value", _get_with(b"X: a\x1fb\r\n"), 400),
    ("del-in-value", _get_with(b"X: a\x7fb\r\n"), 400),
    ("bare-lf-in-value", _get_with(b"X: a\nb: c\r\n"), 400),
    ("bare-lf-line-endings", b"GET {p} HTTP/1.1\nHost: esg.test\nX: y\n\n", 400),
    ("bare-lf-after-header", b"GET {p} HTTP/1.1\r\nHost: esg.test\nX: y\r\n\r\n", 400),
    ("obs-fold-sp", _get_with(b"X: a\r\n b\r\n"), 400),
    ("obs-fold-htab", _get_with(b"X: a\r\n\tb\r\n"), 400),
    ("obs-fold-first-line", b"GET {p} HTTP/1.1\r\n Host: esg.test\r\n\r\n", 400),
    ("space-before-colon", _get_with(b"X : y\r\n"), 400),
    ("tab-before-colon", _get_with(b"X\t: y\r\n"), 400),
    ("space-before-colon-content-length", _post(b"Content-Length : 5\r\n", b"hello"), 400),
    ("non-token-name-paren", _get_with(b"X(y): z\r\n"), 400),
    ("non-token-name-at", _get_with(b"X@y: z\r\n"), 400),
    ("non-token-name-obs-text", _get_with(b"X\xffY: z\r\n"), 400),
    ("name-without-colon", _get_with(b"NoColon\r\n"), 400),
    # Host
    ("http11-missing-host", b"GET {p} HTTP/1.1\r\nX: y\r\n\r\n", 400),
    ("two-host-fields", _get_with(b"Host: other.test\r\n"), 400),
    ("two-host-fields-same-value", _get_with(b"Host: esg.test\r\n"), 400),
    ("host-invalid-value", b"GET {p} HTTP/1.1\r\nHost: esg test\r\n\r\n", 400),  # RFC 9112 3.2: MUST 400
    # versions and request line
    ("http-2.0", b"GET {p} HTTP/2.0\r\nHost: esg.test\r\n\r\n", 505),
    ("http-3.0", b"GET {p} HTTP/3.0\r\nHost: esg.test\r\n\r\n", 505),
    ("http-0.9-simple-request", b"GET {p}\r\n\r\n", 505),
    ("garbage-line", b"HELLO {p}\r\n\r\n", 400),
    ("garbage-no-spaces", b"\x16\x03\x01\x02\x00\x01\x00{p}\r\n\r\n", 400),
    ("lowercase-http-version", b"GET {p} http/1.1\r\nHost: esg.test\r\n\r\n", 400),
    ("non-token-method", b"G(T {p} HTTP/1.1\r\nHost: esg.test\r\n\r\n", 400),
    ("http2-preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 400),
    # request-target bytes
    ("target-space", b"GET {p}/a b HTTP/1.1\r\nHost: esg.test\r\n\r\n", 400),
    ("target-nul", b"GET {p}/a\x00b HTTP/1.1\r\nHost: esg.test\r\n\r\n", 400),
    ("target-ctl-0x01", b"GET {p}/a\x01b HTTP/1.1\r\nHost: esg.test\r\n\r\n", 400),
    ("target-del", b"GET {p}/a\x7fb HTTP/1.1\r\nHost: esg.test\r\n\r\n", 400),
    ("target-bare-cr", b"GET {p}/a\rb HTTP/1.1\r\nHost: esg.test\r\n\r\n", 400),
    ("target-bare-lf", b"GET {p}/a\nb HTTP/1.1\r\nHost: esg.test\r\n\r\n", 400),
    ("target-htab", b"GET {p}/a\tb HTTP/1.1\r\nHost: esg.test\r\n\r\n", 400),
    ("target-obs-text", b"GET {p}/a\xffb HTTP/1.1\r\nHost: esg.test\r\n\r\n", 400),
    # issue 11 #14: request-line syntax (all accepted before, or 505)
    ("request-line-bare-lf", b"GET {p} HTTP/1.1\nHost: esg.test\r\n\r\n", 400),
    ("two-spaces-after-method", b"GET  {p} HTTP/1.1\r\nHost: esg.test\r\n\r\n", 400),
    ("two-spaces-before-version", b"GET {p}  HTTP/1.1\r\nHost: esg.test\r\n\r\n", 400),
    ("bare-cr-before-version", b"GET {p}\r HTTP/1.1\r\nHost: esg.test\r\n\r\n", 400),
    ("bare-cr-after-version", b"GET {p} HTTP/1.1\rHost: esg.test\r\n\r\n", 400),
    ("obs-fold-transfer-encoding", _post(b"Transfer-Encoding:\r\n chunked\r\n", b"5\r\nhello\r\n0\r\n\r\n"), 400),
    ("obs-fold-transfer-encoding-value", _post(b"Transfer-Encoding: chunked\r\n\tx\r\n", b"5\r\nhello\r\n0\r\n\r\n"),
     400),
    # #15: a well-formed method token nobody implements is 501 (RFC 9110 §9.1), not 400
    ("unknown-method-34-letters", b"ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFGH {p} HTTP/1.1\r\nHost: esg.test\r\n\r\n", 501),
    ("unknown-method-known-prefix", b"GETX {p} HTTP/1.1\r\nHost: esg.test\r\n\r\n", 501),
    # #16: "*" is for OPTIONS only; CONNECT (a proxy's method) never reaches an app
    ("asterisk-form-get", b"GET * HTTP/1.1\r\nHost: esg.test\r\n\r\n", 400),
    ("connect", b"CONNECT esg.test:443 HTTP/1.1\r\nHost: esg.test:443\r\n\r\n", 501),
    ("absolute-form-ftp", b"GET ftp://esg.test{p} HTTP/1.1\r\nHost: esg.test\r\n\r\n", 400),
    # #17: any expectation but 100-continue (RFC 9110 §10.1.1)
    ("expect-unknown", _post(b"Expect: 200-ok\r\nContent-Length: 5\r\n", b"hello"), 417),
]

BODY_CASES = [
    ("chunk-size-non-hex", _post(CHUNKED, b"zz\r\nhello\r\n0\r\n\r\n"), 400),
    ("chunk-size-0x-prefix", _post(CHUNKED, b"0x5\r\nhello\r\n0\r\n\r\n"), 400),
    ("chunk-size-negative", _post(CHUNKED, b"-5\r\nhello\r\n0\r\n\r\n"), 400),
    ("chunk-size-trailing-space", _post(CHUNKED, b"5 \r\nhello\r\n0\r\n\r\n"), 400),
    ("chunk-size-overflow", _post(CHUNKED, b"fffffffffffffffffffff\r\nhello\r\n0\r\n\r\n"), 400),
    ("chunk-data-missing-crlf", _post(CHUNKED, b"5\r\nhelloX0\r\n\r\n"), 400),
    ("chunk-data-bare-lf", _post(CHUNKED, b"5\r\nhello\n0\r\n\r\n"), 400),
    ("chunk-size-line-bare-lf", _post(CHUNKED, b"5\nhello\r\n0\r\n\r\n"), 400),
    ("chunk-size-line-cr-cr", _post(CHUNKED, b"5\r\rhello\r\n0\r\n\r\n"), 400),  # llhttp 8.1.0 accepts it
    ("last-chunk-line-cr-cr", _post(CHUNKED, b"5\r\nhello\r\n0\r\r\n\r\n"), 400),
    ("chunk-extension-bare-cr", _post(CHUNKED, b"5;a\rb\r\nhello\r\n0\r\n\r\n"), 400),
    ("trailer-space-before-colon", _post(CHUNKED, b"5\r\nhello\r\n0\r\nX : y\r\n\r\n"), 400),
    # issue 11 #12: the two bytes after chunk data must be CRLF (200 before)
    ("chunk-data-then-xx", _post(CHUNKED, b"5\r\nhelloXX0\r\n\r\n"), 400),
    ("chunk-data-then-cr-x", _post(CHUNKED, b"5\r\nhello\rX0\r\n\r\n"), 400),
    # #4: a chunk-size line (size + extensions) is at most 4096 bytes (no bound before)
    ("chunk-extension-8k", _post(CHUNKED, b"5;n=" + b"v" * 8192 + b"\r\nhello\r\n0\r\n\r\n"), 400),
    ("chunk-extension-many", _post(CHUNKED, b"5" + b";a" * 3000 + b"\r\nhello\r\n0\r\n\r\n"), 400),
]

MODES = [pytest.param(False, id="whole"), pytest.param(True, id="bytewise")]


@pytest.mark.parametrize("bytewise", MODES)
@pytest.mark.parametrize("name,raw,status", [pytest.param(*c, id=c[0]) for c in HEAD_CASES])
def test_malformed_head_is_rejected(shared, name, raw, status, bytewise):
    server, markers = shared
    check_rejected(server, markers, raw, status, bytewise=bytewise, tag=f"{name}-{int(bytewise)}")


@pytest.mark.parametrize("bytewise", MODES)
@pytest.mark.parametrize("name,raw,status", [pytest.param(*c, id=c[0]) for c in BODY_CASES])
def test_malformed_chunked_body_is_rejected(shared, name, raw, status, bytewise):
    server, markers = shared
    check_rejected(server, markers, raw, status, bytewise=bytewise, tag=f"{name}-{int(bytewise)}",
                   body_level=True)


# The three llhttp 8.1.0 gaps and a framing conflict, once per --loop (the checks must not depend on the loop).
LOOP_CASES = [c for c in HEAD_CASES + BODY_CASES
              if c[0] in ("head-end-cr-lf-cr-x", "empty-header-name", "chunk-size-line-cr-cr", "cl-then-te")]


@pytest.mark.parametrize("bytewise", MODES)
@pytest.mark.parametrize("name,raw,status", [pytest.param(*c, id=c[0]) for c in LOOP_CASES])
def test_llhttp_gaps_rejected_on_both_loops(serve, markers, name, raw, status, bytewise):
    server = serve(APP)
    check_rejected(server, markers, raw, status, bytewise=bytewise, tag=f"{name}-{int(bytewise)}",
                   body_level=name.startswith("chunk"))


# ------------------------------------------------------------------------------ what must still be accepted
ACCEPTED = [
    # RFC 9112 2.2: a server SHOULD ignore at least one empty line before the request-line.
    ("leading-empty-line", b"\r\nGET {p} HTTP/1.1\r\nHost: esg.test\r\n\r\n", 0),
    # Transfer codings are case-insensitive.
    ("te-Chunked-mixed-case", _post(b"Transfer-Encoding: Chunked\r\n", b"5\r\nhello\r\n0\r\n\r\n"), 5),
    # OWS around a field value is not part of it.
    ("content-length-leading-ows", _post(b"Content-Length: \t 5 \r\n", b"hello"), 5),
    ("content-length-trailing-htab", _post(b"Content-Length: 5\t\r\n", b"hello"), 5),
    ("http10-without-host", b"GET {p} HTTP/1.0\r\n\r\n", 0),
    ("trailer-field", _post(CHUNKED, b"5\r\nhello\r\n0\r\nX-Trailer: y\r\n\r\n"), 5),
    # Browsers send these unencoded in query strings; nginx and uvicorn accept them.
    ("query-braces-pipe-caret", b"GET {p}?q={a}|b^c HTTP/1.1\r\nHost: esg.test\r\n\r\n", 0),
    # issue 11 #15: chunk extensions are ignored (400 before), "chunked" OWS CRLF is chunked
    ("chunk-extensions", _post(CHUNKED, b'5;name=value;q="x y"\r\nhello\r\n1;a\r\n!\r\n0;z=1\r\n\r\n'), 6),
    ("te-chunked-trailing-sp", _post(b"Transfer-Encoding: chunked  \r\n", b"5\r\nhello\r\n0\r\n\r\n"), 5),
    ("te-chunked-trailing-htab", _post(b"Transfer-Encoding: chunked\t\r\n", b"5\r\nhello\r\n0\r\n\r\n"), 5),
    ("te-chunked-trailing-sp-htab", _post(b"Transfer-Encoding: chunked \t\r\n", b"5\r\nhello\r\n0\r\n\r\n"), 5),
    # #14: an empty Host is valid when the target has no authority (RFC 9112 §3.2)
    ("empty-host", b"GET {p} HTTP/1.1\r\nHost:\r\n\r\n", 0),
    # #16: absolute-form gives the app the path (and the query, see test_absolute_form_target)
    ("absolute-form", b"GET http://esg.test{p} HTTP/1.1\r\nHost: esg.test\r\n\r\n", 0),
    ("options-asterisk-then-get", b"OPTIONS * HTTP/1.1\r\nHost: esg.test\r\n\r\nGET {p} HTTP/1.1\r\nHost: esg.test\r\n\r\n",
     0),
]


@pytest.mark.parametrize("bytewise", MODES)
@pytest.mark.parametrize("name,raw,body_len", [pytest.param(*c, id=c[0]) for c in ACCEPTED])
def test_valid_edge_cases_are_accepted(shared, name, raw, body_len, bytewise):
    server, markers = shared
    path = f"/ok-{name}-{int(bytewise)}"
    with server.connect() as conn:
        conn.send(raw.replace(b"{p}", path.encode()), bytewise=bytewise)
        resp = conn.read_response()
        if raw.startswith(b"OPTIONS *"):  # the app answers the OPTIONS request first
            assert resp.status == 200, resp.raw
            resp = conn.read_response()
    assert resp.status == 200, resp.raw
    assert resp.body == b"seen " + path.encode()
    [end] = [r for r in _records(markers) if r["path"] == path and r["stage"] == "end"]
    assert end["last"] == "http.request" and end["body_len"] == body_len


def test_rejection_after_a_valid_keep_alive_request(shared):
    """A valid request, then a malformed one on the same connection: the first is answered, the second is
    rejected with a close, and a third request pipelined behind it is never parsed."""
    server, markers = shared
    with server.connect() as conn:
        conn.send(b"GET /ka-first HTTP/1.1\r\nHost: esg.test\r\n\r\n"
                  b"GET /ka-bad HTTP/1.1\r\nHost: esg.test\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxy"
                  b"GET /ka-third HTTP/1.1\r\nHost: esg.test\r\n\r\n")
        first = conn.read_response()
        assert first.status == 200 and first.body == b"seen /ka-first"
        second = conn.read_response()
        assert second.status == 400 and second.header("connection") == "close"
        assert conn.closed_by_server()
        assert b"/ka-third" not in conn.received
    exchange(server, b"GET /ka-sync HTTP/1.1\r\nHost: esg.test\r\n\r\n")
    paths = {r["path"] for r in _records(markers)}
    assert "/ka-first" in paths and "/ka-bad" not in paths and "/ka-third" not in paths


def test_server_survives_a_reset_after_a_malformed_request(shared):
    """The client resets the connection right after a malformed head; the worker keeps serving."""
    server, _ = shared
    conn = server.connect()
    conn.send(b"GET / HTTP/1.1\r\nHost: a\r\n: x\r\n\r\n")
    conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    conn.close()
    resp = exchange(server, b"GET /after-reset HTTP/1.1\r\nHost: esg.test\r\n\r\n")
    assert resp.status == 200 and resp.body == b"seen /after-reset"


@pytest.mark.parametrize("bytewise", MODES)
def test_absolute_form_target(shared, bytewise):
    """Issue 11 #16: `GET http://host/p?q` gives the app path /p and query q (RFC 9112 §3.2.2); the Host
    field stays what the client sent."""
    server, markers = shared
    path = f"/abs-{int(bytewise)}"
    with server.connect() as conn:
        conn.send(f"GET HTTP://other.test:8080{path}?q=1&r HTTP/1.1\r\nHost: esg.test\r\n\r\n".encode(),
                  bytewise=bytewise)
        resp = conn.read_response()
    assert resp.status == 200 and resp.body == b"seen " + path.encode(), resp.raw
    [start] = [r for r in _records(markers) if r["path"] == path and r["stage"] == "start"]
    assert start["query"] == "q=1&r"
    assert start["headers"] == [["host", "esg.test"]]


@pytest.mark.parametrize("bytewise", MODES)
def test_trailers_never_reach_the_app(shared, bytewise):
    """Issue 11 #13: trailer fields of a chunked request were merged into the scope's headers when the
    request arrived in one read (a trailer X-Forwarded-For became the client address, a trailer Host a
    second Host). They are dropped; the pipelined request behind is served normally."""
    server, markers = shared
    path = f"/trailers-{int(bytewise)}"
    raw = (f"POST {path} HTTP/1.1\r\nHost: esg.test\r\nTransfer-Encoding: chunked\r\n\r\n"
           "5\r\nhello\r\n0\r\nX-Forwarded-For: 203.0.113.9\r\nHost: evil.test\r\nX-Trailer: t\r\n\r\n"
           f"GET {path}-next HTTP/1.1\r\nHost: esg.test\r\n\r\n").encode()
    with server.connect() as conn:
        conn.send(raw, bytewise=bytewise)
        first = conn.read_response()
        second = conn.read_response()
    assert first.status == 200 and first.body == b"seen " + path.encode(), first.raw
    assert second.status == 200 and second.body == f"seen {path}-next".encode(), second.raw
    records = [r for r in _records(markers) if r["path"] == path]
    assert records and all(r["headers"] == [["host", "esg.test"], ["transfer-encoding", "chunked"]]
                           for r in records), records
    [end] = [r for r in records if r["stage"] == "end"]
    assert end["body_len"] == 5 and end["last"] == "http.request"


def test_trailer_section_is_bounded(shared):
    """Issue 11 #13: a trailer section counts against the header limits (here: more than 100 fields)."""
    server, markers = shared
    fields = b"".join(b"T-%d: v\r\n" % i for i in range(101))
    check_rejected(server, markers, _post(CHUNKED, b"5\r\nhello\r\n0\r\n" + fields + b"\r\n"), 431,
                   bytewise=False, tag="trailer-fields", body_level=True)
