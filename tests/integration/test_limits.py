"""Limits and timeouts through the `esg` command.

--limit-request-line (414), --limit-request-fields / --limit-request-field-size / --limit-request-head-size
(431), --limit-request-body
(413 decided from Content-Length before the body is read, and for chunked bodies once the sum exceeds it),
--timeout-request-header (408 or close; slowloris), --timeout-keep-alive, --limit-concurrency (503 at once,
never queued), --limit-max-requests (the worker is recycled, requests keep being served),
--timeout-graceful-shutdown (SIGTERM with a request stuck forever).

Rejections are sent whole and byte by byte with a smuggled request behind them (see test_strict_http.py's
check_rejected): exact status, `connection: close`, the connection closed, the smuggled request never parsed,
the app never called with the rejected request.
"""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import httpx
import pytest

from esgtest import IO_TIMEOUT, exchange, wait_for_file
from test_strict_http import MODES, check_rejected

REC = "strict_recorder:app"
LIM = "lim_app:app"


def _records(markers: Path) -> list[dict]:
    log = markers / "requests.log"
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


def request_line(n: int, path_prefix: str) -> bytes:
    """A request line of exactly n bytes (CRLF not counted): GET <prefix>aaa... HTTP/1.1."""
    fixed = len(f"GET {path_prefix} HTTP/1.1")
    assert n >= fixed
    line = f"GET {path_prefix}{'a' * (n - fixed)} HTTP/1.1".encode()
    assert len(line) == n
    return line


def accepted(server, markers: Path, raw: bytes, path: str, *, bytewise: bool) -> None:
    with server.connect() as conn:
        conn.send(raw, bytewise=bytewise)
        resp = conn.read_response()
    assert resp.status == 200, resp.raw
    assert resp.body == b"seen " + path.encode(), resp.raw
    assert any(r["path"] == path for r in _records(markers))


# ------------------------------------------------------------------------------------- request line (414)


@pytest.mark.parametrize("bytewise", MODES)
def test_request_line_at_the_limit_is_accepted(esg_server, markers, bytewise):
    server = esg_server(["--limit-request-line", "100"], app=REC)
    line = request_line(100, "/at-limit-")
    path = line.split(b" ")[1].decode()
    accepted(server, markers, line + b"\r\nHost: esg.test\r\n\r\n", path, bytewise=bytewise)


@pytest.mark.parametrize("bytewise", MODES)
@pytest.mark.parametrize("length", [101, 111, 400])
def test_request_line_over_the_limit_is_414(esg_server, markers, length, bytewise):
    """The help text: "Maximum size in bytes of the request line; longer lines get HTTP 414"."""
    server = esg_server(["--limit-request-line", "100"], app=REC)
    tag = f"line{length}-{int(bytewise)}"
    # {p} is replaced by /bad-<tag>; the line is padded to exactly `length` bytes after that replacement.
    fixed = len(f"GET /bad-{tag} HTTP/1.1")
    raw = b"GET {p}" + b"a" * (length - fixed) + b" HTTP/1.1\r\nHost: esg.test\r\n\r\n"
    check_rejected(server, markers, raw, 414, bytewise=bytewise, tag=tag)


# --------------------------------------------------------------------------------- header fields (431)


@pytest.mark.parametrize("bytewise", MODES)
def test_header_count_at_the_limit_is_accepted(esg_server, markers, bytewise):
    server = esg_server(["--limit-request-fields", "5"], app=REC)
    fields = b"Host: esg.test\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(4))
    accepted(server, markers, b"GET /five HTTP/1.1\r\n" + fields + b"\r\n", "/five", bytewise=bytewise)


@pytest.mark.parametrize("bytewise", MODES)
@pytest.mark.parametrize("count", [6, 500])
def test_too_many_header_fields_is_431(esg_server, markers, count, bytewise):
    server = esg_server(["--limit-request-fields", "5"], app=REC)
    fields = b"Host: esg.test\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(count - 1))
    check_rejected(server, markers, b"GET {p} HTTP/1.1\r\n" + fields + b"\r\n", 431, bytewise=bytewise,
                   tag=f"fields{count}-{int(bytewise)}")


def _field_line(n: int, name: bytes = b"X-Long") -> bytes:
    """A header line of exactly n bytes, CRLF not counted: 'X-Long: vvv...'."""
    line = name + b": " + b"v" * (n - len(name) - 2)
    assert len(line) == n
    return line


