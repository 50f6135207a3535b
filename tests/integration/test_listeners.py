"""Where esg listens: --host/--port (port 0 reported in the "ESG running on" line), --uds (serves; the socket
file is group/other writable so a proxy's user can connect; a stale file is replaced; a socket someone is
listening on is refused, not stolen; the file is removed on exit), and --fd (a socket the test bound and passes
in, including supervisor's fd 0).
"""

import os
import socket
import stat

from esgtest import IO_TIMEOUT, exchange, http_request


def test_port_zero_reports_real_port(esg_server):
    server = esg_server(["--host", "127.0.0.1", "--port", "0"], app="hello:app")
    assert server.host == "127.0.0.1"
    assert server.port and server.port > 0
    assert server.get("/").text == "Hello, world!"


def test_uds_serves(esg_server, tmp_path):
    path = tmp_path / "esg.sock"
    server = esg_server(["--uds", str(path)], app="hello:app")
    assert server.uds == str(path), server.stderr()
    assert stat.S_ISSOCK(os.stat(path).st_mode)
    resp = exchange(server, http_request("GET", "/"))
    assert (resp.status, resp.body) == (200, b"Hello, world!")
    assert server.get("/").text == "Hello, world!"  # through httpx's UDS transport too


def test_uds_mode_lets_others_connect(esg_server, tmp_path):
    path = tmp_path / "esg.sock"
    esg_server(["--uds", str(path)], app="hello:app")
    mode = stat.S_IMODE(os.stat(path).st_mode)
    assert mode & 0o022 == 0o022, f"socket mode {oct(mode)} is not group/other writable"


def test_uds_stale_file_is_replaced(esg_server, tmp_path):
    path = tmp_path / "esg.sock"
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(path))
    stale.close()  # the file stays behind, nobody listens: stale
    assert path.exists()
    server = esg_server(["--uds", str(path)], app="hello:app")
    assert server.get("/").text == "Hello, world!"


def test_uds_in_use_is_refused(run_esg, tmp_path):
    path = tmp_path / "esg.sock"
    live = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    live.bind(str(path))
    live.listen()
    try:
        result = run_esg(["--uds", str(path), "hello:app"])
        assert result.returncode != 0, result
        assert str(path) in result.stderr, result.stderr
        # The other listener still owns the path.
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        probe.settimeout(IO_TIMEOUT)
        probe.connect(str(path))
        conn, _ = live.accept()
        conn.close()
        probe.close()
    finally:
        live.close()


def test_uds_removed_on_exit(esg_server, tmp_path):
    path = tmp_path / "esg.sock"
    server = esg_server(["--uds", str(path)], app="hello:app")
    assert path.exists()
    assert server.stop() == 0
    assert not path.exists(), "socket file left behind after exit"


def test_fd_serves_on_inherited_socket(esg_server):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    host, port = sock.getsockname()
    fd = sock.fileno()
    try:
        server = esg_server(["--fd", str(fd)], app="hello:app", pass_fds=(fd,))
        server.host, server.port = host, port
        assert server.get("/").text == "Hello, world!"
    finally:
        sock.close()


def test_fd_zero_like_supervisor(esg_server):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    host, port = sock.getsockname()
    try:
        server = esg_server(["--fd", "0"], app="hello:app", stdin=sock.fileno())
        server.host, server.port = host, port
        assert server.get("/").text == "Hello, world!"
    finally:
        sock.close()
