"""deploy/supervisor/supervisord.conf with Debian's supervisord: the fcgi-program socket handed to 4 esg
processes as fd 0; start, serve, `supervisorctl restart`, `supervisorctl stop`."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from deploy_support import APPS, REPO, env_for, esg_bin, free_port, get, need_program, procs, try_get, wait_until  # noqa: F401,E501


def write_conf(tmp_path: Path, port: int) -> Path:
    text = (REPO / "deploy" / "supervisor" / "supervisord.conf").read_text()
    text = text.replace("socket=tcp://localhost:8000", f"socket=tcp://127.0.0.1:{port}")
    text = text.replace("/run/", f"{tmp_path}/").replace("/var/log/supervisor", str(tmp_path))
    text = text.replace("directory=/srv/esg/current", f"directory={tmp_path}")
    text = text.replace("/srv/esg/current/venv/bin/esg", str(esg_bin()))
    text = text.replace(" example:app", f" --app-dir {APPS} dep_app:app")
    conf = tmp_path / "supervisord.conf"
    conf.write_text(text)
    return conf


def ctl(conf: Path, *args: str) -> str:
    proc = subprocess.run([need_program("supervisorctl"), "-c", str(conf), *args], capture_output=True,
                          text=True, timeout=60)
    return proc.stdout + proc.stderr


def running(conf: Path) -> dict[str, int]:
    out = ctl(conf, "status")
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(esg:esg-\d)\s+RUNNING\s+pid (\d+)", out, re.M)}


def worker_pids(port: int, n: int = 30) -> set[int]:
    return {int(get(f"http://127.0.0.1:{port}/pid").text) for _ in range(n)}


def test_supervisor_fcgi_program_with_fd_0(procs, tmp_path):
    port = free_port()
    conf = write_conf(tmp_path, port)
    sup = procs([need_program("supervisord"), "-n", "-c", str(conf)], name="supervisord", env=env_for())
    wait_until(lambda: len(running(conf)) == 4, 30, what="4 esg processes RUNNING",
               describe=lambda: sup.describe() + ctl(conf, "status"))
    wait_until(lambda: try_get(f"http://127.0.0.1:{port}/") is not None, 30, what="serving on the fcgi socket",
               describe=sup.describe)
    seen: set[int] = set()
    wait_until(lambda: seen.update(worker_pids(port, 10)) or len(seen) >= 2, 20,
               what="several of the 4 processes answering on the shared socket", describe=sup.describe)
    assert "ESG running on socket ('127.0.0.1'" in sup.output(), sup.output()[-3000:]

    before = running(conf)
    out = ctl(conf, "restart", "esg:*")
    assert "started" in out, out
    wait_until(lambda: len(running(conf)) == 4 and not set(running(conf).values()) & set(before.values()), 30,
               what="4 new processes after restart", describe=lambda: ctl(conf, "status"))
    wait_until(lambda: try_get(f"http://127.0.0.1:{port}/") is not None, 20, what="serving after restart")
    assert get(f"http://127.0.0.1:{port}/").text == "hello"

    out = ctl(conf, "stop", "esg:*")
    assert "stopped" in out, out
    assert running(conf) == {}
    assert "STOPPED" in ctl(conf, "status")
    assert try_get(f"http://127.0.0.1:{port}/", timeout=1) is None, "nothing serves once the group is stopped"
    assert sup.stop() == 0, sup.describe()