@pytest.mark.parametrize("bytewise", MODES)
def test_header_line_at_the_limit_is_accepted(esg_server, markers, bytewise):
    server = esg_server(["--limit-request-field-size", "100"], app=REC)
    raw = b"GET /field-at-limit HTTP/1.1\r\nHost: esg.test\r\n" + _field_line(100) + b"\r\n\r\n"
    accepted(server, markers, raw, "/field-at-limit", bytewise=bytewise)


@pytest.mark.parametrize("bytewise", MODES)
@pytest.mark.parametrize("what,line", [
    pytest.param("line-101", _field_line(101), id="line-101"),
    pytest.param("line-103", _field_line(103), id="line-103"),
    pytest.param("value-5000", _field_line(5000), id="value-5000"),
    pytest.param("name-300", b"X-" + b"n" * 298 + b": v", id="name-300"),
])
def test_header_line_over_the_limit_is_431(esg_server, markers, what, line, bytewise):
    """The help text: "Maximum size in bytes of one request header line; longer ones get HTTP 431"."""
    server = esg_server(["--limit-request-field-size", "100"], app=REC)
    raw = b"GET {p} HTTP/1.1\r\nHost: esg.test\r\n" + line + b"\r\n\r\n"
    check_rejected(server, markers, raw, 431, bytewise=bytewise, tag=f"{what}-{int(bytewise)}")


# ---------------------------------------------------------------------------------- whole head (431)


@pytest.mark.parametrize("bytewise", MODES)
def test_64_fields_of_2k_is_431_by_default(esg_server, markers, bytewise):
    """Issue 11 #17: 64 fields of 2 KB (each within --limit-request-field-size) were accepted: 128 KiB of
    head per request. The default --limit-request-head-size (32768, nginx's 4 x 8k) answers 431."""
    server = esg_server([], app=REC)
    fields = b"Host: esg.test\r\n" + b"".join(b"X-%d: %s\r\n" % (i, b"v" * 2000) for i in range(64))
    check_rejected(server, markers, b"GET {p} HTTP/1.1\r\n" + fields + b"\r\n", 431, bytewise=bytewise,
                   tag=f"head-128k-{int(bytewise)}")


def _head_of(n: int, path: str) -> bytes:
    """A request head of exactly n bytes, the final CRLF CRLF included."""
    start = f"GET {path} HTTP/1.1\r\nHost: esg.test\r\nX-Pad: ".encode()
    head = start + b"p" * (n - len(start) - 4) + b"\r\n\r\n"
    assert len(head) == n
    return head


@pytest.mark.parametrize("bytewise", MODES)
def test_head_at_the_limit_is_accepted_and_one_byte_more_is_431(esg_server, markers, bytewise):
    server = esg_server(["--limit-request-head-size", "300"], app=REC)
    path = f"/head-at-limit-{int(bytewise)}"
    accepted(server, markers, _head_of(300, path), path, bytewise=bytewise)
    tag = f"head-301-{int(bytewise)}"
    raw = _head_of(301, f"/bad-{tag}").replace(f"/bad-{tag}".encode(), b"{p}")
    check_rejected(server, markers, raw, 431, bytewise=bytewise, tag=tag)


@pytest.mark.parametrize("value", ["0", "-1", "abc", "1.5"])
def test_bad_limit_request_head_size_exits_2_naming_the_option(run_esg, value):
    result = run_esg(["--limit-request-head-size", value, "lim_app:app"])
    assert result.returncode == 2, result
    assert "--limit-request-head-size" in result.stderr, result.stderr


def test_limit_request_head_size_is_in_help(run_esg):
    result = run_esg(["--help"])
    assert result.returncode == 0
    assert "--limit-request-head-size INTEGER" in result.stdout and "[default: 32768]" in result.stdout


# ----------------------------------------------------------------------------------------- body (413)


@pytest.mark.parametrize("bytewise", MODES)
def test_body_at_the_limit_is_accepted(esg_server, markers, bytewise):
    server = esg_server(["--limit-request-body", "10"], app=REC)
    raw = b"POST /ten HTTP/1.1\r\nHost: esg.test\r\nContent-Length: 10\r\n\r\n0123456789"
    accepted(server, markers, raw, "/ten", bytewise=bytewise)
    raw = (b"POST /ten-chunked HTTP/1.1\r\nHost: esg.test\r\nTransfer-Encoding: chunked\r\n\r\n"
           b"5\r\n01234\r\n5\r\n56789\r\n0\r\n\r\n")
    accepted(server, markers, raw, "/ten-chunked", bytewise=bytewise)
    [end] = [r for r in _records(markers) if r["path"] == "/ten-chunked" and r["stage"] == "end"]
    assert end["last"] == "http.request" and end["body_len"] == 10


