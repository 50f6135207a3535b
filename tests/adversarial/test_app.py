"""Nothing an app does may crash the worker or reach the wire invalid (issue 11 A10, A11): exceptions whose
text cannot be encoded (lone surrogates) or cannot even be formatted, and response starts with ambiguous or
impossible framing or status. Every case is followed by a pipelined GET /ok on the same connection, so a
response that ends where its framing does not say is caught by the next answer; and every test ends with the
same worker pid serving (no crash, no restart)."""

from __future__ import annotations

import time

import pytest

import measure
from esgtest import ConnectionClosed, Response
from measure import check_same_workers, children, probe

OK = b"GET /ok HTTP/1.1\r\nHost: app\r\n\r\n"


def then_ok(server, target: str, head: bool = False) -> tuple[Response, Response | None]:
    """GET `target` and a pipelined GET /ok; returns both answers (None when the server closed after the
    first, which it may do after an error)."""
    with server.connect(timeout=measure.CLOSE_DEADLINE) as conn:
        conn.send(f"GET {target} HTTP/1.1\r\nHost: app\r\n\r\n".encode() + OK)
        try:
            first = conn.read_response(head=head)
        except (ValueError, AssertionError) as e:
            conn.closed_by_server(1.0)
            raise AssertionError(f"invalid response on the wire for {target}: {e}\n{conn.received!r}") from None
        try:
            second = conn.read_response()
        except ConnectionClosed:
            second = None
        if second is not None:
            assert second.status == 200 and second.body == b"ok", (
                f"the answer after {target} is not the pipelined /ok's: the first response's framing lied\n"
                f"{conn.received!r}")
        return first, second


# ------------------------------------------------------------------------------------------------------ A10


@pytest.mark.parametrize("kind", ["surrogate", "surrogate-repr", "bad-str", "surrogate-args"])
def test_app_exception_that_cannot_be_encoded_is_logged_safely(esg_server, kind):
    """A10: an exception holding lone surrogates (os.fsdecode of a bad file name), or whose __str__/__repr__
    raise, is answered 500 before the response starts and ends the response after it started; the worker logs
    it and lives on (same pid)."""
    server = esg_server([])
    [pid] = children(server.proc.pid)
    try:
        first, second = then_ok(server, f"/raise?kind={kind}")
    except ConnectionClosed:
        time.sleep(0.5)
        raise AssertionError(f"the connection closed without an answer: the worker died? workers {pid} -> "
                             f"{children(server.proc.pid)}\n{server.stderr()[-2500:]}") from None
    assert first.status == 500, first.raw
    with server.connect(timeout=measure.CLOSE_DEADLINE) as conn:
        conn.send(f"GET /raise?kind={kind}&when=after HTTP/1.1\r\nHost: app\r\n\r\n".encode())
        resp = conn.read_response()
        assert resp.status == 200 and not resp.complete, "an exception after the start must cut the response"
    probe(server)
    check_same_workers(server, [pid], f"app exception ({kind})")
    assert server.wait_for_output(r"Exception in ASGI application", timeout=measure.CLOSE_DEADLINE)


# ------------------------------------------------------------------------------------------------------ A11


@pytest.mark.parametrize("case", ["cl-te", "te-cl", "two-cl"])
def test_app_framing_headers_reach_the_wire_unambiguous(esg_server, case):
    """A11: an app sending both content-length and transfer-encoding (or two content-lengths) must not put
    an ambiguous response on the wire (toward nginx): exactly one framing, or 500 before anything is sent."""
    server = esg_server([])
    [pid] = children(server.proc.pid)
    first, _ = then_ok(server, f"/frame?case={case}")
    te = first.header_all("transfer-encoding")
    cl = first.header_all("content-length")
    assert first.status == 500 or (len(te) + len(cl) == 1), (
        f"{case}: response framing is ambiguous: transfer-encoding {te}, content-length {cl}\n{first.raw!r}")
    check_same_workers(server, [pid], case)


