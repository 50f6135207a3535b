"""systemd integration without systemd: sd_notify datagrams (READY=1 once the workers serve, RELOADING=1
then READY=1 around a reload, STOPPING=1) on $NOTIFY_SOCKET, and socket activation through LISTEN_FDS /
LISTEN_PID (the workers serve on the passed socket, which the master never re-binds).
"""

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from esgtest import STOP_TIMEOUT, EsgServer, esg_bin, server_env
from test_supervision import get_info, wait_workers, count_lines, wait_until


def receive_all(sock: socket.socket, until: bytes, timeout: float = 30.0) -> list[bytes]:
    messages = []
    deadline = time.monotonic() + timeout
    while not any(until in m for m in messages):
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            messages.append(sock.recv(4096))
        except socket.timeout:
            pytest.fail(f"no {until!r} from esg within {timeout}s; got {messages}", pytrace=False)
    return messages


def test_sd_notify_ready_reloading_stopping(esg_server, tmp_path: Path):
    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    try:
        server = esg_server(["--workers", "2"], app="sup_info:app", env={"NOTIFY_SOCKET": path})
        got = receive_all(sock, b"READY=1")
        assert any(b"MAINPID=%d" % server.proc.pid in m for m in got)
        assert get_info(server)["value"] is None
        server.send_signal(signal.SIGHUP)
        got = receive_all(sock, b"READY=1")
        assert got[0].startswith(b"RELOADING=1\nMONOTONIC_USEC=")
        server.send_signal(signal.SIGTERM)
        receive_all(sock, b"STOPPING=1")
        assert server.wait(STOP_TIMEOUT) == 0
    finally:
        sock.close()


def test_workers_do_not_see_notify_socket(esg_server, tmp_path: Path):
    server = esg_server([], app="sup_info:app", env={"NOTIFY_SOCKET": str(tmp_path / "none.sock")})
    assert get_info(server)["pid"] in wait_workers(server, 1)


def test_socket_activation(tmp_path: Path):
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    port = listener.getsockname()[1]
    fd = listener.fileno()
    apps = Path(__file__).resolve().parent / "apps"
    # systemd puts the socket at fd 3 and names this very process in LISTEN_PID.
    script = (f'exec 3<&{fd}; export LISTEN_FDS=1 LISTEN_PID=$$; '
              f'exec "{esg_bin()}" --workers 2 --app-dir "{apps}" sup_info:app')
    out = tmp_path / "out"
    err = tmp_path / "err"
    with open(out, "wb") as o, open(err, "wb") as e:
        proc = subprocess.Popen(["/bin/bash", "-c", script], stdout=o, stderr=e, pass_fds=(fd,),
                                env=server_env(), start_new_session=True)
    server = EsgServer(proc, ["bash", "-c", script], out, err)
    try:
        server.wait_ready_log(30)
        assert (server.host, server.port) == ("127.0.0.1", port)
        server.wait_for_output(r"Using 1 socket\(s\) passed by systemd \(LISTEN_FDS\)")
        pids = wait_workers(server, 2)
        assert get_info(server)["pid"] in pids
        listener.close()  # the master holds its own copy
        assert get_info(server)["pid"] in pids
    finally:
        assert server.stop() == 0, server.describe()