@pytest.mark.parametrize("bytewise", MODES)
def test_content_length_over_the_limit_is_413_and_app_not_called(esg_server, markers, bytewise):
    server = esg_server(["--limit-request-body", "10"], app=REC)
    raw = b"POST {p} HTTP/1.1\r\nHost: esg.test\r\nContent-Length: 11\r\n\r\n0123456789A"
    check_rejected(server, markers, raw, 413, bytewise=bytewise, tag=f"cl11-{int(bytewise)}")


@pytest.mark.parametrize("bytewise", MODES)
def test_413_is_decided_from_content_length_before_the_body_is_sent(esg_server, markers, bytewise):
    """Only the head is sent: the 413 arrives without waiting for (or reading) the body."""
    server = esg_server(["--limit-request-body", "10"], app=REC)
    with server.connect() as conn:
        conn.send(b"POST /huge HTTP/1.1\r\nHost: esg.test\r\nContent-Length: 10000000000\r\n\r\n", bytewise=bytewise)
        resp = conn.read_response()
        assert resp.status == 413 and resp.header("connection") == "close", resp.raw
        assert conn.closed_by_server()
    exchange(server, b"GET /sync HTTP/1.1\r\nHost: esg.test\r\n\r\n")
    assert not [r for r in _records(markers) if r["path"] == "/huge"]


def test_expect_100_continue_over_the_limit_gets_413_not_100(esg_server, markers):
    server = esg_server(["--limit-request-body", "10"], app=REC)
    with server.connect() as conn:
        conn.send(b"POST /expect HTTP/1.1\r\nHost: esg.test\r\nContent-Length: 1000\r\nExpect: 100-continue\r\n\r\n")
        resp = conn.read_response()
        assert resp.status == 413, f"expected 413 before any 100 Continue, got {conn.received!r}"
        assert conn.closed_by_server()
        assert b"100 Continue" not in conn.received
    exchange(server, b"GET /sync HTTP/1.1\r\nHost: esg.test\r\n\r\n")
    assert not [r for r in _records(markers) if r["path"] == "/expect"]


@pytest.mark.parametrize("bytewise", MODES)
@pytest.mark.parametrize("chunks", [(b"abcdef", b"abcdef"), (b"0123456789A",), (b"a",) * 11],
                         ids=["6+6", "11", "11x1"])
def test_chunked_body_over_the_limit_is_413(esg_server, markers, chunks, bytewise):
    """The head is valid, so the app may already be running; it must never get the complete body."""
    server = esg_server(["--limit-request-body", "10"], app=REC)
    body = b"".join(f"{len(c):x}\r\n".encode() + c + b"\r\n" for c in chunks) + b"0\r\n\r\n"
    raw = b"POST {p} HTTP/1.1\r\nHost: esg.test\r\nTransfer-Encoding: chunked\r\n\r\n" + body
    check_rejected(server, markers, raw, 413, bytewise=bytewise, tag=f"chunked{len(chunks)}-{int(bytewise)}",
                   body_level=True)


# ------------------------------------------------------------------------------ request-header deadline


@pytest.mark.parametrize("partial", [
    b"GET /stall HT",
    b"GET /stall HTTP/1.1\r\nHost: esg.test\r\n",
    b"POST /stall HTTP/1.1\r\nHost: esg.test\r\nContent-Len",
], ids=["in-request-line", "before-empty-line", "in-field-name"])
def test_stalled_head_gets_408_and_close(esg_server, markers, partial):
    server = esg_server(["--timeout-request-header", "1"], app=REC)
    start = time.monotonic()
    with server.connect() as conn:
        conn.send(partial)
        resp = conn.read_response()
        assert resp.status == 408, resp.raw
        assert resp.header("connection") == "close"
        assert conn.closed_by_server()
    assert time.monotonic() - start < 10, "the 1 s header deadline took more than 10 s"
    exchange(server, b"GET /sync HTTP/1.1\r\nHost: esg.test\r\n\r\n")
    assert not [r for r in _records(markers) if r["path"].startswith("/stall")]


