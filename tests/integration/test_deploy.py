"""deploy/: systemd units (systemd-analyze verify, READY=1 over $NOTIFY_SOCKET, socket activation) and release.sh
(per-release directory and virtualenv, switch, reload, health check, rollback). circus runs for real in
test_circus.py; the Kubernetes manifests are validated in test_kubernetes.py and run as a pod in
test_pod_rollout.py."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import textwrap
from pathlib import Path

import pytest

from deploy_support import (APPS, REPO, env_for, esg_bin, free_port, get, need_program, package_root, procs,  # noqa: F401,E501
                            try_get, wait_until)

DEPLOY = REPO / "deploy"


# ----------------------------------------------------------------------------------------------------- systemd


def installed_units(tmp_path: Path) -> Path:
    """The shipped units with ExecStart pointing at a real executable (verify checks it exists)."""
    out = tmp_path / "units"
    out.mkdir()
    for name in ("esg.service", "esg.socket"):
        text = (DEPLOY / "systemd" / name).read_text()
        (out / name).write_text(text.replace("/srv/esg/current/venv/bin/esg", str(esg_bin())))
    return out


def test_systemd_units_verify(tmp_path):
    units = installed_units(tmp_path)
    service = (units / "esg.service").read_text()
    for needed in ("Type=notify", "ExecReload=/bin/kill -HUP $MAINPID", "Requires=esg.socket", "KillMode=mixed"):
        assert needed in service
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (structural checks above only)")
    proc = subprocess.run([analyze, "verify", str(units / "esg.socket"), str(units / "esg.service")],
                          capture_output=True, text=True, timeout=60)
    problems = [line for line in (proc.stdout + proc.stderr).splitlines()
                if "esg." in line and "Failed to" not in line and "User" not in line]
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not problems, problems
    timeout_stop = int(re.search(r"^TimeoutStopSec=(\d+)", service, re.M).group(1))
    graceful = int(re.search(r"--timeout-graceful-shutdown (\d+)", service).group(1))
    assert timeout_stop > graceful, "systemd must not SIGKILL before ESG's graceful shutdown ends"


def test_systemd_notify_ready(esg_server, tmp_path):
    """Type=notify: the master sends READY=1 on $NOTIFY_SOCKET once it serves."""
    path = tempfile.mktemp(prefix="esgnotify", dir="/tmp")
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(path)
    notify.settimeout(20)
    try:
        esg_server([], app="dep_app:app", env={"NOTIFY_SOCKET": path})
        messages = ""
        try:
            while "READY=1" not in messages:
                messages += notify.recv(4096).decode() + "\n"
        except socket.timeout:
            pass
        assert "READY=1" in messages, f"no READY=1 on $NOTIFY_SOCKET (got {messages!r})"
    finally:
        notify.close()
        os.unlink(path)


def test_systemd_socket_activation(procs, tmp_path):
    """esg.socket: systemd passes the listening socket as fd 3 with $LISTEN_FDS (systemd-socket-activate)."""
    activate = need_program("systemd-socket-activate")
    port = free_port()
    p = procs([activate, "-l", f"127.0.0.1:{port}", "-E", "ESG_PYTHON", "-E", "ESG_PYTHONPATH", "-E", "PYTHONPATH",
               esg_bin(), "--app-dir", APPS, "dep_app:app"], name="activate",
              env=env_for({"ESG_PYTHONPATH": str(package_root())}))
    wait_until(lambda: "Listening on" in p.output() or not p.alive(), 10, what="systemd-socket-activate listening",
               describe=p.describe)
    r = get(f"http://127.0.0.1:{port}/", timeout=20)  # the first connection starts esg
    assert r.text == "hello", p.describe()


# ------------------------------------------------------------------------------------------------- release.sh

APP_V = """
import os
VERSION = {version!r}
{extra}

async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    body = (VERSION + " " + open("RELEASE").read().strip()).encode()
    await send({{"type": "http.response.start", "status": 200, "headers": []}})
    await send({{"type": "http.response.body", "body": body}})
