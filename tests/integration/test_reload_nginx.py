"""Zero failed requests through a real nginx (Debian package, started here with its own config in a
temporary prefix) to ESG's UNIX socket while 10 SIGHUP reloads happen under steady keep-alive load.
The same at higher load and 50 reloads: tools/reload_soak.py.
"""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "tools"))

from nginx_front import Load, Nginx, nginx_binary, reload_n_times  # noqa: E402
from test_supervision import wait_workers  # noqa: E402


def test_ten_reloads_behind_nginx_fail_no_request(esg_server, tmp_path):
    if nginx_binary() is None:
        pytest.fail("nginx is not installed (Debian package `nginx`, listed in tools/debian-packages.txt)")
    uds = tmp_path / "esg.sock"
    server = esg_server(["--workers", "2", "--uds", str(uds), "--no-access-log"], app="sup_info:app")
    inode = uds.stat().st_ino
    first = set(wait_workers(server, 2))
    nginx = Nginx(tmp_path / "nginx", uds)
    nginx.start()
    try:
        with Load(nginx.port, clients=4) as load:
            reload_n_times(server.proc.pid, server.stderr_path, 10)
        stats = load.stats
    finally:
        nginx.stop()
    assert stats.failed == 0, f"{stats.failed} of {stats.ok + stats.failed} requests failed: {stats.errors[:5]}\n" \
                              f"nginx: {nginx.error_log()[-2000:]}\n{server.describe()}"
    assert stats.ok > 0
    assert stats.pids - first, "no request reached a new generation"
    assert uds.stat().st_ino == inode
    assert not (first & set(wait_workers(server, 2)))
