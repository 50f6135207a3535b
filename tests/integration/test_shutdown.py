"""Graceful stop: SIGTERM while a slow request is in flight lets it finish with 200 and esg exits 0;
SIGTERM and SIGINT on an idle server exit 0; a keep-alive connection does not hold the exit back; lifespan
shutdown runs on SIGINT too.
"""

import signal
import socket

from esgtest import STOP_TIMEOUT, http_request, wait_for_file


def test_sigterm_lets_in_flight_request_finish(esg_server, markers):
    server = esg_server([], app="slow:app")
    with server.connect() as conn:
        conn.send(http_request("GET", "/?id=1&delay=1"))
        wait_for_file(markers / "started-1")
        server.send_signal(signal.SIGTERM)
        resp = conn.read_response()
    assert (resp.status, resp.body) == (200, b"slow done")
    assert server.wait(STOP_TIMEOUT) == 0, server.describe()


def test_sigterm_in_flight_with_uds(esg_server, markers, tmp_path):
    server = esg_server(["--uds", str(tmp_path / "esg.sock")], app="slow:app")
    with server.connect() as conn:
        conn.send(http_request("GET", "/?id=2&delay=1"))
        wait_for_file(markers / "started-2")
        server.send_signal(signal.SIGTERM)
        resp = conn.read_response()
    assert resp.status == 200
    assert server.wait(STOP_TIMEOUT) == 0, server.describe()


def test_sigterm_idle_exits_0(esg_server):
    server = esg_server([], app="hello:app")
    assert server.get("/").status_code == 200
    assert server.stop(signal.SIGTERM) == 0, server.describe()


def test_sigint_idle_exits_0(esg_server, markers):
    server = esg_server(["--lifespan", "on"], app="lifespan_state:app")
    assert server.get("/").status_code == 200
    assert server.stop(signal.SIGINT) == 0, server.describe()
    assert (markers / "shutdown").exists()


def test_idle_keep_alive_connection_does_not_block_exit(esg_server):
    server = esg_server([], app="hello:app")
    with server.connect() as conn:
        conn.send(http_request("GET", "/"))
        assert conn.read_response().status == 200
        assert server.stop(signal.SIGTERM) == 0, server.describe()
        assert conn.closed_by_server()


def test_new_connections_refused_after_exit(esg_server):
    server = esg_server([], app="hello:app")
    host, port = server.host, server.port
    assert server.stop() == 0
    s = socket.socket()
    s.settimeout(2)
    try:
        refused = False
        try:
            s.connect((host, port))
        except OSError:
            refused = True
        assert refused, "the port still accepts connections after esg exited"
    finally:
        s.close()


def test_sigterm_after_client_disconnected_while_app_waited(esg_server, markers):
    """The app sees http.disconnect and returns without a response; the request must count as finished."""
    server = esg_server([], app="disconnect:app")
    conn = server.connect()
    conn.send(http_request("POST", "/?id=9", body=b"x"))
    wait_for_file(markers / "waiting-9")
    conn.close()
    assert wait_for_file(markers / "disconnect-9") == "http.disconnect"
    assert server.stop(signal.SIGTERM) == 0, "esg hung on SIGTERM after the disconnected request ended\n" \
        + server.describe()


def test_sigterm_after_client_disconnected_mid_stream(esg_server, markers):
    """A streamed response the client walked away from must not keep graceful shutdown waiting."""
    server = esg_server([], app="framing:app")
    conn = server.connect()
    conn.send(http_request("GET", "/infinite"))
    while len(conn.received) < 4096:
        assert conn._fill(), "server closed the stream early"
    conn.close()
    wait_for_file(markers / "stream-ended")
    assert server.stop(signal.SIGTERM) == 0, "esg hung on SIGTERM after the streamed request ended\n" \
        + server.describe()