def test_slowloris_one_byte_every_200ms_is_cut_off(esg_server, markers):
    """The deadline is cumulative for the whole head: steady trickling does not extend it."""
    server = esg_server(["--timeout-request-header", "1.5"], app=REC)
    head = b"GET /slowloris HTTP/1.1\r\nHost: esg.test\r\n" + b"X-Pad: " + b"p" * 500  # never finished
    start = time.monotonic()
    cut_off = None
    conn = server.connect()
    try:
        for i in range(len(head)):
            try:
                conn.send(head[i:i + 1])
            except (BrokenPipeError, ConnectionResetError):
                cut_off = time.monotonic() - start
                break
            if time.monotonic() - start > 20:
                break
            # Stop trickling once the server has answered or closed.
            try:
                if not conn._fill(timeout=0.2):
                    cut_off = time.monotonic() - start
                    break
                cut_off = time.monotonic() - start
                break
            except TimeoutError:
                pass
        assert cut_off is not None, "a client trickling one byte per 0.2 s was still connected after 20 s"
        assert cut_off < 10, f"cut off only after {cut_off:.1f}s with --timeout-request-header 1.5"
        if conn.received:  # 408 is allowed; anything else is not
            assert conn.received.startswith(b"HTTP/1.1 408 "), conn.received
        assert conn.closed_by_server()
    finally:
        conn.close()
    exchange(server, b"GET /sync HTTP/1.1\r\nHost: esg.test\r\n\r\n")
    assert not [r for r in _records(markers) if r["path"] == "/slowloris"]


def test_slow_but_timely_head_is_served(esg_server, markers):
    server = esg_server(["--timeout-request-header", "5"], app=REC)
    raw = b"GET /slow-ok HTTP/1.1\r\nHost: esg.test\r\n\r\n"
    with server.connect() as conn:
        for i in range(len(raw)):
            conn.send(raw[i:i + 1])
            time.sleep(0.02)
        resp = conn.read_response()
    assert resp.status == 200 and resp.body == b"seen /slow-ok"


# ------------------------------------------------------------------------------------------- keep-alive


def test_idle_keep_alive_connection_is_closed(esg_server):
    server = esg_server(["--timeout-keep-alive", "1"], app=REC)
    with server.connect() as conn:
        conn.send(b"GET /ka HTTP/1.1\r\nHost: esg.test\r\n\r\n")
        resp = conn.read_response()
        assert resp.status == 200 and resp.header("connection") != "close"
        start = time.monotonic()
        assert conn.closed_by_server(timeout=10), "idle keep-alive connection not closed within 10 s"
        assert time.monotonic() - start < 10
        assert conn.buf == b"", f"unexpected bytes before the close: {conn.buf!r}"


def test_keep_alive_connection_survives_within_the_timeout(esg_server):
    server = esg_server(["--timeout-keep-alive", "30"], app=REC)
    with server.connect() as conn:
        conn.send(b"GET /ka1 HTTP/1.1\r\nHost: esg.test\r\n\r\n")
        assert conn.read_response().body == b"seen /ka1"
        assert not conn.closed_by_server(timeout=2.5), "closed after 2.5 s idle with --timeout-keep-alive 30"
        conn.send(b"GET /ka2 HTTP/1.1\r\nHost: esg.test\r\n\r\n")
        assert conn.read_response().body == b"seen /ka2"


# ------------------------------------------------------------------------------------- concurrency (503)


def _start_block(server, ident: str):
    conn = server.connect()
    conn.send(f"GET /block?id={ident} HTTP/1.1\r\nHost: esg.test\r\n\r\n".encode())
    return conn


def test_limit_concurrency_answers_503_at_once_and_never_queues(serve, markers):
    server = serve(LIM, "--limit-concurrency", "2")
    blocked = [_start_block(server, "1"), _start_block(server, "2")]
    try:
        wait_for_file(markers / "blocked-1")
        wait_for_file(markers / "blocked-2")
        # Nothing is released until the 503 has arrived: a queued request would never be answered here.
        for attempt in range(3):
            with server.connect() as conn:
                conn.send(f"GET /over-{attempt} HTTP/1.1\r\nHost: esg.test\r\n\r\n".encode())
                resp = conn.read_response()
                assert resp.status == 503, resp.raw
                assert resp.header("connection") == "close"
                assert conn.closed_by_server()
        (markers / "release-1").touch()
        (markers / "release-2").touch()
        for i, conn in enumerate(blocked, 1):
            resp = conn.read_response()
            assert resp.status == 200 and resp.body == f"released {i}".encode()
    finally:
        for conn in blocked:
            conn.close()
    # Capacity is back once the blocked requests are done.
    resp = exchange(server, b"GET /after HTTP/1.1\r\nHost: esg.test\r\n\r\n")
    assert resp.status == 200 and resp.body == b"ok /after 0"
    assert not [r for r in _records(markers) if r["path"].startswith("/over-")], "a 503'd request reached the app"


