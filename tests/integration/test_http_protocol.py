"""HTTP/1.x on the wire, checked with raw sockets, for `--loop asyncio` and `--loop uvloop`.

Covers: keep-alive (two requests on one socket), pipelining (answers strictly in order even when the first is
slow), Content-Length and chunked request bodies (sent whole and byte by byte), Expect: 100-continue (100 only
when the app reads the body), HEAD (no body, same Content-Length), 204/304 (no body, no body framing),
HTTP/1.0 (close unless keep-alive was asked for), Connection: close, and response framing (app's
Content-Length kept; streamed body chunked on 1.1 and close-delimited on 1.0; a single body message gets a
Content-Length added).
"""

import json
import select
import socket

from esgtest import chunked, exchange, http_request, wait_for_file


# ------------------------------------------------------------------------------------------ keep-alive


def test_keep_alive_two_requests_on_one_socket(serve):
    server = serve("framing:app")
    with server.connect() as conn:
        conn.send(http_request("GET", "/cl"))
        first = conn.read_response()
        conn.send(http_request("GET", "/single"))
        second = conn.read_response()
    assert (first.status, first.body) == (200, b"Hello, world!")
    assert (second.status, second.body) == (200, b"single body message")


def test_connection_close_request_closes_after_response(serve):
    server = serve("framing:app")
    with server.connect() as conn:
        conn.send(http_request("GET", "/cl", headers=[("Connection", "close")]))
        resp = conn.read_response()
        assert resp.status == 200 and resp.body == b"Hello, world!"
        assert conn.closed_by_server(), "server kept the connection open after 'Connection: close'"
        assert conn.buf == b""


def test_request_sent_byte_by_byte(serve):
    server = serve("framing:app")
    resp = exchange(server, http_request("GET", "/cl"), bytewise=True)
    assert (resp.status, resp.body) == (200, b"Hello, world!")


# ------------------------------------------------------------------------------------------ pipelining


def test_pipelined_requests_answered_in_order(serve):
    server = serve("pipeline:app")
    data = (http_request("GET", "/slow?id=1&delay=0.3") + http_request("GET", "/fast?id=2")
            + http_request("GET", "/fast?id=3"))
    with server.connect() as conn:
        conn.send(data)
        bodies = [conn.read_response().body for _ in range(3)]
    assert bodies == [b"1", b"2", b"3"]


def test_pipelined_requests_with_bodies(serve):
    server = serve("pipeline:app")
    data = (http_request("POST", "/slow?id=a&delay=0.2", body=b"first body")
            + http_request("POST", "/fast?id=b", headers=[("Transfer-Encoding", "chunked")],
                           body=chunked(b"second ", b"body"))
            + http_request("GET", "/fast?id=c"))
    with server.connect() as conn:
        conn.send(data)
        responses = [conn.read_response() for _ in range(3)]
    assert [r.status for r in responses] == [200, 200, 200]
    assert [r.body for r in responses] == [b"a:first body", b"b:second body", b"c"]


def test_pipelined_requests_sent_byte_by_byte(serve):
    server = serve("pipeline:app")
    data = http_request("GET", "/slow?id=1&delay=0.1") + http_request("GET", "/fast?id=2")
    with server.connect() as conn:
        conn.send(data, bytewise=True)
        bodies = [conn.read_response().body for _ in range(2)]
    assert bodies == [b"1", b"2"]


def test_blocked_pipelined_request_holds_back_later_answers(serve, markers):
    server = serve("blocker:app")
    with server.connect() as conn:
        conn.send(http_request("GET", "/block?id=p") + http_request("GET", "/fast?id=q"))
        wait_for_file(markers / "blocked-p")
        # Let the server handle /fast if it runs pipelined requests concurrently; it must still not answer it
        # before /block. A second connection's answer proves the server had time to do so.
        assert exchange(server, http_request("GET", "/fast?id=other")).body == b"fast other"
        readable, _, _ = select.select([conn.sock], [], [], 0.3)  # can only miss a bug, never invent one
        early = conn.sock.recv(65536, socket.MSG_PEEK | socket.MSG_DONTWAIT) if readable else b""
        assert early == b"", f"answered before the blocked first request: {early!r}"
        (markers / "release-p").write_text("")
        first, second = conn.read_response(), conn.read_response()
    assert (first.body, second.body) == (b"released p", b"fast q")