"""

RESTART = """#!/bin/sh
# The test's "service manager": restart esg from $ROOT/current with the release's own virtualenv.
set -e
if [ -f "$ROOT/esg.pid" ]; then
    old=$(cat "$ROOT/esg.pid")
    kill -TERM "$old" 2>/dev/null || true
    while kill -0 "$old" 2>/dev/null; do sleep 0.05; done
fi
cd "$ROOT/current"
ESG_PYTHON="$ROOT/current/venv/bin/python" setsid "$ESG_BIN" --port "$PORT" app:app \
    >> "$ROOT/esg.log" 2>&1 < /dev/null &
echo $! > "$ROOT/esg.pid"
"""


@pytest.fixture
def release_env(tmp_path):
    root = tmp_path / "srv"
    root.mkdir()
    port = free_port()
    restart = tmp_path / "restart.sh"
    restart.write_text(RESTART)
    restart.chmod(0o755)
    env = env_for({"ROOT": str(root), "PORT": str(port), "ESG_BIN": str(esg_bin()),
                   "ESG_PYTHONPATH": str(package_root()), "ESG_ROOT": str(root), "ESG_RELOAD": str(restart),
                   "ESG_HEALTH_URL": f"http://127.0.0.1:{port}/", "ESG_HEALTH_EXPECT": "@RELEASE@",
                   "ESG_HEALTH_TRIES": "40", "ESG_HEALTH_INTERVAL": "0.25", "ESG_PYTHON": "/usr/bin/python3",
                   "ESG_KEEP": "2"})
    env.pop("ESG_PYTHON_WORKERS", None)
    yield root, port, env
    pid_file = root / "esg.pid"
    if pid_file.exists():
        try:
            os.killpg(int(pid_file.read_text()), signal.SIGKILL)
        except (ProcessLookupError, ValueError):
            pass


def release(tmp_path: Path, env: dict, version: str, extra: str = "") -> subprocess.CompletedProcess:
    source = tmp_path / f"src-{version}"
    source.mkdir()
    (source / "app.py").write_text(textwrap.dedent(APP_V.format(version=version, extra=extra)))
    return subprocess.run([str(DEPLOY / "release.sh"), str(source)], env=env, capture_output=True, text=True,
                          timeout=180)


def test_release_switch_and_rollback(release_env, tmp_path):
    root, port, env = release_env
    first = release(tmp_path, env, "v1")
    assert first.returncode == 0, first.stderr + (root / "esg.log").read_text()
    id1 = (root / "current" / "RELEASE").read_text().strip()
    assert os.readlink(root / "current") == f"releases/{id1}"
    assert (root / "current" / "venv" / "bin" / "python").exists(), "each release has its own virtualenv"
    assert get(f"http://127.0.0.1:{port}/").text == f"v1 {id1}"

    second = release(tmp_path, env, "v2")
    assert second.returncode == 0, second.stderr
    id2 = (root / "current" / "RELEASE").read_text().strip()
    assert id2 != id1 and get(f"http://127.0.0.1:{port}/").text == f"v2 {id2}"
    assert (root / "releases" / id1).is_dir(), "the previous release stays for rollbacks"

    broken = release(tmp_path, env, "v3", extra="raise RuntimeError('v3 cannot start')")
    assert broken.returncode == 1, broken.stderr
    assert "rolled back" in broken.stderr
    assert os.readlink(root / "current") == f"releases/{id2}"
    assert get(f"http://127.0.0.1:{port}/").text == f"v2 {id2}"
    assert any(p.name.endswith(".failed") for p in (root / "releases").iterdir())

    fourth = release(tmp_path, env, "v4")
    assert fourth.returncode == 0, fourth.stderr
    kept = sorted(p.name for p in (root / "releases").iterdir() if not p.name.endswith(".failed"))
    assert len(kept) == 2 and id1 not in kept, kept  # ESG_KEEP=2: current and previous
