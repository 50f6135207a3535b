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


def test_slowloris_many_connections_are_cut_off_and_others_answered(esg_server):
    """Many connections each sending one header byte per second: --timeout-request-header ends every one
    of them (the deadline covers the whole head), and a parallel client is answered meanwhile."""
    server = esg_server(["--timeout-request-header", "2"], app="hello:app")
    count = 200
    head = b"GET / HTTP/1.1\r\nHost: esg.test\r\nX-Pad: " + b"p" * 100
    conns = []
    for _ in range(count):
        s = socket.create_connection((server.host, server.port), timeout=10)
        s.setblocking(False)
        conns.append(s)
    open_ = set(range(count))
    latencies = []
    start = time.monotonic()
    for second in range(12):  # bounded: the deadline is 2 s, so all must be gone well before 12 s
        for i in list(open_):
            try:
                conns[i].send(head[second:second + 1])
            except (BrokenPipeError, ConnectionResetError):
                open_.discard(i)
                continue
            try:
                data = conns[i].recv(4096)
            except BlockingIOError:
                continue
            except ConnectionResetError:
                data = b""
            if not data or data.startswith(b"HTTP/1.1 408 "):
                open_.discard(i)
        # A client that behaves is answered meanwhile.
        t0 = time.monotonic()
        assert server.get("/").text == "Hello, world!"
        latencies.append(time.monotonic() - t0)
        if not open_:
            break
        time.sleep(max(0.0, start + second + 1 - time.monotonic()))
    for s in conns:
        s.close()
    assert not open_, f"{len(open_)} of {count} trickling connections still open after {time.monotonic() - start:.0f} s"
    latencies.sort()
    assert latencies[len(latencies) // 2] < 1.0, f"a parallel client waited {latencies} s"


def test_slow_reader_of_one_large_answer_outlives_the_keep_alive_timeout(esg_server):
    """The keep-alive deadline starts once the response is written, not when the app finished it: a client
    reading a large answer (sent in one message) more slowly than --timeout-keep-alive gets all of it."""
    server = esg_server(["--timeout-keep-alive", "1"], app="flow_app:app")
    size = 32 << 20
    sock = socket.create_connection((server.host, server.port), timeout=20)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 << 10)
    sock.sendall(http_request("GET", f"/big?id=1&size={size}"))
    got = b""
    start = time.monotonic()
    while b"\r\n\r\n" not in got:
        got += sock.recv(65536)
    head, _, body = got.partition(b"\r\n\r\n")
    received = len(body)
    while received < size:
        if time.monotonic() - start < 3:
            time.sleep(0.05)  # slower than the 1 s keep-alive timeout for the first 3 s
        chunk = sock.recv(1 << 20)
        if not chunk:
            break
        received += len(chunk)
    sock.close()
    assert received == size, f"cut off after {received} of {size} bytes ({time.monotonic() - start:.1f} s)"