# ------------------------------------------------------------------------------------------- concurrency


def test_slow_request_does_not_block_other_connections(serve, markers):
    server = serve("blocker:app")
    with server.connect() as blocked:
        blocked.send(http_request("GET", "/block?id=1"))
        wait_for_file(markers / "blocked-1")
        for i in range(3):
            assert exchange(server, http_request("GET", f"/fast?id={i}")).body == f"fast {i}".encode()
        (markers / "release-1").write_text("")
        assert blocked.read_response().body == b"released 1"


def test_many_concurrent_connections(serve):
    server = serve("pipeline:app")
    conns = [server.connect() for _ in range(60)]
    try:
        for i, conn in enumerate(conns):
            conn.send(http_request("GET", f"/fast?id={i}"))
        for i, conn in enumerate(reversed(conns)):
            assert conn.read_response().body == str(len(conns) - 1 - i).encode()
        for i, conn in enumerate(conns):  # and a second round on the same keep-alive connections
            conn.send(http_request("GET", f"/fast?id=again{i}"))
            assert conn.read_response().body == f"again{i}".encode()
    finally:
        for conn in conns:
            conn.close()


# ----------------------------------------------------------------------------------------- request bodies


def test_content_length_body_echoed(serve):
    server = serve("echo_body:app")
    body = b"hello body \x00\xff" * 10
    resp = exchange(server, http_request("POST", "/", body=body))
    assert resp.status == 200
    assert resp.body == body


def test_content_length_body_byte_by_byte(serve):
    server = serve("echo_body:app")
    resp = exchange(server, http_request("POST", "/", body=b"0123456789abcdef"), bytewise=True)
    assert resp.body == b"0123456789abcdef"
    flags = json.loads(resp.header("x-more"))
    assert flags and flags[-1] is False and all(flags[:-1])


def test_large_content_length_body_arrives_in_more_body_chunks(serve):
    server = serve("echo_body:app")
    body = bytes(range(256)) * 4096  # 1 MiB
    resp = exchange(server, http_request("POST", "/", body=body))
    assert resp.status == 200
    assert len(resp.body) == len(body) and resp.body == body
    flags = json.loads(resp.header("x-more"))
    assert flags[-1] is False and all(flags[:-1]), flags
    assert resp.header("x-types").split(",") == ["http.request"] * int(resp.header("x-messages"))


def test_chunked_request_body_echoed(serve):
    server = serve("echo_body:app")
    data = http_request("POST", "/", headers=[("Transfer-Encoding", "chunked")],
                        body=chunked(b"Wiki", b"pedia ", b"in\r\n\r\nchunks."))
    resp = exchange(server, data)
    assert resp.status == 200
    assert resp.body == b"Wikipedia in\r\n\r\nchunks."


def test_chunked_request_body_byte_by_byte(serve):
    server = serve("echo_body:app")
    data = http_request("POST", "/", headers=[("Transfer-Encoding", "chunked")], body=chunked(b"abc", b"defgh"))
    resp = exchange(server, data, bytewise=True)
    assert resp.body == b"abcdefgh"


def test_chunked_request_body_with_extension(serve):
    server = serve("echo_body:app")
    data = http_request("POST", "/", headers=[("Transfer-Encoding", "chunked")],
                        body=b"5;name=value\r\nhello\r\n0\r\n\r\n")
    resp = exchange(server, data)
    assert (resp.status, resp.body) == (200, b"hello")


def test_empty_body_is_one_http_request_message(serve):
    server = serve("echo_body:app")
    resp = exchange(server, http_request("GET", "/"))
    assert resp.status == 200 and resp.body == b""
    assert resp.header("x-messages") == "1"
    assert resp.header("x-more") == "[false]"


