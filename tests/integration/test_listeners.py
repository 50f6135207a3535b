"""Where esg listens: --host/--port (port 0 reported in the "ESG running on" line), --uds (serves; the socket
file is group/other writable so a proxy's user can connect; a stale file is replaced; a socket someone is
listening on is refused, not stolen; the file is removed on exit), and --fd (a socket the test bound and passes
in, including supervisor's fd 0).
"""

import os
import socket
import stat
import subprocess
import sys

import pytest

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


# --uds-mode / --uds-group and trusting a UNIX-socket proxy by identity (issue 11, defect 19).

NOGROUP = 65534


def test_uds_mode_and_group(esg_server, tmp_path):
    path = tmp_path / "esg.sock"
    server = esg_server(["--uds", str(path), "--uds-mode", "640", "--uds-group", "nogroup"], app="hello:app")
    st = os.stat(path)
    assert (stat.S_IMODE(st.st_mode), st.st_gid) == (0o640, NOGROUP)
    assert server.get("/").text == "Hello, world!"


def test_uds_group_alone_admits_owner_and_group_only(esg_server, tmp_path):
    path = tmp_path / "esg.sock"
    esg_server(["--uds", str(path), "--uds-group", str(NOGROUP)], app="hello:app")
    st = os.stat(path)
    assert (stat.S_IMODE(st.st_mode), st.st_gid) == (0o660, NOGROUP)


@pytest.mark.skipif(os.geteuid() != 0, reason="connecting as another user needs root")
def test_uds_mode_660_refuses_other_users(esg_server, tmp_path):
    os.chmod(tmp_path, 0o755)
    path = tmp_path / "esg.sock"
    esg_server(["--uds", str(path), "--uds-mode", "660"], app="hello:app")
    probe = "import socket,sys\ns=socket.socket(socket.AF_UNIX)\ntry:\n s.connect(sys.argv[1])\nexcept OSError as e:\n" \
            " print(type(e).__name__)\nelse:\n print('connected')\n"
    out = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-c", probe,
                          str(path)], capture_output=True, text=True, timeout=30)
    assert out.stdout.strip() == "PermissionError", out


@pytest.mark.parametrize("args, option", [
    (["--uds-mode", "999"], "--uds-mode"),
    (["--uds-mode", "abc"], "--uds-mode"),
    (["--uds-mode", "4755"], "--uds-mode"),
    (["--uds-mode", ""], "--uds-mode"),
    (["--uds-group", "no-such-group-esg"], "--uds-group"),
    (["--forwarded-allow-ips", "unix:no-such-user-esg"], "--forwarded-allow-ips"),
    (["--forwarded-allow-ips", "unix:uid=-1"], "--forwarded-allow-ips"),
    (["--forwarded-allow-ips", "unix:"], "--forwarded-allow-ips"),
])
def test_bad_uds_access_values_exit_2(run_esg, tmp_path, args, option):
    result = run_esg(["--uds", str(tmp_path / "esg.sock"), *args, "hello:app"], timeout=20)
    assert result.returncode == 2, result.stderr
    assert f"Invalid value for '{option}'" in result.stderr, result.stderr
    assert not (tmp_path / "esg.sock").exists()


def test_uds_mode_needs_uds(run_esg):
    result = run_esg(["--port", "0", "--uds-mode", "660", "hello:app"], timeout=20)
    assert result.returncode == 2 and "--uds-mode applies to the socket file of --uds" in result.stderr, result.stderr


def _client_seen(server) -> list | None:
    with server.client() as c:
        resp = c.get("/", headers={"x-forwarded-for": "203.0.113.9", "x-forwarded-proto": "https"})
    assert resp.status_code == 200, resp.text
    return resp.json()["client"], resp.json()["scheme"]


@pytest.mark.parametrize("entry", ["unix:uid={uid}", "unix:{user}", "unix:group={group}", "unix:gid={gid}"])
def test_forwarded_trust_by_unix_peer_identity(esg_server, tmp_path, entry):
    import grp
    import pwd
    me = pwd.getpwuid(os.geteuid())
    allow = entry.format(uid=os.geteuid(), user=me.pw_name, gid=os.getegid(), group=grp.getgrgid(os.getegid()).gr_name)
    server = esg_server(["--uds", str(tmp_path / "esg.sock"), "--forwarded-allow-ips", allow], app="px_echo:app")
    assert _client_seen(server) == (["203.0.113.9", 0], "https")
    assert "trusts every peer of unix socket" not in server.stderr()


def test_forwarded_identity_of_another_peer_is_not_trusted(esg_server, tmp_path):
    server = esg_server(["--uds", str(tmp_path / "esg.sock"), "--forwarded-allow-ips", "unix:uid=54321,unix:gid=54321"],
                        app="px_echo:app")
    client, scheme = _client_seen(server)
    assert client is None and scheme == "http"


def test_warning_when_unix_is_trusted_on_a_world_connectable_socket(esg_server, tmp_path):
    server = esg_server(["--uds", str(tmp_path / "a.sock"), "--forwarded-allow-ips", "unix"], app="hello:app")
    assert "--forwarded-allow-ips trusts every peer of unix socket" in server.stderr()
    assert "(mode 666)" in server.stderr()
    quiet = esg_server(["--uds", str(tmp_path / "b.sock"), "--uds-mode", "660", "--forwarded-allow-ips", "unix"],
                       app="hello:app")
    assert "trusts every peer of unix socket" not in quiet.stderr()
