"""Fixtures for ESG's black-box integration suite.

The suite drives the real `esg` executable as a subprocess and talks to it over real sockets; it never imports
ESG. Two environment variables connect it to a build:

  ESG_BIN     path to the `esg` master executable (required: every test that starts a server *fails* with a
              clear message when it is missing; nothing is skipped).
  ESG_PYTHON  interpreter the workers must use; set in the server's environment to this test run's
              sys.executable when unset, so the apps see the project venv (starlette, fastapi, uvloop).

Fixtures:
  esg_server(args, app=..., cwd=..., env=...)  factory; starts `esg [args] [--port 0] [--app-dir apps/] APP`,
                                               waits for "ESG running on ... (Press CTRL+C to quit)" on
                                               stderr, and stops the server (SIGTERM, then SIGKILL) at teardown.
  serve(app, *args)                            the same, parametrized over `--loop asyncio` and `--loop uvloop`.
  run_esg(args, ...)                           runs esg to completion (CLI errors, startup failures).
  markers                                      a directory apps write marker files into ($ESG_TEST_MARKERS).

Raw-socket helpers live in `esgtest.py` beside this file.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from esgtest import (  # noqa: E402  (needs the sys.path entry above)
    APPS,
    STOP_TIMEOUT,
    EsgServer,
    run_esg_process,
    start_esg,
)

LOOPS = ["asyncio", "uvloop"]


@pytest.fixture
def markers(tmp_path: Path) -> Path:
    """A directory the apps write marker files into; passed to them as $ESG_TEST_MARKERS."""
    path = tmp_path / "markers"
    path.mkdir()
    return path


@pytest.fixture
def esg_server(tmp_path: Path, markers: Path):
    """Factory: start an esg server and return an EsgServer once it reports where it listens."""
    started: list[EsgServer] = []

    def start(args=(), app: str | None = None, *, cwd=None, env=None, app_dir=APPS, pass_fds=(),
              stdin=None, ready: str = "log", ready_timeout: float | None = None) -> EsgServer:
        full_env = {"ESG_TEST_MARKERS": str(markers)}
        full_env.update(env or {})
        server = start_esg(list(args), app=app, workdir=tmp_path, cwd=cwd, env=full_env, app_dir=app_dir,
                           pass_fds=pass_fds, stdin=stdin, ready=ready, ready_timeout=ready_timeout,
                           index=len(started))
        started.append(server)
        return server

    yield start
    hung = []
    for server in started:
        was_running = server.alive()
        code = server.stop()
        if was_running and code is None:
            hung.append(server)
    if hung:
        # A server that ignores SIGTERM for STOP_TIMEOUT seconds is a bug (in-flight work never finishing,
        # a leaked connection): report it as a teardown error rather than hiding it.
        pytest.fail(f"esg did not exit within {STOP_TIMEOUT}s of SIGTERM at teardown and was killed\n"
                    + "\n".join(s.describe() for s in hung), pytrace=False)


@pytest.fixture(params=LOOPS)
def loop(request) -> str:
    return request.param


@pytest.fixture
def serve(esg_server, loop):
    """Factory like esg_server, with `--loop <loop>` for both loops: serve("hello:app", "--header", "X:1")."""

    def start(app: str, *args: str, **kwargs) -> EsgServer:
        return esg_server(["--loop", loop, *args], app=app, **kwargs)

    return start


@pytest.fixture
def run_esg(tmp_path: Path, markers: Path):
    """Run esg to completion: run_esg(args, timeout=30, env=None, cwd=None) -> CompletedProcess (text)."""

    def run(args, *, timeout: float = 30.0, env=None, cwd=None, app_dir=APPS):
        full_env = {"ESG_TEST_MARKERS": str(markers)}
        full_env.update(env or {})
        return run_esg_process(list(args), timeout=timeout, env=full_env, cwd=cwd or tmp_path, app_dir=app_dir)

    return run
