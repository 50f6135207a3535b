"""Default response headers: `server: esg` and an IMF-fixdate `date` on every response, removed by
--no-server-header / --no-date-header, and `--header Name:Value` (repeatable) added to every response, including
the server's own 500s.
"""

import email.utils
import re

from esgtest import exchange, http_request

IMF_FIXDATE = re.compile(r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} "
                         r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$")


def test_default_server_and_date_headers(esg_server):
    server = esg_server([], app="hello:app")
    resp = exchange(server, http_request("GET", "/"))
    assert resp.header_all("server") == ["esg"], resp.raw
    dates = resp.header_all("date")
    assert len(dates) == 1, resp.raw
    assert IMF_FIXDATE.match(dates[0]), dates[0]
    assert email.utils.parsedate_to_datetime(dates[0]) is not None


def test_default_headers_on_404_too(esg_server):
    server = esg_server([], app="hello:app")
    resp = exchange(server, http_request("GET", "/missing"))
    assert resp.status == 404
    assert resp.header("server") == "esg" and resp.has("date")


def test_no_server_header(esg_server):
    server = esg_server(["--no-server-header"], app="hello:app")
    resp = exchange(server, http_request("GET", "/"))
    assert not resp.has("server"), resp.raw
    assert resp.has("date")


def test_no_date_header(esg_server):
    server = esg_server(["--no-date-header"], app="hello:app")
    resp = exchange(server, http_request("GET", "/"))
    assert not resp.has("date"), resp.raw
    assert resp.header("server") == "esg"


def test_no_server_and_no_date_header(esg_server):
    server = esg_server(["--no-server-header", "--no-date-header"], app="hello:app")
    resp = exchange(server, http_request("GET", "/"))
    assert not resp.has("date") and not resp.has("server"), resp.raw
    assert resp.body == b"Hello, world!"


def test_custom_headers_on_every_response(esg_server):
    server = esg_server(["--header", "X-A:1", "--header", "X-B:2"], app="hello:app")
    with server.connect() as conn:
        conn.send(http_request("GET", "/"))
        ok = conn.read_response()
        conn.send(http_request("GET", "/missing"))
        missing = conn.read_response()
    for resp in (ok, missing):
        assert resp.header_all("x-a") == ["1"], resp.raw
        assert resp.header_all("x-b") == ["2"], resp.raw
    assert (ok.status, missing.status) == (200, 404)


def test_custom_header_value_may_contain_colon(esg_server):
    server = esg_server(["--header", "X-Url:http://example.test:8080/x"], app="hello:app")
    resp = exchange(server, http_request("GET", "/"))
    assert resp.header("x-url") == "http://example.test:8080/x"


def test_custom_headers_on_server_500(esg_server):
    server = esg_server(["--header", "X-A:1"], app="app_errors:app")
    resp = exchange(server, http_request("GET", "/raise-before"))
    assert resp.status == 500
    assert resp.header("x-a") == "1", resp.raw
    assert resp.header("server") == "esg"


def test_app_duplicate_headers_kept_in_order_and_bytes_exact(esg_server):
    server = esg_server([], app="framing:app")
    resp = exchange(server, http_request("GET", "/dups"))
    assert resp.header_all("set-cookie") == ["a=1; Path=/", "b=2; Path=/"]
    names = [n for n, _ in resp.headers if n in ("set-cookie", "x-between")]
    assert names == ["set-cookie", "x-between", "set-cookie"]
    assert b"\r\nx-latin: caf\xe9\r\n" in resp.raw.lower()


# ------------------------------------------------------------------- what the app sends is validated (#11)
# Raw sockets: the bytes on the wire matter. A refused http.response.start raises in the app, which gives
# a 500 (nothing was sent yet) and a logged traceback; the worker keeps serving (same pid).

import socket  # noqa: E402
import time  # noqa: E402

import pytest  # noqa: E402

from esgtest import IO_TIMEOUT  # noqa: E402

HARD = "app_hardening:app"


def _pid(server) -> int:
    return int(exchange(server, http_request("GET", "/pid")).body)


def _raw(server, target: str) -> bytes:
    with server.connect() as conn:
        conn.send(http_request("GET", target))
        resp = conn.read_response()
    return resp


@pytest.mark.parametrize("kind", ["cl-te", "te-cl"])
def test_content_length_with_transfer_encoding_is_a_500(serve, kind):
    server = serve(HARD)
    resp = _raw(server, f"/headers?kind={kind}")
    assert resp.status == 500, resp.raw
    assert not (resp.has("content-length") and resp.has("transfer-encoding")), resp.raw
    server.wait_for_output(r"both Content-Length and Transfer-Encoding", "stderr")


def test_repeated_equal_content_length_is_sent_once(serve):
    server = serve(HARD)
    resp = _raw(server, "/headers?kind=cl-cl")
    assert (resp.status, resp.body) == (200, b"hello")
    assert resp.header_all("content-length") == ["5"], resp.raw


