"""Fixtures of the adversarial suite: the integration suite's harness (tests/integration/esgtest.py, imported,
not copied) serving this suite's app (apps/adv.py), plus the worker pids the bounds are measured on.

  esg_server(args, app="adv:app", env=None)  starts `esg [args] --port 0 --app-dir apps/ APP` (one worker unless
                                             args say otherwise) and stops it at teardown; fails the test if
                                             the server ignores SIGTERM.
  markers                                    a directory the app writes marker files into ($ESG_TEST_MARKERS)
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "integration"))

from esgtest import STOP_TIMEOUT, EsgServer, start_esg  # noqa: E402
from measure import children  # noqa: E402

APPS = HERE / "apps"
APP = "adv:app"


@pytest.fixture
def markers(tmp_path: Path) -> Path:
    path = tmp_path / "markers"
    path.mkdir()
    return path


@pytest.fixture
def esg_server(tmp_path: Path, markers: Path):
    started: list[EsgServer] = []

    def start(args=(), app: str | None = APP, *, env=None) -> EsgServer:
        full_env = {"ESG_TEST_MARKERS": str(markers)}
        full_env.update(env or {})
        # A short graceful-shutdown bound keeps teardown fast after an attack left work in flight.
        args = ["--timeout-graceful-shutdown", "3", *args]
        server = start_esg(list(args), app=app, workdir=tmp_path, cwd=None, env=full_env, app_dir=APPS,
                           pass_fds=(), stdin=None, ready="log", ready_timeout=None, index=len(started))
        started.append(server)
        return server

    yield start
    hung = []
    for server in started:
        was_running = server.alive()
        if server.stop() is None and was_running:
            hung.append(server)
        try:  # a master that died leaves its workers in its session: sweep them
            os.killpg(server.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    if hung:
        pytest.fail(f"esg did not exit within {STOP_TIMEOUT}s of SIGTERM at teardown and was killed\n"
                    + "\n".join(s.describe() for s in hung), pytrace=False)


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory):
    """One server (default options) for a module's request-level cases, which need no fresh worker."""
    workdir = tmp_path_factory.mktemp("shared")
    (workdir / "markers").mkdir()
    server = start_esg(["--timeout-graceful-shutdown", "3"], app=APP, workdir=workdir, cwd=None,
                       env={"ESG_TEST_MARKERS": str(workdir / "markers")}, app_dir=APPS, pass_fds=(), stdin=None,
                       ready="log", ready_timeout=None, index=0)
    server.initial_workers = children(server.proc.pid)
    yield server
    code = server.stop()
    try:
        os.killpg(server.proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    if code is None:
        pytest.fail(f"esg did not exit within {STOP_TIMEOUT}s of SIGTERM\n{server.describe()}", pytrace=False)