# ---------------------------------------------------------------------------------------- 100-continue


def test_expect_100_continue_sent_when_app_reads_body(serve):
    server = serve("expect:app")
    with server.connect() as conn:
        conn.send(http_request("POST", "/read", headers=[("Expect", "100-continue"), ("Content-Length", "5")]))
        interim = conn.read_response()
        assert interim.status == 100, interim.raw
        assert interim.raw.startswith(b"HTTP/1.1 100 Continue\r\n"), interim.raw
        conn.send(b"hello")
        final = conn.read_response()
    assert (final.status, final.body) == (200, b"got:hello")


def test_expect_100_continue_not_sent_when_app_answers_without_reading(serve):
    server = serve("expect:app")
    with server.connect() as conn:
        conn.send(http_request("POST", "/reject", headers=[("Expect", "100-continue"), ("Content-Length", "5")]))
        first = conn.read_response()
        assert first.status == 413, f"expected the app's 413 first, got {first.raw!r}"
        assert b"100 Continue" not in conn.received
        assert first.body == b"too big"


# ------------------------------------------------------------------------------------------------- HEAD


def test_head_has_no_body_and_same_content_length(serve):
    server = serve("framing:app")
    with server.connect() as conn:
        conn.send(http_request("GET", "/cl"))
        get = conn.read_response()
        conn.send(http_request("HEAD", "/cl"))
        head = conn.read_response(head=True)
        # If the server leaked a body after the HEAD response, this next response would be garbled.
        conn.send(http_request("GET", "/single"))
        after = conn.read_response()
    assert head.status == 200
    assert head.header("content-length") == get.header("content-length") == "13"
    assert after.status == 200 and after.body == b"single body message"


def test_head_on_single_body_message_gets_added_content_length(serve):
    server = serve("framing:app")
    with server.connect() as conn:
        conn.send(http_request("HEAD", "/single"))
        head = conn.read_response(head=True)
        conn.send(http_request("GET", "/cl"))
        after = conn.read_response()
    assert head.status == 200
    assert head.header("content-length") == str(len(b"single body message"))
    assert after.body == b"Hello, world!"


# ---------------------------------------------------------------------------------------------- 204/304


def test_204_has_no_body_and_no_framing_headers(serve):
    server = serve("framing:app")
    with server.connect() as conn:
        conn.send(http_request("GET", "/status?code=204"))
        resp = conn.read_response()
        conn.send(http_request("GET", "/cl"))
        after = conn.read_response()
    assert resp.status == 204
    assert resp.header("transfer-encoding") is None, resp.raw
    assert resp.header("content-length") is None, resp.raw
    assert after.status == 200 and after.body == b"Hello, world!", "bytes after the 204 head"


def test_304_has_no_body_and_no_chunked_framing(serve):
    server = serve("framing:app")
    with server.connect() as conn:
        conn.send(http_request("GET", "/status?code=304"))
        resp = conn.read_response()
        conn.send(http_request("GET", "/cl"))
        after = conn.read_response()
    assert resp.status == 304
    assert resp.header("transfer-encoding") is None, resp.raw
    assert resp.header("content-length") in (None, "0"), resp.raw
    assert resp.header("etag") == '"v1"'
    assert after.status == 200 and after.body == b"Hello, world!", "bytes after the 304 head"


# --------------------------------------------------------------------------------------------- HTTP/1.0


def test_http10_response_closes_by_default(serve):
    server = serve("framing:app")
    with server.connect() as conn:
        conn.send(http_request("GET", "/cl", version="HTTP/1.0", host=False))
        resp = conn.read_response()
        assert (resp.status, resp.body) == (200, b"Hello, world!")
        assert conn.closed_by_server(), "HTTP/1.0 connection without keep-alive was left open"