@pytest.mark.parametrize("expr", ["600", "99", "999", "1000", "-200", "0", "'200'", "b'200'", "None", "True",
                                  "2**70", "4294967496", "-18446744073709551416", "200.5", "float('nan')", "[200]",
                                  "100", "101", "103", "199"])
def test_invalid_status_is_a_500(serve, expr):
    server = serve(HARD)
    pid = _pid(server)
    resp = _raw(server, f"/status?v={expr}")
    assert resp.status == 500, resp.raw
    assert resp.raw.startswith(b"HTTP/1.1 500 "), resp.raw
    server.wait_for_output(r"Invalid HTTP status code", "stderr")
    assert _pid(server) == pid


@pytest.mark.parametrize("expr,status", [("200", 200), ("599", 599), ("HTTPStatus.CREATED", 201), ("404.0", 404)])
def test_valid_status_forms(serve, expr, status):
    server = serve(HARD)
    resp = _raw(server, f"/status?v={expr}")
    assert resp.status == status, resp.raw
    assert resp.raw.startswith(b"HTTP/1.1 %d " % status), resp.raw


def test_content_length_on_204_is_not_sent_and_no_body(serve):
    # RFC 9110 §8.6: a server MUST NOT send Content-Length in a 204; the app's is dropped (not refused:
    # frameworks have sent "content-length: 0" on 204 for years) and its body is never written.
    server = serve(HARD)
    with server.connect() as conn:
        conn.send(http_request("GET", "/headers?kind=cl-cl&status=204") + http_request("GET", "/pid"))
        first = conn.read_response()
        second = conn.read_response()
    assert first.status == 204 and not first.has("content-length") and not first.has("transfer-encoding"), first.raw
    assert b"hello" not in first.raw
    assert second.status == 200 and second.body.isdigit(), second.raw  # nothing of the 204's body in between


def test_content_length_on_304_is_kept_and_no_body(serve):
    # A 304 may carry the Content-Length of the representation (RFC 9110 §8.6); it delimits nothing.
    server = serve(HARD)
    with server.connect() as conn:
        conn.send(http_request("GET", "/headers?kind=cl-cl&status=304") + http_request("GET", "/pid"))
        first = conn.read_response(head=True)
        second = conn.read_response()
    assert first.status == 304 and first.header_all("content-length") == ["5"], first.raw
    assert second.status == 200 and second.body.isdigit(), second.raw


@pytest.mark.parametrize("kind", ["list-subclass", "generator", "clearing-pair", "growing-pair", "str-values"])
def test_header_list_mutated_while_read(serve, kind):
    server = serve(HARD)
    pid = _pid(server)
    for _ in range(3):
        resp = _raw(server, f"/headers?kind={kind}")
        assert resp.status in (200, 500), resp.raw
        head = resp.raw.split(b"\r\n\r\n", 1)[0]
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b": ")
            assert re.fullmatch(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+", name), resp.raw
            assert b"\0" not in value and b"\r" not in value and b"\n" not in value
    assert _pid(server) == pid


def test_concurrent_sends_under_backpressure_all_complete(serve):
    # Two send() calls from asyncio.gather while the client is not reading: each gets a waiter; both must
    # be woken when the socket drains (the first used to be forgotten: the app hung forever). 4 MiB per
    # send fills the socket buffers, so the sends really wait.
    server = serve(HARD)
    n = 4 << 20
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: a small window from the start
    sock.settimeout(IO_TIMEOUT)
    sock.connect((server.host, server.port))
    with sock:
        sock.sendall(http_request("GET", f"/gather?n={n}"))
        time.sleep(0.5)  # let the server fill the socket and wait (not a timing assertion)
        received = bytearray()
        while not received.endswith(b"end\r\n0\r\n\r\n"):
            chunk = sock.recv(1 << 20)
            assert chunk, f"closed after {len(received)} bytes"
            received += chunk
    head, _, body = bytes(received).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ")
    assert body.count(b"a") >= n and body.count(b"b") >= n
    assert _pid(server) > 0


@pytest.mark.parametrize("keep", ["/keep?respond=1", "/keep"])
def test_exchange_kept_past_its_request_and_freed_while_a_pipelined_one_runs(serve, keep):
    # The app keeps send/receive of a request (answered, or not answered: 500), then the following
    # pipelined requests use them (receive: http.disconnect; send: an error) and drop them (the exchange
    # is freed inside another request's step). Every response comes, in order; the worker survives.
    server = serve(HARD)
    pid = _pid(server)
    with server.connect() as conn:
        conn.send(b"".join(http_request("GET", t) for t in (keep, "/use-old", "/drop", "/pid")))
        first = conn.read_response()
        if first.header("connection") == "close":
            assert first.status == 500
            return
        responses = [conn.read_response() for _ in range(3)]
    assert first.status == (200 if "respond" in keep else 500)
    assert [(r.status, r.body) for r in responses[:2]] == [(200, b"http.disconnect"), (200, b"dropped")]
    assert responses[2].body == str(pid).encode()
