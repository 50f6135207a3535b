"""ASGI `receive` and `send` behaviour, for `--loop asyncio` and `--loop uvloop`.

receive: the body is streamed (the app sees the first chunk before the client sent the rest), http.request
messages carry more_body, and an app waiting on receive() after the body gets http.disconnect when the client
closes. send strictness: an unknown message type, a body before the start, a second start, a str body, a body
after the response is complete and a header value with CR/LF are app bugs — the server answers 500 when nothing
was sent yet (or aborts the connection without a complete-looking success), logs an error, never puts the
injected header on the wire, and keeps serving.
"""

import json

import pytest

from esgtest import ConnectionClosed, exchange, http_request, wait_for_file

# ------------------------------------------------------------------------------------------------- receive


def test_content_length_body_is_streamed_to_app(serve, markers):
    server = serve("echo_body:app")
    with server.connect() as conn:
        conn.send(http_request("POST", "/first-chunk", headers=[("Content-Length", "12")]) + b"first")
        # The app must see 'first' (more_body=True) while the rest of the body has not been sent.
        assert wait_for_file(markers / "first-chunk") == "first"
        conn.send(b"+second")
        resp = conn.read_response()
    assert resp.status == 200 and resp.body == b"first+second"
    flags = json.loads(resp.header("x-more"))
    assert flags[0] is True and flags[-1] is False


def test_app_starts_before_any_body_byte_arrives(serve, markers):
    # The app of a request with a body starts once the bytes already read are parsed; with none of the
    # body read yet it must start at once (a client may wait for the response before sending more).
    server = serve("echo_body:app")
    with server.connect() as conn:
        conn.send(http_request("POST", "/started", headers=[("Content-Length", "5")]))
        assert wait_for_file(markers / "started") == "1"
        conn.send(b"hello")
        resp = conn.read_response()
    assert resp.status == 200 and resp.body == b"hello"


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_body_sent_with_its_head_is_whole_in_the_first_receive(serve, framing):
    server = serve("echo_body:app")
    body = b"x" * 3000
    if framing == "chunked":
        request = http_request("POST", "/", headers=[("Transfer-Encoding", "chunked")]) + b"bb8\r\n" + body \
            + b"\r\n0\r\n\r\n"
    else:
        request = http_request("POST", "/", headers=[("Content-Length", str(len(body)))]) + body
    with server.connect() as conn:
        conn.send(request + request)  # two pipelined requests in one write: each is answered whole
        first, second = conn.read_response(), conn.read_response()
    for resp in (first, second):
        assert resp.status == 200 and resp.body == body
        assert resp.header("x-messages") == "1" and json.loads(resp.header("x-more")) == [False]


def test_chunked_body_is_streamed_to_app(serve, markers):
    server = serve("echo_body:app")
    with server.connect() as conn:
        conn.send(http_request("POST", "/first-chunk", headers=[("Transfer-Encoding", "chunked")])
                  + b"5\r\nfirst\r\n")
        assert wait_for_file(markers / "first-chunk") == "first"
        conn.send(b"7\r\n+second\r\n0\r\n\r\n")
        resp = conn.read_response()
    assert resp.status == 200 and resp.body == b"first+second"
    flags = json.loads(resp.header("x-more"))
    assert flags[0] is True and flags[-1] is False and all(flags[:-1])


def test_http_disconnect_after_client_closes(serve, markers):
    server = serve("disconnect:app")
    conn = server.connect()
    conn.send(http_request("POST", "/?id=1", body=b"payload"))
    wait_for_file(markers / "waiting-1")
    conn.close()
    assert wait_for_file(markers / "disconnect-1") == "http.disconnect"


def test_http_disconnect_when_client_closes_mid_body(serve, markers):
    server = serve("echo_body:app")
    conn = server.connect()
    conn.send(http_request("POST", "/first-chunk", headers=[("Content-Length", "100")]) + b"first")
    wait_for_file(markers / "first-chunk")
    conn.close()
    # The app's next receive() must not hang forever; the server keeps serving other clients.
    resp = exchange(server, http_request("POST", "/", body=b"next"))
    assert (resp.status, resp.body) == (200, b"next")


# ---------------------------------------------------------------------------------------------------- send


def _assert_failed_safely(server, path, message_fragment=None):
    """500 if the server could still answer, else an aborted connection; then an ERROR log and more service."""
    with server.connect() as conn:
        conn.send(http_request("GET", path))
        try:
            resp = conn.read_response()
        except ConnectionClosed:
            resp = None
        if resp is not None:
            assert resp.status == 500 or not resp.complete, f"{path}: {resp.raw!r}"
    server.wait_for_output(r"^ERROR:", "stderr")
    if message_fragment:
        server.wait_for_output(message_fragment, "stderr")
    ok = exchange(server, http_request("GET", "/ok"))
    assert (ok.status, ok.body) == (200, b"ok")
    return resp


def test_unknown_message_type_gives_500(serve):
    server = serve("bad_send:app")
    resp = _assert_failed_safely(server, "/wrong-type")
    assert resp is not None and resp.status == 500


def test_body_before_start_gives_500(serve):
    server = serve("bad_send:app")
    resp = _assert_failed_safely(server, "/body-first")
    assert resp is not None and resp.status == 500


def test_start_twice_is_handled_safely(serve):
    server = serve("bad_send:app")
    resp = _assert_failed_safely(server, "/start-twice")
    if resp is not None and resp.status != 500:
        assert b"twice" not in resp.body


