"""Helpers for the deployment tests (esg.run, gunicorn, nginx, supervisor, circus-style fds, systemd, releases,
the wheel): where the built package is, free ports, starting and stopping foreign programs, HTTP checks.

Like esgtest.py, nothing here imports ESG: the tests run ESG the way a user does, in subprocesses.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
APPS = HERE / "apps"


def esg_bin() -> Path:
    path = os.environ.get("ESG_BIN")
    if not path or not os.access(path, os.X_OK):
        pytest.fail("ESG_BIN must name the built `esg` executable (bazel-bin/server/master/esg)", pytrace=False)
    return Path(path).resolve()


def package_root() -> Path:
    """Directory holding the built `esg` package (with _esg): $ESG_PYTHONPATH or the runfiles beside ESG_BIN."""
    forced = os.environ.get("ESG_PYTHONPATH")
    if forced:
        return Path(forced)
    exe = Path(os.environ.get("ESG_BIN", "")).absolute()
    root = Path(str(exe) + ".runfiles") / "esg" / "server" / "python"
    if not (root / "esg" / "__init__.py").is_file():
        pytest.fail(f"cannot find the built esg package at {root}; build //:esg or set $ESG_PYTHONPATH",
                    pytrace=False)
    return root


def python() -> str:
    return os.environ.get("ESG_PYTHON") or sys.executable


def bazel_bin() -> Path:
    """bazel-bin of the build ESG_BIN comes from (ESG_BIN = <bazel-bin>/server/master/esg)."""
    return Path(os.environ["ESG_BIN"]).absolute().parent.parent.parent


def env_for(extra: dict | None = None, pythonpath=()) -> dict:
    """Environment for a process that must import the built esg package (and the test apps)."""
    env = dict(os.environ)
    for name in ("WEB_CONCURRENCY", "FORWARDED_ALLOW_IPS", "PYTHONPATH"):
        env.pop(name, None)
    env["PYTHONPATH"] = os.pathsep.join([str(package_root()), *map(str, pythonpath)])
    env.setdefault("ESG_PYTHON", python())
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(extra or {})
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(check, timeout: float = 20.0, interval: float = 0.05, what: str = "condition", describe=None):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            extra = "\n" + describe() if describe else ""
            pytest.fail(f"{what} not reached within {timeout}s{extra}", pytrace=False)
        time.sleep(interval)


def get(url: str, uds: str | None = None, timeout: float = 10.0, **kwargs) -> httpx.Response:
    transport = httpx.HTTPTransport(uds=uds) if uds else None
    with httpx.Client(transport=transport, trust_env=False, timeout=timeout, verify=False) as c:
        return c.get(url, **kwargs)


def try_get(url: str, uds: str | None = None, timeout: float = 2.0):
    try:
        return get(url, uds=uds, timeout=timeout)
    except (httpx.HTTPError, OSError):
        return None


class Proc:
    """A started program with its output in files, stopped (and its session killed) at teardown."""

    def __init__(self, argv, workdir: Path, name: str, env=None, cwd=None, pass_fds=()):
        self.argv = [str(a) for a in argv]
        self.out = workdir / f"{name}.out"
        self.err = workdir / f"{name}.err"
        with open(self.out, "wb") as out, open(self.err, "wb") as err:
            self.proc = subprocess.Popen(self.argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                         env=env, cwd=cwd or workdir, pass_fds=tuple(pass_fds),
                                         start_new_session=True)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def output(self) -> str:
        return (self.out.read_text(errors="replace") + self.err.read_text(errors="replace"))

    def describe(self) -> str:
        return f"argv: {self.argv}\nreturncode: {self.proc.poll()}\n--- output\n{self.output()[-6000:]}"

    def alive(self) -> bool:
        return self.proc.poll() is None

    def wait(self, timeout: float = 30.0) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"{self.argv[0]} did not exit within {timeout}s\n{self.describe()}", pytrace=False)

    def wait_output(self, text: str, timeout: float = 20.0) -> None:
        wait_until(lambda: text in self.output(), timeout, what=f"{text!r} in the output", describe=self.describe)

    def send_signal(self, sig: int) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int | None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            return self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            return None


@pytest.fixture
def procs(tmp_path: Path):
    """Factory: procs(argv, name=..., env=..., cwd=..., pass_fds=...) -> Proc; all stopped at teardown."""
    started: list[Proc] = []

    def start(argv, name: str = "proc", **kwargs) -> Proc:
        p = Proc(argv, tmp_path, f"{name}-{len(started)}", **kwargs)
        started.append(p)
        return p

    yield start
    for p in reversed(started):
        p.stop()


def need_program(path: str) -> str:
    """A Debian program the test needs (tools/debian-packages.txt installs it); fails when it is missing."""
    found = path if os.path.isabs(path) else shutil.which(path)
    if not found or not os.access(found, os.X_OK):
        pytest.fail(f"{path} is not installed (apt-get install it; see tools/debian-packages.txt)", pytrace=False)
    return found


def make_cert(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1/localhost (openssl CLI)."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run([need_program("openssl"), "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


# ------------------------------------------------------------------ deployment tools (.venv-tools) and nginx

def tools_bin(name: str) -> str:
    """A program of the deployment tools virtualenv (circusd, circusctl, kubernetes-validate), which
    tools/setup.sh creates at <repository>/.venv-tools ($ESG_TOOLS_VENV overrides). Missing: a failure."""
    venv = Path(os.environ.get("ESG_TOOLS_VENV") or REPO / ".venv-tools")
    path = venv / "bin" / name
    if not os.access(path, os.X_OK):
        pytest.fail(f"{path} is missing: run tools/setup.sh (it installs tools/requirements-tools.txt into "
                    f"{venv})", pytrace=False)
    return str(path)


NGINX_MAIN = """\
{user}worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    include {site};
}}
"""


def nginx_prefix(prefix: Path, site_text: str) -> Path:
    """An nginx prefix directory whose nginx.conf includes `site_text` (an http-context file such as
    nginx/esg.conf or a Kubernetes ConfigMap's default.conf) and keeps pid, logs and temp files inside."""
    prefix.mkdir(parents=True, exist_ok=True)
    site = prefix / "site.conf"
    # As root, nginx's workers would switch to www-data, which cannot reach sockets in the test's directories.
    user = "user root root;\n" if os.geteuid() == 0 else ""
    main = prefix / "nginx.conf"
    # Replaced atomically: a running nginx may be re-reading them (SIGHUP) at any moment.
    for path, text in ((site, site_text), (main, NGINX_MAIN.format(user=user, prefix=prefix, site=site))):
        tmp = path.with_suffix(".new")
        tmp.write_text(text)
        os.replace(tmp, path)
    return main


def nginx_argv(prefix: Path, *extra: str) -> list[str]:
    return [need_program("/usr/sbin/nginx"), "-p", str(prefix), "-c", str(prefix / "nginx.conf"),
            "-e", str(prefix / "error.log"), *extra]


def children(pid: int) -> set[int]:
    """Direct children of a process (Linux /proc)."""
    try:
        return {int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}
    except OSError:
        return set()


def nginx_reload(proc: "Proc", timeout: float = 60.0) -> None:
    """SIGHUP, then wait until the master started a worker with the new configuration (a failed reload never
    does: the error log says why)."""
    before = children(proc.pid)
    proc.send_signal(signal.SIGHUP)
    wait_until(lambda: children(proc.pid) - before, timeout, what="nginx workers with the new configuration",
               describe=proc.describe)


def nginx_test(prefix: Path) -> None:
    proc = subprocess.run(nginx_argv(prefix, "-t"), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


def wait_port(port: int, timeout: float = 30.0, proc: "Proc | None" = None) -> None:
    def up():
        try:
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
            return True
        except OSError:
            return False
    wait_until(up, timeout, what=f"127.0.0.1:{port} accepting", describe=proc.describe if proc else None)