def test_app_chunked_header_with_one_body_message(esg_server):
    """An app that sets `transfer-encoding: chunked` itself and sends its body in one message: the response is
    valid chunking ("5\\r\\nhello\\r\\n0\\r\\n\\r\\n"). Found by the ASan run: HttpStream::SendBody filled five
    iovecs (head, chunk-size line, data, CRLF, last-chunk) into `struct iovec iov[4]`, a stack-buffer-overflow
    that garbled the chunk-size line on the normal build."""
    server = esg_server([])
    [pid] = children(server.proc.pid)
    first, second = then_ok(server, "/frame?case=te-single")
    assert first.status == 200 and first.chunked and first.body == b"hello", first.raw
    assert second is not None
    check_same_workers(server, [pid], "app-chunked single body message")


INVALID_STATUSES = ["status-600", "status-99", "status-0", "status-negative", "status-huge", "status-str",
                    "status-none", "status-103", "status-101"]


def test_app_invalid_status_is_answered_500(esg_server):
    """A11: a status outside 100-599, one that is not an int or does not fit one, and a 1xx status as a final
    answer are never emitted: the client gets 500 (one server, every case on its own connection)."""
    server = esg_server([])
    [pid] = children(server.proc.pid)
    wrong = {}
    for case in INVALID_STATUSES:
        first, _ = then_ok(server, f"/frame?case={case}")
        if first.status != 500:
            wrong[case] = first.raw[:120]
    assert not wrong, f"invalid app statuses that were not answered 500: {wrong}"
    check_same_workers(server, [pid], "invalid statuses")


@pytest.mark.parametrize("case", ["cl-204", "cl-204-body", "te-204", "cl-304"])
def test_no_body_statuses_keep_the_framing(esg_server, case):
    """A11: content-length/transfer-encoding on 204 (RFC 9110 §8.6 forbids them), a body on 204, and
    content-length on 304: no body bytes reach the wire, 204 carries no framing header, and the pipelined
    /ok behind it is read as its own answer."""
    server = esg_server([])
    [pid] = children(server.proc.pid)
    first, second = then_ok(server, f"/frame?case={case}")
    if first.status == 204:
        assert not first.has("content-length") and not first.has("transfer-encoding"), first.raw
    else:
        assert first.status in (304, 500), first.raw
    if first.status != 500:  # after an error answer the server may close; otherwise it must go on
        assert second is not None, "the server closed instead of answering the pipelined request"
    check_same_workers(server, [pid], case)


def test_header_list_mutated_while_read(esg_server):
    """A11: a header list that grows, shrinks and lies about its length while send() reads it: a 200 or
    500, no crash, no garbage on the wire (the pipelined /ok still parses)."""
    server = esg_server([])
    [pid] = children(server.proc.pid)
    first, _ = then_ok(server, "/frame?case=mutating-headers")
    assert first.status in (200, 500), first.raw
    check_same_workers(server, [pid], "mutating header list")


def test_second_send_during_a_backpressure_wait_does_not_hang(esg_server, markers):
    """A11: while one send() waits on backpressure (8 MiB, the client not reading yet), a second send()
    from another task: both return (either may raise) once the client reads; neither hangs."""
    server = esg_server([])
    [pid] = children(server.proc.pid)
    race = markers / "race"
    with server.connect(timeout=measure.CLOSE_DEADLINE) as conn:
        conn.send(b"GET /race HTTP/1.1\r\nHost: app\r\n\r\n")
        time.sleep(1.0)  # the first send() is now waiting on backpressure
        deadline = time.monotonic() + measure.CLOSE_DEADLINE
        while not race.exists() and time.monotonic() < deadline:  # read everything the server sends
            try:
                if not conn._fill(0.2):
                    break
            except OSError:
                pass
        got = len(conn.received)
        assert race.exists(), (f"the client read all {got} bytes sent, yet the app's two concurrent send() "
                               f"calls had not both returned after CLOSE_DEADLINE: a backpressure waiter hangs")
    outcomes = race.read_text().split(",")
    assert len(outcomes) == 2 and all(outcomes), outcomes
    probe(server)
    check_same_workers(server, [pid], "concurrent send during backpressure")
