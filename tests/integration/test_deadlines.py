"""--timeout-request-body and --timeout-send through the `esg` command: a request body that stalls while
the app waits for it gets 408 and a close; a client that never reads its response is disconnected. No
timing is asserted beyond generous upper bounds."""

import socket
import time

from esgtest import http_request

APP = "lim_slow_client:app"


def test_stalled_request_body_gets_408(serve):
    server = serve(APP, "--timeout-request-body", "1")
    conn = server.connect(timeout=20)
    conn.send(b"POST /read HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n" + b"a" * 10)
    resp = conn.read_response()
    assert resp.status == 408
    assert conn.closed_by_server()
    # The worker is fine afterwards.
    assert server.request("POST", "/read", content=b"b" * 100).text == "100"


def test_a_body_that_keeps_coming_is_not_cut_off(serve):
    server = serve(APP, "--timeout-request-body", "1")
    conn = server.connect(timeout=20)
    conn.send(b"POST /read HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n\r\n")
    for piece in (b"ab", b"cd", b"ef"):
        time.sleep(0.6)  # each pause is shorter than the deadline, the total is longer
        conn.send(piece)
    resp = conn.read_response()
    assert (resp.status, resp.body) == (200, b"6")


def test_client_that_never_reads_is_disconnected(esg_server):
    server = esg_server(["--timeout-send", "1"], app=APP)
    sock = socket.create_connection((server.host, server.port), timeout=20)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.sendall(http_request("GET", "/big"))
    time.sleep(4)  # read nothing: the server's send deadline passes
    got = 0
    deadline = time.monotonic() + 20
    closed = False
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(1 << 20)
        except ConnectionResetError:
            closed = True
            break
        if not chunk:
            closed = True
            break
        got += len(chunk)
    sock.close()
    assert closed, "the server kept a connection whose client reads nothing"
    assert got < 8 << 20, "the whole response arrived: the send deadline did not apply"
    assert "--timeout-send" in server.stderr()