def test_limit_concurrency_counts_requests_not_idle_connections(esg_server, markers):
    """DESIGN §2: limit in-flight requests, never hold a permit per connection."""
    server = esg_server(["--limit-concurrency", "1", "--timeout-keep-alive", "30"], app=LIM)
    idle = [server.connect() for _ in range(3)]
    keep = server.connect()
    try:
        keep.send(b"GET /first HTTP/1.1\r\nHost: esg.test\r\n\r\n")
        assert keep.read_response().status == 200
        for i in range(3):
            resp = exchange(server, f"GET /n{i} HTTP/1.1\r\nHost: esg.test\r\n\r\n".encode())
            assert resp.status == 200, f"idle connections used up --limit-concurrency 1: {resp.raw!r}"
        keep.send(b"GET /second HTTP/1.1\r\nHost: esg.test\r\n\r\n")
        assert keep.read_response().status == 200
    finally:
        for conn in idle + [keep]:
            conn.close()


# ------------------------------------------------------------------------------------------ max requests


def _get_pid(server, i) -> int:
    with httpx.Client(base_url=server.base_url, trust_env=False, timeout=IO_TIMEOUT) as client:
        try:
            r = client.get("/pid")
        except httpx.HTTPError as exc:
            pytest.fail(f"request {i} failed while the worker was recycled: {exc!r}\n{server.describe()}",
                        pytrace=False)
    assert r.status_code == 200, r.text
    return int(r.text)


def test_limit_max_requests_single_worker_is_replaced_and_requests_keep_being_served(esg_server, markers):
    """One worker, --limit-max-requests 3: the master starts a replacement, drains the old worker, and every
    request in between is served (DESIGN §3: the replacement is started first)."""
    server = esg_server(["--limit-max-requests", "3"], app=LIM)
    first = [_get_pid(server, i) for i in range(3)]
    assert len(set(first)) == 1, first
    old = first[0]
    server.wait_for_output(rf"Worker \[{old}\] served \d+ requests \(--limit-max-requests\)", timeout=15)
    served_meanwhile = []
    deadline = time.monotonic() + 15
    while True:  # keep requesting while the replacement starts: nothing may fail
        pid = _get_pid(server, len(first) + len(served_meanwhile))
        served_meanwhile.append(pid)
        if pid != old:
            break
        assert time.monotonic() < deadline, f"worker {old} still serving 15 s after reaching the limit"
        time.sleep(0.05)
    new = served_meanwhile[-1]
    server.wait_for_output(rf"Worker \[{old}\] \(generation \d+\) stopped \(exit code 0\)", timeout=15)
    assert _get_pid(server, 99) != old
    assert server.alive()
    assert new != old


# --------------------------------------------------------------------------------------- graceful timeout


def test_timeout_graceful_shutdown_cancels_a_stuck_request(esg_server, markers):
    server = esg_server(["--timeout-graceful-shutdown", "2"], app=LIM)
    conn = server.connect()
    try:
        conn.send(b"GET /hang HTTP/1.1\r\nHost: esg.test\r\n\r\n")
        deadline = time.monotonic() + IO_TIMEOUT
        while not list(markers.glob("hang-*")):
            assert time.monotonic() < deadline, "the app never started /hang"
            time.sleep(0.02)
        hang = list(markers.glob("hang-*"))[0]
        pid = hang.name.split("-", 1)[1]
        start = time.monotonic()
        server.send_signal(signal.SIGTERM)
        code = server.wait(timeout=15)
        elapsed = time.monotonic() - start
        assert code is not None, f"esg still running 15 s after SIGTERM with --timeout-graceful-shutdown 2\n" \
                                 f"{server.describe()}"
        assert code == 0, server.describe()
        assert elapsed >= 1.5, f"exited after {elapsed:.1f}s, before the 2 s grace period"
        # The client gets no response for the cancelled request, only a close.
        assert conn.closed_by_server(timeout=5)
    finally:
        conn.close()
    err = server.stderr()
    assert "timeout graceful shutdown exceeded" in err, err
    assert "Cancel 1 running" in err, err
    # The app's request was cancelled (CancelledError inside the app), not just dropped with the loop.
    assert (markers / f"cancelled-{pid}").exists(), (
        f"the stuck request never saw asyncio.CancelledError\n{server.describe()}")


def test_esg_run_keyword_limit_request_head_size_becomes_the_flag():
    """esg.run(limit_request_head_size=N) hands the native CLI --limit-request-head-size N (esg.config)."""
    import subprocess

    from deploy_support import env_for, python

    code = ("import json, esg.config as c; print(json.dumps([c.DEFAULTS['limit_request_head_size'], "
            "c.cli_args(dict(limit_request_head_size=300))]))")
    proc = subprocess.run([python(), "-c", code], env=env_for(), capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == [32768, ["--limit-request-head-size", "300"]]