def test_http10_keep_alive_when_requested(serve):
    server = serve("framing:app")
    with server.connect() as conn:
        conn.send(http_request("GET", "/cl", version="HTTP/1.0", headers=[("Connection", "keep-alive")]))
        first = conn.read_response()
        conn.send(http_request("GET", "/single", version="HTTP/1.0", headers=[("Connection", "keep-alive")]))
        second = conn.read_response()
    assert (first.status, first.body) == (200, b"Hello, world!")
    assert first.header("connection").lower() == "keep-alive", "an HTTP/1.0 client needs Connection: keep-alive"
    assert (second.status, second.body) == (200, b"single body message")


def test_http10_keep_alive_streamed_response_closes(serve):
    server = serve("framing:app")
    with server.connect() as conn:
        conn.send(http_request("GET", "/stream", version="HTTP/1.0", headers=[("Connection", "keep-alive")]))
        resp = conn.read_response()  # close-delimited: the only framing an HTTP/1.0 client understands
        assert conn.eof
    assert resp.header("transfer-encoding") is None
    assert resp.body == b"one,two,three"


def test_http10_streamed_response_is_close_delimited(serve):
    server = serve("framing:app")
    with server.connect() as conn:
        conn.send(http_request("GET", "/stream", version="HTTP/1.0"))
        resp = conn.read_response()  # no CL, no chunked: reads until close
    assert resp.status == 200
    assert resp.header("transfer-encoding") is None, resp.raw
    assert resp.header("content-length") is None, resp.raw
    assert resp.body == b"one,two,three"


# ------------------------------------------------------------------------------------- response framing


def test_app_content_length_is_used(serve):
    server = serve("framing:app")
    resp = exchange(server, http_request("GET", "/cl"))
    assert resp.header_all("content-length") == ["13"]
    assert resp.header("transfer-encoding") is None
    assert resp.body == b"Hello, world!"


def test_streamed_response_is_chunked_on_http11(serve):
    server = serve("framing:app")
    with server.connect() as conn:
        conn.send(http_request("GET", "/stream"))
        resp = conn.read_response()
        conn.send(http_request("GET", "/cl"))
        after = conn.read_response()
    assert resp.status == 200
    assert resp.chunked and resp.header("transfer-encoding").lower() == "chunked", resp.raw
    assert resp.header("content-length") is None
    assert resp.complete and resp.body == b"one,two,three"
    assert after.body == b"Hello, world!"


def test_single_body_message_gets_content_length(serve):
    server = serve("framing:app")
    resp = exchange(server, http_request("GET", "/single"))
    assert resp.header_all("content-length") == [str(len(b"single body message"))], resp.raw
    assert resp.header("transfer-encoding") is None
    assert resp.body == b"single body message"


def test_empty_single_body_gets_content_length_zero(serve):
    server = serve("framing:app")
    with server.connect() as conn:
        conn.send(http_request("GET", "/empty"))
        resp = conn.read_response()
        conn.send(http_request("GET", "/cl"))
        after = conn.read_response()
    assert resp.status == 200
    assert resp.header("content-length") == "0", resp.raw
    assert resp.body == b""
    assert after.body == b"Hello, world!"


def test_status_line_is_http11_with_reason(serve):
    server = serve("framing:app")
    resp = exchange(server, http_request("GET", "/cl"))
    assert resp.raw.startswith(b"HTTP/1.1 200 OK\r\n"), resp.raw[:40]
    missing = exchange(server, http_request("GET", "/nope"))
    assert missing.raw.startswith(b"HTTP/1.1 404 Not Found\r\n"), missing.raw[:40]


# ------------------------------------------------------------------------------------------- large bodies


