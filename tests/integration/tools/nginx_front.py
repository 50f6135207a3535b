"""Debian's nginx in front of ESG's UNIX socket, plus a bounded keep-alive load generator and a reload loop.

Used by test_reload_nginx.py (10 reloads, asserts zero failed requests) and reload_soak.py (50 reloads at
higher load, prints figures). nginx runs with its own prefix, config, pid and logs in a temporary directory,
in the foreground (`-g 'daemon off;'`).
"""

from __future__ import annotations

import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

NGINX_CONF = """\
{user}worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/tmp/body;
    proxy_temp_path {prefix}/tmp/proxy;
    fastcgi_temp_path {prefix}/tmp/fastcgi;
    uwsgi_temp_path {prefix}/tmp/uwsgi;
    scgi_temp_path {prefix}/tmp/scgi;
    upstream esg {{ server unix:{sock}; }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://esg;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
        }}
    }}
}}
"""


def nginx_binary() -> str | None:
    return shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if Path(p).exists()), None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Nginx:
    def __init__(self, prefix: Path, uds: Path):
        self.prefix = prefix
        self.uds = uds
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 15.0) -> None:
        (self.prefix / "tmp").mkdir(parents=True, exist_ok=True)
        conf = self.prefix / "nginx.conf"
        # As root, nginx's workers would switch to www-data, which cannot reach a socket in pytest's private
        # tmp directory; keep them as the invoking user.
        user = "user root root;\n" if os.geteuid() == 0 else ""
        conf.write_text(NGINX_CONF.format(user=user, prefix=self.prefix, sock=self.uds, port=self.port))
        self.proc = subprocess.Popen([nginx_binary(), "-p", str(self.prefix), "-c", str(conf),
                                      "-e", str(self.prefix / "error.log"), "-g", "daemon off;"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
        deadline = time.monotonic() + timeout
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    err = self.proc.stderr.read().decode(errors="replace") if self.proc.poll() is not None else ""
                    raise RuntimeError(f"nginx did not start: {err}\n{self.error_log()}")
                time.sleep(0.05)

    def error_log(self) -> str:
        path = self.prefix / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@dataclass
class LoadStats:
    ok: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)
    pids: set[int] = field(default_factory=set)


class Load:
    """`clients` threads, each a keep-alive HTTP/1.1 client to nginx sending GET / until stop()."""

    def __init__(self, port: int, clients: int, path: str = "/"):
        self.port = port
        self.clients = clients
        self.path = path
        self.stats = LoadStats()
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self.run, daemon=True) for _ in range(clients)]

    def __enter__(self) -> "Load":
        self.started = time.monotonic()
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        self.stopping.set()
        for t in self.threads:
            t.join(30)
        self.elapsed = time.monotonic() - self.started

    def run(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        ok = failed = 0
        errors: list[str] = []
        pids: set[int] = set()
        while not self.stopping.is_set():
            try:
                conn.request("GET", self.path)
                resp = conn.getresponse()
                body = resp.read()
                if resp.status == 200:
                    ok += 1
                    m = re.search(rb'"pid": (\d+)', body)
                    if m:
                        pids.add(int(m.group(1)))
                else:
                    failed += 1
                    errors.append(f"HTTP {resp.status}: {body[:200]!r}")
            except (OSError, http.client.HTTPException) as exc:
                failed += 1
                errors.append(f"{type(exc).__name__}: {exc}")
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        conn.close()
        with self.lock:
            self.stats.ok += ok
            self.stats.failed += failed
            self.stats.errors += errors[:20]
            self.stats.pids |= pids


def reload_n_times(master_pid: int, stderr_path: Path, n: int, timeout: float = 60.0) -> list[float]:
    """Send SIGHUP n times, each after the previous reload finished; returns each reload's duration (s).
    Raises RuntimeError when a reload fails or does not finish in time."""
    durations = []
    finished = re.compile(rb"Reload (finished|failed)")
    for i in range(n):
        before = len(finished.findall(stderr_path.read_bytes()))
        start = time.monotonic()
        subprocess.run(["kill", "-HUP", str(master_pid)], check=True)
        while True:
            text = stderr_path.read_bytes()
            found = finished.findall(text)
            if len(found) > before:
                if found[-1] == b"failed":
                    raise RuntimeError(f"reload {i + 1} failed:\n{text[-3000:].decode(errors='replace')}")
                break
            if time.monotonic() - start > timeout:
                raise RuntimeError(f"reload {i + 1} did not finish within {timeout}s")
            time.sleep(0.01)
        durations.append(time.monotonic() - start)
    return durations