def test_str_body_is_handled_safely(serve):
    server = serve("bad_send:app")
    resp = _assert_failed_safely(server, "/str-body")
    if resp is not None:
        assert b"not bytes" not in resp.body


def test_body_after_complete_response(serve, markers):
    server = serve("bad_send:app")
    with server.connect() as conn:
        conn.send(http_request("GET", "/after-complete"))
        resp = conn.read_response()
        assert (resp.status, resp.body) == (200, b"complete")
        # Whatever the server does with the extra message, it must not put it on the wire as a response.
        conn.send(http_request("GET", "/ok"))
        try:
            nxt = conn.read_response()
        except ConnectionClosed:
            nxt = None
    if nxt is not None:
        assert (nxt.status, nxt.body) == (200, b"ok"), nxt.raw
    wait_for_file(markers / "after-complete")
    assert b"extra bytes" not in conn.received
    ok = exchange(server, http_request("GET", "/ok"))
    assert ok.status == 200


def test_header_value_with_crlf_is_not_sent(serve):
    server = serve("bad_send:app")
    with server.connect() as conn:
        conn.send(http_request("GET", "/header-injection"))
        try:
            resp = conn.read_response()
        except ConnectionClosed:
            resp = None
    assert b"x-injected" not in conn.received.lower()
    if resp is not None:
        assert resp.status == 500, resp.raw
    ok = exchange(server, http_request("GET", "/ok"))
    assert ok.status == 200


@pytest.mark.parametrize("path", ["/wrong-type", "/body-first", "/start-twice", "/str-body"])
def test_keep_alive_connection_survives_or_closes_cleanly_after_send_error(serve, path):
    server = serve("bad_send:app")
    with server.connect() as conn:
        conn.send(http_request("GET", path))
        try:
            first = conn.read_response()
        except ConnectionClosed:
            return  # closing the connection is a safe answer
        if first.status != 500 or not first.complete or first.header("connection") == "close":
            return
        conn.send(http_request("GET", "/ok"))
        try:
            second = conn.read_response()
        except ConnectionClosed:
            return
        assert (second.status, second.body) == (200, b"ok")


def test_receive_after_a_cancelled_receive(serve):
    # A receive() cancelled while it waits (asyncio.wait_for timing out) is over: the next receive() is
    # accepted and waits, instead of failing with "another receive() is still waiting".
    server = serve("fw_current_task:app")
    assert server.get("/receive-again").json() == {"first": "timeout", "second": "pending"}


def test_body_arriving_after_a_cancelled_receive_is_kept(serve, markers):
    # The body comes after a receive() waiting for it was cancelled: it must reach the next receive(),
    # not be taken for the cancelled one and dropped.
    server = serve("fw_current_task:app")
    with server.connect() as conn:
        conn.send(http_request("POST", "/body-after-cancel", headers=[("Content-Length", "10")]))
        assert wait_for_file(markers / "body-after-cancel") == "timeout"
        conn.send(b"0123456789")
        resp = conn.read_response()
    assert resp.status == 200 and json.loads(resp.body) == {"first": "timeout", "body": "0123456789"}


def test_receive_after_response_returns_disconnect(serve, markers):
    server = serve("disconnect:app")
    with server.connect() as conn:
        conn.send(http_request("GET", "/after-response?id=2"))
        resp = conn.read_response()
        assert (resp.status, resp.body) == (200, b"done")
        # The connection stays open; the app's receive() must still complete (with http.disconnect).
        assert wait_for_file(markers / "disconnect-2") == "http.disconnect"


def test_content_length_shorter_than_body_never_leaks_bytes(serve):
    server = serve("bad_send:app")
    with server.connect() as conn:
        conn.send(http_request("GET", "/cl-too-long"))
        try:
            resp = conn.read_response()
        except ConnectionClosed:
            resp = None  # closing without a response is safe too
        if resp is not None and resp.status != 500:
            assert resp.body == b"01234"[:len(resp.body)], resp.raw
            # The extra bytes must not be on the wire, where they would start the "next response".
            assert conn.closed_by_server(), "connection left open after a body longer than Content-Length"
            assert conn.buf == b"", f"bytes beyond Content-Length were sent: {conn.buf!r}"
    server.wait_for_output(r"^ERROR:", "stderr")
    assert exchange(server, http_request("GET", "/ok")).status == 200


def test_content_length_longer_than_body_is_aborted(serve):
    server = serve("bad_send:app")
    with server.connect() as conn:
        conn.send(http_request("GET", "/cl-too-short"))
        try:
            resp = conn.read_response()
        except ConnectionClosed:
            resp = None
        if resp is not None and resp.status != 500:
            assert not resp.complete, f"short body presented as complete: {conn.received!r}"
    server.wait_for_output(r"^ERROR:", "stderr")
    assert exchange(server, http_request("GET", "/ok")).status == 200


def test_exchanges_freed_while_pipelined_requests_wait(serve):
    """Exchanges an app kept (with tasks waiting in receive()) are freed while later pipelined requests
    wait: every answer arrives in order and the worker lives on."""
    server = serve("flow_app:app")
    pid = server.get("/pid").text
    with server.connect() as conn:
        reqs = b""
        for i in range(6):
            reqs += http_request("GET", f"/keep?id={i}") + http_request("GET", f"/drop?id=d{i}")
        conn.send(reqs)
        bodies = [conn.read_response().body for _ in range(12)]
    for i in range(6):
        assert bodies[2 * i] == str(i).encode()
        assert bodies[2 * i + 1] == f"d{i} http.disconnect".encode()
    assert server.get("/pid").text == pid