def _pattern(size):
    return (bytes(range(256)) * (size // 256 + 1))[:size]


def test_large_request_body_small_response(serve):
    import hashlib

    server = serve("big:app")
    for size in (100_000, 300_000, 1 << 20):
        body = _pattern(size)
        resp = exchange(server, http_request("POST", "/count", body=body))
        length, digest, _messages = resp.body.decode().split()
        assert (resp.status, int(length)) == (200, size), f"request body of {size} bytes arrived as {length}"
        assert digest == hashlib.sha256(body).hexdigest()


def test_large_chunked_request_body(serve):
    import hashlib

    server = serve("big:app")
    body = _pattern(700_000)
    parts = [body[i:i + 50_000] for i in range(0, len(body), 50_000)]
    resp = exchange(server, http_request("POST", "/count", headers=[("Transfer-Encoding", "chunked")],
                                         body=chunked(*parts)))
    length, digest, _messages = resp.body.decode().split()
    assert int(length) == len(body) and digest == hashlib.sha256(body).hexdigest()


def test_large_response_single_message(serve):
    server = serve("big:app")
    size = 3 << 20
    with server.connect() as conn:
        conn.send(http_request("GET", f"/bytes?size={size}"))
        resp = conn.read_response()
        conn.send(http_request("GET", "/bytes?size=10"))
        after = conn.read_response()
    assert resp.header("content-length") == str(size)
    assert resp.complete and resp.body == _pattern(size)
    assert after.body == _pattern(10)


def test_large_streamed_response(serve):
    server = serve("big:app")
    size = 3 << 20
    with server.connect() as conn:
        conn.send(http_request("GET", f"/stream?size={size}&chunk=100000"))
        resp = conn.read_response()
    assert resp.chunked and resp.complete
    assert resp.body == _pattern(size)


def test_pipelined_failure_in_the_middle_keeps_order(serve):
    server = serve("app_errors:app")
    data = http_request("GET", "/ok") + http_request("GET", "/raise-before") + http_request("GET", "/ok")
    with server.connect() as conn:
        conn.send(data)
        first = conn.read_response()
        second = conn.read_response()
        assert (first.status, first.body) == (200, b"ok")
        assert second.status == 500
        if second.header("connection") != "close":
            third = conn.read_response()
            assert (third.status, third.body) == (200, b"ok")


def test_many_pipelined_requests_in_one_write(serve):
    server = serve("pipeline:app")
    data = b"".join(http_request("GET", f"/fast?id={i}") for i in range(50))
    with server.connect() as conn:
        conn.send(data)
        bodies = [conn.read_response().body for _ in range(50)]
    assert bodies == [str(i).encode() for i in range(50)]


def test_head_on_streamed_response_has_no_body(serve):
    server = serve("framing:app")
    with server.connect() as conn:
        conn.send(http_request("HEAD", "/stream"))
        head = conn.read_response(head=True)
        conn.send(http_request("GET", "/cl"))
        after = conn.read_response()
    assert head.status == 200
    assert after.status == 200 and after.body == b"Hello, world!", "bytes after the HEAD response head"


def test_post_with_content_length_zero(serve):
    server = serve("echo_body:app")
    resp = exchange(server, http_request("POST", "/", body=b""))
    assert (resp.status, resp.body) == (200, b"")
    assert resp.header("x-more") == "[false]"


def test_client_disconnect_during_streamed_response_ends_the_app(serve, markers):
    server = serve("framing:app")
    conn = server.connect()
    conn.send(http_request("GET", "/infinite"))
    while len(conn.received) < 4096:  # the stream has started
        assert conn._fill(), "server closed the stream early"
    conn.close()
    reason = wait_for_file(markers / "stream-ended")
    assert reason in ("http.disconnect", "send raised OSError") or reason.startswith("send raised"), reason
    assert reason != "loop limit"
    assert exchange(server, http_request("GET", "/cl")).body == b"Hello, world!"


def test_unregistered_status_code(serve):
    server = serve("framing:app")
    with server.connect() as conn:
        conn.send(http_request("GET", "/status?code=299"))
        resp = conn.read_response()
        conn.send(http_request("GET", "/cl"))
        after = conn.read_response()
    assert resp.status == 299
    assert resp.raw.startswith(b"HTTP/1.1 299 ")
    assert after.body == b"Hello, world!"
